// Batch normalization with batch statistics (the only mode the paper's models use), optionally
// fused with the ReLU and the max pooling that follow it.

import CReptileKernels

/// Batch normalization over the rows of a `rows × channels` matrix (an NHWC activation with
/// `rows = batch · height · width`), always with the statistics of the current batch: the
/// reference models normalize with batch statistics in training *and* at test time, which is why
/// transductive and non-transductive evaluation differ.
///
/// Per-channel sums run over the rows in order; every variant (alone, fused with pooling) computes
/// each element with the same unfused operations (y = b + a·x; dx = a·(g − dβ/N − x̂·dγ/N)), in C
/// per instruction set (`batchnorm_rows.h`), so fused and separate layers, and every instruction
/// set, give the same floats.
public enum BatchNormKernels {
    /// The per-channel values the passes read: the saved statistics, the affine parameters, and
    /// what is derived from them once per call.
    struct Channels {
        var gamma, beta, mean, inverseStd: UnsafePointer<Float>
        /// `a = γ/σ` and `b = β − a·μ`, so that the output is `a·x + b`.
        var a, b: UnsafeMutablePointer<Float>
        /// dβ/N and dγ/N (backward passes only).
        var meanG, meanGX: UnsafeMutablePointer<Float>

        /// Points `a`, `b`, `meanG` and `meanGX` into `scratch` (`4 · count` floats) and fills `a` and `b`.
        @inline(__always)
        init(gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, mean: UnsafePointer<Float>,
             inverseStd: UnsafePointer<Float>, count c: Int, scratch: UnsafeMutablePointer<Float>) {
            (self.gamma, self.beta, self.mean, self.inverseStd) = (gamma, beta, mean, inverseStd)
            (a, b, meanG, meanGX) = (scratch, scratch + c, scratch + 2 * c, scratch + 3 * c)
            let vectorized = c - c % 16
            var j = 0
            while j < vectorized {
                let aj = load16(gamma + j) * load16(inverseStd + j)
                store16(aj, a + j)
                store16(load16(beta + j) - aj * load16(mean + j), b + j)
                j += 16
            }
            while j < c { a[j] = gamma[j] * inverseStd[j]; b[j] = beta[j] - a[j] * mean[j]; j += 1 }
        }

        /// Fills `meanG` and `meanGX` from the summed gradients: divided once per channel instead
        /// of once per element.
        @inline(__always)
        func setGradientMeans(rows: Int, count c: Int, gammaGradient dgamma: UnsafePointer<Float>,
                              betaGradient dbeta: UnsafePointer<Float>) {
            let n = Float(rows)
            for j in 0..<c {
                meanG[j] = dbeta[j] / n
                meanGX[j] = dgamma[j] / n
            }
        }
    }

    /// Floats of scratch space the passes need for `channels` channels (besides what the pooled
    /// variants add).
    static func channelScratch(_ channels: Int) -> Int { 4 * channels }

    // MARK: The passes over one part of a batch

    // A batch may be cut into parts (shards) that different threads compute: every sum over the
    // rows is then taken per part and the parts' sums are added in part order
    // (``combineParts(_:stride:parts:channels:into:)``), on one thread as on several, so that the
    // floats do not depend on the thread count.

    /// Σx per channel over `rows` rows.
    public static func sums(_ x: UnsafePointer<Float>, rows: Int, channels c: Int, into out: UnsafeMutablePointer<Float>) {
        Vector.columnSums(x, rows: rows, columns: c, into: out)
    }

    /// Σ(x − μ)² per channel over `rows` rows (two passes: no cancellation when |μ| ≫ σ).
    public static func squaredDeviations(_ x: UnsafePointer<Float>, rows: Int, channels c: Int,
                                         mean: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        reptile_bn_squared_deviations(x, rows, c, mean, out)
    }

    /// `out[j] = parts[j] + parts[stride + j] + …` over `parts` parts, in part order.
    public static func combineParts(_ parts: UnsafePointer<Float>, stride: Int, parts count: Int, channels c: Int,
                                    into out: UnsafeMutablePointer<Float>) {
        out.update(from: parts, count: c)
        for k in 1..<max(count, 1) { Vector.add(parts + k * stride, into: out, count: c) }
    }

