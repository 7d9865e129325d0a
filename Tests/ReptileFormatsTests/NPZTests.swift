import Foundation
import Testing
import ReptileFormats

@Suite struct NPZTests {
    /// The arrays `generate_fixtures.py` saved with `np.savez_compressed` and `np.savez`.
    static let expectedImages: [UInt8] = {
        var images = [UInt8](repeating: 0, count: 3 * 2 * 5 * 5)
        func set(_ a: Int, _ b: Int, _ row: Int, _ column: Int) { images[((a * 2 + b) * 5 + row) * 5 + column] = 1 }
        for row in 1..<4 { set(0, 0, row, 2) }                                    // images[0, 0, 1:4, 2] = True
        for k in 0..<5 { set(1, 1, k, k) }                                         // images[1, 1] = eye(5)
        for column in 0..<5 { set(2, 0, 4, column) }                               // images[2, 0, 4, :] = True
        for row in stride(from: 0, to: 5, by: 2) { for column in stride(from: 0, to: 5, by: 2) { set(2, 1, row, column) } }
        return images
    }()
    static let expectedLabels: [Int64] = [-1, -1, 999, 999, 1999, 1999]
    static let expectedWeights: [Float] = (0..<12).map { (Float($0) - 5.5) / 8 }

    @Test(arguments: ["npz/compressed.npz", "npz/stored.npz"])
    func readsNumpyArchives(name: String) throws {
        let npz = try NPZArchive(path: Fixtures.path(name))
        #expect(npz.arrayNames == ["images", "labels", "weights"])

        let header = try npz.header(named: "images")
        #expect(header.dtype == .bool && header.shape == [3, 2, 5, 5] && header.byteCount == 150)

        let images = try npz.array(named: "images")
        #expect(images.dtype == .bool && images.shape == [3, 2, 5, 5])
        #expect(images.bytes == Self.expectedImages)

        let labels = try npz.array(named: "labels.npy")  // The extension is optional.
        #expect(labels.dtype == .int64 && labels.shape == [3, 2])
        #expect(labels.int64s() == Self.expectedLabels)

        let weights = try npz.array(named: "weights")
        #expect(weights.dtype == .float32 && weights.shape == [3, 4])
        #expect(weights.floats() == Self.expectedWeights)

        var buffer = [UInt8](repeating: 0xEE, count: header.byteCount)
        let returned = try buffer.withUnsafeMutableBytes { try npz.readArray(named: "images", into: $0) }
        #expect(returned == header)
        #expect(buffer == Self.expectedImages)
    }

    @Test func headerReadsOnlyThePrefixOfAnEntry() throws {
        // A large, highly compressible array: reading its header must not need the rest of the stream, so a
        // damaged tail goes unnoticed by header(named:) but is caught by a full read.
        let array = NPYArray(floats: [Float](repeating: 0.5, count: 1_000_000), shape: [1000, 1000])
        var entry = ZipBuilder.Entry("big.npy", NPY.encode(array))
        entry.crcOverride = 0xDEAD_BEEF
        let npz = try NPZArchive(bytes: ZipBuilder(entries: [entry]).build(), source: "b.npz")
        let header = try npz.header(named: "big")
        #expect(header.shape == [1000, 1000] && header.dtype == .float32)
        expectFormatError("b.npz:big.npy: CRC-32 mismatch in entry big.npy") { _ = try npz.array(named: "big") }
    }

    @Test func bigEndianArraysAreRefusedByName() throws {
        let bytes = npyFile(header: "{'descr': '>i4', 'fortran_order': False, 'shape': (2,)}", data: [0, 0, 1, 2, 0xFF, 0xFF, 0xFF, 0xFE])
        let npz = try NPZArchive(bytes: ZipBuilder(entries: [.init("be.npy", bytes)]).build(), source: "be.npz")
        expectFormatError("be.npz:be.npy: unsupported dtype '>i4'") { _ = try npz.array(named: "be") }
    }

