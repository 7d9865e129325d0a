import Testing
import ReptileKernels
@testable import ReptileNN

/// Compares a model's analytic gradients (parameters and input) with central finite differences of
/// the scalar `L = Σ r ⊙ output` for a fixed random projection `r`.
struct GradientCheck {
    var step: Float = 1e-2
    var relativeTolerance: Float = 2e-2
    var absoluteTolerance: Float = 2e-3
    /// Fraction of checked coordinates allowed to miss (kinks of ReLU/max-pool crossed by ±step).
    var allowedMisses: Double = 0.02
    var maxCoordinates = 300
    /// Whether to also compare coordinate by coordinate (reliable for shallow models; in deep
    /// float32 models rounding noise dominates single-coordinate differences).
    var checkCoordinates = true
    /// Step along unit-norm directions.
    var directionStep: Float = 1e-3
    /// Relative tolerance of directional derivatives. ReLU and max-pool kinks crossed within the
    /// step make finite differences of deep ReLU networks a few percent off.
    var directionRelativeTolerance: Float = 2e-2
    /// Absolute tolerance of directional derivatives: float32 rounding of the objective divided
    /// by the step (the conv biases before batch norm have an exactly zero gradient, which finite
    /// differences see as rounding noise).
    var directionAbsoluteTolerance: Float = 1e-2

    func run(_ model: Sequential, batch: Int, seed: Int = 0, perturbParameters: Bool = true, sourceLocation: SourceLocation = #_sourceLocation) {
        var rng = RandomGenerator(seed: seed, stream: 1)
        var parameters = model.initialParameters(using: &rng)
        if perturbParameters {
            // Move γ, β and biases away from 1 and 0 so that their gradients are exercised generally.
            for i in parameters.indices { parameters[i] += rng.uniform(-0.2, 0.2) }
        }
        let input = FloatBuffer(count: batch * model.inputCount)
        for i in 0..<input.count { input.pointer[i] = rng.uniform(-1, 1) }
        var projection = [Float](repeating: 0, count: batch * model.outputCount)
        for i in projection.indices { projection[i] = rng.uniform(-1, 1) }

        let workspace = model.makeWorkspace(maxBatch: batch)
        func objective(_ p: [Float], _ x: FloatBuffer) -> Double {
            p.withUnsafeBufferPointer { pp in
                let out = model.forward(parameters: pp.baseAddress!, input: x.pointer, batch: batch, workspace: workspace)
                var s = 0.0
                for i in projection.indices { s += Double(projection[i]) * Double(out[i]) }
                return s
            }
        }
        // Analytic.
        let gradients = FloatBuffer(count: model.parameterCount)
        let inputGradient = FloatBuffer(count: input.count)
        let outputGradient = FloatBuffer(count: projection.count)
        parameters.withUnsafeBufferPointer { pp in
            model.forward(parameters: pp.baseAddress!, input: input.pointer, batch: batch, workspace: workspace)
            for i in projection.indices { outputGradient.pointer[i] = projection[i] }
            model.backward(parameters: pp.baseAddress!, outputGradient: outputGradient.pointer, gradients: gradients.pointer,
                           workspace: workspace, inputGradient: inputGradient.pointer)
        }
        // Directional derivatives, one tensor at a time: along the analytic gradient itself (the
        // largest signal; a wrong gradient shows as a mismatch) and along two random ±1 directions.
        // This stays far above float32's rounding noise even in deep networks with batch norm.
        func directional(_ analytic: UnsafePointer<Float>, _ range: Range<Int>, _ what: String,
                         perturb: ([Float], Float) -> Double) {
            var directions: [[Float]] = []
            var norm: Float = 0
            for i in range { norm += analytic[i] * analytic[i] }
            norm = norm.squareRoot()
            if norm > 1e-6 { directions.append(range.map { analytic[$0] / norm }) }
            var dirRng = RandomGenerator(seed: seed, stream: 3, range.lowerBound)
            for _ in 0..<2 {
                let scale = 1 / Float(range.count).squareRoot()
                directions.append(range.map { _ in dirRng.nextInt(below: 2) == 0 ? -scale : scale })
            }
            for (k, d) in directions.enumerated() {
                let numeric = (perturb(d, directionStep) - perturb(d, -directionStep)) / Double(2 * directionStep)
                var predicted: Double = 0
                for (j, i) in range.enumerated() { predicted += Double(analytic[i]) * Double(d[j]) }
                let scale = max(abs(numeric), abs(predicted))
                #expect(abs(numeric - predicted) <= Double(directionRelativeTolerance) * scale + Double(directionAbsoluteTolerance),
                        "\(what), direction \(k): numeric \(numeric) vs analytic \(predicted)", sourceLocation: sourceLocation)
            }
        }
        for entry in model.layout.entries {
            directional(gradients.pointer, entry.range, entry.name) { d, h in
                var p = parameters
                for (j, i) in entry.range.enumerated() { p[i] += h * d[j] }
                return objective(p, input)
            }
        }
        directional(inputGradient.pointer, 0..<input.count, "input") { d, h in
            let x = FloatBuffer(count: input.count)
            for i in 0..<input.count { x.pointer[i] = input.pointer[i] + h * d[i] }
            return objective(parameters, x)
        }
        guard checkCoordinates else { return }

