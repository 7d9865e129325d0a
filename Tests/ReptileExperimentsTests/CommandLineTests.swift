import Testing
import Foundation

/// The `reptile` executable that `swift test` built next to the test bundle.
func reptileExecutable() throws -> String {
    var candidates = [URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
                      Bundle.main.bundleURL, Bundle.main.bundleURL.deletingLastPathComponent()]
    #if os(macOS)
    candidates += Bundle.allBundles.filter { $0.bundlePath.hasSuffix(".xctest") }.map { $0.bundleURL.deletingLastPathComponent() }
    #endif
    for dir in candidates {
        let path = dir.appendingPathComponent("reptile").path
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    throw CommandFailure(description: "the reptile executable is not next to the tests (looked in \(candidates.map(\.path)))")
}

struct CommandFailure: Error, CustomStringConvertible { var description: String }

/// Runs `reptile arguments…`; returns the exit status, standard output and standard error.
func runReptile(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try reptileExecutable())
    process.arguments = arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Read both pipes to the end before waiting, so a full pipe cannot block the child.
    final class Box: @unchecked Sendable { var data = Data() }
    let errBox = Box()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async { errBox.data = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    let errData = errBox.data
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
}

/// The committed miniature Mini-ImageNet tree of the data tests.
let miniImageNetTree = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("ReptileDataTests/Fixtures/miniimagenet").path

@Test func miniImageNetTrainsAndEvaluatesThroughTheCommandLine() throws {
    let dir = temporaryDirectory("mini-cli")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let train = try runReptile(["train", "miniimagenet", "--data", miniImageNetTree, "--classes", "3", "--shots", "1",
                                "--train-shots", "2", "--inner-batch", "4", "--inner-iters", "2", "--meta-step", "1",
                                "--meta-step-final", "0", "--meta-batch", "2", "--meta-iters", "6", "--eval-batch", "3",
                                "--eval-iters", "2", "--eval-samples", "4", "--eval-interval", "2",
                                "--checkpoint", dir, "--checkpoint-interval", "3", "--json"])
    #expect(train.status == 0, "\(train.stderr)")
    let result = try JSONSerialization.jsonObject(with: Data(train.stdout.utf8)) as? [String: Any]
    #expect(result?["meta_iterations"] as? Int == 6)
    for key in ["train_accuracy", "test_accuracy", "test_ci95", "val_accuracy", "seconds"] {
        #expect(result?[key] is Double, "missing \(key) in \(train.stdout)")
    }
    #expect(train.stderr.contains("batch 2: train="))
    #expect(FileManager.default.fileExists(atPath: dir + "/model.safetensors"))

    let evaluate = try runReptile(["evaluate", "miniimagenet", "--data", miniImageNetTree, "--checkpoint", dir,
                                   "--eval-samples", "3", "--transductive", "--json"])
    #expect(evaluate.status == 0, "\(evaluate.stderr)")
    let evaluation = try JSONSerialization.jsonObject(with: Data(evaluate.stdout.utf8)) as? [String: Any]
    #expect(evaluation?["val_accuracy"] is Double)
}

@Test func commandLineErrorsAreOneLineAndNonZero() throws {
    let cases: [([String], String)] = [
        (["train", "miniimagenet", "--meta-iters", "1"], "--data"),
        (["train", "miniimagenet", "--data", "/nonexistent/mini"], "no such folder"),
        (["train", "omniglot", "--shots", "20", "--meta-iters", "1"], "--shots 20"),
        (["train", "omniglot", "--classes", "0", "--meta-iters", "1"], "--classes"),
        (["train", "omniglot", "--meta-iters", "0"], "--meta-iters"),
        (["evaluate", "omniglot", "--checkpoint", "/nonexistent/ckpt"], "/nonexistent/ckpt"),
    ]
    for (arguments, mention) in cases {
        let run = try runReptile(arguments)
        #expect(run.status != 0, "\(arguments) should fail")
        let errorLines = run.stderr.split(separator: "\n").filter { $0.hasPrefix("Error:") }
        #expect(errorLines.count == 1, "\(arguments): \(run.stderr)")
        #expect(run.stderr.contains(mention), "\(arguments): \(run.stderr)")
        #expect(!run.stderr.contains("Fatal error"), "\(arguments) crashed: \(run.stderr)")
    }
}
