// Matrix products for dense layers, on top of the register-blocked microkernels.

import CReptileKernels

/// How a block of output columns is computed: which microkernel, and how many rows per tile.
enum ColumnBlock {
    case wide64, medium32x12, medium32x8, medium32x9, narrow16

    var width: Int {
        switch self {
        case .wide64: return 64
        case .medium32x12, .medium32x8, .medium32x9: return 32
        case .narrow16: return 16
        }
    }

    var rows: Int {
        switch self {
        case .wide64: return 5
        case .medium32x12: return 12
        case .medium32x8: return 8
        case .medium32x9: return 9
        case .narrow16: return 12
        }
    }

    /// Calls `body` for each block of `columns` (a multiple of 16), widest first, with the block's
    /// first column. `rowsHint` is the number of rows the tiles will cover, used to prefer 8- or
    /// 9-row tiles for 32-wide blocks when that wastes less (9: the first layer's weight gradient
    /// over 3 × 3 × 3 kernel rows, whose 12-row tiles were a quarter junk). Allocates nothing.
    @inline(__always)
    static func forEach(columns: Int, rowsHint: Int = 0, _ body: (Int, ColumnBlock) -> Void) {
        var c = 0
        while columns - c >= 64 { body(c, .wide64); c += 64 }
        if columns - c >= 32 {
            let waste12 = (12 - rowsHint % 12) % 12
            let waste8 = (8 - rowsHint % 8) % 8
            let waste9 = (9 - rowsHint % 9) % 9
            if rowsHint > 0 && waste9 < min(waste12, waste8) {
                body(c, .medium32x9)
            } else {
                body(c, rowsHint > 0 && waste8 < waste12 ? .medium32x8 : .medium32x12)
            }
            c += 32
        }
        if columns - c >= 16 { body(c, .narrow16) }
    }

    /// The rows per tile of the first block ``forEach(columns:rowsHint:_:)`` gives.
    static func tileRows(columns: Int, rowsHint: Int) -> Int {
        var rows = 1
        forEach(columns: columns, rowsHint: rowsHint) { c0, block in if c0 == 0 { rows = block.rows } }
        return rows
    }

    @inline(__always)
    func rowsKernel(
        _ a: UnsafePointer<UnsafePointer<Float>>, taps: Int, depth: Int,
        _ b: UnsafePointer<Float>, ldb: Int, tapStride: Int,
        _ c: UnsafePointer<UnsafeMutablePointer<Float>>, accumulate: Bool, bias: UnsafePointer<Float>?,
        bf16: Bool = false
    ) {
        // In bf16, A and B hold bf16 pairs (`depth`, `ldb` and `tapStride` count words).
        let k = bf16 ? bf16Kernels! : selectedMicrokernels
        let kernel: reptile_rows_kernel
        switch self {
        case .wide64: kernel = k.rows_5x64
        case .medium32x12: kernel = k.rows_12x32
        case .medium32x8: kernel = k.rows_8x32
        case .medium32x9: kernel = k.rows_9x32
        case .narrow16: kernel = k.rows_12x16
        }
        kernel(UnsafeRawPointer(a).assumingMemoryBound(to: UnsafePointer<Float>?.self), taps, depth, b, ldb, tapStride,
               UnsafeRawPointer(c).assumingMemoryBound(to: UnsafeMutablePointer<Float>?.self), accumulate ? 1 : 0, bias)
    }

    @inline(__always)
    func outerKernel(
        _ a: UnsafePointer<UnsafePointer<Float>>, aOffset: Int, _ b: UnsafePointer<UnsafePointer<Float>>, count: Int,
        _ c: UnsafePointer<UnsafeMutablePointer<Float>>, accumulate: Bool, resume: Bool = false, bf16: Bool = false
    ) {
        // In bf16, each A[j] and B[j] holds two rows' bf16 (`BF16.packPairs`).
        let k = bf16 ? bf16Kernels! : selectedMicrokernels
        let kernel: reptile_outer_kernel
        switch self {
        case .wide64: kernel = k.outer_5x64
        case .medium32x12: kernel = k.outer_12x32
        case .medium32x8: kernel = k.outer_8x32
        case .medium32x9: kernel = k.outer_9x32
        case .narrow16: kernel = k.outer_12x16
        }
        kernel(UnsafeRawPointer(a).assumingMemoryBound(to: UnsafePointer<Float>?.self), aOffset,
               UnsafeRawPointer(b).assumingMemoryBound(to: UnsafePointer<Float>?.self), count,
               UnsafeRawPointer(c).assumingMemoryBound(to: UnsafeMutablePointer<Float>?.self), accumulate ? 1 : 0, resume ? 1 : 0)
    }
}

/// The microkernels of the instruction set this process runs, chosen once from the CPU's
/// features (C, compiled once per instruction set: see scripts/generate_microkernels.py).
let selectedMicrokernels = reptile_microkernels_selected()!.pointee

