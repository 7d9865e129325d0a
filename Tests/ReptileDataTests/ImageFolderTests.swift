// A user's own folder of images as a few-shot benchmark: layouts, geometry, the cache and the errors.

import Foundation
import Testing
@testable import ReptileData
import ReptileFormats

let folderFixture = Bundle.module.path(forResource: "Fixtures/folder", ofType: nil)!
let corruptFolderFixture = Bundle.module.path(forResource: "Fixtures/folder-corrupt", ofType: nil)!

/// A fresh copy of a fixture (the loader writes its cache into the data folder).
func copyOfFixture(_ fixture: String, _ name: String) throws -> String {
    let dir = NSTemporaryDirectory() + "reptile-\(name)-\(UUID().uuidString)"
    try FileManager.default.copyItem(atPath: fixture, toPath: dir)
    return dir
}

@Test func aFolderWithTrainAndTestLoadsWithGeometryFromTheImages() throws {
    let dir = try copyOfFixture(folderFixture, "folder")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let loaded = try ImageFolder.load(path: dir)
    // PNG (gray, gray+alpha, RGB, RGBA) and JPEG, 20×20 to 67×45: colour present, so 3 channels;
    // the median shorter side is 28.
    #expect(loaded.channels == 3 && loaded.imageSize == 28 && !loaded.fromCache)
    #expect(loaded.splits.train.classCount == 6 && loaded.splits.test.classCount == 3 && loaded.splits.validation == nil)
    #expect(loaded.splits.imagesPerClass == 5)
    let names = loaded.splits.train.images.classNames
    #expect(names.first == "train/tr0-circle" && names.contains("test/te2-dots"))
    // Every pixel is a byte of a real image: no class is blank.
    let images = loaded.splits.train.images
    for cls in 0..<images.classCount {
        let start = images.classStarts[cls] * images.imageSize
        let bytes = images.pixels[start ..< start + images.imageSize]
        #expect(Set(bytes).count > 10, "class \(names[cls]) looks blank")
    }
    // The second load reads the cache, to the same bytes; forcing grayscale decodes again.
    let again = try ImageFolder.load(path: dir)
    #expect(again.fromCache && again.splits.train.images.pixels == images.pixels)
    let gray = try ImageFolder.load(path: dir, imageSize: 14, channels: 1)
    #expect(gray.channels == 1 && gray.imageSize == 14 && !gray.fromCache)
    #expect(gray.splits.train.images.pixels.count == 30 * 14 * 14 + 15 * 14 * 14)
}

@Test func aChangedImageInvalidatesTheCache() throws {
    let dir = try copyOfFixture(folderFixture, "folder-cache")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    _ = try ImageFolder.load(path: dir)
    #expect(try ImageFolder.load(path: dir).fromCache)
    let file = dir + "/train/tr0-circle/00.png"
    try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: 60)], ofItemAtPath: file)
    #expect(try !ImageFolder.load(path: dir).fromCache)
}

@Test func aFolderOfClassesIsSplitBySeed() throws {
    let source = try copyOfFixture(folderFixture, "folder-src")
    let dir = NSTemporaryDirectory() + "reptile-flat-\(UUID().uuidString)"
    defer { for d in [source, dir] { try? FileManager.default.removeItem(atPath: d) } }
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    for split in ["train", "test"] {
        for cls in try FileManager.default.contentsOfDirectory(atPath: source + "/" + split) where !cls.hasPrefix(".") {
            try FileManager.default.copyItem(atPath: "\(source)/\(split)/\(cls)", toPath: "\(dir)/\(cls)")
        }
    }
    // 9 classes at the default 64/16/20: 6 to train, 1 to validate, 2 to test.
    let a = try ImageFolder.load(path: dir, seed: 1, cache: false)
    #expect(a.splits.train.classCount == 6 && a.splits.validation?.classCount == 1 && a.splits.test.classCount == 2)
    let b = try ImageFolder.load(path: dir, seed: 1, cache: false)
    #expect(a.splits.test.images.classNames == b.splits.test.images.classNames)
    let testNames = { (l: ImageFolder.Loaded) in l.splits.test.classes.map { l.splits.test.images.classNames[$0.index] } }
    let other = try ImageFolder.load(path: dir, seed: 2, cache: false)
    #expect(testNames(a) == testNames(b))
    #expect(testNames(a) != testNames(other) || a.splits.train.classes != other.splits.train.classes)
    let halves = try ImageFolder.load(path: dir, splitFractions: [0.5, 0, 0.5], cache: false)
    #expect(halves.splits.validation == nil && halves.splits.train.classCount + halves.splits.test.classCount == 9)
    #expect(throws: FormatError.self) { try ImageFolder.load(path: dir, splitFractions: [0.5, 0.5, 0.5], cache: false) }
    #expect(throws: FormatError.self) { try ImageFolder.load(path: source, splitFractions: [0.5, 0.2, 0.3], cache: false) }
}

@Test func unreadableFilesAndEmptyFoldersAreNamed() throws {
    func message(_ body: () throws -> Void) -> String {
        do { try body(); return "" } catch { return String(describing: error) }
    }
    let broken = message { _ = try ImageFolder.load(path: corruptFolderFixture, cache: false) }
    #expect(broken.contains("broken.png"), "\(broken)")
    let empty = NSTemporaryDirectory() + "reptile-empty-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: empty + "/cats", withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: empty) }
    let noImages = message { _ = try ImageFolder.load(path: empty, cache: false) }
    #expect(noImages.contains("cats") && noImages.contains("without PNG or JPEG images"), "\(noImages)")
    try FileManager.default.removeItem(atPath: empty + "/cats")
    let noClasses = message { _ = try ImageFolder.load(path: empty, cache: false) }
    #expect(noClasses.contains("no class folders"), "\(noClasses)")
    let missing = message { _ = try ImageFolder.load(path: empty + "/nowhere", cache: false) }
    #expect(missing.contains("no such folder"), "\(missing)")
}
