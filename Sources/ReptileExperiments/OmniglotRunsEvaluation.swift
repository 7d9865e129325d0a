// A meta-learned model on Lake et al.'s 20 one-shot runs: adapt to each run's training drawings,
// classify its test drawings, and report the error rates beside people's.

import Foundation
import ReptileData
import ReptileKernels
import ReptileMeta
import ReptileNN

/// The error rates of a model on the one-shot runs.
public struct OmniglotRunsResult: Sendable, Codable {
    public struct Run: Sendable, Codable {
        public var name: String
        public var items: Int
        public var errors: Int
        public var errorRate: Double
        public var errorsTransductive: Int
        public var errorRateTransductive: Double

        enum CodingKeys: String, CodingKey {
            case name, items, errors
            case errorRate = "error_rate"
            case errorsTransductive = "errors_transductive"
            case errorRateTransductive = "error_rate_transductive"
        }
    }

    public var model: String
    public var runs: [Run]
    /// The mean of the runs' error rates, without and with transduction.
    public var errorRate: Double
    public var errorRateTransductive: Double
    public var peopleErrorRate = OmniglotRuns.peopleErrorRate
    public var bayesianProgramLearningErrorRate = OmniglotRuns.bayesianProgramLearningErrorRate
    public var adaptationSteps: Int
    public var seconds: Double
    /// The CPU it ran on.
    public var machine: String?

    enum CodingKeys: String, CodingKey {
        case model, runs, seconds, machine
        case errorRate = "error_rate"
        case errorRateTransductive = "error_rate_transductive"
        case peopleErrorRate = "people_error_rate"
        case bayesianProgramLearningErrorRate = "bpl_error_rate"
        case adaptationSteps = "adaptation_steps"
    }
}

extension LoadedModel {
    /// Evaluates the model on `runs`: for each, a copy of the weights and of the inner optimizer
    /// (with its meta-training state) adapts to the training drawings (one per class, labels in
    /// file order) with the model's evaluation settings (`--eval-iters` steps of `--eval-batch`
    /// mini-batches), then classifies each test drawing in a batch with the training drawings
    /// (non-transductive) and all test drawings in one batch (transductive), as the few-shot
    /// evaluation does.
    public func evaluate(runs: [OmniglotRun], seed: UInt64) throws -> OmniglotRunsResult {
        let o = record.options
        guard model.inputCount == Omniglot.imageSize * Omniglot.imageSize else {
            throw ExperimentError("\(directory): the model takes \(model.inputCount) inputs, not 28×28 drawings")
        }
        guard o.weightDecay == 1 else { throw ExperimentError("\(directory): evaluating the runs with --weight-decay is not supported") }
        let start = Date()
        var results: [OmniglotRunsResult.Run] = []
        for (r, run) in runs.enumerated() {
            guard run.training.count <= model.outputCount else {
                throw ExperimentError("\(run.name) has \(run.training.count) classes, the model only \(model.outputCount) outputs")
            }
            func floats(_ image: [UInt8]) -> [Float] { image.map { Float($0) / 225 } }
            let classes = run.training.count
            let support = ArrayTask(inputs: run.training.map(floats), labels: Array(0..<classes))
            let adapted = model.adapt(parameters, to: support, loss: o.loss, steps: o.evalIters,
                                      optimizer: optimizer, batchSize: min(o.evalBatch, classes), seed: seed &+ UInt64(r))
            func predicted(_ row: [Float]) -> Int { (0..<classes).max { row[$0] < row[$1] }! }
            let items = run.test.map(floats)
            let alone = items.map { predicted(model.predict(adapted, inputs: support.inputs + [$0]).last!) }
            let together = model.predict(adapted, inputs: items).map(predicted)
            let errors = zip(alone, run.answers).filter { $0 != $1 }.count
            let errorsTogether = zip(together, run.answers).filter { $0 != $1 }.count
            results.append(.init(name: run.name, items: items.count, errors: errors, errorRate: Double(errors) / Double(items.count),
                                 errorsTransductive: errorsTogether, errorRateTransductive: Double(errorsTogether) / Double(items.count)))
        }
        let n = Double(max(results.count, 1))
        return OmniglotRunsResult(model: directory, runs: results, errorRate: results.map(\.errorRate).reduce(0, +) / n,
                                  errorRateTransductive: results.map(\.errorRateTransductive).reduce(0, +) / n,
                                  adaptationSteps: o.evalIters, seconds: Date().timeIntervalSince(start),
                                  machine: Benchmark.machineName())
    }
}
