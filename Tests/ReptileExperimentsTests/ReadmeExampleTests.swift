import Testing
import Foundation
import Reptile

// The README's library example, verbatim between the markers (a test below checks that the
// README's code block and these lines are the same), run and checked that it learns.
// README-EXAMPLE-BEGIN
struct Waves: TaskDistribution {   // fit y = a·sin(x + b) from 10 points
    func sampleTask(using rng: inout RandomGenerator) -> SineTask {
        SineTask(amplitude: rng.uniform(0.1, 5), phase: rng.uniform(0, 2 * .pi),
                 xs: (0..<10).map { _ in rng.uniform(-5, 5) })
    }
}
func readmeExample() throws -> (model: Sequential, initialization: [Float]) {
let model = try Sequential(inputShape: [1]) { Linear(1, 64); Tanh(); Linear(64, 64); Tanh(); Linear(64, 1) }
let config = MetaTrainingConfiguration(inner: InnerLoopConfiguration(batchSize: 10, iterations: 32),
                                       metaStepSize: 0.1, metaStepSizeFinal: 0, metaIterations: 3000)
let reptile = MetaTrainer(model: model, loss: .meanSquaredError, tasks: Waves(),
                          innerOptimizer: SGD(learningRate: 0.02), configuration: config)
for _ in 0..<config.metaIterations { reptile.step() }   // a task, 32 SGD steps, θ ← θ + ε(W − θ)
let initialization = reptile.parameters                 // one flat [Float]

// Adapt it to a new wave from its 10 points (32 SGD steps), and see how well it fits.
var rng = RandomGenerator(seed: 1)
let wave = Waves().sampleTask(using: &rng)
let adapted = model.adapt(initialization, to: wave, loss: .meanSquaredError, steps: 32,
                          optimizer: SGD(learningRate: 0.02), batchSize: 10)
print(model.loss(adapted, on: wave, loss: .meanSquaredError), model.predict(adapted, inputs: [[0.5]]))
return (model, initialization)
}
// README-EXAMPLE-END

@Test func readmeExampleIsTheREADMEsCode() throws {
    let here = URL(fileURLWithPath: #filePath)
    let readme = try String(contentsOf: here.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                                .appendingPathComponent("README.md"), encoding: .utf8)
    let test = try String(contentsOf: here, encoding: .utf8)
    func lines(_ text: Substring) -> [String] {
        text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && $0 != "import Reptile" && !$0.hasPrefix("func readmeExample") && !$0.hasPrefix("return (model") && $0 != "}" }
    }
    let block = try #require(readme.range(of: "```swift\nimport Reptile").flatMap { start in
        readme[start.upperBound...].range(of: "```").map { readme[start.upperBound..<$0.lowerBound] } })
    let marked = try #require(test.range(of: "// README-EXAMPLE-BEGIN\n").flatMap { start in
        test[start.upperBound...].range(of: "// README-EXAMPLE-END").map { test[start.upperBound..<$0.lowerBound] } })
    #expect(lines(block) == lines(marked))
}

@Test func readmeExampleMetaLearnsAnInitializationThatAdaptsFast() throws {
    let (model, initialization) = try readmeExample()
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
