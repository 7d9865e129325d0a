import Testing
import Foundation
import CReptileKernels
import ReptileKernels
@testable import ReptileNN
@testable import ReptileMeta

/// A one-example regression task: input 1, target `target`.
struct ConstantTask: SupervisedTask {
    var target: Float
    var exampleCount: Int { 1 }
    func writeExample(_ index: Int, input: FloatView, target t: FloatView) {
        input[0] = 1
        t[0] = target
    }
}

/// Tasks whose target is drawn uniformly from `range`.
struct ConstantTasks: TaskDistribution {
    var range: ClosedRange<Float>
    func sampleTask(using rng: inout RandomGenerator) -> ConstantTask {
        ConstantTask(target: rng.uniform(range.lowerBound, range.upperBound))
    }
}

/// w ↦ w after k SGD steps on (w − a)² with step α: w_k = a + (1 − 2α)^k (w − a).
func adapted(_ w: Double, target a: Double, alpha: Double, steps k: Int) -> Double {
    a + pow(1 - 2 * alpha, Double(k)) * (w - a)
}

func scalarModel() throws -> Sequential { try Sequential(inputShape: [1]) { Linear(1, 1, bias: false) } }

/// The targets the trainer's tasks drew at iteration `i` (same streams as MetaTrainer).
func drawnTargets(seed: UInt64, iteration i: Int, tasks n: Int, range: ClosedRange<Float>) -> [Double] {
    (0..<n).map { t in
        var rng = RandomGenerator(seed: seed, stream: [RandomStream.training.rawValue, UInt64(i), UInt64(t)])
        return Double(ConstantTasks(range: range).sampleTask(using: &rng).target)
    }
}

@Test(arguments: [TaskExecution.parallel, .serial])
func reptileUpdateMatchesHandComputation(execution: TaskExecution) throws {
    let model = try scalarModel()
    let range: ClosedRange<Float> = 1...3
    let config = MetaTrainingConfiguration(inner: .init(batchSize: 1, iterations: 3), metaBatchSize: 4,
                                           metaStepSize: 0.5, metaStepSizeFinal: 0.5, metaIterations: 10,
                                           taskExecution: execution, seed: 7)
    let trainer = MetaTrainer(model: model, loss: .meanSquaredError, tasks: ConstantTasks(range: range),
                              innerOptimizer: SGD(learningRate: 0.1), configuration: config, parameters: [0.25])
    var theta = 0.25
    for i in 0..<3 {
        trainer.step()
        // θ ← θ + ε (mean_j W_j − θ)
        let targets = drawnTargets(seed: 7, iteration: i, tasks: 4, range: range)
        let meanW = targets.map { adapted(theta, target: $0, alpha: 0.1, steps: 3) }.reduce(0, +) / 4
        theta += 0.5 * (meanW - theta)
        #expect(abs(Double(trainer.parameters[0]) - theta) < 1e-5)
    }
}

@Test func fomamlUpdateMatchesHandComputation() throws {
    let model = try scalarModel()
    let range: ClosedRange<Float> = -1...2
    let config = MetaTrainingConfiguration(inner: .init(batchSize: 1, iterations: 4), metaBatchSize: 2,
                                           metaStepSize: 1, metaStepSizeFinal: 1, metaIterations: 5,
                                           metaGradient: .fomaml, seed: 3)
    let trainer = MetaTrainer(model: model, loss: .meanSquaredError, tasks: ConstantTasks(range: range),
                              innerOptimizer: SGD(learningRate: 0.2), configuration: config, parameters: [1.5])
    var theta = 1.5
    for i in 0..<3 {
        trainer.step()
        // g_k = W_{k−1} − W_k; θ ← θ − ε · mean g_k
        let targets = drawnTargets(seed: 3, iteration: i, tasks: 2, range: range)
        let lastSteps = targets.map { a in adapted(theta, target: a, alpha: 0.2, steps: 3) - adapted(theta, target: a, alpha: 0.2, steps: 4) }
        theta -= 1 * lastSteps.reduce(0, +) / 2
        #expect(abs(Double(trainer.parameters[0]) - theta) < 1e-5)
    }
}

