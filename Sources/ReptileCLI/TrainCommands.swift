// `reptile train omniglot | miniimagenet | folder`: meta-training runs with checkpoints, resume,
// progress, and (under mpirun) the meta-batch spread over the ranks.

import ArgumentParser
import Foundation
import Reptile
import ReptileExperiments
import ReptileFormats
import ReptileKernels
import ReptilePlot

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Meta-train the paper's model on a few-shot benchmark, then evaluate it.",
        subcommands: [TrainOmniglot.self, TrainMiniImageNet.self, TrainFolder.self])
}

struct TrainRunner {
    var benchmark: FewShotBenchmark
    var flags: FewShotFlags
    var dataFlags: any DataFlags
    var checkpoint: String?
    var checkpointInterval: Int
    var resume: Bool
    var json: Bool

    func run() throws {
        // Under `mpirun`/`srun` the ranks split each meta-batch; rank 0 alone prints and writes.
        try runOnRanks { try run(group: $0) }
    }

    private func run(group: MPIProcessGroup?) throws {
        var options = flags.options()
        if resume {
            guard let checkpoint else { throw ValidationError("--resume needs --checkpoint DIR") }
            let record = try RunRecord.read(from: checkpoint)
            options = flags.options(base: record.options)
        }
        if let split = dataFlags.split { options.split = split }
        let splits: FewShotSplits, dataLabel: String
        if let folder = dataFlags as? FolderDataFlags {
            try folder.apply(to: &options)
            (splits, dataLabel) = try loadFolder(data: folder.data, options: &options)
        } else {
            (splits, dataLabel) = try loadSplits(benchmark, data: dataFlags.data, seed: options.seed, split: options.split)
        }
        let progress = ProgressLine("meta-iteration")
        let evalProgress = ProgressLine("evaluated tasks", unit: "tasks")
        var lastSplit = ""
        var splitEstimate: Double?
        let training = try FewShotTraining(
            benchmark: benchmark, options: options, splits: splits, checkpointDirectory: checkpoint,
            checkpointInterval: checkpointInterval, dataLabel: dataLabel,
            command: CommandLine.arguments.joined(separator: " "),
            threads: dataFlags.threads ?? threadsPerRank(group),
            group: group) { event in
            switch event {
            case .log(let line):
                if json { printError(line) } else { print(line); fflush(stdout) }
            case .training(let done, let total, let recent):
                progress.update(done, of: total, extra: recent.map {
                    String(format: "· mean of the last 100 logged: train=%.3f test=%.3f", $0.train, $0.test)
                } ?? "")
            case .evaluationStart(let tasks, let splits, let estimate):
                splitEstimate = estimate.map { $0 / Double(splits.count) }
                printError("final evaluation: \(tasks) tasks on each of \(splits.joined(separator: ", ")) (\(options.transductive ? "transductive" : "non-transductive"))"
                           + (estimate.map { ", about \(formatDuration($0)) in all" } ?? "") + " (--eval-samples sets the number)")
            case .evaluation(let split, let done, let total):
                if split != lastSplit { lastSplit = split; printError("evaluating \(split) …") }
                evalProgress.update(done, of: total, restartable: true, estimatedSeconds: splitEstimate)
            }
        }
        printError("meta-training \(options.metaIters) iterations, then evaluating \(options.evalSamples) tasks per split"
                   + (checkpoint.map { "; checkpoints in \($0)" } ?? "")
                   + (group.map { "; each meta-batch shared by \($0.size) MPI ranks" } ?? ""))
        let result = try training.run(resume: resume)
        if outputIsQuiet { return }
        if json {
            try printJSON(result)
        } else {
            print(String(format: "meta-trained %d iterations (%.1f ms each)", result.metaIterations, result.msPerIteration))
            print(String(format: "Train accuracy: %.4f ± %.4f", result.trainAccuracy, result.trainCI95))
            if let val = result.valAccuracy { print(String(format: "Val accuracy: %.4f ± %.4f", val, result.valCI95 ?? 0)) }
            print(String(format: "Test accuracy: %.4f ± %.4f (%d tasks, %@)", result.testAccuracy, result.testCI95, result.evalSamples,
                         result.transductive ? "transductive" : "non-transductive"))
            if let checkpoint { print("checkpoint, results.json, metrics.jsonl and curve.svg in \(checkpoint)") }
        }
    }
}

