// Loss functions with their gradients, and argmax for predictions.

import Foundation

/// Losses over a batch, each returning the mean loss and writing the gradient of that mean (or,
/// for the summed cross-entropy, of the sum).
public enum LossKernels {
    /// Mean softmax cross-entropy of `batch` rows of `classes` logits against integer labels
    /// (stored as floats). Writes `(softmax − onehot)/batch` into `gradient` when given, or
    /// `softmax − onehot` with `summed`: the gradient of the sum over the rows.
    public static func softmaxCrossEntropy(
        logits: UnsafePointer<Float>, labels: UnsafePointer<Float>, batch: Int, classes: Int,
        gradient: UnsafeMutablePointer<Float>?, summed: Bool = false
    ) -> Float {
        var total: Double = 0
        let invBatch: Float = summed ? 1 : 1 / Float(batch)
        for b in 0..<batch {
            let row = logits + b * classes
            let label = Int(labels[b])
            var maxLogit = -Float.infinity
            for j in 0..<classes { maxLogit = max(maxLogit, row[j]) }
            var sum: Float = 0
            for j in 0..<classes { sum += Foundation.exp(row[j] - maxLogit) }
            let logSum = Foundation.log(sum) + maxLogit
            total += Double(logSum - row[label])
            if let gradient {
                let g = gradient + b * classes
                for j in 0..<classes {
                    let p = Foundation.exp(row[j] - logSum)
                    g[j] = (p - (j == label ? 1 : 0)) * invBatch
                }
            }
        }
        return Float(total / Double(batch))
    }

    /// Softmax probabilities of each row (numerically stable).
    public static func softmax(logits: UnsafePointer<Float>, batch: Int, classes: Int, into out: UnsafeMutablePointer<Float>) {
        for b in 0..<batch {
            let row = logits + b * classes, o = out + b * classes
            var maxLogit = -Float.infinity
            for j in 0..<classes { maxLogit = max(maxLogit, row[j]) }
            var sum: Float = 0
            for j in 0..<classes { o[j] = Foundation.exp(row[j] - maxLogit); sum += o[j] }
            for j in 0..<classes { o[j] /= sum }
        }
    }

    /// Mean squared error over all `count` elements; writes `2(prediction − target)/count`.
    public static func meanSquaredError(
        prediction: UnsafePointer<Float>, target: UnsafePointer<Float>, count: Int, gradient: UnsafeMutablePointer<Float>?
    ) -> Float {
        var total: Float = 0
        let scale = 2 / Float(count)
        for i in 0..<count {
            let d = prediction[i] - target[i]
            total += d * d
            gradient?[i] = scale * d
        }
        return total / Float(count)
    }

    /// The index of the largest value of row `row` (the first one on ties).
    public static func argmax(_ x: UnsafePointer<Float>, row: Int, columns: Int) -> Int {
        let r = x + row * columns
        var best = 0
        for j in 1..<max(columns, 1) where r[j] > r[best] { best = j }
        return best
    }
}
