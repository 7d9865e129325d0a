// `reptile sine`: the sine-wave demo.

import ArgumentParser
import Foundation
import Reptile
import ReptileExperiments
import ReptileFormats
import ReptileKernels
import ReptilePlot

extension SineExperiment.Activation: ExpressibleByArgument {}

struct Sine: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Meta-train the sine-wave regression demo of the Reptile blog and plot how it adapts.",
        discussion: """
        An MLP (1 → 64 → 64 → 1) is meta-trained with serial Reptile on waves y = A·sin(x + φ), \
        A ~ U(0.1, 5), φ ~ U(0, 2π): each iteration runs one epoch of SGD on a new wave's 50 points \
        (mini-batches of 10), then moves the weights a fraction ε = ε₀·(1 − i/N) toward the result. \
        Afterwards the model adapts to a fixed new wave from 10 points with 32 full-batch SGD steps.
        """)

    @Option(help: "Number of outer iterations N.")
    var iterations = 30_000

    @Option(help: "Random seed: the same seed gives the same weights and figures.")
    var seed: UInt64 = 0

    @Option(name: .customLong("inner-step"), help: "SGD step size of the inner loop.")
    var innerStep: Float = 0.02

    @Option(name: .customLong("inner-epochs"), help: "Epochs over each task's 50 points per iteration.")
    var innerEpochs = 1

    @Option(name: .customLong("outer-step"), help: "Initial outer step size ε₀ (annealed linearly to 0).")
    var outerStep: Float = 0.1

    @Option(help: "Hidden activation: tanh or relu.")
    var activation: SineExperiment.Activation = .tanh

    @Option(help: "Write the figure to this file (.svg).")
    var plot: String?

    @Flag(help: "Print one JSON object with the results on standard output.")
    var json = false

    func validate() throws {
        guard iterations > 0 else { throw ValidationError("--iterations must be at least 1, got \(iterations)") }
        guard innerEpochs > 0 else { throw ValidationError("--inner-epochs must be at least 1, got \(innerEpochs)") }
        guard innerStep > 0, innerStep.isFinite else { throw ValidationError("--inner-step must be a positive number, got \(innerStep)") }
        guard outerStep > 0, outerStep.isFinite else { throw ValidationError("--outer-step must be a positive number, got \(outerStep)") }
        if let plot {
            let ext = (plot as NSString).pathExtension.lowercased()
            guard ext == "svg" else { throw ValidationError("--plot must end in .svg (figures are SVG), got \(plot)") }
        }
    }

    func run() throws {
        var options = SineExperiment.Options()
        options.iterations = iterations
        options.seed = seed
        options.innerStep = innerStep
        options.innerEpochs = innerEpochs
        options.outerStep = outerStep
        options.activation = activation
        let progress = ProgressLine("sine: iteration")
        let result = try SineExperiment.run(options) { done, total in progress.update(done, of: total) }
        if let plot {
            try SineExperiment.figure(result).write(to: plot)
        }
        if json {
            struct Summary: Encodable {
                var iterations: Int
                var seconds: Double
                var ms_per_iteration: Double
                var loss_after_32_steps: Float
                var mean_loss_after_32_steps: Float
                var seed: UInt64
                var activation: String
                var plot: String?
            }
            try printJSON(Summary(iterations: result.iterations, seconds: result.seconds,
                                  ms_per_iteration: 1000 * result.seconds / Double(result.iterations),
                                  loss_after_32_steps: result.lossAfter32Steps,
                                  mean_loss_after_32_steps: result.meanLossAfter32Steps,
                                  seed: seed, activation: activation.rawValue, plot: plot))
        } else {
            print(String(format: "meta-trained %d iterations in %.2f s (%.3f ms/iteration)",
                         result.iterations, result.seconds, 1000 * result.seconds / Double(result.iterations)))
            print(String(format: "loss on the plotted wave after 32 steps:   %.4f", result.lossAfter32Steps))
            print(String(format: "mean loss on 100 new waves after 32 steps: %.4f", result.meanLossAfter32Steps))
            if let plot { print("figure written to \(plot)") }
        }
    }
}
