import Testing
import Foundation
import Reptile

// The DocC getting-started article's code (ReptileMeta.docc/GettingStarted.md), its blocks in order
// between the markers (a test below checks they are the same lines), run and checked.
// ARTICLE-BEGIN
struct Lines: TaskDistribution {   // y = a·x + b, from 10 points
    func sampleTask(using rng: inout RandomGenerator) -> ArrayTask {
        let a: Float = rng.uniform(-2, 2), b: Float = rng.uniform(-1, 1)
        let xs: [[Float]] = (0..<10).map { _ in [rng.uniform(-1, 1)] }
        return ArrayTask(inputs: xs, targets: xs.map { [a * $0[0] + b] })
    }
}
func gettingStarted(folder: String) throws -> (model: Sequential, initialization: [Float], adapted: [Float], task: ArrayTask, restored: [Float]) {
let model = try Sequential(inputShape: [1]) { Linear(1, 16); Tanh(); Linear(16, 1) }
let configuration = MetaTrainingConfiguration(
    inner: InnerLoopConfiguration(batchSize: 10, iterations: 8),
    metaStepSize: 0.5, metaStepSizeFinal: 0, metaIterations: 600)
let trainer = MetaTrainer(model: model, loss: .meanSquaredError, tasks: Lines(),
                          innerOptimizer: SGD(learningRate: 0.05), configuration: configuration)
try trainer.train(every: 100) { report in
    print(report.iteration, report.innerLoss)
    return true                     // false stops early
}
let initialization = trainer.parameters
var rng = RandomGenerator(seed: 1)
let task = Lines().sampleTask(using: &rng)
let adapted = model.adapt(initialization, to: task, loss: .meanSquaredError, steps: 8,
                          optimizer: SGD(learningRate: 0.05), batchSize: 10)
print(model.loss(adapted, on: task, loss: .meanSquaredError))
print(model.predict(adapted, inputs: [[0.5]]))
try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
let checkpoint = Checkpoint(layout: model.layout, parameters: trainer.parameters,
                            innerOptimizerState: trainer.innerOptimizer.stateTensors,
                            metadata: ["iteration": "\(trainer.iteration)"])
try checkpoint.write(to: folder)
let saved = try Checkpoint.read(from: folder, layout: model.layout,
                                innerOptimizer: trainer.innerOptimizer.stateTensors)
let restored = saved.parameters          // the meta-learned initialization again
return (model, initialization, adapted, task, restored)
}
// ARTICLE-END

@Test func gettingStartedIsTheArticlesCode() throws {
    let here = URL(fileURLWithPath: #filePath)
    let article = try String(contentsOf: here.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                                .appendingPathComponent("Sources/ReptileMeta/ReptileMeta.docc/GettingStarted.md"), encoding: .utf8)
    let test = try String(contentsOf: here, encoding: .utf8)
    func lines<S: StringProtocol>(_ text: S) -> [String] {
        text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && $0 != "import Reptile" && !$0.hasPrefix("func gettingStarted") && !$0.hasPrefix("return (model")
                      && !$0.hasPrefix("let folder =") && $0 != "}" }
    }
    var blocks: [String] = []
    var rest = article[...]
    while let start = rest.range(of: "```swift\n") {
        guard let end = rest[start.upperBound...].range(of: "```") else { break }
        blocks += lines(rest[start.upperBound..<end.lowerBound])
        rest = rest[end.upperBound...]
    }
    let marked = try #require(test.range(of: "// ARTICLE-BEGIN\n").flatMap { start in
        test[start.upperBound...].range(of: "// ARTICLE-END").map { test[start.upperBound..<$0.lowerBound] } })
    #expect(blocks == lines(marked))
}

@Test func gettingStartedLearnsAdaptsAndRoundTripsItsCheckpoint() throws {
    let folder = NSTemporaryDirectory() + "reptile-getting-started-\(UUID().uuidString)"
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let (model, initialization, adapted, task, restored) = try gettingStarted(folder: folder)
    #expect(restored == initialization)
    var initRNG = RandomGenerator(seed: 5)
    let random = model.adapt(model.initialParameters(using: &initRNG), to: task, loss: .meanSquaredError, steps: 8,
                             optimizer: SGD(learningRate: 0.05), batchSize: 10)
    #expect(model.loss(adapted, on: task, loss: .meanSquaredError) < model.loss(random, on: task, loss: .meanSquaredError))
}
