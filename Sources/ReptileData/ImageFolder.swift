// A few-shot benchmark from any folder of class folders of images (PNG or JPEG, any size,
// grayscale or colour): decoded once, reduced by area averaging, kept as bytes and cached.

import Foundation
import ReptileFormats
import ReptileKernels

/// A user's own few-shot data: a folder with `train/` and optional `val/` and `test/`, each holding
/// one folder of images per class, or a single folder of class folders that is split by seed.
public enum ImageFolder {
    /// File extensions read as images (case-insensitive).
    public static let imageExtensions: Set<String> = ["png", "jpg", "jpeg"]
    /// The split used for a folder of classes without train/, when none is given: Mini-ImageNet's 64/16/20.
    public static let defaultFractions = [0.64, 0.16, 0.2]
    /// The layout expected, for error messages.
    public static let expectedLayout = "a folder with train/ (and optionally val/ and test/), each holding one folder of PNG or JPEG images per class, or a folder of class folders (split with --split-fractions)"

    /// What was loaded: the splits and the geometry chosen for them.
    public struct Loaded: Sendable {
        public var splits: FewShotSplits
        /// Side of the square images the model sees.
        public var imageSize: Int
        /// 1 (grayscale) or 3 (RGB).
        public var channels: Int
        /// Whether the pixels came from the cache instead of the image files.
        public var fromCache: Bool
    }

    /// Loads `path`.
    /// - Parameters:
    ///   - imageSize: side of the square images (default: the median shorter side of the images,
    ///     at most 28 for grayscale and 84 for colour data, the paper's Omniglot and Mini-ImageNet sizes).
    ///   - channels: 1 or 3 (default: 3 if any image has colour, else 1).
    ///   - splitFractions: train, val and test fractions of the classes for a folder without `train/`
    ///     (default ``defaultFractions``); refused for a folder that has `train/`.
    ///   - seed: chooses the classes of each split.
    ///   - cache: keep the decoded images in `path/.reptile-cache/` (skipped silently if not writable).
    ///   - requiredSplits: for a named benchmark with a fixed layout (Mini-ImageNet: its name and
    ///     layout), every one of train/, val/ and test/ must be there.
    public static func load(path: String, imageSize: Int? = nil, channels: Int? = nil, splitFractions: [Double]? = nil,
                            seed: UInt64 = 0, cache: Bool = true, requiredSplits: (benchmark: String, layout: String)? = nil,
                            progress: ((Int, Int) -> Void)? = nil) throws -> Loaded {
        if let imageSize, !(4...512).contains(imageSize) { throw FormatError(path, "--image-size must be between 4 and 512, got \(imageSize)") }
        if let channels, channels != 1 && channels != 3 { throw FormatError(path, "--channels must be 1 or 3, got \(channels)") }
        let layout = try scan(path: path, splitFractions: splitFractions, seed: seed, requiredSplits: requiredSplits)
        let files = layout.classes.flatMap(\.files)
        // Geometry from the images, unless given.
        let headers = imageSize != nil && channels != nil ? [] : try files.map { try header(of: $0) }
        let chosenChannels = channels ?? (headers.contains { $0.colour } ? 3 : 1)
        let shorter = headers.map { min($0.width, $0.height) }.sorted()
        let chosenSize = imageSize ?? max(4, min(shorter[shorter.count / 2], chosenChannels == 1 ? 28 : 84))

        let key = cacheKey(files: files, size: chosenSize, channels: chosenChannels)
        let cachePath = (path as NSString).appendingPathComponent(".reptile-cache/images-\(chosenSize)x\(chosenSize)x\(chosenChannels).bin")
        var pixels: [UInt8]
        var fromCache = false
        if cache, let cached = readCache(cachePath, key: key, count: files.count * chosenSize * chosenSize * chosenChannels) {
            pixels = cached
            fromCache = true
        } else {
            pixels = try decodeAll(files, size: chosenSize, channels: chosenChannels, progress: progress)
            if cache { writeCache(cachePath, key: key, pixels: pixels) }
        }
        let images = ImageSet(height: chosenSize, width: chosenSize, channels: chosenChannels,
                              classNames: layout.classes.map(\.name), imagesPerClass: layout.classes.map(\.files.count),
                              pixels: pixels, divisor: 255)
        func dataset(_ split: Int) -> FewShotDataset? {
            let members = layout.classes.indices.filter { layout.classes[$0].split == split }
            return members.isEmpty ? nil : FewShotDataset(images: images, classes: members.map { FewShotClass(index: $0) })
        }
        guard let train = dataset(0) else { throw FormatError(path, "no training classes; the data must be \(expectedLayout)") }
        guard let test = dataset(2) ?? dataset(1) else {
            throw FormatError(path, "no val/ or test/ classes to evaluate on: add test/ (or val/), or give a folder of classes without train/ and split it with --split-fractions")
        }
        return Loaded(splits: FewShotSplits(train: train, test: test, validation: dataset(2) == nil ? nil : dataset(1)),
                      imageSize: chosenSize, channels: chosenChannels, fromCache: fromCache)
    }

