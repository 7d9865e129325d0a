// ReptileKernels — the numeric core of Reptile for Swift.
//
// This module owns every loop that touches many floats: vector arithmetic on flat parameter
// buffers, register-blocked SIMD matrix products, 2-D convolution (forward, input gradient and
// weight gradient; direct implicit-GEMM kernels, and Winograd's F(4×4, 3×3) for 3×3 stride-1
// layers), batch normalization (alone, or fused with ReLU and max pooling, and handing its input
// gradient to the first layer's weight gradient), activations, pooling, losses, image resampling, and the
// seedable random generator, the multiply-add peak measurement, and the two-thread team
// (`ShardTeam`) that lets a second core compute half of each batch of a task. Adam's element-wise update
// lives in the C target CReptileKernels, where square roots vectorize. Everything works on raw
// `UnsafePointer<Float>` buffers in NHWC order (batch, height, width, channels) so that callers can
// keep all memory preallocated: nothing here allocates per call except where documented. The
// matrix microkernels, batch norm's rows, Winograd's tiles, the dense layer's leftover columns,
// Adam's update and transposes are C (CReptileKernels), compiled once per instruction set and
// chosen at run time; the rest (the drivers around them) is Swift for the architecture's baseline.

/// Which kernels run: the instructions chosen for this CPU at run time and the arithmetic precision.
public enum KernelPath {
    /// The instruction set of the C kernels (matrix microkernels, batch norm's rows, Winograd's
    /// tiles, the dense layer's columns, Adam, transposes), chosen once from the
    /// CPU's features (`REPTILE_KERNELS=avx512|avx2|generic` asks for another one the CPU supports).
    public static var instructions: String {
        let k = selectedMicrokernels
        switch String(cString: k.name) {
        case "avx512": return "AVX-512 with FMA"
        case "avx2": return "AVX2 with FMA"
        case "neon": return "NEON with FMA"
        default: return "baseline SIMD without FMA"
        }
    }

    /// The instruction set's short name: avx512, avx2, neon or generic.
    public static var name: String { String(cString: selectedMicrokernels.name) }


    /// Whether the Swift parts of the kernels were compiled for the build machine's CPU
    /// (`REPTILE_NATIVE=1`) rather than for the architecture's baseline.
    public static var swiftPartsNative: Bool {
        #if REPTILE_NATIVE
        return true
        #else
        return false
        #endif
    }

    /// One line for reports: "matrix kernels chosen at run time: AVX-512 with FMA; Swift parts for
    /// the baseline CPU; fp32" (with bf16: "…; bf16 products (AVX512-BF16), fp32 sums").
    public static func description(precision: Precision = .fp32) -> String {
        "matrix kernels chosen at run time: \(instructions); Swift parts for "
            + (swiftPartsNative ? "the build machine's CPU (REPTILE_NATIVE)" : "the baseline CPU") + "; "
            + (precision == .bf16 ? "bf16 products (AVX512-BF16), fp32 sums" : "fp32")
    }

    /// ``description(precision:)`` in fp32.
    public static var description: String { description() }
}

/// Extra floats every activation buffer must have readable past its end.
///
/// The register-blocked kernels compute whole tiles; the rows of a partial tile read a few floats
/// beyond the last valid element and discard what they compute. Buffers made by
/// ``FloatBuffer`` include this slack.
public let kernelReadSlack = 64

extension SIMD16 where Scalar == Float {
    /// `self + x * y`, multiplied and added separately: Swift code is compiled for the baseline
    /// of its architecture, where `addingProduct` would be a libm call per lane (the matrix
    /// microkernels, in C, fuse where the CPU can).
    @inline(__always)
    func fma(_ x: SIMD16<Float>, _ y: SIMD16<Float>) -> SIMD16<Float> {
        self + x * y
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
