// RGBAImage: the raster output of a chart, 8-bit RGBA pixels, convertible to PNG.
import ReptileFormats

/// An image of 8-bit RGBA pixels, rows from top to bottom, four bytes per pixel (red, green, blue, alpha).
public struct RGBAImage: Hashable, Sendable {
    /// The width in pixels.
    public let width: Int
    /// The height in pixels.
    public let height: Int
    /// `width × height × 4` bytes: red, green, blue and alpha of each pixel, row by row from the top.
    public let pixels: [UInt8]

    /// Creates an image from interleaved RGBA bytes.
    ///
    /// - Parameters:
    ///   - width: The width in pixels, at least 0.
    ///   - height: The height in pixels, at least 0.
    ///   - pixels: `width × height × 4` bytes, row by row from the top.
    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0 && pixels.count == width * height * 4,
                     "RGBAImage of \(width)×\(height) needs \(width * height * 4) bytes, got \(pixels.count)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// Creates an opaque image filled with one color.
    ///
    /// - Parameters:
    ///   - width: The width in pixels, at least 0.
    ///   - height: The height in pixels, at least 0.
    ///   - color: The fill color.
    public init(width: Int, height: Int, color: RGB) {
        precondition(width >= 0 && height >= 0, "negative image size \(width)×\(height)")
        let (red, green, blue) = color.bytes
        var pixels = [UInt8](repeating: 255, count: width * height * 4)
        for index in stride(from: 0, to: pixels.count, by: 4) {
            pixels[index] = red
            pixels[index + 1] = green
            pixels[index + 2] = blue
        }
        self.init(width: width, height: height, pixels: pixels)
    }

    /// The components of the pixel in column `x` and row `y` (row 0 at the top).
    ///
    /// - Precondition: `0 <= x < width` and `0 <= y < height`.
    public func pixel(x: Int, y: Int) -> (red: UInt8, green: UInt8, blue: UInt8, alpha: UInt8) {
        precondition(x >= 0 && x < width && y >= 0 && y < height, "pixel (\(x), \(y)) outside \(width)×\(height)")
        let index = (y * width + x) * 4
        return (pixels[index], pixels[index + 1], pixels[index + 2], pixels[index + 3])
    }

    /// The image as the bytes of a PNG file (8-bit RGBA), encoded by `ReptileFormats.PNG`.
    public func pngData() -> [UInt8] {
        PNG.encode(pixels: pixels, width: width, height: height, channels: 4)
    }
}
