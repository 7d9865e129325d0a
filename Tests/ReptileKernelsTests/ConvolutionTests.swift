import Testing
@testable import ReptileKernels

/// Random buffer helper: values in [-1, 1) from a fixed stream.
func randomBuffer(_ count: Int, seed: Int) -> FloatBuffer {
    var rng = RandomGenerator(seed: seed, stream: 99)
    let b = FloatBuffer(count: count)
    for i in 0..<count { b.pointer[i] = rng.uniform(-1, 1) }
    return b
}

/// Tolerance for a float32 result whose largest magnitude is that of `reference`: 2e-5 of it,
/// and at least 1e-4 (Winograd's F(4×4, 3×3) rounds a few times more than the direct sums).
func tolerance(_ reference: UnsafePointer<Float>, count: Int) -> Float {
    var m: Float = 0
    for i in 0..<count { m = max(m, abs(reference[i])) }
    return 2e-5 * max(5, m)
}

func maxDifference(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
    var m: Float = 0
    for i in 0..<count {
        let d = abs(a[i] - b[i])
        if d.isNaN { return .nan }  // `max` would skip it
        m = max(m, d)
    }
    return m
}

/// Geometries the models use (Omniglot: stride 2 on 28/14/7/4, Mini-ImageNet: stride 1 on 84…)
/// plus awkward ones that exercise partial tiles and the fallback.
let convCases: [(String, ConvGeometry, Int)] = [
    ("omniglot-1", .same(inputHeight: 28, inputWidth: 28, inputChannels: 1, outputChannels: 64, kernelSize: 3, stride: 2), 3),
    ("omniglot-2", .same(inputHeight: 14, inputWidth: 14, inputChannels: 64, outputChannels: 64, kernelSize: 3, stride: 2), 3),
    ("omniglot-3", .same(inputHeight: 7, inputWidth: 7, inputChannels: 64, outputChannels: 64, kernelSize: 3, stride: 2), 5),
    ("omniglot-4", .same(inputHeight: 4, inputWidth: 4, inputChannels: 64, outputChannels: 64, kernelSize: 3, stride: 2), 7),
    ("mini-1", .same(inputHeight: 12, inputWidth: 11, inputChannels: 3, outputChannels: 32, kernelSize: 3, stride: 1), 2),
    ("mini-2", .same(inputHeight: 11, inputWidth: 11, inputChannels: 32, outputChannels: 32, kernelSize: 3, stride: 1), 3),
    ("wide-80", .same(inputHeight: 5, inputWidth: 6, inputChannels: 48, outputChannels: 80, kernelSize: 3, stride: 1), 2),
    ("narrow-16", .same(inputHeight: 5, inputWidth: 5, inputChannels: 16, outputChannels: 16, kernelSize: 3, stride: 2), 3),
    ("fallback-5", .same(inputHeight: 6, inputWidth: 5, inputChannels: 3, outputChannels: 5, kernelSize: 3, stride: 1), 2),
    // Batches large enough that the weight gradient sums over several row chunks.
    ("omniglot-2-chunked", .same(inputHeight: 14, inputWidth: 14, inputChannels: 64, outputChannels: 64, kernelSize: 3, stride: 2), 50),
    ("mini-1-chunked", .same(inputHeight: 12, inputWidth: 11, inputChannels: 3, outputChannels: 32, kernelSize: 3, stride: 1), 40),
    ("mini-2-chunked", .same(inputHeight: 11, inputWidth: 11, inputChannels: 32, outputChannels: 32, kernelSize: 3, stride: 1), 40),
    ("valid-5x5", .valid(inputHeight: 9, inputWidth: 9, inputChannels: 32, outputChannels: 48, kernelSize: 5, stride: 2), 2),
    // The input gradient gathers per class of pixels modulo the stride: a stride of 3, and a
    // 1×1 kernel with stride 2 whose odd rows and columns receive nothing at all.
    ("stride-3", .same(inputHeight: 10, inputWidth: 8, inputChannels: 32, outputChannels: 16, kernelSize: 5, stride: 3), 2),
    ("pointwise-stride-2", .valid(inputHeight: 7, inputWidth: 6, inputChannels: 80, outputChannels: 32, kernelSize: 1, stride: 2), 3),
    // Few input channels (kernel-row taps over a padded copy; im2col for one channel) where the
    // strides leave the last input row and column unread, and a 5-wide kernel.
    ("few-channels-valid", .valid(inputHeight: 10, inputWidth: 8, inputChannels: 3, outputChannels: 16, kernelSize: 3, stride: 2), 3),
    ("one-channel-valid", .valid(inputHeight: 10, inputWidth: 8, inputChannels: 1, outputChannels: 32, kernelSize: 3, stride: 2), 3),
    ("few-channels-5x5", .same(inputHeight: 9, inputWidth: 7, inputChannels: 3, outputChannels: 64, kernelSize: 5, stride: 2), 2),
    // Winograd F(4×4, 3×3) (stride 1, 3×3, channels in 16s): even and odd sides (partial tiles),
    // single pixels, unequal channel counts, and blocks of several tile rows across images.
    ("winograd-even", .same(inputHeight: 6, inputWidth: 8, inputChannels: 16, outputChannels: 32, kernelSize: 3, stride: 1), 2),
    ("winograd-1x1", .same(inputHeight: 1, inputWidth: 1, inputChannels: 32, outputChannels: 16, kernelSize: 3, stride: 1), 3),
    ("winograd-2x3", .same(inputHeight: 2, inputWidth: 3, inputChannels: 48, outputChannels: 16, kernelSize: 3, stride: 1), 1),
    ("winograd-mini-3", .same(inputHeight: 21, inputWidth: 21, inputChannels: 32, outputChannels: 32, kernelSize: 3, stride: 1), 5),
]

