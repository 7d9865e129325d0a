import Foundation
import Testing
@testable import ReptileKernels

/// Batch norm's forward and backward kernels against the textbook formulas in double precision,
/// for channel counts that exercise every path: one 16-float vector plus a scalar tail (21),
/// two vectors (32, the paper's), and a 64-channel block followed by a 16-channel one (80).
@Test("batch norm matches the definition in double precision", arguments: [21, 32, 80], [false, true])
func batchNormMatchesDefinition(channels c: Int, relu: Bool) {
    let rows = 37
    var rng = RandomGenerator(seed: UInt64(c))
    let x = (0..<rows * c).map { _ in rng.uniform(Float(-2), Float(3)) }
    let dy = (0..<rows * c).map { _ in rng.uniform(Float(-1), Float(1)) }
    let gamma = (0..<c).map { _ in rng.uniform(Float(0.5), Float(1.5)) }
    let beta = (0..<c).map { _ in rng.uniform(Float(-0.5), Float(0.5)) }
    let epsilon: Float = 1e-3
    var y = [Float](repeating: 0, count: rows * c), dx = y
    var mean = [Float](repeating: 0, count: c), inverseStd = mean, dgamma = mean, dbeta = mean
    BatchNormKernels.forward(x, rows: rows, channels: c, gamma: gamma, beta: beta, epsilon: epsilon, relu: relu,
                             output: &y, mean: &mean, inverseStd: &inverseStd)
    BatchNormKernels.backward(x, outputGradient: dy, rows: rows, channels: c, gamma: gamma, beta: beta, relu: relu,
                              mean: mean, inverseStd: inverseStd, inputGradient: &dx,
                              gammaGradient: &dgamma, betaGradient: &dbeta)
    for j in 0..<c {
        let column = (0..<rows).map { Double(x[$0 * c + j]) }
        let mu = column.reduce(0, +) / Double(rows)
        let variance = column.map { ($0 - mu) * ($0 - mu) }.reduce(0, +) / Double(rows)
        let s = 1 / (variance + Double(epsilon)).squareRoot()
        let xhat = column.map { ($0 - mu) * s }
        let pre = xhat.map { Double(gamma[j]) * $0 + Double(beta[j]) }
        let g = (0..<rows).map { relu && pre[$0] <= 0 ? 0 : Double(dy[$0 * c + j]) }
        let sumG = g.reduce(0, +), sumGX = zip(g, xhat).map(*).reduce(0, +)
        #expect(abs(Double(mean[j]) - mu) < 1e-5)
        #expect(abs(Double(inverseStd[j]) - s) < 1e-4 * s)
        #expect(abs(Double(dbeta[j]) - sumG) < 1e-4)
        #expect(abs(Double(dgamma[j]) - sumGX) < 1e-4)
        for r in 0..<rows {
            let expected = relu ? max(0, pre[r]) : pre[r]
            #expect(abs(Double(y[r * c + j]) - expected) < 1e-4)
            let expectedDX = Double(gamma[j]) * s * (g[r] - sumG / Double(rows) - xhat[r] * sumGX / Double(rows))
            #expect(abs(Double(dx[r * c + j]) - expectedDX) < 1e-4)
        }
    }
}
