// PNG decoding (every standard color type and bit depth, palettes, transparency, Adam7 interlacing, all filter
// types, chunk CRCs) into 8-bit interleaved pixels, and 8-bit PNG encoding with per-row adaptive filtering.
import CZlib

/// A decoded image: 8-bit samples, interleaved, rows top to bottom.
public struct PNGImage: Sendable, Equatable {
    /// The width in pixels.
    public let width: Int
    /// The height in pixels.
    public let height: Int
    /// Samples per pixel: 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA.
    public let channels: Int
    /// `width × height × channels` samples, row-major, channels interleaved (e.g. R G B A R G B A …).
    /// May be edited in place; its count must stay `width × height × channels`.
    public var pixels: [UInt8]

    /// Creates an image from interleaved 8-bit samples.
    ///
    /// - Parameters:
    ///   - width: The width in pixels.
    ///   - height: The height in pixels.
    ///   - channels: 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA).
    ///   - pixels: `width × height × channels` samples.
    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        precondition((1...4).contains(channels), "channels must be 1...4, got \(channels)")
        precondition(width >= 0 && height >= 0 && pixels.count == width * height * channels,
                     "\(pixels.count) samples do not fill \(width)×\(height)×\(channels)")
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }

    /// The image's brightness per pixel, in 0...1, row-major.
    ///
    /// Gray is `v / 255`; color uses the Rec. 601 luma weights (0.299 R + 0.587 G + 0.114 B) / 255. Images with
    /// alpha are composited over white first, so transparent pixels read as 1 (white paper); since white has luma 1,
    /// this equals `luma × a + (1 − a)` with `a = alpha / 255`.
    public func luminance() -> [Float] {
        precondition(pixels.count == width * height * channels, "pixels no longer fill \(width)×\(height)×\(channels)")
        let count = width * height
        let channels = self.channels
        return [Float](unsafeUninitializedCapacity: count) { out, initialized in
            pixels.withUnsafeBufferPointer { p in
                // Divide (rather than multiply by 1/255) so that gray levels map to exactly v / 255.
                switch channels {
                case 1:
                    for i in 0..<count { out[i] = Float(p[i]) / 255 }
                case 2:
                    for i in 0..<count {
                        let alpha = Float(p[2 * i + 1]) / 255
                        out[i] = Float(p[2 * i]) / 255 * alpha + (1 - alpha)
                    }
                case 3:
                    for i in 0..<count {
                        let luma = 0.299 * Float(p[3 * i]) + 0.587 * Float(p[3 * i + 1]) + 0.114 * Float(p[3 * i + 2])
                        out[i] = min(1, luma / 255)
                    }
                default:
                    for i in 0..<count {
                        let luma = 0.299 * Float(p[4 * i]) + 0.587 * Float(p[4 * i + 1]) + 0.114 * Float(p[4 * i + 2])
                        let alpha = Float(p[4 * i + 3]) / 255
                        out[i] = min(1, luma / 255 * alpha + (1 - alpha))
                    }
                }
            }
            initialized = count
        }
    }
}

