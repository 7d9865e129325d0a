// Batch normalization with batch statistics (the only mode the paper's models use), optionally
// fused with the ReLU and the max pooling that follow it.

/// Batch normalization over the rows of a `rows × channels` matrix (an NHWC activation with
/// `rows = batch · height · width`), always with the statistics of the current batch: the
/// reference models normalize with batch statistics in training *and* at test time, which is why
/// transductive and non-transductive evaluation differ.
public enum BatchNormKernels {
    /// `y = γ·(x − μ)/√(σ² + ε) + β` per channel, with μ and σ² (biased) over the rows; with `relu`,
    /// `y = max(0, …)`. Saves μ and 1/√(σ² + ε) in `mean` and `inverseStd` for the backward pass.
    public static func forward(
        _ x: UnsafePointer<Float>, rows: Int, channels: Int,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, epsilon: Float, relu: Bool,
        output y: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, inverseStd: UnsafeMutablePointer<Float>
    ) {
        statistics(x, rows: rows, channels: channels, epsilon: epsilon, mean: mean, inverseStd: inverseStd)
        normalizeRows(x, rows: rows, channels: channels, gamma: gamma, beta: beta, relu: relu,
                      mean: mean, inverseStd: inverseStd, output: y)
    }

    /// μ and 1/√(σ² + ε) per channel over the rows.
    static func statistics(_ x: UnsafePointer<Float>, rows: Int, channels: Int, epsilon: Float,
                           mean: UnsafeMutablePointer<Float>, inverseStd: UnsafeMutablePointer<Float>) {
        let c = channels
        let vectorized = c - c % 16
        let scale = 1 / Float(rows)
        // Mean.
        mean.update(repeating: 0, count: c)
        for r in 0..<rows {
            let xr = x + r * c
            var j = 0
            while j < vectorized { store16(load16(mean + j) + load16(xr + j), mean + j); j += 16 }
            while j < c { mean[j] += xr[j]; j += 1 }
        }
        for j in 0..<c { mean[j] *= scale }
        // Variance around the mean (two passes: no cancellation when |μ| ≫ σ).
        inverseStd.update(repeating: 0, count: c)
        for r in 0..<rows {
            let xr = x + r * c
            var j = 0
            while j < vectorized {
                let d = load16(xr + j) - load16(mean + j)
                store16(load16(inverseStd + j).fma(d, d), inverseStd + j)
                j += 16
            }
            while j < c { let d = xr[j] - mean[j]; inverseStd[j] += d * d; j += 1 }
        }
        for j in 0..<c { inverseStd[j] = 1 / (inverseStd[j] * scale + epsilon).squareRoot() }
    }

