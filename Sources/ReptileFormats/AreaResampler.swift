// Exact area-average image resampling by arbitrary ratios (e.g. 105×105 → 28×28), separable, with reusable plans
// so that resampling tens of thousands of same-sized images allocates nothing per image.

/// Resamples images by exact area averaging: each output pixel is the mean of the input it covers, with input
/// pixels that are only partly covered weighted by the covered fraction.
///
/// Shrinking 105×105 to 28×28, for example, makes every output pixel cover 3.75 × 3.75 input pixels: three whole
/// input columns and a quarter of a fourth (or similar fractions at other positions), in each direction. The
/// filter is separable: columns and rows are resampled in two passes, with per-axis weight lists computed
/// once, in exact integer arithmetic, by a ``Plan``.
///
/// Enlarging works with the same rule: an output pixel then lies inside one input pixel (and takes its value)
/// or straddles two (and takes their overlap-weighted mean), which amounts to nearest-neighbour enlargement with
/// area-weighted blending at the seams. The image mean is preserved in both directions.
///
/// ```swift
/// let plan = AreaResampler.Plan(width: 105, height: 105, channels: 1, toWidth: 28, toHeight: 28)
/// var scratch = [Float](repeating: 0, count: plan.scratchCount)
/// var small = [Float](repeating: 0, count: 28 * 28)
/// plan.resample(image, into: &small, scratch: &scratch)   // no allocation
/// ```
public enum AreaResampler {
    /// Precomputed weights for resampling images of one size to another size; reuse it for every image of that size.
    ///
    /// A plan is immutable and `Sendable`, so one plan can serve several threads, each with its own scratch buffer.
    public struct Plan: Sendable, Equatable {
        /// The input width in pixels.
        public let width: Int
        /// The input height in pixels.
        public let height: Int
        /// Interleaved channels per pixel, in input and output alike.
        public let channels: Int
        /// The output width in pixels.
        public let toWidth: Int
        /// The output height in pixels.
        public let toHeight: Int
        /// The weights along x (width → toWidth).
        let horizontal: AxisWeights
        /// The weights along y (height → toHeight).
        let vertical: AxisWeights

        /// The number of `Float`s the scratch buffer must hold: the image after resampling its columns,
        /// `width × toHeight × channels`.
        public var scratchCount: Int { width * toHeight * channels }

        /// Plans resampling `width × height` images with `channels` interleaved channels to `toWidth × toHeight`.
        ///
        /// - Parameters:
        ///   - width: The input width (at least 1).
        ///   - height: The input height (at least 1).
        ///   - channels: Interleaved channels per pixel (at least 1).
        ///   - toWidth: The output width (at least 1).
        ///   - toHeight: The output height (at least 1).
        public init(width: Int, height: Int, channels: Int = 1, toWidth: Int, toHeight: Int) {
            precondition(width > 0 && height > 0 && toWidth > 0 && toHeight > 0 && channels > 0,
                         "AreaResampler sizes must be positive, got \(width)×\(height)×\(channels) → \(toWidth)×\(toHeight)")
            self.width = width
            self.height = height
            self.channels = channels
            self.toWidth = toWidth
            self.toHeight = toHeight
            horizontal = AxisWeights(from: width, to: toWidth)
            vertical = AxisWeights(from: height, to: toHeight)
        }

        /// Resamples one image of `Float` samples.
        ///
        /// - Parameters:
        ///   - source: `width × height × channels` samples, row-major, channels interleaved.
        ///   - destination: Room for `toWidth × toHeight × channels` samples.
        ///   - scratch: Room for ``scratchCount`` samples; its contents are overwritten.
        package func resample(_ source: UnsafeBufferPointer<Float>, into destination: UnsafeMutableBufferPointer<Float>,
                             scratch: UnsafeMutableBufferPointer<Float>) {
            checkSizes(source.count, destination.count, scratch.count)
            guard let sourceBase = source.baseAddress, let scratchBase = scratch.baseAddress,
                  let destinationBase = destination.baseAddress else { return }
            resampleColumns(sourceBase, into: scratchBase)
            resampleRows(scratchBase, into: destinationBase, divisor: 1)
        }

