// `reptile bench`: the speed of meta-training in the paper's settings, measured the same way every
// time so that optimizations can be compared (median of several timed runs after a warm-up).

import Foundation
import ReptileData
import ReptileKernels
import ReptileMeta
import ReptileNN

/// One benchmarked setting: a model and the shape of its meta-iterations.
public struct BenchmarkSetting: Sendable, Codable {
    public var name: String
    public var ways: Int
    public var trainShots: Int
    public var innerBatch: Int
    public var innerIterations: Int
    public var metaBatch: Int
    /// Evaluation shots and adaptation steps, for the per-task evaluation timings.
    public var evalShots: Int
    public var evalBatch: Int
    public var evalIterations: Int

    /// The paper's settings and their PyTorch timings on the 2-core reference machine (ms).
    public static let omniglot5 = BenchmarkSetting(name: "omniglot-5way", ways: 5, trainShots: 10, innerBatch: 10, innerIterations: 5,
                                                   metaBatch: 5, evalShots: 1, evalBatch: 5, evalIterations: 50)
    public static let omniglot20 = BenchmarkSetting(name: "omniglot-20way", ways: 20, trainShots: 10, innerBatch: 20, innerIterations: 10,
                                                    metaBatch: 5, evalShots: 1, evalBatch: 10, evalIterations: 50)
    public static let miniImageNet5 = BenchmarkSetting(name: "miniimagenet-5way", ways: 5, trainShots: 15, innerBatch: 10, innerIterations: 8,
                                                       metaBatch: 5, evalShots: 1, evalBatch: 5, evalIterations: 50)
    public static let all = [omniglot5, omniglot20, miniImageNet5]

    public var isMiniImageNet: Bool { name.hasPrefix("miniimagenet") }

    /// The paper's model for this setting, freshly built, computing in `precision`.
    public func model(precision: Precision = .fp32) throws -> Sequential {
        if let reason = precision.unavailableReason { throw ExperimentError(reason) }
        let model = try isMiniImageNet ? Models.miniImageNet(classes: ways) : Models.omniglot(classes: ways)
        model.precision = precision
        return model
    }
}

/// What `reptile bench` measured for one setting.
public struct BenchmarkResult: Sendable, Codable {
    public var setting: String
    /// Median milliseconds per meta-iteration, and every timed run's figure.
    public var msPerMetaIteration: Double
    public var runsMs: [Double]
    public var flopsPerMetaIteration: Double
    public var gflops: Double
    /// Achieved GFLOP/s over the peak estimate of the threads used. The FLOPs are a direct
    /// convolution's without the padding's zeros, so settings with Winograd layers (Mini-ImageNet)
    /// can pass 1.
    public var fractionOfPeak: Double
    public var threads: Int
    /// Milliseconds of one evaluation task (adaptation + prediction), each mode.
    public var evalTaskMs: Double?
    public var evalTaskTransductiveMs: Double?
    /// PyTorch's figure for the same setting (``PyTorchBaseline``), for the ratio.
    public var pytorchMs: Double?
    /// Per-stage times of one inner step on one thread (`reptile bench --layers`).
    public var layers: [StageTiming]?
    /// The convolution algorithms compared on the layers with a choice (`reptile bench --algorithms`).
    public var algorithms: [ConvolutionAlgorithmTiming]?
    /// Timed meta-iterations during which other threads (another process's) competed for the cores
    /// (``MetaTrainer/coresContended``): their times are not the machine's own.
    public var contendedIterations = 0

    enum CodingKeys: String, CodingKey {
        case setting, threads, gflops, layers, algorithms
        case msPerMetaIteration = "ms_per_meta_iteration"
        case runsMs = "runs_ms"
        case flopsPerMetaIteration = "flops_per_meta_iteration"
        case fractionOfPeak = "fraction_of_peak"
        case evalTaskMs = "eval_task_ms"
        case evalTaskTransductiveMs = "eval_task_transductive_ms"
        case pytorchMs = "pytorch_ms"
        case contendedIterations = "contended_iterations"
    }
}

/// One convolution timed with both algorithms (`reptile bench --algorithms`): the best times of
/// the forward pass, the input gradient and the weight gradient, in milliseconds.
public struct ConvolutionAlgorithmTiming: Sendable, Codable, Equatable {
    /// The layer's name (`conv1`).
    public var name: String
    /// Examples per call (one shard of an inner batch).
    public var batch: Int
    /// Multiply-adds of the direct forward pass for the batch.
    public var multiplyAdds: Int
    public var directMs: [Double]
    public var winogradMs: [Double]

