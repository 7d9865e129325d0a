// Aligned, fixed-size float storage for activations and scratch space.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A fixed-size, 64-byte-aligned buffer of floats with ``kernelReadSlack`` readable (zeroed)
/// floats after its end, for activations, gradients and scratch space that kernels reuse on
/// every step. Allocate once, outside the training loop.
public final class FloatBuffer: @unchecked Sendable {
    /// The first float.
    public let pointer: UnsafeMutablePointer<Float>
    /// Usable floats (the slack is not counted).
    public let count: Int

    /// Allocates `count` floats, all zero.
    public init(count: Int) {
        precondition(count >= 0, "FloatBuffer count must be non-negative")
        let total = count + kernelReadSlack
        var raw: UnsafeMutableRawPointer?
        let status = posix_memalign(&raw, 64, total * MemoryLayout<Float>.stride)
        precondition(status == 0 && raw != nil, "out of memory allocating \(total) floats")
        pointer = raw!.bindMemory(to: Float.self, capacity: total)
        pointer.initialize(repeating: 0, count: total)
        self.count = count
    }

    deinit { free(pointer) }

    /// The buffer's usable floats.
    public var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: pointer, count: count) }

    /// Sets every float to zero.
    public func zero() { pointer.update(repeating: 0, count: count) }

    /// A copy of the usable floats.
    public var array: [Float] { Array(buffer) }
}

/// Reusable scratch memory for kernels that need pointer tables or temporary floats.
///
/// One per thread. It grows on demand and never shrinks, so after the first training step it
/// no longer allocates.
public final class KernelScratch: @unchecked Sendable {
    private var floatStorage: FloatBuffer
    private var pointerStorage: UnsafeMutablePointer<UnsafePointer<Float>>
    private var pointerCapacity: Int
    private var mutablePointerStorage: UnsafeMutablePointer<UnsafeMutablePointer<Float>>
    private var mutablePointerCapacity: Int
    /// A block of zeros that rows outside an image (padding) read from.
    public private(set) var zeros: FloatBuffer
    /// A block that rows outside a tile write to; its content is garbage.
    public private(set) var junk: FloatBuffer

    public init() {
        floatStorage = FloatBuffer(count: 0)
        pointerCapacity = 64
        pointerStorage = .allocate(capacity: 64)
        mutablePointerCapacity = 64
        mutablePointerStorage = .allocate(capacity: 64)
        zeros = FloatBuffer(count: 1024)
        junk = FloatBuffer(count: 1024)
    }

    deinit {
        pointerStorage.deallocate()
        mutablePointerStorage.deallocate()
        offsetStorage.deallocate()
    }

    private var offsetCapacity = 0
    private var offsetStorage = UnsafeMutablePointer<Int>.allocate(capacity: 0)

    /// At least `count` integer slots (offsets precomputed for a kernel call), valid until the next call.
    func offsets(_ count: Int) -> UnsafeMutablePointer<Int> {
        if offsetCapacity < count {
            offsetStorage.deallocate()
            offsetCapacity = max(count, offsetCapacity * 2)
            offsetStorage = .allocate(capacity: offsetCapacity)
        }
        return offsetStorage
    }

    /// At least `count` floats of scratch (contents unspecified), valid until the next call.
    public func floats(_ count: Int) -> UnsafeMutablePointer<Float> {
        if floatStorage.count < count { floatStorage = FloatBuffer(count: count) }
        return floatStorage.pointer
    }

    private var transformStorage = FloatBuffer(count: 0)

    /// At least `count` floats of scratch apart from ``floats(_:)`` (contents unspecified), for
    /// kernels whose working buffers must survive the matrix products they call (Winograd's
    /// transformed tiles), valid until the next call.
    public func transformFloats(_ count: Int) -> UnsafeMutablePointer<Float> {
        if transformStorage.count < count { transformStorage = FloatBuffer(count: count) }
        return transformStorage.pointer
    }

    private var partialSumStorage = FloatBuffer(count: 0)

    /// At least `count` floats of scratch apart from ``floats(_:)`` and ``transformFloats(_:)``
    /// (contents unspecified), for sums that a kernel builds up before adding them to its output
    /// (the weight gradient of a chunk handed over by a batch norm that holds ``floats(_:)``),
    /// valid until the next call.
    func partialSums(_ count: Int) -> UnsafeMutablePointer<Float> {
        if partialSumStorage.count < count { partialSumStorage = FloatBuffer(count: count) }
        return partialSumStorage.pointer
    }

