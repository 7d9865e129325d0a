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
