// Winograd's minimal filtering F(2×2, 3×3) for the 3×3 convolutions with stride 1 and one pixel
// of zero padding on every side (Mini-ImageNet's layers after the first), channels in whole
// 16-float vectors. Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks" (2016).
//
// Each 2×2 block of output pixels (a tile) comes from a 4×4 input patch d with 16 multiplications
// per pair of channels instead of 36: Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A. Summed over the input
// channels, the element-wise products become 16 matrix products (one per position ξ of the 4×4
// transformed patch) of [tiles × inC] by [inC × outC], which run on the register-blocked
// microkernels. Tiles go in blocks of whole tile rows whose transformed patches and products stay
// in L2; the transforms are additions and halvings, so the results match the direct convolution
// to rounding.

/// F(2×2, 3×3) convolutions (see the file header); ``Convolution`` uses them where ``applies(to:)``.
public enum Winograd {
    /// Whether the geometry is a 3×3 convolution with stride 1 and one pixel of zero padding on
    /// every side (output size = input size), channels in multiples of 16.
    public static func applies(to g: ConvGeometry) -> Bool {
        g.kernelHeight == 3 && g.kernelWidth == 3 && g.strideY == 1 && g.strideX == 1
            && g.padTop == 1 && g.padLeft == 1
            && g.outputHeight == g.inputHeight && g.outputWidth == g.inputWidth
            && g.inputChannels % 16 == 0 && g.outputChannels % 16 == 0
    }

    /// Floats of a block's transformed patches and products together (about 384 KB): both stay in
    /// L2 between the transforms and the 16 products.
    static let blockFloats = 98_304

    /// The tiling of one call: `tilesX` tiles per tile row, blocks of `rowsPerBlock` tile rows.
    struct Tiling {
        let height: Int, width: Int
        let tilesY: Int, tilesX: Int
        let tileRows: Int
        let rowsPerBlock: Int
        var maxTiles: Int { rowsPerBlock * tilesX }

        init(_ g: ConvGeometry, batch: Int, floatsPerTile: Int) {
            height = g.outputHeight
            width = g.outputWidth
            tilesY = (height + 1) / 2
            tilesX = (width + 1) / 2
            tileRows = batch * tilesY
            rowsPerBlock = max(1, min(tileRows, Winograd.blockFloats / (floatsPerTile * tilesX)))
        }
    }

    // MARK: - Forward and input gradient

    /// `output = conv(input, weights) + bias` (see ``Convolution/forward(_:batch:input:weights:bias:output:saved:scratch:outputColumnSums:algorithm:)``,
    /// whose `outputColumnSums` this also fills, in the same row order).
    public static func forward(
        _ g: ConvGeometry, batch: Int, input: UnsafePointer<Float>, weights: UnsafePointer<Float>,
        bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>, scratch: KernelScratch,
        outputColumnSums: UnsafeMutablePointer<Float>? = nil
    ) {
        precondition(applies(to: g), "Winograd F(2×2, 3×3) does not apply to \(g)")
        let cin = g.inputChannels, cout = g.outputChannels
        let tiling = Tiling(g, batch: batch, floatsPerTile: 16 * (cin + cout))
        let u = scratch.transformFloats(16 * cin * cout + 16 * tiling.maxTiles * (cin + cout) + kernelReadSlack)
        transformWeights(weights, inputChannels: cin, outputChannels: cout, into: u)
        convolve(tiling, input: input, inputChannels: cin, transformedWeights: UnsafePointer(u), outputChannels: cout,
                 bias: bias, output: output, columnSums: outputColumnSums,
                 workspace: u + 16 * cin * cout, scratch: scratch)
    }