        // Coordinate by coordinate, on a sample.
        var misses = 0, checked = 0
        var worst = ""
        func compare(_ numeric: Double, _ analytic: Float, _ what: String) {
            checked += 1
            let n = Float(numeric)
            if abs(n - analytic) > absoluteTolerance + relativeTolerance * max(abs(n), abs(analytic)) {
                misses += 1
                if worst.isEmpty { worst = "\(what): numeric \(n) vs analytic \(analytic)" }
            }
        }
        var pick = RandomGenerator(seed: seed, stream: 2)
        let paramIndices = model.parameterCount <= maxCoordinates ? Array(0..<model.parameterCount)
            : pick.sample(maxCoordinates, from: model.parameterCount)
        for i in paramIndices {
            var p = parameters
            p[i] += step
            let plus = objective(p, input)
            p[i] = parameters[i] - step
            let minus = objective(p, input)
            compare((plus - minus) / Double(2 * step), gradients.pointer[i], "parameter \(i) (\(name(of: i, in: model)))")
        }
        let inputIndices = input.count <= maxCoordinates ? Array(0..<input.count) : pick.sample(maxCoordinates, from: input.count)
        for i in inputIndices {
            let saved = input.pointer[i]
            input.pointer[i] = saved + step
            let plus = objective(parameters, input)
            input.pointer[i] = saved - step
            let minus = objective(parameters, input)
            input.pointer[i] = saved
            compare((plus - minus) / Double(2 * step), inputGradient.pointer[i], "input \(i)")
        }
        #expect(Double(misses) <= allowedMisses * Double(checked),
                "\(misses) of \(checked) coordinates differ; first: \(worst)", sourceLocation: sourceLocation)
    }

    func name(of index: Int, in model: Sequential) -> String {
        model.layout.entries.first { $0.range.contains(index) }?.name ?? "?"
    }
}

@Test func linearGradients() throws {
    GradientCheck().run(try Sequential(inputShape: [7]) { Linear(7, 5) }, batch: 3)
    GradientCheck().run(try Sequential(inputShape: [20]) { Linear(20, 32) }, batch: 4)
    GradientCheck().run(try Sequential(inputShape: [3]) { Linear(3, 64, bias: false) }, batch: 13)
}

@Test func activationGradients() throws {
    GradientCheck(step: 1e-3).run(try Sequential(inputShape: [37]) { Tanh() }, batch: 3)
    GradientCheck(step: 1e-3).run(try Sequential(inputShape: [37]) { ReLU() }, batch: 3)
}