/// Reading and writing PNG images.
///
/// Decoding accepts every standard PNG: color types 0 (gray), 2 (RGB), 3 (palette), 4 (gray + alpha) and
/// 6 (RGBA); bit depths 1, 2, 4, 8 and 16; `tRNS` transparency; Adam7 interlacing; all five row filters; and image
/// data split over any number of `IDAT` chunks. The result always has 8-bit samples:
///
/// - Gray of depth 1, 2 or 4 is scaled to 0...255 (`v × 255 / (2^depth − 1)`, exact).
/// - 16-bit samples are rounded to the nearest 8-bit value, `(v × 255 + 32767) / 65535` (not truncated to the
///   high byte, which would bias every sample down by up to one level).
/// - Palette images become RGB, or RGBA when a `tRNS` chunk gives palette alphas.
/// - Gray or RGB images with a `tRNS` color key gain an alpha channel (0 where the key matches, else 255).
///
/// Every chunk's CRC is verified; ancillary chunks (text, gamma, physical size, …) are skipped; unknown
/// critical chunks are an error.
///
/// ```swift
/// let image = try PNG.read(path: "Alphabet/character01/0101_01.png")
/// let ink = image.luminance().map { 1 - $0 }
/// let png = PNG.encode(pixels: image.pixels, width: image.width, height: image.height, channels: image.channels)
/// ```
public enum PNG {
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// Reads and decodes the PNG file at `path`.
    ///
    /// - Parameter path: The file's path.
    /// - Returns: The decoded image.
    /// - Throws: `FormatError` naming `path` when the file is missing, unreadable or not a valid PNG.
    public static func read(path: String) throws -> PNGImage {
        try decode(try readFileBytes(path), source: path)
    }

    /// Encodes an image and writes it to `path` atomically (see ``AtomicFile``).
    ///
    /// - Parameters:
    ///   - image: The image to write.
    ///   - path: The destination path.
    /// - Throws: `FormatError` naming `path` when the file cannot be written.
    public static func write(_ image: PNGImage, to path: String) throws {
        try AtomicFile.write(encode(image), to: path)
    }

    /// Decodes a PNG file held in memory.
    ///
    /// - Parameters:
    ///   - bytes: The whole file.
    ///   - source: The file name, used in error messages.
    /// - Returns: The image with 8-bit samples (see the type's documentation for how other depths are converted).
    /// - Throws: `FormatError` for a bad signature, truncation, a chunk CRC mismatch, an unsupported or invalid
    ///   header field (e.g. "unsupported PNG color type 5"), missing chunks, corrupt image data or an invalid
    ///   filter type.
    public static func decode(_ bytes: [UInt8], source: String) throws -> PNGImage {
        let chunks = try bytes.withUnsafeBytes { try readChunks($0, source: source) }
        let header = chunks.header
        let layout = header.layout

        // Sizes of the filtered scanlines, per Adam7 pass or for the single pass of a plain image.
        let passes = header.interlaced ? Pass.adam7 : [Pass.whole]
        var expected = 0
        for pass in passes {
            let (passWidth, passHeight) = pass.size(width: header.width, height: header.height)
            guard passWidth > 0, passHeight > 0 else { continue }
            guard let rowBytes = layout.rowBytes(width: passWidth),
                  case let (size, false) = (rowBytes + 1).multipliedReportingOverflow(by: passHeight),
                  case let (total, false) = expected.addingReportingOverflow(size) else {
                throw FormatError(source, "image of \(header.width)×\(header.height) pixels is too large")
            }
            expected = total
        }
        guard let outputCount = checkedProduct([header.width, header.height, layout.outputChannels(chunks)]) else {
            throw FormatError(source, "image of \(header.width)×\(header.height) pixels is too large")
        }
        // Deflate expands at most about 1032:1, so tiny IDAT data cannot hold a huge image: reject it before
        // allocating, rather than letting a forged header request gigabytes.
        guard expected / 1032 <= chunks.imageData.count + 64 else {
            throw FormatError(source, "truncated: \(byteCountText(chunks.imageData.count)) of IDAT data cannot hold \(header.width)×\(header.height) pixels (\(byteCountText(expected)) of scanlines)")
        }

        var scanlines = [UInt8](repeating: 0, count: expected)
        try chunks.imageData.withUnsafeBytes { compressed in
            let inflater = try Inflater(format: .zlib, source: source)
            inflater.setInput(compressed)
            try scanlines.withUnsafeMutableBytes { output in
                let (written, outcome) = try inflater.inflate(into: output)
                guard written == expected else {
                    let why = outcome == .streamEnded ? "image data ends early" : "truncated image data"
                    throw FormatError(source, "\(why): expected \(expected) bytes of scanlines, got \(written)")
                }
            }
            // Drain the stream's end so zlib verifies the Adler-32 checksum. Extra data or a missing end after
            // complete scanlines is tolerated, as libpng does; corrupt data is not.
            var probe = [UInt8](repeating: 0, count: 64)
            _ = try probe.withUnsafeMutableBytes { try inflater.inflate(into: $0) }
        }

        var pixels = [UInt8](repeating: 0, count: outputCount)
        let converter = try RowConverter(header: header, chunks: chunks, source: source)
        try scanlines.withUnsafeMutableBufferPointer { scan in
            try pixels.withUnsafeMutableBufferPointer { out in
                guard let scanBase = scan.baseAddress, let outBase = out.baseAddress else { return }
                var offset = 0
                let zeroRow = [UInt8](repeating: 0, count: layout.rowBytes(width: header.width) ?? 0)
                try zeroRow.withUnsafeBufferPointer { zeros in
                    for pass in passes {
                        let (passWidth, passHeight) = pass.size(width: header.width, height: header.height)
                        guard passWidth > 0, passHeight > 0, let rowBytes = layout.rowBytes(width: passWidth) else { continue }
                        guard let zeroBase = zeros.baseAddress else { continue }
                        var prior = zeroBase
                        for y in 0..<passHeight {
                            let filter = scanBase[offset]
                            let row = scanBase + offset + 1
                            try unfilter(row: row, prior: prior, count: rowBytes, bytesPerPixel: layout.filterBytesPerPixel,
                                         filter: filter, source: source, rowIndex: y)
                            let outY = pass.yStart + y * pass.yStep
                            let destination = outBase + (outY * header.width + pass.xStart) * converter.outputChannels
                            converter.convert(row: UnsafePointer(row), count: passWidth, to: destination,
                                              stride: pass.xStep * converter.outputChannels)
                            prior = UnsafePointer(row)
                            offset += rowBytes + 1
                        }
                    }
                }
            }
        }
        if converter.sawBadIndex {
            throw FormatError(source, "palette index out of range (the palette has \(chunks.palette.count / 3) entries)")
        }
        return PNGImage(width: header.width, height: header.height, channels: converter.outputChannels, pixels: pixels)
    }

