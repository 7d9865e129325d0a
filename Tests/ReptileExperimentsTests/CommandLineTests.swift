import Testing
import Foundation
import Reptile
import ReptileExperiments
import ReptileFormats
import ReptileKernels

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

/// Runs `reptile arguments…` on a thread outside Swift's cooperative pool (a test blocked on a
/// child process would otherwise hold one of its few threads, starving the server tests' timers);
/// returns the exit status, standard output and standard error.
func runReptile(_ arguments: [String], environment: [String: String] = [:]) async throws -> (status: Int32, stdout: String, stderr: String) {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try runReptileBlocking(arguments, environment: environment) }) }
    }
}

private func runReptileBlocking(_ arguments: [String], environment: [String: String]) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try reptileExecutable())
    process.arguments = arguments
    if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
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

@Test func miniImageNetTrainsAndEvaluatesThroughTheCommandLine() async throws {
    let dir = temporaryDirectory("mini-cli")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let train = try await runReptile(["train", "miniimagenet", "--data", miniImageNetTree, "--classes", "3", "--shots", "1",
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

    let evaluate = try await runReptile(["evaluate", "miniimagenet", "--data", miniImageNetTree, "--checkpoint", dir,
                                   "--eval-samples", "3", "--transductive", "--json"])
    #expect(evaluate.status == 0, "\(evaluate.stderr)")
    let evaluation = try JSONSerialization.jsonObject(with: Data(evaluate.stdout.utf8)) as? [String: Any]
    #expect(evaluation?["val_accuracy"] is Double)
}

@Test func commandLineErrorsAreOneLineAndNonZero() async throws {
    let cases: [([String], String)] = [
        (["train", "miniimagenet", "--meta-iters", "1"], "--data"),
        (["train", "miniimagenet", "--data", "/nonexistent/mini"], "no such folder"),
        (["train", "omniglot", "--shots", "20", "--meta-iters", "1"], "--shots 20"),
        (["train", "omniglot", "--classes", "0", "--meta-iters", "1"], "--classes"),
        (["train", "omniglot", "--meta-iters", "0"], "--meta-iters"),
        (["evaluate", "omniglot", "--checkpoint", "/nonexistent/ckpt"], "/nonexistent/ckpt"),
    ]
    for (arguments, mention) in cases {
        let run = try await runReptile(arguments)
        #expect(run.status != 0, "\(arguments) should fail")
        let errorLines = run.stderr.split(separator: "\n").filter { $0.hasPrefix("Error:") }
        #expect(errorLines.count == 1, "\(arguments): \(run.stderr)")
        #expect(run.stderr.contains(mention), "\(arguments): \(run.stderr)")
        #expect(!run.stderr.contains("Fatal error"), "\(arguments) crashed: \(run.stderr)")
    }
}

/// Runs `reptile arguments…`, expecting a one-line error that mentions `mention` and no crash.
func expectOneLineError(_ arguments: [String], mentioning mention: String, environment: [String: String] = [:],
                        sourceLocation: SourceLocation = #_sourceLocation) async throws {
    let run = try await runReptile(arguments, environment: environment)
    #expect(run.status != 0, "\(arguments) should fail", sourceLocation: sourceLocation)
    let errorLines = run.stderr.split(separator: "\n").filter { $0.hasPrefix("Error:") }
    #expect(errorLines.count == 1, "\(arguments): \(run.stderr)", sourceLocation: sourceLocation)
    #expect(errorLines.first?.contains(mention) == true, "\(arguments): \(run.stderr)", sourceLocation: sourceLocation)
    #expect(!run.stderr.contains("Fatal error") && !run.stderr.contains("NSCocoaErrorDomain"), "\(arguments): \(run.stderr)",
            sourceLocation: sourceLocation)
}

@Test func impossibleEvaluationFlagsAreOneLineErrors() async throws {
    // A 20-way checkpoint as well as the built-in 5-way model.
    let dir = temporaryDirectory("eval-flags")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    var options = quickOptions(iterations: 1)
    options.classes = 20
    options.evalSamples = 1
    _ = try FewShotTraining(benchmark: .omniglot, options: options, splits: omniglot, checkpointDirectory: dir).run()
    for model in [[], ["--checkpoint", dir]] {
        for transductive in [[], ["--transductive"]] {
            let base = ["evaluate", "omniglot", "--eval-samples", "2"] + model + transductive
            try await expectOneLineError(base + ["--shots", "0"], mentioning: "--shots must be at least 1, got 0")
            try await expectOneLineError(base + ["--shots", "-1"], mentioning: "--shots must be at least 1, got -1")
            try await expectOneLineError(base + ["--shots=-1"], mentioning: "--shots must be at least 1, got -1")
            try await expectOneLineError(base + ["--eval-batch", "0"], mentioning: "--eval-batch must be at least 1, got 0")
            try await expectOneLineError(base + ["--eval-batch=-1"], mentioning: "--eval-batch must be at least 1, got -1")
            try await expectOneLineError(base + ["--eval-iters=-1"], mentioning: "--eval-iters must not be negative, got -1")
        }
    }
    try await expectOneLineError(["evaluate", "omniglot", "--eval-samples", "0"], mentioning: "--eval-samples must be at least 1")
}

@Test func negativeNumbersAfterASpaceAreValuesNotFlags() async throws {
    try await expectOneLineError(["train", "omniglot", "--meta-iters", "-5"], mentioning: "--meta-iters must be at least 1, got -5")
    try await expectOneLineError(["train", "omniglot", "--threads", "-2", "--meta-iters", "1"], mentioning: "--threads must be at least 1, got -2")
}

@Test func badCheckpointFoldersAndDataFilesAreOneLineErrors() async throws {
    let base = temporaryDirectory("bad-paths")
    defer { try? FileManager.default.removeItem(atPath: base) }
    try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
    let file = base + "/file"
    FileManager.default.createFile(atPath: file, contents: Data("x".utf8))
    try await expectOneLineError(["train", "omniglot", "--meta-iters", "1", "--checkpoint", file], mentioning: "is a file")
    try await expectOneLineError(["train", "omniglot", "--meta-iters", "1", "--checkpoint", file + "/run"], mentioning: "is a file")
    // A device posing as an archive is refused, not read until memory runs out.
    try FileManager.default.createSymbolicLink(atPath: base + "/zero.npz", withDestinationPath: "/dev/zero")
    try await expectOneLineError(["train", "omniglot", "--meta-iters", "1", "--data", base + "/zero.npz"], mentioning: "not a regular file")
}

@Test func trainHelpsExampleCommandSurvivesCopying() async throws {
    let help = try await runReptile(["train", "omniglot", "--help"])
    #expect(help.status == 0)
    let lines = help.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    guard let first = lines.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces).hasPrefix("reptile train omniglot") }) else {
        Issue.record("no example in:\n\(help.stdout)"); return
    }
    var command = "", i = first
    while true {
        let line = lines[i].trimmingCharacters(in: .whitespaces)
        command += line.hasSuffix("\\") ? String(line.dropLast()) : line
        if !line.hasSuffix("\\") { break }
        i += 1
    }
    let words = command.split(separator: " ").map(String.init)
    // The whole paper command, flags and values in pairs, as one shell command.
    #expect(words.prefix(3) == ["reptile", "train", "omniglot"])
    for flag in ["--shots", "--train-shots", "--inner-batch", "--inner-iters", "--meta-step", "--meta-step-final", "--meta-batch",
                 "--meta-iters", "--eval-batch", "--eval-iters", "--learning-rate", "--checkpoint"] {
        #expect(words.contains(flag), "\(flag) missing from: \(command)")
    }
    #expect(words.dropFirst(3).enumerated().allSatisfy { $0.offset % 2 == 0 ? $0.element.hasPrefix("--") : !$0.element.hasPrefix("--") },
            "\(command)")
}

