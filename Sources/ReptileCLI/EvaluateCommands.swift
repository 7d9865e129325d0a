// `reptile evaluate omniglot | miniimagenet | folder | omniglot-runs`: few-shot evaluation of a
// checkpoint or a shipped model, and Lake et al.'s one-shot runs.

import ArgumentParser
import Foundation
import Reptile
import ReptileExperiments
import ReptileFormats
import ReptileKernels
import ReptilePlot

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a meta-trained checkpoint on a few-shot benchmark (the reference's --pretrained).",
        subcommands: [EvaluateOmniglot.self, EvaluateMiniImageNet.self, EvaluateFolder.self, EvaluateOmniglotRuns.self])
}

/// The shared body of `train omniglot` and `train miniimagenet`.
struct EvaluationFlags: ParsableArguments {
    @Option(help: ArgumentHelp("Checkpoint folder written by `reptile train`.", valueName: "dir")) var checkpoint: String?
    @Option(help: ArgumentHelp("A shipped model, by name: \(BuiltInModel.catalogue.map(\.name).joined(separator: ", ")). Its flags (classes, shots, evaluation settings) are the defaults; the other flags here override them. (default without --checkpoint: \(BuiltInModel.defaultName))", valueName: "name"))
    var model: String?
    @Option(help: ArgumentHelp("Also write the JSON result to this file (atomically).", valueName: "file")) var output: String?
    @Option(parsing: .unconditional, help: "Support examples per class (default: the checkpoint's --shots).") var shots: Int?
    @Option(parsing: .unconditional, help: "Classes per task (must match the model).") var classes: Int?
    @Option(name: .customLong("eval-batch"), parsing: .unconditional, help: "Adaptation mini-batch size (default: the checkpoint's).") var evalBatch: Int?
    @Option(name: .customLong("eval-iters"), parsing: .unconditional, help: "Adaptation steps (default: the checkpoint's).") var evalIters: Int?
    @Option(name: .customLong("eval-samples"), parsing: .unconditional, help: "Tasks per split (default: the checkpoint's, 10000 in the paper).") var evalSamples: Int?
    @Flag(help: "Transductive evaluation: all queries in one batch.") var transductive = false
    @Flag(help: "Draw adaptation mini-batches with replacement.") var replacement = false
    @Option(parsing: .unconditional, help: "Seed of the sampled evaluation tasks (default: the checkpoint's). The characters are always split as in the model's training.") var seed: UInt64?
    @Option(help: "Precision of the convolutions' products: fp32, or bf16 (bf16 products with fp32 sums; needs AVX512-BF16). (default: the model's training precision)")
    var precision: Precision?
    @Flag(help: "Print one JSON object with the results on standard output.") var json = false
}

struct EvaluateRunner {
    var benchmark: FewShotBenchmark
    var flags: EvaluationFlags
    var dataFlags: any DataFlags

    func run() throws {
        // Under `mpirun`/`srun` the ranks split the tasks; rank 0 alone prints and writes.
        try runOnRanks { try run(group: $0) }
    }

    private func run(group: MPIProcessGroup?) throws {
        // A rank whose setup failed must not leave the others waiting in the first exchange.
        let prepared: (loaded: LoadedModel, directory: String, splits: FewShotSplits, evaluation: FewShotEvaluation, seed: UInt64)
        do {
            prepared = try prepare()
            try group?.agree(nil)
        } catch let error as ProcessGroupError {
            throw error
        } catch {
            try group?.agree(error)
            throw error
        }
        let (loaded, directory, splits, evaluation, seed) = prepared
        let tasks = flags.evalSamples ?? loaded.record.options.evalSamples
        let progress = ProgressLine("evaluated tasks", unit: "tasks")
        var lastPhase = ""
        if let group { printError("\(tasks) tasks per split shared by \(group.size) MPI ranks") }
        let result = try loaded.evaluate(evaluation, splits: splits, tasks: tasks, seed: seed,
                                         threads: dataFlags.threads ?? threadsPerRank(group), group: group) { phase, done, total in
            if phase != lastPhase { lastPhase = phase; printError("evaluating \(phase) …") }
            progress.update(done, of: total, restartable: true)
        }
        if outputIsQuiet { return }
        if let output = flags.output { try writeJSON(result, to: output) }
        if flags.json {
            try printJSON(result)
        } else {
            print("Evaluated \(directory) (\(result.metaIterations) meta-iterations), \(evaluation.ways)-way \(evaluation.shots)-shot, \(tasks) tasks per split, \(evaluation.transductive ? "transductive" : "non-transductive")"
                  + (loaded.model.precision == .fp32 ? "" : ", \(loaded.model.precision) products"))
            print(String(format: "Train accuracy: %.4f ± %.4f", result.trainAccuracy, result.trainCI95))
            if let val = result.valAccuracy { print(String(format: "Val accuracy: %.4f ± %.4f", val, result.valCI95 ?? 0)) }
            print(String(format: "Test accuracy: %.4f ± %.4f", result.testAccuracy, result.testCI95))
        }
    }

