// Omniglot: 1 623 handwritten characters × 20 drawings, from the built-in NumPy archives or from the
// official PNG distribution, reduced to 28×28 and split into training and test characters.

import Foundation
import ReptileFormats
import ReptileKernels
import ReptileMeta

/// The Omniglot data set (Lake et al.), as the paper uses it.
///
/// Both sources give the same tensors: every 105×105 drawing is reduced to 28×28 by exact area
/// averaging (each output pixel covers 3.75 × 3.75 input pixels) with strokes 1 and background 0.
/// Because the drawings are binary, every output value is a multiple of 1/225, so the images are
/// stored exactly as bytes k (value k/225).
public enum Omniglot {
    /// Drawings per character.
    public static let drawingsPerCharacter = 20
    /// Side of the original drawings.
    public static let originalSize = 105
    /// Side of the images the models see.
    public static let imageSize = 28
    /// Characters used for meta-training; the rest are for testing.
    public static let trainCharacters = 1200

    /// The folder holding the built-in archives (`images_background.npz`, `images_evaluation.npz`).
    public static var builtInPath: String? {
        InstalledResources.path(bundle: "Reptile_ReptileData", resource: "omniglot",
                                sourceFolder: URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Resources").path)
    }

    /// The data set shipped with the project.
    public static func loadBuiltIn() throws -> ImageSet {
        guard let path = builtInPath else {
            throw FormatError("built-in Omniglot", InstalledResources.installHint + "; or pass --data PATH")
        }
        return try load(path: path)
    }

    /// Loads Omniglot from `path`, which may be:
    /// - a folder with `images_background.npz` and/or `images_evaluation.npz` (the built-in format),
    /// - one such `.npz` file,
    /// - the official distribution: `images_background.zip` / `images_evaluation.zip`, a folder
    ///   holding them, or a folder of `Alphabet/characterNN/NNNN_DD.png` files.
    ///
    /// Characters are ordered by their numeric id (the NNNN of the file names), drawings by DD.
    public static func load(path: String) throws -> ImageSet {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw FormatError(path, "no such file or directory")
        }
        if !isDirectory.boolValue {
            switch (path as NSString).pathExtension.lowercased() {
            case "npz": return try loadNPZ(paths: [path])
            case "zip": return try loadPNGs(from: [.zip(path)])
            default: throw FormatError(path, "not an Omniglot file: expected a .npz archive, a .zip of PNG drawings, or a folder")
            }
        }
        let sets = ["images_background", "images_evaluation"]
        let npz = sets.map { (path as NSString).appendingPathComponent($0 + ".npz") }.filter { FileManager.default.fileExists(atPath: $0) }
        if !npz.isEmpty { return try loadNPZ(paths: npz) }
        let zips = sets.map { (path as NSString).appendingPathComponent($0 + ".zip") }.filter { FileManager.default.fileExists(atPath: $0) }
        if !zips.isEmpty { return try loadPNGs(from: zips.map { .zip($0) }) }
        return try loadPNGs(from: [.folder(path)])
    }

    // MARK: - NumPy archives

