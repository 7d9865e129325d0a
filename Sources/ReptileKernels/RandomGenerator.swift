// The seedable random generator behind every random choice in training and evaluation.

import Foundation

/// A fast, seedable pseudo-random generator (xoshiro256**) whose streams are derived from a seed
/// and a list of stream identifiers.
///
/// Reproducibility whatever the number of threads comes from giving every independent piece of
/// work its own stream: the task `t` of meta-iteration `i` draws from
/// `RandomGenerator(seed: seed, stream: [purpose, i, t])`, so which thread runs it, and when,
/// changes nothing. The algorithms built on it (bounded integers, shuffles, floats) are written
/// here rather than taken from the standard library, whose algorithms may change between Swift
/// versions.
public struct RandomGenerator: RandomNumberGenerator, Sendable, Equatable, Codable {
    private var s0: UInt64
    private var s1: UInt64
    private var s2: UInt64
    private var s3: UInt64

    /// A generator seeded from one 64-bit seed (expanded with SplitMix64).
    public init(seed: UInt64) {
        var sm = seed
        s0 = RandomGenerator.splitMix(&sm)
        s1 = RandomGenerator.splitMix(&sm)
        s2 = RandomGenerator.splitMix(&sm)
        s3 = RandomGenerator.splitMix(&sm)
        if s0 | s1 | s2 | s3 == 0 { s0 = 0x9E37_79B9_7F4A_7C15 }
    }

    /// A generator for an independent stream: the seed and each identifier are mixed in turn.
    public init(seed: UInt64, stream: [UInt64]) {
        var key = RandomGenerator.mix(seed ^ 0x5851_F42D_4C95_7F2D)
        for id in stream {
            key = RandomGenerator.mix(key ^ RandomGenerator.mix(id &+ 0x9E37_79B9_7F4A_7C15))
        }
        self.init(seed: key)
    }

    /// Convenience for integer seeds and stream identifiers.
    public init(seed: Int, stream: Int...) {
        self.init(seed: UInt64(bitPattern: Int64(seed)), stream: stream.map { UInt64(bitPattern: Int64($0)) })
    }

    @inline(__always)
    private static func splitMix(_ state: inout UInt64) -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return mix(state)
    }

    @inline(__always)
    private static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The next 64 random bits.
    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = s3 << 45 | s3 >> 19
        return result
    }

    /// A float uniformly distributed in [0, 1), with 24 random bits.
    @inline(__always)
    public mutating func nextFloat() -> Float {
        Float(next() >> 40) * 0x1p-24
    }

    /// A double uniformly distributed in [0, 1), with 53 random bits.
    @inline(__always)
    public mutating func nextDouble() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    /// A float uniformly distributed in [`low`, `high`).
    @inline(__always)
    public mutating func uniform(_ low: Float, _ high: Float) -> Float {
        low + (high - low) * nextFloat()
    }

    /// A double uniformly distributed in [`low`, `high`).
    @inline(__always)
    public mutating func uniform(_ low: Double, _ high: Double) -> Double {
        low + (high - low) * nextDouble()
    }

    /// An integer uniformly distributed in 0..<`bound` (unbiased; Lemire's method).
    public mutating func nextInt(below bound: Int) -> Int {
        precondition(bound > 0, "nextInt(below:) needs a positive bound")
        let b = UInt64(bound)
        var product = next().multipliedFullWidth(by: b)
        if product.low < b {
            let threshold = (0 &- b) % b
            while product.low < threshold {
                product = next().multipliedFullWidth(by: b)
            }
        }
        return Int(product.high)
    }

    /// A standard normal sample (Box–Muller).
    public mutating func normal() -> Double {
        let u1 = 1 - nextDouble()  // (0, 1]
        let u2 = nextDouble()
        return (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2)
    }

    /// Shuffles `array` in place (Fisher–Yates).
    public mutating func shuffle<T>(_ array: inout [T]) {
        var i = array.count - 1
        while i > 0 {
            let j = nextInt(below: i + 1)
            array.swapAt(i, j)
            i -= 1
        }
    }

    /// Shuffles a buffer in place (Fisher–Yates).
    public mutating func shuffle<T>(_ buffer: UnsafeMutableBufferPointer<T>) {
        var i = buffer.count - 1
        while i > 0 {
            let j = nextInt(below: i + 1)
            buffer.swapAt(i, j)
            i -= 1
        }
    }

    /// `count` distinct integers from 0..<`population`, in random order.
    public mutating func sample(_ count: Int, from population: Int) -> [Int] {
        precondition(count <= population, "cannot sample \(count) distinct items from \(population)")
        var pool = Array(0..<population)
        for i in 0..<count {
            let j = i + nextInt(below: population - i)
            pool.swapAt(i, j)
        }
        return Array(pool[0..<count])
    }

    /// The generator's four state words (for checkpoints).
    public var state: [UInt64] { [s0, s1, s2, s3] }

    /// Restores a generator from ``state``.
    public init?(state: [UInt64]) {
        guard state.count == 4, state.contains(where: { $0 != 0 }) else { return nil }
        s0 = state[0]; s1 = state[1]; s2 = state[2]; s3 = state[3]
    }
}
