// Evaluating a saved few-shot model (the reference's --pretrained): restore weights and optimizer
// state, then evaluate many tasks on each split.

import Foundation
import ReptileCheckpoint
import ReptileData
import ReptileFormats
import ReptileKernels
import ReptileMeta
import ReptileNN

/// The outcome of evaluating a checkpoint.
public struct CheckpointEvaluation: Sendable, Codable {
    public var benchmark: FewShotBenchmark
    public var checkpoint: String
    /// Meta-iterations the checkpoint was trained for.
    public var metaIterations: Int
    public var evaluation: FewShotEvaluation
    public var evalSamples: Int
    public var trainAccuracy: Double
    public var trainCI95: Double
    public var testAccuracy: Double
    public var testCI95: Double
    public var valAccuracy: Double?
    public var valCI95: Double?
    public var seconds: Double
    /// The CPU and core count the evaluation ran on.
    public var machine: String?
    /// The precision of the convolutions' products; absent (fp32) in results written before it existed.
    public var precision: Precision?
    /// Processes that shared the tasks (MPI ranks); absent in results written before it existed.
    public var ranks: Int?

    enum CodingKeys: String, CodingKey {
        case benchmark, checkpoint, evaluation, seconds, machine, precision, ranks
        case metaIterations = "meta_iterations"
        case evalSamples = "eval_samples"
        case trainAccuracy = "train_accuracy"
        case trainCI95 = "train_ci95"
        case testAccuracy = "test_accuracy"
        case testCI95 = "test_ci95"
        case valAccuracy = "val_accuracy"
        case valCI95 = "val_ci95"
    }
}

/// A meta-learned model loaded from a checkpoint folder: the architecture, the weights and the
/// inner optimizer with its meta-training state.
public struct LoadedModel {
    public var record: RunRecord
    public var model: Sequential
    public var parameters: [Float]
    /// The inner optimizer with its state restored (Adam's second moments and step count).
    public var optimizer: any Optimizer
    public var directory: String

    /// Loads `directory` (written by `reptile train`); throws ``CheckpointError`` or
    /// ``ExperimentError`` naming the problem. The model computes in `precision`, or in the run's.
    public static func load(from directory: String, expecting benchmark: FewShotBenchmark? = nil,
                            precision: Precision? = nil) throws -> LoadedModel {
        let record = try RunRecord.read(from: directory)
        if let benchmark, record.benchmark != benchmark {
            throw ExperimentError("\(directory) holds a \(record.benchmark.rawValue) model, not \(benchmark.rawValue)")
        }
        var options = record.options
        if let precision { options.precision = precision }
        let model = try record.benchmark.model(for: options)
        var optimizer: any Optimizer = record.options.sgd
            ? SGD(learningRate: record.options.learningRate)
            : Adam(parameterCount: model.parameterCount, learningRate: record.options.learningRate, beta1: 0, beta2: 0.999, epsilon: 1e-8)
        let checkpoint = try Checkpoint.read(from: directory, layout: model.layout, innerOptimizer: optimizer.stateTensors)
        try optimizer.restoreState(Dictionary(checkpoint.innerOptimizerState))
        var loaded = LoadedModel(record: record, model: model, parameters: checkpoint.parameters, optimizer: optimizer, directory: directory)
        if let position = checkpoint.metadata["iteration"].flatMap(Int.init) { loaded.record.iteration = position }
        return loaded
    }

    /// Evaluates `tasks` tasks on each split with `evaluation` (whose `ways` must be the model's classes).
    /// With a `group` of processes (every member calling with the same arguments), each evaluates
    /// its block of the tasks and all return the same result as one process would.
    public func evaluate(_ evaluation: FewShotEvaluation, splits: FewShotSplits, tasks: Int, seed: UInt64,
                         threads: Int? = nil, group: ProcessGroup? = nil,
                         progress: ((String, Int, Int) -> Void)? = nil) throws -> CheckpointEvaluation {
        var setupError: Error?
        do {
            guard tasks >= 1 else { throw ExperimentError("--eval-samples must be at least 1, got \(tasks)") }
            try evaluation.validate(examplesPerClass: splits.imagesPerClass,
                                    classes: min(splits.train.classCount, splits.test.classCount, splits.validation?.classCount ?? .max),
                                    outputs: model.outputCount)
        } catch { setupError = error }
        let group = (group?.size ?? 1) > 1 ? group : nil
        if let group {
            // The instruction set too: the kernels' floats differ between them, and so would the ranks' accuracies.
            try group.requireSame([("binary", FewShotTraining.executableDigest), ("kernel instruction set (REPTILE_KERNELS or CPU)", KernelPath.name),
                                   ("model", "\(record.benchmark.rawValue) \(parameters.count) \(parameters.withUnsafeBytes { Zlib.crc32($0) })"),
                                   ("set of evaluation flags", "\(evaluation) \(tasks) \(seed) \(model.precision)"),
                                   ("data", splits.contentDigest)])
            try group.agree(setupError)
        } else if let setupError { throw setupError }
        let start = Date()
        func run<O: Optimizer>(_ optimizer: O) -> (EvaluationResult, EvaluationResult, EvaluationResult?) {
            func one(_ name: String, _ dataset: FewShotDataset, _ split: UInt64) -> EvaluationResult {
                ParallelEvaluation.run(evaluation, sampler: dataset, model: model, loss: record.options.loss, parameters: parameters,
                                       optimizer: optimizer, tasks: tasks, seed: seed,
                                       stream: [RandomStream.finalEvaluation.rawValue, split], threads: threads, group: group) { done, total in
                    progress?(name, done, total)
                }
            }
            let train = one("train", splits.train, 0)
            let val = splits.validation.map { one("val", $0, 2) }
            let test = one("test", splits.test, 1)
            return (train, test, val)
        }
        let (train, test, val) = run(optimizer)
        return CheckpointEvaluation(benchmark: record.benchmark, checkpoint: directory, metaIterations: record.iteration,
                                    evaluation: evaluation, evalSamples: tasks, trainAccuracy: train.accuracy, trainCI95: train.ci95,
                                    testAccuracy: test.accuracy, testCI95: test.ci95, valAccuracy: val?.accuracy, valCI95: val?.ci95,
                                    seconds: Date().timeIntervalSince(start), machine: Benchmark.machineName(),
                                    precision: model.precision, ranks: group?.size ?? 1)
    }
}
