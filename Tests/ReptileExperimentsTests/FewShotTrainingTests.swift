import Testing
import Foundation
@testable import Reptile
@testable import ReptileExperiments
import ReptileFormats
import ReptileKernels
import ReptilePlot

/// The built-in Omniglot, loaded once.
let omniglot: FewShotSplits = {
    let images = try! Omniglot.loadBuiltIn()
    let (train, test) = try! Omniglot.split(images, seed: 0)
    return FewShotSplits(train: train, test: test)
}()

/// Small but real settings: the paper's 5-way 1-shot flags, few iterations.
func quickOptions(iterations: Int = 30) -> FewShotOptions {
    var o = FewShotOptions()
    o.shots = 1
    o.trainShots = 10
    o.innerBatch = 10
    o.innerIters = 5
    o.metaStep = 1
    o.metaStepFinal = 0
    o.metaBatch = 5
    o.metaIters = iterations
    o.evalBatch = 5
    o.evalIters = 20
    o.evalSamples = 40
    o.evalInterval = 10
    return o
}

/// Runs `body` on a Dispatch thread, as part of the calling test (its expectations count for it),
/// without holding a thread of Swift's cooperative pool: a long synchronous test would otherwise
/// hold one of its few threads (one per core) and starve the server tests, which run at the same
/// time and time their answers.
func offPool<T: Sendable>(_ body: () throws -> T) async throws -> T {
    try await withTaskExecutorPreference(DispatchExecutor.shared) { try body() }
}

/// A task executor that runs jobs on Dispatch's global queue.
final class DispatchExecutor: TaskExecutor {
    static let shared = DispatchExecutor()
    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        DispatchQueue.global().async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

func temporaryDirectory(_ name: String) -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("reptile-\(name)-\(UUID().uuidString)").path
    return path
}

@Test func shortTrainingBeatsChanceByAWideMargin() async throws {
    try await offPool {
        var options = quickOptions(iterations: 150)
        options.evalSamples = 100
        let training = try FewShotTraining(benchmark: .omniglot, options: options, splits: omniglot, checkpointDirectory: nil)
        let result = try training.run()
        // Chance is 20 %.
        #expect(result.testAccuracy > 0.5, "test accuracy \(result.testAccuracy)")
        #expect(result.trainAccuracy > 0.5, "train accuracy \(result.trainAccuracy)")
        #expect(result.testCI95 > 0 && result.testCI95 < 0.1)
        #expect(result.metaIterations == 150)
    }
}

@Test func resumingContinuesBitForBit() async throws {
    try await offPool {
        let straight = temporaryDirectory("straight"), split = temporaryDirectory("split")
        defer { try? FileManager.default.removeItem(atPath: straight); try? FileManager.default.removeItem(atPath: split) }
        var options = quickOptions(iterations: 24)
        options.evalSamples = 5
        _ = try FewShotTraining(benchmark: .omniglot, options: options, splits: omniglot, checkpointDirectory: straight,
                                checkpointInterval: 8).run()
        // The same run, stopped after 16 meta-iterations (simulated by a run of 16 with the same
        // schedule length is not the same run, so copy the checkpoint of iteration 16 instead).
        var half = options
        half.metaIters = 24
        let first = try FewShotTraining(benchmark: .omniglot, options: half, splits: omniglot, checkpointDirectory: split,
                                        checkpointInterval: 8)
        try first.runUntil(iteration: 16)
        let resumed = try FewShotTraining(benchmark: .omniglot, options: options, splits: omniglot, checkpointDirectory: split,
                                          checkpointInterval: 8)
        _ = try resumed.run(resume: true)
        let a = try LoadedModel.load(from: straight), b = try LoadedModel.load(from: split)
        #expect(a.record.iteration == 24 && b.record.iteration == 24)
        #expect(a.parameters == b.parameters)
        #expect((a.optimizer as! Adam).state == (b.optimizer as! Adam).state)
        // The metrics of the resumed run are those of the straight run.
        let m1 = try String(contentsOfFile: straight + "/metrics.jsonl", encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",").filter { !$0.contains("seconds") } }
        let m2 = try String(contentsOfFile: split + "/metrics.jsonl", encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",").filter { !$0.contains("seconds") } }
        #expect(m1 == m2)
        #expect(FileManager.default.fileExists(atPath: split + "/curve.svg"))
    }
}

