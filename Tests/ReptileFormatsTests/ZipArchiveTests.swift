import Foundation
import Testing
import ReptileFormats

@Suite struct ZipArchiveTests {
    static let hello = [UInt8](String(repeating: "Hello, zip! ", count: 40).utf8)

    @Test func readsPythonZip64Archive() throws {
        // Written by Python's zipfile with its zip64 limit lowered: zip64 extra fields in the central directory
        // and a zip64 end-of-central-directory record and locator.
        let archive = try ZipArchive(path: Fixtures.path("zip/zip64.zip"))
        #expect(archive.entries.map(\.name) == ["hello.txt", "dir/", "stored.bin"])
        let hello = try #require(archive.entry(named: "hello.txt"))
        #expect(hello.method == 8)
        #expect(hello.uncompressedSize == Self.hello.count)
        #expect(hello.crc32 == Zlib.crc32(Self.hello))
        #expect(!hello.isDirectory)
        #expect(try archive.extract(hello) == Self.hello)
        let directory = try #require(archive.entry(named: "dir/"))
        #expect(directory.isDirectory)
        #expect(try archive.extract(directory) == [])
        let stored = try #require(archive.entry(named: "stored.bin"))
        #expect(stored.method == 0)
        #expect(try archive.extract(stored) == (0...255).map { UInt8($0) })
        #expect(archive.entry(named: "missing") == nil)
    }

    @Test func readsStreamedInfoZipArchiveWithDataDescriptor() throws {
        // `zip archive -` from stdin: sizes in a data descriptor (flag bit 3) and a zip64 local extra field.
        let archive = try ZipArchive(path: Fixtures.path("zip/streamed.zip"))
        #expect(archive.entries.count == 1)
        let entry = archive.entries[0]
        #expect(entry.name == "-")
        #expect(entry.flags & 0x0008 != 0)
        #expect(try archive.extract(entry) == Self.hello)
    }

    @Test func findsTheDirectoryBehindAnArchiveComment() throws {
        let archive = try ZipArchive(path: Fixtures.path("zip/comment.zip"))
        #expect(archive.comment.hasPrefix("archive comment PK"))
        #expect(archive.entries.map(\.name) == ["a.txt", "b.txt"])
        #expect(try archive.extract(archive.entries[0]) == Array("alpha".utf8))
        #expect(try archive.extract(archive.entries[1]) == [])
    }

    @Test func extractsIntoCallerMemory() throws {
        var data = [UInt8](repeating: 0, count: 9_000_000)  // Larger than one 4 MiB inflate window.
        for index in stride(from: 0, to: data.count, by: 997) { data[index] = UInt8(index % 251) }
        let bytes = ZipBuilder(entries: [.init("big.bin", data), .init("small.txt", Array("tiny".utf8), method: 0)]).build()
        let archive = try ZipArchive(bytes: bytes, source: "mem.zip")
        let entry = try #require(archive.entry(named: "big.bin"))
        var buffer = [UInt8](repeating: 0, count: entry.uncompressedSize)
        try buffer.withUnsafeMutableBytes { try archive.extract(entry, into: $0) }
        #expect(buffer == data)
        expectFormatError("mem.zip:big.bin: destination holds 10 bytes, entry needs 9000000 bytes") {
            var small = [UInt8](repeating: 0, count: 10)
            try small.withUnsafeMutableBytes { try archive.extract(entry, into: $0) }
        }
        let stored = try #require(archive.entry(named: "small.txt"))
        #expect(try archive.extract(stored) == Array("tiny".utf8))
    }

    @Test func handBuiltZip64DirectoryAndLocalExtraLengthsDifferingFromTheCentralOnes() throws {
        var first = ZipBuilder.Entry("first.npy", Array(repeating: 1, count: 1000))
        first.zip64 = true
        first.localExtra = [0xAB, 0xCD, 4, 0, 1, 2, 3, 4]  // An unknown local extra field the central record lacks.
        var second = ZipBuilder.Entry("second", Array("second entry".utf8), method: 0)
        second.zip64 = true
        let bytes = ZipBuilder(entries: [first, second], zip64Directory: true).build()
        let archive = try ZipArchive(bytes: bytes, source: "z64.zip")
        #expect(archive.entries.map(\.name) == ["first.npy", "second"])
        #expect(archive.entries[0].compressedSize < 1000)
        #expect(try archive.extract(archive.entries[0]) == Array(repeating: 1, count: 1000))
        #expect(try archive.extract(archive.entries[1]) == Array("second entry".utf8))
    }

    @Test func decodesCodePage437Names() throws {
        var entry = ZipBuilder.Entry("x", [1, 2, 3], method: 0)
        entry.name = [0x63, 0x61, 0x66, 0x82, 0x2E, 0x74, 0x78, 0x74]  // "café.txt" in CP437, no UTF-8 flag.
        let archive = try ZipArchive(bytes: ZipBuilder(entries: [entry]).build(), source: "cp437.zip")
        #expect(archive.entries[0].name == "café.txt")
    }

    @Test func missingFileAndNonZipInput() {
        expectFormatError("/nonexistent/dir/archive.zip: no such file") {
            _ = try ZipArchive(path: "/nonexistent/dir/archive.zip")
        }
        expectFormatError("x.zip: not a zip archive (no end-of-central-directory record)") {
            _ = try ZipArchive(bytes: Array(repeating: 0x41, count: 5000), source: "x.zip")
        }
        expectFormatError("too short for an end-of-central-directory record") {
            _ = try ZipArchive(bytes: [0x50, 0x4B], source: "x.zip")
        }
        expectFormatError("is a directory") { _ = try ZipArchive(path: NSTemporaryDirectory()) }
    }

