// The layers: dense, convolution, batch normalization, activations, pooling, flatten.

import ReptileKernels

/// A fully connected layer: `y = x·W + b`, with `W` stored `[inputs][outputs]`.
public final class Linear: Layer {
    /// How a dense layer's parameters start.
    public enum Initialization: Sendable {
        /// Glorot-uniform weights and zero bias (TensorFlow's default, the paper's models).
        case glorotUniform
        /// U(±1/√inputs) for weights and bias (PyTorch's and MLX's default, the sine listing's).
        case uniformFanIn
    }

    public let inputCount: Int
    public let outputCount: Int
    public let hasBias: Bool
    public let initialization: Initialization
    public var kind: String { "linear" }
    public func unboundCopy() -> any Layer { Linear(inputCount, outputCount, bias: hasBias, initialization: initialization) }

    /// A dense layer from `inputCount` to `outputCount` features.
    public init(_ inputCount: Int, _ outputCount: Int, bias: Bool = true, initialization: Initialization = .glorotUniform) {
        self.inputCount = inputCount
        self.outputCount = outputCount
        self.hasBias = bias
        self.initialization = initialization
    }

    public func bind(inputShape: Shape) throws -> Shape {
        guard inputShape == [inputCount] else {
            throw ModelError("Linear(\(inputCount), \(outputCount)) needs inputs of shape [\(inputCount)], got \(inputShape) (add Flatten() before it?)")
        }
        guard inputCount > 0, outputCount > 0 else { throw ModelError("Linear needs positive sizes, got \(inputCount)→\(outputCount)") }
        return [outputCount]
    }

    public var parameterSpecs: [ParameterSpec] {
        let glorot = initialization == .glorotUniform
        var specs = [ParameterSpec(name: "weight", shape: [inputCount, outputCount],
                                   initializer: glorot ? .glorotUniform(fanIn: inputCount, fanOut: outputCount) : .uniformFanIn(fanIn: inputCount))]
        if hasBias {
            specs.append(ParameterSpec(name: "bias", shape: [outputCount], initializer: glorot ? .zeros : .uniformFanIn(fanIn: inputCount)))
        }
        return specs
    }

    public var forwardMultiplyAdds: Int { inputCount * outputCount }

    public func forward(_ p: ForwardPass) {
        Matmul.multiply(m: p.batch, n: outputCount, k: inputCount, a: p.input, lda: inputCount,
                        b: p.parameters, ldb: outputCount, c: p.output, ldc: outputCount,
                        bias: hasBias ? p.parameters + inputCount * outputCount : nil, scratch: p.scratch)
    }

    public func backward(_ p: BackwardPass) {
        // dW = xᵀ·dy, db = Σ dy, dx = dy·Wᵀ.
        Matmul.multiplyTransposingA(m: inputCount, n: outputCount, k: p.batch, a: p.input, lda: inputCount,
                                    b: p.outputGradient, ldb: outputCount, c: p.parameterGradients, ldc: outputCount,
                                    scratch: p.scratch)
        if hasBias {
            Vector.columnSums(p.outputGradient, rows: p.batch, columns: outputCount,
                              into: p.parameterGradients + inputCount * outputCount)
        }
        if let dx = p.inputGradient {
            Matmul.multiplyTransposingB(m: p.batch, n: inputCount, k: outputCount, a: p.outputGradient, lda: outputCount,
                                        b: p.parameters, ldb: outputCount, c: dx, ldc: inputCount, scratch: p.scratch)
        }
    }
}

/// Padding of a convolution or pooling layer.
public enum Padding: String, Sendable, Codable {
    /// TensorFlow's "same": ⌈input / stride⌉ outputs; an odd total padding puts the extra row and
    /// column at the bottom and right.
    case same
    /// No padding.
    case valid
}

/// A 2-D convolution over NHWC images, weights `[kernel][kernel][inputChannels][outputChannels]`.
public final class Conv2d: Layer {
    public let inputChannels: Int
    public let outputChannels: Int
    public let kernelSize: Int
    public let stride: Int
    public let padding: Padding
    public let hasBias: Bool
    public private(set) var geometry: ConvGeometry?
    /// Set by ``Sequential`` when the batch norm after this layer writes the bias gradient (the
    /// column sums of its input gradient): the backward pass then leaves it alone.
    public internal(set) var biasGradientGiven = false
    public var kind: String { "conv" }
    public func unboundCopy() -> any Layer {
        Conv2d(inputChannels: inputChannels, outputChannels: outputChannels, kernelSize: kernelSize, stride: stride,
               padding: padding, bias: hasBias)
    }

