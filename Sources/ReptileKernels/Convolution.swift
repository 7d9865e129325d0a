// 2-D convolution in NHWC layout: forward, input gradient and weight gradient.

import CReptileKernels

/// The shape of a 2-D convolution over NHWC images with HWIO weights
/// (`[kernelHeight][kernelWidth][inputChannels][outputChannels]`, TensorFlow's layout).
public struct ConvGeometry: Equatable, Hashable, Sendable, Codable {
    public var inputHeight: Int
    public var inputWidth: Int
    public var inputChannels: Int
    public var outputChannels: Int
    public var kernelHeight: Int
    public var kernelWidth: Int
    public var strideY: Int
    public var strideX: Int
    /// Rows of zero padding above the image (those below follow from the output size).
    public var padTop: Int
    /// Columns of zero padding left of the image.
    public var padLeft: Int
    public var outputHeight: Int
    public var outputWidth: Int

    /// TensorFlow's "same" padding: the output has ⌈input / stride⌉ rows and columns, and when the
    /// total padding is odd the extra row (column) goes at the bottom (right). For a 3×3 kernel
    /// with stride 2 on 28 rows this pads 0 above and 1 below (28 → 14 → 7 → 4 → 2).
    public static func same(inputHeight: Int, inputWidth: Int, inputChannels: Int, outputChannels: Int,
                            kernelSize: Int, stride: Int) -> ConvGeometry {
        let outH = (inputHeight + stride - 1) / stride
        let outW = (inputWidth + stride - 1) / stride
        let padH = max((outH - 1) * stride + kernelSize - inputHeight, 0)
        let padW = max((outW - 1) * stride + kernelSize - inputWidth, 0)
        return ConvGeometry(inputHeight: inputHeight, inputWidth: inputWidth, inputChannels: inputChannels,
                            outputChannels: outputChannels, kernelHeight: kernelSize, kernelWidth: kernelSize,
                            strideY: stride, strideX: stride, padTop: padH / 2, padLeft: padW / 2,
                            outputHeight: outH, outputWidth: outW)
    }

    /// "Valid" convolution: no padding.
    public static func valid(inputHeight: Int, inputWidth: Int, inputChannels: Int, outputChannels: Int,
                             kernelSize: Int, stride: Int) -> ConvGeometry {
        ConvGeometry(inputHeight: inputHeight, inputWidth: inputWidth, inputChannels: inputChannels,
                     outputChannels: outputChannels, kernelHeight: kernelSize, kernelWidth: kernelSize,
                     strideY: stride, strideX: stride, padTop: 0, padLeft: 0,
                     outputHeight: (inputHeight - kernelSize) / stride + 1,
                     outputWidth: (inputWidth - kernelSize) / stride + 1)
    }

    /// Kernel positions (kernelHeight × kernelWidth).
    public var taps: Int { kernelHeight * kernelWidth }
    /// Floats per input image.
    public var inputSize: Int { inputHeight * inputWidth * inputChannels }
    /// Floats per output image.
    public var outputSize: Int { outputHeight * outputWidth * outputChannels }
    /// Weight floats.
    public var weightCount: Int { taps * inputChannels * outputChannels }
    /// Multiply-adds per image in the forward pass: those with an input pixel; the padding's
    /// zeros add nothing, and the direct kernels skip them.
    public var multiplyAddsPerImage: Int {
        var taps = 0
        forEachKernelWindow { w in
            taps += w.outputRows.count * w.outputColumns.count * w.kernelRows.count * w.kernelColumns.count
        }
        return taps * inputChannels * outputChannels
    }

    /// Whether the register-blocked kernels apply (output channels in multiples of 16).
    var usesFastPath: Bool { outputChannels % 16 == 0 }
    /// Whether the input channels do not fill 16-float vectors (the first layer): per-pixel taps
    /// would run inner loops of 1 or 3 floats, so the forward pass and weight gradient take one
    /// of the two forms below, and the input gradient the reference loops.
    var hasFewInputChannels: Bool { inputChannels % 16 != 0 }
    /// Few input channels, read as one tap per kernel row of a zero-padded copy of the input,
    /// where a kernel row's `kernelWidth × inputChannels` floats are contiguous.
    var usesPaddedRows: Bool { hasFewInputChannels && kernelWidth * inputChannels >= 8 }
    /// A 3×3 kernel over 3 channels (Mini-ImageNet's first layer): the shape the first-layer kernels
    /// (first_layer.c) take on AVX-512 for 32·j outputs, without the tap tables.
    var fitsFirstLayerKernels: Bool { usesPaddedRows && kernelHeight == 3 && kernelWidth == 3 && inputChannels == 3 }
    /// A 3×3 kernel over 1 channel (Omniglot's first layer) where this CPU's first-layer kernels
    /// serve its outputs: both passes read a zero-padded copy (saved by the forward pass) instead of
    /// an im2col matrix, with the floats of im2col's products.
    var takesOneChannelFirstLayerKernel: Bool {
        usesIm2col && kernelHeight == 3 && kernelWidth == 3 && inputChannels == 1
            && reptile_first_layer_applies(outputChannels, strideX) != 0
    }
    /// Few input channels with kernel rows shorter than 8 floats (one channel), which would leave
    /// most rows of the weight gradient's register tiles empty: an explicit im2col matrix instead.
    var usesIm2col: Bool { hasFewInputChannels && !usesPaddedRows }
    /// Rows of the zero-padded copy: all that the output's receptive fields cover.
    var paddedHeight: Int { (outputHeight - 1) * strideY + kernelHeight }
    /// Columns of the zero-padded copy.
    var paddedWidth: Int { (outputWidth - 1) * strideX + kernelWidth }
    /// Floats per image of the zero-padded copy.
    var paddedSize: Int { paddedHeight * paddedWidth * inputChannels }

    /// Offset of input pixel (image n, row iy, column ix) for output row `m` and tap `t`, or nil
    /// if that tap falls into the padding.
    @inline(__always)
    func inputOffset(outputRow m: Int, tap t: Int) -> Int? {
        let perImage = outputHeight * outputWidth
        let n = m / perImage
        let rest = m - n * perImage
        let oy = rest / outputWidth
        let ox = rest - oy * outputWidth
        let ky = t / kernelWidth
        let kx = t - ky * kernelWidth
        let iy = oy * strideY - padTop + ky
        let ix = ox * strideX - padLeft + kx
        if iy < 0 || iy >= inputHeight || ix < 0 || ix >= inputWidth { return nil }
        return ((n * inputHeight + iy) * inputWidth + ix) * inputChannels
    }

    /// The output pixels whose receptive fields keep the same kernel rows and columns inside the
    /// image, and those rows and columns: output rows `outputRows` × columns `outputColumns` of
    /// every image see kernel rows `kernelRows` × columns `kernelColumns` inside it, the rest
    /// in the padding.
    struct KernelWindow {
        var outputRows: Range<Int>
        var outputColumns: Range<Int>
        var kernelRows: Range<Int>
        var kernelColumns: Range<Int>
    }

    /// Calls `body` with each window (rows of windows, then columns), covering every output pixel
    /// once. Allocates nothing.
    @inline(__always)
    func forEachKernelWindow(_ body: (KernelWindow) -> Void) {
        // Output index o reaches input o·stride − pad + k for kernel position k.
        forEachRun(count: outputHeight, of: { o in clampedRange(padTop - o * strideY, inputHeight + padTop - o * strideY, kernelHeight) }) { oy, ky in
            forEachRun(count: outputWidth, of: { o in clampedRange(padLeft - o * strideX, inputWidth + padLeft - o * strideX, kernelWidth) }) { ox, kx in
                body(KernelWindow(outputRows: oy, outputColumns: ox, kernelRows: ky, kernelColumns: kx))
            }
        }
    }

