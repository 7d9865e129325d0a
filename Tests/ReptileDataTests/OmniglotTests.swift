import Testing
import Foundation
import ReptileFormats
import ReptileKernels
import ReptileMeta
@testable import ReptileData

/// The built-in data set, loaded once for all tests (about a second).
let builtIn: ImageSet = try! Omniglot.loadBuiltIn()

@Test func builtInDataSetHasAllCharacters() throws {
    #expect(builtIn.classCount == 1623)
    #expect(builtIn.imageCount == 1623 * 20)
    #expect(builtIn.height == 28 && builtIn.width == 28 && builtIn.channels == 1)
    let image = builtIn.image(class: 0, image: 0)
    #expect(image.allSatisfy { $0 >= 0 && $0 <= 1 })
    // Strokes are 1 and background 0: a drawing is mostly background.
    let mean = image.reduce(0, +) / Float(image.count)
    #expect(mean > 0.01 && mean < 0.5)
    // Values are multiples of 1/225 (exact area averages of binary drawings).
    #expect(image.allSatisfy { abs($0 * 225 - ($0 * 225).rounded()) < 1e-4 })
}

/// Writes the first `characters` characters of the built-in archive as the official distribution
/// (`Alphabet/characterNN/NNNN_DD.png`, black strokes on white) and checks that both loaders give
/// the same tensors.
@Test func pngDistributionGivesTheSameTensors() throws {
    let characters = 3
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("omniglot-png-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: root) }
    let archive = try NPZArchive(path: (Omniglot.builtInPath! as NSString).appendingPathComponent("images_background.npz"))
    let side = Omniglot.originalSize
    var written = 0
    try archive.streamArray(named: "images", chunkBytes: 20 * side * side) { chunk in
        guard written < characters else { return }
        let c = written
        let folder = "\(root)/Alphabet_of_Tests/character\(String(format: "%02d", c + 1))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for d in 0..<20 {
            // True (nonzero) = white background; strokes black.
            let gray = (0..<(side * side)).map { chunk[d * side * side + $0] != 0 ? UInt8(255) : 0 }
            let png = PNG.encode(pixels: gray, width: side, height: side, channels: 1)
            let name = "\(folder)/\(String(format: "%04d_%02d", c + 1, d + 1)).png"
            try AtomicFile.write(png, to: name)
        }
        written += 1
    }
    let fromPNG = try Omniglot.load(path: root)
    #expect(fromPNG.classCount == characters)
    for c in 0..<characters {
        for d in [0, 7, 19] {
            #expect(fromPNG.image(class: c, image: d) == builtIn.image(class: c, image: d), "character \(c), drawing \(d)")
        }
    }
    #expect(fromPNG.classNames[0].contains("Alphabet_of_Tests/character01"))
}

