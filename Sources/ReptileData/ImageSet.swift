// Images grouped by class, stored compactly as bytes, written into float batches on demand.

import ReptileKernels

/// The images of a classification data set, grouped by class and stored as one byte per pixel
/// channel, a byte k standing for the float k / divisor (Omniglot: k/225, which is exact for
/// 105→28 area averaging of binary drawings; Mini-ImageNet: k/255).
///
/// Kept as bytes, all of Omniglot takes 25 MB and all of Mini-ImageNet 1.2 GB instead of four times
/// as much; a task converts only the few images it uses.
public final class ImageSet: @unchecked Sendable {
    /// Rows per image.
    public let height: Int
    /// Columns per image.
    public let width: Int
    /// Channels per pixel (interleaved).
    public let channels: Int
    /// One name per class (e.g. `Alphabet/character01` or a synset id).
    public let classNames: [String]
    /// `classStarts[c] ..< classStarts[c + 1]` are the images of class c.
    public let classStarts: [Int]
    /// All pixels, image after image.
    public let pixels: [UInt8]
    /// The float value of each byte value.
    public let valueTable: [Float]

    /// Bytes per image.
    public var imageSize: Int { height * width * channels }
    /// Number of classes.
    public var classCount: Int { classNames.count }
    /// Number of images in all.
    public var imageCount: Int { classStarts.last ?? 0 }

    /// - Parameters:
    ///   - imagesPerClass: how many consecutive images of `pixels` belong to each class.
    ///   - divisor: byte k stands for k / divisor (225 for Omniglot, 255 for photos).
    public init(height: Int, width: Int, channels: Int, classNames: [String], imagesPerClass: [Int],
                pixels: [UInt8], divisor: Float) {
        precondition(classNames.count == imagesPerClass.count, "one image count per class")
        self.height = height
        self.width = width
        self.channels = channels
        self.classNames = classNames
        var starts = [0]
        for n in imagesPerClass { starts.append(starts.last! + n) }
        classStarts = starts
        precondition(pixels.count == starts.last! * height * width * channels, "pixel count does not match the images")
        self.pixels = pixels
        valueTable = (0..<256).map { Float($0) / divisor }
    }

    /// Images of class `c`.
    public func imageCount(ofClass c: Int) -> Int { classStarts[c + 1] - classStarts[c] }

    /// Writes image `image` of class `c`, turned `quarterTurns` × 90° counter-clockwise (square
    /// images only), as floats into `output` (`imageSize` floats, NHWC).
    package func write(class c: Int, image: Int, quarterTurns: Int = 0, into output: UnsafeMutablePointer<Float>) {
        let start = (classStarts[c] + image) * imageSize
        let turns = ((quarterTurns % 4) + 4) % 4
        pixels.withUnsafeBufferPointer { all in
            valueTable.withUnsafeBufferPointer { values in
                let src = all.baseAddress! + start
                let v = values.baseAddress!
                if turns == 0 {
                    for i in 0..<imageSize { output[i] = v[Int(src[i])] }
                    return
                }
                precondition(height == width, "rotations need square images")
                let n = height, ch = channels
                // Output row y reads the source along a line: from `first`, `step` bytes per pixel
                // (output pixel (x, y) shows source pixel (sx, sy) of the counter-clockwise turn).
                for y in 0..<n {
                    let first: Int, step: Int
                    switch turns {
                    case 1: (first, step) = ((n - 1 - y) * ch, n * ch)                   // (sx, sy) = (n−1−y, x)
                    case 2: (first, step) = (((n - 1 - y) * n + n - 1) * ch, -ch)       // (n−1−x, n−1−y)
                    default: (first, step) = (((n - 1) * n + y) * ch, -n * ch)          // (y, n−1−x)
                    }
                    let row = output + y * n * ch
                    var s = first
                    for x in 0..<n {
                        for k in 0..<ch { row[x * ch + k] = v[Int(src[s + k])] }
                        s += step
                    }
                }
            }
        }
    }

    /// The float pixels of one image (for tests and inspection).
    public func image(class c: Int, image: Int, quarterTurns: Int = 0) -> [Float] {
        var out = [Float](repeating: 0, count: imageSize)
        out.withUnsafeMutableBufferPointer { write(class: c, image: image, quarterTurns: quarterTurns, into: $0.baseAddress!) }
        return out
    }
}
