import Testing
import ReptileFormats

@Suite struct ZlibTests {
    static func sampleData(count: Int, seed: UInt64) -> [UInt8] {
        var generator = SeededGenerator(seed: seed)
        // Half compressible text-like runs, half noise.
        return (0..<count).map { index in
            index % 64 < 32 ? UInt8(ascii: "a") + UInt8(index % 7) : UInt8.random(in: 0...255, using: &generator)
        }
    }

    @Test func compressDecompressRoundTrip() throws {
        for count in [0, 1, 100, 65_537, 300_000] {
            let data = Self.sampleData(count: count, seed: UInt64(count))
            for level: Int32 in [0, 1, 6, 9, -1] {
                let packed = Zlib.compress(data, level: level)
                #expect(packed.count >= 2 && packed[0] & 0x0F == 8, "zlib header")
                #expect(try Zlib.decompress(packed, source: "t") == data)
                #expect(try Zlib.decompress(packed, source: "t", sizeHint: count) == data)
                #expect(try Zlib.decompress(packed, source: "t", sizeHint: 1) == data)  // Grows many times.
            }
        }
    }

    @Test func compressionIsDeterministicAndShrinksRepetitiveData() {
        let data = [UInt8](repeating: 7, count: 100_000)
        let a = Zlib.compress(data), b = Zlib.compress(data)
        #expect(a == b)
        #expect(a.count < 1_000)
        #expect(Zlib.compress(data, level: 42) == Zlib.compress(data, level: 9))  // Clamped.
    }

    @Test func inflateRawFillsTheBufferExactly() throws {
        let data = Self.sampleData(count: 200_000, seed: 1)
        let raw = ZipBuilder.rawDeflate(data)
        #expect(try Zlib.inflateRaw(raw, expectedSize: data.count, source: "t") == data)
        var output = [UInt8](repeating: 0, count: data.count)
        try raw.withUnsafeBytes { input in
            try output.withUnsafeMutableBytes { try Zlib.inflateRaw(input, into: $0, source: "t") }
        }
        #expect(output == data)
        // Trailing input after the end of the stream is ignored.
        #expect(try Zlib.inflateRaw(raw + [1, 2, 3], expectedSize: data.count, source: "t") == data)
        // An empty stream.
        #expect(try Zlib.inflateRaw(ZipBuilder.rawDeflate([]), expectedSize: 0, source: "t") == [])
    }

    @Test func inflateRawReportsSizeMismatchesAndCorruption() {
        let data = Self.sampleData(count: 10_000, seed: 2)
        let raw = ZipBuilder.rawDeflate(data)
        expectFormatError("entry.bin: truncated: expected 10000 bytes of deflate output, got") {
            _ = try Zlib.inflateRaw(Array(raw.prefix(raw.count / 2)), expectedSize: 10_000, source: "entry.bin")
        }
        expectFormatError("deflate stream ends early: expected 10001 bytes of output, got 10000") {
            _ = try Zlib.inflateRaw(raw, expectedSize: 10_001, source: "t")
        }
        expectFormatError("deflate stream holds more than the expected 9999 bytes") {
            _ = try Zlib.inflateRaw(raw, expectedSize: 9_999, source: "t")
        }
        expectFormatError("corrupt deflate stream") {
            _ = try Zlib.inflateRaw([0xFF, 0xFF, 0xFF, 0xFF], expectedSize: 10, source: "t")
        }
        expectFormatError("truncated: expected 5 bytes of deflate output, got 0") {
            _ = try Zlib.inflateRaw([], expectedSize: 5, source: "t")
        }
        expectFormatError("invalid expected size -1") {
            _ = try Zlib.inflateRaw(raw, expectedSize: -1, source: "t")
        }
    }

    @Test func decompressReportsTruncationAndCorruption() {
        let data = Self.sampleData(count: 5_000, seed: 3)
        let packed = Zlib.compress(data)
        expectFormatError("img.png: truncated zlib stream") {
            _ = try Zlib.decompress(Array(packed.dropLast(10)), source: "img.png")
        }
        expectFormatError("corrupt zlib stream: incorrect header check") {
            _ = try Zlib.decompress([0x78, 0x00] + packed.dropFirst(2), source: "t")
        }
        var badChecksum = packed
        badChecksum[badChecksum.count - 1] ^= 0xFF
        expectFormatError("corrupt zlib stream: incorrect data check") {
            _ = try Zlib.decompress(badChecksum, source: "t")
        }
        expectFormatError("truncated zlib stream") { _ = try Zlib.decompress([], source: "t") }
    }

    @Test func crc32MatchesTheStandardCheckValue() {
        let check = Array("123456789".utf8)
        #expect(Zlib.crc32(check) == 0xCBF4_3926)
        #expect(Zlib.crc32([]) == 0)
        #expect(Zlib.crc32(Array(check[4...]), initial: Zlib.crc32(Array(check[..<4]))) == 0xCBF4_3926)
        check.withUnsafeBytes { #expect(Zlib.crc32($0) == 0xCBF4_3926) }
    }

    @Test func fuzzedStreamsThrowInsteadOfTrapping() {
        let data = Self.sampleData(count: 3_000, seed: 4)
        let packed = Zlib.compress(data)
        let raw = ZipBuilder.rawDeflate(data)
        fuzz(packed, seed: 10) { _ = try Zlib.decompress($0, source: "fuzz") }
        fuzz(raw, seed: 11) { _ = try Zlib.inflateRaw($0, expectedSize: data.count, source: "fuzz") }
    }
}
