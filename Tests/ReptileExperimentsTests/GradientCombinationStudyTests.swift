import Testing
import Foundation
@testable import Reptile
@testable import ReptileExperiments
import ReptileFormats
import ReptileKernels
import ReptilePlot

@Test("A study curve stopped and continued from its checkpoint gives the accuracies and weights of one straight run")
func studyCurvesResumeToTheSameResults() async throws {
    try await offPool {
        var settings = GradientCombinationStudy.Settings()
        settings.metaIterations = 7
        settings.maxInnerSteps = 2
        let study = GradientCombinationStudy(settings: settings, splits: omniglot)
        let combination = study.combinations[1]   // g1+g2
        #expect(combination.label == "g1+g2")
        let straight = temporaryDirectory("study-straight"), stopped = temporaryDirectory("study-stopped")
        defer { try? FileManager.default.removeItem(atPath: straight); try? FileManager.default.removeItem(atPath: stopped) }
        let expected = try study.run(combination, folder: straight, checkpointInterval: 2)
        #expect(expected.count == 7)
        let first = try study.run(combination, folder: stopped, checkpointInterval: 2, until: 3)
        #expect(first == Array(expected.prefix(3)))
        let resumed = try study.run(combination, folder: stopped, checkpointInterval: 2)
        #expect(resumed == expected)
        let model = try Models.omniglot(classes: 5)
        #expect(try Checkpoint.read(from: stopped, layout: model.layout).parameters
                == Checkpoint.read(from: straight, layout: model.layout).parameters)
        // Another curve's checkpoint is not taken for this one.
        #expect(throws: ExperimentError.self) { _ = try study.run(study.combinations[2], folder: straight) }
    }
}

@Test("The study's figure draws each curve's moving average at about 1 000 meta-iterations, first and last included")
func studyFigureSamplesTheSmoothedCurves() throws {
    let values = (0..<40_000).map { Double($0 % 6) / 5 }
    let curve = smoothedSamples(values, window: 800, maxPoints: 1_000)
    #expect(curve.indices.first == 0 && curve.indices.last == 39_999)
    #expect(curve.indices.count >= 1_000 && curve.indices.count <= 1_002)
    #expect(zip(curve.indices, curve.indices.dropFirst()).allSatisfy { $0 < $1 })
    let full = movingAverage(values, window: 800)
    #expect(curve.values == curve.indices.map { full[$0] })
    // Short curves keep every point.
    #expect(smoothedSamples([0.2, 0.4, 0.6], window: 1, maxPoints: 1_000).indices == [0, 1, 2])
    #expect(smoothedSamples([], window: 1, maxPoints: 1_000).indices.isEmpty)

    var settings = GradientCombinationStudy.Settings()
    settings.metaIterations = 40_000
    let study = GradientCombinationStudy(settings: settings, splits: omniglot)
    let chart = study.chart(study.combinations.map { _ in values })
    #expect(chart.series.count == study.combinations.count)
    #expect(chart.series.allSatisfy { $0.xValues.count <= 1_002 && $0.xValues.first == 1 && $0.xValues.last == 40_000 })
}