    /// Taps × input floats that the forward pass's tiles of `tileRows` rows multiply in row order
    /// (padding taps included) …
    func rowOrderTapCount(batch: Int, tileRows: Int) -> Int {
        (batch * outputHeight * outputWidth + tileRows - 1) / tileRows * taps * inputChannels
    }

    /// … and window by window (``forEachKernelWindow(_:)``), per output column.
    func windowedTapCount(batch: Int, tileRows: Int) -> Int {
        var total = 0
        forEachKernelWindow { w in
            let pixels = batch * w.outputRows.count * w.outputColumns.count
            total += (pixels + tileRows - 1) / tileRows * w.kernelRows.count * w.kernelColumns.count * inputChannels
        }
        return total
    }

    /// This geometry with the input channels in words of two bf16 (the bf16 forward pass's taps).
    var bf16Packed: ConvGeometry {
        var packed = self
        packed.inputChannels /= 2
        return packed
    }

    /// Floats of scratch the forward pass keeps for the backward pass (for layers with few input
    /// channels: the zero-padded copy of the input, or the im2col matrix).
    public func savedScratchCount(batch: Int) -> Int {
        guard usesFastPath else { return 0 }
        if usesPaddedRows { return batch * paddedSize + kernelReadSlack }
        if usesIm2col {
            return takesOneChannelFirstLayerKernel ? batch * paddedSize + kernelReadSlack
                : batch * outputHeight * outputWidth * taps * inputChannels
        }
        return 0
    }
}

/// `lower ..< upper` clamped to `0 ..< limit` (empty where they do not meet).
@inline(__always)
func clampedRange(_ lower: Int, _ upper: Int, _ limit: Int) -> Range<Int> {
    let first = min(limit, max(0, lower))
    return first..<max(first, min(limit, upper))
}

/// Calls `body` with each run of consecutive indices below `count` that `range` maps to the same
/// range, and that range: the output rows (columns) whose kernel rows (columns) inside the image
/// are the same. Allocates nothing.
@inline(__always)
func forEachRun(count: Int, of range: (Int) -> Range<Int>, _ body: (Range<Int>, Range<Int>) -> Void) {
    var i = 0
    while i < count {
        let r = range(i)
        var end = i + 1
        while end < count && range(end) == r { end += 1 }
        body(i..<end, r)
        i = end
    }
}

/// Walks output rows in order without divisions: for the current row, the offset of its
/// image's first input float and its output position, from which each tap's input pixel follows.
struct OutputRowCursor {
    let g: ConvGeometry
    var image: Int
    var imageBase: Int
    var oy: Int
    var ox: Int

    /// Positioned on output row `m`.
    init(_ g: ConvGeometry, row m: Int) {
        self.g = g
        let perImage = g.outputHeight * g.outputWidth
        let n = m / perImage
        let rest = m - n * perImage
        image = n
        imageBase = n * g.inputSize
        oy = rest / g.outputWidth
        ox = rest - oy * g.outputWidth
    }

    /// Moves to the next output row.
    @inline(__always)
    mutating func advance() {
        // Wrapping arithmetic: these are small indices, and the checks would cost more than the work.
        ox &+= 1
        if ox == g.outputWidth {
            ox = 0
            oy &+= 1
            if oy == g.outputHeight { oy = 0; image &+= 1; imageBase &+= g.inputSize }
        }
    }

    /// Offset of the input pixel under kernel position (ky, kx), or nil in the padding.
    @inline(__always)
    func offset(ky: Int, kx: Int) -> Int? {
        let iy = oy &* g.strideY &- g.padTop &+ ky
        let ix = ox &* g.strideX &- g.padLeft &+ kx
        if iy < 0 || iy >= g.inputHeight || ix < 0 || ix >= g.inputWidth { return nil }
        return imageBase &+ (iy &* g.inputWidth &+ ix) &* g.inputChannels
    }

    /// Calls `body(t, offset)` for every tap in order with the offset of its input pixel, or nil
    /// in the padding; a receptive field wholly inside the image (the common case) costs one
    /// addition per tap.
    @inline(__always)
    func forEachTap(_ body: (Int, Int?) -> Void) {
        let iy0 = oy &* g.strideY &- g.padTop, ix0 = ox &* g.strideX &- g.padLeft
        if iy0 >= 0 && iy0 &+ g.kernelHeight <= g.inputHeight && ix0 >= 0 && ix0 &+ g.kernelWidth <= g.inputWidth {
            var rowStart = imageBase &+ (iy0 &* g.inputWidth &+ ix0) &* g.inputChannels
            var t = 0
            for _ in 0..<g.kernelHeight {
                var offset = rowStart
                for _ in 0..<g.kernelWidth {
                    body(t, offset)
                    offset &+= g.inputChannels
                    t &+= 1
                }
                rowStart &+= g.inputWidth &* g.inputChannels
            }
        } else {
            var t = 0
            for ky in 0..<g.kernelHeight {
                for kx in 0..<g.kernelWidth {
                    body(t, offset(ky: ky, kx: kx))
                    t += 1
                }
            }
        }
    }

    /// Offset, in the zero-padded copy of the input, of the first float under kernel row `ky`.
    @inline(__always)
    func paddedOffset(ky: Int) -> Int {
        ((image &* g.paddedHeight &+ oy &* g.strideY &+ ky) &* g.paddedWidth &+ ox &* g.strideX) &* g.inputChannels
    }
}

/// Where the taps of an output row read their input floats: the pointers the implicit-GEMM
/// kernels multiply, found without a call or a division per tap.
protocol TapReader {
    /// Tap `t`'s floats for the cursor's output row, or nil where the tap falls into the padding.
    func tap(_ cursor: OutputRowCursor, _ t: Int) -> UnsafePointer<Float>?
    /// Writes every tap's pointer for the cursor's output row to `table[t * stride]`, padding
    /// taps pointing at `zeros`.
    func fillTaps(_ cursor: OutputRowCursor, into table: UnsafeMutablePointer<UnsafePointer<Float>>, stride: Int,
                  zeros: UnsafePointer<Float>)
}

/// Taps that are single kernel positions over all input channels of the image itself.
struct ImageTaps: TapReader {
    let g: ConvGeometry
    let input: UnsafePointer<Float>

    @inline(__always)
    func tap(_ cursor: OutputRowCursor, _ t: Int) -> UnsafePointer<Float>? {
        let ky = t / g.kernelWidth, kx = t - ky * g.kernelWidth
        return cursor.offset(ky: ky, kx: kx).map { input + $0 }
    }

    @inline(__always)
    func fillTaps(_ cursor: OutputRowCursor, into table: UnsafeMutablePointer<UnsafePointer<Float>>, stride: Int,
                  zeros: UnsafePointer<Float>) {
        cursor.forEachTap { t, offset in table[t * stride] = offset.map { input + $0 } ?? zeros }
    }
}

/// Taps that are whole kernel rows of the zero-padded copy of the input (layers with few
/// input channels): never in the padding.
struct PaddedRowTaps: TapReader {
    let g: ConvGeometry
    let padded: UnsafePointer<Float>

    @inline(__always)
    func tap(_ cursor: OutputRowCursor, _ t: Int) -> UnsafePointer<Float>? { padded + cursor.paddedOffset(ky: t) }

    @inline(__always)
    func fillTaps(_ cursor: OutputRowCursor, into table: UnsafeMutablePointer<UnsafePointer<Float>>, stride: Int,
                  zeros: UnsafePointer<Float>) {
        var p = padded + cursor.paddedOffset(ky: 0)
        for ky in 0..<g.kernelHeight {
            table[ky &* stride] = p
            p += g.paddedWidth &* g.inputChannels
        }
    }
}

