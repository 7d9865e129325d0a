// The inner loop: a few optimizer steps on one task, and the meta-gradient it yields.

import ReptileKernels
import ReptileNN

/// How the inner loop trains on one task.
public struct InnerLoopConfiguration: Sendable, Equatable, Codable {
    /// Examples per mini-batch (`--inner-batch`).
    public var batchSize: Int
    /// Number of mini-batches, i.e. optimizer steps (`--inner-iters`).
    public var iterations: Int
    /// Draw each mini-batch independently (`--replacement`) instead of cutting shuffled epochs.
    public var replacement: Bool
    /// FOMAML's tail shots (`--foml-tail`): the last step uses a separate set of this many
    /// examples per class and the first `iterations − 1` batches come from the rest.
    public var tailShots: Int?
    /// Before every step all weights are multiplied by this (`--weight-decay`; 1 = off).
    public var weightDecay: Float

    public init(batchSize: Int, iterations: Int, replacement: Bool = false, tailShots: Int? = nil, weightDecay: Float = 1) {
        self.batchSize = batchSize
        self.iterations = iterations
        self.replacement = replacement
        self.tailShots = tailShots
        self.weightDecay = weightDecay
    }
}

/// Which inner updates form the meta-gradient.
///
/// With k inner steps W₀ = θ → W₁ → … → W_k, write gⱼ = W_{j−1} − W_j for the j-th update.
/// Reptile uses all of them (their sum is θ − W_k), first-order MAML the last one, and the blog's
/// study any subset, summed or averaged.
public enum MetaGradient: Sendable, Equatable, Codable {
    /// θ − W_k = g₁ + … + g_k.
    case reptile
    /// g_k: the last inner step (first-order MAML).
    case fomaml
    /// The sum (or, with `average`, the mean) of gⱼ for the given 1-based steps.
    case steps([Int], average: Bool)

    /// The 1-based steps included, for `k` inner steps, and the scale applied to their sum.
    public func selection(innerSteps k: Int) -> (steps: Set<Int>, scale: Float) {
        switch self {
        case .reptile: return (Set(1...max(k, 1)), 1)
        case .fomaml: return ([k], 1)
        case .steps(let steps, let average):
            let chosen = Set(steps.filter { $0 >= 1 && $0 <= k })
            return (chosen, average && !chosen.isEmpty ? 1 / Float(chosen.count) : 1)
        }
    }
}

/// The inner loop, reusable across tasks on one thread.
package enum InnerLoop {
    /// Trains `weights` in place on `task` for `configuration.iterations` mini-batches, stepping
    /// `optimizer` (whose state carries over: pass a copy to keep the original), and returns the
    /// mean training loss over the steps.
    ///
    /// If `metaGradient` is given, the meta-gradient selected by `selection` is written there
    /// (`Sequential.parameterCount` floats). `onStep` receives each step's number and batch loss.
    @discardableResult
    package static func run<T: SupervisedTask, O: Optimizer>(
        _ task: T, weights: UnsafeMutablePointer<Float>, optimizer: inout O, learner: Learner,
        configuration: InnerLoopConfiguration, using rng: inout RandomGenerator,
        metaGradient: UnsafeMutablePointer<Float>? = nil, selection: MetaGradient = .reptile,
        onStep: ((Int, Float) -> Void)? = nil
    ) -> Float {
        run(task, batches: plan(task, configuration: configuration, using: &rng), weights: weights, optimizer: &optimizer,
            learner: learner, weightDecay: configuration.weightDecay, metaGradient: metaGradient, selection: selection,
            onStep: onStep)
    }

    /// The inner loop on given mini-batches (example indices), one optimizer step each: the one
    /// adaptation loop that meta-training, evaluation and ``Sequential/adapt(_:to:loss:steps:optimizer:batchSize:seed:onStep:)``
    /// (the demo's, the sine figure's and the one-shot runs') all run.
    @discardableResult
    package static func run<T: SupervisedTask, O: Optimizer>(
        _ task: T, batches: [[Int]], weights: UnsafeMutablePointer<Float>, optimizer: inout O, learner: Learner,
        weightDecay: Float = 1, metaGradient: UnsafeMutablePointer<Float>? = nil, selection: MetaGradient = .reptile,
        onStep: ((Int, Float) -> Void)? = nil
    ) -> Float {
        let count = learner.model.parameterCount
        let (chosen, scale) = selection.selection(innerSteps: batches.count)
        let accumulate = metaGradient != nil && selection != .reptile
        if let metaGradient {
            if selection == .reptile {
                metaGradient.update(from: weights, count: count)  // θ, minus W_k at the end
            } else {
                metaGradient.update(repeating: 0, count: count)
            }
        }
        var totalLoss: Float = 0
        for (j, batch) in batches.enumerated() {
            let step = j + 1
            if accumulate, chosen.contains(step) { Vector.add(weights, into: metaGradient!, count: count) }
            if weightDecay != 1 { Vector.scale(weights, by: weightDecay, count: count) }
            fill(learner, from: task, indices: batch)
            let value = learner.lossAndGradient(parameters: weights, batch: batch.count)
            onStep?(j, value)
            totalLoss += value
            learner.update(&optimizer, parameters: weights)
            if accumulate, chosen.contains(step) { Vector.axpy(-1, weights, metaGradient!, count: count) }
        }
        if let metaGradient {
            if selection == .reptile {
                Vector.axpy(-1, weights, metaGradient, count: count)
            } else if scale != 1 {
                Vector.scale(metaGradient, by: scale, count: count)
            }
        }
        return batches.isEmpty ? 0 : totalLoss / Float(batches.count)
    }

    /// The mini-batches (example indices) the inner loop will use on `task`.
    package static func plan<T: SupervisedTask>(_ task: T, configuration c: InnerLoopConfiguration,
                                               using rng: inout RandomGenerator) -> [[Int]] {
        guard let tail = c.tailShots else {
            return MiniBatches.indices(exampleCount: task.exampleCount, size: c.batchSize, count: c.iterations,
                                       replacement: c.replacement, using: &rng)
        }
        let (rest, tailSet) = MiniBatches.splitTail(task, shots: tail)
        guard c.iterations > 1 else { return [tailSet] }
        let head = MiniBatches.indices(exampleCount: rest.count, size: c.batchSize, count: c.iterations - 1,
                                       replacement: c.replacement, using: &rng)
        return head.map { $0.map { rest[$0] } } + [tailSet]
    }

    /// Writes the examples `indices` of `task` into the learner's batch buffers.
    package static func fill<T: SupervisedTask>(_ learner: Learner, from task: T, indices: [Int]) {
        precondition(indices.count <= learner.maxBatch, "batch of \(indices.count) exceeds the learner's \(learner.maxBatch)")
        let inputCount = learner.model.inputCount, targetCount = learner.targetCount
        for (b, index) in indices.enumerated() {
            task.writeExample(index, input: FloatView(learner.inputs.pointer + b * inputCount, count: inputCount),
                              target: FloatView(learner.targets.pointer + b * targetCount, count: targetCount))
        }
    }
}
