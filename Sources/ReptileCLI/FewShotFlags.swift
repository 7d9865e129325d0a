// The few-shot commands' option groups, declared once: the algorithm's flags, where the data comes
// from (one group per benchmark, for their help texts), and loading the data they name.

import ArgumentParser
import Foundation
import Reptile
import ReptileExperiments
import ReptileFormats
import ReptileKernels
import ReptilePlot

extension TaskExecution: ExpressibleByArgument {}
extension Precision: ExpressibleByArgument {}
extension LossReduction: ExpressibleByArgument {}

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
    @Option(name: .customLong("loss-reduction"),
            help: "How the inner loop's cross-entropy combines a mini-batch: sum (the reference's: TF1 minimizes the unreduced per-example losses, so plain-SGD steps grow with the batch) or mean. (default: sum, or a checkpoint's; runs recorded before the flag: mean)")
    var lossReduction: LossReduction?
    @Option(help: "Precision of the convolutions' products: fp32, or bf16 (bf16 products with fp32 sums on CPUs with AVX512-BF16; weights, gradients and optimizer state stay fp32). (default: fp32, or a checkpoint's)")
    var precision: Precision?

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
        if let precision { o.precision = precision == .fp32 ? nil : precision }
        if let lossReduction { o.lossReduction = lossReduction }
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
    @Option(name: .customLong("model-config"), help: "The network: omniglot (4 strided convolutions of 64 filters) or miniimagenet (4 convolutions of 32 filters with max-pooling). (default: omniglot for grayscale, miniimagenet for colour; a checkpoint's when evaluating)")
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
