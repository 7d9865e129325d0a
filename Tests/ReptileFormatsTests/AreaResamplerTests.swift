import Foundation
import Testing
import ReptileFormats

/// The exact area average, by brute force in double precision: integrate the piecewise-constant input over
/// each output pixel's rectangle.
func referenceResample(_ source: [Float], width: Int, height: Int, channels: Int, toWidth: Int, toHeight: Int) -> [Double] {
    let sx = Double(width) / Double(toWidth), sy = Double(height) / Double(toHeight)
    var output = [Double](repeating: 0, count: toWidth * toHeight * channels)
    for oy in 0..<toHeight {
        let y0 = Double(oy) * sy, y1 = Double(oy + 1) * sy
        for ox in 0..<toWidth {
            let x0 = Double(ox) * sx, x1 = Double(ox + 1) * sx
            for c in 0..<channels {
                var sum = 0.0
                for iy in 0..<height {
                    let overlapY = min(y1, Double(iy + 1)) - max(y0, Double(iy))
                    if overlapY <= 0 { continue }
                    for ix in 0..<width {
                        let overlapX = min(x1, Double(ix + 1)) - max(x0, Double(ix))
                        if overlapX <= 0 { continue }
                        sum += overlapX * overlapY * Double(source[(iy * width + ix) * channels + c])
                    }
                }
                output[(oy * toWidth + ox) * channels + c] = sum / (sx * sy)
            }
        }
    }
    return output
}

func randomImage(count: Int, seed: UInt64) -> [Float] {
    var generator = SeededGenerator(seed: seed)
    return (0..<count).map { _ in Float.random(in: 0...1, using: &generator) }
}

@Suite struct AreaResamplerTests {
    @Test func constantImagesStayConstant() {
        for channels in [1, 3] {
            let plan = AreaResampler.Plan(width: 105, height: 105, channels: channels, toWidth: 28, toHeight: 28)
            let output = plan.resample([Float](repeating: 0.7, count: 105 * 105 * channels))
            #expect(output.count == 28 * 28 * channels)
            #expect(output.allSatisfy { abs($0 - 0.7) < 1e-6 })
        }
    }

    @Test func integerRatioGivesBlockMeans() {
        let source: [Float] = [
            1, 2, 3, 4,
            5, 6, 7, 8,
            9, 10, 11, 12,
            13, 14, 15, 16,
        ]
        var output = [Float](repeating: 0, count: 4)
        source.withUnsafeBufferPointer { src in
            output.withUnsafeMutableBufferPointer { dst in
                AreaResampler.resample(src, width: 4, height: 4, toWidth: 2, toHeight: 2, into: dst)
            }
        }
        #expect(output == [3.5, 5.5, 11.5, 13.5])
    }

    @Test func matchesBruteForceReferenceFor105To28() {
        let source = randomImage(count: 105 * 105, seed: 1)
        let output = AreaResampler.Plan(width: 105, height: 105, toWidth: 28, toHeight: 28).resample(source)
        let reference = referenceResample(source, width: 105, height: 105, channels: 1, toWidth: 28, toHeight: 28)
        let worst = zip(output, reference).map { abs(Double($0) - $1) }.max() ?? 0
        #expect(worst < 2e-6, "largest deviation \(worst)")
        // The mean is preserved.
        let inputMean = source.reduce(0.0) { $0 + Double($1) } / Double(source.count)
        let outputMean = output.reduce(0.0) { $0 + Double($1) } / Double(output.count)
        #expect(abs(inputMean - outputMean) < 1e-6)
    }

