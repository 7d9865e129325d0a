// An estimate of what one core can do: the throughput of a register-resident multiply-add loop
// run with the same instructions as the matrix kernels. Benchmarks report achieved
// GFLOP/s as a fraction of this.

import CReptileKernels
import Foundation

public enum PeakThroughput {
    /// Measures floating-point operations per second of one thread running a loop of independent
    /// multiply-adds (12 accumulators, no memory traffic) with the vector instructions the fp32
    /// matrix kernels use, for about `seconds`.
    public static func measurePerCore(seconds: Double = 0.2) -> Double {
        let kernels = selectedMicrokernels
        return measure(seconds: seconds, multiplyAddsPerRound: 12 * Int(kernels.lanes)) { kernels.peak_loop($0) }
    }

    /// The best rate of `loop(rounds)` over about `seconds`, counting two operations per multiply-add.
    static func measure(seconds: Double, multiplyAddsPerRound: Int, _ loop: (Int) -> Float) -> Double {
        var best = 0.0
        let rounds = 200_000
        let start = Date()
        var sink: Float = 0
        repeat {
            let t0 = DispatchTime.now().uptimeNanoseconds
            sink += loop(rounds)
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            best = max(best, Double(rounds) * Double(multiplyAddsPerRound) * 2 / elapsed)
        } while Date().timeIntervalSince(start) < seconds
        if sink == .infinity { print("") }  // Keeps the loop's result alive.
        return best
    }
}
