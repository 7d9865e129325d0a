import Foundation
import Testing
import ReptileFormats

@Suite struct PNGTests {
    static let fixtureNames: [String] = {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: Fixtures.path("png"))) ?? []
        return files.filter { $0.hasSuffix(".png") }.map { String($0.dropLast(4)) }.sorted()
    }()

    @Test func fixturesCoverTheWholeMatrix() {
        // Every color type × bit depth, palettes with tRNS, color keys, interlacing, split IDAT.
        for name in ["gray1", "gray2", "gray4", "gray8", "gray16", "rgb8", "rgb16", "palette1", "palette2", "palette4",
                     "palette8", "grayalpha8", "grayalpha16", "rgba8", "rgba16", "palette4_trns", "gray8_trns", "rgb16_trns",
                     "rgba16_interlaced", "gray1_interlaced", "palette8_trns_interlaced", "rgba8_multi_idat"] {
            #expect(Self.fixtureNames.contains(name), "missing fixture \(name)")
        }
    }

    @Test(arguments: fixtureNames)
    func decodesFixtureToExpectedPixels(name: String) throws {
        let image = try PNG.read(path: Fixtures.path("png/\(name).png"))
        let expected = try NPY.load(path: Fixtures.path("png/\(name).npy"))
        #expect(expected.dtype == .uint8 && expected.shape.count == 3)
        #expect(image.height == expected.shape[0])
        #expect(image.width == expected.shape[1])
        #expect(image.channels == expected.shape[2])
        #expect(image.pixels == expected.bytes, "\(name): pixels differ")
    }

    @Test func decodesAnOmniglotStyleDrawing() throws {
        let folder = "omniglot/Alphabet_of_the_Fixtures/character01/"
        let image = try PNG.read(path: Fixtures.path(folder + "0101_01.png"))
        #expect(image.width == 105 && image.height == 105 && image.channels == 1)
        #expect(Set(image.pixels).isSubset(of: [0, 255]))
        // The expected ink mask, packed 8 pixels a byte by np.packbits (rows padded to 14 bytes).
        let packed = try NPY.load(path: Fixtures.path(folder + "0101_01_ink_packed.npy"))
        #expect(packed.shape == [105, 14])
        let luminance = image.luminance()
        var inkPixels = 0
        for y in 0..<105 {
            for x in 0..<105 {
                let ink = packed.bytes[y * 14 + x / 8] & (0x80 >> UInt8(x % 8)) != 0
                #expect((luminance[y * 105 + x] < 0.5) == ink)
                if ink { inkPixels += 1 }
            }
        }
        #expect(inkPixels > 100 && inkPixels < 105 * 105 / 4)
    }

    @Test func encodeDecodeRoundTripForEveryChannelCount() throws {
        var generator = SeededGenerator(seed: 7)
        for channels in 1...4 {
            for (width, height) in [(1, 1), (17, 9), (64, 33)] {
                let smooth = (0..<(width * height * channels)).map { UInt8(truncatingIfNeeded: ($0 / channels) % width * 3 + $0 % channels * 40) }
                let noisy = (0..<(width * height * channels)).map { _ in UInt8.random(in: 0...255, using: &generator) }
                for pixels in [smooth, noisy] {
                    let file = PNG.encode(pixels: pixels, width: width, height: height, channels: channels)
                    let image = try PNG.decode(file, source: "roundtrip.png")
                    #expect(image == PNGImage(width: width, height: height, channels: channels, pixels: pixels))
                    #expect(PNG.encode(image) == file)  // Deterministic.
                }
            }
        }
    }

    @Test func encoderFiltersAndCompresses() throws {
        // libpng's adaptive filters predict a gradient well: it compresses far below its 20 000 bytes.
        let width = 200, height = 100
        let gradient = (0..<(width * height)).map { UInt8(truncatingIfNeeded: $0 % width) }
        let file = PNG.encode(pixels: gradient, width: width, height: height, channels: 1)
        #expect(file.count < 600)
        #expect(try PNG.decode(file, source: "g.png").pixels == gradient)
        let encoded = try PNG.decode(file, source: "g.png")
        #expect(encoded.channels == 1)
    }

    @Test func writeAndReadFiles() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { Fixtures.cleanUp(directory) }
        let image = PNGImage(width: 2, height: 2, channels: 3, pixels: [255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9])
        try PNG.write(image, to: directory + "/x.png")
        #expect(try PNG.read(path: directory + "/x.png") == image)
        expectFormatError("\(directory)/none.png: no such file") { _ = try PNG.read(path: directory + "/none.png") }
    }

    @Test func luminanceFollowsRec601AndCompositesOverWhite() {
        let gray = PNGImage(width: 3, height: 1, channels: 1, pixels: [0, 51, 255]).luminance()
        #expect(gray == [0, 0.2, 1])
        let rgb = PNGImage(width: 4, height: 1, channels: 3, pixels: [255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255]).luminance()
        #expect(abs(rgb[0] - 0.299) < 1e-6 && abs(rgb[1] - 0.587) < 1e-6 && abs(rgb[2] - 0.114) < 1e-6 && rgb[3] == 1)
        let grayAlpha = PNGImage(width: 3, height: 1, channels: 2, pixels: [0, 255, 0, 0, 0, 51]).luminance()
        #expect(grayAlpha[0] == 0 && grayAlpha[1] == 1 && abs(grayAlpha[2] - 0.8) < 1e-6)
        let rgba = PNGImage(width: 2, height: 1, channels: 4, pixels: [0, 0, 0, 0, 0, 0, 0, 255]).luminance()
        #expect(rgba == [1, 0])
    }

    // MARK: Errors

    static let oneRow: [UInt8] = [0, 10, 20, 30]  // Filter 0, three gray pixels.

    @Test func rejectsBadSignaturesCRCsAndHeaders() {
        expectFormatError("a.png: not a PNG file (bad signature)") { _ = try PNG.decode(Array("GIF89a".utf8), source: "a.png") }
        var badCRC = PNGBuilder.file(width: 3, height: 1, depth: 8, colorType: 0, scanlines: Self.oneRow)
        badCRC[8 + 8 + 5] ^= 1  // Inside IHDR's data.
        expectFormatError("a.png: IHDR: CRC error") { _ = try PNG.decode(badCRC, source: "a.png") }
        expectFormatError("Invalid IHDR data (Invalid color type in IHDR)") {
            _ = try PNG.decode(PNGBuilder.file(width: 3, height: 1, depth: 8, colorType: 5, scanlines: Self.oneRow), source: "a.png")
        }
        expectFormatError("Invalid IHDR data (Invalid color type/bit depth combination in IHDR)") {
            _ = try PNG.decode(PNGBuilder.file(width: 3, height: 1, depth: 4, colorType: 2, scanlines: Self.oneRow), source: "a.png")
        }
        expectFormatError("Invalid IHDR data (Invalid color type/bit depth combination in IHDR)") {
            _ = try PNG.decode(PNGBuilder.file(width: 3, height: 1, depth: 16, colorType: 3, scanlines: Self.oneRow), source: "a.png")
        }
        expectFormatError("Invalid IHDR data (Image width is zero in IHDR)") {
            _ = try PNG.decode(PNGBuilder.file(width: 0, height: 1, depth: 8, colorType: 0, scanlines: Self.oneRow), source: "a.png")
        }
        expectFormatError("Invalid IHDR data (Unknown interlace method in IHDR)") {
            var data: [UInt8] = []
            data.be(UInt32(3)); data.be(UInt32(1)); data += [8, 0, 0, 0, 2]
            _ = try PNG.decode(PNGBuilder.signature + PNGBuilder.chunk("IHDR", data) + PNGBuilder.chunk("IDAT", Zlib.compress(Self.oneRow))
                               + PNGBuilder.chunk("IEND", []), source: "a.png")
        }
        expectFormatError("a.png: IHDR: invalid") {
            _ = try PNG.decode(PNGBuilder.signature + PNGBuilder.chunk("IHDR", Array(repeating: 1, count: 12)), source: "a.png")
        }
        expectFormatError("a.png: IDAT: Missing IHDR before IDAT") {
            _ = try PNG.decode(PNGBuilder.signature + PNGBuilder.chunk("IDAT", Zlib.compress(Self.oneRow)), source: "a.png")
        }
        expectFormatError("invalid chunk type") {
            _ = try PNG.decode(PNGBuilder.signature + PNGBuilder.chunk("IH1R", []), source: "a.png")
        }
    }

    @Test func rejectsMissingAndUnknownCriticalChunks() {
        let ihdr = PNGBuilder.ihdr(width: 3, height: 1, depth: 8, colorType: 0)
        let idat = PNGBuilder.chunk("IDAT", Zlib.compress(Self.oneRow))
        let iend = PNGBuilder.chunk("IEND", [])
        expectFormatError("a.png: CgBI: unhandled critical chunk") {
            _ = try PNG.decode(PNGBuilder.signature + ihdr + PNGBuilder.chunk("CgBI", [1, 2]) + idat + iend, source: "a.png")
        }
        // Unknown ancillary chunks (lowercase first letter) are skipped, wherever they are.
        let withAncillary = PNGBuilder.signature + ihdr + PNGBuilder.chunk("zzZz", [1, 2]) + idat + PNGBuilder.chunk("teXt", []) + iend
        #expect((try? PNG.decode(withAncillary, source: "a.png"))?.pixels == [10, 20, 30])
        expectFormatError("a.png: truncated: the file ends early") { _ = try PNG.decode(PNGBuilder.signature + ihdr + idat, source: "a.png") }
        expectFormatError("a.png: IEND: out of place") { _ = try PNG.decode(PNGBuilder.signature + ihdr + iend, source: "a.png") }
        expectFormatError("a.png: truncated: the file ends early") { _ = try PNG.decode(PNGBuilder.signature, source: "a.png") }
        expectFormatError("a.png: truncated: the file ends early") {
            _ = try PNG.decode(Array((PNGBuilder.signature + ihdr + idat + iend).dropLast(20)), source: "a.png")
        }
        expectFormatError("a.png: IDAT: Missing PLTE before IDAT") {
            _ = try PNG.decode(PNGBuilder.file(width: 3, height: 1, depth: 8, colorType: 3, scanlines: Self.oneRow), source: "a.png")
        }
        expectFormatError("a.png: PLTE: invalid") {
            _ = try PNG.decode(PNGBuilder.file(width: 3, height: 1, depth: 8, colorType: 3, scanlines: Self.oneRow,
                                               extra: PNGBuilder.chunk("PLTE", [1, 2, 3, 4])), source: "a.png")
        }
        // An invalid tRNS chunk is ignored with a warning, as libpng does.
        #expect((try? PNG.decode(PNGBuilder.file(width: 3, height: 1, depth: 8, colorType: 0, scanlines: Self.oneRow,
                                                 extra: PNGBuilder.chunk("tRNS", [1])), source: "a.png"))
                == PNGImage(width: 3, height: 1, channels: 1, pixels: [10, 20, 30]))
    }

    @Test func rejectsBadImageData() throws {
        expectFormatError("a.png: bad adaptive filter value") {
            _ = try PNG.decode(PNGBuilder.file(width: 3, height: 1, depth: 8, colorType: 0, scanlines: [7, 1, 2, 3]), source: "a.png")
        }
        // A palette index past the palette's end reads as black, as in libpng and browsers.
        #expect(try PNG.decode(PNGBuilder.file(width: 3, height: 1, depth: 8, colorType: 3, scanlines: [0, 0, 1, 2],
                                               extra: PNGBuilder.chunk("PLTE", [9, 9, 9, 255, 255, 255])), source: "a.png")
                .pixels == [9, 9, 9, 255, 255, 255, 0, 0, 0])
        expectFormatError("a.png: Not enough image data") {
            _ = try PNG.decode(PNGBuilder.file(width: 3, height: 2, depth: 8, colorType: 0, scanlines: Self.oneRow), source: "a.png")
        }
        expectFormatError("a.png: IDAT: invalid block type") {
            _ = try PNG.decode(PNGBuilder.signature + PNGBuilder.ihdr(width: 3, height: 1, depth: 8, colorType: 0)
                               + PNGBuilder.chunk("IDAT", [0x78, 0x9C, 0xFF, 0xFF, 0xFF]) + PNGBuilder.chunk("IEND", []), source: "a.png")
        }
        // A forged header claiming a huge image over a few bytes of data is rejected before any allocation.
        expectFormatError("cannot hold 100000×100000 pixels") {
            _ = try PNG.decode(PNGBuilder.file(width: 100_000, height: 100_000, depth: 8, colorType: 6, scanlines: Self.oneRow), source: "a.png")
        }
        // Extra data after complete scanlines is tolerated, as libpng does.
        #expect(try PNG.decode(PNGBuilder.file(width: 3, height: 1, depth: 8, colorType: 0, scanlines: Self.oneRow + [0, 0]),
                               source: "a.png").pixels == [10, 20, 30])
    }

    @Test func fuzzedFilesThrowInsteadOfTrapping() throws {
        for (index, name) in ["rgba16_interlaced", "palette4_trns", "gray1_interlaced", "rgb8_trns", "rgba8_multi_idat"].enumerated() {
            let bytes = try Fixtures.bytes("png/\(name).png")
            fuzz(bytes, seed: UInt64(400 + index), truncations: 120, flips: 300) { _ = try PNG.decode($0, source: "fuzz.png") }
        }
        // CRCs catch almost every flip; also fuzz the image data behind valid CRCs.
        var generator = SeededGenerator(seed: 499)
        let pixels = (0..<(23 * 19 * 3)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        var raw: [UInt8] = []
        for y in 0..<19 {
            raw.append(UInt8(y % 5))
            raw += pixels[(y * 69)..<((y + 1) * 69)]
        }
        for _ in 0..<300 {
            var damaged = raw
            for _ in 0..<3 { damaged[Int.random(in: 0..<damaged.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator) }
            let colorType: UInt8 = [0, 2, 3, 4, 6].randomElement(using: &generator)!
            let file = PNGBuilder.file(width: Int.random(in: 1...30, using: &generator), height: Int.random(in: 1...30, using: &generator),
                                       depth: [1, 2, 4, 8, 16].randomElement(using: &generator)!, colorType: colorType,
                                       scanlines: damaged, extra: colorType == 3 ? PNGBuilder.chunk("PLTE", Array(repeating: 7, count: 30)) : [])
            do { _ = try PNG.decode(file, source: "fuzz.png") } catch is FormatError {} catch { Issue.record("\(error)") }
        }
    }
}
