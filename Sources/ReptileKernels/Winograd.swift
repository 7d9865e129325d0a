// Winograd's minimal filtering F(4×4, 3×3) for the 3×3 convolutions with stride 1 and one pixel
// of zero padding on every side (Mini-ImageNet's layers after the first), channels in whole
// 16-float vectors. Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks" (2016).
//
// Each 4×4 block of output pixels (a tile) comes from a 6×6 input patch d with 36 multiplications
// per pair of channels instead of 144: Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A. Summed over the input
// channels, the element-wise products become 36 matrix products (one per position ξ of the 6×6
// transformed patch) of [tiles × inC] by [inC × outC], which run on the register-blocked
// microkernels. Tiles go in blocks of whole tile rows whose transformed patches and products stay
// in L2. The transforms' constants are small (at most 8, and 1/24), so the results match the
// direct convolution to a few units in the last place of float32.

import CReptileKernels

/// F(4×4, 3×3) convolutions (see the file header); ``Convolution`` uses them where ``applies(to:)``.
public enum Winograd {
    /// Whether the geometry is a 3×3 convolution with stride 1 and one pixel of zero padding on
    /// every side (output size = input size), channels in multiples of 16.
    public static func applies(to g: ConvGeometry) -> Bool {
        g.kernelHeight == 3 && g.kernelWidth == 3 && g.strideY == 1 && g.strideX == 1
            && g.padTop == 1 && g.padLeft == 1
            && g.outputHeight == g.inputHeight && g.outputWidth == g.inputWidth
            && g.inputChannels % 16 == 0 && g.outputChannels % 16 == 0
    }

    /// Output pixels per tile side, and transformed values per patch side.
    static let tileSide = 4, patchSide = 6
    /// Positions ξ of a transformed patch: one matrix product each.
    static let positions = 36

    /// Floats of a block's transformed patches and products together (about 768 KB): both stay in
    /// L2 between the transforms and the 36 products.
    static let blockFloats = 196_608

    /// The tiling of one call: `tilesX` tiles per tile row, blocks of `rowsPerBlock` tile rows.
    struct Tiling {
        let height: Int, width: Int
        let tilesY: Int, tilesX: Int
        let tileRows: Int
        let rowsPerBlock: Int
        var maxTiles: Int { rowsPerBlock * tilesX }

        init(_ g: ConvGeometry, batch: Int, channels: Int) {
            height = g.outputHeight
            width = g.outputWidth
            tilesY = (height + tileSide - 1) / tileSide
            tilesX = (width + tileSide - 1) / tileSide
            tileRows = batch * tilesY
            rowsPerBlock = max(1, min(tileRows, Winograd.blockFloats / (positions * channels * tilesX)))
        }
    }

    typealias Vector6 = (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>)

    /// Bᵀ d for one column d of a patch.
    @inline(__always)
    static func inputTransform(_ d: Vector6) -> Vector6 {
        let four = SIMD16<Float>(repeating: 4), five = SIMD16<Float>(repeating: 5), two = SIMD16<Float>(repeating: 2)
        let (d0, d1, d2, d3, d4, d5) = d
        let a = d4 - four * d2, b = d3 - four * d1   // rows 1 and 2: a + b, a − b
        let c = d4 - d2, e = two * (d3 - d1)         // rows 3 and 4: c + e, c − e
        return (four * d0 - five * d2 + d4, a + b, a - b, c + e, c - e, four * d1 - five * d3 + d5)
    }

    /// Aᵀ m for one column m of the products: four output values.
    @inline(__always)
    static func outputTransform(_ m: Vector6) -> (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>) {
        let two = SIMD16<Float>(repeating: 2), four = SIMD16<Float>(repeating: 4), eight = SIMD16<Float>(repeating: 8)
        let (m0, m1, m2, m3, m4, m5) = m
        let p12 = m1 + m2, q12 = m1 - m2, p34 = m3 + m4, q34 = m3 - m4
        return (m0 + p12 + p34, q12 + two * q34, p12 + four * p34, q12 + eight * q34 + m5)
    }

    /// G g for one column g of a kernel.
    @inline(__always)
    static func kernelTransform(_ g0: SIMD16<Float>, _ g1: SIMD16<Float>, _ g2: SIMD16<Float>) -> Vector6 {
        let quarter = SIMD16<Float>(repeating: 0.25), sixth = SIMD16<Float>(repeating: 1.0 / 6)
        let twelfth = SIMD16<Float>(repeating: 1.0 / 12), twentyFourth = SIMD16<Float>(repeating: 1.0 / 24)
        let outer = g0 + g2
        let a = twentyFourth * g0 + sixth * g2
        return (quarter * g0, -sixth * (outer + g1), -sixth * (outer - g1), a + twelfth * g1, a - twelfth * g1, g2)
    }