    @Test func reportsMissingArraysWrongBuffersAndBadEntries() throws {
        let npz = try NPZArchive(path: Fixtures.path("npz/compressed.npz"))
        expectFormatError("compressed.npz: no array named 'pixels' (arrays: images, labels, weights)") {
            _ = try npz.array(named: "pixels")
        }
        expectFormatError("no array named 'pixels'") { _ = try npz.header(named: "pixels") }
        expectFormatError("compressed.npz:images.npy: destination holds 10 bytes, array (3, 2, 5, 5) bool needs 150 bytes") {
            var small = [UInt8](repeating: 0, count: 10)
            try small.withUnsafeMutableBytes { _ = try npz.readArray(named: "images", into: $0) }
        }
        let empty = try NPZArchive(bytes: ZipBuilder().build(), source: "e.npz")
        expectFormatError("e.npz: no array named 'x' (the archive is empty)") { _ = try empty.array(named: "x") }

        let broken = ZipBuilder(entries: [
            .init("text.npy", Array("this is not numpy".utf8)),
            .init("short.npy", Array(npyFile(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (4,)}", data: [1, 2, 3]))),
            .init("tiny.npy", [0x93, 0x4E]),
        ]).build()
        let bad = try NPZArchive(bytes: broken, source: "bad.npz")
        expectFormatError("bad.npz:text.npy: not an .npy file (bad magic string)") { _ = try bad.array(named: "text") }
        expectFormatError("bad.npz:short.npy: truncated: expected 16 bytes of array data for shape (4,) float32, entry has 3") {
            _ = try bad.header(named: "short")
        }
        expectFormatError("bad.npz:tiny.npy: truncated") { _ = try bad.header(named: "tiny") }
    }

    @Test func fuzzedArchivesThrowInsteadOfTrapping() throws {
        for (index, name) in ["npz/compressed.npz", "npz/stored.npz"].enumerated() {
            fuzz(try Fixtures.bytes(name), seed: UInt64(300 + index), truncations: 64, flips: 300) { variant in
                let npz = try NPZArchive(bytes: variant, source: "fuzz.npz")
                for name in npz.arrayNames {
                    _ = try npz.header(named: name)
                    _ = try npz.array(named: name)
                }
            }
        }
    }

    // MARK: The built-in data set

    static let builtInDataSet: String? = {
        let candidates = [
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("Sources/ReptileData/Resources/omniglot/images_background.npz").path,
            "/work/main/Sources/ReptileData/Resources/omniglot/images_background.npz",
        ]
        return candidates.first { FileManager.default.fileExists(atPath: $0) }
    }()

    @Test(.enabled(if: builtInDataSet != nil, "the Omniglot data set is not present"))
    func opensTheBuiltInOmniglotDataSet() throws {
        let path = try #require(Self.builtInDataSet)
        let npz = try NPZArchive(path: path)
        #expect(Set(npz.arrayNames) == ["images", "labels"])
        let header = try npz.header(named: "images")
        #expect(header.dtype == .bool)
        #expect(header.shape == [964, 20, 105, 105])
        #expect(header.byteCount == 212_562_000)
        let labelsHeader = try npz.header(named: "labels")
        #expect(labelsHeader.shape == [964, 20])
        let labels = try npz.array(named: "labels").int64s()
        #expect(labels.count == 964 * 20)

        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: header.byteCount, alignment: 64)
        defer { buffer.deallocate() }
        let clock = ContinuousClock()
        let elapsed = try clock.measure { try npz.readArray(named: "images", into: buffer) }
        print("images.npy: inflated \(header.byteCount) bytes into the caller's buffer in \(elapsed)")
        // Both values occur. (This file stores True as 0xFF rather than numpy's usual 0x01, so readers must
        // test bytes for nonzero, as NPYArray's converters do.)
        var zeros = 0, nonzeros = 0
        for index in stride(from: 0, to: buffer.count, by: 4099) {
            if buffer[index] == 0 { zeros += 1 } else { nonzeros += 1 }
        }
        #expect(zeros > 0 && nonzeros > 0)
    }
}
