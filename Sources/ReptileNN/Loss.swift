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
    /// thread, from the next stage on if the helper came in the middle of a step. The results
    /// are the same with or without it, and wherever it joined.
    package var team: ShardTeam?
    /// The first point of a step (see ``lossAndGradient(parameters:batch:)``) at which a waiting
    /// helper is taken in: 0 in training; tests move it to try every point.
    package var firstJoinPoint = 0

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
        if let team, model.shardCount(batch: batch) > 1 {
            return lossAndGradient(parameters: parameters, batch: batch, team: team)
        }
        let out = model.forward(parameters: parameters, input: inputs.pointer, batch: batch, workspace: workspace)
        let value = loss.evaluate(output: out, targets: targets.pointer, batch: batch, outputCount: model.outputCount,
                                  gradient: outputGradient.pointer)
        model.backward(parameters: parameters, outputGradient: outputGradient.pointer, gradients: gradients.pointer,
                       workspace: workspace)
        return value
    }

    /// ``lossAndGradient(parameters:batch:)`` for a team's leader: stage by stage on this thread,
    /// both shards, until a helper has joined; from there (a *join point*: before a forward
    /// stage, before the loss, or before a backward stage, numbered in that order) the rest of
    /// the step is shared, the helper computing shard 1. A helper that finishes its own tasks in
    /// the middle of a step so starts at the next stage rather than the next step. The same
    /// calls on the same shards either way, so the same floats.
    private func lossAndGradient(parameters: UnsafePointer<Float>, batch: Int, team: ShardTeam) -> Float {
        model.begin(input: inputs.pointer, batch: batch, workspace: workspace)
        let stages = model.stages.count, shards = 0..<model.batchShards
        var point = 0
        func helperHasJoined() -> Bool { point >= firstJoinPoint && team.hasHelper }
        for s in 0..<stages {
            if helperHasJoined() {
                return share(parameters: parameters, batch: batch, team: team, forwardFrom: s, backwardFrom: stages - 1,
                             outputGradient: outputGradient.pointer)
            }
            model.forwardStage(s, shards: shards, parameters: parameters, workspace: workspace, scratch: workspace.scratch)
            point += 1
        }
        if helperHasJoined() {
            return share(parameters: parameters, batch: batch, team: team, forwardFrom: stages, backwardFrom: stages - 1,
                         outputGradient: outputGradient.pointer)
        }
        let value = loss.evaluate(output: workspace.activations[stages - 1].pointer, targets: targets.pointer,
                                  batch: batch, outputCount: model.outputCount, gradient: outputGradient.pointer)
        point += 1
        var dy = outputGradient.pointer
        for s in stride(from: stages - 1, through: 0, by: -1) {
            if helperHasJoined() {
                _ = share(parameters: parameters, batch: batch, team: team, forwardFrom: nil, backwardFrom: s, outputGradient: dy)
                return value
            }
            dy = model.backward(shards: shards, from: s, to: s, parameters: parameters, outputGradient: dy,
                                gradients: gradients.pointer, workspace: workspace, scratch: workspace.scratch,
                                addingShards: true)
            point += 1
        }
        return value
    }

    /// The rest of a step with the team's helper computing shard 1: the forward stages from
    /// `forwardFrom` and the loss (unless nil: both done), the backward stages from `backwardFrom`
    /// down (`outputGradient`: the gradient of its output), then the shard gradients of those
    /// stages added, each member half of them. The phases of a stage are separated by
    /// `ShardTeam/sync(_:)` instead of run shard after shard. Returns the loss (0 if it was done).
    private func share(parameters: UnsafePointer<Float>, batch: Int, team: ShardTeam, forwardFrom: Int?,
                       backwardFrom: Int, outputGradient dy: UnsafeMutablePointer<Float>) -> Float {
        var value: Float = 0
        // The stages after `backwardFrom` already hold their shards' sum; the rest get it here.
        let unsummed = model.stageParameterRange(backwardFrom).upperBound
        team.run(scratch: workspace.scratch) { member, scratch in
            let sync = ShardTeam.Member(team: team, index: member)
            let shard = member..<member + 1
            if let forwardFrom {
                model.forward(shards: shard, from: forwardFrom, parameters: parameters, workspace: workspace,
                              scratch: scratch, sync: sync)
                // The loss is tiny: member 0 computes it for the whole batch while member 1 waits.
                sync.sync()
                if member == 0 {
                    value = loss.evaluate(output: workspace.activations[workspace.activations.count - 1].pointer,
                                          targets: targets.pointer, batch: batch, outputCount: model.outputCount,
                                          gradient: dy)
                }
                sync.sync()
            }
            model.backward(shards: shard, from: backwardFrom, parameters: parameters, outputGradient: dy,
                           gradients: gradients.pointer, workspace: workspace, scratch: scratch, sync: sync)
            // Both members' gradients are written: each adds the shards for half the parameters.
            sync.sync()
            let half = unsummed / 2
            model.addShardGradients(into: gradients.pointer, workspace: workspace,
                                    range: member == 0 ? 0..<half : half..<unsummed)
        }
        return value
    }

    /// Steps `optimizer` on ``gradients``, moving `parameters` (``Sequential/parameterCount``
    /// floats). While a helper is in the team the update is split between the two threads
    /// (``Optimizer/update(_:gradients:inParts:)``), each on half of the parameters: the same floats.
    package func update<O: Optimizer>(_ optimizer: inout O, parameters: UnsafeMutablePointer<Float>) {
        let count = model.parameterCount
        let view = FloatView(parameters, count: count), gradientView = FloatView(gradients.pointer, count: count)
        guard let team, team.hasHelper else {
            optimizer.update(view, gradients: gradientView)
            return
        }
        let scratch = workspace.scratch
        optimizer.update(view, gradients: gradientView) { update in
            team.run(scratch: scratch) { member, _ in update(member == 0 ? 0..<count / 2 : count / 2..<count) }
        }
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