    /// μ = Σx / N from the summed `sum` of `rows` rows (`mean` may be `sum`).
    public static func mean(fromSum sum: UnsafePointer<Float>, rows: Int, channels c: Int, into mean: UnsafeMutablePointer<Float>) {
        let scale = 1 / Float(rows)
        for j in 0..<c { mean[j] = sum[j] * scale }
    }

    /// 1/√(σ² + ε) from the summed squared deviations of `rows` rows (`inverseStd` may be `squares`).
    public static func inverseStd(fromSquaredDeviations squares: UnsafePointer<Float>, rows: Int, channels c: Int,
                                  epsilon: Float, into inverseStd: UnsafeMutablePointer<Float>) {
        let scale = 1 / Float(rows)
        for j in 0..<c { inverseStd[j] = 1 / (squares[j] * scale + epsilon).squareRoot() }
    }

    /// `y = a·x + b` (+ ReLU) over `rows` rows, from the batch's μ and 1/σ. (The row loops of this
    /// and the next two passes are C, compiled per instruction set: batchnorm.c.)
    public static func normalize(
        _ x: UnsafePointer<Float>, rows: Int, channels c: Int,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, mean: UnsafePointer<Float>, inverseStd: UnsafePointer<Float>,
        relu: Bool, output y: UnsafeMutablePointer<Float>
    ) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: channelScratch(c)) { scratch in
            let p = Channels(gamma: gamma, beta: beta, mean: mean, inverseStd: inverseStd, count: c,
                             scratch: scratch.baseAddress!)
            reptile_bn_normalize(x, rows, c, p.a, p.b, relu ? 1 : 0, y)
        }
    }

    /// Pass 1 of the backward pass over `rows` rows: dβ = Σg and dγ = Σg·x̂ (g masked by the ReLU).
    public static func gradientSums(
        _ x: UnsafePointer<Float>, outputGradient dy: UnsafePointer<Float>, rows: Int, channels c: Int,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, mean: UnsafePointer<Float>, inverseStd: UnsafePointer<Float>,
        relu: Bool, gammaGradient dgamma: UnsafeMutablePointer<Float>, betaGradient dbeta: UnsafeMutablePointer<Float>
    ) {
        reptile_bn_gradient_sums(x, dy, rows, c, gamma, beta, mean, inverseStd, relu ? 1 : 0, dgamma, dbeta)
    }

    /// Pass 2 over `rows` rows: dx = γ/σ · (g − dβ/N − x̂·dγ/N), from the batch's summed dγ and
    /// dβ over all its `totalRows` rows. `dx` may be the same buffer as `dy`. With `dxSums`, also
    /// each channel's Σdx over the rows, added in row order (the floats of `Vector.columnSums`
    /// of `dx`: the bias gradient of a convolution before).
    public static func inputGradient(
        _ x: UnsafePointer<Float>, outputGradient dy: UnsafePointer<Float>, rows: Int, channels c: Int,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, mean: UnsafePointer<Float>, inverseStd: UnsafePointer<Float>,
        relu: Bool, gammaGradient dgamma: UnsafePointer<Float>, betaGradient dbeta: UnsafePointer<Float>, totalRows: Int,
        inputGradient dx: UnsafeMutablePointer<Float>, dxSums: UnsafeMutablePointer<Float>? = nil
    ) {
        dxSums?.update(repeating: 0, count: c)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: channelScratch(c)) { scratch in
            let p = Channels(gamma: gamma, beta: beta, mean: mean, inverseStd: inverseStd, count: c,
                             scratch: scratch.baseAddress!)
            p.setGradientMeans(rows: totalRows, count: c, gammaGradient: dgamma, betaGradient: dbeta)
            reptile_bn_input_gradient(x, dy, rows, c, gamma, beta, mean, inverseStd, p.a, p.meanG, p.meanGX, relu ? 1 : 0,
                                      dx, dxSums)
        }
    }

    // MARK: Batch norm alone, the batch in one part

    /// `y = γ·(x − μ)/√(σ² + ε) + β` per channel, with μ and σ² (biased) over the rows; with `relu`,
    /// `y = max(0, …)`. Saves μ and 1/√(σ² + ε) in `mean` and `inverseStd` for the backward pass.
    public static func forward(
        _ x: UnsafePointer<Float>, rows: Int, channels: Int,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, epsilon: Float, relu: Bool,
        output y: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, inverseStd: UnsafeMutablePointer<Float>
    ) {
        statistics(x, rows: rows, channels: channels, epsilon: epsilon, mean: mean, inverseStd: inverseStd)
        normalize(x, rows: rows, channels: channels, gamma: gamma, beta: beta, mean: mean, inverseStd: inverseStd,
                  relu: relu, output: y)
    }

    /// μ and 1/√(σ² + ε) per channel over the rows.
    static func statistics(_ x: UnsafePointer<Float>, rows: Int, channels c: Int, epsilon: Float,
                           mean: UnsafeMutablePointer<Float>, inverseStd: UnsafeMutablePointer<Float>) {
        sums(x, rows: rows, channels: c, into: mean)
        self.mean(fromSum: mean, rows: rows, channels: c, into: mean)
        squaredDeviations(x, rows: rows, channels: c, mean: mean, into: inverseStd)
        self.inverseStd(fromSquaredDeviations: inverseStd, rows: rows, channels: c, epsilon: epsilon, into: inverseStd)
    }

    /// The backward pass of ``forward(_:rows:channels:gamma:beta:epsilon:relu:output:mean:inverseStd:)``:
    /// from `dy` (the gradient with respect to its output) computes `dx`, `dγ` and `dβ`.
    /// `dx` may be the same buffer as `dy`. Pass `dx: nil` when the input gradient is not needed.
    public static func backward(
        _ x: UnsafePointer<Float>, outputGradient dy: UnsafePointer<Float>, rows: Int, channels: Int,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, relu: Bool,
        mean: UnsafePointer<Float>, inverseStd: UnsafePointer<Float>,
        inputGradient dx: UnsafeMutablePointer<Float>?,
        gammaGradient dgamma: UnsafeMutablePointer<Float>, betaGradient dbeta: UnsafeMutablePointer<Float>
    ) {
        gradientSums(x, outputGradient: dy, rows: rows, channels: channels, gamma: gamma, beta: beta, mean: mean,
                     inverseStd: inverseStd, relu: relu, gammaGradient: dgamma, betaGradient: dbeta)
        guard let dx else { return }
        inputGradient(x, outputGradient: dy, rows: rows, channels: channels, gamma: gamma, beta: beta, mean: mean,
                      inverseStd: inverseStd, relu: relu, gammaGradient: dgamma, betaGradient: dbeta, totalRows: rows,
                      inputGradient: dx)
    }
}