@Test("'same' padding puts the extra row at the bottom", arguments: [(28, 14, 0), (14, 7, 0), (7, 4, 1), (4, 2, 0)])
func samePadding(input: Int, output: Int, padTop: Int) {
    let g = ConvGeometry.same(inputHeight: input, inputWidth: input, inputChannels: 1, outputChannels: 16, kernelSize: 3, stride: 2)
    #expect(g.outputHeight == output)
    #expect(g.padTop == padTop)
    #expect(g.padLeft == padTop)
}

/// A buffer of `count` NaNs.
func nanBuffer(_ count: Int) -> FloatBuffer {
    let buffer = FloatBuffer(count: count)
    buffer.pointer.update(repeating: .nan, count: count)
    return buffer
}

@Test("fast convolution kernels match the reference loops", arguments: convCases.indices, [Convolution.Algorithm.automatic, .direct])
func convolutionMatchesReference(index: Int, algorithm: Convolution.Algorithm) {
    let (name, g, batch) = convCases[index]
    let scratch = KernelScratch()
    let x = randomBuffer(batch * g.inputSize, seed: 1)
    let w = randomBuffer(g.weightCount, seed: 2)
    let bias = randomBuffer(g.outputChannels, seed: 3)
    let dy = randomBuffer(batch * g.outputSize, seed: 4)
    let saved = FloatBuffer(count: max(g.savedScratchCount(batch: batch), 1))

    // The fast kernels overwrite their outputs: start them as NaN so that a float left unwritten fails.
    let y = nanBuffer(batch * g.outputSize), yRef = FloatBuffer(count: batch * g.outputSize)
    Convolution.forward(g, batch: batch, input: x.pointer, weights: w.pointer, bias: bias.pointer, output: y.pointer, saved: saved.pointer,
                        scratch: scratch, algorithm: algorithm)
    Convolution.Reference.forward(g, batch: batch, input: x.pointer, weights: w.pointer, bias: bias.pointer, output: yRef.pointer)
    #expect(maxDifference(y.pointer, yRef.pointer, count: y.count) < tolerance(yRef.pointer, count: y.count), "forward \(name)")

    let dx = nanBuffer(batch * g.inputSize), dxRef = FloatBuffer(count: batch * g.inputSize)
    Convolution.backwardInput(g, batch: batch, outputGradient: dy.pointer, weights: w.pointer, inputGradient: dx.pointer, scratch: scratch,
                              algorithm: algorithm)
    Convolution.Reference.backwardInput(g, batch: batch, outputGradient: dy.pointer, weights: w.pointer, inputGradient: dxRef.pointer)
    #expect(maxDifference(dx.pointer, dxRef.pointer, count: dx.count) < tolerance(dxRef.pointer, count: dx.count), "input gradient \(name)")

    let dw = nanBuffer(g.weightCount), dwRef = FloatBuffer(count: g.weightCount)
    let db = nanBuffer(g.outputChannels)
    Convolution.backwardWeights(g, batch: batch, input: x.pointer, outputGradient: dy.pointer, saved: saved.pointer,
                                weightGradient: dw.pointer, biasGradient: db.pointer, scratch: scratch, algorithm: algorithm)
    Convolution.Reference.backwardWeights(g, batch: batch, input: x.pointer, outputGradient: dy.pointer, weightGradient: dwRef.pointer)
    #expect(maxDifference(dw.pointer, dwRef.pointer, count: dw.count) < 1e-3, "weight gradient \(name)")
    for o in 0..<g.outputChannels {
        var s: Float = 0
        for m in 0..<(batch * g.outputHeight * g.outputWidth) { s += dy.pointer[m * g.outputChannels + o] }
        #expect(abs(db.pointer[o] - s) < 1e-3)
    }
}

