// The flags of the reference programs (run_omniglot.py, run_miniimagenet.py), validated.

import ReptileData
import ReptileKernels
import ReptileMeta
import ReptileNN

/// Which benchmark a few-shot run is on.
public enum FewShotBenchmark: String, Sendable, Codable, CaseIterable {
    case omniglot
    case miniimagenet
    /// A user's own folder of class folders of images (`reptile train folder`).
    case folder

    /// The paper's model for this benchmark (for `folder`, the network and geometry in `options`).
    public func model(for options: FewShotOptions) throws -> Sequential {
        let model = try architecture(for: options)
        if let precision = options.precision {
            if let reason = precision.unavailableReason { throw ExperimentError(reason) }
            model.precision = precision
        }
        return model
    }

    private func architecture(for options: FewShotOptions) throws -> Sequential {
        switch self {
        case .omniglot: return try Models.omniglot(classes: options.classes)
        case .miniimagenet: return try Models.miniImageNet(classes: options.classes)
        case .folder:
            guard let size = options.imageSize, let channels = options.channels, let network = options.folderNetwork else {
                throw ExperimentError("a folder run needs its image size and channels (they are recorded in run.json)")
            }
            switch network {
            case .omniglot: return try Models.omniglot(classes: options.classes, imageSize: size, channels: channels)
            case .miniimagenet: return try Models.miniImageNet(classes: options.classes, imageSize: size, channels: channels)
            }
        }
    }
}

/// How the inner loop's loss combines the examples of a mini-batch. The reference
/// `supervised-reptile` minimizes the sum (TF1's `minimize` of its unreduced per-example
/// cross-entropies adds their gradients), so its plain-SGD steps (`--sgd`, the gradient-combination
/// study) are the batch size times those of the mean; with Adam the two differ only through ε.
public enum LossReduction: String, Sendable, Codable, CaseIterable {
    case sum
    case mean
}

/// The network of a folder run (`--model-config`): the paper's Omniglot network (4 strided 3×3
/// convolutions of 64 filters) or its Mini-ImageNet one (4 × [3×3 convolution of 32, max-pool]).
public enum ModelConfig: String, Sendable, Codable, CaseIterable {
    case omniglot
    case miniimagenet
}

/// The settings of a few-shot training run, named and defaulted like the reference program's
/// flags (`--classes 5 --shots 5 --inner-batch 5 --inner-iters 20 --meta-iters 400000 …`).
public struct FewShotOptions: Sendable, Codable, Equatable {
    /// Classes per task (`--classes`).
    public var classes = 5
    /// Examples per class at evaluation (`--shots`).
    public var shots = 5
    /// Examples per class in meta-training tasks; 0 means `shots` (`--train-shots`).
    public var trainShots = 0
    /// Inner mini-batch size (`--inner-batch`).
    public var innerBatch = 5
    /// Inner steps per task (`--inner-iters`).
    public var innerIters = 20
    /// Draw mini-batches with replacement (`--replacement`).
    public var replacement = false
    /// Inner optimizer's step size (`--learning-rate`).
    public var learningRate: Float = 1e-3
    /// Initial ε (`--meta-step`).
    public var metaStep: Float = 0.1
    /// Final ε (`--meta-step-final`).
    public var metaStepFinal: Float = 0.1
    /// Tasks per meta-iteration (`--meta-batch`).
    public var metaBatch = 1
    /// Meta-iterations (`--meta-iters`).
    public var metaIters = 400_000
    /// Mini-batch size of evaluation adaptation (`--eval-batch`).
    public var evalBatch = 5
    /// Adaptation steps at evaluation (`--eval-iters`).
    public var evalIters = 50
    /// Tasks of the final evaluation (`--eval-samples`).
    public var evalSamples = 10_000
    /// Meta-iterations between the single-task evaluations logged during training (`--eval-interval`).
    public var evalInterval = 10
    /// Weights multiplied by this before every inner step (`--weight-decay`; 1 = off).
    public var weightDecay: Float = 1
    /// Transductive evaluation (`--transductive`).
    public var transductive = false
    /// First-order MAML instead of Reptile (`--foml`).
    public var foml = false
    /// FOMAML's tail shots (`--foml-tail`).
    public var fomlTail: Int? = nil
    /// Plain SGD instead of Adam(β₁ = 0) in the inner loop (`--sgd`).
    public var sgd = false
    /// Seed of the data split, initialization, tasks and evaluation (`--seed`).
    public var seed: UInt64 = 0
    /// How a meta-batch's tasks share the inner optimizer's state.
    public var taskExecution: TaskExecution = .parallel
    /// Omniglot: how the characters are split (`--split`); nil is the reference's random split.
    public var split: Omniglot.Split? = nil
    /// Folder data: the side of the square images (`--image-size`); nil for the built-in benchmarks.
    public var imageSize: Int? = nil
    /// Folder data: 1 or 3 channels (`--channels`).
    public var channels: Int? = nil
    /// Folder data: the network (`--model-config`; nil: Omniglot's for grayscale, Mini-ImageNet's for colour).
    public var modelConfig: ModelConfig? = nil
    /// Folder data without train/: the train, val and test fractions of its classes (`--split-fractions`).
    public var splitFractions: [Double]? = nil
    /// The precision of the convolutions' products (`--precision`); nil is fp32 (and keeps run
    /// records written before the flag existed readable).
    public var precision: Precision? = nil
    /// How the inner loop's loss combines a mini-batch's examples (`--loss-reduction`): summed, as
    /// the reference does (the default), or averaged. nil is the mean: runs recorded before the
    /// setting existed were trained with it, and continue so.
    public var lossReduction: LossReduction? = .sum

