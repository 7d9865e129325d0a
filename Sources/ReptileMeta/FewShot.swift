// Few-shot classification: the task sampler protocol, task subsets, and evaluation of one task in
// the reference's two modes (transductive and not).

import Foundation
import ReptileKernels
import ReptileNN

/// A source of N-way K-shot classification tasks (implemented by the data sets).
public protocol FewShotTaskSampler {
    associatedtype Task: SupervisedTask
    /// Classes available.
    var classCount: Int { get }
    /// Examples every class has at least.
    var examplesPerClass: Int { get }
    /// A task of `ways` classes (labels 0..<ways in the order drawn) with `shots` distinct examples
    /// each, ordered class by class: examples `c·shots ..< (c+1)·shots` have label c.
    func sampleTask(ways: Int, shots: Int, using rng: inout RandomGenerator) -> Task
}

/// Meta-training tasks from a few-shot sampler: N-way tasks with `shots` examples per class.
public struct FewShotTasks<Sampler: FewShotTaskSampler>: TaskDistribution {
    public let sampler: Sampler
    public let ways: Int
    public let shots: Int

    public init(_ sampler: Sampler, ways: Int, shots: Int) {
        self.sampler = sampler
        self.ways = ways
        self.shots = shots
    }

    public func sampleTask(using rng: inout RandomGenerator) -> Sampler.Task {
        sampler.sampleTask(ways: ways, shots: shots, using: &rng)
    }
}

/// Some examples of a task, as a task of their own (a support set, or a batch with one query).
public struct TaskSubset<Base: SupervisedTask>: SupervisedTask {
    public let base: Base
    public let indices: [Int]
    public init(_ base: Base, indices: [Int]) {
        self.base = base
        self.indices = indices
    }
    public var exampleCount: Int { indices.count }
    public func writeExample(_ index: Int, input: FloatView, target: FloatView) {
        base.writeExample(indices[index], input: input, target: target)
    }
    public func classLabel(of index: Int) -> Int? { base.classLabel(of: indices[index]) }
}

/// How few-shot evaluation adapts to a task and predicts (the reference's evaluation flags).
public struct FewShotEvaluation: Sendable, Equatable, Codable {
    /// Classes per task (`--classes`).
    public var ways: Int
    /// Support examples per class (`--shots`).
    public var shots: Int
    /// Mini-batch size of adaptation (`--eval-batch`).
    public var batchSize: Int
    /// Adaptation steps (`--eval-iters`).
    public var iterations: Int
    /// Mini-batches drawn with replacement (`--replacement`).
    public var replacement: Bool
    /// Predict all queries in one batch (`--transductive`) instead of one at a time with the support set.
    public var transductive: Bool
    /// Weight decay factor before each step (`--weight-decay`).
    public var weightDecay: Float

    public init(ways: Int, shots: Int, batchSize: Int, iterations: Int, replacement: Bool = false,
                transductive: Bool = false, weightDecay: Float = 1) {
        self.ways = ways
        self.shots = shots
        self.batchSize = batchSize
        self.iterations = iterations
        self.replacement = replacement
        self.transductive = transductive
        self.weightDecay = weightDecay
    }

    /// The largest batch evaluation runs through the model.
    public var maxBatch: Int { max(batchSize, ways * shots + 1, ways) }

    /// Checks that tasks can be drawn and adapted with these settings from data whose classes
    /// have `examplesPerClass` examples, for a model with `outputs` classes; the message names the flag.
    public func validate(examplesPerClass: Int, classes available: Int, outputs: Int) throws {
        func fail(_ message: String) -> EvaluationSettingsError { EvaluationSettingsError(description: message) }
        guard ways == outputs else { throw fail("--classes \(ways) does not match the model, which has \(outputs) outputs") }
        guard shots >= 1 else { throw fail("--shots must be at least 1, got \(shots)") }
        guard shots + 1 <= examplesPerClass else {
            throw fail("--shots \(shots) is too many: evaluation needs \(shots) support images plus 1 query per class, and classes have \(examplesPerClass) images")
        }
        guard ways <= available else { throw fail("--classes \(ways) is more than the \(available) evaluation classes") }
        guard batchSize >= 1 else { throw fail("--eval-batch must be at least 1, got \(batchSize)") }
        guard iterations >= 0 else { throw fail("--eval-iters must not be negative, got \(iterations)") }
        if replacement, batchSize > ways * shots {
            throw fail("--eval-batch \(batchSize) with --replacement needs at most \(ways * shots) examples per batch (classes × shots)")
        }
    }