@Test func convolutionGradients() throws {
    GradientCheck().run(try Sequential(inputShape: [9, 9, 1]) { Conv2d(inputChannels: 1, outputChannels: 16, kernelSize: 3, stride: 2) }, batch: 2)
    GradientCheck().run(try Sequential(inputShape: [6, 5, 16]) { Conv2d(inputChannels: 16, outputChannels: 32, kernelSize: 3, stride: 1) }, batch: 2)
    GradientCheck().run(try Sequential(inputShape: [4, 4, 64]) { Conv2d(inputChannels: 64, outputChannels: 64, kernelSize: 3, stride: 2) }, batch: 3)
    GradientCheck().run(try Sequential(inputShape: [5, 5, 3]) { Conv2d(inputChannels: 3, outputChannels: 5, kernelSize: 3, stride: 1, padding: .valid) }, batch: 2)
}

@Test func batchNormGradients() throws {
    GradientCheck(step: 1e-2).run(try Sequential(inputShape: [3, 3, 16]) { BatchNorm(featureCount: 16) }, batch: 4)
    GradientCheck(step: 1e-2).run(try Sequential(inputShape: [5]) { BatchNorm(featureCount: 5) }, batch: 6)
    // Fused with the ReLU that follows.
    let fused = try Sequential(inputShape: [2, 2, 32]) { BatchNorm(featureCount: 32); ReLU() }
    #expect((fused.layers[0] as! BatchNorm).fusedReLU)
    #expect(fused.stages.count == 1)
    GradientCheck(step: 1e-3).run(fused, batch: 5)
}

@Test func maxPoolGradients() throws {
    GradientCheck(step: 1e-3).run(try Sequential(inputShape: [5, 5, 3]) { MaxPool2d(kernelSize: 2, stride: 2) }, batch: 2)
    GradientCheck(step: 1e-3).run(try Sequential(inputShape: [4, 6, 16]) { MaxPool2d(kernelSize: 2, stride: 2) }, batch: 2)
}

@Test func sineMLPGradients() throws {
    let model = try Sequential(inputShape: [1]) {
        Linear(1, 64); Tanh()
        Linear(64, 64); Tanh()
        Linear(64, 1)
    }
    #expect(model.parameterCount == 64 + 64 + 64 * 64 + 64 + 64 + 1)
    GradientCheck(step: 1e-2).run(model, batch: 10)
}

/// The Omniglot model of the paper, on 28×28 inputs.
func omniglotModel(classes: Int) throws -> Sequential {
    try Sequential(inputShape: [28, 28, 1]) {
        for i in 0..<4 {
            Conv2d(inputChannels: i == 0 ? 1 : 64, outputChannels: 64, kernelSize: 3, stride: 2)
            BatchNorm(featureCount: 64)
            ReLU()
        }
        Flatten()
        Linear(256, classes)
    }
}

@Test func omniglotModelGradients() throws {
    let model = try omniglotModel(classes: 5)
    #expect(model.outputShape == [5])
    #expect(model.layout["conv3.weight"]?.shape == [3, 3, 64, 64])
    #expect(model.layout["linear0.weight"]?.shape == [256, 5])
    #expect(model.parameterCount == 113_221)
    GradientCheck(checkCoordinates: false, directionRelativeTolerance: 5e-2).run(model, batch: 4)
    GradientCheck(checkCoordinates: false, directionRelativeTolerance: 5e-2).run(try omniglotModel(classes: 20), batch: 3, seed: 1)
    // The same network with a smooth activation has no kinks: a tight tolerance holds.
    let smooth = try Sequential(inputShape: [28, 28, 1]) {
        for i in 0..<4 {
            Conv2d(inputChannels: i == 0 ? 1 : 64, outputChannels: 64, kernelSize: 3, stride: 2)
            BatchNorm(featureCount: 64)
            Tanh()
        }
        Flatten()
        Linear(256, 5)
    }
    GradientCheck(checkCoordinates: false, directionRelativeTolerance: 1e-2).run(smooth, batch: 4)
}

/// Two Mini-ImageNet blocks (conv → BN → max-pool → ReLU) for 11×11×3 images.
func miniImageNetStyleLayers() -> [any Layer] {
    var layers: [any Layer] = []
    for i in 0..<2 {
        layers += [Conv2d(inputChannels: i == 0 ? 3 : 32, outputChannels: 32, kernelSize: 3), BatchNorm(featureCount: 32),
                   MaxPool2d(kernelSize: 2, stride: 2), ReLU()]
    }
    return layers + [Flatten(), Linear(3 * 3 * 32, 4)]
}

