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

    /// Calls `body(offset)` with the offset (in floats) of each input pixel of window (n, oy, ox)
    /// that lies inside the image, in row-major window order.
    @inline(__always)
    func forEachPosition(image n: Int, outputY oy: Int, outputX ox: Int, _ body: (Int) -> Void) {
        forEachPosition(image: n, outputY: oy, outputX: ox) { i, _ in body(i) }
    }

    /// ``forEachPosition(image:outputY:outputX:_:)`` that also passes each position's window row.
    @inline(__always)
    func forEachPosition(image n: Int, outputY oy: Int, outputX ox: Int, _ body: (Int, Int) -> Void) {
        for wy in 0..<size {
            let iy = oy * stride - padTop + wy
            if iy < 0 || iy >= inputHeight { continue }
            for wx in 0..<size {
                let ix = ox * stride - padLeft + wx
                if ix < 0 || ix >= inputWidth { continue }
                body(((n * inputHeight + iy) * inputWidth + ix) * channels, wy)
            }
        }
    }
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
                    g.forEachPosition(image: n, outputY: oy, outputX: ox) { i in
                        if first {
                            out.update(from: x + i, count: c)
                            first = false
                        } else {
                            keepMaximum(of: x + i, in: out, count: c)
                        }
                    }
                    if first { out.update(repeating: -.infinity, count: c) }
                }
            }
        }
    }

    /// `out[j] = max(out[j], v[j])`, keeping `out[j]` on ties (and when `v[j]` is NaN).
    @inline(__always)
    static func keepMaximum(of v: UnsafePointer<Float>, in out: UnsafeMutablePointer<Float>, count: Int) {
        for j in 0..<count {
            let a = v[j], m = out[j]
            out[j] = a > m ? a : m
        }
    }

    /// One window position of the backward pass: where the position's input `xi` equals the
    /// window's maximum and the channel's gradient is still `remaining`, the position takes it
    /// (later equal positions get nothing). Writes `dxi` (or, with `overwrite: false`, adds to it).
    @inline(__always)
    static func route(input xi: UnsafePointer<Float>, maximum best: UnsafePointer<Float>,
                      remaining: UnsafeMutablePointer<Float>, into dxi: UnsafeMutablePointer<Float>,
                      count: Int, overwrite: Bool) {
        if overwrite {
            for j in 0..<count {
                let hit = xi[j] == best[j]
                let r = remaining[j]
                dxi[j] = 0 + (hit ? r : 0)  // as 0 += …: −0 becomes +0
                remaining[j] = hit ? 0 : r
            }
        } else {
            for j in 0..<count {
                let hit = xi[j] == best[j]
                let r = remaining[j]
                dxi[j] += hit ? r : 0
                remaining[j] = hit ? 0 : r
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
        withUnsafeTemporaryAllocation(of: Float.self, capacity: c) { remainingBuffer in
            let remaining = remainingBuffer.baseAddress!
            for n in 0..<batch {
                for oy in 0..<g.outputHeight {
                    for ox in 0..<g.outputWidth {
                        let o = ((n * g.outputHeight + oy) * g.outputWidth + ox) * c
                        remaining.update(from: dy + o, count: c)
                        g.forEachPosition(image: n, outputY: oy, outputX: ox) { i in
                            route(input: x + i, maximum: y + o, remaining: remaining, into: dx + i, count: c, overwrite: tiles)
                        }
                    }
                }
            }
        }
    }
}
