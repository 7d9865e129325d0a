import Testing
import Foundation
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
