// Few-shot meta-training end to end (the reference's train.py + run_omniglot.py): meta-train with
// periodic single-task evaluations, metrics, a learning curve and checkpoints, then evaluate.

import Foundation
import ReptileCheckpoint
import ReptileData
import ReptileFormats
import ReptileKernels
import ReptileMeta
import ReptileNN
import ReptilePlot

/// The outcome of a few-shot run.
public struct FewShotResult: Sendable, Codable {
    public var benchmark: FewShotBenchmark
    public var options: FewShotOptions
    /// Meta-iterations completed in total (including those of a resumed checkpoint).
    public var metaIterations: Int
    /// Wall time of meta-training in this process.
    public var seconds: Double
    /// Milliseconds per meta-iteration in this process.
    public var msPerIteration: Double
    public var trainAccuracy: Double
    public var trainCI95: Double
    public var testAccuracy: Double
    public var testCI95: Double
    public var valAccuracy: Double?
    public var valCI95: Double?
    /// Tasks evaluated per split.
    public var evalSamples: Int
    /// Wall time of the final evaluation.
    public var evaluationSeconds: Double
    public var transductive: Bool
    public var checkpoint: String?
    /// The CPU and core count the run ran on.
    public var machine: String?
    /// When the run ended (ISO 8601).
    public var finished: String?
    /// Processes that shared the meta-batches (MPI ranks); absent in results recorded before it existed.
    public var ranks: Int?

    /// The file in the run folder that holds the final result.
    public static let file = "results.json"

    enum CodingKeys: String, CodingKey {
        case benchmark, options, seconds, transductive, checkpoint, machine, finished, ranks
        case metaIterations = "meta_iterations"
        case msPerIteration = "ms_per_iteration"
        case trainAccuracy = "train_accuracy"
        case trainCI95 = "train_ci95"
        case testAccuracy = "test_accuracy"
        case testCI95 = "test_ci95"
        case valAccuracy = "val_accuracy"
        case valCI95 = "val_ci95"
        case evalSamples = "eval_samples"
        case evaluationSeconds = "evaluation_seconds"
    }
}

/// The run's settings and position, stored as `run.json` next to the checkpoint's tensors.
public struct RunRecord: Codable, Sendable {
    public var format = "reptile-swift-run/1"
    public var benchmark: FewShotBenchmark
    public var options: FewShotOptions
    /// The next meta-iteration to run.
    public var iteration: Int
    /// The data the run was trained on (`built-in` or a path).
    public var data: String
    /// A checksum of the data as split for the run (``FewShotSplits/contentDigest``); absent in
    /// runs recorded before it existed.
    public var dataDigest: String?
    /// Meta-training wall time so far, over all sessions.
    public var trainingSeconds: Double
    /// The command line that started the run.
    public var command: String
    /// The machines that meta-trained it, in order (a run resumed elsewhere adds one); absent in
    /// runs recorded before it existed.
    public var machines: [String]?
    /// Processes that shared the meta-batches in the latest session (MPI ranks); absent in runs
    /// recorded before it existed.
    public var ranks: Int?

    public static func read(from directory: String) throws -> RunRecord {
        let path = (directory as NSString).appendingPathComponent(Checkpoint.runFile)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CheckpointError("\(directory): no checkpoint here (missing \(Checkpoint.runFile))")
        }
        do { return try JSONDecoder().decode(RunRecord.self, from: data) } catch {
            throw CheckpointError("\(path): corrupt run record (\(error))")
        }
    }

    public func write(to directory: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(self)
        try AtomicFile.write([UInt8](data) + [10], to: (directory as NSString).appendingPathComponent(Checkpoint.runFile))
    }
}

/// What a running training reports.
public enum TrainingEvent {
    /// A line like the reference's `batch 120: train=0.800000 test=0.600000`.
    case log(String)
    /// Meta-training progress, with the mean single-task accuracies of the last (up to) 100
    /// logged evaluations once there are any.
    case training(done: Int, total: Int, recent: (train: Double, test: Double)?)
    /// The final evaluation is about to run `tasks` tasks on each of `splits`; the estimate comes
    /// from the single-task evaluations timed during meta-training (nil when none ran here).
    case evaluationStart(tasks: Int, splits: [String], estimatedSeconds: Double?)
    /// Progress of the final evaluation of one split.
    case evaluation(split: String, done: Int, total: Int)
}