    @Test(arguments: [(7, 5, 3, 2, 1), (10, 6, 4, 3, 2), (5, 9, 3, 4, 3), (3, 3, 6, 6, 1), (2, 3, 5, 7, 2), (28, 28, 105, 105, 1), (1, 1, 3, 2, 4)])
    func matchesBruteForceReferenceForOtherShapes(width: Int, height: Int, toWidth: Int, toHeight: Int, channels: Int) {
        let source = randomImage(count: width * height * channels, seed: UInt64(width * 100 + toWidth))
        let plan = AreaResampler.Plan(width: width, height: height, channels: channels, toWidth: toWidth, toHeight: toHeight)
        let output = plan.resample(source)
        let reference = referenceResample(source, width: width, height: height, channels: channels, toWidth: toWidth, toHeight: toHeight)
        let worst = zip(output, reference).map { abs(Double($0) - $1) }.max() ?? 0
        #expect(worst < 2e-6, "largest deviation \(worst)")
    }

    @Test func integerUpscalingRepeatsPixels() {
        let source: [Float] = [1, 2, 3, 4]
        let output = AreaResampler.Plan(width: 2, height: 2, toWidth: 4, toHeight: 6).resample(source)
        #expect(output == [
            1, 1, 2, 2, 1, 1, 2, 2, 1, 1, 2, 2,
            3, 3, 4, 4, 3, 3, 4, 4, 3, 3, 4, 4,
        ])
    }

    @Test func bytesAreScaledAfterAveraging() {
        let bytes: [UInt8] = [0, 255, 255, 255]
        #expect(AreaResampler.Plan(width: 2, height: 2, toWidth: 1, toHeight: 1).resample(bytes) == [0.75])
        // 0/1 masks (NumPy bool arrays) with maxValue 1.
        let mask: [UInt8] = [1, 0, 0, 0, 1, 1, 1, 1, 0]
        let output = AreaResampler.Plan(width: 3, height: 3, toWidth: 1, toHeight: 1).resample(mask, maxValue: 1)
        #expect(abs(output[0] - 5.0 / 9.0) < 1e-6)
        // The UInt8 path agrees with the Float path on the same data.
        var generator = SeededGenerator(seed: 3)
        let image = (0..<(105 * 105 * 2)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let plan = AreaResampler.Plan(width: 105, height: 105, channels: 2, toWidth: 28, toHeight: 28)
        let fromBytes = plan.resample(image)
        let fromFloats = plan.resample(image.map { Float($0) / 255 })
        #expect(zip(fromBytes, fromFloats).allSatisfy { abs($0 - $1) < 1e-5 })
        var viaStatic = [Float](repeating: 0, count: 28 * 28 * 2)
        image.withUnsafeBufferPointer { src in
            viaStatic.withUnsafeMutableBufferPointer { dst in
                AreaResampler.resample(src, width: 105, height: 105, channels: 2, toWidth: 28, toHeight: 28, into: dst)
            }
        }
        #expect(viaStatic == fromBytes)
    }

    @Test func reusedPlanAndBuffersGiveIdenticalResultsAndAreFast() {
        let plan = AreaResampler.Plan(width: 105, height: 105, toWidth: 28, toHeight: 28)
        var destination = [Float](repeating: 0, count: 28 * 28)
        var scratch = [Float](repeating: 0, count: plan.scratchCount)
        #expect(plan.scratchCount == 28 * 105)
        let images = (0..<4).map { randomImage(count: 105 * 105, seed: UInt64(10 + $0)) }
        for image in images {
            plan.resample(image, into: &destination, scratch: &scratch)
            #expect(destination == plan.resample(image))
        }
        // Per-image cost with a reused plan and buffers (printed, not asserted).
        let bytes = [UInt8](repeating: 1, count: 105 * 105)
        let count = 2000
        let elapsed = ContinuousClock().measure {
            bytes.withUnsafeBufferPointer { src in
                destination.withUnsafeMutableBufferPointer { dst in
                    scratch.withUnsafeMutableBufferPointer { tmp in
                        for _ in 0..<count { plan.resample(src, into: dst, scratch: tmp, maxValue: 1) }
                    }
                }
            }
        }
        #expect(destination.allSatisfy { abs($0 - 1) < 1e-6 })
        print("AreaResampler: 105×105 → 28×28 takes \(elapsed / count) per image")
    }
}