/// The weight gradient of a convolution, taken chunk by chunk as the stage after it produces
/// the output gradient (``BatchNormKernels/pooledInputGradient(_:batch:pool:output:outputGradient:gamma:beta:mean:inverseStd:relu:gammaGradient:betaGradient:totalRows:intoWeightGradientOf:scratch:dxSums:)``).
public struct ConvolutionWeightGradientRows {
    public let geometry: ConvGeometry
    /// The forward pass's input and what it saved.
    public let input: UnsafePointer<Float>
    public let saved: UnsafePointer<Float>?
    /// Where the weight gradient goes (written, not added; no bias gradient).
    public let weightGradient: UnsafeMutablePointer<Float>
    public let scratch: KernelScratch

    public init(geometry: ConvGeometry, input: UnsafePointer<Float>, saved: UnsafePointer<Float>?,
                weightGradient: UnsafeMutablePointer<Float>, scratch: KernelScratch) {
        precondition(Convolution.takesWeightGradientInRowChunks(geometry), "this geometry's weight gradient is not summed in row chunks")
        self.geometry = geometry
        self.input = input
        self.saved = saved
        self.weightGradient = weightGradient
        self.scratch = scratch
    }

    /// Adds the output rows `rows` (the next chunk, in order), whose gradient `outputGradient`
    /// holds from row `rows.lowerBound` on.
    @inline(__always)
    func consume(rows: Range<Int>, outputGradient: UnsafePointer<Float>) {
        Convolution.backwardWeights(geometry, input: input, saved: saved, outputGradient: outputGradient,
                                    rowsOf: rows, weightGradient: weightGradient, accumulate: rows.lowerBound > 0,
                                    scratch: scratch)
    }
}

/// 2-D convolution kernels.
///
/// With 16·j output channels the three products (forward, input gradient, weight gradient) run on
/// the register-blocked microkernels in implicit-GEMM form: each output pixel's receptive field is
/// read in place through a table of pointers, one per tap, so no im2col matrix is materialized.
/// A tap is one kernel position over all input channels. The forward pass and the input gradient
/// skip the taps over the padding where that saves work (kernel windows), the weight gradient
/// always. Layers with few input channels (the first layer) read a zero-padded copy of the input
/// instead (3 channels: kernel rows as taps; 1 channel: the first-layer kernels where the CPU has
/// them, else an explicit im2col matrix), kept for the weight gradient. Other channel counts fall
/// back to the plain loops of ``Convolution/Reference``.
///
/// `precision: .bf16` (``Precision``) runs the image-tap products of all three passes on bf16
/// copies of their operands, two per 32-bit word, with the same tiles and pointer tables; the
/// other forms stay fp32. It needs ``Precision/isAvailable``.
public enum Convolution {
    /// How a convolution is computed.
    public enum Algorithm: Sendable {
        /// Winograd's F(4×4, 3×3) where it applies (``Winograd/applies(to:)``: 3×3, stride 1,
        /// one pixel of padding, channels in multiples of 16), the direct kernels elsewhere.
        case automatic
        /// Always the direct (implicit-GEMM) kernels: exactly the multiply-adds of the definition.
        case direct
    }

    /// `output = conv(input, weights) + bias` for `batch` images.
    ///
    /// - Parameters:
    ///   - saved: ``ConvGeometry/savedScratchCount(batch:)`` floats that the backward pass must
    ///     receive unchanged (may be nil when that count is 0).
    ///   - outputColumnSums: if given, also receives each output channel's sum over all output
    ///     pixels, added in row order (the floats of `Vector.columnSums` of the output) — for a
    ///     batch norm that follows. The tap kernels add each tile while it is still in L1.
    public static func forward(
        _ g: ConvGeometry, batch: Int, input: UnsafePointer<Float>, weights: UnsafePointer<Float>,
        bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>,
        saved: UnsafeMutablePointer<Float>?, scratch: KernelScratch, outputColumnSums: UnsafeMutablePointer<Float>? = nil,
        algorithm: Algorithm = .automatic, precision: Precision = .fp32
    ) {
        let rowsTotal = batch * g.outputHeight * g.outputWidth
        if algorithm == .automatic, Winograd.applies(to: g) {
            Winograd.forward(g, batch: batch, input: input, weights: weights, bias: bias, output: output, scratch: scratch,
                             outputColumnSums: outputColumnSums)
            return
        }
        guard g.usesFastPath else {
            Reference.forward(g, batch: batch, input: input, weights: weights, bias: bias, output: output)
            if let sums = outputColumnSums { Vector.columnSums(output, rows: rowsTotal, columns: g.outputChannels, into: sums) }
            return
        }
        if g.takesOneChannelFirstLayerKernel {
            // The same sums as im2col's product below.
            copyPadded(g, batch: batch, input: input, into: saved!)
            let done = reptile_first_layer_forward(saved!, batch, g.paddedHeight, g.paddedWidth, g.outputHeight,
                                                   g.outputWidth, g.strideY, g.strideX, 1, weights, g.outputChannels,
                                                   bias, output, outputColumnSums)
            precondition(done != 0, "the first-layer kernel declined a shape it takes")
        } else if g.usesIm2col {
            let depth = g.taps * g.inputChannels
            im2col(g, batch: batch, input: input, into: saved!, scratch: scratch)
            Matmul.multiply(m: rowsTotal, n: g.outputChannels, k: depth, a: saved!, lda: depth,
                            b: weights, ldb: g.outputChannels, c: output, ldc: g.outputChannels, bias: bias, scratch: scratch)
            if let sums = outputColumnSums { Vector.columnSums(output, rows: rowsTotal, columns: g.outputChannels, into: sums) }
        } else if g.usesPaddedRows {
            let padded = saved!
            copyPadded(g, batch: batch, input: input, into: padded)
            if g.fitsFirstLayerKernels,
               reptile_first_layer_forward(padded, batch, g.paddedHeight, g.paddedWidth, g.outputHeight, g.outputWidth,
                                           g.strideY, g.strideX, 3, weights, g.outputChannels, bias, output,
                                           outputColumnSums) != 0 {
                return
            }
            let depth = g.kernelWidth * g.inputChannels
            forwardTaps(g, batch: batch, taps: g.kernelHeight, depth: depth, weights: weights, bias: bias,
                        output: output, scratch: scratch, reader: PaddedRowTaps(g: g, padded: UnsafePointer(padded)),
                        columnSums: outputColumnSums)
        } else if precision == .bf16 {
            // The same taps over a bf16 copy of the input, a word (two channels) per float slot.
            let packed = g.bf16Packed
            let pairs = packed.inputChannels, outC = g.outputChannels
            let words = scratch.bf16Activations(batch * packed.inputSize + kernelReadSlack)
            BF16.pack(input, count: batch * g.inputSize, into: words)
            let packedWeights = scratch.preparedWeights(.bf16Rows, of: weights, count: g.taps * pairs * outC + kernelReadSlack) {
                BF16.packRows(weights, pairs: g.taps * pairs, columns: outC, ld: outC, into: $0)
            }
            forwardImageTaps(packed, batch: batch, input: UnsafePointer(words), weights: packedWeights, bias: bias,
                             output: output, scratch: scratch, columnSums: outputColumnSums, bf16: true)
        } else {
            forwardImageTaps(g, batch: batch, input: input, weights: weights, bias: bias, output: output,
                             scratch: scratch, columnSums: outputColumnSums)
        }
    }

