import Foundation
import Testing
import ReptileKernels
@testable import ReptileNN

/// Opens `team`, starts a real second thread that joins it as its helper, runs `body` once the
/// helper is in, then closes the team and waits for the helper to leave.
private func withHelper<T>(of team: ShardTeam, _ body: () -> T) -> T {
    team.open()
    let left = DispatchSemaphore(value: 0)
    let thread = Thread {
        let scratch = KernelScratch()
        while !team.help(scratch: scratch) { usleep(20) }
        left.signal()
    }
    thread.start()
    while !team.hasHelper { usleep(20) }
    let result = body()
    team.close()
    left.wait()
    return result
}

@Test func shardTeamRunsBothMembersInStepWithSyncs() {
    let team = ShardTeam()
    let slots = UnsafeMutablePointer<Int>.allocate(capacity: 2)
    defer { slots.deallocate() }
    slots.initialize(repeating: -1, count: 2)
    var seen: [[Int]] = [[], []]
    var scratches: [ObjectIdentifier] = []
    let leaderScratch = KernelScratch()
    withHelper(of: team) {
        for step in 0..<200 {
            var observed = [0, 0]
            team.run(scratch: leaderScratch) { member, scratch in
                if member == 0 { scratches.append(ObjectIdentifier(scratch)) }
                // Each member writes its slot, meets the other, and reads the other's: without
                // the sync it could see the previous step's value.
                for round in 0..<3 {
                    slots[member] = step * 10 + round
                    team.sync(member)
                    observed[member] = slots[1 - member]
                    team.sync(member)
                }
            }
            seen[0].append(observed[0])
            seen[1].append(observed[1])
        }
    }
    #expect(seen[0] == (0..<200).map { $0 * 10 + 2 })
    #expect(seen[1] == (0..<200).map { $0 * 10 + 2 })
    #expect(Set(scratches) == [ObjectIdentifier(leaderScratch)])
}

@Test func shardTeamTakesOneHelperWhileOpen() {
    let team = ShardTeam()
    let scratch = KernelScratch()
    #expect(!team.help(scratch: scratch))  // never opened: returns at once
    #expect(!team.hasHelper)
    withHelper(of: team) {
        // Already claimed: a second helper is turned away.
        #expect(!team.help(scratch: scratch))
        #expect(team.hasHelper)
    }
    #expect(!team.hasHelper)
    // Open again: a new helper may join the next task, and its steps run.
    var ran = 0
    withHelper(of: team) {
        team.run(scratch: scratch) { member, _ in if member == 1 { ran += 1 } }
    }
    #expect(ran == 1)
}

/// A small model with both kinds of batch norm stage (with ReLU; with max pooling and ReLU).
private func shardedModel(shards: Int) throws -> Sequential {
    try Sequential(inputShape: [10, 10, 3], batchShards: shards) {
        Conv2d(inputChannels: 3, outputChannels: 32, kernelSize: 3)
        BatchNorm(featureCount: 32)
        MaxPool2d(kernelSize: 2, stride: 2)
        ReLU()
        Conv2d(inputChannels: 32, outputChannels: 16, kernelSize: 3, stride: 2)
        BatchNorm(featureCount: 16)
        ReLU()
        Flatten()
        Linear(3 * 3 * 16, 5)
    }
}

/// Fills a learner's first `batch` examples and labels from `seed`.
private func fill(_ learner: Learner, batch: Int, seed: UInt64) {
    var rng = RandomGenerator(seed: seed)
    for i in 0..<batch * learner.model.inputCount { learner.inputs.pointer[i] = rng.uniform(-1, 1) }
    for b in 0..<batch { learner.targets.pointer[b] = Float(b % 5) }
}

@Test("a step shared by two threads gives the floats of one thread", arguments: [5, 8, 11])
func sharedStepMatchesOneThread(batch: Int) throws {
    let model = try shardedModel(shards: 2)
    var rng = RandomGenerator(seed: 1)
    var parameters = model.initialParameters(using: &rng)
    for i in parameters.indices { parameters[i] += rng.uniform(-0.1, 0.1) }
    // 5 examples stay whole; 8 and 11 are cut in two (4 + 4, 5 + 6).
    #expect(model.shardCount(batch: batch) == (batch < 8 ? 1 : 2))
    let alone = Learner(model: model, loss: .softmaxCrossEntropy, maxBatch: batch)
    let shared = Learner(model: model, loss: .softmaxCrossEntropy, maxBatch: batch)
    let team = ShardTeam()
    shared.team = team
    var losses: [[Float]] = [[], []]
    var gradients: [[Float]] = [[], []]
    withHelper(of: team) {
        for step in 0..<3 {
            for (index, learner) in [alone, shared].enumerated() {
                fill(learner, batch: batch, seed: UInt64(step))
                let loss = parameters.withUnsafeBufferPointer { learner.lossAndGradient(parameters: $0.baseAddress!, batch: batch) }
                losses[index].append(loss)
                gradients[index] += learner.gradients.array
            }
        }
    }
    #expect(losses[0] == losses[1])
    #expect(gradients[0] == gradients[1])
    #expect(gradients[0].contains { $0 != 0 })
}