    /// Encodes 8-bit pixels as a PNG file.
    ///
    /// Each row is filtered with whichever of the five PNG filters gives the smallest sum of absolute
    /// (signed) differences, the heuristic libpng recommends, and the result is deflated at zlib level 6.
    ///
    /// - Parameters:
    ///   - pixels: `width × height × channels` samples, row-major, channels interleaved.
    ///   - width: The width in pixels (at least 1).
    ///   - height: The height in pixels (at least 1).
    ///   - channels: 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA).
    /// - Returns: The complete PNG file.
    public static func encode(pixels: [UInt8], width: Int, height: Int, channels: Int) -> [UInt8] {
        precondition((1...4).contains(channels), "channels must be 1...4, got \(channels)")
        precondition(width > 0 && height > 0 && width <= Int(Int32.max) && height <= Int(Int32.max),
                     "PNG dimensions must be 1...2147483647, got \(width)×\(height)")
        precondition(pixels.count == width * height * channels, "\(pixels.count) samples do not fill \(width)×\(height)×\(channels)")

        let rowBytes = width * channels
        var filtered = [UInt8](repeating: 0, count: height * (rowBytes + 1))
        var candidates = [UInt8](repeating: 0, count: 5 * rowBytes)
        pixels.withUnsafeBufferPointer { source in
            filtered.withUnsafeMutableBufferPointer { output in
                candidates.withUnsafeMutableBufferPointer { scratch in
                    for y in 0..<height {
                        let row = source.baseAddress! + y * rowBytes
                        let prior: UnsafePointer<UInt8>? = y > 0 ? row - rowBytes : nil
                        let best = chooseFilter(row: row, prior: prior, count: rowBytes, bytesPerPixel: channels, scratch: scratch.baseAddress!)
                        let target = output.baseAddress! + y * (rowBytes + 1)
                        target[0] = UInt8(best)
                        (target + 1).update(from: scratch.baseAddress! + best * rowBytes, count: rowBytes)
                    }
                }
            }
        }

        var file = signature
        var header: [UInt8] = []
        header.appendBE(UInt32(width))
        header.appendBE(UInt32(height))
        header += [8, [0, 4, 2, 6][channels - 1], 0, 0, 0]
        appendChunk("IHDR", header, to: &file)
        let compressed = Zlib.compress(filtered, level: 6)
        var start = 0
        repeat {
            let end = min(start + (1 << 20), compressed.count)
            appendChunk("IDAT", Array(compressed[start..<end]), to: &file)
            start = end
        } while start < compressed.count
        appendChunk("IEND", [], to: &file)
        return file
    }

