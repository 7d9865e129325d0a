// ReptileKernels — the numeric core of Reptile for Swift.
//
// This module owns every loop that touches many floats: vector arithmetic on flat parameter
// buffers, register-blocked SIMD matrix products, 2-D convolution (forward, input gradient and
// weight gradient), batch normalization (alone, or fused with ReLU and max pooling), activations, pooling, losses, image resampling, and the
// seedable random generator, and the multiply-add peak measurement. Adam's element-wise update
// lives in the C target CReptileKernels, where square roots vectorize. Everything works on raw
// `UnsafePointer<Float>` buffers in NHWC order (batch, height, width, channels) so that callers can
// keep all memory preallocated: nothing here allocates per call except where documented. The module
// is always compiled with `-Ounchecked` and a target CPU with fused multiply-add (see
// Package.swift), also in debug builds.

/// Extra floats every activation buffer must have readable past its end.
///
/// The register-blocked kernels compute whole tiles; the rows of a partial tile read a few floats
/// beyond the last valid element and discard what they compute. Buffers made by
/// ``FloatBuffer`` include this slack.
public let kernelReadSlack = 64

extension SIMD16 where Scalar == Float {
    /// `self + x * y`, as one fused multiply-add where the target CPU has it.
    ///
    /// Without an FMA-capable target `addingProduct` compiles to a libm call per lane (hundreds of
    /// times slower), so the portable build multiplies and adds separately.
    @inline(__always)
    func fma(_ x: SIMD16<Float>, _ y: SIMD16<Float>) -> SIMD16<Float> {
        #if REPTILE_FMA
        return addingProduct(x, y)
        #else
        return self + x * y
        #endif
    }
}

@inline(__always)
func load16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}

@inline(__always)
func store16(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
}