        /// Resamples one image of 8-bit samples, producing values in 0...1 (averages divided by `maxValue`).
        ///
        /// - Parameters:
        ///   - source: `width × height × channels` samples, row-major, channels interleaved.
        ///   - destination: Room for `toWidth × toHeight × channels` samples.
        ///   - scratch: Room for ``scratchCount`` samples; its contents are overwritten.
        ///   - maxValue: The sample value that maps to 1: 255 for ordinary 8-bit images, 1 for 0/1 masks
        ///     such as NumPy bool arrays.
        package func resample(_ source: UnsafeBufferPointer<UInt8>, into destination: UnsafeMutableBufferPointer<Float>,
                             scratch: UnsafeMutableBufferPointer<Float>, maxValue: Float = 255) {
            checkSizes(source.count, destination.count, scratch.count)
            guard let sourceBase = source.baseAddress, let scratchBase = scratch.baseAddress,
                  let destinationBase = destination.baseAddress else { return }
            resampleColumns(sourceBase, into: scratchBase)
            // Divide after averaging, so the only rounding beyond the average's is this one division.
            resampleRows(scratchBase, into: destinationBase, divisor: maxValue)
        }

        /// Resamples one image of `Float` samples into `destination`, using `scratch` as working memory
        /// (both are resized if needed, so reusing them across calls allocates nothing).
        ///
        /// - Parameters:
        ///   - source: `width × height × channels` samples, row-major, channels interleaved.
        ///   - destination: Receives `toWidth × toHeight × channels` samples.
        ///   - scratch: Working memory.
        public func resample(_ source: [Float], into destination: inout [Float], scratch: inout [Float]) {
            prepare(&destination, &scratch)
            source.withUnsafeBufferPointer { src in
                destination.withUnsafeMutableBufferPointer { dst in
                    scratch.withUnsafeMutableBufferPointer { resample(src, into: dst, scratch: $0) }
                }
            }
        }

        /// Resamples one image of `Float` samples, allocating the result and scratch memory.
        ///
        /// - Parameter source: `width × height × channels` samples, row-major, channels interleaved.
        /// - Returns: `toWidth × toHeight × channels` samples.
        public func resample(_ source: [Float]) -> [Float] {
            var destination: [Float] = []
            var scratch: [Float] = []
            resample(source, into: &destination, scratch: &scratch)
            return destination
        }

        /// Resamples one image of 8-bit samples, allocating the result and scratch memory.
        ///
        /// - Parameters:
        ///   - source: `width × height × channels` samples, row-major, channels interleaved.
        ///   - maxValue: The sample value that maps to 1 (255 for images, 1 for 0/1 masks).
        /// - Returns: `toWidth × toHeight × channels` samples in 0...1.
        public func resample(_ source: [UInt8], maxValue: Float = 255) -> [Float] {
            var destination: [Float] = []
            var scratch: [Float] = []
            prepare(&destination, &scratch)
            source.withUnsafeBufferPointer { src in
                destination.withUnsafeMutableBufferPointer { dst in
                    scratch.withUnsafeMutableBufferPointer { resample(src, into: dst, scratch: $0, maxValue: maxValue) }
                }
            }
            return destination
        }

        private func prepare(_ destination: inout [Float], _ scratch: inout [Float]) {
            let outputCount = toWidth * toHeight * channels
            if destination.count != outputCount { destination = [Float](repeating: 0, count: outputCount) }
            if scratch.count < scratchCount { scratch = [Float](repeating: 0, count: scratchCount) }
        }

        private func checkSizes(_ sourceCount: Int, _ destinationCount: Int, _ scratchCount: Int) {
            precondition(sourceCount >= width * height * channels,
                         "source holds \(sourceCount) samples, \(width)×\(height)×\(channels) needs \(width * height * channels)")
            precondition(destinationCount >= toWidth * toHeight * channels,
                         "destination holds \(destinationCount) samples, \(toWidth)×\(toHeight)×\(channels) needs \(toWidth * toHeight * channels)")
            precondition(scratchCount >= self.scratchCount, "scratch holds \(scratchCount) samples, needs \(self.scratchCount)")
        }

