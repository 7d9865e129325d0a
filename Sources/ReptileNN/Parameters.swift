// The flat parameter vector and its named views.

import ReptileKernels

/// The shape of one example, e.g. `[28, 28, 1]` (height, width, channels) or `[64]` (features).
public typealias Shape = [Int]

/// How a parameter tensor is initialized.
public enum Initializer: Sendable, Equatable, Codable {
    /// All zeros (biases, BatchNorm's β).
    case zeros
    /// All ones (BatchNorm's γ).
    case ones
    /// Glorot (Xavier) uniform: U(−l, l) with l = √(6 / (fanIn + fanOut)).
    case glorotUniform(fanIn: Int, fanOut: Int)
    /// U(−limit, limit).
    case uniform(limit: Float)
    /// U(−1/√fanIn, 1/√fanIn): PyTorch's and MLX's default for dense layers (weights and bias).
    case uniformFanIn(fanIn: Int)

    /// Fills `count` floats at `values`, drawing from `rng`.
    package func fill(_ values: UnsafeMutablePointer<Float>, count: Int, using rng: inout RandomGenerator) {
        switch self {
        case .zeros: values.update(repeating: 0, count: count)
        case .ones: values.update(repeating: 1, count: count)
        case .glorotUniform(let fanIn, let fanOut):
            let limit = (6 / Float(fanIn + fanOut)).squareRoot()
            for i in 0..<count { values[i] = rng.uniform(-limit, limit) }
        case .uniform(let limit):
            for i in 0..<count { values[i] = rng.uniform(-limit, limit) }
        case .uniformFanIn(let fanIn):
            let limit = 1 / Float(max(fanIn, 1)).squareRoot()
            for i in 0..<count { values[i] = rng.uniform(-limit, limit) }
        }
    }
}

/// A parameter tensor a layer declares: its local name, shape and initializer.
public struct ParameterSpec: Sendable, Equatable {
    /// The name within the layer, e.g. `weight`.
    public var name: String
    public var shape: [Int]
    public var initializer: Initializer

    public init(name: String, shape: [Int], initializer: Initializer) {
        self.name = name
        self.shape = shape
        self.initializer = initializer
    }

    /// Number of floats.
    public var count: Int { shape.reduce(1, *) }
}

/// One named tensor inside the flat parameter vector.
public struct ParameterEntry: Sendable, Equatable, Codable {
    /// The full name, e.g. `conv0.weight`.
    public var name: String
    public var shape: [Int]
    /// Index of the first float in the flat vector.
    public var offset: Int
    public var initializer: Initializer

    /// Number of floats.
    public var count: Int { shape.reduce(1, *) }
    /// The floats of this tensor in the flat vector.
    public var range: Range<Int> { offset..<(offset + count) }
}

/// Where each named tensor lives in a model's flat parameter vector.
///
/// A model's trainable parameters are one contiguous `[Float]`, so that Reptile's snapshot,
/// restore, interpolate and average are single vector operations; the layout gives that vector
/// its structure back (names, shapes, offsets) for checkpoints and inspection.
public struct ParameterLayout: Sendable, Equatable, Codable {
    /// The tensors, in order.
    public private(set) var entries: [ParameterEntry] = []
    /// Total number of floats.
    public private(set) var count = 0

    public init() {}

    /// Appends a tensor at the end.
    mutating func append(name: String, shape: [Int], initializer: Initializer) {
        let entry = ParameterEntry(name: name, shape: shape, offset: count, initializer: initializer)
        entries.append(entry)
        count += entry.count
    }

    /// The entry named `name`, if any.
    public subscript(name: String) -> ParameterEntry? {
        entries.first { $0.name == name }
    }

    /// Fresh parameters: every tensor filled by its initializer, in order, from `rng`.
    public func initialValues(using rng: inout RandomGenerator) -> [Float] {
        var values = [Float](repeating: 0, count: count)
        values.withUnsafeMutableBufferPointer { buffer in
            for entry in entries {
                entry.initializer.fill(buffer.baseAddress! + entry.offset, count: entry.count, using: &rng)
            }
        }
        return values
    }
}

extension Array where Element == Float {
    /// The floats of the tensor `entry` of a flat parameter vector.
    public subscript(entry: ParameterEntry) -> ArraySlice<Float> {
        get { self[entry.range] }
        set { self[entry.range] = newValue }
    }
}
