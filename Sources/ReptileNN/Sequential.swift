// A model as a sequence of layers, compiled once into a plan of buffers.

import ReptileKernels

/// Builds the layer list of a ``Sequential`` model.
@resultBuilder
public enum LayerBuilder {
    public static func buildExpression(_ layer: any Layer) -> [any Layer] { [layer] }
    public static func buildExpression(_ layers: [any Layer]) -> [any Layer] { layers }
    public static func buildBlock(_ parts: [any Layer]...) -> [any Layer] { parts.flatMap { $0 } }
    public static func buildArray(_ parts: [[any Layer]]) -> [any Layer] { parts.flatMap { $0 } }
    public static func buildOptional(_ part: [any Layer]?) -> [any Layer] { part ?? [] }
    public static func buildEither(first: [any Layer]) -> [any Layer] { first }
    public static func buildEither(second: [any Layer]) -> [any Layer] { second }
}

/// A feed-forward model: layers applied one after another.
///
/// ```swift
/// let model = try Sequential(inputShape: [1]) {
///     Linear(1, 64); Tanh()
///     Linear(64, 64); Tanh()
///     Linear(64, 1)
/// }
/// var rng = RandomGenerator(seed: 0)
/// var parameters = model.initialParameters(using: &rng)   // one flat [Float]
/// ```
///
/// The model holds the architecture only. Its parameters are a flat `[Float]` described by
/// ``layout`` and passed to every call, so that meta-learning can keep several copies (the
/// initialization, a task's adapted weights) and move between them with vector operations.
/// Activations live in a `Workspace`, one per thread.
///
/// With ``batchShards`` = 2 every batch is computed as two halves whose sums over the batch
/// (batch statistics, parameter gradients) are added in a fixed order, so that two threads can
/// share a step (`Learner.team`) and give the same floats as one.
public final class Sequential: @unchecked Sendable {
    /// The model's own copies of the layers it was built from, bound and planned, in order.
    public let layers: [any Layer]
    /// The shape of one input example.
    public let inputShape: Shape
    /// The shape of one output example.
    public let outputShape: Shape
    /// Names, shapes and offsets of the parameters in the flat vector.
    public let layout: ParameterLayout

    struct Stage {
        let layer: any Layer
        let parameterOffset: Int
        let outputShape: Shape
        var outputCount: Int { outputShape.reduce(1, *) }
        /// The layer's name as its parameters have it (`conv0`), with the layers fused into it
        /// (`bn0+relu+pool`).
        let name: String
        /// A convolution followed by a batch norm hands it the column sums of its output (the
        /// batch norm's first forward phase), and the batch norm hands back those of its input
        /// gradient (the convolution's bias gradient): each sum is taken while its rows are in
        /// cache, in the order the stage that needs it would take it (the same floats).
        var sumsOutputForNext = false
        /// For a batch norm after a convolution with a bias: that bias's offset in the parameters.
        var previousBiasOffset: Int?
        /// A pooled batch norm after the first layer, a convolution: when nobody needs the
        /// model's input gradient, it hands its input gradient chunk by chunk to the
        /// convolution's weight gradient instead of writing it whole (the same floats).
        var handsInputGradientToFirstLayer = false
    }
    let stages: [Stage]
    /// Floats per input example.
    public let inputCount: Int
    /// Floats per output example.
    public let outputCount: Int
    /// The parts each batch is cut into (1 or 2): every sum over a batch is taken per part and
    /// the parts are added in order, whoever computes them. Batches too small to give each part
    /// ``minimumShardSize`` examples stay whole.
    public let batchShards: Int

    /// The precision of the convolutions' products (`Precision`): fp32 (the default), or bf16
    /// products with fp32 sums where the CPU has AVX512-BF16 (`Precision.isAvailable`; setting
    /// an unavailable one stops the program). The parameters, their gradients and the optimizers'
    /// state stay fp32 either way. Set it before training, not while a pass runs.
    public var precision: Precision = .fp32 {
        didSet { precondition(precision.isAvailable, precision.unavailableReason ?? "") }
    }

    /// The fewest examples a shard gets. Smaller shards cost more than a second core saves (the
    /// kernels' fixed costs), and evaluation's batches of 5 or 6 run faster whole.
    public static let minimumShardSize = 4