    /// Loads `.npz` archives holding `images` (bool, characters × 20 × 105 × 105, True = background)
    /// and `labels` (characters × 20). The images are inflated in chunks of a few characters and
    /// reduced as they arrive, so the 212 MB of raw drawings never sit in memory at once.
    public static func loadNPZ(paths: [String]) throws -> ImageSet {
        var pixels: [UInt8] = []
        var names: [String] = []
        var counts: [Int] = []
        let reducer = DrawingReducer()
        for path in paths {
            let archive = try NPZArchive(path: path)
            let header = try archive.header(named: "images")
            let source = "\(path):images.npy"
            guard header.dtype == .bool || header.dtype == .uint8 else {
                throw FormatError(source, "expected a bool array of drawings, got dtype \(header.dtype.descr)")
            }
            guard header.shape.count == 4, header.shape[2] == originalSize, header.shape[3] == originalSize else {
                throw FormatError(source, "expected shape (characters, drawings, 105, 105), got \(header.shape)")
            }
            let characters = header.shape[0], drawings = header.shape[1]
            guard drawings > 0 else { throw FormatError(source, "no drawings per character") }
            let labels = try archive.array(named: "labels")
            guard labels.shape == [characters, drawings] else {
                throw FormatError("\(path):labels.npy", "expected shape (\(characters), \(drawings)), got \(labels.shape)")
            }
            let labelValues = labels.int64s()
            for c in 0..<characters where Set(labelValues[(c * drawings)..<((c + 1) * drawings)]).count != 1 {
                throw FormatError("\(path):labels.npy", "the drawings of character \(c) carry different labels")
            }
            let start = names.count
            names += (0..<characters).map { "\((path as NSString).lastPathComponent)#\(String(format: "%04d", start + $0 + 1))" }
            counts += Array(repeating: drawings, count: characters)
            let perCharacter = drawings * originalSize * originalSize
            let chunkCharacters = 32
            pixels.reserveCapacity(pixels.count + characters * drawings * imageSize * imageSize)
            try archive.streamArray(named: "images", chunkBytes: chunkCharacters * perCharacter) { chunk in
                // True (1) is background: strokes are the zeros.
                pixels += reducer.reduce(chunk, images: chunk.count / (originalSize * originalSize), strokeIsZero: true)
            }
        }
        return ImageSet(height: imageSize, width: imageSize, channels: 1, classNames: names, imagesPerClass: counts,
                        pixels: pixels, divisor: 225)
    }

    // MARK: - Official PNG distribution

    /// Where PNG drawings come from.
    enum PNGSource {
        case zip(String)
        case folder(String)
    }

    /// One drawing file: `…/Alphabet/characterNN/NNNN_DD.png`.
    struct DrawingFile {
        var character: Int
        var drawing: Int
        var name: String
        var load: () throws -> [UInt8]
    }

    static func parseDrawingName(_ path: String) -> (alphabet: String, folder: String, character: Int, drawing: Int)? {
        let parts = path.split(separator: "/").map(String.init)
        guard parts.count >= 3, let file = parts.last, file.lowercased().hasSuffix(".png") else { return nil }
        let stem = file.dropLast(4)
        let pieces = stem.split(separator: "_")
        guard pieces.count == 2, let character = Int(pieces[0]), let drawing = Int(pieces[1]) else { return nil }
        return (parts[parts.count - 3], parts[parts.count - 2], character, drawing)
    }

    static func loadPNGs(from sources: [PNGSource]) throws -> ImageSet {
        var files: [DrawingFile] = []
        var folderOf: [Int: String] = [:]
        for source in sources {
            switch source {
            case .zip(let path):
                let archive = try ZipArchive(path: path)
                for entry in archive.entries where !entry.isDirectory {
                    guard let parsed = parseDrawingName(entry.name) else { continue }
                    folderOf[parsed.character] = "\(parsed.alphabet)/\(parsed.folder)"
                    files.append(DrawingFile(character: parsed.character, drawing: parsed.drawing, name: "\(path):\(entry.name)",
                                             load: { try archive.extract(entry) }))
                }
            case .folder(let root):
                guard let walker = FileManager.default.enumerator(atPath: root) else {
                    throw FormatError(root, "cannot list the folder")
                }
                for case let relative as String in walker {
                    guard let parsed = parseDrawingName(relative) else { continue }
                    let full = (root as NSString).appendingPathComponent(relative)
                    folderOf[parsed.character] = "\(parsed.alphabet)/\(parsed.folder)"
                    files.append(DrawingFile(character: parsed.character, drawing: parsed.drawing, name: full, load: {
                        guard let data = FileManager.default.contents(atPath: full) else { throw FormatError(full, "cannot read the file") }
                        return [UInt8](data)
                    }))
                }
            }
        }
        guard !files.isEmpty else {
            let where_ = sources.map { if case .zip(let p) = $0 { return p } else if case .folder(let p) = $0 { return p }; return "" }
            throw FormatError(where_.joined(separator: ", "),
                              "no Omniglot data found: expected images_background.npz / images_evaluation.npz, images_background.zip / images_evaluation.zip, or folders Alphabet/characterNN/NNNN_DD.png")
        }
        files.sort { ($0.character, $0.drawing) < ($1.character, $1.drawing) }
        let characters = Array(Set(files.map(\.character))).sorted()
        var counts: [Int: Int] = [:]
        for f in files { counts[f.character, default: 0] += 1 }
        // Decode and reduce in parallel; each file lands at its own slot.
        let perImage = imageSize * imageSize
        var pixels = [UInt8](repeating: 0, count: files.count * perImage)
        let failures = FailureBox()
        let reducer = DrawingReducer()
        pixels.withUnsafeMutableBufferPointer { out in
            let outBox = UnsafeSendableBox(out)
            DispatchQueue.concurrentPerform(iterations: files.count) { i in
                do {
                    let image = try PNG.decode(files[i].load(), source: files[i].name)
                    let reduced = try reduceDrawing(image, source: files[i].name, reducer: reducer)
                    for j in 0..<perImage { outBox.value[i * perImage + j] = reduced[j] }
                } catch {
                    failures.record(error)
                }
            }
        }
        if let error = failures.first { throw error }
        return ImageSet(height: imageSize, width: imageSize, channels: 1,
                        classNames: characters.map { "\(folderOf[$0] ?? "?") (\(String(format: "%04d", $0)))" },
                        imagesPerClass: characters.map { counts[$0]! }, pixels: pixels, divisor: 225)
    }

