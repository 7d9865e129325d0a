// An estimate of what one core can do: the throughput of a register-resident multiply-add loop
// run with the same instructions as the matrix kernels. Benchmarks report achieved
// GFLOP/s as a fraction of this.

import CReptileKernels
import Foundation

public enum PeakThroughput {
    /// Measures floating-point operations per second of one thread running a loop of independent
    /// multiply-adds (12 accumulators, no memory traffic) with the vector instructions the matrix
    /// kernels use, for about `seconds`.
    public static func measurePerCore(seconds: Double = 0.2) -> Double {
        let kernels = selectedMicrokernels
        var best = 0.0
        let rounds = 200_000
        let start = Date()
        var sink: Float = 0
        repeat {
            let t0 = DispatchTime.now().uptimeNanoseconds
            sink += kernels.peak_loop(rounds)
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            // 12 accumulators × lanes × 2 flops per multiply-add.
            best = max(best, Double(rounds) * 12 * Double(kernels.lanes) * 2 / elapsed)
        } while Date().timeIntervalSince(start) < seconds
        if sink == .infinity { print("") }  // Keeps the loop's result alive.
        return best
    }
}