    /// The classes found, each with its split (0 train, 1 val, 2 test) and image files.
    struct Layout {
        struct Class { var name: String; var split: Int; var files: [String] }
        var classes: [Class]
    }

    static func scan(path: String, splitFractions: [Double]?, seed: UInt64,
                     requiredSplits: (benchmark: String, layout: String)? = nil) throws -> Layout {
        let expectedLayout = requiredSplits.map { "\($0.benchmark) must be \($0.layout)" } ?? "the data must be \(Self.expectedLayout)"
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw FormatError(path, "no such folder; \(expectedLayout)")
        }
        if requiredSplits != nil {
            for name in ["train", "val", "test"] where !FileManager.default.fileExists(atPath: (path as NSString).appendingPathComponent(name)) {
                throw FormatError(path, "missing \(name)/ folder; \(expectedLayout)")
            }
        }
        func classFolders(in folder: String, prefix: String) throws -> [(name: String, files: [String])] {
            let entries = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
            var classes: [(String, [String])] = []
            for entry in entries {
                let classPath = (folder as NSString).appendingPathComponent(entry)
                var dir: ObjCBool = false
                guard FileManager.default.fileExists(atPath: classPath, isDirectory: &dir), dir.boolValue else { continue }
                let files = ((try? FileManager.default.contentsOfDirectory(atPath: classPath)) ?? [])
                    .filter { !$0.hasPrefix(".") && imageExtensions.contains(($0 as NSString).pathExtension.lowercased()) }
                    .sorted()
                    .map { (classPath as NSString).appendingPathComponent($0) }
                guard !files.isEmpty else { throw FormatError(classPath, "class folder without PNG or JPEG images") }
                classes.append((prefix + entry, files))
            }
            return classes
        }
        let names = ["train", "val", "test"]
        let trainPath = (path as NSString).appendingPathComponent("train")
        if FileManager.default.fileExists(atPath: trainPath) {
            if splitFractions != nil {
                throw FormatError(path, "has train/ (and its own val/ and test/): --split-fractions applies only to a folder of classes without train/")
            }
            var classes: [Layout.Class] = []
            for (s, name) in names.enumerated() {
                let splitPath = (path as NSString).appendingPathComponent(name)
                guard FileManager.default.fileExists(atPath: splitPath) else { continue }
                let found = try classFolders(in: splitPath, prefix: name + "/")
                guard !found.isEmpty else { throw FormatError(splitPath, "no class folders with images; \(expectedLayout)") }
                classes += found.map { Layout.Class(name: $0.name, split: s, files: $0.files) }
            }
            return Layout(classes: classes)
        }
        let found = try classFolders(in: path, prefix: "")
        guard !found.isEmpty else { throw FormatError(path, "no class folders with images; \(expectedLayout)") }
        let fractions = splitFractions ?? defaultFractions
        guard fractions.count == 3, fractions.allSatisfy({ $0 >= 0 }), abs(fractions.reduce(0, +) - 1) < 1e-6, fractions[0] > 0,
              fractions[1] + fractions[2] > 0 else {
            throw FormatError(path, "--split-fractions must be three fractions (train, val, test) adding up to 1, with some classes to train and some to evaluate on; got \(fractions.map { String($0) }.joined(separator: ","))")
        }
        // Whole classes to each split, shuffled by seed; at least one to train and one to evaluate.
        var order = Array(found.indices)
        var rng = RandomGenerator(seed: seed, stream: [5, 1])
        rng.shuffle(&order)
        let n = found.count
        guard n >= 2 else { throw FormatError(path, "only 1 class folder: a few-shot benchmark needs classes to train on and others to evaluate on") }
        var trainCount = min(max(1, Int((fractions[0] * Double(n)).rounded())), n - 1)
        var valCount = Int((fractions[1] * Double(n)).rounded())
        if fractions[2] == 0 { valCount = n - trainCount } else { valCount = min(valCount, n - trainCount - 1) }
        if fractions[1] == 0 { valCount = 0 }
        if trainCount + valCount > n { trainCount = n - valCount }
        var classes: [Layout.Class] = []
        for (position, index) in order.enumerated() {
            let split = position < trainCount ? 0 : position < trainCount + valCount ? 1 : 2
            classes.append(Layout.Class(name: found[index].name, split: split, files: found[index].files))
        }
        return Layout(classes: classes.sorted { ($0.split, $0.name) < ($1.split, $1.name) })
    }

    /// Width, height and whether an image has colour, from its header (or a full decode for JPEG).
    static func header(of file: String) throws -> (width: Int, height: Int, colour: Bool) {
        let ext = (file as NSString).pathExtension.lowercased()
        if ext == "png" {
            let image = try PNG.decode(try readFile(file), source: file)
            return (image.width, image.height, image.channels >= 3)
        }
        let image = try JPEG.decode(path: file)
        return (image.width, image.height, !isGray(image.pixels))
    }

    private static func readFile(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else { throw FormatError(path, "cannot be read") }
        return [UInt8](data)
    }

    /// Whether RGB pixels are all gray (a grayscale JPEG decodes to R = G = B).
    private static func isGray(_ rgb: [UInt8]) -> Bool {
        var i = 0
        while i + 2 < rgb.count {
            if rgb[i] != rgb[i + 1] || rgb[i] != rgb[i + 2] { return false }
            i += 3
        }
        return true
    }

    /// Decodes every file, converts it to `channels` and reduces it to size × size bytes.
    static func decodeAll(_ files: [String], size: Int, channels: Int, progress: ((Int, Int) -> Void)?) throws -> [UInt8] {
        let perImage = size * size * channels
        var pixels = [UInt8](repeating: 0, count: files.count * perImage)
        let failures = FailureBox()
        let counter = ProgressCounter(total: files.count, report: progress)
        pixels.withUnsafeMutableBufferPointer { out in
            let box = UnsafeSendableBox(out)
            let workers = max(1, min(ProcessInfo.processInfo.activeProcessorCount, files.count))
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                var i = w
                while i < files.count, failures.first == nil {
                    do {
                        let small = try decode(files[i], size: size, channels: channels)
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
        progress?(files.count, files.count)
        return pixels
    }

    /// One image as size × size × channels floats in 0...1.
    static func decode(_ file: String, size: Int, channels: Int) throws -> [Float] {
        let (width, height, source): (Int, Int, [UInt8])
        if (file as NSString).pathExtension.lowercased() == "png" {
            let image = try PNG.decode(try readFile(file), source: file)
            (width, height) = (image.width, image.height)
            source = convert(image.pixels, from: image.channels, to: channels)
        } else {
            let image = try JPEG.decode(path: file, minimumSize: (size, size))
            (width, height) = (image.width, image.height)
            source = convert(image.pixels, from: 3, to: channels)
        }
        guard width > 0, height > 0 else { throw FormatError(file, "empty image") }
        let plan = AreaResampler.Plan(width: width, height: height, channels: channels, toWidth: size, toHeight: size)
        return plan.resample(source, maxValue: 255)
    }

    /// Gray, gray + alpha, RGB or RGBA bytes to 1 or 3 channels (alpha dropped; gray is the mean of R, G, B).
    static func convert(_ pixels: [UInt8], from sourceChannels: Int, to channels: Int) -> [UInt8] {
        let count = pixels.count / sourceChannels
        let colour = sourceChannels >= 3
        if channels == 1 {
            if sourceChannels == 1 { return pixels }
            return (0..<count).map { i in
                let p = i * sourceChannels
                return colour ? UInt8((Int(pixels[p]) + Int(pixels[p + 1]) + Int(pixels[p + 2]) + 1) / 3) : pixels[p]
            }
        }
        if sourceChannels == 3 { return pixels }
        var out = [UInt8](repeating: 0, count: count * 3)
        for i in 0..<count {
            let p = i * sourceChannels
            for c in 0..<3 { out[i * 3 + c] = colour ? pixels[p + c] : pixels[p] }
        }
        return out
    }

    // MARK: The cache

    /// Names, sizes and modification times of the files, and the geometry: a changed, added or
    /// removed image, or another size, makes a different key.
    static func cacheKey(files: [String], size: Int, channels: Int) -> String {
        var text = "reptile-image-cache/1 \(size) \(channels)\n"
        for file in files {
            let attributes = try? FileManager.default.attributesOfItem(atPath: file)
            let bytes = (attributes?[.size] as? NSNumber)?.intValue ?? -1
            let modified = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            text += "\(file) \(bytes) \(modified)\n"
        }
        return String(Zlib.crc32(Array(text.utf8)), radix: 16) + "-\(files.count)"
    }

    private static let cacheMagic = Array("REPTILE-IMAGES\n".utf8)

    static func readCache(_ path: String, key: String, count: Int) -> [UInt8]? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let header = cacheMagic + Array((key + "\n").utf8)
        guard data.count == header.count + count, [UInt8](data.prefix(header.count)) == header else { return nil }
        return [UInt8](data.suffix(count))
    }

    static func writeCache(_ path: String, key: String, pixels: [UInt8]) {
        let folder = (path as NSString).deletingLastPathComponent
        guard (try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)) != nil else { return }
        try? AtomicFile.write(cacheMagic + Array((key + "\n").utf8) + pixels, to: path)
    }
}