    /// Encodes an image as a PNG file; see ``encode(pixels:width:height:channels:)``.
    ///
    /// - Parameter image: The image to encode (at least 1×1).
    /// - Returns: The complete PNG file.
    public static func encode(_ image: PNGImage) -> [UInt8] {
        encode(pixels: image.pixels, width: image.width, height: image.height, channels: image.channels)
    }

    // MARK: Chunks

    struct Header {
        var width: Int
        var height: Int
        var bitDepth: Int
        var colorType: Int
        var interlaced: Bool
        var layout: Layout { Layout(colorType: colorType, bitDepth: bitDepth) }
    }

    struct Chunks {
        var header: Header
        var palette: [UInt8] = []         // RGB triples
        var transparency: [UInt8]? = nil  // the tRNS payload
        var imageData: [UInt8] = []       // all IDAT payloads, concatenated
    }

    private static func readChunks(_ file: UnsafeRawBufferPointer, source: String) throws -> Chunks {
        guard file.count >= 8, file.prefix(8).elementsEqual(signature) else {
            throw FormatError(source, "not a PNG file (bad signature)")
        }
        var chunks: Chunks?
        var idatChunks: [Range<Int>] = []
        var position = 8
        var sawEnd = false
        while position < file.count {
            guard let length32 = file.readBE(UInt32.self, at: position), position + 8 <= file.count else {
                throw FormatError(source, "truncated: incomplete chunk header at offset \(position)")
            }
            let typeBytes = Array(file[(position + 4)..<(position + 8)])
            guard typeBytes.allSatisfy({ (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) }) else {
                throw FormatError(source, "invalid chunk type at offset \(position)")
            }
            let type = String(decoding: typeBytes, as: UTF8.self)
            guard length32 <= 0x7FFF_FFFF else {
                throw FormatError(source, "chunk '\(type)' at offset \(position) has invalid length \(length32)")
            }
            let length = Int(length32)
            let dataStart = position + 8
            guard dataStart + length + 4 <= file.count else {
                throw FormatError(source, "truncated: chunk '\(type)' at offset \(position) needs \(byteCountText(length + 12)), \(byteCountText(file.count - position)) left")
            }
            let data = UnsafeRawBufferPointer(rebasing: file[dataStart..<(dataStart + length)])
            let storedCRC = file.readBE(UInt32.self, at: dataStart + length) ?? 0
            let computedCRC = Zlib.crc32(data, initial: Zlib.crc32(typeBytes))
            guard storedCRC == computedCRC else {
                throw FormatError(source, "CRC mismatch in chunk '\(type)' at offset \(position)")
            }
            position = dataStart + length + 4

            if chunks == nil && type != "IHDR" {
                throw FormatError(source, "first chunk is '\(type)', expected 'IHDR'")
            }
            switch type {
            case "IHDR":
                guard chunks == nil else { throw FormatError(source, "duplicate IHDR chunk") }
                chunks = Chunks(header: try parseHeader(data, source: source))
            case "PLTE":
                guard length > 0, length % 3 == 0, length <= 768 else {
                    throw FormatError(source, "invalid PLTE chunk length \(length)")
                }
                chunks?.palette = Array(data)
            case "tRNS":
                chunks?.transparency = Array(data)
            case "IDAT":
                idatChunks.append(dataStart..<(dataStart + length))
            case "IEND":
                sawEnd = true
            default:
                // Bit 5 of the first letter clear (uppercase) marks a chunk the decoder must understand.
                if typeBytes[0] & 0x20 == 0 {
                    throw FormatError(source, "unsupported critical chunk '\(type)'")
                }
            }
            if sawEnd { break }
        }
        guard var result = chunks else { throw FormatError(source, "truncated: no IHDR chunk") }
        guard sawEnd else { throw FormatError(source, "truncated: no IEND chunk") }
        guard !idatChunks.isEmpty else { throw FormatError(source, "no IDAT chunk (no image data)") }
        // A palette longer than the bit depth can index is harmless (libpng accepts it); indices past its end
        // are caught while decoding.
        if result.header.colorType == 3 && result.palette.isEmpty {
            throw FormatError(source, "color type 3 (palette) requires a PLTE chunk")
        }
        var imageData: [UInt8] = []
        imageData.reserveCapacity(idatChunks.reduce(0) { $0 + $1.count })
        for range in idatChunks { imageData.append(contentsOf: file[range]) }
        result.imageData = imageData
        return result
    }

