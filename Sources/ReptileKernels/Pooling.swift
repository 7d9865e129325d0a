// Max pooling (2×2, stride 2, "same" padding in the Mini-ImageNet model).

/// The shape of a max-pooling layer over NHWC images.
public struct PoolGeometry: Equatable, Hashable, Sendable, Codable {
    public var inputHeight: Int
    public var inputWidth: Int
    public var channels: Int
    public var size: Int
    public var stride: Int
    public var padTop: Int
    public var padLeft: Int
    public var outputHeight: Int
    public var outputWidth: Int

    /// TensorFlow's "same" pooling: ⌈input / stride⌉ outputs per axis; padded positions never win
    /// the max. 21 rows pooled 2×2/2 give 11 (the last window sees one real row).
    public static func same(inputHeight: Int, inputWidth: Int, channels: Int, size: Int, stride: Int) -> PoolGeometry {
        let outH = (inputHeight + stride - 1) / stride
        let outW = (inputWidth + stride - 1) / stride
        let padH = max((outH - 1) * stride + size - inputHeight, 0)
        let padW = max((outW - 1) * stride + size - inputWidth, 0)
        return PoolGeometry(inputHeight: inputHeight, inputWidth: inputWidth, channels: channels, size: size,
                            stride: stride, padTop: padH / 2, padLeft: padW / 2, outputHeight: outH, outputWidth: outW)
    }

    /// Whether every input position lies in exactly one window (no overlap, nothing left out),
    /// as with 2×2 windows, stride 2 and "same" padding.
    public var windowsTile: Bool {
        size == stride && padTop == 0 && padLeft == 0
            && outputHeight * stride >= inputHeight && outputWidth * stride >= inputWidth
    }

    public var inputSize: Int { inputHeight * inputWidth * channels }
    public var outputSize: Int { outputHeight * outputWidth * channels }
}

/// Max-pooling kernels.
public enum PoolingKernels {
    /// `y[n, oy, ox, c] = max over the window of x`.
    ///
    /// The channel loops are plain scalar loops on purpose: LLVM turns them into packed compares
    /// and blends, whereas the generic `pointwiseMax` on SIMD types runs lane by lane.
    public static func maxForward(_ g: PoolGeometry, batch: Int, input x: UnsafePointer<Float>, output y: UnsafeMutablePointer<Float>) {
        let c = g.channels
        for n in 0..<batch {
            for oy in 0..<g.outputHeight {
                for ox in 0..<g.outputWidth {
                    let out = y + ((n * g.outputHeight + oy) * g.outputWidth + ox) * c
                    var first = true
                    for wy in 0..<g.size {
                        let iy = oy * g.stride - g.padTop + wy
                        if iy < 0 || iy >= g.inputHeight { continue }
                        for wx in 0..<g.size {
                            let ix = ox * g.stride - g.padLeft + wx
                            if ix < 0 || ix >= g.inputWidth { continue }
                            let inp = x + ((n * g.inputHeight + iy) * g.inputWidth + ix) * c
                            if first {
                                out.update(from: inp, count: c)
                                first = false
                            } else {
                                for j in 0..<c {
                                    let v = inp[j], m = out[j]
                                    out[j] = v > m ? v : m
                                }
                            }
                        }
                    }
                    if first { out.update(repeating: -.infinity, count: c) }
                }
            }
        }
    }

    /// Routes each output gradient to the input position that held the window's maximum (the first
    /// one in row-major window order when several are equal). Overwrites `dx`.
    public static func maxBackward(_ g: PoolGeometry, batch: Int, input x: UnsafePointer<Float>, output y: UnsafePointer<Float>,
                                   outputGradient dy: UnsafePointer<Float>, inputGradient dx: UnsafeMutablePointer<Float>) {
        let c = g.channels
        // When the windows tile the input (2×2, stride 2, "same": every input position lies in
        // exactly one window) each position is written once, so there is nothing to clear first.
        let tiles = g.windowsTile
        if !tiles { dx.update(repeating: 0, count: batch * g.inputSize) }
        // `remaining[j]`: the gradient of channel j not yet given to a window position; the first
        // position equal to the maximum takes it, later equal ones get nothing.
        withUnsafeTemporaryAllocation(of: Float.self, capacity: c) { remainingBuffer in
            let remaining = remainingBuffer.baseAddress!
            for n in 0..<batch {
                for oy in 0..<g.outputHeight {
                    for ox in 0..<g.outputWidth {
                        let o = ((n * g.outputHeight + oy) * g.outputWidth + ox) * c
                        remaining.update(from: dy + o, count: c)
                        let best = y + o
                        for wy in 0..<g.size {
                            let iy = oy * g.stride - g.padTop + wy
                            if iy < 0 || iy >= g.inputHeight { continue }
                            for wx in 0..<g.size {
                                let ix = ox * g.stride - g.padLeft + wx
                                if ix < 0 || ix >= g.inputWidth { continue }
                                let i = ((n * g.inputHeight + iy) * g.inputWidth + ix) * c
                                let xi = x + i, dxi = dx + i
                                if tiles {
                                    for j in 0..<c {
                                        let hit = xi[j] == best[j]
                                        let r = remaining[j]
                                        dxi[j] = 0 + (hit ? r : 0)  // as 0 += …: −0 becomes +0
                                        remaining[j] = hit ? 0 : r
                                    }
                                } else {
                                    for j in 0..<c {
                                        let hit = xi[j] == best[j]
                                        let r = remaining[j]
                                        dxi[j] += hit ? r : 0
                                        remaining[j] = hit ? 0 : r
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