func miniImageNetStyleModel(batchShards: Int = 1) throws -> Sequential {
    try Sequential(inputShape: [11, 11, 3], layers: miniImageNetStyleLayers(), batchShards: batchShards)
}

@Test func miniImageNetStyleGradients() throws {
    GradientCheck(checkCoordinates: false, directionRelativeTolerance: 5e-2).run(try miniImageNetStyleModel(), batch: 3)
}

/// Without ReLU and max pooling the loss is smooth, so finite differences can be held to a tight
/// tolerance with a large step; batches of 9 and 12 leave partial tiles in the first layer. (With
/// the kinks, the mini-style model's numeric derivatives at these batches drift towards the
/// analytic ones only as the step shrinks: kinks crossed within the step, not a wrong gradient.)
@Test(arguments: [9, 12]) func smoothMiniImageNetStyleGradients(batch: Int) throws {
    let model = try Sequential(inputShape: [11, 11, 3], layers: [
        Conv2d(inputChannels: 3, outputChannels: 32, kernelSize: 3), BatchNorm(featureCount: 32),
        Conv2d(inputChannels: 32, outputChannels: 32, kernelSize: 3, stride: 2), BatchNorm(featureCount: 32),
        Flatten(), Linear(6 * 6 * 32, 4),
    ])
    GradientCheck(checkCoordinates: false, directionStep: 1e-2, directionRelativeTolerance: 5e-3,
                  directionAbsoluteTolerance: 2e-3).run(model, batch: batch)
}

@Test func lossGradients() {
    var rng = RandomGenerator(seed: 5)
    let batch = 4, classes = 5
    var logits: [Float] = (0..<(batch * classes)).map { _ in rng.uniform(Float(-2), Float(2)) }
    let labels: [Float] = [0, 3, 4, 1]
    var gradient = [Float](repeating: 0, count: logits.count)
    _ = LossKernels.softmaxCrossEntropy(logits: logits, labels: labels, batch: batch, classes: classes, gradient: &gradient)
    for i in logits.indices {
        let saved = logits[i]
        logits[i] = saved + 1e-2
        let plus = LossKernels.softmaxCrossEntropy(logits: logits, labels: labels, batch: batch, classes: classes, gradient: nil)
        logits[i] = saved - 1e-2
        let minus = LossKernels.softmaxCrossEntropy(logits: logits, labels: labels, batch: batch, classes: classes, gradient: nil)
        logits[i] = saved
        let numeric: Float = (plus - minus) / 0.02
        #expect(abs(numeric - gradient[i]) < 1e-3)
    }
    // Mean squared error: L = mean (p − t)², dL/dp = 2(p − t)/n.
    let p: [Float] = [1, 2, 3], t: [Float] = [0, 2, 5]
    var g = [Float](repeating: 0, count: 3)
    let l = LossKernels.meanSquaredError(prediction: p, target: t, count: 3, gradient: &g)
    #expect(abs(l - 5.0 / 3) < 1e-6)
    #expect(g == [2.0 / 3, 0, -4.0 / 3])
}

@Test func shapeErrorsAreClear() {
    #expect(throws: ModelError.self) { try Sequential(inputShape: [28, 28, 1]) { Linear(784, 5) } }
    #expect(throws: ModelError.self) { try Sequential(inputShape: [28, 28, 3]) { Conv2d(inputChannels: 1, outputChannels: 8, kernelSize: 3) } }
    do {
        _ = try Sequential(inputShape: [28, 28, 1]) { Flatten(); Linear(100, 5) }
        Issue.record("expected an error")
    } catch {
        #expect("\(error)".contains("Linear(100, 5) needs inputs of shape [100], got [784]"))
    }
}

