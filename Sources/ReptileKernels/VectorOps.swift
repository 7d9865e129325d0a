// Vector arithmetic on flat float buffers: what snapshot, interpolate, average and the optimizer
// updates of a whole parameter vector need.

import CReptileKernels
import Foundation

/// Elementwise operations on flat float buffers, vectorized 16 lanes at a time.
///
/// Reptile keeps every parameter of a model in one contiguous buffer, so its meta-update
/// `θ ← θ + ε (W − θ)` is a single call of ``interpolate(_:toward:by:count:)``.
public enum Vector {
    /// Sums the rows of a `rows × columns` matrix: `out[c] = Σ_r x[r][c]`, row by row in order.
    /// Rows start `rowStride` floats apart (default: `columns`).
    public static func columnSums(_ x: UnsafePointer<Float>, rows: Int, columns: Int, rowStride: Int? = nil,
                                  into out: UnsafeMutablePointer<Float>) {
        let stride = rowStride ?? columns
        let vectorized = columns - columns % 16
        forEachChannelBlock(channels: vectorized) { c0, vectors in
            var sums = ChannelBlock(vectors: vectors, repeating: SIMD16<Float>())
            for r in 0..<rows {
                let xr = x + r * stride + c0
                sums.update { s, k in s += load16(xr + k) }
            }
            sums.update { s, k in store16(s, out + c0 + k) }
        }
        for j in vectorized..<columns {
            var s: Float = 0
            for r in 0..<rows { s += x[r * stride + j] }
            out[j] = s
        }
    }