@Test("The README's install step: the binary copied to PREFIX/bin and its resources to PREFIX/share/reptile find their data")
func installedBinaryFindsItsDataAndModel() async throws {
    let built = URL(fileURLWithPath: try reptileExecutable()).deletingLastPathComponent()
    let prefix = temporaryDirectory("install")
    defer { try? FileManager.default.removeItem(atPath: prefix) }
    let fm = FileManager.default
    try fm.createDirectory(atPath: prefix + "/bin", withIntermediateDirectories: true)
    try fm.createDirectory(atPath: prefix + "/share/reptile", withIntermediateDirectories: true)
    try fm.copyItem(atPath: built.appendingPathComponent("reptile").path, toPath: prefix + "/bin/reptile")
    let bundles = try fm.contentsOfDirectory(atPath: built.path).filter { $0.hasSuffix(".resources") }
    #expect(bundles.contains("Reptile_ReptileData.resources") && bundles.contains("Reptile_ReptileExperiments.resources"))
    for bundle in bundles {
        try fm.copyItem(atPath: built.appendingPathComponent(bundle).path, toPath: prefix + "/share/reptile/" + bundle)
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: prefix + "/bin/reptile")
    process.arguments = ["evaluate", "omniglot", "--eval-samples", "2", "--eval-iters", "1"]
    let err = Pipe()
    process.standardError = err
    process.standardOutput = Pipe()
    try process.run()
    let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(process.terminationStatus == 0, "\(stderr)")
    // Both the model and the data came from the installed copy, not from the build or source tree.
    let installed = URL(fileURLWithPath: prefix).resolvingSymlinksInPath().path + "/share/reptile/"
    #expect(stderr.contains("model: the built-in omniglot-5way-1shot, \(installed)Reptile_ReptileExperiments.resources/models/"), "\(stderr)")
    #expect(stderr.contains("Omniglot (built-in, \(installed)Reptile_ReptileData.resources/omniglot, random split)"), "\(stderr)")
}

