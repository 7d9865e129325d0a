import Testing
@testable import ReptileKernels

/// A direct transcription of max pooling and its gradient, to check the vectorized kernels.
private func naivePool(_ g: PoolGeometry, batch: Int, x: [Float], dy: [Float]) -> (y: [Float], dx: [Float]) {
    var y = [Float](repeating: -.infinity, count: batch * g.outputSize)
    var dx = [Float](repeating: 0, count: batch * g.inputSize)
    let c = g.channels
    for n in 0..<batch {
        for oy in 0..<g.outputHeight {
            for ox in 0..<g.outputWidth {
                for j in 0..<c {
                    let o = ((n * g.outputHeight + oy) * g.outputWidth + ox) * c + j
                    var winner: Int?
                    for wy in 0..<g.size {
                        for wx in 0..<g.size {
                            let iy = oy * g.stride - g.padTop + wy, ix = ox * g.stride - g.padLeft + wx
                            guard (0..<g.inputHeight).contains(iy), (0..<g.inputWidth).contains(ix) else { continue }
                            let i = ((n * g.inputHeight + iy) * g.inputWidth + ix) * c + j
                            if winner == nil || x[i] > y[o] { y[o] = x[i]; winner = i }
                        }
                    }
                    if let winner { dx[winner] += dy[o] }
                }
            }
        }
    }
    return (y, dx)
}

@Test(arguments: [(21, 21, 32), (84, 84, 16), (6, 5, 20), (3, 3, 1)])
func maxPoolingMatchesTheDefinitionIncludingTies(height: Int, width: Int, channels: Int) {
    let g = PoolGeometry.same(inputHeight: height, inputWidth: width, channels: channels, size: 2, stride: 2)
    checkPooling(g)
}

/// Windows that overlap (3×3, stride 2) or leave the last row and column out ("valid" 2×2 on an
/// odd size): the input gradient must still be zero where no window routes anything.
@Test(arguments: [(9, 7, 16, 3, 2, false), (7, 9, 20, 2, 2, true)])
func maxPoolingWithOverlapsAndUncoveredEdges(height: Int, width: Int, channels: Int, size: Int, stride: Int, valid: Bool) {
    var g = PoolGeometry.same(inputHeight: height, inputWidth: width, channels: channels, size: size, stride: stride)
    if valid {
        g.padTop = 0; g.padLeft = 0
        g.outputHeight = (height - size) / stride + 1
        g.outputWidth = (width - size) / stride + 1
    }
    checkPooling(g)
}

private func checkPooling(_ g: PoolGeometry) {
    let height = g.inputHeight, channels = g.channels
    let batch = 2
    var rng = RandomGenerator(seed: 5, stream: [UInt64(height), UInt64(channels)])
    // Few distinct values, so that windows often hold several equal maxima.
    let x = (0..<batch * g.inputSize).map { _ in (rng.uniform(Float(0), Float(4))).rounded(.down) - 1 }
    let dy = (0..<batch * g.outputSize).map { _ in rng.uniform(Float(-1), Float(1)) }
    var y = [Float](repeating: 0, count: batch * g.outputSize)
    var dx = [Float](repeating: 7, count: batch * g.inputSize)
    PoolingKernels.maxForward(g, batch: batch, input: x, output: &y)
    PoolingKernels.maxBackward(g, batch: batch, input: x, output: y, outputGradient: dy, inputGradient: &dx)
    let expected = naivePool(g, batch: batch, x: x, dy: dy)
    #expect(y == expected.y)
    #expect(dx == expected.dx)
}