        // The two passes run columns first: the vertical pass combines whole input rows, a contiguous loop that
        // vectorizes, and leaves only `toHeight` rows for the horizontal pass, whose short per-pixel sums do not
        // vectorize. (The filter is separable, so the order does not change the result beyond float rounding.)
        // Index arithmetic uses wrapping operators: every index is bounded by the sizes checked on entry.

        /// Pass 1: height → toHeight, combining whole input rows into scratch (toHeight × width × channels).
        private func resampleColumns(_ source: UnsafePointer<Float>, into scratch: UnsafeMutablePointer<Float>) {
            let rowLength = width &* channels
            vertical.withTaps { first, tapCount, offsets, weights in
                for y in 0..<toHeight {
                    let outputRow = scratch + y &* rowLength
                    let w = weights + offsets[y]
                    let firstRow = source + first[y] &* rowLength
                    let w0 = w[0]
                    for i in 0..<rowLength { outputRow[i] = w0 * firstRow[i] }
                    for k in 1..<max(1, tapCount[y]) {
                        let inputRow = firstRow + k &* rowLength
                        let wk = w[k]
                        for i in 0..<rowLength { outputRow[i] += wk * inputRow[i] }
                    }
                }
            }
        }

        /// Pass 1 for 8-bit input, converting to `Float` on the way.
        private func resampleColumns(_ source: UnsafePointer<UInt8>, into scratch: UnsafeMutablePointer<Float>) {
            let rowLength = width &* channels
            vertical.withTaps { first, tapCount, offsets, weights in
                for y in 0..<toHeight {
                    let outputRow = scratch + y &* rowLength
                    let w = weights + offsets[y]
                    let firstRow = source + first[y] &* rowLength
                    let w0 = w[0]
                    for i in 0..<rowLength { outputRow[i] = w0 * Float(firstRow[i]) }
                    for k in 1..<max(1, tapCount[y]) {
                        let inputRow = firstRow + k &* rowLength
                        let wk = w[k]
                        for i in 0..<rowLength { outputRow[i] += wk * Float(inputRow[i]) }
                    }
                }
            }
        }

        /// Pass 2: width → toWidth on each of the `toHeight` scratch rows, dividing the results by `divisor`.
        private func resampleRows(_ scratch: UnsafePointer<Float>, into destination: UnsafeMutablePointer<Float>, divisor: Float) {
            let channels = self.channels
            let inputLength = width &* channels
            let outputLength = toWidth &* channels
            horizontal.withTaps { first, tapCount, offsets, weights in
                for y in 0..<toHeight {
                    let inputRow = scratch + y &* inputLength
                    let outputRow = destination + y &* outputLength
                    if channels == 1 {
                        for x in 0..<toWidth {
                            let input = inputRow + first[x]
                            let w = weights + offsets[x]
                            let taps = tapCount[x]
                            // Two accumulators halve the dependency chain of the short sum.
                            var even: Float = 0, odd: Float = 0
                            var k = 0
                            while k &+ 1 < taps {
                                even += w[k] * input[k]
                                odd += w[k &+ 1] * input[k &+ 1]
                                k &+= 2
                            }
                            if k < taps { even += w[k] * input[k] }
                            outputRow[x] = (even + odd) / divisor
                        }
                    } else {
                        for x in 0..<toWidth {
                            let input = inputRow + first[x] &* channels
                            let w = weights + offsets[x]
                            let taps = tapCount[x]
                            let output = outputRow + x &* channels
                            for c in 0..<channels {
                                var sum: Float = 0
                                for k in 0..<taps { sum += w[k] * input[k &* channels &+ c] }
                                output[c] = sum / divisor
                            }
                        }
                    }
                }
            }
        }
    }

