// `reptile study gradient-combinations`: the blog's study of which inner gradients make a good
// meta-gradient.

import ArgumentParser
import Foundation
import Reptile
import ReptileExperiments
import ReptileFormats
import ReptileKernels
import ReptilePlot

struct Study: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Studies from the Reptile blog.",
        subcommands: [GradientCombinations.self]
    )
}

struct GradientCombinations: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gradient-combinations",
        abstract: "Meta-train Omniglot 5-way with meta-gradients built from inner steps g1…gk (k = 1…4): sums, means and the last alone.",
        discussion: """
        The blog's shared settings: plain SGD, seed 0, inner batch 25, learning rate 0.003, final meta step 0, \
        40 000 meta-iterations, evaluation batch 25 with 5 adaptation steps, one test-task evaluation after \
        every meta-iteration. For k inner steps, tasks have 5k shots per class; Reptile sums g1…gk (ε 0.25) \
        or averages them (ε 0.25/k); first-order MAML uses gk alone (ε 0.25). Writes OUT/accuracy.csv (one \
        column per combination) and OUT/figure.svg. Each curve is checkpointed under \
        OUT/curves/ as it runs; --resume continues a stopped study from there, to the same results.
        """
    )

    @Option(name: .customLong("meta-iters"), help: "Meta-iterations per combination.") var metaIters = 40_000
    @Option(help: ArgumentHelp("Folder for accuracy.csv and figure.svg.", valueName: "dir")) var out = "gradient-combinations"
    @Option(help: "Seed of the split, initialization, tasks and evaluations.") var seed: UInt64 = 0
    @Option(name: .customLong("checkpoint-interval"), parsing: .unconditional, help: "Meta-iterations between each curve's checkpoints.")
    var checkpointInterval = 1_000
    @Flag(help: "Continue the study in --out from its curves' checkpoints.") var resume = false
    @OptionGroup var dataFlags: OmniglotDataFlags

    func validate() throws {
        guard metaIters >= 1 else { throw ValidationError("--meta-iters must be at least 1, got \(metaIters)") }
        guard checkpointInterval >= 1 else { throw ValidationError("--checkpoint-interval must be at least 1, got \(checkpointInterval)") }
    }

    func run() throws {
        let (splits, _) = try loadSplits(.omniglot, data: dataFlags.data, seed: seed, split: dataFlags.split)
        var settings = GradientCombinationStudy.Settings()
        settings.metaIterations = metaIters
        settings.seed = seed
        let study = GradientCombinationStudy(settings: settings, splits: splits)
        let folder = try RunFolder(path: out, create: true)
        defer { withExtendedLifetime(folder) {} }
        let settingsPath = (out as NSString).appendingPathComponent("study.json")
        if resume {
            guard let data = FileManager.default.contents(atPath: settingsPath) else {
                throw ValidationError("--resume: \(out) holds no study (missing study.json)")
            }
            guard let saved = try? JSONDecoder().decode(GradientCombinationStudy.Settings.self, from: data), saved == settings else {
                throw ValidationError("--resume: \(out) holds a study with other settings (see its study.json)")
            }
        } else {
            guard !FileManager.default.fileExists(atPath: settingsPath) else {
                throw ValidationError("\(out) already holds a study: pass --resume to continue it, or choose another --out")
            }
            try writeJSON(settings, to: settingsPath)
        }
        let progress = ProgressLine("gradient combinations", unit: "it")
        let start = Date()
        let accuracies = try study.runAll(threads: dataFlags.threads ?? ProcessInfo.processInfo.activeProcessorCount,
                                          directory: out, checkpointInterval: checkpointInterval) { done, total in
            progress.update(done, of: total)
        }
        let csvPath = (out as NSString).appendingPathComponent("accuracy.csv")
        try AtomicFile.writeString(study.csv(accuracies), to: csvPath)
        let chart = study.chart(accuracies)
        try chart.write(to: (out as NSString).appendingPathComponent("figure.svg"))
        let tail = max(1, metaIters / 10)
        print("mean test accuracy over the last \(tail) meta-iterations:")
        for (combination, values) in zip(study.combinations, accuracies) {
            let mean = values.suffix(tail).reduce(0, +) / Double(min(tail, values.count))
            print("  \(combination.label.padding(toLength: 16, withPad: " ", startingAt: 0)) \(String(format: "%.3f", mean))")
        }
        print(String(format: "%.0f s; wrote %@ and figure.svg", Date().timeIntervalSince(start), csvPath))
    }
}