    /// A square convolution (Glorot-uniform weights with TensorFlow's fans: kernel² × channels;
    /// zero bias).
    public init(inputChannels: Int, outputChannels: Int, kernelSize: Int, stride: Int = 1,
                padding: Padding = .same, bias: Bool = true) {
        self.inputChannels = inputChannels
        self.outputChannels = outputChannels
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
        self.hasBias = bias
    }

    public func bind(inputShape: Shape) throws -> Shape {
        guard inputShape.count == 3, inputShape[2] == inputChannels else {
            throw ModelError("Conv2d(inputChannels: \(inputChannels)) needs inputs of shape [height, width, \(inputChannels)], got \(inputShape)")
        }
        guard kernelSize > 0, stride > 0, outputChannels > 0 else {
            throw ModelError("Conv2d needs positive kernel size, stride and channels")
        }
        let g: ConvGeometry
        switch padding {
        case .same:
            g = .same(inputHeight: inputShape[0], inputWidth: inputShape[1], inputChannels: inputChannels,
                      outputChannels: outputChannels, kernelSize: kernelSize, stride: stride)
        case .valid:
            guard inputShape[0] >= kernelSize, inputShape[1] >= kernelSize else {
                throw ModelError("Conv2d with valid padding needs images of at least \(kernelSize)×\(kernelSize), got \(inputShape)")
            }
            g = .valid(inputHeight: inputShape[0], inputWidth: inputShape[1], inputChannels: inputChannels,
                       outputChannels: outputChannels, kernelSize: kernelSize, stride: stride)
        }
        geometry = g
        return [g.outputHeight, g.outputWidth, outputChannels]
    }

    public var parameterSpecs: [ParameterSpec] {
        let taps = kernelSize * kernelSize
        var specs = [ParameterSpec(name: "weight", shape: [kernelSize, kernelSize, inputChannels, outputChannels],
                                   initializer: .glorotUniform(fanIn: taps * inputChannels, fanOut: taps * outputChannels))]
        if hasBias { specs.append(ParameterSpec(name: "bias", shape: [outputChannels], initializer: .zeros)) }
        return specs
    }

    public func savedCount(batch: Int) -> Int { geometry!.savedScratchCount(batch: batch) }
    public var forwardMultiplyAdds: Int { geometry!.multiplyAddsPerImage }

    public func forward(_ p: ForwardPass) {
        let g = geometry!
        Convolution.forward(g, batch: p.batch, input: p.input, weights: p.parameters,
                            bias: hasBias ? p.parameters + g.weightCount : nil, output: p.output,
                            saved: p.saved, scratch: p.scratch, outputColumnSums: p.outputColumnSums,
                            precision: p.precision)
    }

    public func backward(_ p: BackwardPass) {
        let g = geometry!
        if p.weightGradientGiven {
            precondition(!hasBias || biasGradientGiven, "a weight gradient handed over without the bias gradient")
        } else {
            Convolution.backwardWeights(g, batch: p.batch, input: p.input, outputGradient: p.outputGradient,
                                        saved: p.saved, weightGradient: p.parameterGradients,
                                        biasGradient: hasBias && !biasGradientGiven ? p.parameterGradients + g.weightCount : nil,
                                        scratch: p.scratch, precision: p.precision)
        }
        if let dx = p.inputGradient {
            Convolution.backwardInput(g, batch: p.batch, outputGradient: p.outputGradient, weights: p.parameters,
                                      inputGradient: dx, scratch: p.scratch, precision: p.precision)
        }
    }
}