/// Runs one forward and backward pass of `model` and returns (output, parameter gradients,
/// input gradient).
private func passes(_ model: Sequential, parameters: [Float], input: [Float], batch: Int,
                    withInputGradient: Bool = true) -> ([Float], [Float], [Float]) {
    let workspace = model.makeWorkspace(maxBatch: batch)
    let x = FloatBuffer(count: input.count)
    input.withUnsafeBufferPointer { x.pointer.update(from: $0.baseAddress!, count: input.count) }
    let gradients = FloatBuffer(count: model.parameterCount)
    let inputGradient = FloatBuffer(count: input.count)
    return parameters.withUnsafeBufferPointer { p in
        let out = model.forward(parameters: p.baseAddress!, input: x.pointer, batch: batch, workspace: workspace)
        let output = Array(UnsafeBufferPointer(start: out, count: batch * model.outputCount))
        let dy = FloatBuffer(count: output.count)
        for i in 0..<output.count { dy.pointer[i] = Float(i % 7) - 3 }
        model.backward(parameters: p.baseAddress!, outputGradient: dy.pointer, gradients: gradients.pointer,
                       workspace: workspace, inputGradient: withInputGradient ? inputGradient.pointer : nil)
        return (output, gradients.array, withInputGradient ? inputGradient.array : [])
    }
}

@Test("batch norm fused with ReLU and max pooling gives the floats of the separate layers",
      arguments: [false, true], [32, 80])
func fusedBatchNormPoolingMatchesSeparateLayers(reluFirst: Bool, channels: Int) throws {
    // Both orders of the Mini-ImageNet block (pool then ReLU, as the paper's model; ReLU then
    // pool), on odd sizes (the last window sees one row) and 84×84-like even ones; 32 channels
    // (the paper's) and 80 (a block of 64 and one of 16).
    func layers() -> [any Layer] {
        var list: [any Layer] = []
        for i in 0..<2 {
            list.append(Conv2d(inputChannels: i == 0 ? 3 : channels, outputChannels: channels, kernelSize: 3))
            list.append(BatchNorm(featureCount: channels))
            if reluFirst { list.append(ReLU()) }
            list.append(MaxPool2d(kernelSize: 2, stride: 2))
            if !reluFirst { list.append(ReLU()) }
        }
        list.append(Flatten())
        list.append(Linear(4 * 4 * channels, 5))
        return list
    }
    // One shard, and two (the sums over the batch taken per half).
    for shards in [1, 2] {
        let fused = try Sequential(inputShape: [14, 13, 3], layers: layers(), batchShards: shards)
        let separate = try Sequential(inputShape: [14, 13, 3], layers: layers(), fusing: false, batchShards: shards)
        #expect(fused.layout == separate.layout)
        #expect((fused.layers[1] as? BatchNorm)?.fusedPool != nil && (fused.layers[1] as? BatchNorm)?.fusedReLU == true)
        #expect((separate.layers[1] as? BatchNorm)?.fusedPool == nil)
        var rng = RandomGenerator(seed: 3)
        let parameters = fused.initialParameters(using: &rng)
        let batch = 3 * shards  // two shards need 4 examples each
        // Coarse values: windows often hold equal maxima, and some windows are all ≤ 0 after BN.
        let input = (0..<batch * fused.inputCount).map { _ in rng.uniform(Float(0), Float(4)).rounded(.down) }
        let (y1, g1, dx1) = passes(fused, parameters: parameters, input: input, batch: batch)
        let (y2, g2, dx2) = passes(separate, parameters: parameters, input: input, batch: batch)
        #expect(y1 == y2)
        #expect(g1 == g2)
        #expect(dx1 == dx2)
    }
}

@Test("batch norm is fused with pooling only when the windows tile the input and the channels fill 16-float vectors")
func batchNormPoolingFusionConditions() throws {
    func firstNorm(channels: Int, poolStride: Int) throws -> BatchNorm? {
        let model = try Sequential(inputShape: [8, 8, 1], layers: [
            Conv2d(inputChannels: 1, outputChannels: channels, kernelSize: 3), BatchNorm(featureCount: channels),
            MaxPool2d(kernelSize: 2, stride: poolStride), ReLU(), Flatten(),
        ])
        return model.layers[1] as? BatchNorm
    }
    #expect(try firstNorm(channels: 16, poolStride: 2)?.fusedPool != nil)
    #expect(try firstNorm(channels: 12, poolStride: 2)?.fusedPool == nil)  // 12 channels: separate stages
    #expect(try firstNorm(channels: 16, poolStride: 1)?.fusedPool == nil)  // overlapping windows
    #expect(try firstNorm(channels: 12, poolStride: 2)?.fusedReLU == false)
}