    private static func parseHeader(_ data: UnsafeRawBufferPointer, source: String) throws -> Header {
        guard data.count == 13, let width = data.readBE(UInt32.self, at: 0), let height = data.readBE(UInt32.self, at: 4) else {
            throw FormatError(source, "invalid IHDR chunk length \(data.count)")
        }
        guard width > 0, height > 0, width <= 0x7FFF_FFFF, height <= 0x7FFF_FFFF else {
            throw FormatError(source, "invalid image size \(width)×\(height)")
        }
        let bitDepth = Int(data[8]), colorType = Int(data[9])
        let allowed: [Int]
        switch colorType {
        case 0: allowed = [1, 2, 4, 8, 16]
        case 2, 4, 6: allowed = [8, 16]
        case 3: allowed = [1, 2, 4, 8]
        default: throw FormatError(source, "unsupported PNG color type \(colorType)")
        }
        guard allowed.contains(bitDepth) else {
            throw FormatError(source, "invalid bit depth \(bitDepth) for PNG color type \(colorType)")
        }
        guard data[10] == 0 else { throw FormatError(source, "unsupported PNG compression method \(data[10])") }
        guard data[11] == 0 else { throw FormatError(source, "unsupported PNG filter method \(data[11])") }
        guard data[12] <= 1 else { throw FormatError(source, "unsupported PNG interlace method \(data[12])") }
        return Header(width: Int(width), height: Int(height), bitDepth: bitDepth, colorType: colorType, interlaced: data[12] == 1)
    }

    private static func appendChunk(_ type: String, _ data: [UInt8], to file: inout [UInt8]) {
        let typeBytes = Array(type.utf8)
        file.appendBE(UInt32(data.count))
        file += typeBytes
        file += data
        file.appendBE(Zlib.crc32(data, initial: Zlib.crc32(typeBytes)))
    }

    // MARK: Layout and interlacing

    struct Layout {
        var colorType: Int
        var bitDepth: Int

        var samplesPerPixel: Int { [1, 0, 3, 1, 2, 0, 4][colorType] }
        var bitsPerPixel: Int { samplesPerPixel * bitDepth }
        /// The byte distance filters look back ("bpp" in the PNG specification), at least 1.
        var filterBytesPerPixel: Int { max(1, bitsPerPixel / 8) }

        /// Bytes in one scanline of `width` pixels, without the filter byte; nil on overflow.
        func rowBytes(width: Int) -> Int? {
            let (bits, overflow) = width.multipliedReportingOverflow(by: bitsPerPixel)
            return overflow ? nil : (bits + 7) / 8
        }

