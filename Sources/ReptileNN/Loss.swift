// Loss functions and the per-thread learner that computes a loss and its gradient.

import ReptileKernels

/// The training objective.
public enum Loss: String, Sendable, Codable, CaseIterable {
    /// Mean squared error over all outputs (regression, e.g. the sine waves).
    case meanSquaredError
    /// Mean softmax cross-entropy; targets are class indices stored as floats.
    case softmaxCrossEntropy
    /// Softmax cross-entropy summed over the batch: the objective of the reference
    /// `supervised-reptile`, whose TF1 `minimize` of the unreduced per-example losses adds their
    /// gradients. A plain SGD step is then `batch` times that of the mean (Adam barely notices:
    /// only its ε weighs differently). The value it reports is still the mean per example.
    case summedSoftmaxCrossEntropy

    /// Floats of target per example for a model with `outputCount` outputs.
    public func targetCount(outputCount: Int) -> Int {
        self == .meanSquaredError ? outputCount : 1
    }

    /// The mean loss of `batch` examples; writes the gradient with respect to `output` if asked
    /// (of the sum over the examples for ``summedSoftmaxCrossEntropy``).
    package func evaluate(output: UnsafePointer<Float>, targets: UnsafePointer<Float>, batch: Int, outputCount: Int,
                         gradient: UnsafeMutablePointer<Float>?) -> Float {
        switch self {
        case .meanSquaredError:
            return LossKernels.meanSquaredError(prediction: output, target: targets, count: batch * outputCount, gradient: gradient)
        case .softmaxCrossEntropy, .summedSoftmaxCrossEntropy:
            return LossKernels.softmaxCrossEntropy(logits: output, labels: targets, batch: batch, classes: outputCount, gradient: gradient,
                                                   summed: self == .summedSoftmaxCrossEntropy)
        }
    }
}

/// Everything one thread needs to train a model: its workspace, input and target buffers for a
/// batch, and the gradient vector. Fill ``inputs`` and ``targets`` for `batch` examples, then call
/// ``lossAndGradient(parameters:batch:)``; nothing is allocated per call.
package final class Learner: @unchecked Sendable {
    package let model: Sequential
    package let loss: Loss
    package let workspace: Workspace
    /// `maxBatch × model.inputCount` floats: the batch's inputs, example after example.
    package let inputs: FloatBuffer
    /// `maxBatch × targetCount` floats: the batch's targets.
    package let targets: FloatBuffer
    /// ``Sequential/parameterCount`` floats: the gradient of the last ``lossAndGradient(parameters:batch:)``.
    package let gradients: FloatBuffer
    private let outputGradient: FloatBuffer
    /// Floats of target per example.
    package let targetCount: Int
    /// The team this learner leads (`ShardTeam`): while a helper has joined it, each
    /// ``lossAndGradient(parameters:batch:)`` computes the model's second shard on the helper's
    /// thread. The results are the same with or without it.
    package var team: ShardTeam?

    package init(model: Sequential, loss: Loss, maxBatch: Int) {
        self.model = model
        self.loss = loss
        workspace = model.makeWorkspace(maxBatch: maxBatch)
        inputs = FloatBuffer(count: maxBatch * model.inputCount)
        targetCount = loss.targetCount(outputCount: model.outputCount)
        targets = FloatBuffer(count: maxBatch * targetCount)
        gradients = FloatBuffer(count: model.parameterCount)
        outputGradient = FloatBuffer(count: maxBatch * model.outputCount)
    }

    package var maxBatch: Int { workspace.maxBatch }

    /// The mean loss of the first `batch` examples in ``inputs``/``targets`` and its gradient with
    /// respect to every parameter (left in ``gradients``).
    @discardableResult
    package func lossAndGradient(parameters: UnsafePointer<Float>, batch: Int) -> Float {
        if let team, team.hasHelper, model.shardCount(batch: batch) > 1 {
            return sharedLossAndGradient(parameters: parameters, batch: batch, team: team)
        }
        let out = model.forward(parameters: parameters, input: inputs.pointer, batch: batch, workspace: workspace)
        let value = loss.evaluate(output: out, targets: targets.pointer, batch: batch, outputCount: model.outputCount,
                                  gradient: outputGradient.pointer)
        model.backward(parameters: parameters, outputGradient: outputGradient.pointer, gradients: gradients.pointer,
                       workspace: workspace)
        return value
    }

    /// ``lossAndGradient(parameters:batch:)`` with the helper of `team` computing shard 1: the same
    /// calls on the same shards as on one thread, with the phases of a stage separated by
    /// `ShardTeam/sync(_:)` instead of run shard after shard.
    private func sharedLossAndGradient(parameters: UnsafePointer<Float>, batch: Int, team: ShardTeam) -> Float {
        model.begin(input: inputs.pointer, batch: batch, workspace: workspace)
        var value: Float = 0
        team.run(scratch: workspace.scratch) { member, scratch in
            let sync = ShardTeam.Member(team: team, index: member)
            let shard = member..<member + 1
            model.forward(shards: shard, parameters: parameters, workspace: workspace, scratch: scratch, sync: sync)
            // The loss is tiny: member 0 computes it for the whole batch while member 1 waits.
            sync.sync()
            if member == 0 {
                value = loss.evaluate(output: workspace.activations[workspace.activations.count - 1].pointer,
                                      targets: targets.pointer, batch: batch, outputCount: model.outputCount,
                                      gradient: outputGradient.pointer)
            }
            sync.sync()
            model.backward(shards: shard, parameters: parameters, outputGradient: outputGradient.pointer,
                           gradients: gradients.pointer, workspace: workspace, scratch: scratch, sync: sync)
            // Both members' gradients are written: each adds the shards for half the parameters.
            sync.sync()
            let count = model.parameterCount, half = count / 2
            model.addShardGradients(into: gradients.pointer, workspace: workspace,
                                    range: member == 0 ? 0..<half : half..<count)
        }
        return value
    }

    /// The mean loss of the first `batch` examples, without gradients.
    package func loss(parameters: UnsafePointer<Float>, batch: Int) -> Float {
        let out = model.forward(parameters: parameters, input: inputs.pointer, batch: batch, workspace: workspace)
        return loss.evaluate(output: out, targets: targets.pointer, batch: batch, outputCount: model.outputCount, gradient: nil)
    }

    /// The model's outputs for the first `batch` examples in ``inputs`` (valid until the next call).
    package func outputs(parameters: UnsafePointer<Float>, batch: Int) -> UnsafePointer<Float> {
        UnsafePointer(model.forward(parameters: parameters, input: inputs.pointer, batch: batch, workspace: workspace))
    }
}
