import Testing
import Foundation
import ReptileKernels
@testable import ReptileNN

@Test func sgdStep() {
    var sgd = SGD(learningRate: 0.1)
    var theta: [Float] = [1, 2, -3]
    sgd.update(&theta, gradients: [0.5, -1, 0])
    #expect(theta == [0.95, 2.1, -3])
}

/// Adam against the formulas written out by hand, in double precision.
@Test(arguments: [Float(0), Float(0.9)])
func adamSteps(beta1: Float) {
    var adam = Adam(parameterCount: 2, learningRate: 0.01, beta1: beta1, beta2: 0.999, epsilon: 1e-8)
    var theta: [Float] = [1, -2]
    let gradients: [[Float]] = [[0.5, -0.25], [0.1, 0.3], [-0.2, 0.05]]
    var m = [0.0, 0.0], v = [0.0, 0.0], expected = [1.0, -2.0]
    for (t, g) in gradients.enumerated() {
        adam.update(&theta, gradients: g)
        let step = Double(t + 1)
        let lrT = 0.01 * (1 - pow(0.999, step)).squareRoot() / (1 - pow(Double(beta1), step))
        for i in 0..<2 {
            m[i] = Double(beta1) * m[i] + (1 - Double(beta1)) * Double(g[i])
            v[i] = 0.999 * v[i] + 0.001 * Double(g[i]) * Double(g[i])
            expected[i] -= lrT * m[i] / (v[i].squareRoot() + 1e-8)
        }
        for i in 0..<2 { #expect(abs(Double(theta[i]) - expected[i]) < 1e-6, "step \(t + 1), coordinate \(i)") }
    }
    #expect(adam.state.step == 3)
    #expect(adam.state.firstMoment.isEmpty == (beta1 == 0))
}

@Test func adamStateSnapshotAndRestore() throws {
    var adam = Adam(parameterCount: 3, learningRate: 0.1, beta1: 0)
    var theta: [Float] = [1, 1, 1]
    adam.update(&theta, gradients: [1, 2, 3])
    let snapshot = adam.state
    let thetaAfterOne = theta
    adam.update(&theta, gradients: [1, 1, 1])
    #expect(adam.state != snapshot)
    adam.state = snapshot   // restore the optimizer only
    var again = thetaAfterOne
    adam.update(&again, gradients: [1, 1, 1])
    #expect(again == theta)
    // Round trip through checkpoint tensors.
    var copy = Adam(parameterCount: 3, learningRate: 0.1, beta1: 0)
    try copy.restoreState(Dictionary(uniqueKeysWithValues: adam.stateTensors.map { ($0.name, $0.values) }))
    #expect(copy.state == adam.state)
    #expect(throws: ModelError.self) { try copy.restoreState([:]) }
}

@Test func adamMergeAveragesMomentsAndCountsSteps() {
    var start = Adam(parameterCount: 2, learningRate: 0.1, beta1: 0)
    start.state.secondMoment = [1, 1]
    start.state.step = 10
    var a = start, b = start
    a.state.secondMoment = [2, 4]; a.state.step = 15
    b.state.secondMoment = [4, 0]; b.state.step = 15
    start.merge([a, b], stepsEach: 5)
    #expect(start.state.secondMoment == [3, 2])
    #expect(start.state.step == 15)
}

/// The reference minimizes the sum of the batch's cross-entropies (TF1's `minimize` of an
/// unreduced loss vector): the same reported value as the mean, and `batch` times its gradient.
@Test func summedCrossEntropyHasTheMeansValueAndBatchTimesItsGradient() throws {
    let model = try Sequential(inputShape: [6, 6, 1]) {
        Conv2d(inputChannels: 1, outputChannels: 16, kernelSize: 3, stride: 2); BatchNorm(featureCount: 16); ReLU()
        Flatten(); Linear(3 * 3 * 16, 4)
    }
    let batch = 7
    var rng = RandomGenerator(seed: 11)
    let parameters = model.initialParameters(using: &rng)
    func run(_ loss: Loss) -> (Float, [Float]) {
        let learner = Learner(model: model, loss: loss, maxBatch: batch)
        var r = RandomGenerator(seed: 12)
        for i in 0..<batch * model.inputCount { learner.inputs.pointer[i] = r.uniform(-1, 1) }
        for b in 0..<batch { learner.targets.pointer[b] = Float(b % 4) }
        let value = parameters.withUnsafeBufferPointer { learner.lossAndGradient(parameters: $0.baseAddress!, batch: batch) }
        return (value, Array(UnsafeBufferPointer(start: learner.gradients.pointer, count: model.parameterCount)))
    }
    let (meanValue, meanGradient) = run(.softmaxCrossEntropy)
    let (sumValue, sumGradient) = run(.summedSoftmaxCrossEntropy)
    #expect(sumValue == meanValue)
    let scale = meanGradient.map { abs($0) }.max()! * Float(batch)
    #expect(scale > 0)
    for (s, m) in zip(sumGradient, meanGradient) {
        #expect(abs(s - Float(batch) * m) <= 1e-5 * scale)
    }
}