@Test func gradientCombinationsMatchHandComputation() throws {
    let model = try scalarModel()
    let learner = Learner(model: model, loss: .meanSquaredError, maxBatch: 1)
    let task = ConstantTask(target: 2)
    let theta = 0.5, alpha = 0.1
    // g_j = W_{j−1} − W_j
    func g(_ j: Int) -> Double { adapted(theta, target: 2, alpha: alpha, steps: j - 1) - adapted(theta, target: 2, alpha: alpha, steps: j) }
    let cases: [(MetaGradient, Double)] = [
        (.reptile, g(1) + g(2) + g(3) + g(4)),
        (.fomaml, g(4)),
        (.steps([1], average: false), g(1)),
        (.steps([2, 4], average: false), g(2) + g(4)),
        (.steps([1, 2, 3, 4], average: true), (g(1) + g(2) + g(3) + g(4)) / 4),
    ]
    for (selection, expected) in cases {
        let weights = FloatBuffer(count: 1), meta = FloatBuffer(count: 1)
        weights.pointer[0] = Float(theta)
        var sgd = SGD(learningRate: Float(alpha))
        var rng = RandomGenerator(seed: 0)
        InnerLoop.run(task, weights: weights.pointer, optimizer: &sgd, learner: learner,
                      configuration: .init(batchSize: 1, iterations: 4), using: &rng,
                      metaGradient: meta.pointer, selection: selection)
        #expect(abs(Double(meta.pointer[0]) - expected) < 1e-6, "\(selection)")
        #expect(abs(Double(weights.pointer[0]) - adapted(theta, target: 2, alpha: alpha, steps: 4)) < 1e-6)
    }
}

@Test func weightDecayScalesBeforeEachStep() throws {
    let model = try scalarModel()
    let learner = Learner(model: model, loss: .meanSquaredError, maxBatch: 1)
    let weights = FloatBuffer(count: 1)
    weights.pointer[0] = 1
    var sgd = SGD(learningRate: 0.1)
    var rng = RandomGenerator(seed: 0)
    InnerLoop.run(ConstantTask(target: 0), weights: weights.pointer, optimizer: &sgd, learner: learner,
                  configuration: .init(batchSize: 1, iterations: 2, weightDecay: 0.5), using: &rng)
    // w ← 0.5 w, then w ← w − 0.1·2w = 0.8 w: twice → 0.4² = 0.16
    #expect(abs(weights.pointer[0] - 0.16) < 1e-6)
}

@Test func reptileFindsTheKnownFixedPoint() throws {
    // For tasks (w − a)² with a ~ U(2, 4) the Reptile fixed point is E[a] = 3.
    let model = try scalarModel()
    let config = MetaTrainingConfiguration(inner: .init(batchSize: 1, iterations: 5), metaBatchSize: 5,
                                           metaStepSize: 0.5, metaStepSizeFinal: 0, metaIterations: 400, seed: 11)
    let trainer = MetaTrainer(model: model, loss: .meanSquaredError, tasks: ConstantTasks(range: 2...4),
                              innerOptimizer: SGD(learningRate: 0.05), configuration: config, parameters: [-5])
    while trainer.iteration < 400 { trainer.step() }
    #expect(abs(trainer.parameters[0] - 3) < 0.1)
}

@Test func outerAdamTreatsTheMetaGradientAsAGradient() throws {
    let model = try scalarModel()
    let config = MetaTrainingConfiguration(inner: .init(batchSize: 1, iterations: 2), metaBatchSize: 1,
                                           metaStepSize: 0.01, metaStepSizeFinal: 0.01, metaIterations: 10,
                                           outerOptimizer: .adam(), seed: 1)
    let trainer = MetaTrainer(model: model, loss: .meanSquaredError, tasks: ConstantTasks(range: 5...5),
                              innerOptimizer: SGD(learningRate: 0.1), configuration: config, parameters: [0])
    trainer.step()
    // The first Adam step moves by about lr · sign(−G) = +0.01 (G = θ − W < 0).
    #expect(abs(trainer.parameters[0] - 0.01) < 1e-4)
}

