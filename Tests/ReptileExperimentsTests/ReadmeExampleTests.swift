import Testing
import Reptile

// The README's library example, verbatim (between the markers), plus a check that it learned.
// README-EXAMPLE-BEGIN
/// Tasks: fit y = a·sin(x + b) from 10 points. Any `TaskDistribution` of `SupervisedTask`s works.
struct Waves: TaskDistribution {
    func sampleTask(using rng: inout RandomGenerator) -> SineTask {
        SineTask(amplitude: rng.uniform(0.1, 5), phase: rng.uniform(0, 2 * .pi),
                 xs: (0..<10).map { _ in rng.uniform(-5, 5) })
    }
}

func metaTrainWaves(iterations: Int) throws -> (Sequential, [Float]) {
    let model = try Sequential(inputShape: [1]) { Linear(1, 64); Tanh(); Linear(64, 64); Tanh(); Linear(64, 1) }
    let config = MetaTrainingConfiguration(inner: InnerLoopConfiguration(batchSize: 10, iterations: 32),
                                           metaStepSize: 0.1, metaStepSizeFinal: 0, metaIterations: iterations)
    let reptile = MetaTrainer(model: model, loss: .meanSquaredError, tasks: Waves(),
                              innerOptimizer: SGD(learningRate: 0.02), configuration: config)
    for _ in 0..<iterations { reptile.step() }   // each step: a task, 32 SGD steps, θ ← θ + ε(W − θ)
    return (model, reptile.parameters)           // the initialization: one flat [Float]
}
// README-EXAMPLE-END

@Test func readmeExampleMetaLearnsAnInitializationThatAdaptsFast() throws {
    let (model, initialization) = try metaTrainWaves(iterations: 3000)
    func lossAfterAdapting(_ start: [Float]) -> Float {
        var total: Float = 0
        var taskRNG = RandomGenerator(seed: 42, stream: [0])
        for _ in 0..<20 {
            let task = Waves().sampleTask(using: &taskRNG)
            let adapted = model.adapt(start, to: task, loss: .meanSquaredError, steps: 32,
                                      optimizer: SGD(learningRate: 0.02), batchSize: 10)
            total += model.loss(adapted, on: task.sampled(at: SineTasks.linspace(-5...5, count: 50)), loss: .meanSquaredError)
        }
        return total / 20
    }
    var rng2 = RandomGenerator(seed: 0, stream: [1])
    let scratch = model.initialParameters(using: &rng2)
    let metaLearned = lossAfterAdapting(initialization), fromScratch = lossAfterAdapting(scratch)
    // Sine tasks have variance ≈ 3.4 around zero; a meta-learned start fits them far better after 32 steps.
    #expect(metaLearned < 0.5 * fromScratch, "meta-learned \(metaLearned) vs from scratch \(fromScratch)")
}
