// The layer protocol: what a building block of a `Sequential` model implements.

import ReptileKernels

/// The part of a batch a pass computes.
///
/// A ``Sequential`` model cuts each batch into ``Sequential/batchShards`` parts (shards) of
/// consecutive examples, so that two threads can compute one step together
/// (`Learner.team`). A layer whose results depend on the whole batch (a sum over it: batch
/// statistics) runs in phases: every shard finishes phase *p* before any starts phase *p* + 1,
/// and each shard leaves its part of the sum in `reductions` for the others to combine, always
/// in shard order, so the floats do not depend on who computes which shard.
public struct ShardContext {
    /// The phase to run, `0..<forwardPhases` (or `backwardPhases`).
    package var phase: Int
    /// This shard.
    package var shard: Int
    /// The number of shards of this batch.
    package var count: Int
    /// Examples in the whole batch.
    package var totalBatch: Int
    /// `count × reductionCount` floats shared by the shards: shard k's part starts at
    /// `k × reductionCount`.
    package var reductions: UnsafeMutablePointer<Float>
}

/// What a layer receives in the forward pass: buffers for `batch` examples (one shard of the
/// batch), all owned by the model's `Workspace` (nothing is allocated per step). Its buffers are
/// visible inside this package only: the layers are the library's.
public struct ForwardPass {
    /// Number of examples (of this shard).
    package var batch: Int
    /// `batch × inputCount` floats.
    package var input: UnsafePointer<Float>
    /// `batch × outputCount` floats to write.
    package var output: UnsafeMutablePointer<Float>
    /// This layer's parameters (its slice of the flat vector, in ``Layer/parameterSpecs`` order).
    package var parameters: UnsafePointer<Float>
    /// ``Layer/savedCount(batch:)`` floats the layer may fill for its backward pass.
    package var saved: UnsafeMutablePointer<Float>
    /// Per-thread scratch memory for the kernels.
    package var scratch: KernelScratch
    /// Which shard and phase this is.
    package var shard: ShardContext
    /// If given, the layer also writes here each output channel's sum over this shard's rows,
    /// added row after row (what a ``BatchNorm`` after a ``Conv2d`` would compute first).
    package var outputColumnSums: UnsafeMutablePointer<Float>? = nil
    /// The precision of the products (``Sequential/precision``).
    package var precision: Precision = .fp32
}

/// What a layer receives in the backward pass.
public struct BackwardPass {
    package var batch: Int
    /// The forward pass's input.
    package var input: UnsafePointer<Float>
    /// The forward pass's output.
    package var output: UnsafePointer<Float>
    /// The gradient of the loss with respect to `output`; the layer may overwrite it.
    package var outputGradient: UnsafeMutablePointer<Float>
    /// Where to write the gradient with respect to `input`, or nil when nobody needs it (the
    /// first layer): skipping it saves a whole matrix product.
    package var inputGradient: UnsafeMutablePointer<Float>?
    package var parameters: UnsafePointer<Float>
    /// Where to write (not add) the gradient with respect to this layer's parameters.
    package var parameterGradients: UnsafeMutablePointer<Float>
    /// What the forward pass left in its `saved` buffer.
    package var saved: UnsafeMutablePointer<Float>
    package var scratch: KernelScratch
    package var shard: ShardContext
    /// If given, the layer also writes here each channel's sum of its input gradient over this
    /// shard's rows, added row after row (the bias gradient of a ``Conv2d`` before a ``BatchNorm``).
    package var inputGradientColumnSums: UnsafeMutablePointer<Float>? = nil
    /// If given (to a ``BatchNorm`` right after the first layer, a ``Conv2d``, when nobody needs
    /// the model's input gradient), the layer hands its input gradient, chunk by chunk, to that
    /// convolution's weight gradient instead of writing it (``inputGradient`` is then unused).
    package var previousWeightGradient: ConvolutionWeightGradientRows? = nil
    /// Whether the layer after this one already wrote this layer's weight gradient
    /// (``previousWeightGradient``).
    package var weightGradientGiven = false
    /// The precision of the products (``Sequential/precision``).
    package var precision: Precision = .fp32
}

/// A building block of a ``Sequential`` model.
///
/// A model binds its own copy of a layer (``unboundCopy()``) once to the shape of its input
/// (``bind(inputShape:)``), then runs its forward and backward passes on buffers the model provides. It keeps no per-step state of its own, so one
/// model can run on several threads at once, each with its own `Workspace`.
public protocol Layer: AnyObject {
    /// A short lowercase word used to name the layer's parameters (`conv`, `linear`, `bn`).
    var kind: String { get }
    /// A new layer with the same description (sizes, options), bound to nothing. A ``Sequential``
    /// binds and plans its own copies, so the layers one writes are descriptions: the same ones
    /// can build several models.
    func unboundCopy() -> any Layer
    /// Fixes the input shape and returns the output shape, or throws ``ModelError`` when the
    /// layer cannot take that input.
    func bind(inputShape: Shape) throws -> Shape
    /// The parameters of the layer (valid after binding), in the order they are stored.
    var parameterSpecs: [ParameterSpec] { get }
    /// Floats the layer keeps from its forward pass for its backward pass, for `batch` examples
    /// (each shard has its own).
    func savedCount(batch: Int) -> Int
    /// Floats each shard shares with the others for sums over the whole batch (see ``ShardContext``).
    var reductionCount: Int { get }
    /// Phases of the forward pass (``ShardContext``); 1 for layers that work example by example.
    var forwardPhases: Int { get }
    /// Phases of the backward pass.
    var backwardPhases: Int { get }
    /// Multiply-adds per example in the forward pass (for FLOP counts).
    var forwardMultiplyAdds: Int { get }
    /// Computes the output.
    func forward(_ pass: ForwardPass)
    /// Computes the gradients. The parameter gradients are this shard's part: ``Sequential`` adds
    /// the shards' parts in shard order.
    func backward(_ pass: BackwardPass)
    /// Whether ``backward(_:)`` may write the input gradient over the output gradient: input and
    /// output have the same size, and each element's input gradient is written only after that
    /// element's output gradient has been read for the last time. ``Sequential`` then passes one
    /// buffer for both, which keeps the gradient in cache instead of streaming a second one.
    var computesInputGradientInPlace: Bool { get }
}

extension Layer {
    public var parameterSpecs: [ParameterSpec] { [] }
    public func savedCount(batch: Int) -> Int { 0 }
    public var reductionCount: Int { 0 }
    public var forwardPhases: Int { 1 }
    public var backwardPhases: Int { 1 }
    public var forwardMultiplyAdds: Int { 0 }
    public var computesInputGradientInPlace: Bool { false }
}

/// A model that cannot be built as described (mismatched shapes, invalid sizes).
public struct ModelError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