@Test("the sums handed to a batch norm are those of Vector.columnSums, with either algorithm",
      arguments: [0, 4, 5, 8, 11, 13, 18, 21], [Convolution.Algorithm.automatic, .direct])
func outputColumnSumsMatchColumnSums(index: Int, algorithm: Convolution.Algorithm) {
    let (name, g, batch) = convCases[index]
    let scratch = KernelScratch()
    let x = randomBuffer(batch * g.inputSize, seed: 1)
    let w = randomBuffer(g.weightCount, seed: 2)
    let bias = randomBuffer(g.outputChannels, seed: 3)
    let saved = FloatBuffer(count: max(g.savedScratchCount(batch: batch), 1))
    let y = FloatBuffer(count: batch * g.outputSize)
    let sums = nanBuffer(g.outputChannels), expected = FloatBuffer(count: g.outputChannels)
    Convolution.forward(g, batch: batch, input: x.pointer, weights: w.pointer, bias: bias.pointer, output: y.pointer, saved: saved.pointer,
                        scratch: scratch, outputColumnSums: sums.pointer, algorithm: algorithm)
    Vector.columnSums(y.pointer, rows: batch * g.outputHeight * g.outputWidth, columns: g.outputChannels, into: expected.pointer)
    #expect((0..<g.outputChannels).allSatisfy { sums.pointer[$0] == expected.pointer[$0] }, "\(name)")
}

@Test func winogradAppliesToMiniImageNetLayersOnly() {
    for side in [42, 21, 11] {
        #expect(Winograd.applies(to: .same(inputHeight: side, inputWidth: side, inputChannels: 32, outputChannels: 32, kernelSize: 3, stride: 1)))
    }
    #expect(!Winograd.applies(to: .same(inputHeight: 84, inputWidth: 84, inputChannels: 3, outputChannels: 32, kernelSize: 3, stride: 1)))
    #expect(!Winograd.applies(to: .same(inputHeight: 14, inputWidth: 14, inputChannels: 64, outputChannels: 64, kernelSize: 3, stride: 2)))
    #expect(!Winograd.applies(to: .valid(inputHeight: 9, inputWidth: 9, inputChannels: 32, outputChannels: 32, kernelSize: 3, stride: 1)))
}

/// The cases whose products run in bf16: the direct kernels over 16·j input channels.
let bf16ConvCases = convCases.indices.filter { convCases[$0].1.usesFastPath && !convCases[$0].1.hasFewInputChannels }

@Test("bf16 products: the forward pass and both gradients are the fp32 sums of the bf16-rounded operands",
      .enabled(if: Precision.bf16.isAvailable, "this CPU has no AVX512-BF16"), arguments: bf16ConvCases)