    /// The number of shards a batch of `batch` examples is cut into.
    public func shardCount(batch: Int) -> Int {
        batch >= batchShards * Self.minimumShardSize ? batchShards : 1
    }

    /// Builds a model for inputs of shape `inputShape`; throws ``ModelError`` when a layer cannot
    /// take the shape its predecessor produces.
    ///
    /// A ``BatchNorm`` followed by a ``ReLU`` and/or a ``MaxPool2d`` whose windows tile its input
    /// (with channels in multiples of 16, `BatchNormKernels/canFusePooling(_:)`) runs them in
    /// one stage (the same floats, less memory traffic); `fusing: false` keeps every layer a
    /// stage of its own (the tests compare both). `batchShards: 2` cuts each batch in two
    /// halves (``batchShards``): the few-shot models do, so that two cores can share a task.
    public init(inputShape: Shape, layers: [any Layer], fusing: Bool = true, batchShards: Int = 1) throws {
        guard !inputShape.isEmpty, inputShape.allSatisfy({ $0 > 0 }) else {
            throw ModelError("input shape must have positive sizes, got \(inputShape)")
        }
        guard batchShards == 1 || batchShards == 2 else {
            throw ModelError("batchShards must be 1 or 2, got \(batchShards)")
        }
        self.batchShards = batchShards
        // The model binds and plans its own copies: the layers given stay descriptions, free to
        // build other models.
        let layers = layers.map { $0.unboundCopy() }
        self.layers = layers
        self.inputShape = inputShape
        var shape = inputShape
        var layout = ParameterLayout()
        var stages: [Stage] = []
        var counters: [String: Int] = [:]
        var i = 0
        while i < layers.count {
            let layer = layers[i]
            shape = try layer.bind(inputShape: shape)
            let index = counters[layer.kind, default: 0]
            counters[layer.kind] = index + 1
            let offset = layout.count
            var name = "\(layer.kind)\(index)"
            for spec in layer.parameterSpecs {
                layout.append(name: "\(layer.kind)\(index).\(spec.name)", shape: spec.shape, initializer: spec.initializer)
            }
            if let norm = layer as? BatchNorm {
                norm.fusedReLU = false
                norm.fusedPool = nil
                if fusing, i + 1 < layers.count, let relu = layers[i + 1] as? ReLU {
                    norm.fusedReLU = true
                    shape = try relu.bind(inputShape: shape)
                    counters["relu", default: 0] += 1
                    name += "+relu"
                    i += 1
                }
                if fusing, i + 1 < layers.count, let pool = layers[i + 1] as? MaxPool2d {
                    let pooled = try pool.bind(inputShape: shape)
                    if let geometry = pool.geometry, BatchNormKernels.canFusePooling(geometry) {
                        norm.fusedPool = geometry
                        shape = pooled
                        counters["pool", default: 0] += 1
                        name += "+pool"
                        i += 1
                        // Max pooling then ReLU (the Mini-ImageNet block) equals ReLU then max
                        // pooling, values and gradients: ReLU is monotone, and a window whose
                        // maximum is ≤ 0 passes no gradient either way.
                        if !norm.fusedReLU, i + 1 < layers.count, let relu = layers[i + 1] as? ReLU {
                            norm.fusedReLU = true
                            shape = try relu.bind(inputShape: shape)
                            counters["relu", default: 0] += 1
                            name += "+relu"
                            i += 1
                        }
                    }
                }
            }
            stages.append(Stage(layer: layer, parameterOffset: offset, outputShape: shape, name: name))
            i += 1
        }
        // Layers keep what a model decided about them (a layer list may be reused for another model).
        for stage in stages {
            (stage.layer as? BatchNorm)?.inputSumsGiven = false
            (stage.layer as? Conv2d)?.biasGradientGiven = false
        }
        if fusing {
            for s in stages.indices.dropLast() {
                guard let conv = stages[s].layer as? Conv2d, let norm = stages[s + 1].layer as? BatchNorm else { continue }
                stages[s].sumsOutputForNext = true
                norm.inputSumsGiven = true
                if conv.hasBias, let g = conv.geometry {
                    stages[s + 1].previousBiasOffset = stages[s].parameterOffset + g.weightCount
                    conv.biasGradientGiven = true
                }
                if s == 0, let g = conv.geometry, let pool = norm.fusedPool, conv.biasGradientGiven || !conv.hasBias,
                   BatchNormKernels.canHandOverInputGradient(pool: pool, to: g) {
                    stages[1].handsInputGradientToFirstLayer = true
                }
            }
        }
        self.stages = stages
        self.outputShape = shape
        self.layout = layout
        self.inputCount = inputShape.reduce(1, *)
        self.outputCount = shape.reduce(1, *)
    }