/// Where a training run keeps its files, and how it reports.
struct TrainingRunFlags: ParsableArguments {
    @Option(help: ArgumentHelp("Folder for checkpoints, metrics.jsonl and curve.svg.", valueName: "dir")) var checkpoint: String = "model_checkpoint"
    @Option(name: .customLong("checkpoint-interval"), parsing: .unconditional, help: "Meta-iterations between checkpoints.") var checkpointInterval = 100
    @Flag(help: "Continue the run in --checkpoint from where it stopped (bit for bit).") var resume = false
    @Flag(help: "Print one JSON object with the results on standard output.") var json = false

    func runner(_ benchmark: FewShotBenchmark, flags: FewShotFlags, dataFlags: any DataFlags) -> TrainRunner {
        TrainRunner(benchmark: benchmark, flags: flags, dataFlags: dataFlags, checkpoint: checkpoint,
                    checkpointInterval: checkpointInterval, resume: resume, json: json)
    }
}

struct TrainOmniglot: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "omniglot",
        abstract: "Meta-train on Omniglot (built in) and evaluate on its held-out characters (423 with the default random split).",
        discussion: """
        The paper's 5-way 1-shot setting:
          reptile train omniglot --shots 1 --train-shots 10 --inner-batch 10 \\
            --inner-iters 5 --meta-step 1 --meta-step-final 0 --meta-batch 5 \\
            --meta-iters 100000 --eval-batch 5 --eval-iters 50 \\
            --learning-rate 0.001 --checkpoint my-runs/omniglot-5way-1shot
        """)
    @OptionGroup var flags: FewShotFlags
    @OptionGroup var dataFlags: OmniglotDataFlags
    @OptionGroup var runFlags: TrainingRunFlags

    func run() throws {
        try runFlags.runner(.omniglot, flags: flags, dataFlags: dataFlags).run()
    }
}

struct TrainMiniImageNet: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "miniimagenet",
        abstract: "Meta-train on Mini-ImageNet (--data DIR) and evaluate on its val and test classes.")
    @OptionGroup var flags: FewShotFlags
    @OptionGroup var dataFlags: MiniImageNetDataFlags
    @OptionGroup var runFlags: TrainingRunFlags

    func run() throws {
        try runFlags.runner(.miniimagenet, flags: flags, dataFlags: dataFlags).run()
    }
}

struct TrainFolder: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "folder",
        abstract: "Meta-train on your own images (a folder of class folders), then evaluate on its held-out classes.",
        discussion: """
        The images (PNG or JPEG, any size, grayscale or colour) are decoded once, reduced to \
        --image-size by area averaging and cached in DIR/.reptile-cache/ (rebuilt when a file changes). \
        Grayscale data gets the paper's Omniglot network and colour data its Mini-ImageNet network \
        (--model-config chooses). The few-shot flags are the reference's, e.g. 5-way 1-shot:
          reptile train folder --data my-images --classes 5 --shots 1 --train-shots 10 \\
            --inner-batch 10 --inner-iters 5 --meta-step 1 --meta-step-final 0 \\
            --meta-batch 5 --meta-iters 20000 --learning-rate 0.001 --checkpoint runs/mine
        """)
    @OptionGroup var flags: FewShotFlags
    @OptionGroup var dataFlags: FolderDataFlags
    @OptionGroup var runFlags: TrainingRunFlags

    func run() throws {
        try runFlags.runner(.folder, flags: flags, dataFlags: dataFlags).run()
    }
}


/// The evaluation flags of `reptile evaluate`.
