// The classifier the API tests run against. Every test gets its classifier from
// `makeTestClassifier()`; swap its body for the real meta-learned model to test the server with it.

import Foundation
import ReptileServer

/// The classifier instance used by the API tests.
func makeTestClassifier() -> any DrawingClassifier {
    PrototypeClassifier()
}

/// A small real few-shot classifier: each drawing is blurred (so that nearby strokes match), centred
/// and scaled to unit length; a linear softmax layer starting from zero adapts to the class drawings by
/// a few steps of gradient descent on the cross-entropy, and then classifies the input.
struct PrototypeClassifier: DrawingClassifier {
    var steps = 8
    var learningRate: Float = 6
    var blurSigma: Float = 1.5

    var info: [String: String] {
        [
            "model": "prototype classifier (blurred pixels, linear softmax layer)",
            "adaptation": "\(steps) steps of gradient descent, learning rate \(learningRate)",
            "note": "development stand-in for the meta-learned network",
        ]
    }

    struct InvalidInput: Error, CustomStringConvertible {
        var description: String
    }

    func classify(train: [[Float]], input: [Float]) throws -> ClassificationResult {
        let side = 28, count = side * side
        guard train.count >= 2 else { throw InvalidInput(description: "need at least 2 classes, got \(train.count)") }
        guard train.allSatisfy({ $0.count == count }), input.count == count else {
            throw InvalidInput(description: "drawings must have \(count) pixels")
        }
        let classes = train.count
        let features = train.map { feature($0, side: side) }
        let query = feature(input, side: side)

        var weights = [[Float]](repeating: [Float](repeating: 0, count: count), count: classes)
        var losses: [Float] = []
        for _ in 0..<steps {
            var gradient = [[Float]](repeating: [Float](repeating: 0, count: count), count: classes)
            for (label, x) in features.enumerated() {
                let p = softmax(weights.map { dot($0, x) })
                for j in 0..<classes {
                    let g = (p[j] - (j == label ? 1 : 0)) / Float(classes)
                    for i in 0..<count { gradient[j][i] += g * x[i] }
                }
            }
            for j in 0..<classes {
                for i in 0..<count { weights[j][i] -= learningRate * gradient[j][i] }
            }
            let loss = features.enumerated().map { label, x in
                -log(max(softmax(weights.map { dot($0, x) })[label], 1e-12))
            }.reduce(0, +) / Float(classes)
            losses.append(loss)
        }
        return ClassificationResult(probabilities: softmax(weights.map { dot($0, query) }), losses: losses)
    }

    /// Gaussian blur, then zero mean and unit length.
    private func feature(_ pixels: [Float], side: Int) -> [Float] {
        let radius = Int((3 * blurSigma).rounded(.up))
        var kernel = (-radius...radius).map { exp(-Float($0 * $0) / (2 * blurSigma * blurSigma)) }
        let total = kernel.reduce(0, +)
        kernel = kernel.map { $0 / total }
        var horizontal = [Float](repeating: 0, count: pixels.count)
        for y in 0..<side {
            for x in 0..<side {
                var sum: Float = 0
                for k in -radius...radius where (0..<side).contains(x + k) { sum += kernel[k + radius] * pixels[y * side + x + k] }
                horizontal[y * side + x] = sum
            }
        }
        var blurred = [Float](repeating: 0, count: pixels.count)
        for y in 0..<side {
            for x in 0..<side {
                var sum: Float = 0
                for k in -radius...radius where (0..<side).contains(y + k) { sum += kernel[k + radius] * horizontal[(y + k) * side + x] }
                blurred[y * side + x] = sum
            }
        }
        let mean = blurred.reduce(0, +) / Float(blurred.count)
        let centred = blurred.map { $0 - mean }
        let norm = dot(centred, centred).squareRoot()
        return norm > 1e-6 ? centred.map { $0 / norm } : centred
    }

    private func dot(_ a: [Float], _ b: [Float]) -> Float {
        var sum: Float = 0
        for i in a.indices { sum += a[i] * b[i] }
        return sum
    }

    private func softmax(_ logits: [Float]) -> [Float] {
        let top = logits.max() ?? 0
        let exps = logits.map { exp($0 - top) }
        let total = exps.reduce(0, +)
        return exps.map { $0 / total }
    }
}