@Test func scheduleIsLinear() {
    let c = MetaTrainingConfiguration(inner: .init(batchSize: 1, iterations: 1), metaStepSize: 1, metaStepSizeFinal: 0, metaIterations: 100)
    #expect(c.metaStepSize(at: 0) == 1)
    #expect(abs(c.metaStepSize(at: 25) - 0.75) < 1e-6)
    #expect(abs(c.metaStepSize(at: 99) - 0.01) < 1e-6)
    // Past the end, ε stays at its final value instead of turning negative.
    #expect(c.metaStepSize(at: 100) == 0 && c.metaStepSize(at: 3_001) == 0)
    let d = MetaTrainingConfiguration(inner: .init(batchSize: 1, iterations: 1), metaStepSize: 1, metaStepSizeFinal: 0.25, metaIterations: 10)
    #expect(d.metaStepSize(at: 10) == 0.25 && d.metaStepSize(at: 1_000) == 0.25)
}

/// A tiny classification task with labelled examples (for batching and tail tests).
struct LabelledTask: SupervisedTask {
    var labels: [Int]
    var exampleCount: Int { labels.count }
    func writeExample(_ index: Int, input: FloatView, target: FloatView) {
        input[0] = Float(index)
        target[0] = Float(labels[index])
    }
    func classLabel(of index: Int) -> Int? { labels[index] }
}

@Test func miniBatchesWithoutReplacementStraddleReshuffles() {
    var rng = RandomGenerator(seed: 4)
    let batches = MiniBatches.indices(exampleCount: 5, size: 3, count: 4, replacement: false, using: &rng)
    #expect(batches.count == 4 && batches.allSatisfy { $0.count == 3 })
    let flat = batches.flatMap { $0 }
    // The 12 indices are consecutive slices of shuffled epochs: 0..<5 and 5..<10 are permutations.
    #expect(Set(flat[0..<5]) == Set(0..<5))
    #expect(Set(flat[5..<10]) == Set(0..<5))
}

@Test func miniBatchesWithReplacementAreDistinctWithinABatch() {
    var rng = RandomGenerator(seed: 4)
    let batches = MiniBatches.indices(exampleCount: 6, size: 4, count: 50, replacement: true, using: &rng)
    #expect(batches.allSatisfy { Set($0).count == 4 && $0.allSatisfy { (0..<6).contains($0) } })
    // Independent draws: not a cyclic pattern.
    #expect(Set(batches.map { $0.sorted() }).count > 5)
}

@Test func fomamlTailIsSeparateAndLast() {
    // 3 classes × 4 examples, labels in blocks like a sampled few-shot task.
    let task = LabelledTask(labels: [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2])
    let (rest, tail) = MiniBatches.splitTail(task, shots: 2)
    #expect(tail == [0, 4, 8, 1, 5, 9])
    #expect(Set(rest).isDisjoint(with: tail) && rest.count == 6)
    var rng = RandomGenerator(seed: 0)
    let plan = InnerLoop.plan(task, configuration: .init(batchSize: 2, iterations: 4, tailShots: 2), using: &rng)
    #expect(plan.count == 4)
    #expect(plan.last == tail)
    #expect(plan.dropLast().allSatisfy { Set($0).isSubset(of: Set(rest)) })
}

@Test func trainingIsDeterministicWhateverTheThreadCount() throws {
    let model = try Sequential(inputShape: [1]) { Linear(1, 16); Tanh(); Linear(16, 1) }
    func run(threads: Int) -> [Float] {
        let config = MetaTrainingConfiguration(inner: .init(batchSize: 1, iterations: 3), metaBatchSize: 5,
                                               metaStepSize: 0.3, metaStepSizeFinal: 0, metaIterations: 20, seed: 9)
        let trainer = MetaTrainer(model: model, loss: .meanSquaredError, tasks: ConstantTasks(range: -1...1),
                                  innerOptimizer: Adam(parameterCount: model.parameterCount, learningRate: 0.01, beta1: 0),
                                  configuration: config, threads: threads)
        while trainer.iteration < 20 { trainer.step() }
        return trainer.parameters + trainer.innerOptimizer.state.secondMoment
    }
    let one = run(threads: 1), two = run(threads: 2), again = run(threads: 2)
    #expect(one == two)
    #expect(two == again)
}