@Test("a convolution before a batch norm hands over the sums each needs: the floats of the stages computing them",
      arguments: [1, 2])
func convolutionBatchNormSumsMatchSeparateStages(shards: Int) throws {
    // The Omniglot block: the convolution adds up its output for the batch norm's statistics and
    // the batch norm adds up its input gradient for the convolution's bias. `fusing: false`
    // keeps every layer a stage that computes its own sums.
    func layers() -> [any Layer] {
        [Conv2d(inputChannels: 1, outputChannels: 64, kernelSize: 3, stride: 2), BatchNorm(featureCount: 64), ReLU(),
         Conv2d(inputChannels: 64, outputChannels: 48, kernelSize: 3, stride: 2), BatchNorm(featureCount: 48), ReLU(),
         Flatten(), Linear(4 * 4 * 48, 5)]
    }
    let fused = try Sequential(inputShape: [13, 14, 1], layers: layers(), batchShards: shards)
    let separate = try Sequential(inputShape: [13, 14, 1], layers: layers(), fusing: false, batchShards: shards)
    #expect(fused.stages.count == 6 && separate.stages.count == 8)
    #expect(fused.stages[0].sumsOutputForNext && fused.stages[1].previousBiasOffset != nil)
    var rng = RandomGenerator(seed: 4)
    let parameters = fused.initialParameters(using: &rng).map { $0 + rng.uniform(Float(-0.1), Float(0.1)) }
    let batch = 9
    let input = (0..<batch * fused.inputCount).map { _ in rng.uniform(Float(-1), Float(1)) }
    let (y1, g1, dx1) = passes(fused, parameters: parameters, input: input, batch: batch)
    let (y2, g2, dx2) = passes(separate, parameters: parameters, input: input, batch: batch)
    #expect(y1 == y2)
    #expect(g1 == g2)
    #expect(dx1 == dx2)
    // The convolutions' bias gradients are sums of batch-norm input gradients: tiny, not zero.
    let bias = fused.layout["conv1.bias"]!.range
    #expect(g1[bias].contains { $0 != 0 })
}

@Test("the first batch norm hands its input gradient to the first layer's weight gradient chunk by chunk: the floats of the stages one after another",
      arguments: [1, 2])
func inputGradientHandedToFirstLayerMatchesSeparateStages(shards: Int) throws {
    func layers() -> [any Layer] {
        var list: [any Layer] = []
        for i in 0..<2 {
            list += [Conv2d(inputChannels: i == 0 ? 3 : 32, outputChannels: 32, kernelSize: 3), BatchNorm(featureCount: 32),
                     MaxPool2d(kernelSize: 2, stride: 2), ReLU()]
        }
        return list + [Flatten(), Linear(3 * 3 * 32, 5)]
    }
    let fused = try Sequential(inputShape: [12, 12, 3], layers: layers(), batchShards: shards)
    let separate = try Sequential(inputShape: [12, 12, 3], layers: layers(), fusing: false, batchShards: shards)
    #expect(fused.stages[1].handsInputGradientToFirstLayer && !fused.stages[3].handsInputGradientToFirstLayer)
    #expect(!separate.stages[1].handsInputGradientToFirstLayer)
    // Enough images that each shard's weight gradient sums over several chunks of rows.
    let g = try #require((fused.layers[0] as? Conv2d)?.geometry)
    let batch = 64
    #expect(batch / shards * g.outputHeight * g.outputWidth > Convolution.weightGradientChunkRows(g))
    var rng = RandomGenerator(seed: 8)
    let parameters = fused.initialParameters(using: &rng).map { $0 + rng.uniform(Float(-0.1), Float(0.1)) }
    let input = (0..<batch * fused.inputCount).map { _ in rng.uniform(Float(-1), Float(1)) }
    let (y1, g1, _) = passes(fused, parameters: parameters, input: input, batch: batch, withInputGradient: false)
    let (y2, g2, _) = passes(separate, parameters: parameters, input: input, batch: batch, withInputGradient: false)
    #expect(y1 == y2)
    #expect(g1 == g2)
    #expect(g1[fused.layout["conv0.weight"]!.range].contains { $0 != 0 })
    // Asking for the model's input gradient writes the batch norm's input gradient whole again.
    let (_, g3, dx3) = passes(fused, parameters: parameters, input: input, batch: batch, withInputGradient: true)
    #expect(g3 == g1)
    #expect(dx3.contains { $0 != 0 })
}