@Test("evaluate --model NAME: the shipped models by name, their flags as defaults, other flags override them")
func shippedModelsByName() async throws {
    let dir = temporaryDirectory("model-output")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    for name in BuiltInModel.catalogue.map(\.name) {
        let run = try await runReptile(["evaluate", "omniglot", "--model", name, "--eval-samples", "2", "--eval-iters", "1",
                                        "--shots", "2", "--output", dir + "/\(name).json"])
        if BuiltInModel.installed.contains(name) {
            #expect(run.status == 0, "\(run.stderr)")
            #expect(run.stderr.contains("model: the built-in \(name), "), "\(run.stderr)")
            let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/\(name).json"))
            let result = try JSONDecoder().decode(CheckpointEvaluation.self, from: data)
            let record = try RunRecord.read(from: BuiltInModel.path(named: name)!)
            #expect(result.evaluation.ways == record.options.classes && result.evaluation.shots == 2 && result.evalSamples == 2)
            #expect(result.evaluation.batchSize == record.options.evalBatch)
        } else {
            #expect(run.status != 0 && run.stderr.contains("'\(name)' is not in this installation"), "\(run.stderr)")
        }
    }
    #expect(BuiltInModel.installed == BuiltInModel.catalogue.map(\.name), "every model of the catalogue ships with the package")
    try await expectOneLineError(["evaluate", "omniglot", "--model", "omniglot-3way"], mentioning: "the shipped models are omniglot-5way-1shot, ")
    try await expectOneLineError(["evaluate", "omniglot", "--model", "omniglot-5way-1shot", "--checkpoint", dir],
                                 mentioning: "--checkpoint and --model")
    let help = try await runReptile(["evaluate", "omniglot", "--help"])
    for name in BuiltInModel.catalogue.map(\.name) { #expect(help.stdout.contains(name), "\(name) missing from --help") }
}

@Test("--split alphabets is recorded with the run: resume must keep it, evaluate uses it")
func alphabetSplitThroughTheCommandLine() async throws {
    let dir = temporaryDirectory("alphabets")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let train = try await runReptile(["train", "omniglot", "--split", "alphabets", "--shots", "1", "--inner-iters", "1", "--meta-iters", "2",
                                      "--eval-samples", "2", "--eval-iters", "1", "--checkpoint", dir, "--checkpoint-interval", "1"])
    #expect(train.status == 0, "\(train.stderr)")
    #expect(train.stderr.contains("alphabets split): 1623 characters (3856 training classes with rotations, 659 test)"), "\(train.stderr)")
    #expect(try RunRecord.read(from: dir).options.split == .alphabets)
    try await expectOneLineError(["train", "omniglot", "--resume", "--checkpoint", dir, "--split", "random"],
                                 mentioning: "--split random (checkpoint: alphabets)")
    let evaluate = try await runReptile(["evaluate", "omniglot", "--checkpoint", dir, "--eval-samples", "2", "--eval-iters", "1", "--seed", "9"])
    #expect(evaluate.status == 0 && evaluate.stderr.contains("alphabets split"), "\(evaluate.stderr)")
    try await expectOneLineError(["evaluate", "omniglot", "--checkpoint", dir, "--split", "random"],
                                 mentioning: "the model was meta-trained on the alphabets split")
}

@Test("evaluate omniglot-runs: the error rate of every run and overall, both modes, beside people's")
func omniglotRunsThroughTheCommandLine() async throws {
    let runs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("ReptileDataTests/Fixtures/omniglot-runs.zip").path
    let dir = temporaryDirectory("runs-model")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let train = try await runReptile(["train", "omniglot", "--split", "alphabets", "--classes", "20", "--shots", "1", "--inner-batch", "20",
                                      "--inner-iters", "2", "--meta-iters", "3", "--eval-batch", "10", "--eval-iters", "3",
                                      "--eval-samples", "1", "--checkpoint", dir])
    #expect(train.status == 0, "\(train.stderr)")
    let json = try await runReptile(["evaluate", "omniglot-runs", "--data", runs, "--checkpoint", dir, "--json"])
    #expect(json.status == 0, "\(json.stderr)")
    let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
    let perRun = object?["runs"] as? [[String: Any]]
    #expect(perRun?.count == 2 && perRun?.first?["items"] as? Int == 20)
    for key in ["error_rate", "error_rate_transductive"] {
        let value = object?[key] as? Double
        #expect(value.map { (0...1).contains($0) } == true, "\(key) in \(json.stdout)")
    }
    #expect(object?["people_error_rate"] as? Double == 0.045)
    let table = try await runReptile(["evaluate", "omniglot-runs", "--data", runs, "--checkpoint", dir])
    #expect(table.stdout.contains("run01") && table.stdout.contains("run02") && table.stdout.contains("people (Lake et al. 2015): 4.5 %"),
            "\(table.stdout)")
    // Without --data: the published 20 runs that ship with the built-in data.
    let published = try await runReptile(["evaluate", "omniglot-runs", "--checkpoint", dir, "--json"])
    #expect(published.status == 0, "\(published.stderr)")
    let publishedRuns = (try JSONSerialization.jsonObject(with: Data(published.stdout.utf8)) as? [String: Any])?["runs"] as? [[String: Any]]
    #expect(publishedRuns?.count == 20 && publishedRuns?.allSatisfy { $0["items"] as? Int == 20 } == true)
    // The default model, until it ships, and a model from the random split.
    let missing = try await runReptile(["evaluate", "omniglot-runs", "--data", runs])
    #expect(BuiltInModel.installed.contains("omniglot-alphabets-20way-1shot") ? missing.status == 0
            : missing.stderr.contains("'omniglot-alphabets-20way-1shot' is not in this installation"), "\(missing.stderr)")
    let builtIn = try await runReptile(["evaluate", "omniglot-runs", "--data", runs, "--model", "omniglot-5way-1shot"])
    #expect(builtIn.stderr.contains("warning: this model was meta-trained on the random split") || builtIn.status != 0, "\(builtIn.stderr)")
}