func bf16ConvolutionMatchesRoundedReference(index: Int) {
    let (name, g, batch) = convCases[index]
    let scratch = KernelScratch()
    let x = randomBuffer(batch * g.inputSize, seed: 1)
    let w = randomBuffer(g.weightCount, seed: 2)
    let bias = randomBuffer(g.outputChannels, seed: 3)
    let dy = randomBuffer(batch * g.outputSize, seed: 4)
    func rounded(_ b: FloatBuffer) -> FloatBuffer {
        let r = FloatBuffer(count: b.count)
        for i in 0..<b.count { r.pointer[i] = BF16.round(b.pointer[i]) }
        return r
    }
    let xr = rounded(x), wr = rounded(w), dyr = rounded(dy)
    // bf16 keeps 8 significant bits: rounding moves these values by up to 2⁻⁹ of themselves.
    #expect(maxDifference(x.pointer, xr.pointer, count: x.count) > 1e-4)

    let y = nanBuffer(batch * g.outputSize), yRef = FloatBuffer(count: batch * g.outputSize)
    let yFP32 = FloatBuffer(count: batch * g.outputSize)
    let sums = nanBuffer(g.outputChannels), expectedSums = FloatBuffer(count: g.outputChannels)
    Convolution.forward(g, batch: batch, input: x.pointer, weights: w.pointer, bias: bias.pointer, output: y.pointer, saved: nil,
                        scratch: scratch, outputColumnSums: sums.pointer, algorithm: .direct, precision: .bf16)
    Convolution.Reference.forward(g, batch: batch, input: xr.pointer, weights: wr.pointer, bias: bias.pointer, output: yRef.pointer)
    Convolution.forward(g, batch: batch, input: x.pointer, weights: w.pointer, bias: bias.pointer, output: yFP32.pointer, saved: nil,
                        scratch: scratch, algorithm: .direct)
    let t = tolerance(yRef.pointer, count: y.count)
    #expect(maxDifference(y.pointer, yRef.pointer, count: y.count) < t, "forward \(name)")
    #expect(maxDifference(y.pointer, yFP32.pointer, count: y.count) > 10 * t, "forward \(name) ran in fp32")
    Vector.columnSums(y.pointer, rows: batch * g.outputHeight * g.outputWidth, columns: g.outputChannels, into: expectedSums.pointer)
    #expect((0..<g.outputChannels).allSatisfy { sums.pointer[$0] == expectedSums.pointer[$0] }, "column sums \(name)")

    let dx = nanBuffer(batch * g.inputSize), dxRef = FloatBuffer(count: batch * g.inputSize)
    Convolution.backwardInput(g, batch: batch, outputGradient: dy.pointer, weights: w.pointer, inputGradient: dx.pointer,
                              scratch: scratch, algorithm: .direct, precision: .bf16)
    Convolution.Reference.backwardInput(g, batch: batch, outputGradient: dyr.pointer, weights: wr.pointer, inputGradient: dxRef.pointer)
    #expect(maxDifference(dx.pointer, dxRef.pointer, count: dx.count) < tolerance(dxRef.pointer, count: dx.count), "input gradient \(name)")

    let dw = nanBuffer(g.weightCount), dwRef = FloatBuffer(count: g.weightCount), dwFP32 = FloatBuffer(count: g.weightCount)
    Convolution.backwardWeights(g, batch: batch, input: x.pointer, outputGradient: dy.pointer, saved: nil,
                                weightGradient: dw.pointer, biasGradient: nil, scratch: scratch, algorithm: .direct, precision: .bf16)
    Convolution.Reference.backwardWeights(g, batch: batch, input: xr.pointer, outputGradient: dyr.pointer, weightGradient: dwRef.pointer)
    Convolution.backwardWeights(g, batch: batch, input: x.pointer, outputGradient: dy.pointer, saved: nil,
                                weightGradient: dwFP32.pointer, biasGradient: nil, scratch: scratch, algorithm: .direct)
    let tw = max(1e-3, tolerance(dwRef.pointer, count: dw.count))
    #expect(maxDifference(dw.pointer, dwRef.pointer, count: dw.count) < tw, "weight gradient \(name)")
    #expect(maxDifference(dw.pointer, dwFP32.pointer, count: dw.count) > 3 * tw, "weight gradient \(name) ran in fp32")
}

@Test("bf16 rounds to nearest, ties to even, and keeps NaN and infinity")
func bf16Rounding() {
    #expect(BF16.round(1.0) == 1.0)
    #expect(BF16.round(1 + 1.0 / 256) == 1.0)  // halfway between 1 and 1 + 2⁻⁷: to the even one
    #expect(BF16.round(1 + 3.0 / 256) == 1 + 4.0 / 256)  // halfway, odd below: up
    #expect(BF16.round(1 + 1.0 / 256 + 1.0 / 65536) == 1 + 1.0 / 128)
    #expect(BF16.round(.infinity) == .infinity)
    #expect(BF16.round(.nan).isNaN)
}