    // MARK: - Split

    /// Shuffles the characters with `seed` and takes the first `trainCount` for meta-training, the
    /// rest for testing; training characters are augmented with rotations by 0°, 90°, 180° and 270°
    /// (4 800 classes), test characters are not.
    ///
    /// - Throws: `FormatError` when there are not more than `trainCount` characters (one archive
    ///   of the two, say), which would leave no test characters.
    public static func split(_ images: ImageSet, seed: UInt64, trainCount: Int = trainCharacters,
                             augment: Bool = true) throws -> (train: FewShotDataset, test: FewShotDataset) {
        guard images.classCount > trainCount else {
            throw FormatError("Omniglot data", "\(images.classCount) characters are too few to split into \(trainCount) for meta-training and the rest for testing (Omniglot has 1 623: give both images_background and images_evaluation)")
        }
        var order = Array(0..<images.classCount)
        var rng = RandomGenerator(seed: seed, stream: [RandomStream.dataSplit.rawValue])
        rng.shuffle(&order)
        let n = trainCount
        let trainClasses = order[..<n].flatMap { c in (augment ? 0..<4 : 0..<1).map { FewShotClass(index: c, quarterTurns: $0) } }
        let testClasses = order[n...].map { FewShotClass(index: $0) }
        return (FewShotDataset(images: images, classes: trainClasses), FewShotDataset(images: images, classes: Array(testClasses)))
    }
}

extension Omniglot {
    /// A 105×105 black-on-white drawing as 28×28 stroke-coverage bytes (k stands for k/225).
    static func reduceDrawing(_ image: PNGImage, source: String, reducer: DrawingReducer) throws -> [UInt8] {
        guard image.width == originalSize, image.height == originalSize else {
            throw FormatError(source, "expected a 105×105 drawing, got \(image.width)×\(image.height)")
        }
        // Black strokes on white: stroke where the luminance is below one half.
        let strokes = image.luminance().map { $0 < 0.5 ? UInt8(1) : 0 }
        return strokes.withUnsafeBytes { reducer.reduce($0, images: 1, strokeIsZero: false) }
    }

    /// How the characters are divided between meta-training and testing.
    public enum Split: String, Sendable, Codable, CaseIterable {
        /// The reference's: 1 200 characters drawn at random from all 50 alphabets for
        /// meta-training, the other 423 for testing.
        case random
        /// Lake et al.'s: the 30 background alphabets (964 characters) for meta-training, the 20
        /// evaluation alphabets (659 characters) for testing, as in the human comparison.
        case alphabets
    }

    /// Characters in the background alphabets (ids 1…964 of the official numbering).
    public static let backgroundCharacters = 964