@Test func checkpointErrorsAreClear() async throws {
    try await offPool {
        let dir = temporaryDirectory("errors")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var options = quickOptions(iterations: 2)
        options.evalSamples = 2
        _ = try FewShotTraining(benchmark: .omniglot, options: options, splits: omniglot, checkpointDirectory: dir).run()
        // Training again into the same folder without --resume refuses and keeps the checkpoint.
        #expect(throws: ExperimentError.self) {
            _ = try FewShotTraining(benchmark: .omniglot, options: options, splits: omniglot, checkpointDirectory: dir).run()
        }
        #expect(Checkpoint.exists(in: dir))
        // A checkpoint of another architecture: a 5-way model read as 20-way.
        let model20 = try Models.omniglot(classes: 20)
        do {
            _ = try Checkpoint.read(from: dir, layout: model20.layout)
            Issue.record("reading a 5-way checkpoint as 20-way must fail")
        } catch let error as CheckpointError {
            #expect(error.description.contains("linear0.weight"))
            #expect(error.description.contains("[256, 5]"))
            #expect(error.description.contains("[256, 20]"))
        }
        // Resuming with other settings.
        var other = options
        other.metaBatch = 3
        do {
            _ = try FewShotTraining(benchmark: .omniglot, options: other, splits: omniglot, checkpointDirectory: dir).run(resume: true)
            Issue.record("resuming with other settings must fail")
        } catch {
            #expect("\(error)".contains("--meta-batch 3 (checkpoint: 5)"))
        }
        // A missing and a corrupt checkpoint.
        #expect(throws: CheckpointError.self) { _ = try LoadedModel.load(from: dir + "/nothing") }
        let tensors = dir + "/" + Checkpoint.tensorsFile
        let bytes = try Data(contentsOf: URL(fileURLWithPath: tensors))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: tensors))
        do {
            _ = try LoadedModel.load(from: dir)
            Issue.record("a truncated checkpoint must not load")
        } catch {
            #expect("\(error)".contains("corrupt checkpoint"))
        }
    }
}

@Test(arguments: [
    ({ (o: inout FewShotOptions) in o.classes = 1 }, "--classes must be at least 2"),
    ({ (o: inout FewShotOptions) in o.classes = 0 }, "--classes must be at least 2"),
    ({ (o: inout FewShotOptions) in o.shots = 20 }, "--shots 20 is too many"),
    ({ (o: inout FewShotOptions) in o.trainShots = 21 }, "--train-shots 21 is more than the 20 images"),
    ({ (o: inout FewShotOptions) in o.metaIters = 0 }, "--meta-iters must be at least 1"),
    ({ (o: inout FewShotOptions) in o.classes = 500 }, "--classes 500 is more than the 423 evaluation classes"),
    ({ (o: inout FewShotOptions) in o.fomlTail = 2 }, "--foml-tail needs --foml"),
    ({ (o: inout FewShotOptions) in o.replacement = true; o.innerBatch = 60 }, "--inner-batch 60 with --replacement"),
] as [((inout FewShotOptions) -> Void, String)])
func impossibleFlagsAreRejected(change: (inout FewShotOptions) -> Void, message: String) {
    var options = quickOptions()
    change(&options)
    do {
        _ = try FewShotTraining(benchmark: .omniglot, options: options, splits: omniglot, checkpointDirectory: nil)
        Issue.record("expected: \(message)")
    } catch {
        #expect("\(error)".contains(message), "got: \(error)")
    }
}

@Test func divergenceStopsAndKeepsTheLastGoodCheckpoint() async throws {
    try await offPool {
        let dir = temporaryDirectory("nan")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var options = quickOptions(iterations: 40)
        options.sgd = true
        options.learningRate = 1e35   // overflows to infinity within a few steps
        options.evalSamples = 2
        do {
            _ = try FewShotTraining(benchmark: .omniglot, options: options, splits: omniglot, checkpointDirectory: dir,
                                    checkpointInterval: 1).run()
            Issue.record("training with a huge step must stop")
        } catch {
            #expect("\(error)".contains("NaN or infinite"))
            #expect("\(error)".contains("last good checkpoint"))
        }
        let kept = try LoadedModel.load(from: dir)
        #expect(kept.parameters.allSatisfy { $0.isFinite })
    }
}