    /// The model, the data and the evaluation settings, from the flags and the model's record.
    private func prepare() throws -> (loaded: LoadedModel, directory: String, splits: FewShotSplits, evaluation: FewShotEvaluation, seed: UInt64) {
        let directory: String
        switch (flags.checkpoint, flags.model) {
        case (_?, _?):
            throw ValidationError("--checkpoint and --model name two models: give one")
        case (let checkpoint?, nil):
            directory = checkpoint
        case (nil, let name?):
            guard benchmark == .omniglot else { throw ValidationError("--model: no shipped \(benchmark.rawValue) models; pass --checkpoint DIR") }
            directory = try BuiltInModel.require(name)
        case (nil, nil):
            guard benchmark == .omniglot else { throw ValidationError("--checkpoint DIR is required (no shipped \(benchmark.rawValue) model)") }
            directory = try BuiltInModel.require(BuiltInModel.defaultName)
        }
        let loaded = try LoadedModel.load(from: directory, expecting: benchmark, precision: flags.precision)
        printError("model: \(flags.checkpoint == nil ? "the built-in \(flags.model ?? BuiltInModel.defaultName), " : "")\(directory) (\(loaded.record.options.classes)-way, meta-iteration \(loaded.record.iteration))")
        let o = loaded.record.options
        let seed = flags.seed ?? o.seed
        // The split is always the model's: another one would put its training characters among the test ones.
        if let split = dataFlags.split, split != (o.split ?? .random) {
            throw ValidationError("--split \(split.rawValue): the model was meta-trained on the \((o.split ?? .random).rawValue) split, and another split would test it on characters it trained on")
        }
        let splits: FewShotSplits
        if let folder = dataFlags as? FolderDataFlags {
            // The model's geometry and split: other values would not fit it or would test on its training classes.
            var recorded = o
            for (flag, given, own) in [("--image-size", folder.imageSize, o.imageSize), ("--channels", folder.channels, o.channels)]
            where given != nil && given != own {
                throw ValidationError("\(flag) \(given!): the model was meta-trained with \(flag) \(own.map(String.init) ?? "?")")
            }
            if let config = folder.modelConfig, let own = o.folderNetwork, config != own {
                throw ValidationError("--model-config \(config.rawValue): the model is the \(own.rawValue) network")
            }
            if let fractions = try folder.fractions(), fractions != (o.splitFractions ?? fractions) {
                throw ValidationError("--split-fractions: the model was meta-trained on another split of the classes, and another split would test it on classes it trained on")
            }
            (splits, _) = try loadFolder(data: dataFlags.data, options: &recorded, evaluationShots: flags.shots ?? o.shots)
        } else {
            (splits, _) = try loadSplits(benchmark, data: dataFlags.data, seed: o.seed, split: o.split)
        }
        let evaluation = FewShotEvaluation(ways: flags.classes ?? o.classes, shots: flags.shots ?? o.shots,
                                           batchSize: flags.evalBatch ?? o.evalBatch, iterations: flags.evalIters ?? o.evalIters,
                                           replacement: flags.replacement || o.replacement,
                                           transductive: flags.transductive, weightDecay: o.weightDecay)
        return (loaded, directory, splits, evaluation, seed)
    }
}