@Test("a 3- or 1-channel first layer sums in kernel order (forward) and pixel order (weight gradient), as the tap kernels do",
      arguments: [
        ConvGeometry.same(inputHeight: 12, inputWidth: 11, inputChannels: 3, outputChannels: 32, kernelSize: 3, stride: 1),
        .same(inputHeight: 5, inputWidth: 29, inputChannels: 3, outputChannels: 64, kernelSize: 3, stride: 1),
        .same(inputHeight: 28, inputWidth: 28, inputChannels: 3, outputChannels: 64, kernelSize: 3, stride: 2),
        .valid(inputHeight: 9, inputWidth: 31, inputChannels: 3, outputChannels: 32, kernelSize: 3, stride: 2),
        .same(inputHeight: 7, inputWidth: 26, inputChannels: 3, outputChannels: 16, kernelSize: 3, stride: 1),
        // One channel (Omniglot's first layer; im2col where the first-layer kernel does not apply).
        .same(inputHeight: 28, inputWidth: 28, inputChannels: 1, outputChannels: 64, kernelSize: 3, stride: 2),
        .same(inputHeight: 9, inputWidth: 13, inputChannels: 1, outputChannels: 32, kernelSize: 3, stride: 1),
        .valid(inputHeight: 10, inputWidth: 27, inputChannels: 1, outputChannels: 32, kernelSize: 3, stride: 2),
        .same(inputHeight: 6, inputWidth: 6, inputChannels: 1, outputChannels: 16, kernelSize: 3, stride: 2),
      ])
func firstLayerSumsInTheTapKernelsOrder(g: ConvGeometry) {
    // Every path (the AVX-512 first-layer kernels, the table-driven tiles, im2col's products)
    // starts each output float at zero, adds the products in (ky, kx, channel) order (fused where
    // the kernels fuse), then adds the bias: equality, not tolerance.
    let channels = g.inputChannels
    let fused = selectedMicrokernels.fused != 0
    let batch = 2, scratch = KernelScratch()
    let x = randomBuffer(batch * g.inputSize, seed: 5)
    let w = randomBuffer(g.weightCount, seed: 6)
    let bias = randomBuffer(g.outputChannels, seed: 7)
    let saved = FloatBuffer(count: g.savedScratchCount(batch: batch))
    let y = nanBuffer(batch * g.outputSize), sums = nanBuffer(g.outputChannels)
    Convolution.forward(g, batch: batch, input: x.pointer, weights: w.pointer, bias: bias.pointer, output: y.pointer,
                        saved: saved.pointer, scratch: scratch, outputColumnSums: sums.pointer)
    var mismatches = 0
    var expectedSums = [Float](repeating: 0, count: g.outputChannels)
    for n in 0..<batch {
        for oy in 0..<g.outputHeight {
            for ox in 0..<g.outputWidth {
                let m = (n * g.outputHeight + oy) * g.outputWidth + ox
                for o in 0..<g.outputChannels {
                    var acc: Float = 0
                    for ky in 0..<3 {
                        for kx in 0..<3 {
                            let iy = oy * g.strideY + ky - g.padTop, ix = ox * g.strideX + kx - g.padLeft
                            for c in 0..<channels {
                                let xv: Float = iy >= 0 && iy < g.inputHeight && ix >= 0 && ix < g.inputWidth
                                    ? x.pointer[((n * g.inputHeight + iy) * g.inputWidth + ix) * channels + c] : 0
                                let wv = w.pointer[((ky * 3 + kx) * channels + c) * g.outputChannels + o]
                                acc = fused ? acc.addingProduct(xv, wv) : acc + xv * wv
                            }
                        }
                    }
                    acc += bias.pointer[o]
                    expectedSums[o] += acc
                    if y.pointer[m * g.outputChannels + o] != acc { mismatches += 1 }
                }
            }
        }
    }
    #expect(mismatches == 0)
    #expect((0..<g.outputChannels).allSatisfy { sums.pointer[$0] == expectedSums[$0] })

    // The weight gradient: each float summed from zero in pixel order (one chunk at these sizes).
    let rowsTotal = batch * g.outputHeight * g.outputWidth
    #expect(rowsTotal <= Convolution.weightGradientChunkRows(g))
    let dy = randomBuffer(batch * g.outputSize, seed: 8)
    let dw = nanBuffer(g.weightCount)
    Convolution.backwardWeights(g, batch: batch, input: x.pointer, outputGradient: dy.pointer, saved: saved.pointer,
                                weightGradient: dw.pointer, biasGradient: nil, scratch: scratch)
    var gradientMismatches = 0
    for ky in 0..<3 {
        for kx in 0..<3 {
            for c in 0..<channels {
                for o in 0..<g.outputChannels {
                    var acc: Float = 0
                    for m in 0..<rowsTotal {
                        let n = m / (g.outputHeight * g.outputWidth), oy = m / g.outputWidth % g.outputHeight, ox = m % g.outputWidth
                        let iy = oy * g.strideY + ky - g.padTop, ix = ox * g.strideX + kx - g.padLeft
                        let xv: Float = iy >= 0 && iy < g.inputHeight && ix >= 0 && ix < g.inputWidth
                            ? x.pointer[((n * g.inputHeight + iy) * g.inputWidth + ix) * channels + c] : 0
                        let gv = dy.pointer[m * g.outputChannels + o]
                        acc = fused ? acc.addingProduct(xv, gv) : acc + xv * gv
                    }
                    if dw.pointer[((ky * 3 + kx) * channels + c) * g.outputChannels + o] != acc { gradientMismatches += 1 }
                }
            }
        }
    }
    #expect(gradientMismatches == 0)
}

