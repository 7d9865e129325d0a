// Meta-training: sample a meta-batch of tasks, run the inner loop on each (in parallel, and across
// the processes of a `ProcessGroup`), and move the initialization along the meta-gradient.

import Foundation
import ReptileKernels
import ReptileNN

/// The outer (meta) update.
public enum OuterOptimizer: Sendable, Equatable, Codable {
    /// θ ← θ − ε · G, with G the mean meta-gradient (for Reptile: θ ← θ + ε (mean W − θ)).
    case interpolation
    /// G is fed to Adam as a gradient with learning rate ε (the blog's alternative).
    case adam(beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8)
}

/// How the tasks of one meta-batch share the inner optimizer's state.
public enum TaskExecution: String, Sendable, Equatable, Codable, CaseIterable {
    /// Tasks run at the same time on copies of the optimizer's state at the start of the
    /// meta-iteration; afterwards the copies are merged in task order (Adam: moments averaged, step
    /// count advanced by one task's steps). When the tasks do not divide evenly among the threads
    /// (5 tasks on 2 cores), a thread left without a task computes half of each batch of one still
    /// training, when the model cuts its batches in two (`ShardTeam`,
    /// `Sequential.batchShards`). Results do not depend on the number of threads.
    case parallel
    /// Tasks run one after another and the optimizer's state flows from each task to the next,
    /// exactly like the reference implementation. Uses one core.
    case serial
}

/// Everything that defines a meta-training run besides the model, data and inner optimizer.
public struct MetaTrainingConfiguration: Sendable, Equatable, Codable {
    /// The inner loop on each task.
    public var inner: InnerLoopConfiguration
    /// Tasks per meta-iteration (`--meta-batch`); 1 is serial Reptile.
    public var metaBatchSize: Int
    /// ε at the first iteration (`--meta-step`).
    public var metaStepSize: Float
    /// ε at the end, reached linearly (`--meta-step-final`).
    public var metaStepSizeFinal: Float
    /// Number of meta-iterations N (`--meta-iters`).
    public var metaIterations: Int
    /// Which inner updates form the meta-gradient.
    public var metaGradient: MetaGradient
    /// The outer update.
    public var outerOptimizer: OuterOptimizer
    /// How a meta-batch's tasks share the inner optimizer state.
    public var taskExecution: TaskExecution
    /// The seed every random choice derives from.
    public var seed: UInt64

    public init(inner: InnerLoopConfiguration, metaBatchSize: Int = 1, metaStepSize: Float = 0.1,
                metaStepSizeFinal: Float = 0.1, metaIterations: Int, metaGradient: MetaGradient = .reptile,
                outerOptimizer: OuterOptimizer = .interpolation, taskExecution: TaskExecution = .parallel, seed: UInt64 = 0) {
        self.inner = inner
        self.metaBatchSize = metaBatchSize
        self.metaStepSize = metaStepSize
        self.metaStepSizeFinal = metaStepSizeFinal
        self.metaIterations = metaIterations
        self.metaGradient = metaGradient
        self.outerOptimizer = outerOptimizer
        self.taskExecution = taskExecution
        self.seed = seed
    }

    /// The linear schedule: ε_i = (i/N)·ε_final + (1 − i/N)·ε_initial, held at ε_final after the
    /// last iteration (extrapolating would turn ε negative and push θ away from the tasks).
    public func metaStepSize(at iteration: Int) -> Float {
        let fraction = Float(min(Double(iteration) / Double(max(metaIterations, 1)), 1))
        return fraction * metaStepSizeFinal + (1 - fraction) * metaStepSize
    }
}

/// Independent random streams; each purpose has its own so that adding, say, evaluations does not
/// change which tasks training sees.
public enum RandomStream: UInt64, Sendable {
    case initialization = 1
    case training = 2
    case evaluationDuringTraining = 3
    case finalEvaluation = 4
    case dataSplit = 5
    case demo = 6
    case adaptation = 7
}

/// What one meta-iteration did.
public struct MetaStepReport: Sendable {
    /// The iteration that just ran (0-based).
    public var iteration: Int
    /// ε used.
    public var metaStepSize: Float
    /// Mean inner-loop training loss over the meta-batch.
    public var innerLoss: Float
    /// Whether all parameters are still finite.
    public var isFinite: Bool
}