@Test func evaluationRestoresTheFullStateAndBothModesWork() async throws {
    try await offPool {
        var options = quickOptions(iterations: 60)
        options.evalSamples = 1
        let model = try Models.omniglot(classes: 5)
        let tasks = FewShotTasks(omniglot.train, ways: 5, shots: 10)
        let trainer = MetaTrainer(model: model, loss: .softmaxCrossEntropy, tasks: tasks,
                                  innerOptimizer: Adam(parameterCount: model.parameterCount, learningRate: 1e-3, beta1: 0),
                                  configuration: options.metaTraining, maxBatch: 10)
        for _ in 0..<60 { trainer.step() }
        // Meta-training keeps the inner optimizer's state across tasks: 5 tasks × 5 steps merged per
        // meta-iteration advance the step count by 5.
        #expect(trainer.innerOptimizer.state.step == 60 * 5)
        let before = (trainer.parameters, trainer.innerOptimizer.state)
        var results: [Bool: EvaluationResult] = [:]
        for transductive in [false, true] {
            var evaluation = options.evaluation
            evaluation.transductive = transductive
            results[transductive] = ParallelEvaluation.run(evaluation, sampler: omniglot.test, model: model, loss: .softmaxCrossEntropy,
                                                           parameters: trainer.parameters, optimizer: trainer.innerOptimizer,
                                                           tasks: 60, seed: 0, stream: [9])
        }
        // Evaluation changes neither the weights nor the optimizer state.
        #expect(trainer.parameters == before.0)
        #expect(trainer.innerOptimizer.state == before.1)
        for (mode, r) in results { #expect(r.accuracy > 0.4, "transductive=\(mode): \(r.accuracy)") }
        // The two modes see the same tasks but batch statistics differ: the answers are not identical.
        #expect(results[false]!.correct != results[true]!.correct || results[false]!.accuracy == 1)
        // Workers take tasks as they come, but each task has its own random stream: the result is the
        // same on any number of threads.
        let byThreads = [1, 2, 3].map { threads in
            ParallelEvaluation.run(options.evaluation, sampler: omniglot.test, model: model, loss: .softmaxCrossEntropy,
                                   parameters: trainer.parameters, optimizer: trainer.innerOptimizer,
                                   tasks: 16, seed: 0, stream: [9], threads: threads)
        }
        #expect(byThreads.allSatisfy { $0 == byThreads[0] })
    }
}

@Test("bench --algorithms times Mini-ImageNet's 3×3 stride-1 layers both ways, and nothing in Omniglot's model")
func convolutionAlgorithmsAreComparedWhereThereIsAChoice() throws {
    let mini = try Benchmark.compareConvolutionAlgorithms(.miniImageNet5, rounds: 1)
    #expect(mini.map(\.name) == ["conv1", "conv2", "conv3"])
    #expect(mini.allSatisfy { $0.batch == 5 && $0.multiplyAdds > 0 })
    #expect(mini.allSatisfy { ($0.directMs + $0.winogradMs).allSatisfy { $0 > 0 && $0.isFinite } && $0.directMs.count == 3 })
    #expect(try Benchmark.compareConvolutionAlgorithms(.omniglot5, rounds: 1).isEmpty)
}

@Test("bench --pytorch reads scripts/pytorch_baseline.py's JSON, and rejects files that are not")
func pytorchBaselineFile() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("baseline-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    func write(_ text: String) throws -> URL {
        let url = dir.appendingPathComponent("\(UUID().uuidString).json")
        try Data(text.utf8).write(to: url)
        return url
    }
    let good = try write("""
        {"torch": "2.15.0", "threads": 2, "cpu": "", "results": [
          {"setting": "omniglot-5way", "ms_per_meta_iteration": 138.5, "runs_ms": [138.5]},
          {"setting": "sine", "ms_per_meta_iteration": 2.1, "runs_ms": [2.1]}]}
        """)
    let baseline = try PyTorchBaseline(contentsOf: good)
    #expect(baseline.msPerMetaIteration == ["omniglot-5way": 138.5, "sine": 2.1])
    #expect(baseline.source.contains("PyTorch 2.15.0, 2 threads on this machine"))
    #expect(PyTorchBaseline.referenceMachine.msPerMetaIteration["omniglot-5way"] == 297)

    for bad in ["", "{\"results\": 3}", "{\"results\": []}",
                "{\"results\": [{\"setting\": \"sine\", \"ms_per_meta_iteration\": 0}]}",
                "{\"results\": [{\"setting\": \"sine\"}]}"] {
        #expect(throws: PyTorchBaseline.BaselineError.self) { try PyTorchBaseline(contentsOf: write(bad)) }
    }
    #expect(throws: PyTorchBaseline.BaselineError.self) {
        try PyTorchBaseline(contentsOf: dir.appendingPathComponent("missing.json"))
    }
}

@Test("new runs sum the batch's losses as the reference does; runs recorded before the setting keep the mean")
func lossReductionDefaultsAndOldRecords() throws {
    let fresh = FewShotOptions()
    #expect(fresh.lossReduction == .sum && fresh.loss == .summedSoftmaxCrossEntropy)
    var old = fresh
    old.lossReduction = nil
    let json = String(decoding: try JSONEncoder().encode(old), as: UTF8.self)
    #expect(!json.contains("lossReduction"))
    let decoded = try JSONDecoder().decode(FewShotOptions.self, from: Data(json.utf8))
    #expect(decoded.lossReduction == nil && decoded.loss == .softmaxCrossEntropy)
    #expect(FewShotTraining.differences(decoded, fresh) == ["--loss-reduction sum (checkpoint: mean)"])
    var mean = fresh
    mean.lossReduction = .mean
    #expect(FewShotTraining.differences(decoded, mean).isEmpty)
}