@Test func reusedLayersForgetWhatAnotherModelFused() throws {
    // A layer list built into a fused model, then into an unfused one: the convolutions must
    // compute their own bias gradients again and the batch norms their own sums.
    let layers = miniImageNetStyleLayers()
    _ = try Sequential(inputShape: [11, 11, 3], layers: layers)
    let reused = try Sequential(inputShape: [11, 11, 3], layers: layers, fusing: false)
    let fresh = try Sequential(inputShape: [11, 11, 3], layers: miniImageNetStyleLayers(), fusing: false)
    var rng = RandomGenerator(seed: 6)
    let parameters = fresh.initialParameters(using: &rng)
    let input = (0..<4 * fresh.inputCount).map { _ in rng.uniform(Float(-1), Float(1)) }
    let (y1, g1, dx1) = passes(reused, parameters: parameters, input: input, batch: 4)
    let (y2, g2, dx2) = passes(fresh, parameters: parameters, input: input, batch: 4)
    #expect(y1 == y2)
    #expect(g1 == g2)
    #expect(dx1 == dx2)
}

@Test("The same layers build several models, fused or not, of any size, without changing each other")
func layersAreDescriptionsThatBuildSeveralModels() throws {
    let layers: [any Layer] = [Conv2d(inputChannels: 1, outputChannels: 16, kernelSize: 3), BatchNorm(featureCount: 16), ReLU(),
                               MaxPool2d(kernelSize: 2, stride: 2), Flatten(), Linear(4 * 4 * 16, 3)]
    let fused = try Sequential(inputShape: [8, 8, 1], layers: layers)
    #expect((fused.layers[1] as? BatchNorm)?.fusedReLU == true && (fused.layers[1] as? BatchNorm)?.fusedPool != nil)
    var rng = RandomGenerator(seed: 3, stream: [0])
    let parameters = fused.initialParameters(using: &rng)
    let inputs = (0..<4).map { _ in (0..<64).map { _ in rng.uniform(Float(-1), Float(1)) } }
    let before = fused.predict(parameters, inputs: inputs)
    // Models built afterwards from the same layers: unfused, and for a larger input (the convolution
    // and pooling bind to 12×12, the linear layer then does not fit and the model is refused).
    let unfused = try Sequential(inputShape: [8, 8, 1], layers: layers, fusing: false)
    #expect(throws: ModelError.self) { _ = try Sequential(inputShape: [12, 12, 1], layers: layers) }
    #expect((unfused.layers[1] as? BatchNorm)?.fusedReLU == false)
    // The first model is untouched: still fused, the same outputs; the unfused one agrees with it.
    #expect((fused.layers[1] as? BatchNorm)?.fusedReLU == true && (fused.layers[1] as? BatchNorm)?.fusedPool != nil)
    #expect(fused.predict(parameters, inputs: inputs) == before)
    let separate = unfused.predict(parameters, inputs: inputs)
    for (a, b) in zip(before.joined(), separate.joined()) { #expect(abs(a - b) <= 1e-5 * max(1, abs(a))) }
    // The layers written stay unbound descriptions.
    #expect((layers[0] as? Conv2d)?.geometry == nil && (layers[1] as? BatchNorm)?.fusedPool == nil)
    #expect(fused.layers[0] !== layers[0])
}
