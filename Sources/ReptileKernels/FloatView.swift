// A pointer-free view of floats the library owns, for public signatures outside the kernels.

/// `count` floats owned by the library (a parameter vector, a gradient, an example's slot in a
/// batch), lent to an optimizer or a task for the length of one call.
///
/// Code outside this package reads and writes it by index; the package's kernels use its address.
/// Do not keep a view after the call that lent it returns.
public struct FloatView {
    /// The first float.
    package let base: UnsafeMutablePointer<Float>
    /// Number of floats.
    public let count: Int

    package init(_ base: UnsafeMutablePointer<Float>, count: Int) {
        self.base = base
        self.count = count
    }

    package init(_ base: UnsafePointer<Float>, count: Int) {
        self.init(UnsafeMutablePointer(mutating: base), count: count)
    }

    package init(_ buffer: UnsafeMutableBufferPointer<Float>) {
        self.init(buffer.baseAddress!, count: buffer.count)
    }

    /// Float `index` (`0..<count`).
    public subscript(index: Int) -> Float {
        get {
            precondition(index >= 0 && index < count, "index \(index) out of range 0..<\(count)")
            return base[index]
        }
        nonmutating set {
            precondition(index >= 0 && index < count, "index \(index) out of range 0..<\(count)")
            base[index] = newValue
        }
    }

    /// Writes `values` (at most ``count`` of them) from the start.
    public func assign(_ values: [Float]) {
        precondition(values.count <= count, "\(values.count) values do not fit in \(count) floats")
        values.withUnsafeBufferPointer { base.update(from: $0.baseAddress!, count: $0.count) }
    }

    /// A copy of the floats.
    public var array: [Float] { Array(UnsafeBufferPointer(start: base, count: count)) }
}