// MARK: - Fused with max pooling

extension BatchNormKernels {
    /// Whether batch norm (+ ReLU) can run fused with a max pooling of geometry `g`: its windows
    /// tile the input (``PoolGeometry/windowsTile``) and the channels come in whole 16-float vectors.
    public static func canFusePooling(_ g: PoolGeometry) -> Bool {
        g.windowsTile && g.channels % 16 == 0
    }

    /// Floats of scratch space the pooled passes need: the per-channel values and one row of
    /// windows' undistributed gradients.
    public static func pooledScratch(_ g: PoolGeometry) -> Int { channelScratch(g.channels) + g.outputWidth * g.channels }

    /// Floats that ``normalizePooled(_:batch:pool:gamma:beta:mean:inverseStd:relu:output:scratch:maxima:)``
    /// writes to `maxima` for `batch` images: per pooled element, the input at its window's
    /// maximum, then the window row of that maximum.
    public static func maximaCount(_ g: PoolGeometry, batch: Int) -> Int { 2 * batch * g.outputSize }

    /// Normalizes (+ ReLU) the positions of each pooling window of `batch` images in registers
    /// and writes only their maximum. With `maxima` (``maximaCount(_:batch:)`` floats), also
    /// keeps where each maximum came from, so that
    /// ``pooledGradientSums(maxima:batch:pool:outputGradient:gamma:beta:mean:inverseStd:relu:gammaGradient:betaGradient:scratch:)``
    /// need not read the full-size input again.
    public static func normalizePooled(
        _ x: UnsafePointer<Float>, batch: Int, pool g: PoolGeometry,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, mean: UnsafePointer<Float>, inverseStd: UnsafePointer<Float>,
        relu: Bool, output y: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
        maxima: UnsafeMutablePointer<Float>? = nil
    ) {
        precondition(canFusePooling(g), "fused pooling needs windows that tile the input and channels in multiples of 16")
        let p = Channels(gamma: gamma, beta: beta, mean: mean, inverseStd: inverseStd, count: g.channels, scratch: scratch)
        // C, compiled per instruction set (batchnorm_rows.h): the same per-element operations as
        // y = b + a·x (+ ReLU), unfused, so every build gives the same floats.
        reptile_bn_normalize_pooled(x, batch, g.inputHeight, g.inputWidth, g.channels, g.size, g.outputHeight, g.outputWidth,
                                    p.a, p.b, relu ? 1 : 0, y, maxima)
    }