    /// The gradient with respect to the input (overwrites `inputGradient`): with stride 1 and
    /// symmetric padding it is the same convolution of the output gradient with the kernel
    /// flipped and its channels swapped, whose transform is that of the kernel with positions
    /// 0 and 3 of each axis exchanged (G·J = P·G), transposed.
    public static func backwardInput(
        _ g: ConvGeometry, batch: Int, outputGradient dy: UnsafePointer<Float>, weights: UnsafePointer<Float>,
        inputGradient dx: UnsafeMutablePointer<Float>, scratch: KernelScratch
    ) {
        precondition(applies(to: g), "Winograd F(2×2, 3×3) does not apply to \(g)")
        let cin = g.inputChannels, cout = g.outputChannels
        let tiling = Tiling(g, batch: batch, floatsPerTile: 16 * (cin + cout))
        let weightFloats = 16 * cin * cout
        let u = scratch.transformFloats(2 * weightFloats + 16 * tiling.maxTiles * (cin + cout) + kernelReadSlack)
        let flipped = u + weightFloats
        transformWeights(weights, inputChannels: cin, outputChannels: cout, into: u)
        let swap = [3, 1, 2, 0]
        for i in 0..<4 {
            for j in 0..<4 {
                Vector.transpose(u + (4 * swap[i] + swap[j]) * cin * cout, rows: cin, columns: cout,
                                 into: flipped + (4 * i + j) * cout * cin)
            }
        }
        convolve(tiling, input: dy, inputChannels: cout, transformedWeights: UnsafePointer(flipped), outputChannels: cin,
                 bias: nil, output: dx, columnSums: nil, workspace: u + 2 * weightFloats, scratch: scratch)
    }

    /// U = G g Gᵀ for every pair of channels: `u[ξ][ci][co]`, ξ = 4·row + column of the 4×4 transform.
    static func transformWeights(_ w: UnsafePointer<Float>, inputChannels cin: Int, outputChannels cout: Int,
                                 into u: UnsafeMutablePointer<Float>) {
        let half = SIMD16<Float>(repeating: 0.5)
        let plane = cin * cout
        for ci in 0..<cin {
            for co in stride(from: 0, to: cout, by: 16) {
                @inline(__always) func g(_ ky: Int, _ kx: Int) -> SIMD16<Float> { load16(w + ((ky * 3 + kx) * cin + ci) * cout + co) }
                // Rows: t = G g (4×3).
                let g00 = g(0, 0), g01 = g(0, 1), g02 = g(0, 2)
                let g10 = g(1, 0), g11 = g(1, 1), g12 = g(1, 2)
                let g20 = g(2, 0), g21 = g(2, 1), g22 = g(2, 2)
                let t0 = (g00, g01, g02)
                let t1 = (half * (g00 + g10 + g20), half * (g01 + g11 + g21), half * (g02 + g12 + g22))
                let t2 = (half * (g00 - g10 + g20), half * (g01 - g11 + g21), half * (g02 - g12 + g22))
                let t3 = (g20, g21, g22)
                // Columns: U = t Gᵀ (4×4).
                @inline(__always) func store(_ r: Int, _ row: (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>)) {
                    let base = u + (4 * r) * plane + ci * cout + co
                    store16(row.0, base)
                    store16(half * (row.0 + row.1 + row.2), base + plane)
                    store16(half * (row.0 - row.1 + row.2), base + 2 * plane)
                    store16(row.2, base + 3 * plane)
                }
                store(0, t0)
                store(1, t1)
                store(2, t2)
                store(3, t3)
            }
        }
    }