        func outputChannels(_ chunks: Chunks) -> Int {
            let hasKey = chunks.transparency != nil
            switch colorType {
            case 0: return hasKey ? 2 : 1
            case 2: return hasKey ? 4 : 3
            case 3: return hasKey ? 4 : 3
            case 4: return 2
            default: return 4
            }
        }
    }

    struct Pass {
        var xStart: Int, yStart: Int, xStep: Int, yStep: Int

        static let whole = Pass(xStart: 0, yStart: 0, xStep: 1, yStep: 1)
        static let adam7 = [
            Pass(xStart: 0, yStart: 0, xStep: 8, yStep: 8), Pass(xStart: 4, yStart: 0, xStep: 8, yStep: 8),
            Pass(xStart: 0, yStart: 4, xStep: 4, yStep: 8), Pass(xStart: 2, yStart: 0, xStep: 4, yStep: 4),
            Pass(xStart: 0, yStart: 2, xStep: 2, yStep: 4), Pass(xStart: 1, yStart: 0, xStep: 2, yStep: 2),
            Pass(xStart: 0, yStart: 1, xStep: 1, yStep: 2),
        ]

        /// The pass's size in pixels for an image of the given size (0 when the pass is empty).
        func size(width: Int, height: Int) -> (Int, Int) {
            let passWidth = width > xStart ? (width - xStart + xStep - 1) / xStep : 0
            let passHeight = height > yStart ? (height - yStart + yStep - 1) / yStep : 0
            return (passWidth, passHeight)
        }
    }

    // MARK: Filters

    /// Reverses a row's filter in place. `prior` is the previous row of the same pass, already unfiltered
    /// (all zeros for a pass's first row).
    static func unfilter(row: UnsafeMutablePointer<UInt8>, prior: UnsafePointer<UInt8>, count: Int, bytesPerPixel bpp: Int,
                         filter: UInt8, source: String, rowIndex: Int) throws {
        switch filter {
        case 0:
            break
        case 1:  // Sub
            if count > bpp { for i in bpp..<count { row[i] &+= row[i - bpp] } }
        case 2:  // Up
            for i in 0..<count { row[i] &+= prior[i] }
        case 3:  // Average
            for i in 0..<min(bpp, count) { row[i] &+= prior[i] >> 1 }
            if count > bpp { for i in bpp..<count { row[i] &+= UInt8((UInt16(row[i - bpp]) + UInt16(prior[i])) >> 1) } }
        case 4:  // Paeth
            for i in 0..<min(bpp, count) { row[i] &+= prior[i] }  // Left and upper-left are 0: predictor is "up".
            if count > bpp {
                for i in bpp..<count {
                    row[i] &+= paeth(row[i - bpp], prior[i], prior[i - bpp])
                }
            }
        default:
            throw FormatError(source, "invalid filter type \(filter) in row \(rowIndex)")
        }
    }

    @inline(__always)
    static func paeth(_ a: UInt8, _ b: UInt8, _ c: UInt8) -> UInt8 {
        let a16 = Int16(a), b16 = Int16(b), c16 = Int16(c)
        let pa = abs(b16 - c16), pb = abs(a16 - c16), pc = abs(a16 + b16 - 2 * c16)
        if pa <= pb && pa <= pc { return a }
        return pb <= pc ? b : c
    }