    enum CodingKeys: String, CodingKey {
        case name, batch
        case multiplyAdds = "multiply_adds"
        case directMs = "direct_ms"
        case winogradMs = "winograd_ms"
    }
}

/// The whole report of `reptile bench`.
public struct BenchmarkReport: Sendable, Codable {
    public var results: [BenchmarkResult]
    /// Peak estimate of one core (GFLOP/s) from ``PeakThroughput``.
    public var peakGflopsPerCore: Double
    public var cores: Int
    /// Peak resident memory of the process at the end (MB).
    public var peakRSSMegabytes: Double
    public var cpu: String
    /// Where the `pytorch_ms` figures come from (``PyTorchBaseline/source``).
    public var pytorchSource: String?
    /// The kernels that ran (``KernelPath``): instruction set and precision.
    public var kernelPath = KernelPath.instructions
    public var precision: Precision
    /// Peak estimate of one core's bf16 dot products (GFLOP/s, two per multiply-add), where the
    /// CPU has them.
    public var peakBF16GflopsPerCore: Double?

    public init(results: [BenchmarkResult], peakGflopsPerCore: Double, cores: Int, peakRSSMegabytes: Double, cpu: String,
                pytorchSource: String? = nil, precision: Precision = .fp32, peakBF16GflopsPerCore: Double? = nil) {
        self.results = results
        self.precision = precision
        self.peakBF16GflopsPerCore = peakBF16GflopsPerCore
        self.pytorchSource = pytorchSource
        self.peakGflopsPerCore = peakGflopsPerCore
        self.cores = cores
        self.peakRSSMegabytes = peakRSSMegabytes
        self.cpu = cpu
    }

    enum CodingKeys: String, CodingKey {
        case results, cores, cpu, precision
        case kernelPath = "kernel_path"
        case peakGflopsPerCore = "peak_gflops_per_core"
        case peakBF16GflopsPerCore = "peak_bf16_gflops_per_core"
        case peakRSSMegabytes = "peak_rss_mb"
        case pytorchSource = "pytorch_source"
    }
}

/// PyTorch's milliseconds per meta-iteration, for `reptile bench`'s speed-up column: the issue's
/// figures from the project's 2-core reference machine, or a file written on this machine by
/// `scripts/pytorch_baseline.py --json` (the same models and settings), so that the ratio compares
/// two programs on one CPU.
public struct PyTorchBaseline: Sendable, Equatable {
    /// Milliseconds per meta-iteration by setting name (`omniglot-5way`, …, `sine`).
    public var msPerMetaIteration: [String: Double]
    /// Where the figures come from, for the report.
    public var source: String

    /// PyTorch 2.15 (CPU, eager, 2 threads) on the project's 2-core reference machine.
    public static let referenceMachine = PyTorchBaseline(
        msPerMetaIteration: ["omniglot-5way": 297, "omniglot-20way": 700, "miniimagenet-5way": 1783, "sine": 3.2],
        source: "PyTorch 2.15 on the project's 2-core reference machine")

    public init(msPerMetaIteration: [String: Double], source: String) {
        self.msPerMetaIteration = msPerMetaIteration
        self.source = source
    }

    /// Reads the JSON object that `scripts/pytorch_baseline.py --json` prints:
    /// `{"torch": "2.15.0", "threads": 2, "results": [{"setting": …, "ms_per_meta_iteration": …}, …]}`.
    public init(contentsOf url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw BaselineError("cannot read the PyTorch baseline \(url.path): \(error.localizedDescription)")
        }
        struct File: Decodable {
            struct Result: Decodable {
                var setting: String
                var msPerMetaIteration: Double
                enum CodingKeys: String, CodingKey { case setting, msPerMetaIteration = "ms_per_meta_iteration" }
            }
            var torch: String?
            var threads: Int?
            var results: [Result]
        }
        let file: File
        do { file = try JSONDecoder().decode(File.self, from: data) } catch {
            throw BaselineError("\(url.path) is not the JSON of scripts/pytorch_baseline.py --json (\(error))")
        }
        var ms: [String: Double] = [:]
        for result in file.results {
            guard result.msPerMetaIteration.isFinite, result.msPerMetaIteration > 0 else {
                throw BaselineError("\(url.path): \(result.setting) has a time of \(result.msPerMetaIteration) ms; expected a positive number")
            }
            ms[result.setting] = result.msPerMetaIteration
        }
        guard !ms.isEmpty else { throw BaselineError("\(url.path) holds no results") }
        let version = file.torch.map { "PyTorch \($0)" } ?? "PyTorch"
        let threads = file.threads.map { ", \($0) threads" } ?? ""
        self.init(msPerMetaIteration: ms, source: "\(version)\(threads) on this machine (\(url.lastPathComponent))")
    }

    public struct BaselineError: Error, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }
}