    /// Builds a model with a list of layers written one per line.
    public convenience init(inputShape: Shape, batchShards: Int = 1, @LayerBuilder _ build: () -> [any Layer]) throws {
        try self.init(inputShape: inputShape, layers: build(), batchShards: batchShards)
    }

    /// Number of trainable floats.
    public var parameterCount: Int { layout.count }

    /// Freshly initialized parameters (each tensor by its initializer, in layout order).
    public func initialParameters(using rng: inout RandomGenerator) -> [Float] {
        layout.initialValues(using: &rng)
    }

    /// Multiply-adds per example in the forward pass.
    public var forwardMultiplyAdds: Int { stages.reduce(0) { $0 + $1.layer.forwardMultiplyAdds } }

    /// Buffers for running this model on up to `maxBatch` examples at a time, on one thread.
    package func makeWorkspace(maxBatch: Int) -> Workspace { Workspace(model: self, maxBatch: maxBatch) }

    /// Runs the model on `batch` examples (`batch × inputCount` floats at `input`) and returns
    /// the output (`batch × outputCount` floats inside the workspace, valid until its next use).
    ///
    /// `input` must stay valid until ``backward(parameters:outputGradient:gradients:workspace:inputGradient:)``
    /// and must have `kernelReadSlack` readable floats past its end (`FloatBuffer` has them).
    @discardableResult
    package func forward(parameters: UnsafePointer<Float>, input: UnsafePointer<Float>, batch: Int,
                        workspace: Workspace) -> UnsafeMutablePointer<Float> {
        begin(input: input, batch: batch, workspace: workspace)
        forward(shards: 0..<batchShards, parameters: parameters, workspace: workspace, scratch: workspace.scratch)
        return workspace.activations[stages.count - 1].pointer
    }

    /// Sets the workspace's input and batch for the passes that follow.
    func begin(input: UnsafePointer<Float>, batch: Int, workspace: Workspace) {
        precondition(workspace.model === self, "workspace belongs to another model")
        precondition(batch > 0 && batch <= workspace.maxBatch, "batch \(batch) outside 1...\(workspace.maxBatch)")
        workspace.input = input
        workspace.batch = batch
    }

    /// The forward pass of `shards` on this thread from stage `first` on (the stages before it
    /// done), with `scratch`; `sync` meets the other member between the phases of a stage when
    /// another thread computes the other shards (``ShardContext``).
    func forward(shards: Range<Int>, from first: Int = 0, parameters: UnsafePointer<Float>, workspace: Workspace,
                 scratch: KernelScratch, sync: ShardTeam.Member? = nil) {
        for s in first..<stages.count {
            forwardStage(s, shards: shards, parameters: parameters, workspace: workspace, scratch: scratch, sync: sync)
        }
    }

    /// Runs every phase of stage `s` of the forward pass for `shards`.
    @inline(__always)
    func forwardStage(_ s: Int, shards: Range<Int>, parameters: UnsafePointer<Float>, workspace: Workspace,
                      scratch: KernelScratch, sync: ShardTeam.Member? = nil) {
        let stage = stages[s]
        let inCount = s > 0 ? stages[s - 1].outputCount : inputCount
        let x = s > 0 ? UnsafePointer(workspace.activations[s - 1].pointer) : workspace.input!
        // The weights stay put during a stage: its shards share their transposed or bf16 copies.
        scratch.reusingPreparedWeights {
            forEachPhase(stage.layer.forwardPhases, of: shards, workspace: workspace, sync: sync) { phase, k, count, examples in
                let first = examples.lowerBound
                assert(workspace.saved[s][k].count >= stage.layer.savedCount(batch: examples.count), "saved buffer too small")
                // The next stage's shard k reductions begin with the sums it would take (BatchNorm).
                let sums = stage.sumsOutputForNext
                    ? workspace.reductions[s + 1].pointer + k * stages[s + 1].layer.reductionCount : nil
                stage.layer.forward(ForwardPass(
                    batch: examples.count, input: x + first * inCount,
                    output: workspace.activations[s].pointer + first * stage.outputCount,
                    parameters: parameters + stage.parameterOffset, saved: workspace.saved[s][k].pointer, scratch: scratch,
                    shard: ShardContext(phase: phase, shard: k, count: count, totalBatch: workspace.batch,
                                        reductions: workspace.reductions[s].pointer),
                    outputColumnSums: sums, precision: precision))
            }
        }
    }

