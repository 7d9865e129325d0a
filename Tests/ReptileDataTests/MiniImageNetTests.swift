import Testing
import Foundation
import ReptileFormats
import ReptileKernels
import ReptileMeta
@testable import ReptileData

/// The committed miniature Mini-ImageNet tree: 5 train, 3 val and 3 test classes of 4 real JPEG
/// files each (mostly 84×84; some larger, smaller or not square; one grayscale, one progressive).
let miniImageNetFixture = Bundle.module.path(forResource: "Fixtures/miniimagenet", ofType: nil)!

/// A copy of the fixture tree that a test may damage.
func copyOfMiniImageNetFixture() throws -> String {
    let copy = FileManager.default.temporaryDirectory.appendingPathComponent("miniimagenet-\(UUID().uuidString)").path
    try FileManager.default.copyItem(atPath: miniImageNetFixture, toPath: copy)
    return copy
}

@Test func miniImageNetLoaderReadsTheTree() throws {
    let splits = try MiniImageNet.load(path: miniImageNetFixture)
    #expect(splits.train.classCount == 5)
    #expect(splits.validation?.classCount == 3)
    #expect(splits.test.classCount == 3)
    #expect(splits.imagesPerClass == 4)
    let images = splits.train.images
    #expect(images.height == 84 && images.width == 84 && images.channels == 3)
    #expect(images.imageCount == 11 * 4)
    // Decoded once, kept as bytes: 44 images × 84 × 84 × 3.
    #expect(images.pixels.count == 44 * 84 * 84 * 3)
    // Class names say where each class came from, in sorted order.
    #expect(images.classNames.first == "train/n01532829")
    #expect(images.classNames.filter { $0.hasPrefix("val/") }.count == 3)
    for c in 0..<images.classCount {
        for i in 0..<images.imageCount(ofClass: c) {
            let pixels = images.image(class: c, image: i)
            #expect(pixels.count == 84 * 84 * 3)
            #expect(pixels.allSatisfy { $0 >= 0 && $0 <= 1 })
            // Real photos: not constant.
            #expect((pixels.max() ?? 0) - (pixels.min() ?? 0) > 0.1)
        }
    }
}

@Test func grayscaleImagesBecomeThreeEqualChannels() throws {
    let splits = try MiniImageNet.load(path: miniImageNetFixture)
    let images = splits.train.images
    var grayscale = 0
    for c in 0..<images.classCount {
        for i in 0..<images.imageCount(ofClass: c) {
            let p: [Float] = images.image(class: c, image: i)
            var gray = true
            for j in stride(from: 0, to: p.count, by: 3) where p[j] != p[j + 1] || p[j + 1] != p[j + 2] { gray = false }
            if gray { grayscale += 1 }
        }
    }
    #expect(grayscale == 1)
}

@Test func miniImageNetTasksSampleFromTheTrainClasses() throws {
    let splits = try MiniImageNet.load(path: miniImageNetFixture)
    var rng = RandomGenerator(seed: 3, stream: [0])
    let task = splits.train.sampleTask(ways: 3, shots: 2, using: &rng)
    #expect(task.exampleCount == 6)
    #expect(Set(task.examples.map(\.cls.index)).count == 3)
    #expect(task.examples.allSatisfy { splits.train.images.classNames[$0.cls.index].hasPrefix("train/") })
    let testTask = splits.test.sampleTask(ways: 3, shots: 1, using: &rng)
    #expect(testTask.examples.allSatisfy { splits.test.images.classNames[$0.cls.index].hasPrefix("test/") })
}

@Test func aCorruptJPEGIsNamedInTheError() throws {
    let copy = try copyOfMiniImageNetFixture()
    defer { try? FileManager.default.removeItem(atPath: copy) }
    let classDir = copy + "/val/n02091244"
    let victim = try FileManager.default.contentsOfDirectory(atPath: classDir).sorted()[1]
    var bytes = try Data(contentsOf: URL(fileURLWithPath: classDir + "/" + victim))
    bytes = bytes.prefix(200) + Data(repeating: 0x5A, count: 300)
    try bytes.write(to: URL(fileURLWithPath: classDir + "/" + victim))
    do {
        _ = try MiniImageNet.load(path: copy)
        Issue.record("a corrupt JPEG must not load")
    } catch {
        #expect("\(error)".contains(victim), "\(error)")
    }
}

@Test func aWrongLayoutSaysWhatIsExpected() throws {
    let copy = try copyOfMiniImageNetFixture()
    defer { try? FileManager.default.removeItem(atPath: copy) }
    try FileManager.default.removeItem(atPath: copy + "/val")
    do {
        _ = try MiniImageNet.load(path: copy)
        Issue.record("a tree without val/ must not load")
    } catch {
        #expect("\(error)".contains("val/"))
        #expect("\(error)".contains("train/, val/ and test/"))
    }
    #expect(throws: FormatError.self) { _ = try MiniImageNet.load(path: copy + "/nowhere") }
}