    /// Whether the character named `className` (as the loaders name them: `images_background.npz#0007`,
    /// `Alphabet/character07 (0007)`) belongs to the background alphabets; nil when the name does not tell.
    static func isBackground(_ className: String) -> Bool? {
        if className.hasPrefix("images_background") { return true }
        if className.hasPrefix("images_evaluation") { return false }
        guard className.hasSuffix(")"), let open = className.lastIndex(of: "("),
              let id = Int(className[className.index(after: open)..<className.index(before: className.endIndex)]) else { return nil }
        return id <= backgroundCharacters
    }

    /// Splits the characters by `split`: ``Split/random`` as ``split(_:seed:trainCount:augment:)``
    /// does, ``Split/alphabets`` by alphabet (meta-training characters augmented with rotations).
    public static func split(_ images: ImageSet, by split: Split, seed: UInt64, augment: Bool = true) throws
        -> (train: FewShotDataset, test: FewShotDataset) {
        guard split == .alphabets else { return try self.split(images, seed: seed, augment: augment) }
        var background: [Int] = [], evaluation: [Int] = []
        for (c, name) in images.classNames.enumerated() {
            switch isBackground(name) {
            case true?: background.append(c)
            case false?: evaluation.append(c)
            case nil: throw FormatError("Omniglot data", "cannot tell the alphabet of character '\(name)' for --split alphabets")
            }
        }
        guard !background.isEmpty, !evaluation.isEmpty else {
            throw FormatError("Omniglot data", "--split alphabets needs both the background and the evaluation alphabets; the data has \(background.count) background and \(evaluation.count) evaluation characters")
        }
        let train = background.flatMap { c in (augment ? 0..<4 : 0..<1).map { FewShotClass(index: c, quarterTurns: $0) } }
        return (FewShotDataset(images: images, classes: train), FewShotDataset(images: images, classes: evaluation.map { FewShotClass(index: $0) }))
    }
}

/// Reduces binary 105×105 drawings to 28×28 stroke bytes k (stroke fraction k/225), in parallel.
final class DrawingReducer: @unchecked Sendable {
    let plan = AreaResampler.Plan(width: Omniglot.originalSize, height: Omniglot.originalSize,
                                  toWidth: Omniglot.imageSize, toHeight: Omniglot.imageSize)

    /// `images` drawings of 105×105 bytes (0 or 1) → `images` × 784 bytes.
    func reduce(_ raw: UnsafeRawBufferPointer, images: Int, strokeIsZero: Bool) -> [UInt8] {
        let inSize = Omniglot.originalSize * Omniglot.originalSize
        let outSize = Omniglot.imageSize * Omniglot.imageSize
        var result = [UInt8](repeating: 0, count: images * outSize)
        let source = raw.bindMemory(to: UInt8.self)
        result.withUnsafeMutableBufferPointer { out in
            let outBox = UnsafeSendableBox(out)
            let sourceBox = UnsafeSendableBox(source)
            let workers = min(ProcessInfo.processInfo.activeProcessorCount, max(images, 1))
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                var strokes = [UInt8](repeating: 0, count: inSize)
                var scratch = [Float](repeating: 0, count: plan.scratchCount)
                var small = [Float](repeating: 0, count: outSize)
                var i = w
                while i < images {
                    let drawing = sourceBox.value.baseAddress! + i * inSize
                    for j in 0..<inSize { strokes[j] = (drawing[j] != 0) != strokeIsZero ? 1 : 0 }
                    strokes.withUnsafeBufferPointer { s in
                        scratch.withUnsafeMutableBufferPointer { sc in
                            small.withUnsafeMutableBufferPointer { d in plan.resample(s, into: d, scratch: sc, maxValue: 1) }
                        }
                    }
                    for j in 0..<outSize { outBox.value[i * outSize + j] = UInt8((small[j] * 225).rounded()) }
                    i += workers
                }
            }
        }
        return result
    }
}

/// Lets a closure run concurrently on disjoint parts of a buffer.
struct UnsafeSendableBox<T>: @unchecked Sendable {
    var value: T
    init(_ value: T) { self.value = value }
}

/// Collects the first error thrown on any thread.
final class FailureBox: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var first: Error?
    func record(_ error: Error) {
        lock.lock()
        if first == nil { first = error }
        lock.unlock()
    }
}
