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
        // C per instruction set: each column's sum in row order, as a scalar loop would take it.
        reptile_column_sums(x, rows, columns, rowStride ?? columns, out)
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
        reptile_vector_add(x, y, count)
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
        while i + 16 <= count { acc = maximum(acc, load16(x + i).magnitude); i += 16 }
        var m = acc.max()
        while i < count { m = max(m, abs(x[i])); i += 1 }
        return m
    }

    /// Transposes a row-major `rows × columns` matrix into `out` (`columns × rows`): 16×16 blocks
    /// in AVX-512 registers where available (C intrinsics: Swift's generic shuffles spill), element
    /// by element elsewhere.
    public static func transpose(_ a: UnsafePointer<Float>, rows: Int, columns: Int, into out: UnsafeMutablePointer<Float>) {
        reptile_transpose(a, rows, columns, out)
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