    /// Calls `body(phase, shard, shardCount, examples)` for each phase and each of `shards` that
    /// the current batch has, every shard's phase before the next phase, with `sync` between phases.
    @inline(__always)
    private func forEachPhase(_ phases: Int, of shards: Range<Int>, workspace: Workspace, sync: ShardTeam.Member?,
                              _ body: (Int, Int, Int, Range<Int>) -> Void) {
        let count = workspace.shardCount
        for phase in 0..<phases {
            if phase > 0 { sync?.sync() }
            for k in shards where k < count { body(phase, k, count, workspace.shardRange(k)) }
        }
    }

    /// Back-propagates `outputGradient` (`batch × outputCount` floats, may be overwritten) through
    /// the last ``forward(parameters:input:batch:workspace:)`` of this workspace, writing the
    /// gradient with respect to every parameter into `gradients` (``parameterCount`` floats) and,
    /// if `inputGradient` is given, with respect to the input.
    package func backward(parameters: UnsafePointer<Float>, outputGradient: UnsafeMutablePointer<Float>,
                         gradients: UnsafeMutablePointer<Float>, workspace: Workspace,
                         inputGradient: UnsafeMutablePointer<Float>? = nil) {
        backward(shards: 0..<batchShards, parameters: parameters, outputGradient: outputGradient, gradients: gradients,
                 workspace: workspace, scratch: workspace.scratch, inputGradient: inputGradient, addingShards: true)
    }

    /// The backward pass of `shards` on this thread through stages `last` (default: the last
    /// stage; the stages after it done) down to `stop` (default: the first), `outputGradient`
    /// being the gradient of stage `last`'s output: shard 0's parameter gradients go to
    /// `gradients`, the others' to the workspace. With `addingShards` (this thread runs every
    /// shard), each stage's part of the other shards' gradients is added into `gradients` as soon
    /// as the stage is done, while it is still in cache; otherwise
    /// ``addShardGradients(into:workspace:range:)`` adds them afterwards. Either way every float
    /// is g₀ + g₁ + …, added in shard order. Returns the gradient of stage `stop`'s input (its
    /// output gradient if it computes none: the first stage without `inputGradient`).
    @discardableResult
    func backward(shards: Range<Int>, from last: Int? = nil, to stop: Int = 0, parameters: UnsafePointer<Float>,
                  outputGradient: UnsafeMutablePointer<Float>, gradients: UnsafeMutablePointer<Float>,
                  workspace: Workspace, scratch: KernelScratch, inputGradient: UnsafeMutablePointer<Float>? = nil,
                  sync: ShardTeam.Member? = nil, addingShards: Bool = false) -> UnsafeMutablePointer<Float> {
        precondition(workspace.input != nil, "backward without a forward pass")
        var dy = outputGradient
        for s in stride(from: last ?? stages.count - 1, through: stop, by: -1) {
            if let dx = backwardStage(s, shards: shards, parameters: parameters, outputGradient: dy, gradients: gradients,
                                      workspace: workspace, scratch: scratch, inputGradient: inputGradient, sync: sync) {
                dy = dx
            }
            // A stage's parameter gradients are complete once it is done: the only other writers
            // (the bias gradient a batch norm takes, the first layer's weight gradient handed
            // over) are the stage after it, which ran before.
            if addingShards { addShardGradients(into: gradients, workspace: workspace, range: stageParameterRange(s)) }
        }
        return dy
    }

