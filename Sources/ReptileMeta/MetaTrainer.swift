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
    public var threadCount: Int { executor.threadCount }
    /// The processes that share each meta-batch (nil: this process alone runs every task).
    public var group: ProcessGroup? { executor.group }
    /// Whether other threads (another process's, or another rank's on this machine) competed for
    /// the cores during the last meta-iteration: this trainer's threads waited for a core a tenth
    /// of their time or more. Measured on Linux, where threads share batches (two or more threads,
    /// no more than cores). Threads without a task then stop helping the others until the cores
    /// are free again; the floats are the same either way.
    public var coresContended: Bool { executor.coresContended }
    /// How many times a thread joined another's task in the last meta-iteration.
    var helperJoins: Int { executor.helperJoins }
    /// Runs each meta-batch's tasks on the cores (and the group's processes).
    private let executor: TaskExecutor<InnerOptimizer>

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
        executor = TaskExecutor(model: model, loss: loss, optimizer: innerOptimizer, tasks: configuration.metaBatchSize,
                                serial: configuration.taskExecution == .serial,
                                maxBatch: maxBatch ?? configuration.inner.batchSize, threads: threads, group: group)
    }

    /// Runs one meta-iteration and advances ``iteration``: the reference's `train_step`.
    @discardableResult
    public func step() -> MetaStepReport {
        let c = configuration, i = iteration
        // For each task of the meta-batch: sample it, adapt a copy of θ to it with the inner loop,
        // and keep the meta-gradient (for Reptile θ − W̃, the way back from the adapted weights).
        executor.forEachTask(optimizer: &innerOptimizer, stepsEach: c.inner.iterations) { t, slot, optimizer in
            var rng = RandomGenerator(seed: c.seed, stream: [RandomStream.training.rawValue, UInt64(i), UInt64(t)])
            let task = tasks.sampleTask(using: &rng)
            parameters.withUnsafeBufferPointer { slot.weights.update(from: $0.baseAddress!, count: $0.count) }
            executor.taskLosses.pointer[t] = InnerLoop.run(task, weights: slot.weights, optimizer: &optimizer, learner: slot.learner,
                                                           configuration: c.inner, using: &rng,
                                                           metaGradient: slot.metaGradient, selection: c.metaGradient)
        }
        // Interpolate: θ ← θ − ε · mean meta-gradient = θ + ε · (mean W̃ − θ) (or Adam's step on it).
        let epsilon = c.metaStepSize(at: i)
        let metaGradient = executor.meanMetaGradient()
        parameters.withUnsafeMutableBufferPointer { theta in
            if var adam = outerAdam {
                adam.learningRate = epsilon
                adam.update(FloatView(theta), gradients: FloatView(metaGradient, count: theta.count))
                outerAdam = adam
            } else {
                Vector.axpy(-epsilon, metaGradient, theta.baseAddress!, count: theta.count)
            }
        }
        iteration += 1
        let finite = parameters.withUnsafeBufferPointer { Vector.allFinite($0.baseAddress!, count: $0.count) }
        return MetaStepReport(iteration: i, metaStepSize: epsilon, innerLoss: executor.meanLoss, isFinite: finite)
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
