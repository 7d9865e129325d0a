import Testing
@testable import ReptileKernels
@testable import ReptileNN

@Test("profileStages names every stage, counts its products and times both passes")
func stageProfileCoversEveryStage() throws {
    let model = try Sequential(inputShape: [8, 8, 3]) {
        Conv2d(inputChannels: 3, outputChannels: 16, kernelSize: 3, stride: 1, padding: .same)
        BatchNorm(featureCount: 16, eps: 1e-3)
        MaxPool2d(kernelSize: 2, stride: 2, padding: .same)
        ReLU()
        Conv2d(inputChannels: 16, outputChannels: 16, kernelSize: 3, stride: 2, padding: .same)
        BatchNorm(featureCount: 16, eps: 1e-3)
        ReLU()
        Flatten()
        Linear(64, 5)
    }
    var rng = RandomGenerator(seed: 3)
    let parameters = model.initialParameters(using: &rng)
    let batch = 4
    let input = FloatBuffer(count: batch * model.inputCount)
    for i in 0..<input.count { input.pointer[i] = rng.nextFloat() }
    let stages = parameters.withUnsafeBufferPointer { p in
        model.profileStages(parameters: p.baseAddress!, input: input.pointer, batch: batch, repetitions: 2)
    }
    // The first batch norm hands its input gradient to conv0's weight gradient: that product is
    // done, and counted, in its backward pass.
    #expect(stages.map(\.name) == ["conv0", "bn0+pool+relu+conv0.dW", "conv1", "bn1+relu", "flatten0", "linear0"])
    #expect(stages.map(\.outputShape) == [[8, 8, 16], [4, 4, 16], [2, 2, 16], [2, 2, 16], [64], [5]])
    // Multiply-adds with an input pixel: conv0's 8 output rows see 2 + 6·3 + 2 = 22 kernel rows
    // inside the image (likewise columns); conv1's 2 see 3 + 2 (padding below only).
    let conv0 = 22 * 22 * 3 * 16 * batch, conv1 = 5 * 5 * 16 * 16 * batch, linear = 64 * 5 * batch
    #expect(stages.map(\.forwardMultiplyAdds) == [conv0, 0, conv1, 0, 0, linear])
    // The first stage computes no input gradient.
    #expect(stages.map(\.backwardMultiplyAdds) == [0, conv0, 2 * conv1, 0, 0, 2 * linear])
    #expect(stages.allSatisfy { $0.forwardMs >= 0 && $0.backwardMs >= 0 && $0.forwardMs.isFinite && $0.backwardMs.isFinite })
    // The convolutions do thousands of multiply-adds: their passes take measurable time.
    #expect(stages[0].forwardMs > 0 && stages[1].backwardMs > 0 && stages[2].forwardMs > 0 && stages[2].backwardMs > 0)
}
