// `reptile train omniglot|miniimagenet` and `reptile evaluate omniglot|miniimagenet`.

import ArgumentParser
import Foundation
import Reptile
import ReptileExperiments
import ReptileFormats
import ReptileKernels
import ReptilePlot

extension TaskExecution: ExpressibleByArgument {}

/// The defaults that the help texts show: ``FewShotOptions``'s, the reference program's.
private let defaults = FewShotOptions()

/// The reference program's flags. All are optional here so that `--resume` can take the
/// checkpoint's values; the defaults are ``FewShotOptions``'s, the reference's.
struct FewShotFlags: ParsableArguments {
    @Option(parsing: .unconditional, help: "Classes per task. (default: \(defaults.classes))") var classes: Int?
    @Option(parsing: .unconditional, help: "Examples per class at evaluation (and in training, unless --train-shots). (default: \(defaults.shots))") var shots: Int?
    @Option(name: .customLong("train-shots"), parsing: .unconditional, help: "Examples per class in meta-training tasks; 0 = --shots. (default: \(defaults.trainShots))") var trainShots: Int?
    @Option(name: .customLong("inner-batch"), parsing: .unconditional, help: "Inner-loop mini-batch size. (default: \(defaults.innerBatch))") var innerBatch: Int?
    @Option(name: .customLong("inner-iters"), parsing: .unconditional, help: "Inner-loop steps per task. (default: \(defaults.innerIters))") var innerIters: Int?
    @Flag(help: "Draw mini-batches with replacement.") var replacement = false
    @Option(name: .customLong("learning-rate"), parsing: .unconditional, help: "Inner optimizer step size. (default: \(defaults.learningRate))") var learningRate: Float?
    @Option(name: .customLong("meta-step"), parsing: .unconditional, help: "Initial meta step size ε. (default: \(defaults.metaStep))") var metaStep: Float?
    @Option(name: .customLong("meta-step-final"), parsing: .unconditional, help: "Final meta step size (linear schedule). (default: \(defaults.metaStepFinal))") var metaStepFinal: Float?
    @Option(name: .customLong("meta-batch"), parsing: .unconditional, help: "Tasks per meta-iteration. (default: \(defaults.metaBatch))") var metaBatch: Int?
    @Option(name: .customLong("meta-iters"), parsing: .unconditional, help: "Meta-iterations. (default: \(defaults.metaIters))") var metaIters: Int?
    @Option(name: .customLong("eval-batch"), parsing: .unconditional, help: "Evaluation adaptation mini-batch size. (default: \(defaults.evalBatch))") var evalBatch: Int?
    @Option(name: .customLong("eval-iters"), parsing: .unconditional, help: "Evaluation adaptation steps. (default: \(defaults.evalIters))") var evalIters: Int?
    @Option(name: .customLong("eval-samples"), parsing: .unconditional, help: "Tasks in the final evaluation of each split. (default: \(defaults.evalSamples))") var evalSamples: Int?
    @Option(name: .customLong("eval-interval"), parsing: .unconditional, help: "Meta-iterations between logged single-task evaluations. (default: \(defaults.evalInterval))") var evalInterval: Int?
    @Option(name: .customLong("weight-decay"), parsing: .unconditional, help: "Multiply weights by this before each inner step; 1 = off. (default: \(defaults.weightDecay))") var weightDecay: Float?
    @Flag(help: "Transductive evaluation: all queries in one batch.") var transductive = false
    @Flag(help: "First-order MAML instead of Reptile.") var foml = false
    @Option(name: .customLong("foml-tail"), parsing: .unconditional, help: "FOMAML: shots per class of a separate last inner batch.") var fomlTail: Int?
    @Flag(help: "Plain SGD in the inner loop instead of Adam (β₁ = 0).") var sgd = false
    @Option(parsing: .unconditional, help: "Random seed of the split, initialization, tasks and evaluation. (default: \(defaults.seed))") var seed: UInt64?
    @Option(name: .customLong("task-execution"),
            help: "parallel: a meta-batch's tasks run at once on copies of the inner optimizer state, merged after (default); serial: one after another sharing it, exactly like the reference (one core).")
    var taskExecution: TaskExecution?