/// Batch normalization with the statistics of the current batch, always (no running averages),
/// over the last axis; parameters γ (`weight`, initially 1) and β (`bias`, initially 0).
///
/// A `ReLU` right after it in a ``Sequential`` is fused into it (one pass over memory instead of
/// two); the result is the same.
public final class BatchNorm: Layer {
    public let featureCount: Int
    public let epsilon: Float
    /// Set by ``Sequential`` when a ReLU follows and has been fused into this layer.
    public internal(set) var fusedReLU = false
    /// Set by ``Sequential`` when max pooling whose windows tile its input follows (after the
    /// ReLU, if any) and has been fused into this layer (features in multiples of 16,
    /// `BatchNormKernels/canFusePooling(_:)`): the full-size normalized activation is
    /// then never written, only its pooled maxima (Mini-ImageNet's 84×84 layers are memory-bound).
    public internal(set) var fusedPool: PoolGeometry?
    /// Set by ``Sequential`` when a convolution before writes Σx of this layer's input into the
    /// first part of its reductions (phase 0's work) as it computes it.
    public internal(set) var inputSumsGiven = false
    private var rowsPerExample = 1
    public var kind: String { "bn" }
    public func unboundCopy() -> any Layer { BatchNorm(featureCount: featureCount, eps: epsilon) }

    /// Batch normalization over `featureCount` channels with variance epsilon `eps` (TensorFlow's
    /// default 1e-3, which the paper's models use).
    public init(featureCount: Int, eps: Float = 1e-3) {
        self.featureCount = featureCount
        self.epsilon = eps
    }

    public func bind(inputShape: Shape) throws -> Shape {
        guard inputShape.last == featureCount else {
            throw ModelError("BatchNorm(featureCount: \(featureCount)) needs inputs whose last axis is \(featureCount), got \(inputShape)")
        }
        rowsPerExample = inputShape.dropLast().reduce(1, *)
        return inputShape
    }

    public var parameterSpecs: [ParameterSpec] {
        [ParameterSpec(name: "weight", shape: [featureCount], initializer: .ones),
         ParameterSpec(name: "bias", shape: [featureCount], initializer: .zeros)]
    }

    /// Per shard: Σx, Σ(x − μ)², μ, 1/σ, dβ, dγ (this shard's sums) and dβ, dγ (the batch's). Σx
    /// comes first: a convolution before may write it (``inputSumsGiven``).
    public var reductionCount: Int { 8 * featureCount }
    /// Σx; then μ and Σ(x − μ)²; then 1/σ and the output.
    public var forwardPhases: Int { 3 }
    /// dβ and dγ; then the input gradient.
    public var backwardPhases: Int { 2 }

    /// Fused with pooling: where each window's maximum came from (its input and window row), so
    /// that the first backward pass reads pooled-size buffers instead of the full-size input.
    public func savedCount(batch: Int) -> Int {
        fusedPool.map { BatchNormKernels.maximaCount($0, batch: batch) } ?? 0
    }

    /// Unpooled, each element's input gradient needs only its own output gradient (and the
    /// per-channel sums of the first backward pass).
    public var computesInputGradientInPlace: Bool { fusedPool == nil }

    /// The parts of a shard's reductions (see ``reductionCount``).
    private struct Slots {
        let all: UnsafeMutablePointer<Float>, c: Int, shard: Int, count: Int
        init(_ context: ShardContext, channels c: Int) {
            (all, self.c, shard, count) = (context.reductions, c, context.shard, context.count)
        }
        func part(_ index: Int) -> UnsafeMutablePointer<Float> { all + shard * 8 * c + index * c }
        /// Adds part `index` of every shard, in shard order, into `out`.
        func combine(_ index: Int, into out: UnsafeMutablePointer<Float>) {
            BatchNormKernels.combineParts(all + index * c, stride: 8 * c, parts: count, channels: c, into: out)
        }
        var sum: UnsafeMutablePointer<Float> { part(0) }
        var squares: UnsafeMutablePointer<Float> { part(1) }
        var mean: UnsafeMutablePointer<Float> { part(2) }
        var inverseStd: UnsafeMutablePointer<Float> { part(3) }
        var betaGradient: UnsafeMutablePointer<Float> { part(4) }
        var gammaGradient: UnsafeMutablePointer<Float> { part(5) }
        var totalBetaGradient: UnsafeMutablePointer<Float> { part(6) }
        var totalGammaGradient: UnsafeMutablePointer<Float> { part(7) }
    }