    /// The loss the inner loops minimize (``lossReduction``).
    public var loss: Loss { lossReduction == .sum ? .summedSoftmaxCrossEntropy : .softmaxCrossEntropy }

    public init() {}

    /// Shots per class of meta-training tasks.
    public var effectiveTrainShots: Int { trainShots > 0 ? trainShots : shots }

    /// A folder run's network: `modelConfig` if given, else the Omniglot network for grayscale images
    /// and the Mini-ImageNet one for colour; nil until the channels are known.
    public var folderNetwork: ModelConfig? {
        modelConfig ?? channels.map { $0 == 1 ? .omniglot : .miniimagenet }
    }

    /// The meta-training configuration these options describe.
    public var metaTraining: MetaTrainingConfiguration {
        MetaTrainingConfiguration(
            inner: InnerLoopConfiguration(batchSize: innerBatch, iterations: innerIters, replacement: replacement,
                                          tailShots: foml ? fomlTail : nil, weightDecay: weightDecay),
            metaBatchSize: metaBatch, metaStepSize: metaStep, metaStepSizeFinal: metaStepFinal,
            metaIterations: metaIters, metaGradient: foml ? .fomaml : .reptile,
            outerOptimizer: .interpolation, taskExecution: taskExecution, seed: seed)
    }

    /// The evaluation these options describe.
    public var evaluation: FewShotEvaluation {
        FewShotEvaluation(ways: classes, shots: shots, batchSize: evalBatch, iterations: evalIters,
                          replacement: replacement, transductive: transductive, weightDecay: weightDecay)
    }

    /// The largest batch meta-training runs through the model.
    public var maxTrainingBatch: Int {
        max(innerBatch, foml ? (fomlTail ?? 0) * classes : 0)
    }

    /// Checks that the options make sense for data sets whose classes have `imagesPerClass`
    /// images, with `trainClasses` and `evaluationClasses` classes available; the message names
    /// the flag and the reason.
    public func validate(imagesPerClass: Int, trainClasses: Int, evaluationClasses: Int) throws {
        func fail(_ message: String) -> ExperimentError { ExperimentError(message) }
        guard classes >= 2 else { throw fail("--classes must be at least 2 (a task needs two classes to tell apart), got \(classes)") }
        guard shots >= 1 else { throw fail("--shots must be at least 1, got \(shots)") }
        guard trainShots >= 0 else { throw fail("--train-shots must be 0 (same as --shots) or positive, got \(trainShots)") }
        guard shots + 1 <= imagesPerClass else {
            throw fail("--shots \(shots) is too many: evaluation needs \(shots) support images plus 1 query per class, and classes have \(imagesPerClass) images")
        }
        guard effectiveTrainShots <= imagesPerClass else {
            throw fail("--train-shots \(effectiveTrainShots) is more than the \(imagesPerClass) images per class")
        }
        guard classes <= trainClasses else { throw fail("--classes \(classes) is more than the \(trainClasses) training classes") }
        guard classes <= evaluationClasses else { throw fail("--classes \(classes) is more than the \(evaluationClasses) evaluation classes") }
        guard innerBatch >= 1 else { throw fail("--inner-batch must be at least 1, got \(innerBatch)") }
        guard innerIters >= 1 else { throw fail("--inner-iters must be at least 1, got \(innerIters)") }
        guard metaBatch >= 1 else { throw fail("--meta-batch must be at least 1, got \(metaBatch)") }
        guard metaIters >= 1 else { throw fail("--meta-iters must be at least 1, got \(metaIters)") }
        guard evalBatch >= 1 else { throw fail("--eval-batch must be at least 1, got \(evalBatch)") }
        guard evalIters >= 0 else { throw fail("--eval-iters must not be negative, got \(evalIters)") }
        guard evalSamples >= 1 else { throw fail("--eval-samples must be at least 1, got \(evalSamples)") }
        guard evalInterval >= 1 else { throw fail("--eval-interval must be at least 1, got \(evalInterval)") }
        guard learningRate > 0, learningRate.isFinite else { throw fail("--learning-rate must be a positive number, got \(learningRate)") }
        guard metaStep >= 0, metaStep.isFinite, metaStepFinal >= 0, metaStepFinal.isFinite else {
            throw fail("--meta-step and --meta-step-final must be non-negative numbers")
        }
        guard weightDecay > 0, weightDecay <= 1 else { throw fail("--weight-decay must be in (0, 1] (1 = off), got \(weightDecay)") }
        if replacement {
            guard innerBatch <= classes * effectiveTrainShots else {
                throw fail("--inner-batch \(innerBatch) with --replacement needs at most \(classes * effectiveTrainShots) examples per batch (classes × train shots)")
            }
            guard evalBatch <= classes * shots else {
                throw fail("--eval-batch \(evalBatch) with --replacement needs at most \(classes * shots) examples per batch (classes × shots)")
            }
        }
        if let tail = fomlTail {
            guard foml else { throw fail("--foml-tail needs --foml") }
            guard tail >= 1 else { throw fail("--foml-tail must be at least 1, got \(tail)") }
            guard tail < effectiveTrainShots || innerIters == 1 else {
                throw fail("--foml-tail \(tail) leaves no examples for the first \(innerIters - 1) inner batches (train shots: \(effectiveTrainShots))")
            }
        }
    }
}

/// A failed experiment: a one-line message for the user.
public struct ExperimentError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