    /// Gᵀ x for one column x of the gradient of U: three values.
    @inline(__always)
    static func kernelGradientTransform(_ x: Vector6) -> (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>) {
        let quarter = SIMD16<Float>(repeating: 0.25), sixth = SIMD16<Float>(repeating: 1.0 / 6)
        let twelfth = SIMD16<Float>(repeating: 1.0 / 12), twentyFourth = SIMD16<Float>(repeating: 1.0 / 24)
        let (x0, x1, x2, x3, x4, x5) = x
        return (quarter * x0 - sixth * (x1 + x2) + twentyFourth * (x3 + x4),
                sixth * (x2 - x1) + twelfth * (x3 - x4),
                sixth * (x3 + x4 - x1 - x2) + x5)
    }

    /// A e for one column e of a tile's output gradient: six values.
    @inline(__always)
    static func outputGradientTransform(_ e0: SIMD16<Float>, _ e1: SIMD16<Float>, _ e2: SIMD16<Float>, _ e3: SIMD16<Float>) -> Vector6 {
        let two = SIMD16<Float>(repeating: 2), four = SIMD16<Float>(repeating: 4), eight = SIMD16<Float>(repeating: 8)
        let even = e0 + e2, odd = e1 + e3
        let even4 = e0 + four * e2, odd2 = two * e1 + eight * e3
        return (e0, even + odd, even - odd, even4 + odd2, even4 - odd2, e3)
    }

    // MARK: - Forward and input gradient

    /// `output = conv(input, weights) + bias` (see ``Convolution/forward(_:batch:input:weights:bias:output:saved:scratch:outputColumnSums:algorithm:)``,
    /// whose `outputColumnSums` this also fills, in the same row order).
    public static func forward(
        _ g: ConvGeometry, batch: Int, input: UnsafePointer<Float>, weights: UnsafePointer<Float>,
        bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>, scratch: KernelScratch,
        outputColumnSums: UnsafeMutablePointer<Float>? = nil
    ) {
        precondition(applies(to: g), "Winograd F(4×4, 3×3) does not apply to \(g)")
        let cin = g.inputChannels, cout = g.outputChannels
        let tiling = Tiling(g, batch: batch, channels: cin + cout)
        let weightFloats = positions * cin * cout
        let u = scratch.transformFloats(weightFloats + positions * tiling.maxTiles * (cin + cout) + kernelReadSlack)
        transformWeights(weights, inputChannels: cin, outputChannels: cout, into: u)
        convolve(tiling, input: input, inputChannels: cin, transformedWeights: UnsafePointer(u), outputChannels: cout,
                 bias: bias, output: output, columnSums: outputColumnSums, workspace: u + weightFloats, scratch: scratch)
    }

    /// The gradient with respect to the input (overwrites `inputGradient`): with stride 1 and
    /// symmetric padding it is the same convolution of the output gradient with the kernel
    /// flipped and its channels swapped.
    public static func backwardInput(
        _ g: ConvGeometry, batch: Int, outputGradient dy: UnsafePointer<Float>, weights: UnsafePointer<Float>,
        inputGradient dx: UnsafeMutablePointer<Float>, scratch: KernelScratch
    ) {
        precondition(applies(to: g), "Winograd F(4×4, 3×3) does not apply to \(g)")
        let cin = g.inputChannels, cout = g.outputChannels
        let tiling = Tiling(g, batch: batch, channels: cin + cout)
        let weightFloats = positions * cin * cout
        let blockFloats = max(positions * tiling.maxTiles * (cin + cout), 9 * cin * cout)
        let u = scratch.transformFloats(weightFloats + blockFloats + kernelReadSlack)
        // The flipped kernel, [tap][outC][inC], in the block buffers (not needed yet).
        let flipped = u + weightFloats
        for t in 0..<9 {
            Vector.transpose(weights + (8 - t) * cin * cout, rows: cin, columns: cout, into: flipped + t * cout * cin)
        }
        transformWeights(flipped, inputChannels: cout, outputChannels: cin, into: u)
        convolve(tiling, input: dy, inputChannels: cout, transformedWeights: UnsafePointer(u), outputChannels: cin,
                 bias: nil, output: dx, columnSums: nil, workspace: u + weightFloats, scratch: scratch)
    }