/// Meta-trains a model on a task distribution with the Reptile family of algorithms.
///
/// ```swift
/// let trainer = MetaTrainer(model: model, loss: .meanSquaredError, tasks: SineTasks(),
///                           innerOptimizer: SGD(learningRate: 0.02),
///                           configuration: .init(inner: .init(batchSize: 10, iterations: 5),
///                                                metaIterations: 30_000))
/// while trainer.iteration < 30_000 { trainer.step() }
/// ```
///
/// The inner optimizer's state (e.g. Adam's second moments and step count) is *not* reset between
/// tasks — only the weights are restored — as in the reference implementation.
public final class MetaTrainer<Tasks: TaskDistribution, InnerOptimizer: Optimizer> {
    public let model: Sequential
    public let loss: Loss
    public let tasks: Tasks
    public let configuration: MetaTrainingConfiguration
    /// The meta-learned initialization θ.
    public var parameters: [Float]
    /// The inner optimizer, whose state persists across tasks and meta-iterations.
    public var innerOptimizer: InnerOptimizer
    /// The outer Adam, when ``OuterOptimizer/adam(beta1:beta2:epsilon:)`` is chosen.
    public var outerAdam: Adam?
    /// The next meta-iteration to run (0-based).
    public var iteration: Int
    /// Threads used for the tasks of a meta-batch.
    public let threadCount: Int

    private let learners: [Learner]
    private let taskWeights: [FloatBuffer]
    private let metaGradients: [FloatBuffer]
    private let taskLosses: FloatBuffer
    /// Per-task copies of the inner optimizer (parallel execution), reused every meta-iteration.
    private var optimizerCopies: [InnerOptimizer]
    /// With several workers, worker w leads team w while it trains a task; a worker with no task
    /// left joins a team that has no helper yet and computes half of each of its batches.
    private let teams: [ShardTeam]
    /// Hands the tasks of a meta-batch to the workers; its event is the teams' too, so that an idle
    /// worker sleeps until a team opens or the last task ends.
    private let dispenser = TaskDispenser()
    /// The processes that share each meta-batch (nil: this process alone runs every task).
    public let group: ProcessGroup?
    /// With a group of several processes: each task's meta-gradient, optimizer state and loss,
    /// `exchangeStride` floats per task in task order, gathered from the process that ran it.
    private let exchange: FloatBuffer?
    private let exchangeStride: Int
    /// Floats each process contributes to the exchange (its block of tasks), in rank order.
    private let exchangeCounts: [Int]

