// The sine-wave regression tasks of the Reptile blog's demo.

import Foundation
import ReptileKernels
import ReptileMeta

/// One sine wave y = A·sin(x + φ) sampled at fixed points.
public struct SineTask: SupervisedTask, Sendable, Equatable {
    public var amplitude: Float
    public var phase: Float
    /// The x positions of the task's examples.
    public var xs: [Float]

    public init(amplitude: Float, phase: Float, xs: [Float]) {
        self.amplitude = amplitude
        self.phase = phase
        self.xs = xs
    }

    /// y at `x`.
    public func callAsFunction(_ x: Float) -> Float { amplitude * Foundation.sin(x + phase) }

    public var exampleCount: Int { xs.count }

    public func writeExample(_ index: Int, input: FloatView, target: FloatView) {
        input[0] = xs[index]
        target[0] = self(xs[index])
    }

    /// The same wave sampled at other points.
    public func sampled(at xs: [Float]) -> SineTask { SineTask(amplitude: amplitude, phase: phase, xs: xs) }
}

/// The demo's distribution: A ~ U(0.1, 5), φ ~ U(0, 2π), x = 50 evenly spaced points on [−5, 5].
public struct SineTasks: TaskDistribution, Sendable {
    public var amplitudes: ClosedRange<Float>
    public var phases: ClosedRange<Float>
    /// The x positions every task is sampled at.
    public let xs: [Float]

    public init(amplitudes: ClosedRange<Float> = 0.1...5, phases: ClosedRange<Float> = 0...(2 * .pi),
                pointCount: Int = 50, xRange: ClosedRange<Float> = -5...5) {
        self.amplitudes = amplitudes
        self.phases = phases
        xs = SineTasks.linspace(xRange, count: pointCount)
    }

    public func sampleTask(using rng: inout RandomGenerator) -> SineTask {
        let phase = rng.uniform(phases.lowerBound, phases.upperBound)
        let amplitude = rng.uniform(amplitudes.lowerBound, amplitudes.upperBound)
        return SineTask(amplitude: amplitude, phase: phase, xs: xs)
    }

    /// `count` evenly spaced values from the lower to the upper bound, both included (numpy's linspace).
    public static func linspace(_ range: ClosedRange<Float>, count: Int) -> [Float] {
        guard count > 1 else { return [range.lowerBound] }
        let lo = Double(range.lowerBound), hi = Double(range.upperBound)
        return (0..<count).map { Float(lo + (hi - lo) * Double($0) / Double(count - 1)) }
    }
}
