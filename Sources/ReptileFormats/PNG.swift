// PNG images through libpng (the C target CPNG): decoding every standard PNG into 8-bit
// interleaved samples, and 8-bit encoding. This file owns the Swift side: `PNGImage`, `PNG`, and
// turning libpng's messages into `FormatError`s.
import CPNG

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

/// Reading and writing PNG images (with the system's libpng).
///
/// Decoding accepts every standard PNG: color types 0 (gray), 2 (RGB), 3 (palette), 4 (gray + alpha) and
/// 6 (RGBA); bit depths 1, 2, 4, 8 and 16; `tRNS` transparency; Adam7 interlacing. The result always has
/// 8-bit samples:
///
/// - Gray of depth 1, 2 or 4 is scaled to 0...255 (`v × 255 / (2^depth − 1)`, exact).
/// - 16-bit samples are rounded to the nearest 8-bit value (libpng's `png_set_scale_16`), not truncated
///   to the high byte, which would bias every sample down by up to one level.
/// - Palette images become RGB, or RGBA when a `tRNS` chunk gives palette alphas.
/// - Gray or RGB images with a `tRNS` color key gain an alpha channel (0 where the key matches, else 255).
///
/// Every chunk's CRC is verified and the file must end with its `IEND` chunk.
///
/// ```swift
/// let image = try PNG.read(path: "Alphabet/character01/0101_01.png")
/// let ink = image.luminance().map { 1 - $0 }
/// let png = PNG.encode(pixels: image.pixels, width: image.width, height: image.height, channels: image.channels)
/// ```
public enum PNG {
    /// The most samples (width × height × channels) a decoded image may have: 1 GiB.
    static let maximumSamples = 1 << 30

    /// Reads and decodes the PNG file at `path`.
    ///
    /// - Throws: `FormatError` naming `path` when the file is missing, unreadable or not a valid PNG.
    public static func read(path: String) throws -> PNGImage {
        try decode(try readFileBytes(path), source: path)
    }

    /// Encodes an image and writes it to `path` atomically (see ``AtomicFile``).
    ///
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
    /// - Throws: `FormatError` with libpng's reason: a bad signature, truncation, a CRC mismatch, an invalid
    ///   header field, missing chunks, corrupt image data.
    public static func decode(_ bytes: [UInt8], source: String) throws -> PNGImage {
        var result = reptile_png_image()
        var message = [CChar](repeating: 0, count: Int(REPTILE_PNG_ERROR_CAPACITY))
        let status = bytes.withUnsafeBufferPointer { input in
            message.withUnsafeMutableBufferPointer { text in
                reptile_png_decode(input.baseAddress, input.count, maximumSamples, &result, text.baseAddress, text.count)
            }
        }
        guard status == 0, let pixels = result.pixels else {
            throw FormatError(source, String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        defer { reptile_png_free(pixels) }
        let (width, height, channels) = (Int(result.width), Int(result.height), Int(result.channels))
        return PNGImage(width: width, height: height, channels: channels,
                        pixels: Array(UnsafeBufferPointer(start: pixels, count: width * height * channels)))
    }

    /// Encodes 8-bit samples as a PNG file (libpng's default filtering and compression; the same
    /// pixels always give the same bytes).
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
        var output: UnsafeMutablePointer<UInt8>?
        var size = 0
        var message = [CChar](repeating: 0, count: Int(REPTILE_PNG_ERROR_CAPACITY))
        let status = pixels.withUnsafeBufferPointer { input in
            message.withUnsafeMutableBufferPointer { text in
                reptile_png_encode(input.baseAddress, CInt(width), CInt(height), CInt(channels), &output, &size,
                                   text.baseAddress, text.count)
            }
        }
        // Valid pixels of a valid shape fail only when memory runs out.
        precondition(status == 0, "libpng could not encode the image: \(String(cString: message))")
        defer { reptile_png_free(output) }
        return Array(UnsafeBufferPointer(start: output, count: size))
    }

    /// Encodes an image as a PNG file; see ``encode(pixels:width:height:channels:)``.
    public static func encode(_ image: PNGImage) -> [UInt8] {
        encode(pixels: image.pixels, width: image.width, height: image.height, channels: image.channels)
    }
}
