// Using a meta-learned initialization with plain values: tasks from arrays, adapting parameters
// to a task, and the loss of a set of parameters on a task (predictions: `Sequential.predict`).

import ReptileKernels
import ReptileNN

/// A task given as arrays: one input row (the model's `inputCount` floats) and one target row per
/// example. For classification with cross-entropy the target row is the class index, one float.
///
/// ```swift
/// let task = ArrayTask(inputs: [[0.1], [0.5], [0.9]], targets: [[0.2], [1.0], [1.8]])
/// let classes = ArrayTask(inputs: points, labels: [0, 1, 2, 0, 1, 2])
/// ```
public struct ArrayTask: SupervisedTask, Sendable, Equatable {
    public let inputs: [[Float]]
    public let targets: [[Float]]
    private let labels: [Int]?

    /// A regression (or any) task: `targets[i]` is what the loss compares with the model's output for `inputs[i]`.
    public init(inputs: [[Float]], targets: [[Float]]) {
        precondition(inputs.count == targets.count, "\(inputs.count) inputs but \(targets.count) targets")
        self.inputs = inputs
        self.targets = targets
        labels = nil
    }

    /// A classification task: `labels[i]` is the class of `inputs[i]` (0-based).
    public init(inputs: [[Float]], labels: [Int]) {
        precondition(inputs.count == labels.count, "\(inputs.count) inputs but \(labels.count) labels")
        precondition(labels.allSatisfy { $0 >= 0 }, "class labels must not be negative")
        self.inputs = inputs
        targets = labels.map { [Float($0)] }
        self.labels = labels
    }

    public var exampleCount: Int { inputs.count }

    public func writeExample(_ index: Int, input: FloatView, target: FloatView) {
        input.assign(inputs[index])
        target.assign(targets[index])
    }

    public func classLabel(of index: Int) -> Int? { labels?[index] }
}

extension Sequential {
    /// Adapts `parameters` (say, a meta-learned initialization) to `task` with `steps` steps of
    /// `optimizer`, and returns the adapted parameters; nothing passed in changes.
    ///
    /// With no `batchSize`, every step uses all of the task's examples in order (as the sine demo
    /// and the drawing demo do); with one, the steps use mini-batches cut from shuffled epochs of
    /// the examples, drawn from `seed`, exactly as Reptile's inner loop does. `onStep`, if given,
    /// receives each step's number (from 0) and its batch's loss before the step.
    public func adapt<T: SupervisedTask, O: Optimizer>(_ parameters: [Float], to task: T, loss: Loss, steps: Int,
                                                       optimizer: O, batchSize: Int? = nil, seed: UInt64 = 0,
                                                       onStep: ((Int, Float) -> Void)? = nil) -> [Float] {
        precondition(parameters.count == parameterCount, "expected \(parameterCount) parameters, got \(parameters.count)")
        precondition(steps >= 0, "steps must not be negative")
        precondition(task.exampleCount > 0, "the task has no examples")
        let batch = batchSize ?? task.exampleCount
        let learner = Learner(model: self, loss: loss, maxBatch: batch)
        var weights = parameters
        var optimizer = optimizer
        // Mini-batches cut from shuffled epochs, as Reptile's inner loop; or every example, in order, at each step.
        let batches: [[Int]]
        if let batchSize {
            var rng = RandomGenerator(seed: seed, stream: [RandomStream.adaptation.rawValue])
            batches = InnerLoop.plan(task, configuration: InnerLoopConfiguration(batchSize: batchSize, iterations: steps), using: &rng)
        } else {
            batches = Array(repeating: Array(0..<task.exampleCount), count: steps)
        }
        _ = weights.withUnsafeMutableBufferPointer { w in
            InnerLoop.run(task, batches: batches, weights: w.baseAddress!, optimizer: &optimizer, learner: learner, onStep: onStep)
        }
        return weights
    }

    /// The mean loss of `parameters` on all of `task`'s examples.
    public func loss<T: SupervisedTask>(_ parameters: [Float], on task: T, loss: Loss) -> Float {
        precondition(parameters.count == parameterCount, "expected \(parameterCount) parameters, got \(parameters.count)")
        let learner = Learner(model: self, loss: loss, maxBatch: max(task.exampleCount, 1))
        InnerLoop.fill(learner, from: task, indices: Array(0..<task.exampleCount))
        return parameters.withUnsafeBufferPointer { learner.loss(parameters: $0.baseAddress!, batch: task.exampleCount) }
    }
}