    /// Evaluates one task: draws `ways` classes × (`shots` + 1) examples, holds out the first
    /// example of each class as its query, adapts a copy of `parameters` and of `optimizer` on the
    /// rest, and predicts the queries. Nothing passed in is changed (the reference saves and
    /// restores the full state, weights and optimizer). Returns the number of correct queries.
    package func evaluateTask<S: FewShotTaskSampler, O: Optimizer>(
        _ sampler: S, parameters: UnsafePointer<Float>, optimizer: O, learner: Learner,
        weights: UnsafeMutablePointer<Float>, using rng: inout RandomGenerator
    ) -> Int {
        let task = sampler.sampleTask(ways: ways, shots: shots + 1, using: &rng)
        let perClass = shots + 1
        let queries = (0..<ways).map { $0 * perClass }
        let support = (0..<ways).flatMap { c in (1..<perClass).map { c * perClass + $0 } }
        let count = learner.model.parameterCount
        weights.update(from: parameters, count: count)
        var adaptation = optimizer
        InnerLoop.run(TaskSubset(task, indices: support), weights: weights, optimizer: &adaptation, learner: learner,
                      configuration: InnerLoopConfiguration(batchSize: batchSize, iterations: iterations,
                                                            replacement: replacement, weightDecay: weightDecay),
                      using: &rng)
        let classes = learner.model.outputCount
        var correct = 0
        if transductive {
            InnerLoop.fill(learner, from: task, indices: queries)
            let logits = learner.outputs(parameters: weights, batch: queries.count)
            for (row, q) in queries.enumerated()
            where LossKernels.argmax(logits, row: row, columns: classes) == task.classLabel(of: q) ?? q / perClass {
                correct += 1
            }
        } else {
            // Each query in a batch with the whole support set: batch statistics never mix queries.
            for q in queries {
                let batch = support + [q]
                InnerLoop.fill(learner, from: task, indices: batch)
                let logits = learner.outputs(parameters: weights, batch: batch.count)
                if LossKernels.argmax(logits, row: batch.count - 1, columns: classes) == task.classLabel(of: q) ?? q / perClass {
                    correct += 1
                }
            }
        }
        return correct
    }
}

/// Evaluation settings that cannot work: one line naming the flag.
public struct EvaluationSettingsError: Error, CustomStringConvertible, Sendable {
    public var description: String
}

/// The outcome of evaluating many tasks.
public struct EvaluationResult: Sendable, Codable, Equatable {
    /// Tasks evaluated.
    public var tasks: Int
    /// Mean accuracy over tasks (fraction of queries classified correctly).
    public var accuracy: Double
    /// Half-width of the 95 % confidence interval of `accuracy` (1.96 · standard error over tasks).
    public var ci95: Double
    /// Correct queries in total.
    public var correct: Int
}

/// Evaluates many tasks in parallel, each with its own random stream, so the result depends only
/// on the seed (not on the number of threads or processes).
public enum ParallelEvaluation {
    /// With a `group`, each process evaluates its block of the tasks and all get the whole result;
    /// `progress` then counts this process's tasks, scaled to the total.
    public static func run<S: FewShotTaskSampler, O: Optimizer>(
        _ evaluation: FewShotEvaluation, sampler: S, model: Sequential, loss: Loss, parameters: [Float],
        optimizer: O, tasks: Int, seed: UInt64, stream: [UInt64], threads: Int? = nil, group: ProcessGroup? = nil,
        progress: ((Int, Int) -> Void)? = nil
    ) -> EvaluationResult {
        let own = group?.block(of: tasks) ?? 0..<tasks
        let workers = max(1, min(threads ?? ProcessInfo.processInfo.activeProcessorCount, own.count))
        let learners = (0..<workers).map { _ in Learner(model: model, loss: loss, maxBatch: evaluation.maxBatch) }
        let weights = (0..<workers).map { _ in FloatBuffer(count: model.parameterCount) }
        let correct = UnsafeMutableBufferPointer<Int>.allocate(capacity: max(tasks, 1))
        correct.initialize(repeating: 0)
        defer { correct.deallocate() }
        let lock = NSLock()
        var done = 0
        let box = UnsafeSendable(correct)
        // Workers take tasks from a shared counter rather than in fixed turns: a core slowed
        // down by another process then takes fewer tasks instead of holding up the end. Task t
        // always uses its own random stream, so who runs it changes nothing.
        let dispenser = TaskDispenser()
        dispenser.reset(count: own.count, first: own.lowerBound)
        parameters.withUnsafeBufferPointer { theta in
            let thetaBox = UnsafeSendable(theta.baseAddress!)
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                while let t = dispenser.take() {
                    var rng = RandomGenerator(seed: seed, stream: stream + [UInt64(t)])
                    box.value[t] = evaluation.evaluateTask(sampler, parameters: thetaBox.value, optimizer: optimizer,
                                                           learner: learners[w], weights: weights[w].pointer, using: &rng)
                    if let progress {
                        lock.lock()
                        done += 1
                        let d = done
                        lock.unlock()
                        if w == 0 { progress(own.count == tasks ? d : d * tasks / own.count, tasks) }
                    }
                }
            }
        }
        if let group, group.size > 1 {
            // Counts of correct queries are small integers: exact as floats.
            var counts = (0..<tasks).map { Float(correct[$0]) }
            counts.withUnsafeMutableBufferPointer { group.allGather(FloatView($0), counts: (0..<group.size).map { group.block(of: tasks, rank: $0).count }) }
            for t in 0..<tasks { correct[t] = Int(counts[t]) }
        }
        progress?(tasks, tasks)
        let accuracies = (0..<tasks).map { Double(correct[$0]) / Double(evaluation.ways) }
        let mean = accuracies.reduce(0, +) / Double(max(tasks, 1))
        let variance = tasks > 1 ? accuracies.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(tasks - 1) : 0
        return EvaluationResult(tasks: tasks, accuracy: mean, ci95: 1.96 * (variance / Double(max(tasks, 1))).squareRoot(),
                                correct: (0..<tasks).reduce(0) { $0 + correct[$1] })
    }
}