/// Images of noise, 3 classes: enough to drive a small convolutional network.
struct NoiseImageTasks: TaskDistribution {
    /// Floats per example (a 9×9 gray image by default).
    var floats = 9 * 9

    struct Task: SupervisedTask {
        var seed: UInt64
        var floats: Int
        var exampleCount: Int { 8 }
        func writeExample(_ index: Int, input: FloatView, target: FloatView) {
            var rng = RandomGenerator(seed: seed, stream: [UInt64(index)])
            for i in 0..<floats { input[i] = rng.uniform(-1, 1) + Float(index % 3) * 0.3 }
            target[0] = Float(index % 3)
        }
        func classLabel(of index: Int) -> Int? { index % 3 }
    }
    func sampleTask(using rng: inout RandomGenerator) -> Task { Task(seed: UInt64(rng.uniform(0, 1e6)), floats: floats) }
}

/// A meta-trainer of `model` on noise images: 5 tasks, 3 inner steps on batches of 8 (two shards each).
private func noiseImageTrainer(_ model: Sequential, tasks: NoiseImageTasks, seed: UInt64,
                               threads: Int) -> MetaTrainer<NoiseImageTasks, Adam> {
    let config = MetaTrainingConfiguration(inner: .init(batchSize: 8, iterations: 3), metaBatchSize: 5,
                                           metaStepSize: 0.5, metaStepSizeFinal: 0, metaIterations: 1_000, seed: seed)
    return MetaTrainer(model: model, loss: .softmaxCrossEntropy, tasks: tasks,
                       innerOptimizer: Adam(parameterCount: model.parameterCount, learningRate: 0.01, beta1: 0),
                       configuration: config, threads: threads)
}

/// The weights after 8 meta-iterations of ``noiseImageTrainer(_:tasks:seed:threads:)``.
private func noiseImageTraining(_ model: Sequential, tasks: NoiseImageTasks, seed: UInt64, threads: Int) -> [Float] {
    let trainer = noiseImageTrainer(model, tasks: tasks, seed: seed, threads: threads)
    while trainer.iteration < 8 { trainer.step() }
    return trainer.parameters
}

/// Checks that 1 and 2 threads (twice) give the same finite weights.
private func expectSameWeightsWhateverTheThreadCount(_ model: Sequential, tasks: NoiseImageTasks, seed: UInt64,
                                                     sourceLocation: SourceLocation = #_sourceLocation) {
    let one = noiseImageTraining(model, tasks: tasks, seed: seed, threads: 1)
    let two = noiseImageTraining(model, tasks: tasks, seed: seed, threads: 2)
    let again = noiseImageTraining(model, tasks: tasks, seed: seed, threads: 2)
    #expect(one.allSatisfy { $0.isFinite }, sourceLocation: sourceLocation)
    #expect(one == two, sourceLocation: sourceLocation)
    #expect(two == again, sourceLocation: sourceLocation)
}

/// With 5 tasks on 2 threads the worker left without a task computes half of each batch of the
/// last one (the model has two shards); the floats must not change.
@Test func convolutionalTrainingIsDeterministicWhateverTheThreadCount() throws {
    let model = try Sequential(inputShape: [9, 9, 1], batchShards: 2) {
        Conv2d(inputChannels: 1, outputChannels: 32, kernelSize: 3, stride: 2); BatchNorm(featureCount: 32); ReLU()
        Conv2d(inputChannels: 32, outputChannels: 32, kernelSize: 3, stride: 1); BatchNorm(featureCount: 32); ReLU()
        MaxPool2d()
        Flatten(); Linear(3 * 3 * 32, 3)
    }
    expectSameWeightsWhateverTheThreadCount(model, tasks: NoiseImageTasks(), seed: 3)
}

