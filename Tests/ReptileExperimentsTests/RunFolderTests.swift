// A run folder under misuse: other data on resume, damaged weights, leftovers of a killed write,
// two runs at once, a folder that is not a run's, a path that cannot be a folder.

import Testing
import Foundation
@testable import Reptile
@testable import ReptileExperiments
import ReptileFormats
import ReptileKernels
import ReptilePlot

/// A two-iteration run into a new folder; returns the folder.
private func shortRun(_ name: String, options: FewShotOptions? = nil) throws -> String {
    let dir = temporaryDirectory(name)
    var o = options ?? quickOptions(iterations: 2)
    o.evalSamples = 2
    _ = try FewShotTraining(benchmark: .omniglot, options: o, splits: omniglot, checkpointDirectory: dir).run()
    return dir
}

private func expectError(_ contains: String, _ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) {
    do {
        try body()
        Issue.record("expected an error mentioning \"\(contains)\"", sourceLocation: sourceLocation)
    } catch {
        #expect("\(error)".contains(contains), "\(error)", sourceLocation: sourceLocation)
    }
}

@Test func resumingOnOtherDataIsRefused() async throws {
    try await offPool {
        let dir = temporaryDirectory("other-data")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var options = quickOptions(iterations: 4)
        options.evalSamples = 2
        try FewShotTraining(benchmark: .omniglot, options: options, splits: omniglot, checkpointDirectory: dir).runUntil(iteration: 2)
        let record = try RunRecord.read(from: dir)
        #expect(record.dataDigest == omniglot.contentDigest)
        // The same characters split another way: what swapped archives do.
        let images = try Omniglot.loadBuiltIn()
        let (train, test) = try Omniglot.split(images, seed: 1)
        let other = FewShotSplits(train: train, test: test)
        #expect(other.contentDigest != omniglot.contentDigest)
        let before = try Data(contentsOf: URL(fileURLWithPath: dir + "/run.json"))
        expectError("cannot resume \(dir) on other data") {
            _ = try FewShotTraining(benchmark: .omniglot, options: options, splits: other, checkpointDirectory: dir,
                                    dataLabel: "/elsewhere").run(resume: true)
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/run.json")) == before, "run.json was rewritten")
        // The same data resumes.
        _ = try FewShotTraining(benchmark: .omniglot, options: options, splits: omniglot, checkpointDirectory: dir).run(resume: true)
    }
}

@Test func checkpointsWithNonFiniteWeightsDoNotLoad() async throws {
    try await offPool {
        let dir = try shortRun("nan-weights")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let loaded = try LoadedModel.load(from: dir)
        for bad in [Float.nan, .infinity] {
            var parameters = loaded.parameters
            parameters[17] = bad
            try Checkpoint(layout: loaded.model.layout, parameters: parameters,
                           innerOptimizerState: loaded.optimizer.stateTensors, metadata: ["iteration": "2"]).write(to: dir)
            expectError(bad.isNaN ? "holds NaN values" : "holds infinite values") { _ = try LoadedModel.load(from: dir) }
        }
    }
}

@Test func staleTemporariesOfAKilledWriteAreRemovedOnResume() async throws {
    try await offPool {
        let dir = temporaryDirectory("stale")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var options = quickOptions(iterations: 4)
        options.evalSamples = 2
        try FewShotTraining(benchmark: .omniglot, options: options, splits: omniglot, checkpointDirectory: dir).runUntil(iteration: 2)
        let stale = [".model.safetensors.tmp-4242-k3j2h1", ".run.json.tmp-17-0a"]
        let kept = ["notes.txt", ".model.safetensors.tmp-x", "model.tmp-1-2"]
        for name in stale + kept { FileManager.default.createFile(atPath: dir + "/" + name, contents: Data([1, 2, 3])) }
        _ = try FewShotTraining(benchmark: .omniglot, options: options, splits: omniglot, checkpointDirectory: dir).run(resume: true)
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: dir))
        #expect(left.isDisjoint(with: stale), "\(left)")
        #expect(left.isSuperset(of: kept), "\(left)")
    }
}