/// Meta-trains the paper's model on a few-shot benchmark and evaluates it.
public final class FewShotTraining {
    public let benchmark: FewShotBenchmark
    public let options: FewShotOptions
    public let splits: FewShotSplits
    /// Where checkpoints, `metrics.jsonl` and `curve.svg` go (nil: nowhere).
    public let checkpointDirectory: String?
    public let checkpointInterval: Int
    /// Label of the data for the run record.
    public let dataLabel: String
    public let command: String
    public let threads: Int?
    /// The processes that share each meta-batch and the final evaluation (nil: this one alone).
    /// Rank 0 alone writes the run folder and reports events; every rank ends with the same model.
    public let group: ProcessGroup?
    private let onEvent: (TrainingEvent) -> Void

    public init(benchmark: FewShotBenchmark, options: FewShotOptions, splits: FewShotSplits,
                checkpointDirectory: String?, checkpointInterval: Int = 100, dataLabel: String = "built-in",
                command: String = "", threads: Int? = nil, group: ProcessGroup? = nil,
                onEvent: @escaping (TrainingEvent) -> Void = { _ in }) throws {
        try options.validate(imagesPerClass: splits.imagesPerClass, trainClasses: splits.train.classCount,
                             evaluationClasses: min(splits.test.classCount, splits.validation?.classCount ?? .max))
        guard checkpointInterval >= 1 else { throw ExperimentError("--checkpoint-interval must be at least 1, got \(checkpointInterval)") }
        self.benchmark = benchmark
        self.options = options
        self.splits = splits
        self.checkpointDirectory = checkpointDirectory
        self.checkpointInterval = checkpointInterval
        self.dataLabel = dataLabel
        self.command = command
        self.threads = threads
        self.group = group
        let leader = (group?.rank ?? 0) == 0
        self.onEvent = { event in if leader { onEvent(event) } }
    }

    /// Meta-trains only until `iteration` (checkpointing as usual) and skips the final evaluation,
    /// as if the process had been stopped there.
    public func runUntil(iteration: Int, resume: Bool = false) throws {
        stopAt = iteration
        defer { stopAt = nil }
        _ = try run(resume: resume)
    }
    private var stopAt: Int?

    /// Runs meta-training (from the checkpoint when `resume`), then the final evaluation.
    public func run(resume: Bool = false) throws -> FewShotResult {
        let model = try benchmark.model(for: options)
        if options.sgd {
            return try run(model: model, optimizer: SGD(learningRate: options.learningRate), resume: resume)
        }
        return try run(model: model, optimizer: Adam(parameterCount: model.parameterCount, learningRate: options.learningRate,
                                                     beta1: 0, beta2: 0.999, epsilon: 1e-8), resume: resume)
    }