    /// The block loop shared by the forward pass and the input gradient: `output` (outC channels)
    /// = conv(`input` (inC channels)) from the transformed weights `u[ξ][inC][outC]`.
    private static func convolve(
        _ tiling: Tiling, input: UnsafePointer<Float>, inputChannels cin: Int,
        transformedWeights u: UnsafePointer<Float>, outputChannels cout: Int,
        bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>, columnSums: UnsafeMutablePointer<Float>?,
        workspace: UnsafeMutablePointer<Float>, scratch: KernelScratch
    ) {
        let h = tiling.height, w = tiling.width
        let maxTiles = tiling.maxTiles
        let v = workspace, m = workspace + 16 * maxTiles * cin
        let vPlane = maxTiles * cin, mPlane = maxTiles * cout
        if let columnSums { columnSums.update(repeating: 0, count: cout) }
        var q0 = 0
        while q0 < tiling.tileRows {
            let q1 = min(tiling.tileRows, q0 + tiling.rowsPerBlock)
            let tiles = (q1 - q0) * tiling.tilesX
            var t = 0
            for q in q0..<q1 {
                let n = q / tiling.tilesY, ty = q - n * tiling.tilesY
                let image = input + n * h * w * cin
                for tx in 0..<tiling.tilesX {
                    transformPatch(image, height: h, width: w, channels: cin, y0: 2 * ty - 1, x0: 2 * tx - 1,
                                   into: v + t * cin, plane: vPlane)
                    t += 1
                }
            }
            for xi in 0..<16 {
                Matmul.multiply(m: tiles, n: cout, k: cin, a: v + xi * vPlane, lda: cin, b: u + xi * cin * cout, ldb: cout,
                                c: m + xi * mPlane, ldc: cout, scratch: scratch)
            }
            t = 0
            for q in q0..<q1 {
                let n = q / tiling.tilesY, ty = q - n * tiling.tilesY
                let image = output + n * h * w * cout
                for tx in 0..<tiling.tilesX {
                    transformProducts(m + t * cout, plane: mPlane, channels: cout, bias: bias,
                                      into: image, height: h, width: w, y0: 2 * ty, x0: 2 * tx)
                    t += 1
                }
                if let columnSums {
                    // The tile row's output rows, pixel after pixel, as `Vector.columnSums` adds them.
                    let rowStart = image + 2 * ty * w * cout
                    let pixels = min(2, h - 2 * ty) * w
                    for p in 0..<pixels {
                        let row = rowStart + p * cout
                        for c in stride(from: 0, to: cout, by: 16) { store16(load16(columnSums + c) + load16(row + c), columnSums + c) }
                    }
                }
            }
            q0 = q1
        }
    }

    /// V = Bᵀ d B of the 4×4 patch whose top-left pixel is (y0, x0) (zeros outside the image),
    /// written to `v[ξ · plane + c]`.
    @inline(__always)
    private static func transformPatch(
        _ image: UnsafePointer<Float>, height h: Int, width w: Int, channels: Int, y0: Int, x0: Int,
        into v: UnsafeMutablePointer<Float>, plane: Int
    ) {
        let inside = y0 >= 0 && y0 + 3 < h && x0 >= 0 && x0 + 3 < w
        for c in stride(from: 0, to: channels, by: 16) {
            @inline(__always) func d(_ i: Int, _ j: Int) -> SIMD16<Float> {
                let y = y0 + i, x = x0 + j
                if inside || (y >= 0 && y < h && x >= 0 && x < w) { return load16(image + (y * w + x) * channels + c) }
                return SIMD16()
            }
            // Rows: s = Bᵀ d.
            @inline(__always) func column(_ j: Int) -> (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>) {
                let d0 = d(0, j), d1 = d(1, j), d2 = d(2, j), d3 = d(3, j)
                return (d0 - d2, d1 + d2, d2 - d1, d1 - d3)
            }
            let s0 = column(0), s1 = column(1), s2 = column(2), s3 = column(3)
            // Columns: V = s B, row by row of s.
            @inline(__always) func store(_ i: Int, _ a: SIMD16<Float>, _ b: SIMD16<Float>, _ e: SIMD16<Float>, _ f: SIMD16<Float>) {
                let base = v + 4 * i * plane + c
                store16(a - e, base)
                store16(b + e, base + plane)
                store16(e - b, base + 2 * plane)
                store16(b - f, base + 3 * plane)
            }
            store(0, s0.0, s1.0, s2.0, s3.0)
            store(1, s0.1, s1.1, s2.1, s3.1)
            store(2, s0.2, s1.2, s2.2, s3.2)
            store(3, s0.3, s1.3, s2.3, s3.3)
        }
    }

