// The blog's gradient-combination study: which inner-loop gradients, summed or averaged,
// make a good meta-gradient on Omniglot.

import Foundation
import ReptileCheckpoint
import ReptileData
import ReptileFormats
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

    /// The blog's shared settings.
    public struct Settings: Sendable, Codable, Equatable {
        public var metaIterations = 40_000
        public var innerBatch = 25
        public var learningRate: Float = 0.003
        public var seed: UInt64 = 0
        public var evalBatch = 25
        public var evalIterations = 5
        public var ways = 5
        public var shots = 5
        public var maxInnerSteps = 4
        /// The reference's summed loss: with plain SGD, the mean's steps would be 25 times smaller.
        public var lossReduction = LossReduction.sum
        public init() {}

        var loss: Loss { lossReduction == .sum ? .summedSoftmaxCrossEntropy : .softmaxCrossEntropy }
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
    /// With a `folder`, the curve's weights and accuracies are saved there every
    /// `checkpointInterval` meta-iterations, and a run finds them there to continue from (the same
    /// results as without a stop: SGD has no state, and each evaluation has its own random stream).
    /// `progress` is called with the iterations done so far; `until` stops early (after a
    /// checkpoint), as if the process had been stopped there.
    public func run(_ combination: Combination, folder: String? = nil, checkpointInterval: Int = 1_000,
                    until: Int? = nil, progress: ((Int) -> Void)? = nil) throws -> [Double] {
        let s = settings
        let model = try Models.omniglot(classes: s.ways)
        let config = MetaTrainingConfiguration(
            inner: InnerLoopConfiguration(batchSize: s.innerBatch, iterations: combination.innerSteps),
            metaBatchSize: 1, metaStepSize: combination.metaStep, metaStepSizeFinal: 0,
            metaIterations: s.metaIterations, metaGradient: combination.metaGradient, seed: s.seed)
        let trainer = MetaTrainer(model: model, loss: s.loss,
                                  tasks: FewShotTasks(splits.train, ways: s.ways, shots: 5 * combination.innerSteps),
                                  innerOptimizer: SGD(learningRate: s.learningRate), configuration: config, threads: 1)
        let evaluation = FewShotEvaluation(ways: s.ways, shots: s.shots, batchSize: s.evalBatch, iterations: s.evalIterations)
        let learner = Learner(model: model, loss: s.loss, maxBatch: evaluation.maxBatch)
        let weights = FloatBuffer(count: model.parameterCount)
        var accuracies: [Double] = []
        accuracies.reserveCapacity(s.metaIterations)
        if let folder, Checkpoint.exists(in: folder) {
            let checkpoint = try Checkpoint.read(from: folder, layout: model.layout)
            guard checkpoint.metadata["label"] == combination.label,
                  let position = checkpoint.metadata["iteration"].flatMap(Int.init), (0...s.metaIterations).contains(position) else {
                throw ExperimentError("\(folder): not a checkpoint of \(combination.label) at a meta-iteration of this study")
            }
            let saved = try String(contentsOfFile: (folder as NSString).appendingPathComponent(Self.accuracyFile), encoding: .utf8)
                .split(separator: "\n").compactMap { Double($0) }
            guard saved.count >= position else {
                throw ExperimentError("\(folder): \(Self.accuracyFile) holds \(saved.count) accuracies, the model is at meta-iteration \(position)")
            }
            accuracies = Array(saved.prefix(position))
            trainer.parameters = checkpoint.parameters
            trainer.iteration = position
            progress?(position)
        }
        func save() throws {
            guard let folder else { return }
            try RunFolder.makeDirectories(folder)
            // Accuracies first: the model's iteration says how many of them count.
            try AtomicFile.writeString(accuracies.map { String(format: "%.1f", $0) }.joined(separator: "\n") + "\n",
                                       to: (folder as NSString).appendingPathComponent(Self.accuracyFile))
            try Checkpoint(layout: model.layout, parameters: trainer.parameters,
                           metadata: ["label": combination.label, "iteration": "\(trainer.iteration)"]).write(to: folder)
        }
        for i in trainer.iteration..<s.metaIterations {
            let report = trainer.step()
            guard report.isFinite else {
                throw ExperimentError("\(combination.label): training diverged at meta-iteration \(i + 1)")
            }
            var evalRNG = RandomGenerator(seed: s.seed, stream: [RandomStream.evaluationDuringTraining.rawValue, UInt64(i)])
            let correct = trainer.parameters.withUnsafeBufferPointer { p in
                evaluation.evaluateTask(splits.test, parameters: p.baseAddress!, optimizer: trainer.innerOptimizer,
                                        learner: learner, weights: weights.pointer, using: &evalRNG)
            }
            accuracies.append(Double(correct) / Double(s.ways))
            if (i + 1) % 100 == 0 { progress?(i + 1) }
            if (i + 1) % checkpointInterval == 0 || i + 1 == s.metaIterations || i + 1 == until { try save() }
            if i + 1 == until { break }
        }
        return accuracies
    }

    /// Each curve's folder keeps its accuracies so far, one per line.
    static let accuracyFile = "accuracy.txt"

    /// The folder of combination `index` under a study's output folder.
    public func curveFolder(_ index: Int, in directory: String) -> String {
        let name = combinations[index].label.map { $0.isLetter || $0.isNumber ? $0 : "_" }
        return (directory as NSString).appendingPathComponent("curves/\(index)-\(String(name))")
    }

    /// Runs every combination, `threads` at a time (each run is single-threaded and seeded on its
    /// own, so the results do not depend on the thread count). Returns the accuracies in the order
    /// of ``combinations``.
    /// With a `directory`, each curve is checkpointed in its ``curveFolder(_:in:)`` and continues
    /// from there.
    public func runAll(threads: Int, directory: String? = nil, checkpointInterval: Int = 1_000,
                       progress: ((Int, Int) -> Void)? = nil) throws -> [[Double]] {
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
                let folder = directory.map { curveFolder(index, in: $0) }
                let result = Result { try run(combos[index], folder: folder, checkpointInterval: checkpointInterval) { iterations in
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

    /// The figure: test accuracy (moving average over about 2 % of the run, drawn at about 1 000
    /// meta-iterations) against meta-iteration.
    public func chart(_ accuracies: [[Double]]) -> LineChart {
        let count = accuracies.first?.count ?? 0
        let window = max(1, count / 50)
        let series = zip(combinations, accuracies).enumerated().map { index, pair in
            let curve = smoothedSamples(pair.1, window: window, maxPoints: 1_000)
            return Series(name: pair.0.label, x: curve.indices.map { Double($0 + 1) }, y: curve.values, color: RGB.palette(index))
        }
        return LineChart(title: "Omniglot 5-way: meta-gradients made of inner steps g1..gk",
                         xLabel: "meta-iteration", yLabel: "test accuracy (moving average of \(window))", yRange: 0...1,
                         size: ChartSize(width: 900, height: 620), legendPosition: .lowerRight, showsGrid: true,
                         referenceLines: [ReferenceLine(y: 1 / Double(settings.ways), label: "chance")], series: series)
    }
}
