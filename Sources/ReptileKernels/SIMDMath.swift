// Vectorized exp and tanh: libm's scalar versions would dominate the small sine-wave MLP.

/// `Swift.max` lane by lane (`b` where `a ≤ b`, else `a`), with one compare and blend: the standard
/// library's generic `pointwiseMax` runs lane by lane unless the whole module targets a CPU with
/// wide vectors, about a hundred times slower.
@inline(__always)
func maximum(_ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float> {
    a.replacing(with: b, where: a .<= b)
}

/// `Swift.min` lane by lane (`b` where `b < a`, else `a`), as ``maximum(_:_:)``.
@inline(__always)
func minimum(_ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float> {
    a.replacing(with: b, where: b .< a)
}

extension SIMD16 where Scalar == Float {
    /// |x| by clearing the sign bits (the generic `maximum(x, -x)` runs lane by lane).
    @inline(__always)
    var magnitude: SIMD16<Float> {
        let bits = unsafeBitCast(self, to: SIMD16<UInt32>.self) & SIMD16<UInt32>(repeating: 0x7FFF_FFFF)
        return unsafeBitCast(bits, to: SIMD16<Float>.self)
    }

    /// e^x, 16 lanes at a time, accurate to about 2 ulp over the float range (Cephes' expf scheme:
    /// x = n·ln 2 + r with |r| ≤ ln2/2, a degree-5 minimax polynomial for e^r, and 2^n from the
    /// exponent bits). Inputs beyond ±87 are clamped.
    ///
    /// Written with plain arithmetic and bit casts only: the standard library's generic SIMD
    /// `clamped`, `rounded` and float-to-integer conversions run lane by lane.
    @inline(__always)
    static func exp(_ x: SIMD16<Float>) -> SIMD16<Float> {
        let clamped = minimum(maximum(x, SIMD16(repeating: -87.3)), SIMD16(repeating: 88.3))
        // Round to nearest with the 1.5·2²³ trick: adding it leaves the integer in the low mantissa bits.
        let magic = SIMD16<Float>(repeating: 12_582_912)
        let shifted = clamped * 1.442_695_04 + magic
        let n = shifted - magic
        var r = clamped - n * 0.693_359_375
        r = r + n * 2.121_944_4e-4
        let z = r * r
        var p = SIMD16<Float>(repeating: 1.987_569_15e-4)
        p = p * r + 1.398_199_950_7e-3
        p = p * r + 8.333_451_907_3e-3
        p = p * r + 4.166_579_589_4e-2
        p = p * r + 1.666_666_545_9e-1
        p = p * r + 5.000_000_120_1e-1
        let er = p * z + r + 1
        let integer = unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- unsafeBitCast(magic, to: SIMD16<Int32>.self)
        let bits = (integer &+ SIMD16<Int32>(repeating: 127)) &<< SIMD16<Int32>(repeating: 23)
        return er * unsafeBitCast(bits, to: SIMD16<Float>.self)
    }

    /// tanh(x), 16 lanes at a time: an odd polynomial near zero (no cancellation) and
    /// `1 − 2/(e^{2|x|} + 1)` elsewhere.
    @inline(__always)
    static func tanh(_ x: SIMD16<Float>) -> SIMD16<Float> {
        let ax = x.magnitude
        // |x| < 0.625: Cephes tanhf polynomial.
        let z = x * x
        var p = SIMD16<Float>(repeating: -5.704_988_727_45e-3)
        p = p * z + 2.063_908_879_54e-2
        p = p * z - 5.373_971_555_31e-2
        p = p * z + 1.333_144_220_36e-1
        p = p * z - 3.333_328_194_22e-1
        let small = p * z * x + x
        // Larger |x|: saturates to ±1 beyond about 9.
        let e = exp(2 * minimum(ax, SIMD16(repeating: 20)))
        var large = 1 - 2 / (e + 1)
        large.replace(with: -large, where: x .< 0)
        var result = large
        result.replace(with: small, where: ax .< 0.625)
        return result
    }
}

/// Elementwise activation functions and their gradients.
public enum Activations {
    /// `y = max(0, x)`; `x` and `y` may be the same buffer.
    public static func reluForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        let zero = SIMD16<Float>()
        var i = 0
        while i + 16 <= count { store16(maximum(load16(x + i), zero), y + i); i += 16 }
        while i < count { y[i] = max(0, x[i]); i += 1 }
    }

    /// `dx = dy · [y > 0]` from the forward output `y`; `dy` and `dx` may be the same buffer.
    public static func reluBackward(output y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, count: Int) {
        let zero = SIMD16<Float>()
        var i = 0
        while i + 16 <= count {
            var g = load16(dy + i)
            g.replace(with: zero, where: load16(y + i) .<= zero)
            store16(g, dx + i)
            i += 16
        }
        while i < count { dx[i] = y[i] > 0 ? dy[i] : 0; i += 1 }
    }

    /// `y = tanh(x)`; `x` and `y` may be the same buffer.
    public static func tanhForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 16 <= count { store16(SIMD16<Float>.tanh(load16(x + i)), y + i); i += 16 }
        if i < count {
            var tail = SIMD16<Float>()
            for j in i..<count { tail[j - i] = x[j] }
            let t = SIMD16<Float>.tanh(tail)
            for j in i..<count { y[j] = t[j - i] }
        }
    }

    /// `dx = dy · (1 − y²)` from the forward output `y`; `dy` and `dx` may be the same buffer.
    public static func tanhBackward(output y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 16 <= count {
            let yi = load16(y + i)
            store16(load16(dy + i) * (1 - yi * yi), dx + i)
            i += 16
        }
        while i < count { dx[i] = dy[i] * (1 - y[i] * y[i]); i += 1 }
    }

    /// Vectorized e^x of a buffer (used by tests and softmax on wide outputs).
    public static func exp(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 16 <= count { store16(SIMD16<Float>.exp(load16(x + i)), y + i); i += 16 }
        if i < count {
            var tail = SIMD16<Float>()
            for j in i..<count { tail[j - i] = x[j] }
            let t = SIMD16<Float>.exp(tail)
            for j in i..<count { y[j] = t[j - i] }
        }
    }
}