    /// Options from the defaults (or `base`), overridden by the flags given.
    func options(base: FewShotOptions = FewShotOptions()) -> FewShotOptions {
        var o = base
        if let classes { o.classes = classes }
        if let shots { o.shots = shots }
        if let trainShots { o.trainShots = trainShots }
        if let innerBatch { o.innerBatch = innerBatch }
        if let innerIters { o.innerIters = innerIters }
        if replacement { o.replacement = true }
        if let learningRate { o.learningRate = learningRate }
        if let metaStep { o.metaStep = metaStep }
        if let metaStepFinal { o.metaStepFinal = metaStepFinal }
        if let metaBatch { o.metaBatch = metaBatch }
        if let metaIters { o.metaIters = metaIters }
        if let evalBatch { o.evalBatch = evalBatch }
        if let evalIters { o.evalIters = evalIters }
        if let evalSamples { o.evalSamples = evalSamples }
        if let evalInterval { o.evalInterval = evalInterval }
        if let weightDecay { o.weightDecay = weightDecay }
        if transductive { o.transductive = true }
        if foml { o.foml = true }
        if let fomlTail { o.fomlTail = fomlTail }
        if sgd { o.sgd = true }
        if let seed { o.seed = seed }
        if let taskExecution { o.taskExecution = taskExecution }
        return o
    }
}

/// Where the data comes from, for one benchmark's commands (the help differs).
protocol DataFlags: ParsableArguments {
    var data: String? { get }
    var threads: Int? { get }
    /// Omniglot's split, when chosen.
    var split: Omniglot.Split? { get }
}

extension DataFlags {
    var split: Omniglot.Split? { nil }
}

func validateThreads(_ threads: Int?) throws {
    if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
}

extension Omniglot.Split: ExpressibleByArgument {}

struct OmniglotDataFlags: DataFlags {
    @Option(help: ArgumentHelp("Omniglot: a folder with images_background.npz and images_evaluation.npz, the two official zips images_background.zip and images_evaluation.zip, or a folder of Alphabet/characterNN/NNNN_DD.png; all 1 623 characters are needed for the 1 200 / 423 split. (default: the built-in copy)", valueName: "path"))
    var data: String?
    @Option(help: "How the characters are split: random (the reference's 1 200 / 423 characters from all alphabets) or alphabets (the 30 background alphabets for meta-training, the 20 evaluation alphabets for testing, as in Lake et al.'s human comparison). (default: random, or a checkpoint's)")
    var split: Omniglot.Split?
    @Option(parsing: .unconditional, help: "Worker threads. (default: one per core)") var threads: Int?
    func validate() throws { try validateThreads(threads) }
}

struct MiniImageNetDataFlags: DataFlags {
    @Option(help: ArgumentHelp("Mini-ImageNet: a folder with train/, val/ and test/, each holding one folder of JPEG images per class. (required)", valueName: "path"))
    var data: String?
    @Option(parsing: .unconditional, help: "Worker threads. (default: one per core)") var threads: Int?
    func validate() throws { try validateThreads(threads) }
}

extension ModelConfig: ExpressibleByArgument {}

struct FolderDataFlags: DataFlags {
    @Option(help: ArgumentHelp("Your images: a folder with train/ (and optionally val/ and test/), each holding one folder of PNG or JPEG images per class, or a folder of class folders that --split-fractions divides. (required)", valueName: "path"))
    var data: String?
    @Option(name: .customLong("image-size"), parsing: .unconditional, help: "Side of the square images the model sees; each image is reduced (or enlarged) to it by area averaging. (default: the images' median shorter side, at most 28 for grayscale and 84 for colour; a checkpoint's when evaluating)")
    var imageSize: Int?
    @Option(parsing: .unconditional, help: "1 (grayscale) or 3 (colour). (default: 3 if any image has colour, else 1; a checkpoint's when evaluating)")
    var channels: Int?
    @Option(name: .customLong("model-config"), help: "The network: omniglot (4 strided convolutions of 64 filters) or miniimagenet (4 convolutions of 32 filters with max-pooling). (default: omniglot for grayscale, miniimagenet for colour)")
    var modelConfig: ModelConfig?
    @Option(name: .customLong("split-fractions"), help: ArgumentHelp("For a folder of classes without train/: the fractions of classes for train, val and test, chosen by --seed. (default: 0.64,0.16,0.2)", valueName: "train,val,test"))
    var splitFractions: String?
    @Option(parsing: .unconditional, help: "Worker threads. (default: one per core)") var threads: Int?