@Test("bf16 packing: every layout holds the rounded floats in the documented words",
      .enabled(if: Precision.bf16.isAvailable, "this CPU has no AVX512-BF16"))
func bf16PackingLayouts() {
    let rows = 21, columns = 50  // partial blocks of 16 rows and of 16 column pairs
    let x = randomBuffer(rows * columns, seed: 8)
    func halves(_ word: Float) -> (Float, Float) {
        let bits = word.bitPattern
        return (Float(bitPattern: bits << 16), Float(bitPattern: bits & 0xffff_0000))
    }
    func element(_ i: Int, _ c: Int) -> Float { BF16.round(x.pointer[i * columns + c]) }
    // Column pairs transposed: word p·rows + i holds x[i][2p] and x[i][2p + 1].
    let transposed = nanBuffer(rows * columns / 2 + kernelReadSlack)
    BF16.packTransposed(x.pointer, rows: rows, columns: columns, into: transposed.pointer)
    var wrong = 0
    for p in 0..<columns / 2 {
        for i in 0..<rows where halves(transposed.pointer[p * rows + i]) != (element(i, 2 * p), element(i, 2 * p + 1)) { wrong += 1 }
    }
    // Row pairs: word p·columns + c holds x[2p][c] and x[2p + 1][c].
    let pairs = rows / 2
    let rowWords = nanBuffer(pairs * columns + kernelReadSlack)
    BF16.packRows(x.pointer, pairs: pairs, columns: columns, ld: columns, into: rowWords.pointer)
    for p in 0..<pairs {
        for c in 0..<columns where halves(rowWords.pointer[p * columns + c]) != (element(2 * p, c), element(2 * p + 1, c)) { wrong += 1 }
    }
    // A table of rows in pairs; the last of an odd count alone (zeros in the high halves).
    let table = UnsafeMutablePointer<UnsafePointer<Float>>.allocate(capacity: 3)
    defer { table.deallocate() }
    for r in 0..<3 { table[r] = UnsafePointer(x.pointer + r * columns) }
    let two = nanBuffer(2 * columns + kernelReadSlack)
    BF16.packPairs(table, count: 3, depth: columns, into: two.pointer)
    for c in 0..<columns {
        if halves(two.pointer[c]) != (element(0, c), element(1, c)) { wrong += 1 }
        if halves(two.pointer[columns + c]) != (element(2, c), 0) { wrong += 1 }
    }
    #expect(wrong == 0)
    #expect(transposed.pointer[rows * columns / 2].isNaN && two.pointer[2 * columns].isNaN, "wrote past the end")
}

