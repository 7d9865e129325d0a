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
/// Activations live in a ``Workspace``, one per thread.
public final class Sequential: @unchecked Sendable {
    /// The layers, in order.
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
        /// The ReLU and pooling after a BatchNorm are fused into it: no stages of their own.
    }
    let stages: [Stage]
    /// Floats per input example.
    public let inputCount: Int
    /// Floats per output example.
    public let outputCount: Int

    /// Builds a model for inputs of shape `inputShape`; throws ``ModelError`` when a layer cannot
    /// take the shape its predecessor produces.
    ///
    /// A ``BatchNorm`` followed by a ``ReLU`` and/or a ``MaxPool2d`` whose windows tile its input
    /// (with channels in multiples of 16, ``BatchNormKernels/canFusePooling(_:)``) runs them in
    /// one stage (the same floats, less memory traffic); `fusing: false` keeps every layer a
    /// stage of its own (the tests compare both).
    public init(inputShape: Shape, layers: [any Layer], fusing: Bool = true) throws {
        guard !inputShape.isEmpty, inputShape.allSatisfy({ $0 > 0 }) else {
            throw ModelError("input shape must have positive sizes, got \(inputShape)")
        }
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
        self.stages = stages
        self.outputShape = shape
        self.layout = layout
        self.inputCount = inputShape.reduce(1, *)
        self.outputCount = shape.reduce(1, *)
    }

    /// Builds a model with a list of layers written one per line.
    public convenience init(inputShape: Shape, @LayerBuilder _ build: () -> [any Layer]) throws {
        try self.init(inputShape: inputShape, layers: build())
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
    public func makeWorkspace(maxBatch: Int) -> Workspace { Workspace(model: self, maxBatch: maxBatch) }

    /// Runs the model on `batch` examples (`batch × inputCount` floats at `input`) and returns
    /// the output (`batch × outputCount` floats inside the workspace, valid until its next use).
    ///
    /// `input` must stay valid until ``backward(parameters:outputGradient:gradients:workspace:inputGradient:)``
    /// and must have ``kernelReadSlack`` readable floats past its end (``FloatBuffer`` has them).
    @discardableResult
    public func forward(parameters: UnsafePointer<Float>, input: UnsafePointer<Float>, batch: Int,
                        workspace: Workspace) -> UnsafeMutablePointer<Float> {
        precondition(workspace.model === self, "workspace belongs to another model")
        precondition(batch > 0 && batch <= workspace.maxBatch, "batch \(batch) outside 1...\(workspace.maxBatch)")
        workspace.input = input
        workspace.batch = batch
        for s in stages.indices { forwardStage(s, parameters: parameters, workspace: workspace) }
        return workspace.activations[stages.count - 1].pointer
    }

    /// Runs stage `s` of the forward pass on the workspace's current input and batch.
    @inline(__always)
    func forwardStage(_ s: Int, parameters: UnsafePointer<Float>, workspace: Workspace) {
        let stage = stages[s]
        let x = s > 0 ? UnsafePointer(workspace.activations[s - 1].pointer) : workspace.input!
        stage.layer.forward(ForwardPass(batch: workspace.batch, input: x, output: workspace.activations[s].pointer,
                                        parameters: parameters + stage.parameterOffset,
                                        saved: workspace.saved[s].pointer, scratch: workspace.scratch))
    }

    /// Back-propagates `outputGradient` (`batch × outputCount` floats, may be overwritten) through
    /// the last ``forward(parameters:input:batch:workspace:)`` of this workspace, writing the
    /// gradient with respect to every parameter into `gradients` (``parameterCount`` floats) and,
    /// if `inputGradient` is given, with respect to the input.
    public func backward(parameters: UnsafePointer<Float>, outputGradient: UnsafeMutablePointer<Float>,
                         gradients: UnsafeMutablePointer<Float>, workspace: Workspace,
                         inputGradient: UnsafeMutablePointer<Float>? = nil) {
        precondition(workspace.input != nil, "backward without a forward pass")
        var dy = outputGradient
        for s in stride(from: stages.count - 1, through: 0, by: -1) {
            if let dx = backwardStage(s, parameters: parameters, outputGradient: dy, gradients: gradients,
                                      workspace: workspace, inputGradient: inputGradient) {
                dy = dx
            }
        }
    }

    /// Runs stage `s` of the backward pass from the gradient `dy` of its output and returns where
    /// it wrote the gradient of its input (nil for the first stage without `inputGradient`).
    @inline(__always)
    func backwardStage(_ s: Int, parameters: UnsafePointer<Float>, outputGradient dy: UnsafeMutablePointer<Float>,
                       gradients: UnsafeMutablePointer<Float>, workspace: Workspace,
                       inputGradient: UnsafeMutablePointer<Float>?) -> UnsafeMutablePointer<Float>? {
        let stage = stages[s]
        let layerInput = s > 0 ? UnsafePointer(workspace.activations[s - 1].pointer) : workspace.input!
        let dx: UnsafeMutablePointer<Float>? = s == 0 ? inputGradient
            : stage.layer.computesInputGradientInPlace ? dy : workspace.gradients[s - 1].pointer
        stage.layer.backward(BackwardPass(batch: workspace.batch, input: layerInput, output: workspace.activations[s].pointer,
                                          outputGradient: dy, inputGradient: dx,
                                          parameters: parameters + stage.parameterOffset,
                                          parameterGradients: gradients + stage.parameterOffset,
                                          saved: workspace.saved[s].pointer, scratch: workspace.scratch))
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
/// save for their backward pass, sized for a maximum batch. Made once, reused every step.
public final class Workspace: @unchecked Sendable {
    public let model: Sequential
    public let maxBatch: Int
    let activations: [FloatBuffer]
    let gradients: [FloatBuffer]
    let saved: [FloatBuffer]
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
        saved = model.stages.map { FloatBuffer(count: $0.layer.savedCount(batch: maxBatch)) }
    }

    /// Bytes held by the buffers (not counting kernel scratch).
    public var byteCount: Int {
        (activations + gradients + saved).reduce(0) { $0 + ($1.count + kernelReadSlack) * 4 }
    }
}