    /// `y = a·x + b` with a = γ/σ and b = β − a·μ (recomputed per row: cheaper than scratch
    /// space), then the ReLU; the one definition of the output that the pooled variant shares.
    @inline(__always)
    static func normalizeRows(_ x: UnsafePointer<Float>, rows: Int, channels c: Int,
                              gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, relu: Bool,
                              mean: UnsafePointer<Float>, inverseStd: UnsafePointer<Float>,
                              output y: UnsafeMutablePointer<Float>) {
        let vectorized = c - c % 16
        let zero = SIMD16<Float>()
        for r in 0..<rows {
            let xr = x + r * c, yr = y + r * c
            var j = 0
            while j < vectorized {
                let a = load16(gamma + j) * load16(inverseStd + j)
                let b = load16(beta + j) - a * load16(mean + j)
                var v = b.fma(a, load16(xr + j))
                if relu { v = pointwiseMax(v, zero) }
                store16(v, yr + j)
                j += 16
            }
            while j < c {
                let a = gamma[j] * inverseStd[j]
                var v = a * xr[j] + (beta[j] - a * mean[j])
                if relu { v = max(0, v) }
                yr[j] = v
                j += 1
            }
        }
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
        let c = channels
        dgamma.update(repeating: 0, count: c)
        dbeta.update(repeating: 0, count: c)
        accumulateRows(x, outputGradient: dy, rows: rows, channels: c, gamma: gamma, beta: beta, relu: relu,
                       mean: mean, inverseStd: inverseStd, gammaGradient: dgamma, betaGradient: dbeta)
        guard let dx else { return }
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * c + 16) { perChannel in
            let meanG = perChannel.baseAddress!, meanGX = meanG + c
            perChannelMeans(rows: rows, channels: c, gammaGradient: dgamma, betaGradient: dbeta, meanG: meanG, meanGX: meanGX)
            inputGradientRows(x, outputGradient: dy, rows: rows, channels: c, gamma: gamma, beta: beta, relu: relu,
                              mean: mean, inverseStd: inverseStd, meanG: meanG, meanGX: meanGX, inputGradient: dx)
        }
    }

    /// Pass 1 of the backward pass over some rows: dβ += Σ g, dγ += Σ g·x̂, where g is dy masked
    /// by the ReLU (y > 0).
    @inline(__always)
    static func accumulateRows(
        _ x: UnsafePointer<Float>, outputGradient dy: UnsafePointer<Float>, rows: Int, channels c: Int,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, relu: Bool,
        mean: UnsafePointer<Float>, inverseStd: UnsafePointer<Float>,
        gammaGradient dgamma: UnsafeMutablePointer<Float>, betaGradient dbeta: UnsafeMutablePointer<Float>
    ) {
        let vectorized = c - c % 16
        let zero = SIMD16<Float>()
        for r in 0..<rows {
            let xr = x + r * c, gr = dy + r * c
            var j = 0
            while j < vectorized {
                let xhat = (load16(xr + j) - load16(mean + j)) * load16(inverseStd + j)
                var g = load16(gr + j)
                if relu { g.replace(with: zero, where: load16(beta + j).fma(load16(gamma + j), xhat) .<= zero) }
                store16(load16(dbeta + j) + g, dbeta + j)
                store16(load16(dgamma + j).fma(g, xhat), dgamma + j)
                j += 16
            }
            while j < c {
                let xhat = (xr[j] - mean[j]) * inverseStd[j]
                var g = gr[j]
                if relu && gamma[j] * xhat + beta[j] <= 0 { g = 0 }
                dbeta[j] += g
                dgamma[j] += g * xhat
                j += 1
            }
        }
    }

    /// dβ/N and dγ/N, divided once per channel instead of once per element.
    @inline(__always)
    static func perChannelMeans(rows: Int, channels c: Int, gammaGradient dgamma: UnsafePointer<Float>,
                                betaGradient dbeta: UnsafePointer<Float>,
                                meanG: UnsafeMutablePointer<Float>, meanGX: UnsafeMutablePointer<Float>) {
        let n = Float(rows)
        for j in 0..<c {
            meanG[j] = dbeta[j] / n
            meanGX[j] = dgamma[j] / n
        }
    }

    /// Pass 2 over some rows: dx = γ/σ · (g − dβ/N − x̂·dγ/N).
    @inline(__always)
    static func inputGradientRows(
        _ x: UnsafePointer<Float>, outputGradient dy: UnsafePointer<Float>, rows: Int, channels c: Int,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, relu: Bool,
        mean: UnsafePointer<Float>, inverseStd: UnsafePointer<Float>,
        meanG: UnsafePointer<Float>, meanGX: UnsafePointer<Float>, inputGradient dx: UnsafeMutablePointer<Float>
    ) {
        let vectorized = c - c % 16
        let zero = SIMD16<Float>()
        for r in 0..<rows {
            let xr = x + r * c, gr = dy + r * c, dxr = dx + r * c
            var j = 0
            while j < vectorized {
                let inv = load16(inverseStd + j)
                let gam = load16(gamma + j)
                let xhat = (load16(xr + j) - load16(mean + j)) * inv
                var g = load16(gr + j)
                if relu { g.replace(with: zero, where: load16(beta + j).fma(gam, xhat) .<= zero) }
                let inner = g - load16(meanG + j) - xhat * load16(meanGX + j)
                store16(gam * inv * inner, dxr + j)
                j += 16
            }
            while j < c {
                let xhat = (xr[j] - mean[j]) * inverseStd[j]
                var g = gr[j]
                if relu && gamma[j] * xhat + beta[j] <= 0 { g = 0 }
                dxr[j] = gamma[j] * inverseStd[j] * (g - meanG[j] - xhat * meanGX[j])
                j += 1
            }
        }
    }
}

// MARK: - Fused with max pooling

extension BatchNormKernels {
    /// Batch norm (+ ReLU) followed by max pooling whose windows tile the input
    /// (``PoolGeometry/windowsTile``), without writing the full-size activation: the statistics
    /// pass over `x` as in ``forward(_:rows:channels:gamma:beta:epsilon:relu:output:mean:inverseStd:)``,
    /// then each window's positions are normalized one at a time and only their maximum is
    /// written. The floats are those of the layers run one after another.
    ///
    /// - Parameter scratch: `channels` floats.
    public static func forwardPooled(
        _ x: UnsafePointer<Float>, batch: Int, pool g: PoolGeometry,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, epsilon: Float, relu: Bool,
        output y: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, inverseStd: UnsafeMutablePointer<Float>,
        scratch: UnsafeMutablePointer<Float>
    ) {
        precondition(g.windowsTile, "fused pooling needs windows that tile the input")
        let c = g.channels
        statistics(x, rows: batch * g.inputHeight * g.inputWidth, channels: c, epsilon: epsilon,
                   mean: mean, inverseStd: inverseStd)
        let value = scratch
        for n in 0..<batch {
            for oy in 0..<g.outputHeight {
                for ox in 0..<g.outputWidth {
                    let out = y + ((n * g.outputHeight + oy) * g.outputWidth + ox) * c
                    var first = true
                    g.forEachPosition(image: n, outputY: oy, outputX: ox) { i in
                        normalizeRows(x + i, rows: 1, channels: c, gamma: gamma, beta: beta, relu: relu,
                                      mean: mean, inverseStd: inverseStd, output: first ? out : value)
                        if !first { PoolingKernels.keepMaximum(of: value, in: out, count: c) }
                        first = false
                    }
                }
            }
        }
    }