    /// The parameters of stage `s`: its offset up to the next stage's.
    func stageParameterRange(_ s: Int) -> Range<Int> {
        stages[s].parameterOffset..<(s + 1 < stages.count ? stages[s + 1].parameterOffset : parameterCount)
    }

    /// Adds the parameter gradients of shards 1… into `gradients` (shard 0's), in shard order, for
    /// the parameters `range`.
    func addShardGradients(into gradients: UnsafeMutablePointer<Float>, workspace: Workspace, range: Range<Int>) {
        guard !range.isEmpty else { return }
        for k in 1..<max(workspace.shardCount, 1) {
            Vector.add(workspace.shardGradients[k - 1].pointer + range.lowerBound, into: gradients + range.lowerBound,
                       count: range.count)
        }
    }

    /// Runs every phase of stage `s` of the backward pass for `shards` from the gradient `dy` of
    /// its output (the whole batch's buffer) and returns where it wrote the gradient of its input
    /// (nil for the first stage without `inputGradient`).
    @inline(__always)
    func backwardStage(_ s: Int, shards: Range<Int>, parameters: UnsafePointer<Float>, outputGradient dy: UnsafeMutablePointer<Float>,
                       gradients: UnsafeMutablePointer<Float>, workspace: Workspace, scratch: KernelScratch,
                       inputGradient: UnsafeMutablePointer<Float>?, sync: ShardTeam.Member? = nil) -> UnsafeMutablePointer<Float>? {
        let stage = stages[s]
        let inCount = s > 0 ? stages[s - 1].outputCount : inputCount
        let layerInput = s > 0 ? UnsafePointer(workspace.activations[s - 1].pointer) : workspace.input!
        let dx: UnsafeMutablePointer<Float>? = s == 0 ? inputGradient
            : stage.layer.computesInputGradientInPlace ? dy : workspace.gradients[s - 1].pointer
        // The first layer's weight gradient taken from the next stage's input gradient, chunk by chunk.
        let handOver = inputGradient == nil && stages.count > 1 && stages[1].handsInputGradientToFirstLayer
        scratch.reusingPreparedWeights {
            forEachPhase(stage.layer.backwardPhases, of: shards, workspace: workspace, sync: sync) { phase, k, count, examples in
                let first = examples.lowerBound
                let shardGradients = k == 0 ? gradients : workspace.shardGradients[k - 1].pointer
                var previousWeightGradient: ConvolutionWeightGradientRows?
                if handOver, s == 1, let g = (stages[0].layer as? Conv2d)?.geometry {
                    previousWeightGradient = ConvolutionWeightGradientRows(
                        geometry: g, input: workspace.input! + first * inputCount,
                        saved: workspace.saved[0][k].pointer, weightGradient: shardGradients + stages[0].parameterOffset,
                        scratch: scratch)
                }
                stage.layer.backward(BackwardPass(
                    batch: examples.count, input: layerInput + first * inCount,
                    output: workspace.activations[s].pointer + first * stage.outputCount,
                    outputGradient: dy + first * stage.outputCount, inputGradient: dx.map { $0 + first * inCount },
                    parameters: parameters + stage.parameterOffset,
                    parameterGradients: shardGradients + stage.parameterOffset,
                    saved: workspace.saved[s][k].pointer, scratch: scratch,
                    shard: ShardContext(phase: phase, shard: k, count: count, totalBatch: workspace.batch,
                                        reductions: workspace.reductions[s].pointer),
                    inputGradientColumnSums: stage.previousBiasOffset.map { shardGradients + $0 },
                    previousWeightGradient: previousWeightGradient, weightGradientGiven: handOver && s == 0,
                    precision: precision))
            }
        }
        return dx
    }

    /// Convenience for arrays: the outputs for `batch` examples.
    public func callAsFunction(_ input: [Float], parameters: [Float]) -> [Float] {
        precondition(input.count % inputCount == 0, "input size \(input.count) is not a multiple of \(inputCount)")
        precondition(parameters.count == parameterCount, "expected \(parameterCount) parameters, got \(parameters.count)")
        let batch = input.count / inputCount
        let workspace = makeWorkspace(maxBatch: batch)
        let inputBuffer = FloatBuffer(count: input.count)
        input.withUnsafeBufferPointer { inputBuffer.pointer.update(from: $0.baseAddress!, count: input.count) }
        return parameters.withUnsafeBufferPointer { p in
            let out = forward(parameters: p.baseAddress!, input: inputBuffer.pointer, batch: batch, workspace: workspace)
            return Array(UnsafeBufferPointer(start: out, count: batch * outputCount))
        }
    }
}

