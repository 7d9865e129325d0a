// The sine-wave demo end to end: meta-train an MLP with serial Reptile, then show how
// fast it adapts to a new wave from 10 points.

import Foundation
import ReptileKernels
import ReptileNN
import ReptileMeta
import ReptileData
import ReptilePlot

/// The sine-wave demo of the Reptile blog and its PyTorch listing.
public enum SineExperiment {
    /// The activation of the MLP's hidden layers.
    public enum Activation: String, Sendable, Codable, CaseIterable {
        /// tanh (the listing notes it beats ReLU slightly).
        case tanh
        /// ReLU, as in the paper.
        case relu
    }

    /// The demo's settings; the defaults are the listing's.
    public struct Options: Sendable, Codable, Equatable {
        /// Outer iterations N.
        public var iterations = 30_000
        public var seed: UInt64 = 0
        /// SGD step of the inner loop (and of adaptation at evaluation).
        public var innerStep: Float = 0.02
        /// Epochs over the 50 points per task (5 mini-batches of 10 each).
        public var innerEpochs = 1
        /// ε₀ of the linear schedule ε = ε₀·(1 − i/N).
        public var outerStep: Float = 0.1
        public var activation: Activation = .tanh
        /// Mini-batch size of the inner loop.
        public var innerBatch = 10
        /// Fresh tasks averaged for `mean_loss_after_32_steps`.
        public var evaluationTasks = 100
        /// Training points of the plotted and evaluation tasks.
        public var evaluationPoints = 10
        /// Full-batch SGD steps of adaptation at evaluation.
        public var adaptationSteps = 32

        public init() {}
    }

    /// Predictions after a number of adaptation steps.
    public struct Curve: Sendable, Codable, Equatable {
        public var steps: Int
        public var predictions: [Float]
    }

    /// What a run produced.
    public struct Result: Sendable, Codable {
        public var options: Options
        public var iterations: Int
        public var seconds: Double
        /// Mean squared error on the 50 points of the plotted task after 32 steps on its 10 points.
        public var lossAfter32Steps: Float
        /// The same, averaged over fresh tasks.
        public var meanLossAfter32Steps: Float
        /// The plotted task.
        public var amplitude: Float
        public var phase: Float
        /// All 50 x positions, and the plotted task's training points.
        public var xs: [Float]
        public var trainXs: [Float]
        /// Predictions after 0, 8, 16, 24, 32 steps.
        public var curves: [Curve]
        /// The meta-learned parameters.
        public var parameters: [Float]

        enum CodingKeys: String, CodingKey {
            case options, iterations, seconds, amplitude, phase, xs, curves, parameters
            case lossAfter32Steps = "loss_after_32_steps"
            case meanLossAfter32Steps = "mean_loss_after_32_steps"
            case trainXs = "train_xs"
        }
    }

    /// The listing's model: 1 → 64 → 64 → 1, initialized like PyTorch's `nn.Linear` (U(±1/√fan-in)
    /// for weights and biases). With Glorot weights and zero biases instead, every hidden unit starts
    /// as an odd function of x centred at 0, and meta-training ends about 4× worse.
    public static func model(activation: Activation) throws -> Sequential {
        func act() -> any Layer { activation == .tanh ? Tanh() : ReLU() }
        return try Sequential(inputShape: [1]) {
            Linear(1, 64, initialization: .uniformFanIn); act()
            Linear(64, 64, initialization: .uniformFanIn); act()
            Linear(64, 1, initialization: .uniformFanIn)
        }
    }