    /// The backward pass of ``forwardPooled(_:batch:pool:gamma:beta:epsilon:relu:output:mean:inverseStd:scratch:)``
    /// from the gradient of the pooled output `dy`: for each row of windows, the gradient that max
    /// pooling routes to each input position (the first position equal to the window's maximum) is
    /// rebuilt in `scratch`, and the batch-norm passes run over those input rows in order — the
    /// same sums, in the same order, as the layers one after another.
    ///
    /// - Parameter scratch: `size × inputWidth × channels + channels` floats.
    public static func backwardPooled(
        _ x: UnsafePointer<Float>, batch: Int, pool g: PoolGeometry, output y: UnsafePointer<Float>,
        outputGradient dy: UnsafePointer<Float>,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, relu: Bool,
        mean: UnsafePointer<Float>, inverseStd: UnsafePointer<Float>,
        inputGradient dx: UnsafeMutablePointer<Float>?,
        gammaGradient dgamma: UnsafeMutablePointer<Float>, betaGradient dbeta: UnsafeMutablePointer<Float>,
        scratch: UnsafeMutablePointer<Float>
    ) {
        precondition(g.windowsTile, "fused pooling needs windows that tile the input")
        let c = g.channels
        let rowFloats = g.inputWidth * c
        let routed = scratch, remaining = scratch + g.size * rowFloats
        dgamma.update(repeating: 0, count: c)
        dbeta.update(repeating: 0, count: c)

        /// Calls `body(inputRow, routedGradientOfThatRow)` for the input rows of image n under
        /// window row oy, after routing the pooled gradient into `routed`.
        func forEachRoutedRow(_ body: (Int, UnsafePointer<Float>) -> Void) {
            for n in 0..<batch {
                for oy in 0..<g.outputHeight {
                    let rowsHere = min(g.size, g.inputHeight - oy * g.stride)
                    // Offset of the window row's first input float: positions map into `routed`
                    // by their offset from it.
                    let windowRow = (n * g.inputHeight + oy * g.stride) * rowFloats
                    for ox in 0..<g.outputWidth {
                        let o = ((n * g.outputHeight + oy) * g.outputWidth + ox) * c
                        remaining.update(from: dy + o, count: c)
                        g.forEachPosition(image: n, outputY: oy, outputX: ox) { i in
                            // The pooling layer's input at this position, as the forward pass made
                            // it, replaced by the gradient routed to it.
                            let position = routed + (i - windowRow)
                            normalizeRows(x + i, rows: 1, channels: c, gamma: gamma, beta: beta, relu: relu,
                                          mean: mean, inverseStd: inverseStd, output: position)
                            PoolingKernels.route(input: position, maximum: y + o, remaining: remaining, into: position,
                                                 count: c, overwrite: true)
                        }
                    }
                    for wy in 0..<rowsHere {
                        body((n * g.inputHeight + oy * g.stride + wy) * g.inputWidth, routed + wy * rowFloats)
                    }
                }
            }
        }

        forEachRoutedRow { row, gradient in
            accumulateRows(x + row * c, outputGradient: gradient, rows: g.inputWidth, channels: c,
                           gamma: gamma, beta: beta, relu: relu, mean: mean, inverseStd: inverseStd,
                           gammaGradient: dgamma, betaGradient: dbeta)
        }
        guard let dx else { return }
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * c + 16) { perChannel in
            let meanG = perChannel.baseAddress!, meanGX = meanG + c
            perChannelMeans(rows: batch * g.inputHeight * g.inputWidth, channels: c, gammaGradient: dgamma,
                            betaGradient: dbeta, meanG: meanG, meanGX: meanGX)
            forEachRoutedRow { row, gradient in
                inputGradientRows(x + row * c, outputGradient: gradient, rows: g.inputWidth, channels: c,
                                  gamma: gamma, beta: beta, relu: relu, mean: mean, inverseStd: inverseStd,
                                  meanG: meanG, meanGX: meanGX, inputGradient: dx + row * c)
            }
        }
    }
}