@Test func twoRunsOnOneFolderAtOnceAreRefused() async throws {
    try await offPool {
        let dir = try shortRun("locked")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let metrics = try String(contentsOfFile: dir + "/metrics.jsonl", encoding: .utf8)
        do {
            let holder = try RunFolder(path: dir, create: false)   // another run holds the folder
            expectError("is in use by another reptile run (process \(getpid()))") {
                _ = try FewShotTraining(benchmark: .omniglot, options: quickOptions(iterations: 2), splits: omniglot,
                                        checkpointDirectory: dir).run(resume: true)
            }
            withExtendedLifetime(holder) {}
        }
        #expect(try String(contentsOfFile: dir + "/metrics.jsonl", encoding: .utf8) == metrics)
        // Released with its holder: the folder can be taken again.
        _ = try RunFolder(path: dir, create: false)
    }
}

@Test func aFolderWithARunsFilesButNoModelIsNotOverwritten() async throws {
    try await offPool {
        let dir = temporaryDirectory("no-model")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for name in ["run.json", "metrics.jsonl"] {
            FileManager.default.createFile(atPath: dir + "/" + name, contents: Data("keep me\n".utf8))
        }
        expectError("already holds a run (run.json, metrics.jsonl)") {
            _ = try FewShotTraining(benchmark: .omniglot, options: quickOptions(iterations: 2), splits: omniglot,
                                    checkpointDirectory: dir).run()
        }
        for name in ["run.json", "metrics.jsonl"] {
            #expect(try String(contentsOfFile: dir + "/" + name, encoding: .utf8) == "keep me\n")
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/model.safetensors"))
    }
}

@Test func aCheckpointPathThatCannotBeAFolderIsOneClearLine() async throws {
    try await offPool {
        let base = temporaryDirectory("not-a-folder")
        defer { try? FileManager.default.removeItem(atPath: base) }
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        let file = base + "/a-file"
        FileManager.default.createFile(atPath: file, contents: Data("x".utf8))
        for path in [file, file + "/below"] {
            do {
                _ = try FewShotTraining(benchmark: .omniglot, options: quickOptions(iterations: 2), splits: omniglot,
                                        checkpointDirectory: path).run()
                Issue.record("\(path) was accepted as a checkpoint folder")
            } catch {
                let text = "\(error)"
                #expect(text.contains("\(file) is a file"), "\(text)")
                #expect(!text.contains("NSCocoaErrorDomain") && !text.contains("\n"), "\(text)")
            }
        }
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "x")
    }
}

@Test func resumingPastTheEndSaysSo() async throws {
    try await offPool {
        let dir = try shortRun("past-end")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // A run record that promises fewer iterations than the model has done.
        var record = try RunRecord.read(from: dir)
        record.options.metaIters = 1
        try record.write(to: dir)
        var options = quickOptions(iterations: 1)
        options.evalSamples = 2
        expectError("its model is at meta-iteration 2, past the run's --meta-iters 1") {
            _ = try FewShotTraining(benchmark: .omniglot, options: options, splits: omniglot, checkpointDirectory: dir).run(resume: true)
        }
    }
}

@Test func theResultsAreWrittenToTheRunFolder() async throws {
    try await offPool {
        let dir = try shortRun("results")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + FewShotResult.file))
        let result = try JSONDecoder().decode(FewShotResult.self, from: data)
        #expect(result.metaIterations == 2 && result.evalSamples == 2)
        #expect(result.testCI95 >= 0 && (0...1).contains(result.testAccuracy))
        #expect(result.machine?.contains("cores") == true && result.finished != nil)
        #expect(result.options.shots == 1)
    }
}

@Test("Logging evaluations more or less often does not change the trained weights")
func evaluationIntervalDoesNotChangeTheModel() async throws {
    try await offPool {
        var bytes: [Data] = []
        for interval in [1, 7, 1000] {
            let dir = temporaryDirectory("interval-\(interval)")
            defer { try? FileManager.default.removeItem(atPath: dir) }
            var options = quickOptions(iterations: 12)
            options.evalInterval = interval
            options.evalSamples = 2
            try FewShotTraining(benchmark: .omniglot, options: options, splits: omniglot, checkpointDirectory: dir).runUntil(iteration: 12)
            let model = try LoadedModel.load(from: dir)
            bytes.append(model.parameters.withUnsafeBytes { Data($0) })
            if case .float(let v) = model.optimizer.stateTensors[0].values { bytes[bytes.count - 1] += v.withUnsafeBytes { Data($0) } }
        }
        #expect(bytes[0] == bytes[1] && bytes[1] == bytes[2])
    }
}