    /// Meta-trains and evaluates. `progress` is called with (iterations done, total) now and then.
    public static func run(_ options: Options, progress: ((Int, Int) -> Void)? = nil) throws -> Result {
        let model = try model(activation: options.activation)
        let tasks = SineTasks()
        let batchesPerEpoch = (tasks.xs.count + options.innerBatch - 1) / options.innerBatch
        let config = MetaTrainingConfiguration(
            inner: InnerLoopConfiguration(batchSize: options.innerBatch, iterations: options.innerEpochs * batchesPerEpoch),
            metaBatchSize: 1, metaStepSize: options.outerStep, metaStepSizeFinal: 0,
            metaIterations: options.iterations, seed: options.seed)
        let trainer = MetaTrainer(model: model, loss: .meanSquaredError, tasks: tasks,
                                  innerOptimizer: SGD(learningRate: options.innerStep), configuration: config,
                                  maxBatch: max(options.innerBatch, tasks.xs.count))
        let start = Date()
        let reportEvery = max(options.iterations / 100, 1)
        while trainer.iteration < options.iterations {
            let report = trainer.step()
            guard report.isFinite else {
                throw ExperimentError("training diverged at iteration \(report.iteration): the parameters are no longer finite (try a smaller --inner-step or --outer-step)")
            }
            if trainer.iteration % reportEvery == 0 { progress?(trainer.iteration, options.iterations) }
        }
        let seconds = Date().timeIntervalSince(start)

        // The plotted task: the very wave and 10 training points (drawn with replacement) of the
        // listing's figure, from NumPy's RandomState(seed) in the listing's order.
        var numpy = NumPyLegacyRandom(seed: UInt32(truncatingIfNeeded: options.seed))
        let phase = Float(numpy.uniform(0, 2 * Double.pi))
        let amplitude = Float(numpy.uniform(0.1, 5))
        let plotTask = SineTask(amplitude: amplitude, phase: phase, xs: tasks.xs)
        let trainXs = numpy.choice(tasks.xs.count, size: options.evaluationPoints).map { tasks.xs[$0] }
        let checkpoints = Set(stride(from: 0, through: options.adaptationSteps, by: max(options.adaptationSteps / 4, 1)))
        let (plotLoss, curves) = adapt(trainer.parameters, to: plotTask, trainXs: trainXs, options: options,
                                       model: model, recordAt: checkpoints)
        // Fresh tasks, 10 random points each.
        var evalRng = RandomGenerator(seed: options.seed, stream: [RandomStream.finalEvaluation.rawValue])
        var total: Float = 0
        for _ in 0..<options.evaluationTasks {
            let task = tasks.sampleTask(using: &evalRng)
            let xs = evalRng.sample(options.evaluationPoints, from: tasks.xs.count).map { tasks.xs[$0] }
            total += adapt(trainer.parameters, to: task, trainXs: xs, options: options, model: model, recordAt: []).loss
        }
        return Result(options: options, iterations: options.iterations, seconds: seconds,
                      lossAfter32Steps: plotLoss, meanLossAfter32Steps: total / Float(max(options.evaluationTasks, 1)),
                      amplitude: plotTask.amplitude, phase: plotTask.phase, xs: tasks.xs, trainXs: trainXs,
                      curves: curves, parameters: trainer.parameters)
    }

    /// Full-batch SGD on `trainXs` from `parameters`; returns the loss on all points afterwards and
    /// the predictions at the requested step counts.
    static func adapt(_ parameters: [Float], to task: SineTask, trainXs: [Float], options: Options,
                      model: Sequential, recordAt: Set<Int>) -> (loss: Float, curves: [Curve]) {
        let trainTask = task.sampled(at: trainXs)
        let inputs = task.xs.map { [$0] }
        var weights = parameters
        var done = 0
        var curves: [Curve] = []
        for step in recordAt.sorted() where step <= options.adaptationSteps {
            weights = model.adapt(weights, to: trainTask, loss: .meanSquaredError, steps: step - done,
                                  optimizer: SGD(learningRate: options.innerStep))
            done = step
            curves.append(Curve(steps: step, predictions: model.predict(weights, inputs: inputs).map { $0[0] }))
        }
        weights = model.adapt(weights, to: trainTask, loss: .meanSquaredError, steps: options.adaptationSteps - done,
                              optimizer: SGD(learningRate: options.innerStep))
        return (model.loss(weights, on: task, loss: .meanSquaredError), curves)
    }

    /// The figure of the listing: predictions after 0…32 steps from blue to red, the true curve in
    /// green, the training points as black crosses.
    public static func figure(_ result: Result) -> LineChart {
        let xs = result.xs.map(Double.init)
        let last = Double(result.curves.last?.steps ?? 1)
        var series = result.curves.map { curve -> Series in
            let f = last > 0 ? Double(curve.steps) / last : 0
            return Series(name: "pred after \(curve.steps)", x: xs, y: curve.predictions.map(Double.init),
                          color: RGB(f, 0, 1 - f), style: .line(width: 2))
        }
        let truth = SineTask(amplitude: result.amplitude, phase: result.phase, xs: result.xs)
        series.append(Series(name: "true", x: xs, y: result.xs.map { Double(truth($0)) }, color: RGB(0, 1, 0), style: .line(width: 2)))
        series.append(Series(name: "train", x: result.trainXs.map(Double.init), y: result.trainXs.map { Double(truth($0)) },
                             color: .black, style: .markers(.cross, size: 10)))
        return LineChart(title: String(format: "Reptile sine-wave regression: loss after %d steps = %.3f",
                                       result.curves.last?.steps ?? 0, result.lossAfter32Steps),
                         xLabel: "x", yLabel: "y", xRange: -5...5, yRange: -4...4,
                         legendPosition: .lowerRight, series: series)
    }
}