    /// Applies all five filters to a row into `scratch` (5 × count bytes) and returns the one with the smallest
    /// sum of absolute values when the filtered bytes are read as signed.
    private static func chooseFilter(row: UnsafePointer<UInt8>, prior: UnsafePointer<UInt8>?, count: Int, bytesPerPixel bpp: Int,
                                     scratch: UnsafeMutablePointer<UInt8>) -> Int {
        var bestFilter = 0
        var bestCost = Int.max
        for filter in 0..<5 {
            let out = scratch + filter * count
            var cost = 0
            for i in 0..<count {
                let x = row[i]
                let a: UInt8 = i >= bpp ? row[i - bpp] : 0
                let b: UInt8 = prior?[i] ?? 0
                let c: UInt8 = i >= bpp ? (prior?[i - bpp] ?? 0) : 0
                let value: UInt8
                switch filter {
                case 0: value = x
                case 1: value = x &- a
                case 2: value = x &- b
                case 3: value = x &- UInt8((UInt16(a) + UInt16(b)) >> 1)
                default: value = x &- paeth(a, b, c)
                }
                out[i] = value
                cost += abs(Int(Int8(bitPattern: value)))
            }
            if cost < bestCost {
                bestCost = cost
                bestFilter = filter
            }
        }
        return bestFilter
    }
}

// MARK: - Pixel conversion

/// Turns unfiltered scanline pixels of any color type and depth into 8-bit output samples.
private final class RowConverter {
    let colorType: Int
    let bitDepth: Int
    let outputChannels: Int
    /// For palette images: RGBA per index (256 entries); entries past the palette are flagged invalid.
    private var paletteRGBA = [UInt8](repeating: 0, count: 1024)
    private var paletteCount = 0
    /// The tRNS color key for gray (1 value) or RGB (3 values), at the image's bit depth.
    private var key: [Int]? = nil
    private(set) var sawBadIndex = false

    init(header: PNG.Header, chunks: PNG.Chunks, source: String) throws {
        colorType = header.colorType
        bitDepth = header.bitDepth
        outputChannels = header.layout.outputChannels(chunks)
        let transparency = chunks.transparency
        switch colorType {
        case 3:
            paletteCount = chunks.palette.count / 3
            for index in 0..<paletteCount {
                paletteRGBA[4 * index] = chunks.palette[3 * index]
                paletteRGBA[4 * index + 1] = chunks.palette[3 * index + 1]
                paletteRGBA[4 * index + 2] = chunks.palette[3 * index + 2]
                // Missing tRNS entries are opaque; extra ones (past the palette) are ignored, as libpng does.
                paletteRGBA[4 * index + 3] = transparency.flatMap { index < $0.count ? $0[index] : nil } ?? 255
            }
        case 0:
            if let transparency {
                guard transparency.count >= 2 else { throw FormatError(source, "invalid tRNS chunk length \(transparency.count) for a gray image") }
                key = [Int(transparency[0]) << 8 | Int(transparency[1])]
            }
        case 2:
            if let transparency {
                guard transparency.count >= 6 else { throw FormatError(source, "invalid tRNS chunk length \(transparency.count) for an RGB image") }
                key = (0..<3).map { Int(transparency[2 * $0]) << 8 | Int(transparency[2 * $0 + 1]) }
            }
        default:
            break  // tRNS is not allowed with an alpha channel; ignore it (outputChannels already does).
        }
    }

    @inline(__always)
    private static func scale16(_ high: UInt8, _ low: UInt8) -> UInt8 {
        let value = UInt32(high) << 8 | UInt32(low)
        return UInt8((value * 255 + 32767) / 65535)
    }

