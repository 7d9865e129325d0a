// The arithmetic precision of the convolutions' products: fp32, or bf16 products with fp32 sums.

import CReptileKernels

/// The precision of a model's convolution products.
///
/// With ``bf16`` the direct convolutions over 16·j input and output channels (all of Omniglot's
/// after the first) round the two operands of their products to bfloat16 and multiply them with
/// AVX512-BF16's `VDPBF16PS`, summing in fp32: the forward pass, the input gradient and the weight
/// gradient. Everything else stays fp32: the weights themselves (the master copy the optimizers
/// update), the optimizers' state, batch norm, the first layer (one to three input channels), dense
/// layers and Winograd's F(4×4, 3×3) layers (Mini-ImageNet's 3×3 layers after the first, which
/// already multiply a quarter as often). Both are deterministic whatever the thread count.
public enum Precision: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case fp32
    case bf16

    /// Whether this CPU runs it: bf16 needs AVX512-BF16 (Intel Sapphire Rapids and later, AMD Zen 4
    /// and later).
    public var isAvailable: Bool {
        switch self {
        case .fp32: return true
        case .bf16: return bf16Kernels != nil
        }
    }

    /// Why this CPU cannot run it, or nil when it can.
    public var unavailableReason: String? {
        if isAvailable { return nil }
        if reptile_bf16_kernels_available() != nil {
            return "--precision \(rawValue) needs the AVX-512 kernels, and REPTILE_KERNELS chose \(KernelPath.name)"
        }
        return "--precision \(rawValue) needs a CPU with AVX512-BF16 (Intel Sapphire Rapids or later, AMD Zen 4 or later); this one has none"
    }

    public var description: String { rawValue }

    /// The multiply-add peak of one core in this precision, in FLOP/s (two per multiply-add), from
    /// `seconds` of a register-only loop; nil where the precision is not available.
    public func measuredPeak(seconds: Double = 0.2) -> Double? {
        switch self {
        case .fp32: return PeakThroughput.measurePerCore(seconds: seconds)
        case .bf16:
            guard let k = bf16Kernels else { return nil }
            return PeakThroughput.measure(seconds: seconds, multiplyAddsPerRound: 12 * 32) { k.peak_loop($0) }
        }
    }
}

/// The bf16 rows kernels of this CPU, or nil without AVX512-BF16 or when REPTILE_KERNELS asks for
/// narrower kernels than AVX-512.
let bf16Kernels: reptile_microkernels? = KernelPath.name == "avx512" ? reptile_bf16_kernels_available()?.pointee : nil

/// bf16 operands as the bf16 rows kernels read them: two per 32-bit word, rounded to nearest even.
enum BF16 {
    /// Words for `count` floats (even), in order: word i holds x[2i] and x[2i + 1].
    static func pack(_ x: UnsafePointer<Float>, count: Int, into words: UnsafeMutablePointer<Float>) {
        precondition(count % 2 == 0, "bf16 pairs need an even count")
        reptile_bf16_pack(x, count, words)
    }

    /// Words for the row pairs of a `2·pairs × columns` matrix with row stride `ld`.
    static func packRows(_ x: UnsafePointer<Float>, pairs: Int, columns: Int, ld: Int, into words: UnsafeMutablePointer<Float>) {
        reptile_bf16_pack_rows(x, pairs, columns, ld, words)
    }

    /// Words for the column pairs of a `rows × columns` matrix, transposed: word `p·rows + i` holds
    /// x[i][2p] and x[i][2p + 1] (the same words as ``packRows(_:pairs:columns:ld:into:)`` of its
    /// transpose, without writing the transpose).
    static func packTransposed(_ x: UnsafePointer<Float>, rows: Int, columns: Int, into words: UnsafeMutablePointer<Float>) {
        precondition(columns % 2 == 0, "bf16 pairs need an even count")
        reptile_bf16_pack_transposed(x, rows, columns, words)
    }

    /// Words for the rows of a table in pairs: word `p·depth + i` holds rows[2p][i] and rows[2p + 1][i]
    /// (0 for the last row of an odd count).
    static func packPairs(_ rows: UnsafePointer<UnsafePointer<Float>>, count: Int, depth: Int, into words: UnsafeMutablePointer<Float>) {
        rows.withMemoryRebound(to: UnsafePointer<Float>?.self, capacity: count) {
            reptile_bf16_pack_pairs($0, count, depth, words)
        }
    }

    /// The float bf16 rounds `x` to (to nearest even).
    static func round(_ x: Float) -> Float { reptile_bf16_round(x) }
}