    /// - Parameters:
    ///   - model: the network whose initialization is meta-learned.
    ///   - loss: the inner loop's loss (`.softmaxCrossEntropy`, `.meanSquaredError`).
    ///   - tasks: where the tasks come from.
    ///   - innerOptimizer: the inner loop's optimizer; its state carries over from task to task.
    ///   - configuration: the algorithm and its schedule.
    ///   - parameters: the initialization to start from (default: the model's initializers,
    ///     seeded from the configuration's seed).
    ///   - maxBatch: the largest batch the inner loop runs (default: the configuration's batch size).
    ///   - threads: worker threads (default: one per core, at most the meta-batch size).
    ///   - group: processes that share each meta-batch (for example `try MPIProcessGroup.world()`):
    ///     each runs its block of the tasks, then all exchange the tasks' meta-gradients and
    ///     optimizer states and apply the same update, so the parameters are those of one process
    ///     running every task, bit for bit. Every member must be built and configured alike.
    public init(model: Sequential, loss: Loss, tasks: Tasks, innerOptimizer: InnerOptimizer,
                configuration: MetaTrainingConfiguration, parameters: [Float]? = nil,
                maxBatch: Int? = nil, threads: Int? = nil, group: ProcessGroup? = nil) {
        precondition(configuration.metaBatchSize > 0, "meta-batch size must be positive")
        precondition(group == nil || group!.size == 1 || configuration.taskExecution == .parallel,
                     "serial task execution passes the optimizer's state from task to task and cannot be split among processes")
        self.model = model
        self.loss = loss
        self.tasks = tasks
        self.configuration = configuration
        if let parameters {
            precondition(parameters.count == model.parameterCount, "expected \(model.parameterCount) parameters, got \(parameters.count)")
            self.parameters = parameters
        } else {
            var rng = RandomGenerator(seed: configuration.seed, stream: [RandomStream.initialization.rawValue])
            self.parameters = model.initialParameters(using: &rng)
        }
        self.innerOptimizer = innerOptimizer
        if case .adam(let b1, let b2, let eps) = configuration.outerOptimizer {
            outerAdam = Adam(parameterCount: model.parameterCount, learningRate: configuration.metaStepSize,
                             beta1: b1, beta2: b2, epsilon: eps)
        }
        iteration = 0
        self.group = group
        let ownTasks = group.map { $0.block(of: configuration.metaBatchSize, rank: 0).count } ?? configuration.metaBatchSize
        let workers = configuration.taskExecution == .serial ? 1
            : max(1, min(threads ?? ProcessInfo.processInfo.activeProcessorCount, ownTasks))
        threadCount = workers
        let batch = maxBatch ?? configuration.inner.batchSize
        learners = (0..<workers).map { _ in Learner(model: model, loss: loss, maxBatch: batch) }
        taskWeights = (0..<workers).map { _ in FloatBuffer(count: model.parameterCount) }
        metaGradients = (0..<configuration.metaBatchSize).map { _ in FloatBuffer(count: model.parameterCount) }
        taskLosses = FloatBuffer(count: configuration.metaBatchSize)
        optimizerCopies = configuration.taskExecution == .parallel
            ? [InnerOptimizer](repeating: innerOptimizer, count: configuration.metaBatchSize) : []
        // Sharing a task's batches only pays when every worker has a core of its own.
        let sharing = workers > 1 && workers <= ProcessInfo.processInfo.activeProcessorCount && model.batchShards > 1
        let event = dispenser.event
        teams = !sharing ? [] : (0..<workers).map { _ in ShardTeam(event: event) }
        for (learner, team) in zip(learners, teams) { learner.team = team }
        if let group, group.size > 1 {
            exchangeStride = model.parameterCount + innerOptimizer.taskStateCount + 1
            exchange = FloatBuffer(count: configuration.metaBatchSize * exchangeStride)
            exchangeCounts = (0..<group.size).map { [stride = exchangeStride] in group.block(of: configuration.metaBatchSize, rank: $0).count * stride }
        } else {
            exchangeCounts = []
            exchangeStride = 0
            exchange = nil
        }
    }

    /// Runs one meta-iteration and advances ``iteration``.
    @discardableResult
    public func step() -> MetaStepReport {
        let c = configuration
        let n = c.metaBatchSize
        let epsilon = c.metaStepSize(at: iteration)
        let count = model.parameterCount
        let i = iteration
        switch c.taskExecution {
        case .serial:
            var optimizer = innerOptimizer
            for t in 0..<n { runTask(t, iteration: i, worker: 0, optimizer: &optimizer) }
            innerOptimizer = optimizer
        case .parallel:
            // Each task starts from a copy of the shared state; the copies' buffers are kept
            // between meta-iterations so that this allocates nothing.
            do {  // `start` ends here, so that the merge below writes into unshared buffers.
                let start = innerOptimizer
                let workers = threadCount
                // Workers take tasks in order from a shared counter; one that finds none left
                // computes half of the batches of a task still running (see `ShardTeam`).
                // Which worker runs (or helps) a task changes nothing in its result.
                let tasks = dispenser
                let own = group?.block(of: n) ?? 0..<n
                tasks.reset(count: own.count, first: own.lowerBound)
                optimizerCopies.withUnsafeMutableBufferPointer { copiesBuffer in
                    let box = UnsafeSendable(copiesBuffer)
                    DispatchQueue.concurrentPerform(iterations: workers) { w in
                        let scratch = learners[w].workspace.scratch
                        let team = teams.isEmpty ? nil : teams[w]
                        while let t = tasks.take() {
                            team?.open()
                            box.value[t].assign(from: start)
                            runTask(t, iteration: i, worker: w, optimizer: &box.value[t])
                            team?.close()
                            tasks.finish()
                        }
                        guard !teams.isEmpty else { return }
                        while !tasks.allFinished {
                            for v in 0..<workers where v != w { teams[v].help(scratch: scratch) }
                            tasks.event.wait { tasks.allFinished || (0..<workers).contains { $0 != w && teams[$0].isJoinable } }
                        }
                    }
                }
            }
            if exchange != nil { exchangeTaskResults() }
            innerOptimizer.merge(optimizerCopies, stepsEach: c.inner.iterations)
        }
        // Mean meta-gradient, reduced in task order (deterministic whatever the thread count).
        let mean = metaGradients[0].pointer
        for t in 1..<max(n, 1) { Vector.add(metaGradients[t].pointer, into: mean, count: count) }
        if n > 1 { Vector.scale(mean, by: 1 / Float(n), count: count) }
        parameters.withUnsafeMutableBufferPointer { theta in
            if var adam = outerAdam {
                adam.learningRate = epsilon
                adam.update(FloatView(theta), gradients: FloatView(mean, count: count))
                outerAdam = adam
            } else {
                Vector.axpy(-epsilon, mean, theta.baseAddress!, count: count)
            }
        }
        iteration += 1
        let finite = parameters.withUnsafeBufferPointer { Vector.allFinite($0.baseAddress!, count: count) }
        return MetaStepReport(iteration: i, metaStepSize: epsilon, innerLoss: taskLosses.buffer.reduce(0, +) / Float(n), isFinite: finite)
    }