    private func run<O: Optimizer>(model: Sequential, optimizer: O, resume: Bool) throws -> FewShotResult {
        let tasks = FewShotTasks(splits.train, ways: options.classes, shots: options.effectiveTrainShots)
        let ranks = group?.size ?? 1
        if ranks > 1 {
            // The instruction set too: the kernels' floats differ between them, and so would the ranks' θ.
            try group!.requireSame([("binary", FewShotTraining.executableDigest), ("kernel instruction set (REPTILE_KERNELS or CPU)", KernelPath.name),
                                    ("benchmark", benchmark.rawValue),
                                    ("set of flags", FewShotTraining.describe(options)),
                                    ("--checkpoint or --resume", "\(checkpointDirectory ?? "-") \(resume)"),
                                    ("data", splits.contentDigest)])
            try group!.agree(options.taskExecution != .serial ? nil
                : ExperimentError("--task-execution serial passes the inner optimizer's state from task to task and cannot be split among \(ranks) processes; use the default (parallel)"))
        }
        let trainer = MetaTrainer(model: model, loss: options.loss, tasks: tasks, innerOptimizer: optimizer,
                                  configuration: options.metaTraining, maxBatch: options.maxTrainingBatch, threads: threads,
                                  group: ranks > 1 ? group : nil)
        // Rank 0 owns the run folder; the others only read a checkpoint to resume from.
        let leader = (group?.rank ?? 0) == 0
        let checkpointDirectory = leader ? self.checkpointDirectory : nil
        var previousSeconds = 0.0
        var machines = [Benchmark.machineName()]
        var resumedCommand: String?  // a resumed run keeps the command that started it
        var folder: RunFolder?
        defer { withExtendedLifetime(folder) {} }
        let dataDigest = checkpointDirectory == nil ? nil : splits.contentDigest
        var setupError: Error?
        do {
        if let dir = checkpointDirectory {
            folder = try RunFolder(path: dir, create: !resume)
            if resume {
                let record = try RunRecord.read(from: dir)
                guard record.benchmark == benchmark else {
                    throw ExperimentError("\(dir) holds a \(record.benchmark.rawValue) run, not \(benchmark.rawValue)")
                }
                let differences = FewShotTraining.differences(record.options, options)
                guard differences.isEmpty else {
                    throw ExperimentError("cannot resume \(dir) with different settings: \(differences.joined(separator: ", "))")
                }
                if let recorded = record.dataDigest, recorded != dataDigest {
                    throw ExperimentError("cannot resume \(dir) on other data: it was trained on \(record.data) (\(recorded)), the data given (\(dataLabel)) splits into other images (\(dataDigest ?? "?")); pass the run's --data")
                }
                let checkpoint = try Checkpoint.read(from: dir, layout: model.layout, innerOptimizer: optimizer.stateTensors)
                trainer.parameters = checkpoint.parameters
                try trainer.innerOptimizer.restoreState(Dictionary(checkpoint.innerOptimizerState))
                guard let position = checkpoint.metadata["iteration"].flatMap(Int.init), position >= 0 else {
                    throw CheckpointError("\(dir)/\(Checkpoint.tensorsFile): no valid 'iteration' in its metadata")
                }
                guard position <= options.metaIters else {
                    throw ExperimentError("cannot resume \(dir): its model is at meta-iteration \(position), past the run's --meta-iters \(options.metaIters)")
                }
                trainer.iteration = position
                previousSeconds = record.trainingSeconds
                resumedCommand = record.command
                machines = (record.machines ?? []) + (record.machines?.last == machines[0] ? [] : machines)
                try Metrics.truncate(in: dir, before: position)
                onEvent(.log("resuming \(dir) at meta-iteration \(position) of \(options.metaIters)"))
            } else if let files = folder?.existingRunFiles, !files.isEmpty {
                throw ExperimentError("\(dir) already holds a run (\(files.joined(separator: ", "))): pass --resume to continue it, or choose another --checkpoint folder")
            }
        } else if resume, let dir = self.checkpointDirectory {
            // Another rank: the same position as rank 0, read-only.
            let checkpoint = try Checkpoint.read(from: dir, layout: model.layout, innerOptimizer: optimizer.stateTensors)
            trainer.parameters = checkpoint.parameters
            try trainer.innerOptimizer.restoreState(Dictionary(checkpoint.innerOptimizerState))
            trainer.iteration = checkpoint.metadata["iteration"].flatMap(Int.init) ?? 0
        } else if resume {
            throw ExperimentError("--resume needs --checkpoint DIR")
        }
        } catch { setupError = error }
        // A rank whose setup failed must not leave the others waiting in the first exchange.
        if ranks > 1 { try group!.agree(setupError) } else if let setupError { throw setupError }

        let evaluation = options.evaluation
        let evalLearner = Learner(model: model, loss: options.loss, maxBatch: evaluation.maxBatch)
        let evalWeights = FloatBuffer(count: model.parameterCount)
        var metrics = Metrics(directory: checkpointDirectory, chance: 1 / Double(options.classes))
        if let dir = checkpointDirectory { metrics.load(from: dir) }
        let start = Date()
        let startIteration = trainer.iteration
        var lastGood: Int? = resume ? trainer.iteration : nil

        func save(position: Int) throws {
            guard let dir = checkpointDirectory else { return }
            let checkpoint = Checkpoint(layout: model.layout, parameters: trainer.parameters,
                                        innerOptimizerState: trainer.innerOptimizer.stateTensors,
                                        metadata: ["format": "reptile-swift/1", "benchmark": benchmark.rawValue,
                                                   "classes": "\(options.classes)", "iteration": "\(position)",
                                                   "meta_iterations": "\(options.metaIters)"])
            try checkpoint.write(to: dir)
            try RunRecord(benchmark: benchmark, options: options, iteration: position, data: dataLabel, dataDigest: dataDigest,
                          trainingSeconds: previousSeconds + Date().timeIntervalSince(start), command: resumedCommand ?? command,
                          machines: machines, ranks: ranks).write(to: dir)
            try metrics.writeCurve()
            lastGood = position
        }

        if checkpointDirectory != nil, !resume {
            // A fresh run records its settings and initialization at once.
            try save(position: 0)
        }
        // The reference logs single-task accuracies (steps of 1/N); progress shows their recent mean.
        var recent = RecentMean(window: 100)
        for line in metrics.lines.suffix(100) { recent.add(train: line.trainAccuracy, test: line.testAccuracy) }
        var evaluationSeconds = 0.0, evaluatedTasks = 0

        while trainer.iteration < (stopAt ?? options.metaIters) {
            let report = trainer.step()
            let i = report.iteration
            guard report.isFinite else {
                let kept = lastGood.map { "the last good checkpoint (meta-iteration \($0)) is kept in \(checkpointDirectory!)" }
                    ?? "no checkpoint was written"
                throw ExperimentError("training stopped at meta-iteration \(i): the weights became NaN or infinite (try a smaller --learning-rate or --meta-step); \(kept)")
            }
            if leader, i % options.evalInterval == 0 {
                let evaluationStart = Date()
                var accuracies: [Double] = []
                for (split, dataset) in [(0, splits.train), (1, splits.test)] {
                    var rng = RandomGenerator(seed: options.seed, stream: [RandomStream.evaluationDuringTraining.rawValue, UInt64(i), UInt64(split)])
                    let correct = trainer.parameters.withUnsafeBufferPointer {
                        evaluation.evaluateTask(dataset, parameters: $0.baseAddress!, optimizer: trainer.innerOptimizer,
                                                learner: evalLearner, weights: evalWeights.pointer, using: &rng)
                    }
                    accuracies.append(Double(correct) / Double(options.classes))
                }
                evaluationSeconds += Date().timeIntervalSince(evaluationStart)
                evaluatedTasks += 2
                recent.add(train: accuracies[0], test: accuracies[1])
                onEvent(.log(String(format: "batch %d: train=%f test=%f", i, accuracies[0], accuracies[1])))
                try metrics.append(MetricsLine(iteration: i, trainAccuracy: accuracies[0], testAccuracy: accuracies[1],
                                               metaStep: Double(report.metaStepSize), innerLoss: Double(report.innerLoss),
                                               seconds: previousSeconds + Date().timeIntervalSince(start)))
            }
            if (i + 1) % checkpointInterval == 0 || i + 1 == options.metaIters { try save(position: i + 1) }
            onEvent(.training(done: i + 1, total: options.metaIters, recent: recent.mean))
        }
        let seconds = Date().timeIntervalSince(start)
        if stopAt != nil {
            return FewShotResult(benchmark: benchmark, options: options, metaIterations: trainer.iteration, seconds: seconds,
                                 msPerIteration: 1000 * seconds / Double(max(trainer.iteration - startIteration, 1)),
                                 trainAccuracy: .nan, trainCI95: .nan, testAccuracy: .nan, testCI95: .nan,
                                 valAccuracy: nil, valCI95: nil, evalSamples: 0, evaluationSeconds: 0,
                                 transductive: options.transductive, checkpoint: checkpointDirectory, machine: nil, finished: nil,
                                 ranks: ranks)
        }

        // Final evaluation on each split.
        let splitNames = ["train"] + (splits.validation == nil ? [] : ["val"]) + ["test"]
        let workers = Double(max(1, min(threads ?? ProcessInfo.processInfo.activeProcessorCount, options.evalSamples)) * ranks)
        onEvent(.evaluationStart(tasks: options.evalSamples, splits: splitNames,
                                 estimatedSeconds: evaluatedTasks == 0 ? nil
                                     : evaluationSeconds / Double(evaluatedTasks) * Double(options.evalSamples * splitNames.count) / workers))
        let evalStart = Date()
        func evaluate(_ name: String, _ dataset: FewShotDataset, split: UInt64) -> EvaluationResult {
            ParallelEvaluation.run(evaluation, sampler: dataset, model: model, loss: options.loss,
                                   parameters: trainer.parameters, optimizer: trainer.innerOptimizer,
                                   tasks: options.evalSamples, seed: options.seed,
                                   stream: [RandomStream.finalEvaluation.rawValue, split], threads: threads,
                                   group: ranks > 1 ? group : nil) { done, total in
                self.onEvent(.evaluation(split: name, done: done, total: total))
            }
        }
        let train = evaluate("train", splits.train, split: 0)
        let val = splits.validation.map { evaluate("val", $0, split: 2) }
        let test = evaluate("test", splits.test, split: 1)
        let result = FewShotResult(benchmark: benchmark, options: options, metaIterations: trainer.iteration, seconds: seconds,
                                   msPerIteration: 1000 * seconds / Double(max(trainer.iteration - startIteration, 1)),
                                   trainAccuracy: train.accuracy, trainCI95: train.ci95, testAccuracy: test.accuracy, testCI95: test.ci95,
                                   valAccuracy: val?.accuracy, valCI95: val?.ci95, evalSamples: options.evalSamples,
                                   evaluationSeconds: Date().timeIntervalSince(evalStart), transductive: options.transductive,
                                   checkpoint: checkpointDirectory, machine: Benchmark.machineName(),
                                   finished: ISO8601DateFormatter().string(from: Date()), ranks: ranks)
        if let dir = checkpointDirectory {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            try AtomicFile.write([UInt8](try encoder.encode(result)) + [10], to: (dir as NSString).appendingPathComponent(FewShotResult.file))
        }
        return result
    }