@Test("the one-channel first-layer kernels give the floats of im2col's products, over several row chunks")
func oneChannelFirstLayerMatchesIm2col() {
    let g = ConvGeometry.same(inputHeight: 28, inputWidth: 28, inputChannels: 1, outputChannels: 64, kernelSize: 3, stride: 2)
    let batch = 23  // 4 508 output pixels: three chunks of the weight gradient's sums
    let rowsTotal = batch * g.outputHeight * g.outputWidth
    #expect(rowsTotal > 2 * Matmul.reductionChunk(columns: g.outputChannels))
    let scratch = KernelScratch()
    let x = randomBuffer(batch * g.inputSize, seed: 9)
    let w = randomBuffer(g.weightCount, seed: 10)
    let bias = randomBuffer(g.outputChannels, seed: 11)
    let dy = randomBuffer(batch * g.outputSize, seed: 12)
    // The im2col path, spelled out.
    let columns = FloatBuffer(count: rowsTotal * 9 + kernelReadSlack)
    Convolution.im2col(g, batch: batch, input: x.pointer, into: columns.pointer, scratch: scratch)
    let yExpected = FloatBuffer(count: batch * g.outputSize), sumsExpected = FloatBuffer(count: g.outputChannels)
    Matmul.multiply(m: rowsTotal, n: g.outputChannels, k: 9, a: columns.pointer, lda: 9, b: w.pointer, ldb: g.outputChannels,
                    c: yExpected.pointer, ldc: g.outputChannels, bias: bias.pointer, scratch: scratch)
    Vector.columnSums(yExpected.pointer, rows: rowsTotal, columns: g.outputChannels, into: sumsExpected.pointer)
    let dwExpected = FloatBuffer(count: g.weightCount)
    Matmul.multiplyTransposingA(m: 9, n: g.outputChannels, k: rowsTotal, a: columns.pointer, lda: 9, b: dy.pointer,
                                ldb: g.outputChannels, c: dwExpected.pointer, ldc: g.outputChannels, scratch: scratch)
    // The layer's own passes (the first-layer kernels where this CPU has them).
    let saved = FloatBuffer(count: g.savedScratchCount(batch: batch))
    let y = nanBuffer(batch * g.outputSize), sums = nanBuffer(g.outputChannels), dw = nanBuffer(g.weightCount)
    Convolution.forward(g, batch: batch, input: x.pointer, weights: w.pointer, bias: bias.pointer, output: y.pointer,
                        saved: saved.pointer, scratch: scratch, outputColumnSums: sums.pointer)
    Convolution.backwardWeights(g, batch: batch, input: x.pointer, outputGradient: dy.pointer, saved: saved.pointer,
                                weightGradient: dw.pointer, biasGradient: nil, scratch: scratch)
    let sameOutput = y.array == yExpected.array, sameSums = sums.array == sumsExpected.array
    let sameGradient = dw.array == dwExpected.array
    #expect(sameOutput && sameSums && sameGradient, "output \(sameOutput), column sums \(sameSums), weight gradient \(sameGradient)")
}

/// Padded geometries whose windows differ: stride 2 with padding below (Omniglot) and on both
/// sides, stride 1, a 5-wide kernel, one whose corner pixels see a single kernel position, and
/// one with no padding (a single window).
let windowCases: [(String, ConvGeometry, Int)] = [
    ("omniglot-2", .same(inputHeight: 14, inputWidth: 14, inputChannels: 64, outputChannels: 64, kernelSize: 3, stride: 2), 5),
    ("omniglot-3", .same(inputHeight: 7, inputWidth: 7, inputChannels: 64, outputChannels: 64, kernelSize: 3, stride: 2), 3),
    ("omniglot-4", .same(inputHeight: 4, inputWidth: 4, inputChannels: 64, outputChannels: 64, kernelSize: 3, stride: 2), 7),
    ("stride-1", .same(inputHeight: 6, inputWidth: 5, inputChannels: 32, outputChannels: 32, kernelSize: 3, stride: 1), 2),
    ("narrow-16", .same(inputHeight: 5, inputWidth: 5, inputChannels: 16, outputChannels: 16, kernelSize: 3, stride: 2), 3),
    ("wide-80", .same(inputHeight: 5, inputWidth: 6, inputChannels: 48, outputChannels: 80, kernelSize: 3, stride: 1), 1),
    ("kernel-5", .same(inputHeight: 3, inputWidth: 4, inputChannels: 16, outputChannels: 32, kernelSize: 5, stride: 1), 2),
    ("valid", .valid(inputHeight: 9, inputWidth: 9, inputChannels: 32, outputChannels: 48, kernelSize: 3, stride: 2), 2),
]

@Test("the forward pass by kernel windows gives the floats of the row-order pass, column sums included",
      arguments: windowCases.indices, [false, true])