    func validate() throws {
        try validateThreads(threads)
        if let imageSize, !(4...512).contains(imageSize) { throw ValidationError("--image-size must be between 4 and 512, got \(imageSize)") }
        if let channels, channels != 1 && channels != 3 { throw ValidationError("--channels must be 1 or 3, got \(channels)") }
        _ = try fractions()
    }

    func fractions() throws -> [Double]? {
        guard let splitFractions else { return nil }
        let parts = splitFractions.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 3, parts.allSatisfy({ $0 != nil }) else {
            throw ValidationError("--split-fractions takes three numbers separated by commas (train,val,test), e.g. 0.64,0.16,0.2; got \(splitFractions)")
        }
        return parts.map { $0! }
    }

    /// The folder's settings, recorded in the run's options (nil flags keep `options`' values).
    func apply(to options: inout FewShotOptions) throws {
        if let imageSize { options.imageSize = imageSize }
        if let channels { options.channels = channels }
        if let modelConfig { options.modelConfig = modelConfig }
        if let fractions = try fractions() { options.splitFractions = fractions }
    }
}

/// Loads a folder benchmark with the geometry in `options`, filling in the defaults it chose, and
/// checks that every class has enough images for the shots asked for (naming the first that has not).
func loadFolder(data: String?, options: inout FewShotOptions, evaluationShots: Int? = nil) throws -> (FewShotSplits, String) {
    guard let data else {
        throw ValidationError("--data is required: a folder with train/ (and optionally val/ and test/), each holding one folder of PNG or JPEG images per class, or a folder of class folders")
    }
    let start = Date()
    let progress = ProgressLine("decoding images", unit: "images")
    let loaded = try ImageFolder.load(path: data, imageSize: options.imageSize, channels: options.channels,
                                      splitFractions: options.splitFractions, seed: options.seed) { done, total in
        progress.update(done, of: total)
    }
    options.imageSize = loaded.imageSize
    options.channels = loaded.channels
    let splits = loaded.splits
    let shots = evaluationShots ?? options.shots
    let trainShots = evaluationShots == nil ? options.effectiveTrainShots : 0
    let needed = max(shots + 1, trainShots)
    let images = splits.train.images
    for cls in 0..<images.classCount where images.imageCount(ofClass: cls) < needed {
        let reason = trainShots > shots + 1 ? "--train-shots \(trainShots)" : "--shots \(shots) support images + 1 query"
        throw ValidationError("class \(images.classNames[cls]) has \(images.imageCount(ofClass: cls)) images, fewer than the \(needed) every class needs (\(reason))")
    }
    printError(String(format: "%@: %d/%d/%d train/val/test classes of %d×%d×%d images, %@ in %.1f s", data,
                      splits.train.classCount, splits.validation?.classCount ?? 0, splits.test.classCount,
                      loaded.imageSize, loaded.imageSize, loaded.channels, loaded.fromCache ? "read from the cache" : "decoded",
                      Date().timeIntervalSince(start)))
    return (splits, data)
}

/// Loads the splits of a benchmark, printing what it does.
func loadSplits(_ benchmark: FewShotBenchmark, data: String?, seed: UInt64, split: Omniglot.Split? = nil) throws -> (FewShotSplits, String) {
    let start = Date()
    switch benchmark {
    case .omniglot:
        let images = try data.map { try Omniglot.load(path: $0) } ?? Omniglot.loadBuiltIn()
        let (train, test) = try Omniglot.split(images, by: split ?? .random, seed: seed)
        printError(String(format: "Omniglot (%@, %@ split): %d characters (%d training classes with rotations, %d test) loaded in %.1f s",
                          data ?? "built-in, " + (Omniglot.builtInPath ?? "?"), (split ?? .random).rawValue,
                          images.classCount, train.classCount, test.classCount,
                          Date().timeIntervalSince(start)))
        return (FewShotSplits(train: train, test: test), data ?? "built-in")
    case .miniimagenet:
        guard let data else {
            throw ValidationError("Mini-ImageNet is not shipped with the tool: pass --data DIR, a folder with train/, val/ and test/, each holding one folder of JPEG images per class")
        }
        let progress = ProgressLine("decoding Mini-ImageNet", unit: "images")
        let splits = try MiniImageNet.load(path: data) { done, total in progress.update(done, of: total) }
        printError(String(format: "Mini-ImageNet: %d/%d/%d train/val/test classes loaded in %.1f s",
                          splits.train.classCount, splits.validation?.classCount ?? 0, splits.test.classCount, Date().timeIntervalSince(start)))
        return (splits, data)
    case .folder:
        throw ValidationError("folder data is loaded with loadFolder")
    }
}