/// The buffers one thread needs to run a model: activations, their gradients and what layers
/// save for their backward pass, sized for a maximum batch. Made once, reused every step. When
/// two threads share a step, both use the leader's workspace (each its own shard's parts) with
/// their own kernel scratch.
package final class Workspace: @unchecked Sendable {
    public let model: Sequential
    public let maxBatch: Int
    let activations: [FloatBuffer]
    let gradients: [FloatBuffer]
    /// Per stage, one buffer per shard.
    let saved: [[FloatBuffer]]
    /// Per stage, the shards' shared sums (``Layer/reductionCount`` floats per shard).
    let reductions: [FloatBuffer]
    /// The parameter gradients of shards 1… (shard 0 writes the caller's).
    let shardGradients: [FloatBuffer]
    /// Kernel scratch memory of this thread.
    public let scratch = KernelScratch()
    var input: UnsafePointer<Float>?
    var batch = 0

    init(model: Sequential, maxBatch: Int) {
        precondition(maxBatch > 0, "maxBatch must be positive")
        self.model = model
        self.maxBatch = maxBatch
        activations = model.stages.map { FloatBuffer(count: maxBatch * $0.outputCount) }
        // A stage that back-propagates in place writes its input gradient over its output
        // gradient, so its predecessor needs no gradient buffer of its own.
        gradients = model.stages.indices.map { s in
            let inPlaceNext = s + 1 < model.stages.count && model.stages[s + 1].layer.computesInputGradientInPlace
            return FloatBuffer(count: inPlaceNext ? 0 : maxBatch * model.stages[s].outputCount)
        }
        let shards = model.batchShards
        let largestShard = (maxBatch + shards - 1) / shards
        // Shard 0 holds a whole batch when the batch is too small to cut (`shardCount`).
        saved = model.stages.map { stage in
            (0..<shards).map { k in FloatBuffer(count: stage.layer.savedCount(batch: k == 0 ? maxBatch : largestShard)) }
        }
        reductions = model.stages.map { FloatBuffer(count: shards * $0.layer.reductionCount) }
        shardGradients = (1..<shards).map { _ in FloatBuffer(count: model.parameterCount) }
    }

    /// The number of shards of the current batch (``Sequential/shardCount(batch:)``).
    var shardCount: Int { model.shardCount(batch: batch) }

    /// The examples of shard `k` of the current batch.
    @inline(__always)
    func shardRange(_ k: Int) -> Range<Int> {
        let count = shardCount
        return (k * batch / count)..<((k + 1) * batch / count)
    }

    /// Bytes held by the buffers (not counting kernel scratch).
    public var byteCount: Int {
        (activations + gradients + saved.flatMap { $0 } + reductions + shardGradients)
            .reduce(0) { $0 + ($1.count + kernelReadSlack) * 4 }
    }
}

extension Sequential {
    /// The model's outputs (`outputCount` floats each) for `inputs` (`inputCount` floats each),
    /// run as one batch (batch norm uses the batch's statistics, as in training).
    public func predict(_ parameters: [Float], inputs: [[Float]]) -> [[Float]] {
        precondition(parameters.count == parameterCount, "expected \(parameterCount) parameters, got \(parameters.count)")
        guard !inputs.isEmpty else { return [] }
        precondition(inputs.allSatisfy { $0.count == inputCount }, "every input needs \(inputCount) floats")
        let workspace = makeWorkspace(maxBatch: inputs.count)
        let flat = inputs.flatMap { $0 }
        let out = parameters.withUnsafeBufferPointer { p in
            flat.withUnsafeBufferPointer { forward(parameters: p.baseAddress!, input: $0.baseAddress!, batch: inputs.count, workspace: workspace) }
        }
        return (0..<inputs.count).map { Array(UnsafeBufferPointer(start: out + $0 * outputCount, count: outputCount)) }
    }
}