/// A model whose stages cover every kind a helper can join before: a first layer with few input
/// channels and a pooled batch norm that hands it its input gradient, a Winograd convolution, a
/// strided direct one, batch norms with ReLU, and a dense layer.
private func joiningModel() throws -> Sequential {
    try Sequential(inputShape: [12, 12, 3], batchShards: 2) {
        Conv2d(inputChannels: 3, outputChannels: 16, kernelSize: 3)
        BatchNorm(featureCount: 16)
        MaxPool2d(kernelSize: 2, stride: 2)
        ReLU()
        Conv2d(inputChannels: 16, outputChannels: 16, kernelSize: 3)
        BatchNorm(featureCount: 16)
        ReLU()
        Conv2d(inputChannels: 16, outputChannels: 32, kernelSize: 3, stride: 2)
        BatchNorm(featureCount: 32)
        ReLU()
        Flatten()
        Linear(3 * 3 * 32, 5)
    }
}

@Test("a helper joining at any point of a step gives the floats of one thread")
func helperJoiningMidStepMatchesOneThread() throws {
    let model = try joiningModel()
    let batch = 9
    #expect(model.shardCount(batch: batch) == 2)
    var rng = RandomGenerator(seed: 3)
    var parameters = model.initialParameters(using: &rng)
    for i in parameters.indices { parameters[i] += rng.uniform(-0.1, 0.1) }
    let alone = Learner(model: model, loss: .summedSoftmaxCrossEntropy, maxBatch: batch)
    fill(alone, batch: batch, seed: 7)
    let expectedLoss = parameters.withUnsafeBufferPointer { alone.lossAndGradient(parameters: $0.baseAddress!, batch: batch) }
    let expected = alone.gradients.array
    #expect(expected.contains { $0 != 0 })
    // Join points: before each forward stage, before the loss, before each backward stage, and
    // one past the last (the step runs on the leader alone).
    let points = 2 * model.stages.count + 2
    #expect(model.stages.count >= 7)
    var mismatched: [Int] = []
    for point in 0..<points {
        let leader = Learner(model: model, loss: .summedSoftmaxCrossEntropy, maxBatch: batch)
        let team = ShardTeam()
        leader.team = team
        leader.firstJoinPoint = point
        fill(leader, batch: batch, seed: 7)
        let loss = withHelper(of: team) {
            parameters.withUnsafeBufferPointer { leader.lossAndGradient(parameters: $0.baseAddress!, batch: batch) }
        }
        if loss != expectedLoss || leader.gradients.array != expected { mismatched.append(point) }
    }
    #expect(mismatched.isEmpty, "join points whose floats differ: \(mismatched)")
}

@Test("Adam's update split between a team's two threads gives the floats of one", arguments: [Float(0), 0.9])
func teamSplitsAdamsUpdate(beta1: Float) throws {
    let model = try joiningModel()
    let count = model.parameterCount
    var rng = RandomGenerator(seed: 5)
    let start = model.initialParameters(using: &rng)
    let learners = (0..<2).map { _ in Learner(model: model, loss: .summedSoftmaxCrossEntropy, maxBatch: 9) }
    for learner in learners {
        var g = RandomGenerator(seed: 6)
        for i in 0..<count { learner.gradients.pointer[i] = g.uniform(-1, 1) }
    }
    let team = ShardTeam()
    learners[1].team = team
    var optimizers = [Adam](repeating: Adam(parameterCount: count, learningRate: 0.01, beta1: beta1, beta2: 0.999), count: 2)
    let weights = (0..<2).map { _ in FloatBuffer(count: count) }
    for w in weights { start.withUnsafeBufferPointer { w.pointer.update(from: $0.baseAddress!, count: count) } }
    learners[0].update(&optimizers[0], parameters: weights[0].pointer)
    learners[0].update(&optimizers[0], parameters: weights[0].pointer)
    withHelper(of: team) {
        learners[1].update(&optimizers[1], parameters: weights[1].pointer)
        learners[1].update(&optimizers[1], parameters: weights[1].pointer)
    }
    let sameWeights = weights[0].array == weights[1].array, moved = weights[0].array != start
    let sameState = optimizers[0] == optimizers[1]
    #expect(sameWeights && moved && sameState, "weights equal: \(sameWeights), moved: \(moved), state equal: \(sameState)")
}

