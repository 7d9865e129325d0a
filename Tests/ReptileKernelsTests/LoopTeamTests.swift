import Foundation
import Testing
@testable import ReptileKernels

/// Runs `body` with a scratch that leads a two-member team whose helper is a real second thread,
/// already waiting for items (so the kernels split their loops).
private func withHelper<T>(_ body: (KernelScratch) -> T) -> T {
    let leader = KernelScratch(), helperScratch = KernelScratch()
    let team = LoopTeam(scratches: [leader, helperScratch])
    team.open()
    let helperDone = DispatchSemaphore(value: 0)
    let thread = Thread {
        team.help(as: 1)
        helperDone.signal()
    }
    thread.start()
    while !team.hasHelpers { usleep(50) }
    leader.team = team
    #expect(leader.sharingTeam === team)
    let result = body(leader)
    leader.team = nil
    team.dismiss()
    helperDone.wait()
    #expect(!team.hasHelpers)
    return result
}

@Test func loopTeamRunsEveryItemOnce() {
    let counts = UnsafeMutablePointer<Int>.allocate(capacity: 1000)
    defer { counts.deallocate() }
    counts.initialize(repeating: 0, count: 1000)
    withHelper { scratch in
        for round in 0..<50 {
            // Different item counts per job, including 0 and 1 (run by the leader alone).
            let n = [0, 1, 2, 7, 1000][round % 5]
            scratch.team!.forEach(n) { item, _ in counts[item] += 1 }
        }
    }
    for item in 0..<1000 {
        let expected = (0..<50).filter { [0, 1, 2, 7, 1000][$0 % 5] > item }.count
        #expect(counts[item] == expected, "item \(item)")
    }
}

@Test func closedTeamSendsHelpersAway() {
    let team = LoopTeam(scratches: [KernelScratch(), KernelScratch()])
    team.help(as: 1)  // never opened: returns at once
    team.open()
    team.dismiss()
    team.help(as: 1)
    #expect(!team.hasHelpers)
}

/// Every kernel that splits its loops among a team gives exactly the floats it gives alone.
@Test("convolution kernels give the same floats with a helper", arguments: convCases.indices)
func convolutionWithHelperIsExact(index: Int) {
    let (_, g, batch) = convCases[index]
    let x = randomBuffer(batch * g.inputSize, seed: 1)
    let w = randomBuffer(g.weightCount, seed: 2)
    let bias = randomBuffer(g.outputChannels, seed: 3)
    let dy = randomBuffer(batch * g.outputSize, seed: 4)
    func run(_ scratch: KernelScratch) -> [Float] {
        let saved = FloatBuffer(count: g.savedScratchCount(batch: batch))
        let y = FloatBuffer(count: batch * g.outputSize)
        let dx = FloatBuffer(count: batch * g.inputSize)
        let dw = FloatBuffer(count: g.weightCount)
        let db = FloatBuffer(count: g.outputChannels)
        Convolution.forward(g, batch: batch, input: x.pointer, weights: w.pointer, bias: bias.pointer,
                            output: y.pointer, saved: saved.pointer, scratch: scratch)
        Convolution.backwardInput(g, batch: batch, outputGradient: dy.pointer, weights: w.pointer,
                                  inputGradient: dx.pointer, scratch: scratch)
        Convolution.backwardWeights(g, batch: batch, input: x.pointer, outputGradient: dy.pointer, saved: saved.pointer,
                                    weightGradient: dw.pointer, biasGradient: db.pointer, scratch: scratch)
        return Array(y.buffer) + Array(dx.buffer) + Array(dw.buffer) + Array(db.buffer)
    }
    let alone = run(KernelScratch())
    let shared = withHelper(run)
    #expect(alone == shared)
}

@Test("batch norm gives the same floats with a helper", arguments: [21, 32, 64], [false, true])
func batchNormWithHelperIsExact(channels c: Int, relu: Bool) {
    let rows = 53
    let x = randomBuffer(rows * c, seed: 5), dy = randomBuffer(rows * c, seed: 6)
    let gamma = randomBuffer(c, seed: 7), beta = randomBuffer(c, seed: 8)
    func run(_ team: LoopTeam?) -> [Float] {
        let y = FloatBuffer(count: rows * c), dx = FloatBuffer(count: rows * c)
        let stats = FloatBuffer(count: 4 * c)
        BatchNormKernels.forward(x.pointer, rows: rows, channels: c, gamma: gamma.pointer, beta: beta.pointer,
                                 epsilon: 1e-3, relu: relu, output: y.pointer, mean: stats.pointer,
                                 inverseStd: stats.pointer + c, team: team)
        BatchNormKernels.backward(x.pointer, outputGradient: dy.pointer, rows: rows, channels: c, gamma: gamma.pointer,
                                  beta: beta.pointer, relu: relu, mean: stats.pointer, inverseStd: stats.pointer + c,
                                  inputGradient: dx.pointer, gammaGradient: stats.pointer + 2 * c,
                                  betaGradient: stats.pointer + 3 * c, team: team)
        return Array(y.buffer) + Array(dx.buffer) + Array(stats.buffer)
    }
    let alone = run(nil)
    let shared = withHelper { run($0.sharingTeam) }
    #expect(alone == shared)
}

@Test("batch norm fused with pooling gives the same floats with a helper", arguments: [32, 64], [false, true])
func pooledBatchNormWithHelperIsExact(channels c: Int, relu: Bool) {
    let g = PoolGeometry.same(inputHeight: 9, inputWidth: 10, channels: c, size: 2, stride: 2)
    let batch = 3
    let inputCount = batch * g.inputHeight * g.inputWidth * c
    let outputCount = batch * g.outputHeight * g.outputWidth * c
    let x = randomBuffer(inputCount, seed: 9), dy = randomBuffer(outputCount, seed: 10)
    let gamma = randomBuffer(c, seed: 11), beta = randomBuffer(c, seed: 12)
    func run(_ team: LoopTeam?) -> [Float] {
        let y = FloatBuffer(count: outputCount), dx = FloatBuffer(count: inputCount)
        let stats = FloatBuffer(count: 4 * c)
        let scratch = FloatBuffer(count: BatchNormKernels.backwardPooledScratch(g))
        BatchNormKernels.forwardPooled(x.pointer, batch: batch, pool: g, gamma: gamma.pointer, beta: beta.pointer,
                                       epsilon: 1e-3, relu: relu, output: y.pointer, mean: stats.pointer,
                                       inverseStd: stats.pointer + c, scratch: scratch.pointer, team: team)
        BatchNormKernels.backwardPooled(x.pointer, batch: batch, pool: g, output: y.pointer, outputGradient: dy.pointer,
                                        gamma: gamma.pointer, beta: beta.pointer, relu: relu, mean: stats.pointer,
                                        inverseStd: stats.pointer + c, inputGradient: dx.pointer,
                                        gammaGradient: stats.pointer + 2 * c, betaGradient: stats.pointer + 3 * c,
                                        scratch: scratch.pointer, team: team)
        return Array(y.buffer) + Array(dx.buffer) + Array(stats.buffer)
    }
    let alone = run(nil)
    let shared = withHelper { run($0.sharingTeam) }
    #expect(alone == shared)
}