    /// Y = Aᵀ m A (+ bias) for the tile whose top-left output pixel is (y0, x0); pixels past the
    /// image's last row or column are not written.
    @inline(__always)
    private static func transformProducts(
        _ m: UnsafePointer<Float>, plane: Int, channels: Int, bias: UnsafePointer<Float>?,
        into image: UnsafeMutablePointer<Float>, height h: Int, width w: Int, y0: Int, x0: Int
    ) {
        let secondRow = y0 + 1 < h, secondColumn = x0 + 1 < w
        for c in stride(from: 0, to: channels, by: 16) {
            @inline(__always) func e(_ i: Int, _ j: Int) -> SIMD16<Float> { load16(m + (4 * i + j) * plane + c) }
            // Rows: t = Aᵀ m (2×4).
            @inline(__always) func column(_ j: Int) -> (SIMD16<Float>, SIMD16<Float>) {
                let m0 = e(0, j), m1 = e(1, j), m2 = e(2, j), m3 = e(3, j)
                return (m0 + m1 + m2, m1 - m2 - m3)
            }
            let c0 = column(0), c1 = column(1), c2 = column(2), c3 = column(3)
            let b = bias.map { load16($0 + c) } ?? SIMD16()
            let top = image + (y0 * w + x0) * channels + c
            store16(c0.0 + c1.0 + c2.0 + b, top)
            if secondColumn { store16(c1.0 - c2.0 - c3.0 + b, top + channels) }
            if secondRow {
                let bottom = top + w * channels
                store16(c0.1 + c1.1 + c2.1 + b, bottom)
                if secondColumn { store16(c1.1 - c2.1 - c3.1 + b, bottom + channels) }
            }
        }
    }

    // MARK: - Weight gradient

    /// The gradient with respect to the weights (overwrites `weightGradient`): with M = U ⊙ V per
    /// tile and Y = Aᵀ M A, dL/dM = A dY Aᵀ, dL/dU = Σ over tiles of V ⊙ dL/dM — 16 products of
    /// [inC × tiles] by [tiles × outC] — and dL/dg = Gᵀ (dL/dU) G.
    public static func backwardWeights(
        _ g: ConvGeometry, batch: Int, input: UnsafePointer<Float>, outputGradient dy: UnsafePointer<Float>,
        weightGradient dw: UnsafeMutablePointer<Float>, scratch: KernelScratch
    ) {
        precondition(applies(to: g), "Winograd F(2×2, 3×3) does not apply to \(g)")
        let cin = g.inputChannels, cout = g.outputChannels
        let tiling = Tiling(g, batch: batch, floatsPerTile: 16 * (cin + cout))
        let h = tiling.height, w = tiling.width
        let maxTiles = tiling.maxTiles
        let weightFloats = 16 * cin * cout
        let du = scratch.transformFloats(weightFloats + 16 * maxTiles * (cin + cout) + kernelReadSlack)
        let v = du + weightFloats, z = v + 16 * maxTiles * cin
        let vPlane = maxTiles * cin, zPlane = maxTiles * cout
        var q0 = 0
        while q0 < tiling.tileRows {
            let q1 = min(tiling.tileRows, q0 + tiling.rowsPerBlock)
            let tiles = (q1 - q0) * tiling.tilesX
            var t = 0
            for q in q0..<q1 {
                let n = q / tiling.tilesY, ty = q - n * tiling.tilesY
                let image = input + n * h * w * cin
                let gradient = dy + n * h * w * cout
                for tx in 0..<tiling.tilesX {
                    transformPatch(image, height: h, width: w, channels: cin, y0: 2 * ty - 1, x0: 2 * tx - 1,
                                   into: v + t * cin, plane: vPlane)
                    transformOutputGradient(gradient, height: h, width: w, channels: cout, y0: 2 * ty, x0: 2 * tx,
                                            into: z + t * cout, plane: zPlane)
                    t += 1
                }
            }
            for xi in 0..<16 {
                Matmul.multiplyTransposingA(m: cin, n: cout, k: tiles, a: v + xi * vPlane, lda: cin, b: z + xi * zPlane,
                                            ldb: cout, c: du + xi * cin * cout, ldc: cout, accumulate: q0 > 0, scratch: scratch)
            }
            q0 = q1
        }
        transformWeightGradient(UnsafePointer(du), inputChannels: cin, outputChannels: cout, into: dw)
    }