/// The same with a Mini-ImageNet-style model: a 3-channel first layer whose weight gradient the
/// pooled batch norm after it feeds chunk by chunk, and a Winograd layer.
@Test func miniImageNetStyleTrainingIsDeterministicWhateverTheThreadCount() throws {
    let model = try Sequential(inputShape: [6, 6, 3], batchShards: 2) {
        Conv2d(inputChannels: 3, outputChannels: 16, kernelSize: 3); BatchNorm(featureCount: 16); MaxPool2d(); ReLU()
        Conv2d(inputChannels: 16, outputChannels: 16, kernelSize: 3); BatchNorm(featureCount: 16); MaxPool2d(); ReLU()
        Flatten(); Linear(2 * 2 * 16, 3)
    }
    #expect(model.stages[1].handsInputGradientToFirstLayer)
    expectSameWeightsWhateverTheThreadCount(model, tasks: NoiseImageTasks(floats: 6 * 6 * 3), seed: 4)
}

@Test func steppingPastTheLastIterationLeavesTheInitializationAlone() throws {
    // The schedule ends at ε = 0: further steps must not move θ (extrapolated, ε would be negative
    // and push θ away from the tasks, towards NaN).
    let model = try scalarModel()
    let config = MetaTrainingConfiguration(inner: .init(batchSize: 1, iterations: 5), metaBatchSize: 2,
                                           metaStepSize: 0.5, metaStepSizeFinal: 0, metaIterations: 50, seed: 3)
    let trainer = MetaTrainer(model: model, loss: .meanSquaredError, tasks: ConstantTasks(range: 2...4),
                              innerOptimizer: SGD(learningRate: 0.05), configuration: config, parameters: [-5])
    while trainer.iteration < 50 { trainer.step() }
    let learned = trainer.parameters
    for _ in 0..<3_000 {
        let report = trainer.step()
        #expect(report.metaStepSize == 0 && report.isFinite)
    }
    #expect(trainer.parameters == learned && trainer.iteration == 3_050)
}

@Test func trainRunsToTheEndWithACallbackThatCanStopIt() throws {
    let config = MetaTrainingConfiguration(inner: .init(batchSize: 1, iterations: 3), metaBatchSize: 2,
                                           metaStepSize: 0.5, metaStepSizeFinal: 0, metaIterations: 40, seed: 4)
    func trainer() throws -> MetaTrainer<ConstantTasks, SGD> {
        MetaTrainer(model: try scalarModel(), loss: .meanSquaredError, tasks: ConstantTasks(range: 2...4),
                    innerOptimizer: SGD(learningRate: 0.05), configuration: config, parameters: [-5])
    }
    // Every 15 iterations and after the last; the same parameters as stepping by hand.
    let a = try trainer(), b = try trainer()
    var seen: [Int] = []
    try a.train(every: 15) { report in seen.append(report.iteration + 1); return true }
    while b.iteration < 40 { b.step() }
    #expect(seen == [15, 30, 40] && a.iteration == 40 && a.parameters == b.parameters)
    // A meta-validation that stops once the initialization is close to the tasks' mean, 3.
    let c = try trainer()
    try c.train(every: 5) { _ in abs(c.parameters[0] - 3) > 1 }
    #expect(c.iteration < 40 && c.iteration % 5 == 0 && abs(c.parameters[0] - 3) <= 1)
    // Divergence is an error.
    let wild = MetaTrainer(model: try scalarModel(), loss: .meanSquaredError, tasks: ConstantTasks(range: 2...4),
                           innerOptimizer: SGD(learningRate: 1e20), configuration: config, parameters: [-5])
    #expect(throws: MetaTrainingError.self) { try wild.train() }
}

@Test func processGroupBlocksCoverEveryTaskOnce() {
    // The tasks of a meta-batch (or an evaluation) are split into contiguous blocks, the first
    // ranks taking one more, so that every task runs exactly once whatever the number of ranks.
    for count in [0, 1, 5, 7, 20, 40] {
        for size in 1...6 {
            let blocks = (0..<size).map { ProcessGroupBlocks.block(of: count, rank: $0, size: size) }
            #expect(blocks.flatMap { Array($0) } == Array(0..<count))
            let sizes = blocks.map(\.count)
            #expect(sizes.max()! - sizes.min()! <= 1 && sizes == sizes.sorted(by: >))
        }
    }
}

