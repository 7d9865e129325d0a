// The blog's gradient-combination study (SPEC §5): which inner-loop gradients, summed or averaged,
// make a good meta-gradient on Omniglot.

import Foundation
import ReptileData
import ReptileKernels
import ReptileMeta
import ReptileNN
import ReptilePlot

/// Meta-trains Omniglot 5-way with k = 1…4 inner steps and several meta-gradients built from the
/// inner updates g₁…g_k: their sum (Reptile, ε = 0.25), their mean (Reptile, ε = 0.25/k) and the
/// last alone (first-order MAML, ε = 0.25). With k = 1 the three coincide (g₁: joint training),
/// so that setting runs once.
public struct GradientCombinationStudy {
    /// One curve of the figure.
    public struct Combination: Sendable, Codable, Equatable {
        /// Short label, e.g. `g1+g2+g3`, `mean(g1..g3)`, `g3`.
        public var label: String
        public var innerSteps: Int
        public var metaGradient: MetaGradient
        public var metaStep: Float
    }

    /// The blog's shared settings (SPEC §5).
    public struct Settings: Sendable {
        public var metaIterations = 40_000
        public var innerBatch = 25
        public var learningRate: Float = 0.003
        public var seed: UInt64 = 0
        public var evalBatch = 25
        public var evalIterations = 5
        public var ways = 5
        public var shots = 5
        public var maxInnerSteps = 4
        public init() {}
    }

    public let settings: Settings
    public let splits: FewShotSplits

    public init(settings: Settings = Settings(), splits: FewShotSplits) {
        self.settings = settings
        self.splits = splits
    }

    /// The combinations in the order of the figure's legend.
    public var combinations: [Combination] {
        var result = [Combination(label: "g1", innerSteps: 1, metaGradient: .reptile, metaStep: 0.25)]
        for k in 2...max(2, settings.maxInnerSteps) {
            let all = (1...k).map { "g\($0)" }.joined(separator: "+")
            result.append(Combination(label: all, innerSteps: k, metaGradient: .reptile, metaStep: 0.25))
            result.append(Combination(label: "mean(g1..g\(k))", innerSteps: k, metaGradient: .steps(Array(1...k), average: true),
                                      metaStep: 0.25 / Float(k)))
            result.append(Combination(label: "g\(k)", innerSteps: k, metaGradient: .fomaml, metaStep: 0.25))
        }
        return result
    }

    /// Test accuracy of one task after every meta-iteration, for one combination.
    ///
    /// `progress` is called with the iterations done so far.
    public func run(_ combination: Combination, progress: ((Int) -> Void)? = nil) throws -> [Double] {
        let s = settings
        let model = try Models.omniglot(classes: s.ways)
        let config = MetaTrainingConfiguration(
            inner: InnerLoopConfiguration(batchSize: s.innerBatch, iterations: combination.innerSteps),
            metaBatchSize: 1, metaStepSize: combination.metaStep, metaStepSizeFinal: 0,
            metaIterations: s.metaIterations, metaGradient: combination.metaGradient, seed: s.seed)
        let trainer = MetaTrainer(model: model, loss: .softmaxCrossEntropy,
                                  tasks: FewShotTasks(splits.train, ways: s.ways, shots: 5 * combination.innerSteps),
                                  innerOptimizer: SGD(learningRate: s.learningRate), configuration: config, threads: 1)
        let evaluation = FewShotEvaluation(ways: s.ways, shots: s.shots, batchSize: s.evalBatch, iterations: s.evalIterations)
        let learner = Learner(model: model, loss: .softmaxCrossEntropy, maxBatch: evaluation.maxBatch)
        let weights = FloatBuffer(count: model.parameterCount)
        var evalRNG = RandomGenerator(seed: s.seed, stream: [RandomStream.evaluationDuringTraining.rawValue])
        var accuracies: [Double] = []
        accuracies.reserveCapacity(s.metaIterations)
        for i in 0..<s.metaIterations {
            let report = trainer.step()
            guard report.isFinite else {
                throw ExperimentError("\(combination.label): training diverged at meta-iteration \(i + 1)")
            }
            let correct = trainer.parameters.withUnsafeBufferPointer { p in
                evaluation.evaluateTask(splits.test, parameters: p.baseAddress!, optimizer: trainer.innerOptimizer,
                                        learner: learner, weights: weights.pointer, using: &evalRNG)
            }
            accuracies.append(Double(correct) / Double(s.ways))
            if (i + 1) % 100 == 0 { progress?(i + 1) }
        }
        return accuracies
    }

    /// Runs every combination, `threads` at a time (each run is single-threaded and seeded on its
    /// own, so the results do not depend on the thread count). Returns the accuracies in the order
    /// of ``combinations``.
    public func runAll(threads: Int, progress: ((Int, Int) -> Void)? = nil) throws -> [[Double]] {
        let combos = combinations
        let total = combos.count * settings.metaIterations
        let lock = NSLock()
        var done = [Int](repeating: 0, count: combos.count)
        var results = [Result<[Double], Error>?](repeating: nil, count: combos.count)
        var next = 0
        let workers = max(1, min(threads, combos.count))
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while true {
                lock.lock()
                let index = next
                next += 1
                lock.unlock()
                guard index < combos.count else { return }
                let result = Result { try run(combos[index]) { iterations in
                    lock.lock()
                    done[index] = iterations
                    let sum = done.reduce(0, +)
                    lock.unlock()
                    progress?(sum, total)
                } }
                lock.lock()
                results[index] = result
                lock.unlock()
            }
        }
        return try results.map { try $0!.get() }
    }

    /// The CSV: one row per meta-iteration, one column of single-task test accuracy per combination.
    public func csv(_ accuracies: [[Double]]) -> String {
        var text = "meta_iteration," + combinations.map(\.label).joined(separator: ",") + "\n"
        for i in 0..<(accuracies.first?.count ?? 0) {
            text += "\(i + 1)," + accuracies.map { String(format: "%.1f", $0[i]) }.joined(separator: ",") + "\n"
        }
        return text
    }

    /// The figure: test accuracy (moving average over about 2 % of the run) against meta-iteration.
    public func chart(_ accuracies: [[Double]]) -> LineChart {
        let count = accuracies.first?.count ?? 0
        let window = max(1, count / 50)
        let xs = (1...max(count, 1)).map(Double.init).prefix(count)
        let series = zip(combinations, accuracies).enumerated().map { index, pair in
            Series(name: pair.0.label, x: Array(xs), y: movingAverage(pair.1, window: window), color: RGB.palette(index))
        }
        return LineChart(title: "Omniglot 5-way: meta-gradients made of inner steps g1..gk",
                         xLabel: "meta-iteration", yLabel: "test accuracy (moving average of \(window))", yRange: 0...1,
                         size: ChartSize(width: 900, height: 620), legendPosition: .lowerRight, showsGrid: true,
                         referenceLines: [ReferenceLine(y: 1 / Double(settings.ways), label: "chance")], series: series)
    }
}