    /// Runs the meta-iterations left until ``MetaTrainingConfiguration/metaIterations``, calling
    /// `callback` every `interval` iterations and after the last with the latest report: the place
    /// for logging, checkpoints or meta-validation (adapt ``parameters`` to held-out tasks with
    /// `Sequential.adapt(_:to:loss:steps:optimizer:batchSize:seed:onStep:)`). Return `false` to stop early.
    /// Stops with an error when the parameters stop being finite.
    public func train(every interval: Int = 1, _ callback: (MetaStepReport) throws -> Bool = { _ in true }) throws {
        precondition(interval >= 1, "the callback interval must be at least 1")
        while iteration < configuration.metaIterations {
            let report = step()
            guard report.isFinite else { throw MetaTrainingError.diverged(iteration: report.iteration) }
            if iteration % interval == 0 || iteration == configuration.metaIterations {
                guard try callback(report) else { return }
            }
        }
    }

    /// Gives every process of the group the meta-gradients, optimizer states and losses of the
    /// tasks the others ran, so that all reduce the same values in the same order.
    private func exchangeTaskResults() {
        guard let group, let exchange else { return }
        let n = configuration.metaBatchSize, count = model.parameterCount, stride = exchangeStride
        let all = exchange.pointer
        let own = group.block(of: n)
        for t in own {
            let slot = all + t * stride
            slot.update(from: metaGradients[t].pointer, count: count)
            optimizerCopies[t].copyTaskState(to: FloatView(slot + count, count: stride - count - 1))
            slot[stride - 1] = taskLosses.pointer[t]
        }
        group.allGather(FloatView(all, count: n * stride), counts: exchangeCounts)
        for t in 0..<n where !own.contains(t) {
            let slot = all + t * stride
            metaGradients[t].pointer.update(from: slot, count: count)
            optimizerCopies[t].loadTaskState(from: FloatView(slot + count, count: stride - count - 1))
            taskLosses.pointer[t] = slot[stride - 1]
        }
    }

    private func runTask(_ t: Int, iteration i: Int, worker w: Int, optimizer: inout InnerOptimizer) {
        var rng = RandomGenerator(seed: configuration.seed,
                                  stream: [RandomStream.training.rawValue, UInt64(i), UInt64(t)])
        let task = tasks.sampleTask(using: &rng)
        let weights = taskWeights[w].pointer
        parameters.withUnsafeBufferPointer { weights.update(from: $0.baseAddress!, count: $0.count) }
        taskLosses.pointer[t] = InnerLoop.run(task, weights: weights, optimizer: &optimizer, learner: learners[w],
                                      configuration: configuration.inner, using: &rng,
                                      metaGradient: metaGradients[t].pointer, selection: configuration.metaGradient)
    }
}

/// Why meta-training stopped.
public enum MetaTrainingError: Error, CustomStringConvertible, Equatable {
    /// The parameters became NaN or infinite at this (0-based) meta-iteration.
    case diverged(iteration: Int)

    public var description: String {
        switch self {
        case .diverged(let i): return "meta-training diverged at meta-iteration \(i): the parameters are no longer finite (try smaller step sizes)"
        }
    }
}

/// Moves a non-Sendable value into a concurrently executed closure whose accesses are disjoint.
struct UnsafeSendable<T>: @unchecked Sendable {
    var value: T
    init(_ value: T) { self.value = value }
}
