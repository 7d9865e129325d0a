// Per-stage timing of a model's passes: where the time of a training step goes.

import Dispatch
import ReptileKernels

/// The time one stage of a ``Sequential`` model takes for one batch, forward and backward.
public struct StageTiming: Sendable, Codable, Equatable {
    /// The stage's name: its layer's, as its parameters have it (`conv0`), with the layers fused
    /// into it (`bn0+relu+pool`).
    public var name: String
    /// The stage's output shape for one example.
    public var outputShape: Shape
    /// Multiply-adds of the forward pass for the whole batch (0 for layers without products).
    public var forwardMultiplyAdds: Int
    /// Multiply-adds of the backward pass: the weight gradient, and the input gradient for
    /// every stage but the first.
    public var backwardMultiplyAdds: Int
    /// Best time of the forward pass over the repetitions, in milliseconds.
    public var forwardMs: Double
    /// Best time of the backward pass over the repetitions, in milliseconds.
    public var backwardMs: Double

    enum CodingKeys: String, CodingKey {
        case name
        case outputShape = "output_shape"
        case forwardMultiplyAdds = "forward_multiply_adds"
        case backwardMultiplyAdds = "backward_multiply_adds"
        case forwardMs = "forward_ms"
        case backwardMs = "backward_ms"
    }
}

extension Sequential {
    /// Times every stage of a forward and a backward pass of `batch` examples on the calling
    /// thread, `repetitions` times, and keeps each stage's best time: the one least disturbed by
    /// other work on the machine. The output gradient is a fixed pattern (the timing does not
    /// depend on its values).
    ///
    /// - Parameters:
    ///   - parameters: the model's flat parameters.
    ///   - input: `batch × inputCount` floats with `kernelReadSlack` readable floats past the end
    ///     (a `FloatBuffer`).
    ///   - batch: examples per pass.
    ///   - repetitions: passes timed; each stage keeps its best.
    package func profileStages(parameters: UnsafePointer<Float>, input: UnsafePointer<Float>, batch: Int,
                              repetitions: Int) -> [StageTiming] {
        precondition(repetitions > 0, "repetitions must be positive")
        let workspace = makeWorkspace(maxBatch: batch)
        let gradients = FloatBuffer(count: parameterCount)
        let outputGradient = FloatBuffer(count: batch * outputCount)
        var forwardBest = [UInt64](repeating: .max, count: stages.count)
        var backwardBest = forwardBest
        func clock() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
        for _ in 0..<repetitions {
            begin(input: input, batch: batch, workspace: workspace)
            for s in stages.indices {
                let t0 = clock()
                forwardStage(s, shards: 0..<batchShards, parameters: parameters, workspace: workspace,
                             scratch: workspace.scratch)
                forwardBest[s] = min(forwardBest[s], clock() - t0)
            }
            // Stages may overwrite the gradient they receive: a fresh one every repetition.
            for i in 0..<batch * outputCount { outputGradient.pointer[i] = Float(i % 7 - 3) / Float(batch * outputCount) }
            var dy = outputGradient.pointer
            for s in stages.indices.reversed() {
                let t0 = clock()
                let dx = backwardStage(s, shards: 0..<batchShards, parameters: parameters, outputGradient: dy,
                                       gradients: gradients.pointer, workspace: workspace, scratch: workspace.scratch,
                                       inputGradient: nil)
                backwardBest[s] = min(backwardBest[s], clock() - t0)
                if let dx { dy = dx }
            }
        }
        // A batch norm that hands its input gradient to the first layer's weight gradient does
        // that product in its own backward pass: it is counted (and named) there.
        let handOver = stages.count > 1 && stages[1].handsInputGradientToFirstLayer
        return stages.indices.map { s in
            let forward = stages[s].layer.forwardMultiplyAdds * batch
            var backward = s == 0 ? forward : 2 * forward
            var name = stages[s].name
            if handOver, s == 0 { backward = 0 }
            if handOver, s == 1 {
                backward = stages[0].layer.forwardMultiplyAdds * batch
                name += "+\(stages[0].name).dW"
            }
            return StageTiming(name: name, outputShape: stages[s].outputShape, forwardMultiplyAdds: forward,
                               backwardMultiplyAdds: backward,
                               forwardMs: Double(forwardBest[s]) / 1e6, backwardMs: Double(backwardBest[s]) / 1e6)
        }
    }
}