struct EvaluateOmniglot: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "omniglot", abstract: "Evaluate an Omniglot checkpoint (default: the built-in 5-way 1-shot model).")
    @OptionGroup var flags: EvaluationFlags
    @OptionGroup var dataFlags: OmniglotDataFlags
    func run() throws { try EvaluateRunner(benchmark: .omniglot, flags: flags, dataFlags: dataFlags).run() }
}

struct EvaluateMiniImageNet: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "miniimagenet", abstract: "Evaluate a Mini-ImageNet checkpoint (--data DIR required).")
    @OptionGroup var flags: EvaluationFlags
    @OptionGroup var dataFlags: MiniImageNetDataFlags
    func run() throws { try EvaluateRunner(benchmark: .miniimagenet, flags: flags, dataFlags: dataFlags).run() }
}

struct EvaluateFolder: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "folder", abstract: "Evaluate a checkpoint of `reptile train folder` on its folder (--checkpoint and --data required).")
    @OptionGroup var flags: EvaluationFlags
    @OptionGroup var dataFlags: FolderDataFlags
    func run() throws { try EvaluateRunner(benchmark: .folder, flags: flags, dataFlags: dataFlags).run() }
}

struct EvaluateOmniglotRuns: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "omniglot-runs",
        abstract: "Lake et al.'s 20 one-shot runs (20-way, within alphabets): error rates beside people's and BPL's.",
        discussion: """
        The runs ship with the built-in data (all_runs.zip from github.com/brendenlake/omniglot, \
        python/one-shot-classification); --data reads another copy, a zip or the folder it unzips to. The model adapts to each run's 20 \
        training drawings with its evaluation settings and classifies the 20 test drawings, one at a time \
        with the training drawings (non-transductive) and all together (transductive). For a fair comparison \
        with people the model must not have seen the runs' alphabets: the default model was meta-trained \
        with --split alphabets.
        """)
    @Option(help: ArgumentHelp("The runs: a folder or zip of runNN/ folders. (default: the built-in all_runs.zip)", valueName: "path")) var data: String?
    @Option(help: ArgumentHelp("Checkpoint folder written by `reptile train omniglot`.", valueName: "dir")) var checkpoint: String?
    @Option(help: ArgumentHelp("A shipped model by name. (default: omniglot-alphabets-20way-1shot)", valueName: "name")) var model: String?
    @Option(parsing: .unconditional, help: "Seed of the adaptation's mini-batches.") var seed: UInt64 = 0
    @Flag(help: "Print one JSON object with the results on standard output.") var json = false

    func run() throws {
        if checkpoint != nil && model != nil { throw ValidationError("--checkpoint and --model name two models: give one") }
        let directory = try checkpoint ?? BuiltInModel.require(model ?? "omniglot-alphabets-20way-1shot")
        let loaded = try LoadedModel.load(from: directory, expecting: .omniglot)
        printError("model: \(directory) (\(loaded.record.options.classes)-way, meta-iteration \(loaded.record.iteration), \((loaded.record.options.split ?? .random).rawValue) split)")
        if loaded.record.options.split != .alphabets {
            printError("warning: this model was meta-trained on the random split, which holds characters of the runs' alphabets; its error rate is not comparable with people's")
        }
        guard let path = data ?? OmniglotRuns.builtInPath else {
            throw ValidationError("this installation has no built-in copy of the runs: pass --data all_runs.zip")
        }
        let runs = try OmniglotRuns.load(path: path)
        let result = try loaded.evaluate(runs: runs, seed: seed)
        if json { try printJSON(result); return }
        print("run     errors  error rate  transductive")
        for r in result.runs {
            print(String(format: "%@  %2d/%-2d  %8.1f %%  %10.1f %%", r.name.padding(toLength: 6, withPad: " ", startingAt: 0),
                         r.errors, r.items, 100 * r.errorRate, 100 * r.errorRateTransductive))
        }
        print(String(format: "mean            %8.1f %%  %10.1f %%", 100 * result.errorRate, 100 * result.errorRateTransductive))
        print(String(format: "people (Lake et al. 2015): %.1f %%; Bayesian Program Learning: %.1f %%",
                     100 * result.peopleErrorRate, 100 * result.bayesianProgramLearningErrorRate))
    }
}
