// An estimate of what one core can do: the throughput of a register-resident multiply-add loop
// written with the same SIMD types and build settings as the kernels. Benchmarks report achieved
// GFLOP/s as a fraction of this.

import Foundation

public enum PeakThroughput {
    /// Measures floating-point operations per second of one thread running a loop of independent
    /// `SIMD16<Float>` multiply-adds (12 accumulators, no memory traffic), for about `seconds`.
    public static func measurePerCore(seconds: Double = 0.2) -> Double {
        var best = 0.0
        let rounds = 200_000
        let start = Date()
        var sink: Float = 0
        repeat {
            let t0 = DispatchTime.now().uptimeNanoseconds
            sink += fmaLoop(rounds: rounds)
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            // 12 accumulators × 16 lanes × 2 flops per multiply-add.
            best = max(best, Double(rounds) * 12 * 16 * 2 / elapsed)
        } while Date().timeIntervalSince(start) < seconds
        if sink == .infinity { print("") }  // Keeps the loop's result alive.
        return best
    }

    @inline(never)
    static func fmaLoop(rounds: Int) -> Float {
        let a = SIMD16<Float>(repeating: 0.999_99), b = SIMD16<Float>(repeating: 1e-6)
        var c0 = SIMD16<Float>(repeating: 0), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0
        var c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0
        for _ in 0..<rounds {
            c0 = c0.fma(a, b); c1 = c1.fma(a, b); c2 = c2.fma(a, b); c3 = c3.fma(a, b)
            c4 = c4.fma(a, b); c5 = c5.fma(a, b); c6 = c6.fma(a, b); c7 = c7.fma(a, b)
            c8 = c8.fma(a, b); c9 = c9.fma(a, b); c10 = c10.fma(a, b); c11 = c11.fma(a, b)
        }
        let s = (c0 + c1 + c2 + c3) + (c4 + c5 + c6 + c7) + (c8 + c9 + c10 + c11)
        return s.sum()
    }
}