    /// Resamples one image of `Float` samples (interleaved channels) by exact area averaging.
    ///
    /// This plans and allocates scratch memory on every call; for many images of one size, use a ``Plan``.
    ///
    /// - Parameters:
    ///   - source: `width × height × channels` samples, row-major, channels interleaved.
    ///   - width: The input width.
    ///   - height: The input height.
    ///   - channels: Interleaved channels per pixel.
    ///   - toWidth: The output width.
    ///   - toHeight: The output height.
    ///   - destination: Room for `toWidth × toHeight × channels` samples.
    package static func resample(_ source: UnsafeBufferPointer<Float>, width: Int, height: Int, channels: Int = 1,
                                toWidth: Int, toHeight: Int, into destination: UnsafeMutableBufferPointer<Float>) {
        let plan = Plan(width: width, height: height, channels: channels, toWidth: toWidth, toHeight: toHeight)
        var scratch = [Float](repeating: 0, count: plan.scratchCount)
        scratch.withUnsafeMutableBufferPointer { plan.resample(source, into: destination, scratch: $0) }
    }

    /// Resamples one image of 8-bit samples by exact area averaging, producing values in 0...1
    /// (averages divided by `maxValue`).
    ///
    /// This plans and allocates scratch memory on every call; for many images of one size, use a ``Plan``.
    ///
    /// - Parameters:
    ///   - source: `width × height × channels` samples, row-major, channels interleaved.
    ///   - width: The input width.
    ///   - height: The input height.
    ///   - channels: Interleaved channels per pixel.
    ///   - toWidth: The output width.
    ///   - toHeight: The output height.
    ///   - destination: Room for `toWidth × toHeight × channels` samples.
    ///   - maxValue: The sample value that maps to 1: 255 for images, 1 for 0/1 masks.
    package static func resample(_ source: UnsafeBufferPointer<UInt8>, width: Int, height: Int, channels: Int = 1,
                                toWidth: Int, toHeight: Int, into destination: UnsafeMutableBufferPointer<Float>,
                                maxValue: Float = 255) {
        let plan = Plan(width: width, height: height, channels: channels, toWidth: toWidth, toHeight: toHeight)
        var scratch = [Float](repeating: 0, count: plan.scratchCount)
        scratch.withUnsafeMutableBufferPointer { plan.resample(source, into: destination, scratch: $0, maxValue: maxValue) }
    }
}

/// Area weights along one axis: for each output index, the run of input indices it overlaps and each one's
/// share of the output pixel.
struct AxisWeights: Sendable, Equatable {
    /// The first input index each output index overlaps.
    var first: [Int]
    /// How many consecutive input indices each output index overlaps.
    var tapCount: [Int]
    /// Where each output index's weights start in `weights`.
    var offsets: [Int]
    /// The weights, overlap length divided by the output pixel's length (in input pixels); they sum to 1.
    var weights: [Float]

    /// Computes the weights exactly: in units of 1/(inputSize·outputSize), output pixel `i` spans
    /// `[i·inputSize, (i+1)·inputSize)` and input pixel `j` spans `[j·outputSize, (j+1)·outputSize)`, so
    /// every overlap is an integer and the overlaps of each output pixel sum to exactly `inputSize`.
    init(from inputSize: Int, to outputSize: Int) {
        first = []
        tapCount = []
        offsets = []
        weights = []
        first.reserveCapacity(outputSize)
        tapCount.reserveCapacity(outputSize)
        offsets.reserveCapacity(outputSize)
        for i in 0..<outputSize {
            let start = i * inputSize, end = (i + 1) * inputSize
            let firstInput = start / outputSize
            let lastInput = (end - 1) / outputSize
            first.append(firstInput)
            tapCount.append(lastInput - firstInput + 1)
            offsets.append(weights.count)
            for j in firstInput...lastInput {
                let overlap = min(end, (j + 1) * outputSize) - max(start, j * outputSize)
                weights.append(Float(Double(overlap) / Double(inputSize)))
            }
        }
    }

    /// Calls `body` with raw pointers to the tables, so hot loops run without bounds checks or reference counting.
    @inline(__always)
    func withTaps<R>(_ body: (UnsafePointer<Int>, UnsafePointer<Int>, UnsafePointer<Int>, UnsafePointer<Float>) -> R) -> R {
        first.withUnsafeBufferPointer { first in
            tapCount.withUnsafeBufferPointer { tapCount in
                offsets.withUnsafeBufferPointer { offsets in
                    weights.withUnsafeBufferPointer { weights in
                        body(first.baseAddress!, tapCount.baseAddress!, offsets.baseAddress!, weights.baseAddress!)
                    }
                }
            }
        }
    }
}
