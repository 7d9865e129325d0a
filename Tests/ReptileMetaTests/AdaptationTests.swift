import Testing
import Foundation
import ReptileKernels
@testable import ReptileNN
@testable import ReptileMeta

private func line(slope: Float, intercept: Float) -> ArrayTask {
    let xs: [Float] = [-1, -0.5, 0, 0.5, 1, 1.5]
    return ArrayTask(inputs: xs.map { [$0] }, targets: xs.map { [slope * $0 + intercept] })
}

private func mlp() throws -> Sequential {
    try Sequential(inputShape: [1]) { Linear(1, 16); Tanh(); Linear(16, 1) }
}

@Test("adapt, loss(on:) and predict give the floats of the learner and inner loop they are built on")
func adaptationMatchesTheExplicitPath() throws {
    let model = try mlp()
    var rng = RandomGenerator(seed: 5, stream: [0])
    let theta = model.initialParameters(using: &rng)
    let task = line(slope: 2, intercept: -1)
    // Full-batch steps, written out as the sine demo did before `adapt` existed.
    let learner = Learner(model: model, loss: .meanSquaredError, maxBatch: task.exampleCount)
    var expected = theta
    var sgd = SGD(learningRate: 0.05)
    InnerLoop.fill(learner, from: task, indices: Array(0..<task.exampleCount))
    for _ in 0..<7 {
        expected.withUnsafeMutableBufferPointer { w in
            learner.lossAndGradient(parameters: w.baseAddress!, batch: task.exampleCount)
            sgd.update(FloatView(w), gradients: FloatView(learner.gradients.pointer, count: w.count))
        }
    }
    #expect(model.adapt(theta, to: task, loss: .meanSquaredError, steps: 7, optimizer: SGD(learningRate: 0.05)) == expected)
    // Mini-batches: the inner loop's, from the adaptation stream of the seed; Adam's state is a copy.
    let adam = Adam(parameterCount: model.parameterCount, learningRate: 0.01, beta1: 0)
    var copy = adam
    var batchRNG = RandomGenerator(seed: 9, stream: [RandomStream.adaptation.rawValue])
    let batchLearner = Learner(model: model, loss: .meanSquaredError, maxBatch: 4)
    var inner = theta
    inner.withUnsafeMutableBufferPointer { w in
        InnerLoop.run(task, weights: w.baseAddress!, optimizer: &copy, learner: batchLearner,
                      configuration: InnerLoopConfiguration(batchSize: 4, iterations: 5), using: &batchRNG)
    }
    let adapted = model.adapt(theta, to: task, loss: .meanSquaredError, steps: 5, optimizer: adam, batchSize: 4, seed: 9)
    #expect(adapted == inner && adapted != theta)
    // loss(on:) and predict.
    let loss = inner.withUnsafeBufferPointer { learner.loss(parameters: $0.baseAddress!, batch: task.exampleCount) }
    #expect(model.loss(inner, on: task, loss: .meanSquaredError) == loss)
    let outputs = inner.withUnsafeBufferPointer { learner.outputs(parameters: $0.baseAddress!, batch: task.exampleCount) }
    #expect(model.predict(inner, inputs: task.inputs).map { $0[0] } == Array(UnsafeBufferPointer(start: outputs, count: task.exampleCount)))
}

@Test("Adapting to a task lowers its loss; a classification task from labels")
func adaptationLearns() throws {
    let model = try mlp()
    var rng = RandomGenerator(seed: 1, stream: [0])
    let theta = model.initialParameters(using: &rng)
    let task = line(slope: -1.5, intercept: 0.5)
    let before = model.loss(theta, on: task, loss: .meanSquaredError)
    let after = model.loss(model.adapt(theta, to: task, loss: .meanSquaredError, steps: 200, optimizer: SGD(learningRate: 0.05)),
                           on: task, loss: .meanSquaredError)
    #expect(after < before / 10, "loss \(before) → \(after)")

    let classifier = try Sequential(inputShape: [2]) { Linear(2, 16); ReLU(); Linear(16, 3) }
    let points: [[Float]] = [[1, 0], [0, 1], [-1, -1], [0.9, 0.1], [0.1, 0.8], [-0.8, -1.1]]
    let labels = [0, 1, 2, 0, 1, 2]
    let classes = ArrayTask(inputs: points, labels: labels)
    #expect(classes.classLabel(of: 4) == 1 && classes.targets[4] == [1])
    var crng = RandomGenerator(seed: 2, stream: [0])
    let adapted = classifier.adapt(classifier.initialParameters(using: &crng), to: classes, loss: .softmaxCrossEntropy, steps: 100,
                                   optimizer: Adam(parameterCount: classifier.parameterCount, learningRate: 0.05))
    let argmax = classifier.predict(adapted, inputs: points).map { row in row.indices.max(by: { row[$0] < row[$1] })! }
    #expect(argmax == labels)
}