/// bf16 products (a 32-channel convolution reads bf16 pairs), with the second core sharing the
/// last task's batches: the same floats on 1 and 2 threads, and not those of fp32.
@Test(.enabled(if: Precision.bf16.isAvailable, "this CPU has no AVX512-BF16"))
func bf16TrainingIsDeterministicWhateverTheThreadCount() throws {
    func model() throws -> Sequential {
        try Sequential(inputShape: [9, 9, 1], batchShards: 2) {
            Conv2d(inputChannels: 1, outputChannels: 32, kernelSize: 3, stride: 2); BatchNorm(featureCount: 32); ReLU()
            Conv2d(inputChannels: 32, outputChannels: 32, kernelSize: 3, stride: 2); BatchNorm(featureCount: 32); ReLU()
            Flatten(); Linear(3 * 3 * 32, 3)
        }
    }
    let bf16 = try model()
    bf16.precision = .bf16
    expectSameWeightsWhateverTheThreadCount(bf16, tasks: NoiseImageTasks(), seed: 5)
    let fp32Weights = noiseImageTraining(try model(), tasks: NoiseImageTasks(), seed: 5, threads: 1)
    let bf16Weights = noiseImageTraining(bf16, tasks: NoiseImageTasks(), seed: 5, threads: 1)
    #expect(fp32Weights != bf16Weights)
    // Close all the same: 8 meta-iterations do not let bf16's rounding drift far.
    #expect(zip(fp32Weights, bf16Weights).allSatisfy { abs($0 - $1) < 0.05 })
}

/// With busy threads on every core, the workers wait for cores, notice it, and stop helping one
/// another; the weights stay those of one thread.
@Test func helpingPausesWhileTheCoresAreBusyAndNoFloatChanges() throws {
    let cores = ProcessInfo.processInfo.activeProcessorCount
    // Needs the system's count of waits, and few enough cores to crowd without starving the machine.
    guard ThreadSchedule.nanosecondsWaitingForCore() != nil, (2...16).contains(cores) else { return }
    // Tasks of a few milliseconds, so that a worker left without one finds another's to join.
    let model = try Sequential(inputShape: [17, 17, 1], batchShards: 2) {
        Conv2d(inputChannels: 1, outputChannels: 32, kernelSize: 3, stride: 1); BatchNorm(featureCount: 32); ReLU()
        Conv2d(inputChannels: 32, outputChannels: 32, kernelSize: 3, stride: 2); BatchNorm(featureCount: 32); ReLU()
        Flatten(); Linear(9 * 9 * 32, 3)
    }
    let tasks = NoiseImageTasks(floats: 17 * 17)
    // Two busy threads per core: each thread then waits for a core half its time or more, once
    // the scheduler has preempted it (its time slices last milliseconds; a meta-iteration here
    // less than one).
    let stop = UnsafeSendable(UnsafeMutablePointer<CLong>.allocate(capacity: 1))
    stop.value.initialize(to: 0)
    let busy = DispatchGroup()
    for _ in 0..<2 * cores {
        busy.enter()
        Thread.detachNewThread {
            while reptile_atomic_load(stop.value) == 0 {}
            busy.leave()
        }
    }
    let crowded = noiseImageTrainer(model, tasks: tasks, seed: 6, threads: 2)
    var contended = 0, joinsWhilePaused = 0
    while contended < 3 && crowded.iteration < 1_000 {
        let paused = crowded.coresContended
        crowded.step()
        if paused { joinsWhilePaused += crowded.helperJoins }
        if crowded.coresContended { contended += 1 }
    }
    reptile_atomic_store(stop.value, 1)
    busy.wait()
    stop.value.deallocate()
    #expect(contended == 3)
    #expect(joinsWhilePaused == 0)
    let alone = noiseImageTrainer(model, tasks: tasks, seed: 6, threads: 1)
    while alone.iteration < crowded.iteration { alone.step() }
    #expect(crowded.parameters == alone.parameters)
}