    /// `y ← y + alpha · x`.
    public static func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        let a = SIMD16<Float>(repeating: alpha)
        var i = 0
        while i + 16 <= count {
            store16(load16(y + i).fma(a, load16(x + i)), y + i)
            i += 16
        }
        while i < count { y[i] += alpha * x[i]; i += 1 }
    }

    /// `x ← x + epsilon · (target − x)`: moves `x` a fraction `epsilon` of the way to `target`.
    public static func interpolate(_ x: UnsafeMutablePointer<Float>, toward target: UnsafePointer<Float>, by epsilon: Float, count: Int) {
        let e = SIMD16<Float>(repeating: epsilon)
        var i = 0
        while i + 16 <= count {
            let xi = load16(x + i)
            store16(xi.fma(e, load16(target + i) - xi), x + i)
            i += 16
        }
        while i < count { x[i] += epsilon * (target[i] - x[i]); i += 1 }
    }

    /// `x ← scale · x`.
    public static func scale(_ x: UnsafeMutablePointer<Float>, by scale: Float, count: Int) {
        let s = SIMD16<Float>(repeating: scale)
        var i = 0
        while i + 16 <= count { store16(load16(x + i) * s, x + i); i += 16 }
        while i < count { x[i] *= scale; i += 1 }
    }

    /// `out ← a − b`.
    public static func subtract(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 16 <= count { store16(load16(a + i) - load16(b + i), out + i); i += 16 }
        while i < count { out[i] = a[i] - b[i]; i += 1 }
    }

    /// `y ← y + x`.
    public static func add(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 16 <= count { store16(load16(y + i) + load16(x + i), y + i); i += 16 }
        while i < count { y[i] += x[i]; i += 1 }
    }

    /// The sum of all elements (accumulated in 16 lanes, then in double).
    public static func sum(_ x: UnsafePointer<Float>, count: Int) -> Float {
        var acc = SIMD16<Float>()
        var i = 0
        while i + 16 <= count { acc += load16(x + i); i += 16 }
        var total = Double(acc.sum())
        while i < count { total += Double(x[i]); i += 1 }
        return Float(total)
    }

    /// The dot product of two buffers.
    public static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, count: Int) -> Float {
        var acc = SIMD16<Float>()
        var i = 0
        while i + 16 <= count { acc = acc.fma(load16(x + i), load16(y + i)); i += 16 }
        var total = acc.sum()
        while i < count { total += x[i] * y[i]; i += 1 }
        return total
    }

    /// Whether every element is finite (no NaN, no infinity).
    public static func allFinite(_ x: UnsafePointer<Float>, count: Int) -> Bool {
        // x * 0 is 0 for finite x and NaN otherwise; NaN propagates through the sum.
        var acc = SIMD16<Float>()
        var i = 0
        while i + 16 <= count { acc += load16(x + i) * 0; i += 16 }
        var tail: Float = acc.sum()
        while i < count { tail += x[i] * 0; i += 1 }
        return tail == 0
    }

    /// The largest absolute value.
    public static func maxAbs(_ x: UnsafePointer<Float>, count: Int) -> Float {
        var acc = SIMD16<Float>()
        var i = 0
        while i + 16 <= count { acc = pointwiseMax(acc, load16(x + i).magnitude); i += 16 }
        var m = acc.max()
        while i < count { m = max(m, abs(x[i])); i += 1 }
        return m
    }

    /// Transposes a row-major `rows × columns` matrix into `out` (`columns × rows`).
    public static func transpose(_ a: UnsafePointer<Float>, rows: Int, columns: Int, into out: UnsafeMutablePointer<Float>) {
        // 16×16 blocks in registers where they fit, element by element at the ragged edges.
        let fullRows = rows - rows % 16, fullColumns = columns - columns % 16
        var r0 = 0
        while r0 < fullRows {
            var c0 = 0
            while c0 < fullColumns {
                transposeBlock16(a + r0 * columns + c0, stride: columns, into: out + c0 * rows + r0, stride: rows)
                c0 += 16
            }
            r0 += 16
        }
        for r in 0..<rows {
            let firstColumn = r < fullRows ? fullColumns : 0
            for c in firstColumn..<columns { out[c * rows + r] = a[r * columns + c] }
        }
    }

    /// Sixteen 16-float rows, held in registers.
    typealias Rows16 = (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>,
                        SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>,
                        SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>)

    /// Transposes the 16×16 block at `a` (rows `aStride` floats apart) into `out`. The 256 floats
    /// read as one array whose index holds the row in its high 4 bits and the column in its low
    /// 4; taking the even-indexed elements, then the odd ones, rotates the index right by one bit,
    /// and four such rounds swap row and column.
    @inline(__always)
    static func transposeBlock16(_ a: UnsafePointer<Float>, stride aStride: Int,
                                 into out: UnsafeMutablePointer<Float>, stride outStride: Int) {
        @inline(__always) func even(_ x: SIMD16<Float>, _ y: SIMD16<Float>) -> SIMD16<Float> {
            SIMD16(lowHalf: x.evenHalf, highHalf: y.evenHalf)
        }
        @inline(__always) func odd(_ x: SIMD16<Float>, _ y: SIMD16<Float>) -> SIMD16<Float> {
            SIMD16(lowHalf: x.oddHalf, highHalf: y.oddHalf)
        }
        @inline(__always) func unshuffle(_ r: Rows16) -> Rows16 {
            (even(r.0, r.1), even(r.2, r.3), even(r.4, r.5), even(r.6, r.7), even(r.8, r.9), even(r.10, r.11), even(r.12, r.13), even(r.14, r.15),
             odd(r.0, r.1), odd(r.2, r.3), odd(r.4, r.5), odd(r.6, r.7), odd(r.8, r.9), odd(r.10, r.11), odd(r.12, r.13), odd(r.14, r.15))
        }
        var r: Rows16 = (load16(a), load16(a + 1 * aStride), load16(a + 2 * aStride), load16(a + 3 * aStride), load16(a + 4 * aStride), load16(a + 5 * aStride), load16(a + 6 * aStride), load16(a + 7 * aStride), load16(a + 8 * aStride), load16(a + 9 * aStride), load16(a + 10 * aStride), load16(a + 11 * aStride), load16(a + 12 * aStride), load16(a + 13 * aStride), load16(a + 14 * aStride), load16(a + 15 * aStride))
        r = unshuffle(unshuffle(unshuffle(unshuffle(r))))
        store16(r.0, out + 0 * outStride)
        store16(r.1, out + 1 * outStride)
        store16(r.2, out + 2 * outStride)
        store16(r.3, out + 3 * outStride)
        store16(r.4, out + 4 * outStride)
        store16(r.5, out + 5 * outStride)
        store16(r.6, out + 6 * outStride)
        store16(r.7, out + 7 * outStride)
        store16(r.8, out + 8 * outStride)
        store16(r.9, out + 9 * outStride)
        store16(r.10, out + 10 * outStride)
        store16(r.11, out + 11 * outStride)
        store16(r.12, out + 12 * outStride)
        store16(r.13, out + 13 * outStride)
        store16(r.14, out + 14 * outStride)
        store16(r.15, out + 15 * outStride)
    }
}

/// The update rules of the optimizers, as kernels over flat buffers.
public enum OptimizerKernels {
    /// Plain SGD: `θ ← θ − lr · g`.
    public static func sgd(parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>, learningRate: Float, count: Int) {
        Vector.axpy(-learningRate, gradients, parameters, count: count)
    }

    /// One Adam step in TensorFlow's formulation (the reference implementation's):
    /// `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`,
    /// `θ ← θ − lr·√(1−β₂ᵗ)/(1−β₁ᵗ) · m / (√v + ε)`.
    ///
    /// With `beta1 == 0` the first moment is the gradient itself and `m` is neither read nor
    /// written (pass `nil`).
    public static func adam(
        parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>,
        firstMoment m: UnsafeMutablePointer<Float>?, secondMoment v: UnsafeMutablePointer<Float>,
        correctedStep: Float, beta1: Float, beta2: Float, epsilon: Float, count: Int
    ) {
        // In C: Swift's `squareRoot()` compiles to one scalar square root per element.
        if let m, beta1 != 0 {
            reptile_adam(parameters, gradients, m, v, correctedStep, beta1, beta2, epsilon, count)
        } else {
            reptile_adam_beta1_zero(parameters, gradients, v, correctedStep, beta2, epsilon, count)
        }
    }
}