@Test("The issue's scenarios: resuming on a folder whose two archives are swapped, and one archive alone")
func resumingOnSwappedArchivesAndOneArchiveAlone() async throws {
    let builtIn = try #require(Omniglot.builtInPath)
    let base = temporaryDirectory("swapped")
    defer { try? FileManager.default.removeItem(atPath: base) }
    let swapped = base + "/data", run = base + "/run"
    try FileManager.default.createDirectory(atPath: swapped, withIntermediateDirectories: true)
    try FileManager.default.createSymbolicLink(atPath: swapped + "/images_background.npz", withDestinationPath: builtIn + "/images_evaluation.npz")
    try FileManager.default.createSymbolicLink(atPath: swapped + "/images_evaluation.npz", withDestinationPath: builtIn + "/images_background.npz")
    let start = try await runReptile(["train", "omniglot", "--meta-iters", "4", "--inner-iters", "1", "--eval-samples", "1", "--eval-iters", "1",
                                      "--checkpoint", run, "--checkpoint-interval", "2"])
    #expect(start.status == 0, "\(start.stderr)")
    let record = try Data(contentsOf: URL(fileURLWithPath: run + "/run.json"))
    try await expectOneLineError(["train", "omniglot", "--resume", "--checkpoint", run, "--data", swapped],
                                 mentioning: "cannot resume \(run) on other data")
    #expect(try Data(contentsOf: URL(fileURLWithPath: run + "/run.json")) == record, "run.json was rewritten")
    try await expectOneLineError(["train", "omniglot", "--meta-iters", "1", "--data", builtIn + "/images_background.npz",
                                  "--checkpoint", base + "/other"],
                                 mentioning: "964 characters are too few to split into 1200")
}