    /// A CRC-32 of this process's executable, so that the ranks of a job can check they run the same build.
    static var executableDigest: String {
        guard let bytes = FileManager.default.contents(atPath: "/proc/self/exe")
                ?? FileManager.default.contents(atPath: CommandLine.arguments[0]) else { return "unknown" }
        return String(bytes.withUnsafeBytes { Zlib.crc32($0) }, radix: 16)
    }

    /// Every option, as sorted JSON.
    static func describe(_ options: FewShotOptions) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(options)).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    /// The flags whose values differ between two option sets, as "--flag a (checkpoint) vs b".
    /// `--eval-interval` and `--eval-samples` may change: they do not touch the trained weights.
    static func differences(_ saved: FewShotOptions, _ given: FewShotOptions) -> [String] {
        var result: [String] = []
        func check<T: Equatable>(_ flag: String, _ a: T, _ b: T) { if a != b { result.append("\(flag) \(b) (checkpoint: \(a))") } }
        check("--classes", saved.classes, given.classes)
        check("--shots", saved.shots, given.shots)
        check("--train-shots", saved.trainShots, given.trainShots)
        check("--inner-batch", saved.innerBatch, given.innerBatch)
        check("--inner-iters", saved.innerIters, given.innerIters)
        check("--replacement", saved.replacement, given.replacement)
        check("--learning-rate", saved.learningRate, given.learningRate)
        check("--meta-step", saved.metaStep, given.metaStep)
        check("--meta-step-final", saved.metaStepFinal, given.metaStepFinal)
        check("--meta-batch", saved.metaBatch, given.metaBatch)
        check("--meta-iters", saved.metaIters, given.metaIters)
        check("--eval-batch", saved.evalBatch, given.evalBatch)
        check("--eval-iters", saved.evalIters, given.evalIters)
        check("--weight-decay", saved.weightDecay, given.weightDecay)
        check("--transductive", saved.transductive, given.transductive)
        check("--foml", saved.foml, given.foml)
        check("--foml-tail", saved.fomlTail.map(String.init) ?? "none", given.fomlTail.map(String.init) ?? "none")
        check("--sgd", saved.sgd, given.sgd)
        check("--seed", saved.seed, given.seed)
        check("--task-execution", saved.taskExecution.rawValue, given.taskExecution.rawValue)
        check("--split", (saved.split ?? .random).rawValue, (given.split ?? .random).rawValue)
        check("--image-size", saved.imageSize.map(String.init) ?? "none", given.imageSize.map(String.init) ?? "none")
        check("--channels", saved.channels.map(String.init) ?? "none", given.channels.map(String.init) ?? "none")
        check("--model-config", saved.modelConfig?.rawValue ?? "default", given.modelConfig?.rawValue ?? "default")
        check("--split-fractions", saved.splitFractions.map { "\($0)" } ?? "none", given.splitFractions.map { "\($0)" } ?? "none")
        check("--precision", (saved.precision ?? .fp32).rawValue, (given.precision ?? .fp32).rawValue)
        check("--loss-reduction", (saved.lossReduction ?? .mean).rawValue, (given.lossReduction ?? .mean).rawValue)
        return result
    }
}

/// The mean of the last `window` pairs of single-task accuracies.
struct RecentMean {
    let window: Int
    private var values: [(train: Double, test: Double)] = []
    private var next = 0

    init(window: Int) { self.window = window }

    mutating func add(train: Double, test: Double) {
        if values.count < window { values.append((train, test)) } else { values[next] = (train, test) }
        next = (next + 1) % window
    }

    var mean: (train: Double, test: Double)? {
        guard !values.isEmpty else { return nil }
        let n = Double(values.count)
        return (values.reduce(0) { $0 + $1.train } / n, values.reduce(0) { $0 + $1.test } / n)
    }
}