@Test func missingAndCorruptDataGiveClearErrors() throws {
    #expect(throws: FormatError.self) { try Omniglot.load(path: "/nonexistent/omniglot") }
    do {
        _ = try Omniglot.load(path: "/nonexistent/omniglot")
    } catch {
        #expect("\(error)" == "/nonexistent/omniglot: no such file or directory")
    }
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("omniglot-bad-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    // A truncated archive.
    let original = try Data(contentsOf: URL(fileURLWithPath: (Omniglot.builtInPath! as NSString).appendingPathComponent("images_evaluation.npz")))
    try original.prefix(100_000).write(to: URL(fileURLWithPath: "\(dir)/images_evaluation.npz"))
    do {
        _ = try Omniglot.load(path: dir)
        Issue.record("a truncated archive must not load")
    } catch let error as FormatError {
        #expect(error.source.contains("images_evaluation.npz"))
    }
    // An empty folder.
    let empty = "\(dir)/empty"
    try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
    do {
        _ = try Omniglot.load(path: empty)
        Issue.record("an empty folder must not load")
    } catch {
        #expect("\(error)".contains("no Omniglot data found"))
    }
}

@Test func splitAndRotations() throws {
    let (train, test) = try Omniglot.split(builtIn, seed: 0)
    #expect(train.classCount == 4800)
    #expect(test.classCount == 423)
    let trainCharacters = Set(train.classes.map(\.index))
    let testCharacters = Set(test.classes.map(\.index))
    #expect(trainCharacters.count == 1200)
    #expect(trainCharacters.isDisjoint(with: testCharacters))
    #expect(test.classes.allSatisfy { $0.quarterTurns == 0 })
    #expect(Set(train.classes.map(\.quarterTurns)) == [0, 1, 2, 3])
    // The split depends on the seed, and only on it.
    let (again, _) = try Omniglot.split(builtIn, seed: 0)
    let (other, _) = try Omniglot.split(builtIn, seed: 1)
    #expect(again.classes == train.classes)
    #expect(other.classes != train.classes)
}

@Test func rotationsTurnTheImage() {
    let original = builtIn.image(class: 5, image: 3)
    let quarter = builtIn.image(class: 5, image: 3, quarterTurns: 1)
    let n = 28
    // Counter-clockwise: the pixel at (x, y) comes from (n−1−y, x).
    for y in 0..<n { for x in 0..<n { #expect(quarter[y * n + x] == original[x * n + (n - 1 - y)]) } }
    let full = builtIn.image(class: 5, image: 3, quarterTurns: 4)
    #expect(full == original)
    let half = builtIn.image(class: 5, image: 3, quarterTurns: 2)
    #expect(half == Array(original.reversed()))
}

@Test func rotationsOfMultiChannelImagesFollowThePixelFormula() {
    // 5×5 pixels of 3 channels, every byte different, so a misplaced pixel or channel shows.
    let n = 5, ch = 3
    let set = ImageSet(height: n, width: n, channels: ch, classNames: ["a"], imagesPerClass: [1],
                       pixels: (0..<n * n * ch).map { UInt8($0) }, divisor: 1)
    let original = set.image(class: 0, image: 0)
    for turns in [1, 2, 3, -1, 6] {
        let turned = set.image(class: 0, image: 0, quarterTurns: turns)
        for y in 0..<n {
            for x in 0..<n {
                // Each counter-clockwise quarter turn shows at (x, y) the pixel from (n−1−y, x).
                var (sx, sy) = (x, y)
                for _ in 0..<(((turns % 4) + 4) % 4) { (sx, sy) = (n - 1 - sy, sx) }
                for k in 0..<ch { #expect(turned[(y * n + x) * ch + k] == original[(sy * n + sx) * ch + k]) }
            }
        }
    }
}

@Test func fewShotTasksHaveDistinctClassesAndImages() throws {
    let (train, _) = try Omniglot.split(builtIn, seed: 0)
    var rng = RandomGenerator(seed: 3)
    for _ in 0..<20 {
        let task = train.sampleTask(ways: 5, shots: 10, using: &rng)
        #expect(task.exampleCount == 50)
        let classes = task.examples.map(\.cls)
        #expect(Set(classes).count == 5)
        for label in 0..<5 {
            let group = task.examples[(label * 10)..<((label + 1) * 10)]
            #expect(group.allSatisfy { $0.label == label && $0.cls == group.first!.cls })
            #expect(Set(group.map(\.image)).count == 10)
        }
        var input = [Float](repeating: 0, count: 784), target: [Float] = [-1]
        input.withUnsafeMutableBufferPointer { i in
            target.withUnsafeMutableBufferPointer { task.writeExample(13, input: FloatView(i), target: FloatView($0)) }
        }
        #expect(target == [1])
        #expect(input == builtIn.image(class: task.examples[13].cls.index, image: task.examples[13].image,
                                        quarterTurns: task.examples[13].cls.quarterTurns))
    }
}

@Test func tooFewCharactersForTheSplitIsAClearError() {
    // One of the two archives (964 background characters) cannot be split 1 200 / rest.
    let images = ImageSet(height: 2, width: 2, channels: 1, classNames: (0..<964).map { "c\($0)" },
                          imagesPerClass: Array(repeating: 1, count: 964), pixels: [UInt8](repeating: 0, count: 964 * 4),
                          divisor: 225)
    do {
        _ = try Omniglot.split(images, seed: 0)
        Issue.record("a split with no test characters was accepted")
    } catch {
        #expect("\(error)".contains("964 characters are too few"), "\(error)")
    }
}

@Test func alphabetSplitTrainsOnTheBackgroundAndTestsOnTheEvaluationAlphabets() throws {
    let (train, test) = try Omniglot.split(builtIn, by: .alphabets, seed: 0)
    #expect(train.classCount == 964 * 4 && test.classCount == 659)
    #expect(train.classes.allSatisfy { builtIn.classNames[$0.index].hasPrefix("images_background") })
    #expect(test.classes.allSatisfy { builtIn.classNames[$0.index].hasPrefix("images_evaluation") && $0.quarterTurns == 0 })
    // It does not depend on the seed; the random split does, and mixes the alphabets.
    #expect(try Omniglot.split(builtIn, by: .alphabets, seed: 5).test.classes == test.classes)
    let random = try Omniglot.split(builtIn, by: .random, seed: 0)
    #expect(random.test.classes == (try Omniglot.split(builtIn, seed: 0)).test.classes)
    #expect(random.test.classes.contains { builtIn.classNames[$0.index].hasPrefix("images_background") })
    // The official PNG names carry the global character number: 1…964 are the background alphabets.
    #expect(Omniglot.isBackground("Latin/character01 (0964)") == true)
    #expect(Omniglot.isBackground("Atlantean/character01 (0965)") == false)
    #expect(Omniglot.isBackground("mystery") == nil)
    // One archive alone cannot be split by alphabet.
    let onlyBackground = ImageSet(height: 1, width: 1, channels: 1, classNames: ["images_background.npz#0001", "images_background.npz#0002"],
                                  imagesPerClass: [1, 1], pixels: [0, 0], divisor: 225)
    #expect(throws: FormatError.self) { _ = try Omniglot.split(onlyBackground, by: .alphabets, seed: 0) }
}