func windowedForwardEqualsRowOrder(index: Int, bf16: Bool) throws {
    try #require(!bf16 || Precision.bf16.isAvailable)
    let (name, g, batch) = windowCases[index]
    let scratch = KernelScratch()
    // Every fourth input float zero, like a ReLU's output; weights of both signs.
    let x = randomBuffer(batch * g.inputSize, seed: 5)
    for i in stride(from: 0, to: x.count, by: 4) { x.pointer[i] = 0 }
    var input = UnsafePointer(x.pointer)
    var geometry = g
    let words = FloatBuffer(count: batch * g.inputSize / 2 + kernelReadSlack)
    let w = randomBuffer(g.weightCount, seed: 6)
    var weights = UnsafePointer(w.pointer)
    let packedWeights = FloatBuffer(count: g.weightCount / 2 + kernelReadSlack)
    if bf16 {
        BF16.pack(x.pointer, count: x.count, into: words.pointer)
        BF16.packRows(w.pointer, pairs: g.taps * g.inputChannels / 2, columns: g.outputChannels, ld: g.outputChannels,
                      into: packedWeights.pointer)
        input = UnsafePointer(words.pointer)
        weights = UnsafePointer(packedWeights.pointer)
        geometry = g.bf16Packed
    }
    let bias = randomBuffer(g.outputChannels, seed: 7)
    let byRows = nanBuffer(batch * g.outputSize), byWindows = nanBuffer(batch * g.outputSize)
    let rowSums = nanBuffer(g.outputChannels), windowSums = nanBuffer(g.outputChannels)
    Convolution.forwardImageTaps(geometry, batch: batch, input: input, weights: weights, bias: bias.pointer, output: byRows.pointer,
                                 scratch: scratch, columnSums: rowSums.pointer, bf16: bf16, windows: false)
    Convolution.forwardImageTaps(geometry, batch: batch, input: input, weights: weights, bias: bias.pointer, output: byWindows.pointer,
                                 scratch: scratch, columnSums: windowSums.pointer, bf16: bf16, windows: true)
    #expect((0..<byRows.count).allSatisfy { byRows.pointer[$0].bitPattern == byWindows.pointer[$0].bitPattern }, "\(name)")
    #expect((0..<g.outputChannels).allSatisfy { rowSums.pointer[$0].bitPattern == windowSums.pointer[$0].bitPattern }, "\(name) sums")
    // The windows cover every output pixel once, and skip work wherever there is padding.
    var pixels = 0
    g.forEachKernelWindow { pixels += $0.outputRows.count * $0.outputColumns.count }
    #expect(pixels == g.outputHeight * g.outputWidth)
    if g.padTop + g.padLeft > 0 || (g.inputHeight - g.kernelHeight) % g.strideY != 0 {
        #expect(g.windowedTapCount(batch: 5, tileRows: 5) < g.rowOrderTapCount(batch: 5, tileRows: 5), "\(name)")
    }
}

@Test("the input gradient by windows gives the floats of the pixel-order gather",
      arguments: windowCases.indices, [Precision.fp32, .bf16])
func windowedInputGradientEqualsPixelOrder(index: Int, precision: Precision) throws {
    try #require(precision == .fp32 || Precision.bf16.isAvailable)
    let (name, g, batch) = windowCases[index]
    let scratch = KernelScratch()
    let dy = randomBuffer(batch * g.outputSize, seed: 8)
    for i in stride(from: 0, to: dy.count, by: 3) { dy.pointer[i] = 0 }
    let w = randomBuffer(g.weightCount, seed: 9)
    let byPixels = nanBuffer(batch * g.inputSize), byWindows = nanBuffer(batch * g.inputSize)
    Convolution.backwardInput(g, batch: batch, outputGradient: dy.pointer, weights: w.pointer, inputGradient: byPixels.pointer,
                              scratch: scratch, algorithm: .direct, precision: precision, windows: false)
    Convolution.backwardInput(g, batch: batch, outputGradient: dy.pointer, weights: w.pointer, inputGradient: byWindows.pointer,
                              scratch: scratch, algorithm: .direct, precision: precision, windows: true)
    #expect((0..<byPixels.count).allSatisfy { byPixels.pointer[$0].bitPattern == byWindows.pointer[$0].bitPattern }, "\(name)")
}