    @Test func rejectsCRCMismatchUnsupportedMethodsAndEncryption() throws {
        var bad = ZipBuilder.Entry("images.npy", Array(repeating: 9, count: 500))
        bad.crcOverride = 0x1234_5678
        var bzip = ZipBuilder.Entry("b.bin", [1, 2, 3], method: 0)
        bzip.method = 12
        var encrypted = ZipBuilder.Entry("secret", [1, 2, 3], method: 0)
        encrypted.flags = 1
        var storedBad = ZipBuilder.Entry("stored", [4, 5, 6], method: 0)
        storedBad.crcOverride = 7
        let archive = try ZipArchive(bytes: ZipBuilder(entries: [bad, bzip, encrypted, storedBad]).build(), source: "a.npz")
        expectFormatError("a.npz:images.npy: CRC-32 mismatch in entry images.npy: stored 0x12345678, computed") {
            _ = try archive.extract(archive.entries[0])
        }
        expectFormatError("a.npz:b.bin: unsupported compression method 12 (bzip2)") { _ = try archive.extract(archive.entries[1]) }
        expectFormatError("a.npz:secret: encrypted entries are not supported") { _ = try archive.extract(archive.entries[2]) }
        expectFormatError("CRC-32 mismatch in entry stored") { _ = try archive.extract(archive.entries[3]) }
    }

    @Test func rejectsBrokenDirectoriesAndHeaders() throws {
        let good = ZipBuilder(entries: [.init("a.txt", Array("alpha alpha alpha".utf8))]).build()
        let eocd = good.count - 22
        let directoryOffset = Int(good[eocd + 16]) | Int(good[eocd + 17]) << 8

        var pastEnd = good
        pastEnd[eocd + 16] = 0xF0; pastEnd[eocd + 17] = 0xFF
        expectFormatError("truncated: central directory needs") { _ = try ZipArchive(bytes: pastEnd, source: "t.zip") }

        var badSignature = good
        badSignature[directoryOffset] = 0x51
        expectFormatError("bad central directory record 0") { _ = try ZipArchive(bytes: badSignature, source: "t.zip") }

        var tooManyEntries = good
        tooManyEntries[eocd + 8] = 9; tooManyEntries[eocd + 10] = 9
        expectFormatError("cannot hold 9 entries") { _ = try ZipArchive(bytes: tooManyEntries, source: "t.zip") }

        var multiDisk = good
        multiDisk[eocd + 4] = 1
        expectFormatError("multi-disk (spanned) zip archives are not supported") { _ = try ZipArchive(bytes: multiDisk, source: "t.zip") }

        var badLocal = good
        badLocal[0] = 0
        let archive = try ZipArchive(bytes: badLocal, source: "t.zip")
        expectFormatError("t.zip:a.txt: no local file header at offset 0") { _ = try archive.extract(archive.entries[0]) }

        // A local header whose extra length pushes the data past the end of the archive.
        var longExtra = good
        longExtra[28] = 0xFF; longExtra[29] = 0xFF
        let longArchive = try ZipArchive(bytes: longExtra, source: "t.zip")
        expectFormatError("truncated: entry data needs") { _ = try longArchive.extract(longArchive.entries[0]) }

        // An uncompressed size no deflate stream of this length could produce.
        var inflated = good
        inflated[directoryOffset + 24 + 3] = 0x7F
        let inflatedArchive = try ZipArchive(bytes: inflated, source: "t.zip")
        expectFormatError("t.zip:a.txt: entry claims 2130706449 bytes from") { _ = try inflatedArchive.extract(inflatedArchive.entries[0]) }

        // Saturated sizes without the zip64 extra field.
        var saturated = good
        for k in 0..<4 { saturated[directoryOffset + 24 + k] = 0xFF }
        expectFormatError("has saturated sizes but no zip64 extra field") { _ = try ZipArchive(bytes: saturated, source: "t.zip") }
    }

    @Test func corruptDeflateDataIsReportedWithTheEntryName() throws {
        let data = ZlibTests.sampleData(count: 20_000, seed: 5)
        var bytes = ZipBuilder(entries: [.init("data.bin", data)]).build()
        // Damage the middle of the compressed payload (after the 30-byte local header and 8-byte name).
        for k in 200..<260 { bytes[30 + 8 + k] ^= 0x5A }
        let archive = try ZipArchive(bytes: bytes, source: "c.zip")
        do {
            _ = try archive.extract(archive.entries[0])
            Issue.record("corruption went unnoticed")
        } catch let error as FormatError {
            #expect(error.source == "c.zip:data.bin")
        }
    }

    @Test func fuzzedArchivesThrowInsteadOfTrapping() throws {
        for (index, name) in ["zip/zip64.zip", "zip/comment.zip", "npz/compressed.npz"].enumerated() {
            let bytes = try Fixtures.bytes(name)
            fuzz(bytes, seed: UInt64(100 + index), truncations: 96, flips: 300) { variant in
                let archive = try ZipArchive(bytes: variant, source: "fuzz.zip")
                for entry in archive.entries where entry.uncompressedSize < 1 << 20 {
                    _ = try archive.extract(entry)
                }
            }
        }
    }
}
