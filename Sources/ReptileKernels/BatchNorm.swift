// Batch normalization with batch statistics (the only mode the paper's models use), optionally
// fused with the ReLU that follows it.

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
        // y = a·x + b with a = γ/σ and b = β − a·μ (recomputed per row: cheaper than scratch space).
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
        let vectorized = c - c % 16
        let zero = SIMD16<Float>()
        dgamma.update(repeating: 0, count: c)
        dbeta.update(repeating: 0, count: c)
        // Pass 1: dβ = Σ g, dγ = Σ g·x̂, where g is dy masked by the ReLU (y > 0).
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
        guard let dx else { return }
        // Pass 2: dx = γ/σ · (g − dβ/N − x̂·dγ/N), with dβ/N and dγ/N divided once per channel
        // instead of once per element.
        let n = Float(rows)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * c + 16) { perChannel in
            let meanG = perChannel.baseAddress!, meanGX = meanG + c
            for j in 0..<c {
                meanG[j] = dbeta[j] / n
                meanGX[j] = dgamma[j] / n
            }
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
}