    /// Pass 1 from the `maxima` that ``normalizePooled(_:batch:pool:gamma:beta:mean:inverseStd:relu:output:scratch:maxima:)``
    /// kept, without the full-size input: only a window's maximum receives its gradient, so the
    /// sums take one term per window and window row — the window's if its maximum lies in that
    /// row, +0 otherwise — in the order the positions come in the input. Adding +0 leaves a sum
    /// unchanged, so the floats are those of the separate batch-norm and pooling layers.
    public static func pooledGradientSums(
        maxima: UnsafePointer<Float>, batch: Int, pool g: PoolGeometry, outputGradient dy: UnsafePointer<Float>,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, mean: UnsafePointer<Float>, inverseStd: UnsafePointer<Float>,
        relu: Bool, gammaGradient dgamma: UnsafeMutablePointer<Float>, betaGradient dbeta: UnsafeMutablePointer<Float>,
        scratch: UnsafeMutablePointer<Float>
    ) {
        precondition(canFusePooling(g), "fused pooling needs windows that tile the input and channels in multiples of 16")
        // C per instruction set (batchnorm_rows.h).
        reptile_bn_pooled_gradient_sums(maxima, batch, g.inputHeight, g.channels, g.size, g.outputHeight, g.outputWidth, dy,
                                        gamma, beta, mean, inverseStd, relu ? 1 : 0, dgamma, dbeta)
    }

    /// Pass 2 over `batch` images: dx from the batch's summed dγ and dβ over its `totalRows`
    /// input positions; with `dxSums`, also each channel's Σdx in row order (as
    /// ``inputGradient(_:outputGradient:rows:channels:gamma:beta:mean:inverseStd:relu:gammaGradient:betaGradient:totalRows:inputGradient:dxSums:)``).
    public static func pooledInputGradient(
        _ x: UnsafePointer<Float>, batch: Int, pool g: PoolGeometry, output y: UnsafePointer<Float>,
        outputGradient dy: UnsafePointer<Float>,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, mean: UnsafePointer<Float>, inverseStd: UnsafePointer<Float>,
        relu: Bool, gammaGradient dgamma: UnsafePointer<Float>, betaGradient dbeta: UnsafePointer<Float>, totalRows: Int,
        inputGradient dx: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
        dxSums: UnsafeMutablePointer<Float>? = nil
    ) {
        precondition(canFusePooling(g), "fused pooling needs windows that tile the input and channels in multiples of 16")
        let p = Channels(gamma: gamma, beta: beta, mean: mean, inverseStd: inverseStd, count: g.channels, scratch: scratch)
        let waiting = scratch + channelScratch(g.channels)
        p.setGradientMeans(rows: totalRows, count: g.channels, gammaGradient: dgamma, betaGradient: dbeta)
        dxSums?.update(repeating: 0, count: g.channels)
        reptile_bn_pooled_input_gradient(x, y, dy, 0, batch * g.outputHeight, g.inputHeight, g.inputWidth, g.channels, g.size,
                                         g.outputHeight, g.outputWidth, gamma, beta, mean, inverseStd, p.a, p.b, p.meanG,
                                         p.meanGX, relu ? 1 : 0, waiting, dx, 0, dxSums)
    }