    /// Z = A e Aᵀ of the 2×2 output-gradient patch whose top-left pixel is (y0, x0) (zeros past
    /// the image's last row or column), written to `z[ξ · plane + c]`.
    @inline(__always)
    private static func transformOutputGradient(
        _ image: UnsafePointer<Float>, height h: Int, width w: Int, channels: Int, y0: Int, x0: Int,
        into z: UnsafeMutablePointer<Float>, plane: Int
    ) {
        let secondRow = y0 + 1 < h, secondColumn = x0 + 1 < w
        for c in stride(from: 0, to: channels, by: 16) {
            let top = image + (y0 * w + x0) * channels + c
            let e00 = load16(top)
            let e01 = secondColumn ? load16(top + channels) : SIMD16()
            let e10 = secondRow ? load16(top + w * channels) : SIMD16()
            let e11 = secondRow && secondColumn ? load16(top + (w + 1) * channels) : SIMD16()
            // Rows: t = A e (4×2); columns: Z = t Aᵀ, row by row of t.
            @inline(__always) func store(_ i: Int, _ a: SIMD16<Float>, _ b: SIMD16<Float>) {
                let base = z + 4 * i * plane + c
                store16(a, base)
                store16(a + b, base + plane)
                store16(a - b, base + 2 * plane)
                store16(-b, base + 3 * plane)
            }
            store(0, e00, e01)
            store(1, e00 + e10, e01 + e11)
            store(2, e00 - e10, e01 - e11)
            store(3, -e10, -e11)
        }
    }

    /// dL/dg = Gᵀ (dL/dU) G for every pair of channels, into the HWIO weight gradient.
    private static func transformWeightGradient(_ du: UnsafePointer<Float>, inputChannels cin: Int, outputChannels cout: Int,
                                                into dw: UnsafeMutablePointer<Float>) {
        let half = SIMD16<Float>(repeating: 0.5)
        let plane = cin * cout
        for ci in 0..<cin {
            for co in stride(from: 0, to: cout, by: 16) {
                @inline(__always) func e(_ i: Int, _ j: Int) -> SIMD16<Float> { load16(du + (4 * i + j) * plane + ci * cout + co) }
                // Rows: t = Gᵀ X (3×4), one column j at a time.
                @inline(__always) func column(_ j: Int) -> (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>) {
                    let x0 = e(0, j), x1 = e(1, j), x2 = e(2, j), x3 = e(3, j)
                    let sum = half * (x1 + x2)
                    return (x0 + sum, half * (x1 - x2), sum + x3)
                }
                let c0 = column(0), c1 = column(1), c2 = column(2), c3 = column(3)
                // Columns: w = t G.
                @inline(__always) func store(_ r: Int, _ a: SIMD16<Float>, _ b: SIMD16<Float>, _ c: SIMD16<Float>, _ d: SIMD16<Float>) {
                    let sum = half * (b + c)
                    store16(a + sum, dw + ((r * 3 + 0) * cin + ci) * cout + co)
                    store16(half * (b - c), dw + ((r * 3 + 1) * cin + ci) * cout + co)
                    store16(sum + d, dw + ((r * 3 + 2) * cin + ci) * cout + co)
                }
                store(0, c0.0, c1.0, c2.0, c3.0)
                store(1, c0.1, c1.1, c2.1, c3.1)
                store(2, c0.2, c1.2, c2.2, c3.2)
            }
        }
    }
}
