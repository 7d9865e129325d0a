// JPEG decoding for ReptileFormats (used by the Mini-ImageNet loader). This file owns the Swift side:
// `JPEGImage`, `JPEG.decode` from bytes or from a path, reading the file, and turning libjpeg's
// messages into `FormatError`s. The decoding itself (libjpeg-turbo, error trapping, DCT downscaling,
// CMYK conversion) lives in the C target CJPEG (Sources/CJPEG/reptile_jpeg.c).
import CJPEG
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A decoded JPEG: 8-bit RGB, interleaved (`r, g, b, r, g, b, …`), rows top to bottom, no padding,
/// so `pixels.count == width * height * 3` and the pixel at (x, y) starts at `(y * width + x) * 3`.
/// Grayscale files come back as RGB with three equal channels.
public struct JPEGImage: Equatable, Sendable {
    /// Width in pixels (after any DCT downscaling requested with `minimumSize`).
    public var width: Int
    /// Height in pixels (after any DCT downscaling requested with `minimumSize`).
    public var height: Int
    /// `width * height * 3` bytes of interleaved RGB.
    public var pixels: [UInt8]

    /// Channels per pixel: always 3 (RGB).
    public var channels: Int { 3 }

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0 && pixels.count == width * height * 3,
                     "JPEGImage: \(pixels.count) bytes do not hold \(width)×\(height) RGB pixels")
        self.width = width
        self.height = height
        self.pixels = pixels
    }
}

/// Baseline, progressive and arithmetic-coded JPEG decoding through the system's libjpeg-turbo.
///
/// - Output is always 8-bit RGB (see `JPEGImage`): YCbCr and RGB files as stored, grayscale replicated
///   to three channels, CMYK/YCCK (Adobe/Photoshop convention, inverted) converted with
///   R = C·K/255 etc., as Pillow and browsers do, without ICC colour management.
/// - Truncated or corrupt files are errors, never silently padded or damaged pixels: libjpeg's
///   "Premature end of JPEG file" and every "Corrupt JPEG data" warning fail the decode.
/// - Every error is a `FormatError` naming the file (or the `source` label) and libjpeg's reason, for
///   example `img.JPEG: not a JPEG file: starts with 0x89 0x50` or
///   `img.JPEG: premature end of JPEG file`.
/// - Thread-safe: each call has its own decompressor, so the loader may decode on many threads at once.
public enum JPEG {
    /// Decodes a complete JPEG file held in memory.
    ///
    /// - Parameters:
    ///   - bytes: The whole file.
    ///   - source: Names the data in errors (usually its path).
    ///   - minimumSize: If given, decode with libjpeg's DCT-domain downscaling (1/2, 1/4 or 1/8),
    ///     choosing the smallest output that is still at least `width` × `height`: the largest
    ///     denominator d in {8, 4, 2, 1} with ceil(imageWidth / d) ≥ width and
    ///     ceil(imageHeight / d) ≥ height. This is several times faster than decoding at full size
    ///     when large photos are later resized to something small (e.g. 84×84). The result is
    ///     generally still larger than `minimumSize` (the caller resizes it); an image already
    ///     smaller than the minimum is decoded at full size. A side ≤ 0 puts no constraint on that
    ///     axis; `nil`, or no positive side at all, decodes at full size.
    /// - Returns: The decoded RGB image.
    /// - Throws: `FormatError(source, reason)` if the data is not a decodable JPEG.
    public static func decode(_ bytes: [UInt8], source: String,
                              minimumSize: (width: Int, height: Int)? = nil) throws -> JPEGImage {
        let minWidth = clampedCInt(minimumSize?.width ?? 0)
        let minHeight = clampedCInt(minimumSize?.height ?? 0)
        var result = reptile_jpeg_image()
        var message = [CChar](repeating: 0, count: Int(REPTILE_JPEG_ERROR_CAPACITY))
        let status = bytes.withUnsafeBufferPointer { input in
            message.withUnsafeMutableBufferPointer { text in
                reptile_jpeg_decode_rgb(input.baseAddress, input.count, minWidth, minHeight,
                                        &result, text.baseAddress, text.count)
            }
        }
        guard status == 0, let pixels = result.pixels else {
            throw FormatError(source, problem(fromLibJPEGMessage: message))
        }
        defer { reptile_jpeg_free(pixels) }
        let width = Int(result.width), height = Int(result.height)
        return JPEGImage(width: width, height: height,
                         pixels: Array(UnsafeBufferPointer(start: pixels, count: width * height * 3)))
    }

    /// Reads and decodes the JPEG file at `path`; see `decode(_:source:minimumSize:)`.
    ///
    /// - Throws: `FormatError(path, reason)`: "no such file", "permission denied", "is a directory"
    ///   or another read error, or any decoding error.
    public static func decode(path: String, minimumSize: (width: Int, height: Int)? = nil) throws -> JPEGImage {
        try decode(readWholeFile(path), source: path, minimumSize: minimumSize)
    }

    // MARK: - Helpers

    private static func clampedCInt(_ value: Int) -> CInt {
        CInt(clamping: max(value, 0))
    }

    /// libjpeg's message as a `FormatError` problem: first letter lowercased where it starts an
    /// ordinary word ("Premature end of JPEG file" → "premature end of JPEG file"), so that
    /// "source: problem" reads as one sentence.
    private static func problem(fromLibJPEGMessage message: [CChar]) -> String {
        let bytes = message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        var text = String(decoding: bytes, as: UTF8.self)
        if text.isEmpty { return "cannot decode JPEG data" }
        let characters = Array(text.prefix(2))
        if characters.count == 2, characters[0].isUppercase, characters[1].isLowercase {
            text = characters[0].lowercased() + text.dropFirst()
        }
        return text
    }

    /// The whole file at `path`, read with POSIX calls so that the reason for a failure is known.
    private static func readWholeFile(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw FormatError(path, describeErrno(errno)) }
        defer { close(fd) }

        var info = stat()
        guard fstat(fd, &info) == 0 else { throw FormatError(path, describeErrno(errno)) }
        if (info.st_mode & S_IFMT) == S_IFDIR { throw FormatError(path, "is a directory") }

        // One byte more than the reported size, so that a regular file is normally read in one call
        // plus the call that sees end of file; files that grow or report no size are read in chunks.
        var bytes = [UInt8](repeating: 0, count: max(Int(info.st_size), 0) + 1)
        var filled = 0
        while true {
            if filled == bytes.count {
                bytes.append(contentsOf: repeatElement(0, count: max(bytes.count, 64 * 1024)))
            }
            let got = bytes.withUnsafeMutableBytes { buffer in
                read(fd, buffer.baseAddress! + filled, buffer.count - filled)
            }
            if got < 0 {
                if errno == EINTR { continue }
                throw FormatError(path, describeErrno(errno))
            }
            if got == 0 { break }
            filled += got
        }
        bytes.removeSubrange(filled...)
        return bytes
    }

    private static func describeErrno(_ code: CInt) -> String {
        switch code {
        case ENOENT, ENOTDIR: return "no such file"
        case EACCES, EPERM: return "permission denied"
        case EISDIR: return "is a directory"
        case ELOOP: return "too many levels of symbolic links"
        case ENAMETOOLONG: return "file name too long"
        case EMFILE, ENFILE: return "too many open files"
        case EIO: return "input/output error"
        default: return "cannot read file (errno \(code))"
        }
    }
}