@Test func twoShardsGiveNearlyTheResultsOfOne() throws {
    // Only the order of the sums over the batch differs.
    let one = try shardedModel(shards: 1), two = try shardedModel(shards: 2)
    var rng = RandomGenerator(seed: 2)
    let parameters = one.initialParameters(using: &rng)
    var results: [(Float, [Float])] = []
    for model in [one, two] {
        let learner = Learner(model: model, loss: .softmaxCrossEntropy, maxBatch: 9)
        fill(learner, batch: 9, seed: 9)
        let loss = parameters.withUnsafeBufferPointer { learner.lossAndGradient(parameters: $0.baseAddress!, batch: 9) }
        results.append((loss, learner.gradients.array))
    }
    #expect(abs(results[0].0 - results[1].0) <= 1e-5 * abs(results[0].0))
    let scale = results[0].1.map(abs).max()!
    for (a, b) in zip(results[0].1, results[1].1) { #expect(abs(a - b) <= 1e-4 * scale) }
    #expect(throws: ModelError.self) { try Sequential(inputShape: [2], batchShards: 3) { Linear(2, 2) } }
}

@Test func shardedModelGradients() throws {
    // Batch statistics and parameter gradients summed over two shards (4 + 4 and 4 + 5 examples): the
    // Mini-ImageNet block (batch norm fused with max pooling and ReLU) and the Omniglot block
    // with a smooth activation (no kinks: a tight tolerance holds).
    let pooled = try miniImageNetStyleModel(batchShards: 2)
    GradientCheck(checkCoordinates: false, directionRelativeTolerance: 5e-2).run(pooled, batch: 8)
    let smooth = try Sequential(inputShape: [14, 14, 1], batchShards: 2) {
        for i in 0..<2 {
            Conv2d(inputChannels: i == 0 ? 1 : 64, outputChannels: 64, kernelSize: 3, stride: 2)
            BatchNorm(featureCount: 64)
            Tanh()
        }
        Flatten()
        Linear(4 * 4 * 64, 5)
    }
    GradientCheck(checkCoordinates: false, directionRelativeTolerance: 1e-2).run(smooth, batch: 9)
    GradientCheck(step: 1e-3).run(try Sequential(inputShape: [2, 2, 32], batchShards: 2) { BatchNorm(featureCount: 32); ReLU() },
                                  batch: 9)
}

@Test("a stage's shards share prepared weights, and no copy outlives the stage", arguments: Precision.allCases)
func preparedWeightsFollowTheParameters(precision: Precision) throws {
    guard precision.isAvailable else { return }
    // 16·j channels: the input gradient reads the weights transposed (in bf16, also packed).
    let model = try Sequential(inputShape: [8, 8, 16], batchShards: 2) {
        Conv2d(inputChannels: 16, outputChannels: 32, kernelSize: 3)
        BatchNorm(featureCount: 32)
        ReLU()
        Conv2d(inputChannels: 32, outputChannels: 32, kernelSize: 3, stride: 2)
        BatchNorm(featureCount: 32)
        ReLU()
        Flatten()
        Linear(4 * 4 * 32, 5)
    }
    model.precision = precision
    let batch = 10
    #expect(model.shardCount(batch: batch) == 2)
    var rng = RandomGenerator(seed: 11)
    var parameters = model.initialParameters(using: &rng)
    let reused = Learner(model: model, loss: .softmaxCrossEntropy, maxBatch: batch)
    fill(reused, batch: batch, seed: 12)
    _ = parameters.withUnsafeBufferPointer { reused.lossAndGradient(parameters: $0.baseAddress!, batch: batch) }
    // The same buffer with new values, as an optimizer leaves it: the next step must see them.
    for i in parameters.indices { parameters[i] += rng.uniform(-0.2, 0.2) }
    let loss = parameters.withUnsafeBufferPointer { reused.lossAndGradient(parameters: $0.baseAddress!, batch: batch) }
    let fresh = Learner(model: model, loss: .softmaxCrossEntropy, maxBatch: batch)
    fill(fresh, batch: batch, seed: 12)
    let expectedLoss = parameters.withUnsafeBufferPointer { fresh.lossAndGradient(parameters: $0.baseAddress!, batch: batch) }
    let sameGradients = reused.gradients.array == fresh.gradients.array
    #expect(loss == expectedLoss)
    #expect(sameGradients, "the gradients differ from a fresh learner's")
}