    public func forward(_ p: ForwardPass) {
        let c = featureCount
        let slots = Slots(p.shard, channels: c)
        let rows = p.batch * rowsPerExample, totalRows = p.shard.totalBatch * rowsPerExample
        switch p.shard.phase {
        case 0:
            if !inputSumsGiven { BatchNormKernels.sums(p.input, rows: rows, channels: c, into: slots.sum) }
        case 1:
            slots.combine(0, into: slots.mean)
            BatchNormKernels.mean(fromSum: slots.mean, rows: totalRows, channels: c, into: slots.mean)
            BatchNormKernels.squaredDeviations(p.input, rows: rows, channels: c, mean: slots.mean, into: slots.squares)
        default:
            slots.combine(1, into: slots.inverseStd)
            BatchNormKernels.inverseStd(fromSquaredDeviations: slots.inverseStd, rows: totalRows, channels: c,
                                        epsilon: epsilon, into: slots.inverseStd)
            if let pool = fusedPool {
                BatchNormKernels.normalizePooled(p.input, batch: p.batch, pool: pool, gamma: p.parameters, beta: p.parameters + c,
                                                 mean: slots.mean, inverseStd: slots.inverseStd, relu: fusedReLU,
                                                 output: p.output, scratch: p.scratch.floats(BatchNormKernels.pooledScratch(pool)),
                                                 maxima: p.saved)
            } else {
                BatchNormKernels.normalize(p.input, rows: rows, channels: c, gamma: p.parameters, beta: p.parameters + c,
                                           mean: slots.mean, inverseStd: slots.inverseStd, relu: fusedReLU, output: p.output)
            }
        }
    }

    public func backward(_ p: BackwardPass) {
        let c = featureCount
        let slots = Slots(p.shard, channels: c)
        let rows = p.batch * rowsPerExample
        let (gamma, beta) = (p.parameters, p.parameters + c)
        if p.shard.phase == 0 {
            if let pool = fusedPool {
                BatchNormKernels.pooledGradientSums(maxima: p.saved, batch: p.batch, pool: pool,
                                                    outputGradient: p.outputGradient, gamma: gamma, beta: beta,
                                                    mean: slots.mean, inverseStd: slots.inverseStd, relu: fusedReLU,
                                                    gammaGradient: slots.gammaGradient, betaGradient: slots.betaGradient,
                                                    scratch: p.scratch.floats(BatchNormKernels.pooledScratch(pool)))
            } else {
                BatchNormKernels.gradientSums(p.input, outputGradient: p.outputGradient, rows: rows, channels: c,
                                              gamma: gamma, beta: beta, mean: slots.mean, inverseStd: slots.inverseStd,
                                              relu: fusedReLU, gammaGradient: slots.gammaGradient, betaGradient: slots.betaGradient)
            }
            p.parameterGradients.update(from: slots.gammaGradient, count: c)
            (p.parameterGradients + c).update(from: slots.betaGradient, count: c)
            return
        }
        guard p.inputGradient != nil || p.previousWeightGradient != nil else { return }
        slots.combine(4, into: slots.totalBetaGradient)
        slots.combine(5, into: slots.totalGammaGradient)
        let totalRows = p.shard.totalBatch * rowsPerExample
        if let previous = p.previousWeightGradient {
            BatchNormKernels.pooledInputGradient(p.input, batch: p.batch, pool: fusedPool!, output: p.output,
                                                 outputGradient: p.outputGradient, gamma: gamma, beta: beta,
                                                 mean: slots.mean, inverseStd: slots.inverseStd, relu: fusedReLU,
                                                 gammaGradient: slots.totalGammaGradient, betaGradient: slots.totalBetaGradient,
                                                 totalRows: totalRows, intoWeightGradientOf: previous,
                                                 scratch: p.scratch.floats(BatchNormKernels.pooledScratch(fusedPool!)),
                                                 dxSums: p.inputGradientColumnSums)
            return
        }
        let dx = p.inputGradient!
        if let pool = fusedPool {
            BatchNormKernels.pooledInputGradient(p.input, batch: p.batch, pool: pool, output: p.output,
                                                 outputGradient: p.outputGradient, gamma: gamma, beta: beta,
                                                 mean: slots.mean, inverseStd: slots.inverseStd, relu: fusedReLU,
                                                 gammaGradient: slots.totalGammaGradient, betaGradient: slots.totalBetaGradient,
                                                 totalRows: totalRows, inputGradient: dx,
                                                 scratch: p.scratch.floats(BatchNormKernels.pooledScratch(pool)),
                                                 dxSums: p.inputGradientColumnSums)
        } else {
            BatchNormKernels.inputGradient(p.input, outputGradient: p.outputGradient, rows: rows, channels: c,
                                           gamma: gamma, beta: beta, mean: slots.mean, inverseStd: slots.inverseStd,
                                           relu: fusedReLU, gammaGradient: slots.totalGammaGradient,
                                           betaGradient: slots.totalBetaGradient, totalRows: totalRows, inputGradient: dx,
                                           dxSums: p.inputGradientColumnSums)
        }
    }
}

