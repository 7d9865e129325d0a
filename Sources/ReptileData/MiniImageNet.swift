// Mini-ImageNet: folders of JPEG photos, decoded once into an 84×84 RGB byte cache.

import Foundation
import ReptileFormats
import ReptileKernels

/// The Mini-ImageNet benchmark (Vinyals et al.; Ravi & Larochelle's split): `train/`, `val/` and
/// `test/` folders (64/16/20 classes), each holding one folder of JPEG images per class.
///
/// Every image is decoded once (in parallel, with libjpeg's DCT scaling when a photo is much larger
/// than needed), reduced to 84×84 RGB by area averaging and kept as bytes (value = byte/255): the
/// whole benchmark takes about 1.3 GB instead of 5 GB as floats.
public enum MiniImageNet {
    /// Side of the images the model sees.
    public static let imageSize = 84
    /// The split folders, in the order train, val, test.
    public static let splitNames = ["train", "val", "test"]
    /// File extensions read as images (case-insensitive).
    public static let imageExtensions: Set<String> = ["jpeg", "jpg"]

    /// The layout this loader expects, for error messages.
    public static let expectedLayout = "a folder with train/, val/ and test/, each holding one folder of JPEG images per class (e.g. train/n01532829/n0153282900000005.jpg)"

    /// Loads the three splits from `path`. `progress` is called with (images decoded, total).
    public static func load(path: String, progress: ((Int, Int) -> Void)? = nil) throws -> FewShotSplits {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw FormatError(path, "no such folder; Mini-ImageNet must be \(expectedLayout)")
        }
        var files: [[String]] = []       // per class, its image paths
        var names: [String] = []         // per class, "split/class"
        var splitOfClass: [Int] = []
        for (s, split) in splitNames.enumerated() {
            let splitPath = (path as NSString).appendingPathComponent(split)
            guard let classes = try? FileManager.default.contentsOfDirectory(atPath: splitPath) else {
                throw FormatError(path, "missing \(split)/ folder; Mini-ImageNet must be \(expectedLayout)")
            }
            var found = 0
            for cls in classes.sorted() where !cls.hasPrefix(".") {
                let classPath = (splitPath as NSString).appendingPathComponent(cls)
                var dir: ObjCBool = false
                guard FileManager.default.fileExists(atPath: classPath, isDirectory: &dir), dir.boolValue else { continue }
                let images = ((try? FileManager.default.contentsOfDirectory(atPath: classPath)) ?? [])
                    .filter { imageExtensions.contains(($0 as NSString).pathExtension.lowercased()) }
                    .sorted()
                    .map { (classPath as NSString).appendingPathComponent($0) }
                guard !images.isEmpty else { throw FormatError(classPath, "class folder without JPEG images") }
                files.append(images)
                names.append("\(split)/\(cls)")
                splitOfClass.append(s)
                found += 1
            }
            guard found > 0 else { throw FormatError(splitPath, "no class folders; Mini-ImageNet must be \(expectedLayout)") }
        }
        let flat = files.flatMap { $0 }
        let perImage = imageSize * imageSize * 3
        var pixels = [UInt8](repeating: 0, count: flat.count * perImage)
        let failures = FailureBox()
        let counter = ProgressCounter(total: flat.count, report: progress)
        pixels.withUnsafeMutableBufferPointer { out in
            let box = UnsafeSendableBox(out)
            let workers = ProcessInfo.processInfo.activeProcessorCount
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                var i = w
                var small = [Float](repeating: 0, count: perImage)
                while i < flat.count, failures.first == nil {
                    do {
                        let image = try JPEG.decode(path: flat[i], minimumSize: (imageSize, imageSize))
                        try reduce(image, source: flat[i], into: &small)
                        for j in 0..<perImage { box.value[i * perImage + j] = UInt8((small[j] * 255).rounded()) }
                    } catch {
                        failures.record(error)
                    }
                    counter.increment()
                    i += workers
                }
            }
        }
        if let error = failures.first { throw error }
        progress?(flat.count, flat.count)
        let images = ImageSet(height: imageSize, width: imageSize, channels: 3, classNames: names,
                              imagesPerClass: files.map(\.count), pixels: pixels, divisor: 255)
        func split(_ s: Int) -> FewShotDataset {
            FewShotDataset(images: images, classes: splitOfClass.indices.filter { splitOfClass[$0] == s }.map { FewShotClass(index: $0) })
        }
        return FewShotSplits(train: split(0), test: split(2), validation: split(1))
    }

    /// Reduces a decoded photo to 84×84 RGB floats in 0...1 (area averaging; photos smaller than
    /// 84 on a side are enlarged by the same rule, each output pixel averaging what it covers).
    static func reduce(_ image: JPEGImage, source: String, into out: inout [Float]) throws {
        guard image.width > 0, image.height > 0 else { throw FormatError(source, "empty image") }
        if image.width == imageSize && image.height == imageSize {
            for j in 0..<out.count { out[j] = Float(image.pixels[j]) / 255 }
            return
        }
        let plan = AreaResampler.Plan(width: image.width, height: image.height, channels: 3, toWidth: imageSize, toHeight: imageSize)
        var scratch = [Float](repeating: 0, count: plan.scratchCount)
        image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                scratch.withUnsafeMutableBufferPointer { sc in plan.resample(src, into: dst, scratch: sc, maxValue: 255) }
            }
        }
    }
}

/// Counts finished items from several threads and reports now and then.
final class ProgressCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var done = 0
    private let total: Int
    private let report: ((Int, Int) -> Void)?
    private let every: Int

    init(total: Int, report: ((Int, Int) -> Void)?) {
        self.total = total
        self.report = report
        every = max(total / 200, 1)
    }

    func increment() {
        lock.lock()
        done += 1
        let d = done
        lock.unlock()
        if d % every == 0 { report?(d, total) }
    }
}