    /// U = G g Gᵀ for every pair of channels: `u[ξ][ci][co]`, ξ = 6·row + column of the 6×6 transform.
    static func transformWeights(_ w: UnsafePointer<Float>, inputChannels cin: Int, outputChannels cout: Int,
                                 into u: UnsafeMutablePointer<Float>) {
        let plane = cin * cout
        for ci in 0..<cin {
            for coVector in 0..<cout / 16 {
                let co = coVector &* 16
                @inline(__always) func g(_ ky: Int, _ kx: Int) -> SIMD16<Float> { load16(w + ((ky * 3 + kx) * cin + ci) * cout + co) }
                // Columns first: t = G g (6×3), then each row of t through G again: U = t Gᵀ.
                let t0 = kernelTransform(g(0, 0), g(1, 0), g(2, 0))
                let t1 = kernelTransform(g(0, 1), g(1, 1), g(2, 1))
                let t2 = kernelTransform(g(0, 2), g(1, 2), g(2, 2))
                @inline(__always) func store(_ r: Int, _ row: Vector6) {
                    let base = u + 6 * r * plane + ci * cout + co
                    store16(row.0, base); store16(row.1, base + plane); store16(row.2, base + 2 * plane)
                    store16(row.3, base + 3 * plane); store16(row.4, base + 4 * plane); store16(row.5, base + 5 * plane)
                }
                store(0, kernelTransform(t0.0, t1.0, t2.0))
                store(1, kernelTransform(t0.1, t1.1, t2.1))
                store(2, kernelTransform(t0.2, t1.2, t2.2))
                store(3, kernelTransform(t0.3, t1.3, t2.3))
                store(4, kernelTransform(t0.4, t1.4, t2.4))
                store(5, kernelTransform(t0.5, t1.5, t2.5))
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
        let v = workspace, m = workspace + positions * maxTiles * cin
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
                    transformPatch(image, height: h, width: w, channels: cin, y0: tileSide * ty - 1, x0: tileSide * tx - 1,
                                   into: v + t * cin, plane: vPlane)
                    t += 1
                }
            }
            for xi in 0..<positions {
                Matmul.multiply(m: tiles, n: cout, k: cin, a: v + xi * vPlane, lda: cin, b: u + xi * cin * cout, ldb: cout,
                                c: m + xi * mPlane, ldc: cout, scratch: scratch)
            }
            t = 0
            for q in q0..<q1 {
                let n = q / tiling.tilesY, ty = q - n * tiling.tilesY
                let image = output + n * h * w * cout
                for tx in 0..<tiling.tilesX {
                    transformProducts(m + t * cout, plane: mPlane, channels: cout, bias: bias,
                                      into: image, height: h, width: w, y0: tileSide * ty, x0: tileSide * tx)
                    t += 1
                }
                if let columnSums {
                    // The tile row's output rows, pixel after pixel, as `Vector.columnSums` adds them.
                    let rowStart = image + tileSide * ty * w * cout
                    let pixels = min(tileSide, h - tileSide * ty) * w
                    reptile_add_strided_rows(rowStart, pixels, cout, cout, columnSums)
                }
            }
            q0 = q1
        }
    }

    /// V = Bᵀ d B of the 6×6 patch whose top-left pixel is (y0, x0) (zeros outside the image),
    /// written to `v[ξ · plane + c]`. (C per instruction set, winograd.c; the operations of
    /// ``inputTransform(_:)``.)
    @inline(__always)
    private static func transformPatch(
        _ image: UnsafePointer<Float>, height h: Int, width w: Int, channels: Int, y0: Int, x0: Int,
        into v: UnsafeMutablePointer<Float>, plane: Int
    ) {
        reptile_winograd_input_tile(image, h, w, channels, y0, x0, v, plane)
    }

    /// Y = Aᵀ m A (+ bias) for the tile whose top-left output pixel is (y0, x0); pixels past the
    /// image's last row or column are not written. (C per instruction set, winograd.c; the
    /// operations of ``outputTransform(_:)``.)
    @inline(__always)
    private static func transformProducts(
        _ m: UnsafePointer<Float>, plane: Int, channels: Int, bias: UnsafePointer<Float>?,
        into image: UnsafeMutablePointer<Float>, height h: Int, width w: Int, y0: Int, x0: Int
    ) {
        reptile_winograd_output_tile(m, plane, channels, bias, image, h, w, y0, x0)
    }

    // MARK: - Weight gradient

    /// The gradient with respect to the weights (overwrites `weightGradient`): with M = U ⊙ V per
    /// tile and Y = Aᵀ M A, dL/dM = A dY Aᵀ, dL/dU = Σ over tiles of V ⊙ dL/dM — 36 products of
    /// [inC × tiles] by [tiles × outC] — and dL/dg = Gᵀ (dL/dU) G.
    public static func backwardWeights(
        _ g: ConvGeometry, batch: Int, input: UnsafePointer<Float>, outputGradient dy: UnsafePointer<Float>,
        weightGradient dw: UnsafeMutablePointer<Float>, scratch: KernelScratch
    ) {
        precondition(applies(to: g), "Winograd F(4×4, 3×3) does not apply to \(g)")
        let cin = g.inputChannels, cout = g.outputChannels
        let tiling = Tiling(g, batch: batch, channels: cin + cout)
        let h = tiling.height, w = tiling.width
        let maxTiles = tiling.maxTiles
        let weightFloats = positions * cin * cout
        let du = scratch.transformFloats(weightFloats + positions * maxTiles * (cin + cout) + kernelReadSlack)
        let v = du + weightFloats, z = v + positions * maxTiles * cin
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
                    transformPatch(image, height: h, width: w, channels: cin, y0: tileSide * ty - 1, x0: tileSide * tx - 1,
                                   into: v + t * cin, plane: vPlane)
                    transformOutputGradient(gradient, height: h, width: w, channels: cout, y0: tileSide * ty, x0: tileSide * tx,
                                            into: z + t * cout, plane: zPlane)
                    t += 1
                }
            }
            for xi in 0..<positions {
                Matmul.multiplyTransposingA(m: cin, n: cout, k: tiles, a: v + xi * vPlane, lda: cin, b: z + xi * zPlane,
                                            ldb: cout, c: du + xi * cin * cout, ldc: cout, accumulate: q0 > 0, scratch: scratch)
            }
            q0 = q1
        }
        transformWeightGradient(UnsafePointer(du), inputChannels: cin, outputChannels: cout, into: dw)
    }

    /// Z = A e Aᵀ of the 4×4 output-gradient tile whose top-left pixel is (y0, x0) (zeros past
    /// the image's last row or column), written to `z[ξ · plane + c]`. (C per instruction set,
    /// winograd.c; the operations of ``outputGradientTransform(_:_:_:_:)``.)
    @inline(__always)
    private static func transformOutputGradient(
        _ image: UnsafePointer<Float>, height h: Int, width w: Int, channels: Int, y0: Int, x0: Int,
        into z: UnsafeMutablePointer<Float>, plane: Int
    ) {
        reptile_winograd_gradient_tile(image, h, w, channels, y0, x0, z, plane)
    }

    /// dL/dg = Gᵀ (dL/dU) G for every pair of channels, into the HWIO weight gradient.
    private static func transformWeightGradient(_ du: UnsafePointer<Float>, inputChannels cin: Int, outputChannels cout: Int,
                                                into dw: UnsafeMutablePointer<Float>) {
        let plane = cin * cout
        for ci in 0..<cin {
            for coVector in 0..<cout / 16 {
                let co = coVector &* 16
                @inline(__always) func e(_ i: Int, _ j: Int) -> SIMD16<Float> { load16(du + (6 * i + j) * plane + ci * cout + co) }
                // Columns: t = Gᵀ X (3×6), then each row of t through Gᵀ again: w = t G.
                @inline(__always) func column(_ j: Int) -> (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>) {
                    kernelGradientTransform((e(0, j), e(1, j), e(2, j), e(3, j), e(4, j), e(5, j)))
                }
                let c0 = column(0), c1 = column(1), c2 = column(2), c3 = column(3), c4 = column(4), c5 = column(5)
                @inline(__always) func store(_ r: Int, _ row: Vector6) {
                    let x = kernelGradientTransform(row)
                    store16(x.0, dw + ((r * 3 + 0) * cin + ci) * cout + co)
                    store16(x.1, dw + ((r * 3 + 1) * cin + ci) * cout + co)
                    store16(x.2, dw + ((r * 3 + 2) * cin + ci) * cout + co)
                }
                store(0, (c0.0, c1.0, c2.0, c3.0, c4.0, c5.0))
                store(1, (c0.1, c1.1, c2.1, c3.1, c4.1, c5.1))
                store(2, (c0.2, c1.2, c2.2, c3.2, c4.2, c5.2))
            }
        }
    }
}