    /// The forward product over the image's own pixels, one tap per kernel position: by windows
    /// (``forwardWindows(_:batch:input:weights:bias:output:scratch:columnSums:bf16:)``) where
    /// that multiplies fewer zeros of the padding, else in row order with padding taps reading
    /// zeros. Both give the same floats; `windows` forces one (tests), nil chooses.
    static func forwardImageTaps(
        _ g: ConvGeometry, batch: Int, input: UnsafePointer<Float>, weights: UnsafePointer<Float>,
        bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>, scratch: KernelScratch,
        columnSums: UnsafeMutablePointer<Float>?, bf16: Bool = false, windows: Bool? = nil
    ) {
        let tileRows = ColumnBlock.tileRows(columns: g.outputChannels, rowsHint: batch * g.outputHeight * g.outputWidth)
        if windows ?? (g.windowedTapCount(batch: batch, tileRows: tileRows) < g.rowOrderTapCount(batch: batch, tileRows: tileRows)) {
            forwardWindows(g, batch: batch, input: input, weights: weights, bias: bias, output: output, scratch: scratch,
                           columnSums: columnSums, bf16: bf16)
        } else {
            forwardTaps(g, batch: batch, taps: g.taps, depth: g.inputChannels, weights: weights, bias: bias,
                        output: output, scratch: scratch, reader: ImageTaps(g: g, input: input), columnSums: columnSums,
                        bf16: bf16)
        }
    }

    /// The forward product window by window: the output pixels whose receptive fields keep the
    /// same kernel rows and columns inside the image (``ConvGeometry/forEachKernelWindow(_:)``)
    /// share tiles, and those tiles multiply only that part of the kernel. A window's kernel
    /// columns are adjacent pixels and its weight rows follow one another, so each kernel row is
    /// one tap of `columns × inputChannels` floats: the multiply-adds of the row-order product,
    /// in its order, less those with the padding's zeros, which add exactly nothing to a sum
    /// that started from +0. A batch norm's column sums are added afterwards, in row order.
    private static func forwardWindows(
        _ g: ConvGeometry, batch: Int, input: UnsafePointer<Float>, weights: UnsafePointer<Float>,
        bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>, scratch: KernelScratch,
        columnSums: UnsafeMutablePointer<Float>?, bf16: Bool
    ) {
        let rowsTotal = batch * g.outputHeight * g.outputWidth
        let inC = g.inputChannels, outC = g.outputChannels
        let rowFloats = g.inputWidth * inC
        let tapStride = g.kernelWidth * inC * outC
        ColumnBlock.forEach(columns: outC, rowsHint: rowsTotal) { c0, block in
            let rows = block.rows
            let s = scratch
            s.ensureZerosAndJunk(max(g.kernelWidth * inC, 64))
            let zeros = UnsafePointer(s.zeros.pointer)
            let junk = s.junk.pointer
            let aTable = s.pointers(g.kernelHeight * rows)
            let cTable = s.mutablePointers(rows)
            g.forEachKernelWindow { window in
                let taps = window.kernelRows.count, depth = window.kernelColumns.count * inC
                let b = weights + (window.kernelRows.lowerBound * g.kernelWidth + window.kernelColumns.lowerBound) * inC * outC + c0
                // The first float of the window's first kernel row, for output pixel (0, 0) of image 0.
                let origin = ((window.kernelRows.lowerBound - g.padTop) * g.inputWidth
                              + window.kernelColumns.lowerBound - g.padLeft) * inC
                forEachTile(batch: batch, rows: window.outputRows, columns: window.outputColumns, tileRows: rows,
                            taps: taps, aTable: aTable, cTable: cTable, zeros: zeros, junk: junk) { r, n, oy, ox in
                    cTable[r] = output + (((n &* g.outputHeight &+ oy) &* g.outputWidth &+ ox) &* outC &+ c0)
                    var a = input + (n &* g.inputSize &+ origin &+ (oy &* g.strideY &* g.inputWidth &+ ox &* g.strideX) &* inC)
                    for t in 0..<taps {
                        aTable[t &* rows &+ r] = a
                        a += rowFloats
                    }
                } multiply: {
                    block.rowsKernel(aTable, taps: taps, depth: depth, b, ldb: outC, tapStride: tapStride, cTable,
                                     accumulate: false, bias: bias.map { $0 + c0 }, bf16: bf16)
                }
            }
            if let columnSums {
                // Row after row, as `Vector.columnSums` adds them.
                (columnSums + c0).update(repeating: 0, count: block.width)
                reptile_add_strided_rows(output + c0, rowsTotal, outC, block.width, columnSums + c0)
            }
        }
    }

    /// The forward product over `taps` taps of `depth` floats each, whose weights follow one
    /// another (`depth × outputChannels` floats per tap), read through `reader`.
    @inline(__always)
    private static func forwardTaps<Reader: TapReader>(
        _ g: ConvGeometry, batch: Int, taps: Int, depth: Int, weights: UnsafePointer<Float>,
        bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>, scratch: KernelScratch,
        reader: Reader, columnSums: UnsafeMutablePointer<Float>?, bf16: Bool = false
    ) {
        let rowsTotal = batch * g.outputHeight * g.outputWidth
        let outC = g.outputChannels
        ColumnBlock.forEach(columns: outC, rowsHint: rowsTotal) { c0, block in
            let rows = block.rows
            let tileCount = (rowsTotal + rows - 1) / rows
            if let columnSums { (columnSums + c0).update(repeating: 0, count: block.width) }
            do {
                let s = scratch
                s.ensureZerosAndJunk(max(depth, 64))
                let zeros = UnsafePointer(s.zeros.pointer)
                let junk = s.junk.pointer
                let aTable = s.pointers(taps * 12)
                let cTable = s.mutablePointers(12)
                var m0 = 0
                var cursor = OutputRowCursor(g, row: m0)
                for _ in 0..<tileCount {
                    for r in 0..<rows {
                        if m0 &+ r < rowsTotal {
                            cTable[r] = output + ((m0 &+ r) &* outC &+ c0)
                            reader.fillTaps(cursor, into: aTable + r, stride: rows, zeros: zeros)
                            cursor.advance()
                        } else {
                            cTable[r] = junk
                            for t in 0..<taps { aTable[t * rows + r] = zeros }
                        }
                    }
                    block.rowsKernel(aTable, taps: taps, depth: depth, weights + c0, ldb: outC,
                                     tapStride: depth * outC, cTable, accumulate: false,
                                     bias: bias.map { $0 + c0 }, bf16: bf16)
                    if let columnSums {
                        // Row after row, as `Vector.columnSums` adds them.
                        reptile_add_strided_rows(output + (m0 &* outC &+ c0), min(rows, rowsTotal - m0), outC, block.width, columnSums + c0)
                    }
                    m0 += rows
                }
            }
        }
    }

    /// The gradient with respect to the input: `inputGradient = convᵀ(outputGradient, weights)`.
    /// Overwrites `inputGradient`.
    ///
    /// Computed as a gather: every input pixel sums, in registers, what the output pixels whose
    /// receptive fields cover it send back through their taps, and is stored once — no zeroing,
    /// no read-modify-write. With stride s the input pixels fall into s×s classes by their position
    /// modulo the stride; the pixels of one class receive from the same taps (kernel rows
    /// `ky ≡ (iy + padTop) mod s`, likewise columns), so a tile is made of pixels of one class
    /// and multiplies their taps' weights, kept contiguous per class.
    public static func backwardInput(
        _ g: ConvGeometry, batch: Int, outputGradient dy: UnsafePointer<Float>, weights: UnsafePointer<Float>,
        inputGradient dx: UnsafeMutablePointer<Float>, scratch: KernelScratch, algorithm: Algorithm = .automatic,
        precision: Precision = .fp32
    ) {
        backwardInput(g, batch: batch, outputGradient: dy, weights: weights, inputGradient: dx, scratch: scratch,
                      algorithm: algorithm, precision: precision, windows: nil)
    }