@Test func launchedByMPIWithoutMPISupportIsAClearError() async throws {
    // What `mpirun -np 2` sets; a build without the MPI trait must not run two independent copies.
    guard !MPIProcessGroup.isAvailable else { return }
    let dir = temporaryDirectory("mpi-missing")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let result = try await runReptile(["train", "omniglot", "--meta-iters", "1", "--checkpoint", dir + "/run"],
                                      environment: ["OMPI_COMM_WORLD_SIZE": "2", "OMPI_COMM_WORLD_RANK": "0"])
    #expect(result.status != 0)
    #expect(result.stderr.contains("built without MPI support") && result.stderr.contains("--traits MPI"), "\(result.stderr)")
    #expect(!FileManager.default.fileExists(atPath: dir + "/run/run.json"))
}

/// The committed miniature folder data set (PNG and JPEG, mixed sizes, grayscale and colour).
let folderFixtureTree = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("ReptileDataTests/Fixtures/folder").path

@Test func aFolderOfImagesTrainsAndEvaluatesThroughTheCommandLine() async throws {
    let dir = temporaryDirectory("folder-cli")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let data = dir + "/images"
    try FileManager.default.copyItem(atPath: folderFixtureTree, toPath: data)
    let flags = ["--data", data, "--classes", "3", "--shots", "1", "--train-shots", "3", "--inner-batch", "5", "--inner-iters", "3",
                 "--meta-step", "1", "--meta-step-final", "0", "--meta-batch", "2", "--eval-batch", "3", "--eval-iters", "5",
                 "--eval-samples", "40", "--eval-interval", "5", "--threads", "1"]
    let train = try await runReptile(["train", "folder"] + flags + ["--meta-iters", "10", "--checkpoint", dir + "/run", "--json"])
    #expect(train.status == 0, "\(train.stderr)")
    let result = try JSONSerialization.jsonObject(with: Data(train.stdout.utf8)) as? [String: Any]
    #expect((result?["test_accuracy"] as? Double).map { (0...1).contains($0) } == true, "\(train.stdout)")
    #expect(train.stderr.contains("6/0/3 train/val/test classes of 28×28×3 images, decoded"), "\(train.stderr)")
    let record = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/run/run.json"))) as? [String: Any]
    let options = record?["options"] as? [String: Any]
    #expect(options?["imageSize"] as? Int == 28 && options?["channels"] as? Int == 3 && record?["benchmark"] as? String == "folder")

    // Evaluation reads the model's geometry from the checkpoint, and the images from the cache.
    let evaluate = try await runReptile(["evaluate", "folder", "--checkpoint", dir + "/run", "--data", data, "--eval-samples", "20", "--json"])
    #expect(evaluate.status == 0, "\(evaluate.stderr)")
    #expect(evaluate.stderr.contains("read from the cache"), "\(evaluate.stderr)")
    let other = try await runReptile(["evaluate", "folder", "--checkpoint", dir + "/run", "--data", data, "--image-size", "32"])
    #expect(other.status != 0 && other.stderr.contains("--image-size 32: the model was meta-trained with --image-size 28"), "\(other.stderr)")
    // The colour model defaulted to the Mini-ImageNet network; another network would not fit its weights.
    let network = try await runReptile(["evaluate", "folder", "--checkpoint", dir + "/run", "--data", data, "--model-config", "omniglot"])
    #expect(network.status != 0 && network.stderr.contains("--model-config omniglot: the model is the miniimagenet network"), "\(network.stderr)")

    // Grayscale with the Omniglot network, chosen by flags; and the errors, one line each.
    let gray = try await runReptile(["train", "folder"] + flags + ["--meta-iters", "2", "--channels", "1", "--image-size", "20",
                                                                    "--model-config", "omniglot", "--checkpoint", dir + "/gray"])
    #expect(gray.status == 0, "\(gray.stderr)")
    let errors: [([String], String)] = [
        (["--shots", "5", "--meta-iters", "1"], "has 5 images, fewer than the 6 every class needs"),
        (["--meta-iters", "1", "--split-fractions", "0.5,0.2,0.3"], "--split-fractions applies only to a folder of classes without train/"),
        (["--meta-iters", "1", "--channels", "2"], "--channels must be 1 or 3"),
    ]
    for (extra, expected) in errors {
        let run = try await runReptile(["train", "folder"] + flags + extra + ["--checkpoint", dir + "/bad-\(extra.count)"])
        #expect(run.status != 0 && run.stderr.contains(expected), "\(extra): \(run.stderr)")
    }
    let broken = try await runReptile(["train", "folder", "--data", folderFixtureTree + "-corrupt", "--split-fractions", "0.5,0,0.5",
                                       "--classes", "1", "--meta-iters", "1", "--checkpoint", dir + "/broken"])
    #expect(broken.status != 0 && broken.stderr.contains("broken.png"), "\(broken.stderr)")
}