    private var bf16ActivationStorage = FloatBuffer(count: 0)
    private var bf16WeightStorage = FloatBuffer(count: 0)

    /// At least `count` 32-bit words (two bf16 each) for a bf16 copy of a product's activations,
    /// apart from the other scratch, valid until the next call.
    func bf16Activations(_ count: Int) -> UnsafeMutablePointer<Float> {
        if bf16ActivationStorage.count < count { bf16ActivationStorage = FloatBuffer(count: count) }
        return bf16ActivationStorage.pointer
    }

    /// At least `count` words for a bf16 copy of a product's weights, apart from the other scratch.
    func bf16Weights(_ count: Int) -> UnsafeMutablePointer<Float> {
        if bf16WeightStorage.count < count { bf16WeightStorage = FloatBuffer(count: count) }
        return bf16WeightStorage.pointer
    }

    /// At least `count` pointer slots, valid until the next call.
    func pointers(_ count: Int) -> UnsafeMutablePointer<UnsafePointer<Float>> {
        if pointerCapacity < count {
            pointerStorage.deallocate()
            pointerCapacity = max(count, pointerCapacity * 2)
            pointerStorage = .allocate(capacity: pointerCapacity)
        }
        return pointerStorage
    }

    /// At least `count` mutable-pointer slots, valid until the next call.
    func mutablePointers(_ count: Int) -> UnsafeMutablePointer<UnsafeMutablePointer<Float>> {
        if mutablePointerCapacity < count {
            mutablePointerStorage.deallocate()
            mutablePointerCapacity = max(count, mutablePointerCapacity * 2)
            mutablePointerStorage = .allocate(capacity: mutablePointerCapacity)
        }
        return mutablePointerStorage
    }

    /// The forms of a layer's weights that its kernels prepare before multiplying.
    enum PreparedWeights: Int, CaseIterable {
        /// Row pairs in bf16 words (the forward pass).
        case bf16Rows
        /// Transposed per tap (the input gradient).
        case transposed
        /// Transposed per tap, column pairs in bf16 words (the input gradient in bf16).
        case bf16Transposed
    }

    private var preparedStorage = PreparedWeights.allCases.map { _ in FloatBuffer(count: 0) }
    /// Per form: the weights and count its buffer holds, while ``reusingPreparedWeights(_:)`` runs.
    private var preparedSource = PreparedWeights.allCases.map { _ -> (UnsafePointer<Float>, Int)? in nil }
    private var reusesPreparedWeights = false

    /// Runs `body`, during which the kernels prepare each form of the same weights only once on
    /// this thread: a stage's shards share one transposed or bf16 copy. The caller promises that
    /// no weights change while `body` runs.
    package func reusingPreparedWeights<R>(_ body: () throws -> R) rethrows -> R {
        let outer = reusesPreparedWeights
        forgetPreparedWeights()
        reusesPreparedWeights = true
        defer {
            forgetPreparedWeights()
            reusesPreparedWeights = outer
        }
        return try body()
    }

    private func forgetPreparedWeights() {
        for k in preparedSource.indices { preparedSource[k] = nil }
    }

    /// `count` floats holding `form` of `weights`: what `prepare` writes into them, or, inside
    /// ``reusingPreparedWeights(_:)``, what it wrote for the same weights before. Valid until the
    /// next call for the same form.
    func preparedWeights(_ form: PreparedWeights, of weights: UnsafePointer<Float>, count: Int,
                         _ prepare: (UnsafeMutablePointer<Float>) -> Void) -> UnsafePointer<Float> {
        let k = form.rawValue
        if preparedStorage[k].count < count { preparedStorage[k] = FloatBuffer(count: count) }
        let buffer = preparedStorage[k].pointer
        if reusesPreparedWeights, let (source, held) = preparedSource[k], source == weights, held == count {
            return UnsafePointer(buffer)
        }
        prepare(buffer)
        preparedSource[k] = reusesPreparedWeights ? (weights, count) : nil
        return UnsafePointer(buffer)
    }

    /// Makes sure the zero and junk blocks hold at least `count` floats.
    func ensureZerosAndJunk(_ count: Int) {
        if zeros.count < count { zeros = FloatBuffer(count: count) }
        if junk.count < count { junk = FloatBuffer(count: count) }
    }
}