/// Single-precision matrix products (row-major, with leading dimensions), as dense layers need
/// them: `A·B`, `Aᵀ·B` and `A·Bᵀ`.
///
/// Columns in multiples of 16 go through the register-blocked microkernels; the remaining
/// columns (e.g. the 5 outputs of a 5-way classifier) are dot products in C, several side by side
/// (`reptile_dense_columns`). Operands read by the microkernels need ``kernelReadSlack``
/// readable floats past their end.
public enum Matmul {
    /// `C ← A·B (+ bias)` or, with `accumulate`, `C ← C + A·B`. A is `m×k`, B is `k×n`, C is `m×n`.
    public static func multiply(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int,
        accumulate: Bool = false, bias: UnsafePointer<Float>? = nil, scratch: KernelScratch
    ) {
        guard m > 0, n > 0 else { return }
        let fast = n - n % 16
        if fast > 0, k > 0 {
            scratch.ensureZerosAndJunk(max(k, 64))
            let zeros = UnsafePointer(scratch.zeros.pointer)
            let junk = scratch.junk.pointer
            let aTable = scratch.pointers(12)
            let cTable = scratch.mutablePointers(12)
            ColumnBlock.forEach(columns: fast, rowsHint: m) { c0, block in
                let rows = block.rows
                var m0 = 0
                while m0 < m {
                    for r in 0..<rows {
                        let row = m0 + r
                        if row < m {
                            aTable[r] = a + row * lda
                            cTable[r] = c + row * ldc + c0
                        } else {
                            aTable[r] = zeros
                            cTable[r] = junk
                        }
                    }
                    block.rowsKernel(aTable, taps: 1, depth: k, b + c0, ldb: ldb, tapStride: 0,
                                     cTable, accumulate: accumulate, bias: bias.map { $0 + c0 })
                    m0 += rows
                }
            }
        } else if fast > 0 {
            for i in 0..<m where !accumulate {
                for j in 0..<fast { c[i * ldc + j] = bias?[j] ?? 0 }
            }
        }
        // Remaining columns: dot products, several side by side on the widest registers.
        if fast < n {
            reptile_dense_columns(a, lda, b, ldb, c, ldc, m, k, fast, n, bias, accumulate ? 1 : 0)
        }
    }

    /// `C ← Aᵀ·B` or, with `accumulate`, `C ← C + Aᵀ·B`. A is `k×m`, B is `k×n`, C is `m×n`
    /// (the weight gradient `Xᵀ·dY` of a dense layer, summing over the batch).
    public static func multiplyTransposingA(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int,
        accumulate: Bool = false, scratch: KernelScratch
    ) {
        guard m > 0, n > 0 else { return }
        let fast = n - n % 16
        if fast > 0 {
            if k == 0 {
                if !accumulate { for i in 0..<m { (c + i * ldc).update(repeating: 0, count: fast) } }
            } else {
                scratch.ensureZerosAndJunk(64)
                let junk = scratch.junk.pointer
                // Long sums (a convolution's weight gradient over every output pixel of a batch)
                // run in chunks of rows that stay in L2 while all tiles pass over them; each
                // chunk's sums are added into C in order.
                let chunk = reductionChunk(columns: fast)
                let aTable = scratch.pointers(2 * min(k, chunk))
                let bTable = aTable + min(k, chunk)
                let cTable = scratch.mutablePointers(12)
                for k0 in stride(from: 0, to: k, by: chunk) {
                    let count = min(k, k0 + chunk) - k0
                    for j in 0..<count { aTable[j] = a + (k0 + j) * lda }
                    ColumnBlock.forEach(columns: fast, rowsHint: m) { c0, block in
                        for j in 0..<count { bTable[j] = b + (k0 + j) * ldb + c0 }
                        let rows = block.rows
                        var m0 = 0
                        while m0 < m {
                            for r in 0..<rows {
                                cTable[r] = m0 + r < m ? c + (m0 + r) * ldc + c0 : junk
                            }
                            block.outerKernel(aTable, aOffset: m0, bTable, count: count, cTable,
                                              accumulate: accumulate || k0 > 0)
                            m0 += rows
                        }
                    }
                }
            }
        }
        if fast < n {
            reptile_dense_columns_transposing_a(a, lda, b, ldb, c, ldc, m, k, fast, n, accumulate ? 1 : 0)
        }
    }

    /// Rows per chunk of a long reduction over rows of `columns` floats: about 512 KB of them,
    /// and at least 1 024 rows.
    static func reductionChunk(columns: Int) -> Int { max(1024, 131_072 / max(columns, 1)) }

    /// `C ← A·Bᵀ` or, with `accumulate`, `C ← C + A·Bᵀ`. A is `m×k`, B is `n×k`, C is `m×n`
    /// (the input gradient `dY·Wᵀ` of a dense layer). Uses `scratch.floats` for Bᵀ.
    public static func multiplyTransposingB(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int,
        accumulate: Bool = false, scratch: KernelScratch
    ) {
        guard m > 0, n > 0 else { return }
        let bt = scratch.floats(k * n + kernelReadSlack)
        for row in 0..<n {
            for col in 0..<k { bt[col * n + row] = b[row * ldb + col] }
        }
        multiply(m: m, n: n, k: k, a: a, lda: lda, b: bt, ldb: n, c: c, ldc: ldc, accumulate: accumulate, scratch: scratch)
    }
}