@Test("--precision bf16: recorded with the run, kept on resume, reported by evaluate; a clear error where it cannot run")
func bf16PrecisionThroughTheCommandLine() async throws {
    let dir = temporaryDirectory("bf16")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let flags = ["--shots", "1", "--inner-iters", "1", "--eval-samples", "2", "--eval-iters", "1", "--checkpoint", dir,
                 "--checkpoint-interval", "1"]
    guard Precision.bf16.isAvailable else {
        try await expectOneLineError(["train", "omniglot", "--meta-iters", "1", "--precision", "bf16"] + flags,
                                     mentioning: "needs a CPU with AVX512-BF16")
        return
    }
    let train = try await runReptile(["train", "omniglot", "--meta-iters", "2", "--precision", "bf16"] + flags)
    #expect(train.status == 0, "\(train.stderr)")
    #expect(try RunRecord.read(from: dir).options.precision == .bf16)
    // The run's precision is part of its settings: a resume keeps it, and refuses another one.
    try await expectOneLineError(["train", "omniglot", "--resume", "--meta-iters", "2", "--precision", "fp32"] + flags,
                                 mentioning: "--precision fp32 (checkpoint: bf16)")
    let evaluate = try await runReptile(["evaluate", "omniglot", "--checkpoint", dir, "--eval-samples", "2", "--eval-iters", "1", "--json"])
    #expect(evaluate.status == 0, "\(evaluate.stderr)")
    #expect(evaluate.stdout.contains("\"precision\":\"bf16\""), "\(evaluate.stdout)")
    let fp32 = try await runReptile(["evaluate", "omniglot", "--checkpoint", dir, "--eval-samples", "2", "--eval-iters", "1", "--json",
                                     "--precision", "fp32"])
    #expect(fp32.status == 0 && fp32.stdout.contains("\"precision\":\"fp32\""), "\(fp32.stdout)")
    // Narrower kernels asked for by REPTILE_KERNELS leave no bf16 path.
    try await expectOneLineError(["evaluate", "omniglot", "--checkpoint", dir, "--eval-samples", "2"],
                                 mentioning: "needs the AVX-512 kernels, and REPTILE_KERNELS chose avx2",
                                 environment: ["REPTILE_KERNELS": "avx2"])
    try await expectOneLineError(["bench", "--setting", "omniglot-5way", "--precision", "bf16"],
                                 mentioning: "REPTILE_KERNELS chose generic", environment: ["REPTILE_KERNELS": "generic"])
}