    /// ``backwardInput(_:batch:outputGradient:weights:inputGradient:scratch:algorithm:precision:)``,
    /// each class of pixels by windows or in pixel order as `windows` says (tests), or as multiplies
    /// fewer zeros (nil). Both give the same floats.
    static func backwardInput(
        _ g: ConvGeometry, batch: Int, outputGradient dy: UnsafePointer<Float>, weights: UnsafePointer<Float>,
        inputGradient dx: UnsafeMutablePointer<Float>, scratch: KernelScratch, algorithm: Algorithm,
        precision: Precision, windows: Bool?
    ) {
        if algorithm == .automatic, Winograd.applies(to: g) {
            Winograd.backwardInput(g, batch: batch, outputGradient: dy, weights: weights, inputGradient: dx, scratch: scratch)
            return
        }
        guard g.usesFastPath, !g.hasFewInputChannels else {
            Reference.backwardInput(g, batch: batch, outputGradient: dy, weights: weights, inputGradient: dx)
            return
        }
        let inC = g.inputChannels, outC = g.outputChannels
        let sy = g.strideY, sx = g.strideX
        // In bf16 the products read words of two output channels: dY's and Wᵀ's rows in pairs.
        let bf16 = precision == .bf16
        let dyWords = bf16 ? outC / 2 : outC
        /// Kernel rows (columns) that reach input rows (columns) of class p: p, p + s, … below the kernel size.
        func tapCount(_ p: Int, stride: Int, kernel: Int) -> Int { p < kernel ? (kernel - p + stride - 1) / stride : 0 }
        /// The first input row (column) of class p: (i + pad) mod s = p.
        func firstOfClass(_ p: Int, stride: Int, pad: Int) -> Int { ((p - pad) % stride + stride) % stride }

        // Wᵀ per tap as [outC][inC] (rows of dY over outC multiply rows of Wᵀ over inC), the taps
        // of each class together, classes in row-major order; in bf16, its row pairs in words.
        let slotCount = dyWords * inC
        let weightsRead = scratch.preparedWeights(bf16 ? .bf16Transposed : .transposed, of: weights,
                                                  count: g.taps * slotCount + kernelReadSlack) { wt in
            var slot = 0
            for py in 0..<sy {
                for px in 0..<sx {
                    for ky in stride(from: py, to: g.kernelHeight, by: sy) {
                        for kx in stride(from: px, to: g.kernelWidth, by: sx) {
                            let tap = weights + (ky * g.kernelWidth + kx) * inC * outC
                            if bf16 {
                                BF16.packTransposed(tap, rows: inC, columns: outC, into: wt + slot * slotCount)
                            } else {
                                Vector.transpose(tap, rows: inC, columns: outC, into: wt + slot * slotCount)
                            }
                            slot += 1
                        }
                    }
                }
            }
        }
        var dyRead = dy
        if bf16 {
            let words = scratch.bf16Activations(batch * g.outputSize / 2 + kernelReadSlack)
            BF16.pack(dy, count: batch * g.outputSize, into: words)
            dyRead = UnsafePointer(words)
        }
        var classSlot = 0
        for py in 0..<sy {
            for px in 0..<sx {
                let ny = tapCount(py, stride: sy, kernel: g.kernelHeight), nx = tapCount(px, stride: sx, kernel: g.kernelWidth)
                let iy0 = firstOfClass(py, stride: sy, pad: g.padTop), ix0 = firstOfClass(px, stride: sx, pad: g.padLeft)
                let rowsY = iy0 < g.inputHeight ? (g.inputHeight - iy0 + sy - 1) / sy : 0
                let columnsX = ix0 < g.inputWidth ? (g.inputWidth - ix0 + sx - 1) / sx : 0
                let perImage = rowsY * columnsX
                let classTaps = ny * nx
                let classWeights = weightsRead + classSlot * dyWords * inC
                classSlot += classTaps
                guard perImage > 0 else { continue }
                let oy0 = (iy0 + g.padTop - py) / sy, ox0 = (ix0 + g.padLeft - px) / sx
                let pixelClass = InputGradientClass(g: g, tapRows: ny, tapColumns: nx, firstRow: iy0, firstColumn: ix0,
                                                    rows: rowsY, columns: columnsX, firstOutputRow: oy0,
                                                    firstOutputColumn: ox0)
                let tileRows = ColumnBlock.tileRows(columns: inC, rowsHint: batch * perImage)
                if windows ?? (pixelClass.windowedTapCount(batch: batch, tileRows: tileRows)
                               < (batch * perImage + tileRows - 1) / tileRows * classTaps) {
                    backwardInputWindows(pixelClass, batch: batch, outputGradient: dyRead, outputPixelWords: dyWords,
                                         weights: classWeights, inputGradient: dx, scratch: scratch, bf16: bf16)
                    continue
                }
                // Per pixel of the class in one image (the same in every image): its offset in
                // the image, then each tap's output pixel offset, or −1 outside the output.
                let entry = 1 + classTaps
                let offsets = scratch.offsets(perImage * entry)
                var e = 0
                for yi in 0..<rowsY {
                    for xi in 0..<columnsX {
                        offsets[e] = ((iy0 + yi * sy) * g.inputWidth + ix0 + xi * sx) * inC
                        e += 1
                        // Kernel row py + jy·sy reaches the pixel from output row oy0 + yi − jy.
                        for jy in 0..<ny {
                            let oy = oy0 + yi - jy
                            for jx in 0..<nx {
                                let ox = ox0 + xi - jx
                                let inside = oy >= 0 && oy < g.outputHeight && ox >= 0 && ox < g.outputWidth
                                offsets[e] = inside ? (oy * g.outputWidth + ox) * dyWords : -1
                                e += 1
                            }
                        }
                    }
                }
                let pixels = batch * perImage
                let readOffsets = UnsafePointer(offsets)
                ColumnBlock.forEach(columns: inC, rowsHint: pixels) { c0, block in
                    let rows = block.rows
                    let tileCount = (pixels + rows - 1) / rows
                    do {
                        let s = scratch
                        s.ensureZerosAndJunk(max(outC, 64))
                        let zeros = UnsafePointer(s.zeros.pointer)
                        let junk = s.junk.pointer
                        let aTable = s.pointers(max(classTaps, 1) * 12)
                        let cTable = s.mutablePointers(12)
                        var q = 0
                        var p = 0
                        var dxImage = dx + c0
                        var dyImage = dyRead
                        for _ in 0..<tileCount {
                            for r in 0..<rows {
                                guard q < pixels else {
                                    cTable[r] = junk
                                    for j in 0..<classTaps { aTable[j * rows + r] = zeros }
                                    continue
                                }
                                let pixel = readOffsets + p * entry
                                cTable[r] = dxImage + pixel[0]
                                for j in 0..<classTaps {
                                    let offset = pixel[1 + j]
                                    aTable[j * rows + r] = offset >= 0 ? dyImage + offset : zeros
                                }
                                q += 1
                                p += 1
                                if p == perImage {
                                    p = 0
                                    dxImage += g.inputSize
                                    dyImage += g.outputHeight * g.outputWidth * dyWords
                                }
                            }
                            if classTaps > 0 {
                                block.rowsKernel(aTable, taps: classTaps, depth: dyWords, classWeights + c0, ldb: inC,
                                                 tapStride: dyWords * inC, cTable, accumulate: false, bias: nil, bf16: bf16)
                            } else {
                                // Kernels narrower than their stride skip these pixels altogether.
                                for r in 0..<rows where cTable[r] != junk { cTable[r].update(repeating: 0, count: block.width) }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Cuts the pixels (image n, row y, column x) of `batch` images × `rows` × `columns`, in that
    /// order, into tiles of `tileRows`: `fill(r, n, y, x)` writes tile row r's pointers, the rows
    /// past the last pixel point at `junk` and `zeros`, and `multiply` runs after each tile.
    @inline(__always)
    static func forEachTile(
        batch: Int, rows: Range<Int>, columns: Range<Int>, tileRows: Int, taps: Int,
        aTable: UnsafeMutablePointer<UnsafePointer<Float>>, cTable: UnsafeMutablePointer<UnsafeMutablePointer<Float>>,
        zeros: UnsafePointer<Float>, junk: UnsafeMutablePointer<Float>,
        fill: (Int, Int, Int, Int) -> Void, multiply: () -> Void
    ) {
        let pixels = batch * rows.count * columns.count
        var n = 0, y = rows.lowerBound, x = columns.lowerBound
        var q = 0
        while q < pixels {
            for r in 0..<tileRows {
                guard q < pixels else {
                    cTable[r] = junk
                    for t in 0..<taps { aTable[t &* tileRows &+ r] = zeros }
                    continue
                }
                fill(r, n, y, x)
                q &+= 1
                x &+= 1
                if x == columns.upperBound {
                    x = columns.lowerBound
                    y &+= 1
                    if y == rows.upperBound { y = rows.lowerBound; n &+= 1 }
                }
            }
            multiply()
        }
    }

    /// One class of input pixels of the input gradient (those equal modulo the stride): rows
    /// `firstRow + yi·strideY` and columns `firstColumn + xi·strideX`; pixel (yi, xi) receives
    /// tap (jy, jx) of the class (kernel row `py + jy·strideY`, column `px + jx·strideX`) from
    /// output pixel (firstOutputRow + yi − jy, firstOutputColumn + xi − jx), where that lies
    /// inside the output.
    struct InputGradientClass {
        let g: ConvGeometry
        let tapRows: Int, tapColumns: Int
        let firstRow: Int, firstColumn: Int
        let rows: Int, columns: Int
        let firstOutputRow: Int, firstOutputColumn: Int

        /// The taps jy that reach row yi from inside the output.
        @inline(__always)
        func tapRows(of yi: Int) -> Range<Int> {
            clampedRange(firstOutputRow + yi - g.outputHeight + 1, firstOutputRow + yi + 1, tapRows)
        }

        @inline(__always)
        func tapColumns(of xi: Int) -> Range<Int> {
            clampedRange(firstOutputColumn + xi - g.outputWidth + 1, firstOutputColumn + xi + 1, tapColumns)
        }

        /// The taps a window multiplies, in the class's order and at one step through its weights:
        /// rows `jy` × columns `jx`, each tap `step` slots after the one before. Where the window's
        /// columns are neither all of the class's nor one, nor its rows one, the taps are not
        /// evenly spaced: all columns then, those outside the output reading zeros.
        @inline(__always)
        func windowTaps(_ jy: Range<Int>, _ jx: Range<Int>) -> (jx: Range<Int>, count: Int, step: Int) {
            if jy.count <= 1 || jx.count == tapColumns { return (jx, jy.count * jx.count, 1) }
            if jx.count == 1 { return (jx, jy.count, tapColumns) }
            return (0..<tapColumns, jy.count * tapColumns, 1)
        }

        @inline(__always)
        func forEachWindow(_ body: (Range<Int>, Range<Int>, Range<Int>, Range<Int>) -> Void) {
            forEachRun(count: rows, of: { tapRows(of: $0) }) { yRun, jy in
                forEachRun(count: columns, of: { tapColumns(of: $0) }) { xRun, jx in body(yRun, xRun, jy, jx) }
            }
        }

        /// Taps × tiles that the windows multiply for `batch` images.
        func windowedTapCount(batch: Int, tileRows: Int) -> Int {
            var total = 0
            forEachWindow { yRun, xRun, jy, jx in
                total += (batch * yRun.count * xRun.count + tileRows - 1) / tileRows * windowTaps(jy, jx).count
            }
            return total
        }
    }

    /// One class of the input gradient window by window: the pixels whose taps reach inside the
    /// output alike share tiles, which multiply those taps only (``InputGradientClass/windowTaps(_:_:)``),
    /// in the class's order: the pixel-order sums less the padding's zeros, the same floats.
    private static func backwardInputWindows(
        _ pc: InputGradientClass, batch: Int, outputGradient dy: UnsafePointer<Float>, outputPixelWords dyWords: Int,
        weights: UnsafePointer<Float>, inputGradient dx: UnsafeMutablePointer<Float>, scratch: KernelScratch, bf16: Bool
    ) {
        let g = pc.g
        let inC = g.inputChannels
        let slotFloats = dyWords * inC
        let outputImage = g.outputHeight * g.outputWidth * dyWords
        ColumnBlock.forEach(columns: inC, rowsHint: batch * pc.rows * pc.columns) { c0, block in
            let rows = block.rows
            let s = scratch
            s.ensureZerosAndJunk(max(dyWords, 64))
            let zeros = UnsafePointer(s.zeros.pointer)
            let junk = s.junk.pointer
            let aTable = s.pointers(max(pc.tapRows * pc.tapColumns, 1) * rows)
            let cTable = s.mutablePointers(rows)
            pc.forEachWindow { yRun, xRun, jy, jxInside in
                let (jx, taps, step) = pc.windowTaps(jy, jxInside)
                forEachTile(batch: batch, rows: yRun, columns: xRun, tileRows: rows, taps: taps, aTable: aTable,
                            cTable: cTable, zeros: zeros, junk: junk) { r, n, yi, xi in
                    cTable[r] = dx + (n &* g.inputSize &+ ((pc.firstRow &+ yi &* g.strideY) &* g.inputWidth
                                      &+ pc.firstColumn &+ xi &* g.strideX) &* inC &+ c0)
                    let image = dy + n &* outputImage
                    var t = 0
                    for jyi in jy {
                        let oy = pc.firstOutputRow &+ yi &- jyi
                        for jxi in jx {
                            let ox = pc.firstOutputColumn &+ xi &- jxi
                            aTable[t &* rows &+ r] = ox >= 0 && ox < g.outputWidth
                                ? image + (oy &* g.outputWidth &+ ox) &* dyWords : zeros
                            t &+= 1
                        }
                    }
                } multiply: {
                    if taps > 0 {
                        block.rowsKernel(aTable, taps: taps, depth: dyWords,
                                         weights + ((jy.lowerBound &* pc.tapColumns &+ jx.lowerBound) &* slotFloats &+ c0),
                                         ldb: inC, tapStride: step &* slotFloats, cTable, accumulate: false, bias: nil, bf16: bf16)
                    } else {
                        // No tap reaches these pixels.
                        for r in 0..<rows where cTable[r] != junk { cTable[r].update(repeating: 0, count: block.width) }
                    }
                }
            }
        }
    }

    /// The gradients with respect to the weights (and the bias, if `biasGradient` is given).
    /// Overwrites both. `saved` is what ``forward(_:batch:input:weights:bias:output:saved:scratch:)``
    /// left there.
    public static func backwardWeights(
        _ g: ConvGeometry, batch: Int, input: UnsafePointer<Float>, outputGradient dy: UnsafePointer<Float>,
        saved: UnsafePointer<Float>?, weightGradient dw: UnsafeMutablePointer<Float>,
        biasGradient db: UnsafeMutablePointer<Float>?, scratch: KernelScratch, algorithm: Algorithm = .automatic,
        precision: Precision = .fp32
    ) {
        let rowsTotal = batch * g.outputHeight * g.outputWidth
        let inC = g.inputChannels, outC = g.outputChannels, taps = g.taps
        if let db { Vector.columnSums(dy, rows: rowsTotal, columns: outC, into: db) }
        if algorithm == .automatic, Winograd.applies(to: g) {
            Winograd.backwardWeights(g, batch: batch, input: input, outputGradient: dy, weightGradient: dw, scratch: scratch)
            return
        }
        guard g.usesFastPath else {
            Reference.backwardWeights(g, batch: batch, input: input, outputGradient: dy, weightGradient: dw)
            return
        }
        if g.usesIm2col {
            let depth = taps * inC
            if g.takesOneChannelFirstLayerKernel {
                // From the padded copy the forward pass saved, in the row chunks of the product
                // below, each sum from zero in pixel order: the same floats.
                let chunk = Matmul.reductionChunk(columns: outC)
                for k0 in stride(from: 0, to: rowsTotal, by: chunk) {
                    let done = reptile_first_layer_weight_gradient(
                        saved!, g.paddedHeight, g.paddedWidth, g.outputHeight, g.outputWidth, g.strideY, g.strideX, 1, k0,
                        min(chunk, rowsTotal - k0), dy + k0 * outC, outC, dw, k0 > 0 ? 1 : 0)
                    precondition(done != 0, "the first-layer kernel declined a shape it takes")
                }
            } else {
                Matmul.multiplyTransposingA(m: depth, n: outC, k: rowsTotal, a: saved!, lda: depth, b: dy, ldb: outC,
                                            c: dw, ldc: outC, scratch: scratch)
            }
        } else if g.usesPaddedRows {
            forEachWeightGradientChunk(g, rowsTotal: rowsTotal) { rows in
                paddedRowsWeightGradient(g, padded: UnsafePointer(saved!), rows: rows, outputGradient: dy + rows.lowerBound * outC,
                                         weightGradient: dw, accumulate: rows.lowerBound > 0, scratch: scratch)
            }
        } else {
            weightGradientTaps(g, batch: batch, taps: taps, depth: inC, outputGradient: dy, weightGradient: dw,
                               scratch: scratch, reader: ImageTaps(g: g, input: input), bf16: precision == .bf16)
        }
    }

    /// Output rows per chunk of the weight gradient's sum (see ``backwardWeights(_:input:saved:outputGradient:rowsOf:weightGradient:accumulate:scratch:)``):
    /// about 512 KB of the output gradient, in whole pairs of output image rows (the rows of a
    /// 2×2 pooling window after a batch norm), depending on the shape only.
    public static func weightGradientChunkRows(_ g: ConvGeometry) -> Int {
        let pair = 2 * g.outputWidth
        return max(1, Matmul.reductionChunk(columns: g.outputChannels) / pair) * pair
    }

    /// Whether the weight gradient is summed over chunks of ``weightGradientChunkRows(_:)`` output
    /// rows, one after another (the direct kernels over image or kernel-row taps), so that a
    /// stage that produces the output gradient chunk by chunk can hand each chunk over while it
    /// is in cache (``backwardWeights(_:input:saved:outputGradient:rowsOf:weightGradient:accumulate:scratch:)``).
    public static func takesWeightGradientInRowChunks(_ g: ConvGeometry) -> Bool {
        g.usesFastPath && !g.usesIm2col && !Winograd.applies(to: g)
    }

    /// Adds one chunk's share to the weight gradient (no bias gradient): the output rows `rows`
    /// (one chunk of ``weightGradientChunkRows(_:)``, `accumulate` false for the first), whose
    /// output gradient `outputGradient` holds from row `rows.lowerBound` on. Calling it for every
    /// chunk in order gives the floats of ``backwardWeights(_:batch:input:outputGradient:saved:weightGradient:biasGradient:scratch:algorithm:)``.
    public static func backwardWeights(
        _ g: ConvGeometry, input: UnsafePointer<Float>, saved: UnsafePointer<Float>?,
        outputGradient dy: UnsafePointer<Float>, rowsOf rows: Range<Int>, weightGradient dw: UnsafeMutablePointer<Float>,
        accumulate: Bool, scratch: KernelScratch
    ) {
        precondition(takesWeightGradientInRowChunks(g), "this geometry's weight gradient is not summed in row chunks")
        if g.usesPaddedRows {
            paddedRowsWeightGradient(g, padded: saved!, rows: rows, outputGradient: dy, weightGradient: dw,
                                     accumulate: accumulate, scratch: scratch)
        } else {
            weightGradientTapsChunk(g, rows: rows, taps: g.taps, depth: g.inputChannels, outputGradient: dy,
                                    weightGradient: dw, accumulate: accumulate, scratch: scratch,
                                    reader: ImageTaps(g: g, input: input))
        }
    }

    /// One chunk of the weight gradient of a layer read as kernel rows of its zero-padded input: the
    /// first-layer kernel where it applies (3×3 over 3 channels on AVX-512), else the tap tables.
    private static func paddedRowsWeightGradient(
        _ g: ConvGeometry, padded: UnsafePointer<Float>, rows: Range<Int>, outputGradient dy: UnsafePointer<Float>,
        weightGradient dw: UnsafeMutablePointer<Float>, accumulate: Bool, scratch: KernelScratch
    ) {
        if g.fitsFirstLayerKernels,
           reptile_first_layer_weight_gradient(padded, g.paddedHeight, g.paddedWidth, g.outputHeight, g.outputWidth,
                                               g.strideY, g.strideX, 3, rows.lowerBound, rows.count, dy, g.outputChannels,
                                               dw, accumulate ? 1 : 0) != 0 {
            return
        }
        weightGradientTapsChunk(g, rows: rows, taps: g.kernelHeight, depth: g.kernelWidth * g.inputChannels,
                                outputGradient: dy, weightGradient: dw, accumulate: accumulate, scratch: scratch,
                                reader: PaddedRowTaps(g: g, padded: padded))
    }

    /// The weight gradient over `taps` taps of `depth` floats each (dW rows `t·depth ..< (t+1)·depth`),
    /// read through `reader`.
    @inline(__always)
    private static func weightGradientTaps<Reader: TapReader>(
        _ g: ConvGeometry, batch: Int, taps: Int, depth: Int, outputGradient dy: UnsafePointer<Float>,
        weightGradient dw: UnsafeMutablePointer<Float>, scratch: KernelScratch, reader: Reader, bf16: Bool = false
    ) {
        forEachWeightGradientChunk(g, rowsTotal: batch * g.outputHeight * g.outputWidth) { rows in
            weightGradientTapsChunk(g, rows: rows, taps: taps, depth: depth, outputGradient: dy + rows.lowerBound * g.outputChannels,
                                    weightGradient: dw, accumulate: rows.lowerBound > 0, scratch: scratch, reader: reader, bf16: bf16)
        }
    }

    /// Calls `body` with each chunk of ``weightGradientChunkRows(_:)`` output rows, in order. The
    /// chunks' dY (and the inputs it meets) stay in L2 while every tap and tile passes over them;
    /// each chunk's sums are added into dW in order, and the chunk size depends on the shape only,
    /// so results do not depend on threads.
    @inline(__always)
    private static func forEachWeightGradientChunk(_ g: ConvGeometry, rowsTotal: Int, _ body: (Range<Int>) -> Void) {
        let chunk = weightGradientChunkRows(g)
        for chunkStart in stride(from: 0, to: rowsTotal, by: chunk) {
            body(chunkStart..<min(rowsTotal, chunkStart + chunk))
        }
    }

    /// One chunk of ``weightGradientTaps(_:batch:taps:depth:outputGradient:weightGradient:scratch:reader:)``:
    /// each dW float is summed over the chunk's rows in order (and added to dW with `accumulate`);
    /// `dy` holds the output gradient from row `rows.lowerBound` on.
    @inline(__always)
    private static func weightGradientTapsChunk<Reader: TapReader>(
        _ g: ConvGeometry, rows: Range<Int>, taps: Int, depth: Int, outputGradient dy: UnsafePointer<Float>,
        weightGradient dw: UnsafeMutablePointer<Float>, accumulate: Bool, scratch: KernelScratch, reader: Reader,
        bf16: Bool = false
    ) {
        let outC = g.outputChannels
        let chunkCursor = OutputRowCursor(g, row: rows.lowerBound)
        for t in 0..<taps {
            let s = scratch
            s.ensureZerosAndJunk(64)
            let junk = s.junk.pointer
            let aTable = s.pointers(2 * rows.count)
            let bTable = aTable + rows.count
            let cTable = s.mutablePointers(12)
            // The output rows whose receptive field includes this tap inside the image.
            var count = 0
            var cursor = chunkCursor
            var b = dy
            for _ in rows {
                if let a = reader.tap(cursor, t) {
                    aTable[count] = a
                    bTable[count] = b
                    count &+= 1
                }
                b += outC
                cursor.advance()
            }
            if bf16 {
                // Rows in pairs, each pair's input and dY interleaved in bf16 words (the last row of
                // an odd count paired with zeros); the tables then point at the pairs.
                let pairs = (count + 1) / 2
                let aWords = s.bf16Activations(pairs * depth + kernelReadSlack)
                let bWords = s.bf16Weights(pairs * outC + kernelReadSlack)
                BF16.packPairs(aTable, count: count, depth: depth, into: aWords)
                BF16.packPairs(bTable, count: count, depth: outC, into: bWords)
                for p in 0..<pairs {
                    aTable[p] = UnsafePointer(aWords + p * depth)
                    bTable[p] = UnsafePointer(bWords + p * outC)
                }
                count = pairs
            }
            // The sums run over the rows in runs of `weightGradientRunRows`, every tile of dW rows
            // passing over one run before the next: a run's dY rows and input pixels stay in L1
            // instead of streaming from L2 once per tile. Each run resumes the sums where the last
            // left them, so the floats are those of one uncut run. With `accumulate` the sums
            // build up in `partial` and are added to dW at the end, as one uncut run's would be.
            let tapGradient = dw + t * depth * outC
            let sumsTarget = accumulate ? s.partialSums(depth * outC) : tapGradient
            var bOffset = 0  // column offset the B rows currently point at
            ColumnBlock.forEach(columns: outC, rowsHint: depth) { c0, block in
                if c0 != bOffset {
                    for j in 0..<count { bTable[j] += c0 - bOffset }
                    bOffset = c0
                }
                let rows = block.rows
                let tiles = (depth + rows - 1) / rows
                // One tile (the first layer's 9-float kernel rows) passes over the rows only once.
                let runRows = tiles > 1 ? weightGradientRunRows : max(count, 1)
                var j0 = 0
                repeat {
                    let runCount = min(runRows, count - j0)
                    for tile in 0..<tiles {
                        let i0 = tile * rows
                        for r in 0..<rows {
                            cTable[r] = i0 + r < depth ? sumsTarget + (i0 + r) * outC + c0 : junk
                        }
                        block.outerKernel(aTable + j0, aOffset: i0, bTable + j0, count: runCount, cTable,
                                          accumulate: false, resume: j0 > 0, bf16: bf16)
                    }
                    j0 += runCount
                } while j0 < count
            }
            if accumulate {
                for i in 0..<depth * outC { tapGradient[i] += sumsTarget[i] }
            }
        }
    }

    /// Output rows per run of the weight gradient's tap passes (see `weightGradientTapsChunk`):
    /// 48 rows of 64-channel dY are 12 KB, which stay in L1 with the input pixels they meet.
    static let weightGradientRunRows = 48

    /// Copies the input into a zero-padded buffer of ``ConvGeometry/paddedHeight`` ×
    /// ``ConvGeometry/paddedWidth`` pixels per image, so that every kernel row of every output
    /// pixel is `kernelWidth × inputChannels` contiguous floats.
    static func copyPadded(_ g: ConvGeometry, batch: Int, input: UnsafePointer<Float>, into padded: UnsafeMutablePointer<Float>) {
        let inC = g.inputChannels
        padded.update(repeating: 0, count: batch * g.paddedSize + kernelReadSlack)
        let rows = min(g.inputHeight, g.paddedHeight - g.padTop)
        let columns = min(g.inputWidth, g.paddedWidth - g.padLeft)
        guard rows > 0, columns > 0 else { return }
        for n in 0..<batch {
            for iy in 0..<rows {
                let from = input + ((n * g.inputHeight + iy) * g.inputWidth) * inC
                let to = padded + ((n * g.paddedHeight + iy + g.padTop) * g.paddedWidth + g.padLeft) * inC
                to.update(from: from, count: columns * inC)
            }
        }
    }

    /// Writes the im2col matrix: one row per output pixel, `taps × inputChannels` columns (zeros
    /// for padding). Used for layers with very few input channels, where a tap is a handful of
    /// floats: the source offset of every float of one image's matrix (−1 for padding) is worked
    /// out once, then each image is a plain gather (per-tap copies cost a call or a bounds
    /// check per float or two).
    static func im2col(_ g: ConvGeometry, batch: Int, input: UnsafePointer<Float>, into col: UnsafeMutablePointer<Float>,
                       scratch: KernelScratch) {
        let inC = g.inputChannels
        let perImage = g.outputHeight * g.outputWidth * g.taps * inC
        let offsets = scratch.offsets(perImage)
        var e = 0
        var cursor = OutputRowCursor(g, row: 0)  // the first image's rows: offsets within an image
        for _ in 0..<g.outputHeight * g.outputWidth {
            cursor.forEachTap { _, offset in
                for c in 0..<inC {
                    offsets[e] = offset.map { $0 + c } ?? -1
                    e += 1
                }
            }
            cursor.advance()
        }
        let table = UnsafePointer(offsets)
        for n in 0..<batch {
            let image = input + n * g.inputSize
            let dst = col + n * perImage
            for e in 0..<perImage {
                let offset = table[e]
                dst[e] = offset >= 0 ? image[offset] : 0
            }
        }
    }

    /// Straightforward loops: the fallback for channel counts the fast path does not cover, and
    /// the oracle the tests compare the fast path with.
    public enum Reference {
        public static func forward(_ g: ConvGeometry, batch: Int, input: UnsafePointer<Float>, weights: UnsafePointer<Float>,
                                   bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>) {
            let rowsTotal = batch * g.outputHeight * g.outputWidth
            let inC = g.inputChannels, outC = g.outputChannels
            for m in 0..<rowsTotal {
                let out = output + m * outC
                for o in 0..<outC { out[o] = bias?[o] ?? 0 }
                for t in 0..<g.taps {
                    guard let off = g.inputOffset(outputRow: m, tap: t) else { continue }
                    for i in 0..<inC {
                        let x = input[off + i]
                        let w = weights + (t * inC + i) * outC
                        for o in 0..<outC { out[o] += x * w[o] }
                    }
                }
            }
        }

        public static func backwardInput(_ g: ConvGeometry, batch: Int, outputGradient dy: UnsafePointer<Float>,
                                         weights: UnsafePointer<Float>, inputGradient dx: UnsafeMutablePointer<Float>) {
            let rowsTotal = batch * g.outputHeight * g.outputWidth
            let inC = g.inputChannels, outC = g.outputChannels
            dx.update(repeating: 0, count: batch * g.inputSize)
            for m in 0..<rowsTotal {
                let d = dy + m * outC
                for t in 0..<g.taps {
                    guard let off = g.inputOffset(outputRow: m, tap: t) else { continue }
                    for i in 0..<inC {
                        let w = weights + (t * inC + i) * outC
                        var s: Float = 0
                        for o in 0..<outC { s += d[o] * w[o] }
                        dx[off + i] += s
                    }
                }
            }
        }

        public static func backwardWeights(_ g: ConvGeometry, batch: Int, input: UnsafePointer<Float>,
                                           outputGradient dy: UnsafePointer<Float>, weightGradient dw: UnsafeMutablePointer<Float>) {
            let rowsTotal = batch * g.outputHeight * g.outputWidth
            let inC = g.inputChannels, outC = g.outputChannels
            dw.update(repeating: 0, count: g.weightCount)
            for m in 0..<rowsTotal {
                let d = dy + m * outC
                for t in 0..<g.taps {
                    guard let off = g.inputOffset(outputRow: m, tap: t) else { continue }
                    for i in 0..<inC {
                        let x = input[off + i]
                        let w = dw + (t * inC + i) * outC
                        for o in 0..<outC { w[o] += x * d[o] }
                    }
                }
            }
        }
    }
}
