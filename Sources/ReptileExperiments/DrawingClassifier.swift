// One-shot classification of hand drawings with a meta-learned Omniglot model: the computation
// behind the interactive demo, independent of any server.

import Foundation
import ReptileKernels
import ReptileMeta
import ReptileNN

/// Adapts a copy of meta-learned Omniglot weights to 2…N drawings, one per class, and classifies an
/// input drawing — the blog's "draw three shapes" demo.
///
/// As in the original demo, each adaptation step moves every weight by
/// `learningRate · g / (√v + 1e-5)`, where `v` is the inner Adam's second moment at the end of
/// meta-training (so the step matches the inner optimizer's), and the class drawings and the input
/// are predicted in one batch (batch-norm statistics come from that batch). The meta-learned weights
/// are never changed; every call works on its own buffers, so one instance serves many threads.
public struct DrawingClassifierModel: Sendable {
    /// Side of a drawing in pixels.
    public static let side = 28
    /// Pixels of a drawing (`side × side`, row-major, strokes 1, background 0).
    public static let pixelCount = side * side

    public let model: Sequential
    public let parameters: [Float]
    /// Per-weight step sizes `learningRate / (√v + 1e-5)`.
    public let stepSizes: [Float]
    /// Adaptation steps per classification (5 in the original demo).
    public let steps: Int
    /// Where the weights came from, for display.
    public let description: [String: String]

    /// The most classes a request may have: the model's outputs.
    public var maxClasses: Int { model.outputCount }

    /// Loads a checkpoint written by `reptile train omniglot`.
    public init(checkpoint directory: String, steps: Int = 5) throws {
        let loaded = try LoadedModel.load(from: directory, expecting: .omniglot)
        guard loaded.model.inputCount == Self.pixelCount else {
            throw ExperimentError("\(directory): the model takes \(loaded.model.inputCount) inputs, not 28×28 drawings")
        }
        let learningRate = loaded.record.options.learningRate
        let stepSizes: [Float]
        if let adam = loaded.optimizer as? Adam {
            stepSizes = adam.state.secondMoment.map { learningRate / ($0.squareRoot() + 1e-5) }
        } else {
            stepSizes = [Float](repeating: learningRate, count: loaded.parameters.count)
        }
        self.init(model: loaded.model, parameters: loaded.parameters, stepSizes: stepSizes, steps: steps,
                  description: [
                      // Its name only: the page is public, the machine's paths are not.
                      "checkpoint": (directory as NSString).lastPathComponent,
                      "model": "Omniglot \(loaded.record.options.classes)-way conv net, \(loaded.model.parameterCount) parameters",
                      "meta_iterations": String(loaded.record.iteration),
                      "adaptation": "\(steps) steps, per-weight step lr/(√v+1e-5) with lr \(learningRate) and v from meta-training",
                  ])
    }

    public init(model: Sequential, parameters: [Float], stepSizes: [Float], steps: Int, description: [String: String] = [:]) {
        precondition(parameters.count == model.parameterCount && stepSizes.count == model.parameterCount)
        self.model = model
        self.parameters = parameters
        self.stepSizes = stepSizes
        self.steps = steps
        self.description = description
    }

    /// Adapts to `train` (one drawing per class, label = position) and returns the probability of
    /// each class for `input`, and the adaptation loss at each step.
    ///
    /// The model has ``maxClasses`` outputs; with fewer classes the unused outputs simply never
    /// appear as labels, and the probabilities are the softmax over the first `train.count` outputs.
    public func classify(train: [[Float]], input: [Float]) throws -> (probabilities: [Float], losses: [Float]) {
        let classes = train.count
        guard (2...maxClasses).contains(classes) else {
            throw ExperimentError("need 2 to \(maxClasses) class drawings, got \(classes)")
        }
        for drawing in train + [input] {
            guard drawing.count == Self.pixelCount else {
                throw ExperimentError("a drawing has \(drawing.count) pixels, expected \(Self.pixelCount)")
            }
            guard drawing.allSatisfy({ $0.isFinite && $0 >= 0 && $0 <= 1 }) else {
                throw ExperimentError("pixel values must lie in [0, 1]")
            }
        }
        var losses: [Float] = []
        losses.reserveCapacity(steps)
        let adapted = model.adapt(parameters, to: ArrayTask(inputs: train, labels: Array(0..<classes)), loss: .softmaxCrossEntropy,
                                  steps: steps, optimizer: PerParameterSGD(stepSizes: stepSizes)) { _, loss in losses.append(loss) }
        // Predict the class drawings and the input together, as the original demo does.
        let outputs = model.predict(adapted, inputs: train + [input]).last!
        let logits = Array(outputs.prefix(classes))
        let top = logits.max()!
        let exps = logits.map { Foundation.exp($0 - top) }
        let total = exps.reduce(0, +)
        return (exps.map { $0 / total }, losses)
    }
}
