// `reptile bench`: time per meta-iteration in the paper's settings, with FLOPs and memory.

import ArgumentParser
import Foundation
import Reptile
import ReptileExperiments
import ReptileFormats
import ReptileKernels
import ReptilePlot

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmark meta-training speed in the paper's settings (Omniglot 5-/20-way, Mini-ImageNet 5-way, sine).",
        discussion: """
        For each setting: a warm-up, then several timed runs; reports the median time per meta-iteration, \
        the floating-point operations per meta-iteration (from the layer shapes), the achieved GFLOP/s and \
        its fraction of this machine's measured multiply-add peak, the threads used, the time of one \
        evaluation task in both modes, and the ratio to PyTorch's time: by default the issue's figures \
        from the project's 2-core reference machine; with --pytorch FILE, figures measured on this \
        machine by `scripts/pytorch_baseline.py --json > FILE` (the same models and settings in \
        PyTorch). Mini-ImageNet is timed on synthetic 84×84 images (the data is not shipped; the time \
        does not depend on the pixels). Ends with the process's peak resident memory.

        The first lines name the kernels that run (the instruction set chosen at start, and the \
        precision) and the measured peaks of one core: fp32 multiply-adds and, where the CPU has \
        AVX512-BF16, bf16 dot products. --precision bf16 times the models with bf16 products (the \
        percentage stays of the fp32 peak); --json carries both peaks, the kernel path and the precision.

        The FLOPs are those of direct convolutions, less the multiply-adds with the zero padding \
        (which add nothing; the direct kernels skip them). Mini-ImageNet's 3×3 layers after the first \
        run Winograd's F(4×4, 3×3), which needs fewer multiply-adds, so its GFLOP/s is an effective \
        rate and can exceed the measured peak.

        With --layers, each few-shot setting is followed by the time of every stage of its model \
        (a convolution, or a batch norm with the ReLU and pooling fused into it) for one inner batch \
        on one thread: the best of 20 forward and backward passes (5 for Mini-ImageNet), with the \
        GFLOP/s of the stages that multiply. These figures move much less with other work on the \
        machine than whole meta-iterations, so they are the ones to compare kernel changes with.

        With --algorithms, each convolution that can run either way (3×3, stride 1, channels in \
        multiples of 16: Mini-ImageNet's layers after the first) is timed with Winograd's F(4×4, 3×3) \
        and with the direct kernels, alternating call by call in one process on one thread (the best \
        of 20 rounds): forward pass, input gradient and weight gradient.
        """
    )

    enum Setting: String, ExpressibleByArgument, CaseIterable {
        case omniglot5 = "omniglot-5way", omniglot20 = "omniglot-20way", miniimagenet5 = "miniimagenet-5way", sine

        /// The few-shot setting benchmarked (nil for the sine demo).
        var paperSetting: BenchmarkSetting? {
            switch self {
            case .omniglot5: return .omniglot5
            case .omniglot20: return .omniglot20
            case .miniimagenet5: return .miniImageNet5
            case .sine: return nil
            }
        }

        /// Meta-iterations per timed run when `--iterations` is not given: about one second of work.
        var defaultIterations: Int {
            switch self {
            case .omniglot5: return 20
            case .omniglot20: return 8
            case .miniimagenet5: return 3
            case .sine: return 3000
            }
        }
    }

    @Option(name: .customLong("setting"), parsing: .upToNextOption,
            help: "Settings to run.")
    var settings: [Setting] = Setting.allCases
    @Option(help: "Timed runs per setting; the median is reported.") var runs = 5
    @Option(help: "Meta-iterations per timed run (default: about one second of work per run).") var iterations: Int?
    @Option(help: "Worker threads (default: one per core).") var threads: Int?
    @Option(name: .customLong("eval-tasks"), help: "Evaluation tasks timed per mode (0 = skip).") var evalTasks = 10
    @Flag(help: "Also time every layer's forward and backward pass on one thread (few-shot settings; not sine).") var layers = false
    @Flag(help: "Also compare Winograd and direct convolutions on the layers that can use either, alternating them.") var algorithms = false
    @Option(help: ArgumentHelp("PyTorch's times on this machine, for the speed-up column: the JSON of scripts/pytorch_baseline.py --json.",
                               valueName: "file"))
    var pytorch: String?
    @Option(help: "Precision of the convolutions' products: fp32, or bf16 (bf16 products with fp32 sums; needs AVX512-BF16).")
    var precision: Precision = .fp32
    @Flag(help: "Print one JSON object on standard output.") var json = false
    @Flag(help: "Under mpirun (a build with the MPI trait): time instead the exchange that ends each meta-iteration when the ranks share a meta-batch (every task's meta-gradient and Adam state to every rank), and an allreduce of the parameters, for meta-batches of 5, 20 and 40 tasks of each setting's model.")
    var exchange = false

    func validate() throws {
        guard runs >= 1 else { throw ValidationError("--runs must be at least 1") }
        if let iterations, iterations < 1 { throw ValidationError("--iterations must be at least 1") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        guard evalTasks >= 0 else { throw ValidationError("--eval-tasks must not be negative") }
    }

    /// A table row: the first column left-aligned in 18 characters, the others right-aligned in 10.
    private func row(_ cells: [String]) -> String {
        cells.enumerated().map { i, cell in
            let width = i == 0 ? 18 : 10
            let pad = String(repeating: " ", count: max(0, width - cell.count))
            return i == 0 ? cell + pad : pad + cell
        }.joined(separator: " ")
    }

    /// The per-layer table of `--layers`, indented under its setting's row.
    private func printStages(_ stages: [StageTiming]) {
        func cells(_ name: String, _ shape: String, _ fwdMs: Double, _ fwdMAdds: Int, _ bwdMs: Double, _ bwdMAdds: Int) -> String {
            func gflops(_ mAdds: Int, _ ms: Double) -> String {
                mAdds > 0 && ms > 0 ? String(format: "%.1f", 2 * Double(mAdds) / ms / 1e6) : "-"
            }
            return "  " + row([name, shape, String(format: "%.3f", fwdMs), gflops(fwdMAdds, fwdMs),
                               String(format: "%.3f", bwdMs), gflops(bwdMAdds, bwdMs)])
        }
        print("  " + row(["layer (1 thread)", "output", "fwd ms", "GFLOP/s", "bwd ms", "GFLOP/s"]))
        for stage in stages {
            print(cells(stage.name, stage.outputShape.map(String.init).joined(separator: "×"), stage.forwardMs,
                        stage.forwardMultiplyAdds, stage.backwardMs, stage.backwardMultiplyAdds))
        }
        print(cells("total", "", stages.reduce(0) { $0 + $1.forwardMs }, stages.reduce(0) { $0 + $1.forwardMultiplyAdds },
                    stages.reduce(0) { $0 + $1.backwardMs }, stages.reduce(0) { $0 + $1.backwardMultiplyAdds }))
    }

    /// The table of `--algorithms`, indented under its setting's row: per layer and pass, the
    /// direct and Winograd times and their ratio.
    private func printAlgorithms(_ timings: [ConvolutionAlgorithmTiming]) {
        if timings.isEmpty {
            print("  (no convolution here can use Winograd's F(4×4, 3×3))")
            return
        }
        print("  " + row(["conv (1 thread)", "pass", "direct ms", "Winograd", "speed-up"]))
        for t in timings {
            for (p, pass) in ["forward", "dx", "dW"].enumerated() {
                print("  " + row([p == 0 ? "\(t.name), batch \(t.batch)" : "", pass, String(format: "%.3f", t.directMs[p]),
                                  String(format: "%.3f", t.winogradMs[p]), String(format: "%.2fx", t.directMs[p] / t.winogradMs[p])]))
            }
        }
    }

    func run() throws {
        if exchange { return try runExchange() }
        let baseline = try pytorch.map { try PyTorchBaseline(contentsOf: URL(fileURLWithPath: $0)) } ?? .referenceMachine
        if let reason = precision.unavailableReason { throw ValidationError(reason) }
        let peak = PeakThroughput.measurePerCore()
        let peakBF16 = Precision.bf16.measuredPeak()
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let needsOmniglot = settings.contains(.omniglot5) || settings.contains(.omniglot20)
        let omniglot: FewShotSplits? = try needsOmniglot ? {
            let images = try Omniglot.loadBuiltIn()
            let (train, test) = try Omniglot.split(images, seed: 0)
            return FewShotSplits(train: train, test: test)
        }() : nil
        if !json {
            print("CPU: \(Benchmark.machineName()); measured multiply-add peak \(String(format: "%.1f", peak / 1e9)) GFLOP/s per core"
                  + (peakBF16.map { String(format: " (bf16 dot products: %.1f)", $0 / 1e9) } ?? ""))
            print("Kernels: \(KernelPath.description(precision: precision))")
            print(row(["setting", "ms/iter", "PyTorch", "speed-up", "GFLOP/s", "% peak", "threads", "eval ms", "eval-T ms"]))
        }
        var results: [BenchmarkResult] = []
        for setting in settings {
            var result: BenchmarkResult
            let iterationsPerRun = iterations ?? setting.defaultIterations
            if let paper = setting.paperSetting {
                // Mini-ImageNet's evaluation tasks take about a second each: at most 3.
                result = try Benchmark.run(paper, omniglot: paper.isMiniImageNet ? nil : omniglot, threads: threads, runs: runs,
                                           iterations: iterationsPerRun, evalTasks: paper.isMiniImageNet ? min(evalTasks, 3) : evalTasks,
                                           peakPerCore: peak, baseline: baseline, precision: precision)
                if layers {
                    result.layers = try Benchmark.profileLayers(paper, repetitions: paper.isMiniImageNet ? 5 : 20, precision: precision)
                }
                if algorithms { result.algorithms = try Benchmark.compareConvolutionAlgorithms(paper, rounds: 20) }
            } else {
                result = try Benchmark.runSine(runs: runs, iterations: iterationsPerRun, peakPerCore: peak, baseline: baseline)
            }
            results.append(result)
            if !json {
                func f(_ x: Double?, _ format: String) -> String { x.map { String(format: format, $0) } ?? "-" }
                print(row([result.setting, f(result.msPerMetaIteration, "%.3f"), f(result.pytorchMs, "%.1f"),
                           f(result.pytorchMs.map { $0 / result.msPerMetaIteration }, "%.1fx"),
                           f(result.gflops, "%.1f"), f(result.fractionOfPeak * 100, "%.0f%%"), String(result.threads),
                           f(result.evalTaskMs, "%.1f"), f(result.evalTaskTransductiveMs, "%.1f")]))
                if result.contendedIterations > 0 {
                    print("  note: other threads competed for the cores in \(result.contendedIterations) of "
                          + "\(runs * iterationsPerRun) timed meta-iterations (idle threads then stopped helping); "
                          + "where that is many, these times are not the machine's own")
                }
                if let stages = result.layers { printStages(stages) }
                if let timings = result.algorithms { printAlgorithms(timings) }
            }
        }
        let report = BenchmarkReport(results: results, peakGflopsPerCore: peak / 1e9, cores: cores,
                                     peakRSSMegabytes: Benchmark.peakRSSMegabytes(), cpu: Benchmark.cpuName(),
                                     pytorchSource: baseline.source, precision: precision,
                                     peakBF16GflopsPerCore: peakBF16.map { $0 / 1e9 })
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            if results.contains(where: { $0.setting.hasPrefix("miniimagenet") }) {
                print("(Mini-ImageNet's GFLOP/s counts direct-convolution FLOPs; its Winograd layers need fewer, so it can pass 100 %.)")
            }
            print("PyTorch column: \(baseline.source)")
            print(String(format: "peak resident memory: %.0f MB", report.peakRSSMegabytes))
        }
    }

    /// `--exchange`: the communication of one meta-iteration, timed on rank 0 (median of 20 after 3 warm-ups).
    private func runExchange() throws {
        guard let group = try MPIProcessGroup.world() else {
            throw ValidationError("--exchange times MPI communication: run it under mpirun (with a reptile built with --traits MPI)")
        }
        defer { group.finalize() }
        struct Row: Codable { var setting: String; var parameters: Int; var metaBatch: Int; var ranks: Int
            var exchangeMegabytes: Double; var exchangeMs: Double; var allreduceMs: Double }
        func median(_ body: () -> Void) -> Double {
            for _ in 0..<3 { group.barrier(); body() }
            var times: [Double] = []
            for _ in 0..<20 {
                group.barrier()
                let start = DispatchTime.now().uptimeNanoseconds
                body()
                times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            }
            return times.sorted()[times.count / 2]
        }
        var rows: [Row] = []
        for setting in settings {
            guard let paper = setting.paperSetting else { continue }
            let parameters = try paper.model().parameterCount
            // What the ranks exchange per task: meta-gradient, the inner Adam's second moment
            // (the paper's β₁ = 0 keeps no first moment) and the loss.
            let stride = 2 * parameters + 1
            var theta = [Float](repeating: 1, count: parameters)
            let allreduce = median { theta.withUnsafeMutableBufferPointer { group.allReduceSum(FloatView($0)) } }
            for metaBatch in [5, 20, 40] {
                var buffer = [Float](repeating: 0, count: metaBatch * stride)
                let counts = (0..<group.size).map { group.block(of: metaBatch, rank: $0).count * stride }
                let ms = median { buffer.withUnsafeMutableBufferPointer { group.allGather(FloatView($0), counts: counts) } }
                rows.append(Row(setting: setting.rawValue, parameters: parameters, metaBatch: metaBatch, ranks: group.size,
                                exchangeMegabytes: Double(buffer.count * 4) / 1e6, exchangeMs: ms, allreduceMs: allreduce))
            }
        }
        guard group.rank == 0 else { return }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            encoder.keyEncodingStrategy = .convertToSnakeCase
            print(String(decoding: try encoder.encode(rows), as: UTF8.self))
        } else {
            print(row(["setting", "params", "meta-batch", "ranks", "MB", "gather ms", "allreduce"]))
            for r in rows {
                print(row([r.setting, String(r.parameters), String(r.metaBatch), String(r.ranks), String(format: "%.1f", r.exchangeMegabytes),
                           String(format: "%.2f", r.exchangeMs), String(format: "%.2f", r.allreduceMs)]))
            }
        }
    }
}
