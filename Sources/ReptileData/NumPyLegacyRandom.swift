// NumPy's legacy `RandomState` (MT19937), just enough of it to draw the sine listing's plotted task.

/// The Mersenne Twister behind NumPy's `np.random.RandomState(seed)`, with the three draws the
/// seeds' PyTorch listing makes before training: `uniform` (twice) and `choice` with replacement.
///
/// The sine demo uses it so that its figure shows the very wave and training points of the
/// listing's figure for the same `--seed`; training itself uses ``RandomGenerator``.
package struct NumPyLegacyRandom: Sendable {
    private var state = [UInt32](repeating: 0, count: 624)
    private var index = 624

    /// `np.random.RandomState(seed)` for a 32-bit seed (Matsumoto & Nishimura's `init_genrand`).
    public init(seed: UInt32) {
        state[0] = seed
        for i in 1..<624 {
            state[i] = 1_812_433_253 &* (state[i - 1] ^ (state[i - 1] >> 30)) &+ UInt32(i)
        }
    }

    /// The next 32 random bits.
    public mutating func nextUInt32() -> UInt32 {
        if index >= 624 { twist() }
        var y = state[index]
        index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C_5680
        y ^= (y << 15) & 0xEFC6_0000
        y ^= y >> 18
        return y
    }

    private mutating func twist() {
        for i in 0..<624 {
            let y = (state[i] & 0x8000_0000) | (state[(i + 1) % 624] & 0x7FFF_FFFF)
            var next = state[(i + 397) % 624] ^ (y >> 1)
            if y & 1 != 0 { next ^= 0x9908_B0DF }
            state[i] = next
        }
        index = 0
    }

    /// `random_sample()`: a double in [0, 1) with 53 random bits.
    public mutating func randomSample() -> Double {
        let a = Double(nextUInt32() >> 5), b = Double(nextUInt32() >> 6)
        return (a * 67_108_864 + b) / 9_007_199_254_740_992
    }

    /// `uniform(low, high)`.
    public mutating func uniform(_ low: Double, _ high: Double) -> Double {
        low + (high - low) * randomSample()
    }

    /// `choice(n, size)` with replacement, i.e. `randint(0, n, size)`: masked rejection sampling.
    public mutating func choice(_ n: Int, size: Int) -> [Int] {
        precondition(n > 0 && n <= Int(UInt32.max), "choice needs 1...2³² items")
        let bound = UInt32(n - 1)
        var mask = bound
        mask |= mask >> 1; mask |= mask >> 2; mask |= mask >> 4; mask |= mask >> 8; mask |= mask >> 16
        return (0..<size).map { _ in
            var value = nextUInt32() & mask
            while value > bound { value = nextUInt32() & mask }
            return Int(value)
        }
    }
}