    /// ``pooledInputGradient(_:batch:pool:output:outputGradient:gamma:beta:mean:inverseStd:relu:gammaGradient:betaGradient:totalRows:inputGradient:scratch:dxSums:)``
    /// for a batch norm whose input is the output of the convolution `previous` (the first layer,
    /// whose input gradient nobody needs): dx is never written whole; each chunk of
    /// ``Convolution/weightGradientChunkRows(_:)`` rows goes, while in cache, into the
    /// convolution's weight gradient, which gets the floats of its own backward pass (Mini-ImageNet's
    /// first dx is 9 MB per batch of 10, written and read back otherwise). At most 64 channels.
    public static func pooledInputGradient(
        _ x: UnsafePointer<Float>, batch: Int, pool g: PoolGeometry, output y: UnsafePointer<Float>,
        outputGradient dy: UnsafePointer<Float>,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, mean: UnsafePointer<Float>, inverseStd: UnsafePointer<Float>,
        relu: Bool, gammaGradient dgamma: UnsafePointer<Float>, betaGradient dbeta: UnsafePointer<Float>, totalRows: Int,
        intoWeightGradientOf previous: ConvolutionWeightGradientRows, scratch: UnsafeMutablePointer<Float>,
        dxSums: UnsafeMutablePointer<Float>? = nil
    ) {
        precondition(canHandOverInputGradient(pool: g, to: previous.geometry),
                     "the input gradient cannot go to this convolution's weight gradient in chunks")
        let p = Channels(gamma: gamma, beta: beta, mean: mean, inverseStd: inverseStd, count: g.channels, scratch: scratch)
        let waiting = scratch + channelScratch(g.channels)
        p.setGradientMeans(rows: totalRows, count: g.channels, gammaGradient: dgamma, betaGradient: dbeta)
        let c = g.channels
        let chunkRows = Convolution.weightGradientChunkRows(previous.geometry)
        let windowRowsPerChunk = chunkRows / (g.size * g.inputWidth)
        let buffer = previous.scratch.transformFloats(chunkRows * c + kernelReadSlack)
        let windowRowCount = batch * g.outputHeight
        dxSums?.update(repeating: 0, count: c)
        for q0 in stride(from: 0, to: windowRowCount, by: windowRowsPerChunk) {
            let q1 = min(windowRowCount, q0 + windowRowsPerChunk)
            let firstRow = q0 * g.size * g.inputWidth
            // The chunk's dx, from its first row on, while it is in cache.
            reptile_bn_pooled_input_gradient(x, y, dy, q0, q1, g.inputHeight, g.inputWidth, c, g.size, g.outputHeight,
                                             g.outputWidth, gamma, beta, mean, inverseStd, p.a, p.b, p.meanG, p.meanGX,
                                             relu ? 1 : 0, waiting, buffer, firstRow * c, dxSums)
            previous.consume(rows: firstRow..<q1 * g.size * g.inputWidth, outputGradient: UnsafePointer(buffer))
        }
    }

    /// Whether ``pooledInputGradient(_:batch:pool:output:outputGradient:gamma:beta:mean:inverseStd:relu:gammaGradient:betaGradient:totalRows:intoWeightGradientOf:scratch:dxSums:)``
    /// can feed the weight gradient of the convolution `conv` whose output the batch norm takes:
    /// the convolution sums in row chunks made of whole rows of pooling windows, and the channels
    /// fit one register block.
    public static func canHandOverInputGradient(pool g: PoolGeometry, to conv: ConvGeometry) -> Bool {
        guard canFusePooling(g), g.inputHeight == g.outputHeight * g.size, g.channels <= 64,
              Convolution.takesWeightGradientInRowChunks(conv),
              conv.outputHeight == g.inputHeight, conv.outputWidth == g.inputWidth, conv.outputChannels == g.channels
        else { return false }
        return Convolution.weightGradientChunkRows(conv) % (g.size * g.inputWidth) == 0
    }
}