/// `max(0, x)`.
public final class ReLU: Layer {
    private var count = 0
    public var kind: String { "relu" }
    public func unboundCopy() -> any Layer { ReLU() }
    public init() {}
    public func bind(inputShape: Shape) throws -> Shape { count = inputShape.reduce(1, *); return inputShape }
    public func forward(_ p: ForwardPass) { Activations.reluForward(p.input, p.output, count: p.batch * count) }
    public func backward(_ p: BackwardPass) {
        if let dx = p.inputGradient { Activations.reluBackward(output: p.output, p.outputGradient, dx, count: p.batch * count) }
    }
}

/// `tanh(x)`.
public final class Tanh: Layer {
    private var count = 0
    public var kind: String { "tanh" }
    public func unboundCopy() -> any Layer { Tanh() }
    public init() {}
    public func bind(inputShape: Shape) throws -> Shape { count = inputShape.reduce(1, *); return inputShape }
    public func forward(_ p: ForwardPass) { Activations.tanhForward(p.input, p.output, count: p.batch * count) }
    public func backward(_ p: BackwardPass) {
        if let dx = p.inputGradient { Activations.tanhBackward(output: p.output, p.outputGradient, dx, count: p.batch * count) }
    }
}

/// Max pooling over `kernelSize × kernelSize` windows of NHWC images.
public final class MaxPool2d: Layer {
    public let kernelSize: Int
    public let stride: Int
    public let padding: Padding
    public private(set) var geometry: PoolGeometry?
    public var kind: String { "pool" }
    public func unboundCopy() -> any Layer { MaxPool2d(kernelSize: kernelSize, stride: stride, padding: padding) }

    public init(kernelSize: Int = 2, stride: Int = 2, padding: Padding = .same) {
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
    }

    public func bind(inputShape: Shape) throws -> Shape {
        guard inputShape.count == 3 else { throw ModelError("MaxPool2d needs [height, width, channels] inputs, got \(inputShape)") }
        var g = PoolGeometry.same(inputHeight: inputShape[0], inputWidth: inputShape[1], channels: inputShape[2],
                                  size: kernelSize, stride: stride)
        if padding == .valid {
            g.padTop = 0; g.padLeft = 0
            g.outputHeight = (inputShape[0] - kernelSize) / stride + 1
            g.outputWidth = (inputShape[1] - kernelSize) / stride + 1
        }
        geometry = g
        return [g.outputHeight, g.outputWidth, g.channels]
    }

    public func forward(_ p: ForwardPass) { PoolingKernels.maxForward(geometry!, batch: p.batch, input: p.input, output: p.output) }
    public func backward(_ p: BackwardPass) {
        if let dx = p.inputGradient {
            PoolingKernels.maxBackward(geometry!, batch: p.batch, input: p.input, output: p.output,
                                       outputGradient: p.outputGradient, inputGradient: dx)
        }
    }
}

/// Reshapes each example to one axis (a copy; the data order is unchanged).
public final class Flatten: Layer {
    private var count = 0
    public var kind: String { "flatten" }
    public func unboundCopy() -> any Layer { Flatten() }
    public init() {}
    public func bind(inputShape: Shape) throws -> Shape { count = inputShape.reduce(1, *); return [count] }
    public func forward(_ p: ForwardPass) { p.output.update(from: p.input, count: p.batch * count) }
    public func backward(_ p: BackwardPass) {
        if let dx = p.inputGradient { dx.update(from: p.outputGradient, count: p.batch * count) }
    }
}