extension FewShotBenchmark: ExpressibleByArgument {}

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Meta-train the paper's model on a few-shot benchmark, then evaluate it.",
        subcommands: [TrainOmniglot.self, TrainMiniImageNet.self, TrainFolder.self])
}

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a meta-trained checkpoint on a few-shot benchmark (the reference's --pretrained).",
        subcommands: [EvaluateOmniglot.self, EvaluateMiniImageNet.self, EvaluateFolder.self, EvaluateOmniglotRuns.self])
}

/// The shared body of `train omniglot` and `train miniimagenet`.
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
        guard let group = try MPIProcessGroup.world() else { return try run(group: nil) }
        guard group.size > 1 else {
            defer { group.finalize() }
            return try run(group: nil)
        }
        outputIsQuiet = group.rank != 0
        do {
            try run(group: group)
            group.finalize()
        } catch let error as ProcessGroupError {
            // Every rank has this error: rank 0 reports it, and no rank leaves before it has (the
            // launcher ends the job as soon as one process exits with an error).
            if group.rank == 0 { FileHandle.standardError.write(Data("Error: \(error.description)\n".utf8)) }
            group.barrier()
            group.finalize()
            throw ExitCode(1)
        } catch {
            // Only this rank failed: say so and end the whole job rather than leave the others waiting.
            FileHandle.standardError.write(Data("Error: rank \(group.rank) of \(group.size): \(error)\n".utf8))
            group.abort()
        }
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
            threads: dataFlags.threads ?? group.map { max(1, ProcessInfo.processInfo.activeProcessorCount / $0.localSize) },
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
        abstract: "Meta-train on Omniglot (built in) and evaluate on the 423 test characters.",
        discussion: """
        The paper's 5-way 1-shot setting:
          reptile train omniglot --shots 1 --train-shots 10 --inner-batch 10 \\
            --inner-iters 5 --meta-step 1 --meta-step-final 0 --meta-batch 5 \\
            --meta-iters 100000 --eval-batch 5 --eval-iters 50 \\
            --learning-rate 0.001 --checkpoint runs/omniglot-5way-1shot
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
    @Flag(help: "Print one JSON object with the results on standard output.") var json = false
}

struct EvaluateRunner {
    var benchmark: FewShotBenchmark
    var flags: EvaluationFlags
    var dataFlags: any DataFlags

    func run() throws {
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
        let loaded = try LoadedModel.load(from: directory, expecting: benchmark)
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
        let tasks = flags.evalSamples ?? o.evalSamples
        let progress = ProgressLine("evaluated tasks", unit: "tasks")
        var lastPhase = ""
        let result = try loaded.evaluate(evaluation, splits: splits, tasks: tasks, seed: seed, threads: dataFlags.threads) { phase, done, total in
            if phase != lastPhase { lastPhase = phase; printError("evaluating \(phase) …") }
            progress.update(done, of: total, restartable: true)
        }
        if let output = flags.output { try writeJSON(result, to: output) }
        if flags.json {
            try printJSON(result)
        } else {
            print("Evaluated \(directory) (\(result.metaIterations) meta-iterations), \(evaluation.ways)-way \(evaluation.shots)-shot, \(tasks) tasks per split, \(evaluation.transductive ? "transductive" : "non-transductive")")
            print(String(format: "Train accuracy: %.4f ± %.4f", result.trainAccuracy, result.trainCI95))
            if let val = result.valAccuracy { print(String(format: "Val accuracy: %.4f ± %.4f", val, result.valCI95 ?? 0)) }
            print(String(format: "Test accuracy: %.4f ± %.4f", result.testAccuracy, result.testCI95))
        }
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