public enum Benchmark {
    /// Floating-point operations of one meta-iteration: per example and inner step, the forward
    /// pass (2 flops per multiply-add), the weight gradients (the same) and the input gradients of
    /// every layer but the first (the same again).
    public static func flopsPerMetaIteration(model: Sequential, setting: BenchmarkSetting) -> Double {
        let forward = Double(model.forwardMultiplyAdds)
        let first = Double(model.layers.first?.forwardMultiplyAdds ?? 0)
        let perExample = 2 * (3 * forward - first)
        return perExample * Double(setting.innerBatch * setting.innerIterations * setting.metaBatch)
    }

    /// Peak resident set size of this process in MB.
    public static func peakRSSMegabytes() -> Double {
        var usage = rusage()
        #if os(Linux)
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)  // Glibc imports the constant as an enum
        return Double(usage.ru_maxrss) / 1024  // KB
        #else
        getrusage(RUSAGE_SELF, &usage)
        return Double(usage.ru_maxrss) / 1_048_576  // bytes
        #endif
    }

    /// The CPU's model name (from /proc/cpuinfo on Linux).
    public static func cpuName() -> String {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = info.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
              let name = line.split(separator: ":", maxSplits: 1).last else { return "unknown" }
        return name.trimmingCharacters(in: .whitespaces)
    }

    /// The CPU's name, its microarchitecture where /proc/cpuinfo tells it (virtual machines often
    /// hide the marketing name), and the core count: "Intel(R) Xeon(R) Processor (Emerald Rapids), 2 cores".
    public static func machineName() -> String {
        var name = cpuName()
        if let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) {
            func field(_ key: String) -> Int? {
                for line in info.split(separator: "\n") {
                    let parts = line.split(separator: ":", maxSplits: 1)
                    guard parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == key else { continue }
                    return Int(parts[1].trimmingCharacters(in: .whitespaces))
                }
                return nil
            }
            let known: [String: String] = ["6/143": "Sapphire Rapids", "6/207": "Emerald Rapids", "6/173": "Granite Rapids",
                                           "6/106": "Ice Lake", "6/85": "Skylake/Cascade Lake", "25/17": "Zen 4",
                                           "25/160": "Zen 4c", "25/97": "Zen 4", "26/2": "Zen 5", "26/17": "Zen 5"]
            if let family = field("cpu family"), let model = field("model"), let arch = known["\(family)/\(model)"],
               !name.contains(arch) {
                name += " (\(arch))"
            }
        }
        return "\(name), \(ProcessInfo.processInfo.activeProcessorCount) cores"
    }

    /// Synthetic photos of Mini-ImageNet's shape (84×84 RGB) for timing: the data set is not shipped,
    /// and the time of a meta-iteration does not depend on the pixels.
    static func syntheticPhotos(classes: Int, imagesPerClass: Int) -> ImageSet {
        var rng = RandomGenerator(seed: 7, stream: [0])
        let count = classes * imagesPerClass * 84 * 84 * 3
        let pixels = (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        return ImageSet(height: 84, width: 84, channels: 3, classNames: (0..<classes).map { "class\($0)" },
                        imagesPerClass: [Int](repeating: imagesPerClass, count: classes), pixels: pixels, divisor: 255)
    }

    /// Times `setting`: `warmup` meta-iterations, then `runs` timed runs of `iterations` each.
    /// `peakPerCore` is the machine's multiply-add peak per core in FLOP/s, measured when not given.
    public static func run(_ setting: BenchmarkSetting, omniglot: FewShotSplits?, threads: Int?, runs: Int, iterations: Int,
                           warmup: Int = 3, evalTasks: Int = 10, peakPerCore: Double? = nil,
                           baseline: PyTorchBaseline = .referenceMachine, precision: Precision = .fp32) throws -> BenchmarkResult {
        let model = try setting.model(precision: precision)
        let dataset: FewShotDataset
        if setting.isMiniImageNet {
            let images = syntheticPhotos(classes: 64, imagesPerClass: 20)
            dataset = FewShotDataset(images: images, classes: (0..<64).map { FewShotClass(index: $0) })
        } else {
            guard let omniglot else { throw ExperimentError("the Omniglot settings need the Omniglot data") }
            dataset = omniglot.train
        }
        let config = MetaTrainingConfiguration(
            inner: InnerLoopConfiguration(batchSize: setting.innerBatch, iterations: setting.innerIterations),
            metaBatchSize: setting.metaBatch, metaStepSize: 1, metaStepSizeFinal: 0,
            metaIterations: 1_000_000, seed: 0)
        let trainer = MetaTrainer(model: model, loss: .summedSoftmaxCrossEntropy,
                                  tasks: FewShotTasks(dataset, ways: setting.ways, shots: setting.trainShots),
                                  innerOptimizer: Adam(parameterCount: model.parameterCount, learningRate: 0.001, beta1: 0),
                                  configuration: config, threads: threads)
        let (median, times, contended) = timeSteps(trainer, warmup: warmup, runs: runs, iterations: iterations)
        let flops = flopsPerMetaIteration(model: model, setting: setting)
        let gflops = flops / (median / 1000) / 1e9

        // One evaluation task at a time (as ParallelEvaluation runs each on one thread).
        func evalMs(transductive: Bool) -> Double {
            let evaluation = FewShotEvaluation(ways: setting.ways, shots: setting.evalShots, batchSize: setting.evalBatch,
                                               iterations: setting.evalIterations, transductive: transductive)
            let learner = Learner(model: model, loss: .summedSoftmaxCrossEntropy, maxBatch: evaluation.maxBatch)
            let weights = FloatBuffer(count: model.parameterCount)
            var rng = RandomGenerator(seed: 0, stream: [RandomStream.finalEvaluation.rawValue])
            return trainer.parameters.withUnsafeBufferPointer { p in
                _ = evaluation.evaluateTask(dataset, parameters: p.baseAddress!, optimizer: trainer.innerOptimizer,
                                            learner: learner, weights: weights.pointer, using: &rng)
                let t0 = DispatchTime.now().uptimeNanoseconds
                for _ in 0..<evalTasks {
                    _ = evaluation.evaluateTask(dataset, parameters: p.baseAddress!, optimizer: trainer.innerOptimizer,
                                                learner: learner, weights: weights.pointer, using: &rng)
                }
                return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6 / Double(evalTasks)
            }
        }
        let (plain, transductive) = evalTasks > 0 ? (evalMs(transductive: false), evalMs(transductive: true)) : (nil, nil)
        return BenchmarkResult(setting: setting.name, msPerMetaIteration: median, runsMs: times, flopsPerMetaIteration: flops,
                               gflops: gflops, fractionOfPeak: gflops * 1e9 / ((peakPerCore ?? PeakThroughput.measurePerCore()) * Double(trainer.threadCount)),
                               threads: trainer.threadCount, evalTaskMs: plain, evalTaskTransductiveMs: transductive,
                               pytorchMs: baseline.msPerMetaIteration[setting.name], contendedIterations: contended)
    }

    /// Times every stage of the setting's model on one thread: `repetitions` forward and backward
    /// passes of one inner batch (random pixels in [0, 1), freshly initialized weights), the best
    /// time of each stage. Kernel changes show here with less noise than in whole meta-iterations.
    public static func profileLayers(_ setting: BenchmarkSetting, repetitions: Int, precision: Precision = .fp32) throws -> [StageTiming] {
        let model = try setting.model(precision: precision)
        var rng = RandomGenerator(seed: 0)
        let parameters = model.initialParameters(using: &rng)
        let input = FloatBuffer(count: setting.innerBatch * model.inputCount)
        for i in 0..<input.count { input.pointer[i] = rng.nextFloat() }
        return parameters.withUnsafeBufferPointer { p in
            model.profileStages(parameters: p.baseAddress!, input: input.pointer, batch: setting.innerBatch,
                                repetitions: repetitions)
        }
    }

    /// Times, on one thread, each convolution of the setting's model that can run either way
    /// (Winograd's F(4×4, 3×3) or the direct kernels: ``Winograd/applies(to:)``) both ways, for
    /// the examples of one shard of an inner batch: `rounds` rounds that alternate the two
    /// algorithms call by call, so that both see the same moments of a noisy machine, and the
    /// best time of each pass.
    public static func compareConvolutionAlgorithms(_ setting: BenchmarkSetting, rounds: Int) throws -> [ConvolutionAlgorithmTiming] {
        let model = try setting.model()
        let shards = model.shardCount(batch: setting.innerBatch)
        let batch = (setting.innerBatch + shards - 1) / shards
        let scratch = KernelScratch()
        var rng = RandomGenerator(seed: 2)
        var timings: [ConvolutionAlgorithmTiming] = []
        let convolutions = model.layers.compactMap { $0 as? Conv2d }
        for (index, conv) in convolutions.enumerated() {
            guard let g = conv.geometry, Winograd.applies(to: g) else { continue }
            func random(_ count: Int) -> FloatBuffer {
                let buffer = FloatBuffer(count: count)
                for i in 0..<count { buffer.pointer[i] = rng.uniform(-1, 1) }
                return buffer
            }
            let x = random(batch * g.inputSize), w = random(g.weightCount), bias = random(g.outputChannels)
            let dy = random(batch * g.outputSize)
            let y = FloatBuffer(count: batch * g.outputSize), dx = FloatBuffer(count: batch * g.inputSize)
            let dw = FloatBuffer(count: g.weightCount), sums = FloatBuffer(count: g.outputChannels)
            let saved = FloatBuffer(count: g.savedScratchCount(batch: batch))
            let algorithms: [Convolution.Algorithm] = [.direct, .automatic]
            var best = [[Double]](repeating: [.infinity, .infinity, .infinity], count: 2)
            func time(_ body: () -> Void) -> Double {
                let t0 = DispatchTime.now().uptimeNanoseconds
                body()
                return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
            }
            for _ in 0..<rounds {
                for (a, algorithm) in algorithms.enumerated() {
                    best[a][0] = min(best[a][0], time {
                        Convolution.forward(g, batch: batch, input: x.pointer, weights: w.pointer, bias: bias.pointer,
                                            output: y.pointer, saved: saved.pointer, scratch: scratch,
                                            outputColumnSums: sums.pointer, algorithm: algorithm)
                    })
                    best[a][1] = min(best[a][1], time {
                        Convolution.backwardInput(g, batch: batch, outputGradient: dy.pointer, weights: w.pointer,
                                                  inputGradient: dx.pointer, scratch: scratch, algorithm: algorithm)
                    })
                    best[a][2] = min(best[a][2], time {
                        Convolution.backwardWeights(g, batch: batch, input: x.pointer, outputGradient: dy.pointer,
                                                    saved: saved.pointer, weightGradient: dw.pointer, biasGradient: nil,
                                                    scratch: scratch, algorithm: algorithm)
                    })
                }
            }
            timings.append(ConvolutionAlgorithmTiming(name: "conv\(index)", batch: batch,
                                                      multiplyAdds: batch * g.multiplyAddsPerImage,
                                                      directMs: best[0], winogradMs: best[1]))
        }
        return timings
    }

    /// Milliseconds per meta-iteration: the median over `runs` timed runs of `iterations` each
    /// (after `warmup` untimed iterations), and every run's figure.
    /// Also counts the timed meta-iterations during which other threads (another process's) competed for the cores
    /// (``MetaTrainer/coresContended``).
    static func timeSteps<T, O>(_ trainer: MetaTrainer<T, O>, warmup: Int, runs: Int,
                                iterations: Int) -> (median: Double, runs: [Double], contended: Int) {
        for _ in 0..<warmup { trainer.step() }
        var times: [Double] = []
        var contended = 0
        for _ in 0..<runs {
            let t0 = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<iterations {
                trainer.step()
                if trainer.coresContended { contended += 1 }
            }
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6 / Double(iterations))
        }
        return (times.sorted()[times.count / 2], times, contended)
    }

    /// Times the sine demo's meta-iterations (serial Reptile, one task of 50 points, 5 SGD steps).
    public static func runSine(runs: Int, iterations: Int, peakPerCore: Double,
                               baseline: PyTorchBaseline = .referenceMachine) throws -> BenchmarkResult {
        let model = try SineExperiment.model(activation: .tanh)
        let tasks = SineTasks()
        let config = MetaTrainingConfiguration(inner: InnerLoopConfiguration(batchSize: 10, iterations: 5),
                                               metaStepSize: 0.1, metaStepSizeFinal: 0, metaIterations: 1_000_000, seed: 0)
        let trainer = MetaTrainer(model: model, loss: .meanSquaredError, tasks: tasks, innerOptimizer: SGD(learningRate: 0.02),
                                  configuration: config, maxBatch: 50)
        let (median, times, _) = timeSteps(trainer, warmup: 100, runs: runs, iterations: iterations)
        let setting = BenchmarkSetting(name: "sine", ways: 1, trainShots: 50, innerBatch: 10, innerIterations: 5, metaBatch: 1,
                                       evalShots: 0, evalBatch: 0, evalIterations: 0)
        let flops = flopsPerMetaIteration(model: model, setting: setting)
        let gflops = flops / (median / 1000) / 1e9
        return BenchmarkResult(setting: "sine", msPerMetaIteration: median, runsMs: times, flopsPerMetaIteration: flops,
                               gflops: gflops, fractionOfPeak: gflops * 1e9 / peakPerCore, threads: 1,
                               evalTaskMs: nil, evalTaskTransductiveMs: nil, pytorchMs: baseline.msPerMetaIteration["sine"])
    }
}