    /// Converts `count` pixels of one unfiltered row, writing each pixel's output samples `stride` bytes apart.
    func convert(row: UnsafePointer<UInt8>, count: Int, to output: UnsafeMutablePointer<UInt8>, stride: Int) {
        var out = output
        switch (colorType, bitDepth) {
        case (0, 1), (0, 2), (0, 4):
            let depth = bitDepth
            let mask = (1 << depth) - 1
            let scale = 255 / mask
            let keyValue = key?[0] ?? -1
            for x in 0..<count {
                let bit = x * depth
                let value = Int(row[bit >> 3] >> UInt8(8 - depth - (bit & 7))) & mask
                out[0] = UInt8(value * scale)
                if outputChannels == 2 { out[1] = value == keyValue ? 0 : 255 }
                out += stride
            }
        case (0, 8):
            if let keyValue = key?[0] {
                for x in 0..<count {
                    out[0] = row[x]
                    out[1] = Int(row[x]) == keyValue ? 0 : 255
                    out += stride
                }
            } else if stride == 1 {
                out.update(from: row, count: count)
            } else {
                for x in 0..<count { out[0] = row[x]; out += stride }
            }
        case (0, 16):
            let keyValue = key?[0] ?? -1
            for x in 0..<count {
                let high = row[2 * x], low = row[2 * x + 1]
                out[0] = Self.scale16(high, low)
                if outputChannels == 2 { out[1] = (Int(high) << 8 | Int(low)) == keyValue ? 0 : 255 }
                out += stride
            }
        case (2, 8):
            if let key {
                for x in 0..<count {
                    let r = row[3 * x], g = row[3 * x + 1], b = row[3 * x + 2]
                    out[0] = r; out[1] = g; out[2] = b
                    out[3] = Int(r) == key[0] && Int(g) == key[1] && Int(b) == key[2] ? 0 : 255
                    out += stride
                }
            } else if stride == 3 {
                out.update(from: row, count: 3 * count)
            } else {
                for x in 0..<count {
                    out[0] = row[3 * x]; out[1] = row[3 * x + 1]; out[2] = row[3 * x + 2]
                    out += stride
                }
            }
        case (2, 16):
            for x in 0..<count {
                let p = row + 6 * x
                out[0] = Self.scale16(p[0], p[1]); out[1] = Self.scale16(p[2], p[3]); out[2] = Self.scale16(p[4], p[5])
                if let key {
                    let matches = (Int(p[0]) << 8 | Int(p[1])) == key[0] && (Int(p[2]) << 8 | Int(p[3])) == key[1]
                        && (Int(p[4]) << 8 | Int(p[5])) == key[2]
                    out[3] = matches ? 0 : 255
                }
                out += stride
            }
        case (3, _):
            let depth = bitDepth
            let mask = (1 << depth) - 1
            let withAlpha = outputChannels == 4
            paletteRGBA.withUnsafeBufferPointer { palette in
                for x in 0..<count {
                    let index: Int
                    if depth == 8 {
                        index = Int(row[x])
                    } else {
                        let bit = x * depth
                        index = Int(row[bit >> 3] >> UInt8(8 - depth - (bit & 7))) & mask
                    }
                    if index >= paletteCount { sawBadIndex = true }
                    let entry = 4 * index
                    out[0] = palette[entry]; out[1] = palette[entry + 1]; out[2] = palette[entry + 2]
                    if withAlpha { out[3] = palette[entry + 3] }
                    out += stride
                }
            }
        case (4, 8):
            if stride == 2 {
                out.update(from: row, count: 2 * count)
            } else {
                for x in 0..<count { out[0] = row[2 * x]; out[1] = row[2 * x + 1]; out += stride }
            }
        case (4, 16):
            for x in 0..<count {
                let p = row + 4 * x
                out[0] = Self.scale16(p[0], p[1]); out[1] = Self.scale16(p[2], p[3])
                out += stride
            }
        case (6, 8):
            if stride == 4 {
                out.update(from: row, count: 4 * count)
            } else {
                for x in 0..<count {
                    out[0] = row[4 * x]; out[1] = row[4 * x + 1]; out[2] = row[4 * x + 2]; out[3] = row[4 * x + 3]
                    out += stride
                }
            }
        default:  // (6, 16): the header check admits no other combination.
            for x in 0..<count {
                let p = row + 8 * x
                out[0] = Self.scale16(p[0], p[1]); out[1] = Self.scale16(p[2], p[3])
                out[2] = Self.scale16(p[4], p[5]); out[3] = Self.scale16(p[6], p[7])
                out += stride
            }
        }
    }
}
