// The 20 one-shot classification runs of Lake, Salakhutdinov & Tenenbaum (Science, 2015), in their
// published `all_runs` layout, as a folder or a zip: the Omniglot benchmark with a human baseline.

import Foundation
import ReptileFormats

/// One run: a drawing of each of N characters (the training classes) and another drawing of each
/// (the test items, in another order), with the answer for each item.
public struct OmniglotRun: Sendable {
    /// The run's folder name, e.g. `run07`.
    public var name: String
    /// The training classes' images (one per class, in the order of their file names), as bytes
    /// k standing for stroke coverage k/225 of 28×28 pixels, like ``Omniglot``'s images.
    public var training: [[UInt8]]
    /// The test items' images, in the order of their file names.
    public var test: [[UInt8]]
    /// For each test item, the index of its training class.
    public var answers: [Int]
    /// The file names, for messages: `training/classNN.png`, `test/itemNN.png`.
    public var trainingFiles: [String]
    public var testFiles: [String]
}

public enum OmniglotRuns {
    /// The published error rates of the comparison (Lake et al. 2015, Fig. 6): people, and Bayesian
    /// Program Learning.
    public static let peopleErrorRate = 0.045
    public static let bayesianProgramLearningErrorRate = 0.033

    /// The published runs shipped with the built-in data (`all_runs.zip` of github.com/brendenlake/omniglot,
    /// python/one-shot-classification, under the same MIT licence), if this installation has them.
    public static var builtInPath: String? {
        guard let folder = Omniglot.builtInPath else { return nil }
        let path = (folder as NSString).appendingPathComponent("all_runs.zip")
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    /// Reads every `runNN` of `path`: a folder holding them (or `all_runs/` holding them), or a zip
    /// of that. Each run needs `class_labels.txt` ("runNN/test/itemNN.png runNN/training/classMM.png"
    /// per line; paths relative to the run's parent or to the run) and the 105×105 PNG drawings it names.
    ///
    /// - Throws: `FormatError` naming the file: no runs, a missing or unreadable drawing, a malformed
    ///   line, a test item without its class, or a drawing of another size.
    public static func load(path: String) throws -> [OmniglotRun] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw FormatError(path, "no such file or folder")
        }
        // Every file by its path below the archive or folder, read on demand.
        var files: [String: () throws -> [UInt8]] = [:]
        if isDirectory.boolValue {
            guard let walker = FileManager.default.enumerator(atPath: path) else { throw FormatError(path, "cannot list the folder") }
            for case let relative as String in walker {
                let full = (path as NSString).appendingPathComponent(relative)
                files[relative] = {
                    guard let data = FileManager.default.contents(atPath: full) else { throw FormatError(full, "cannot read the file") }
                    return [UInt8](data)
                }
            }
        } else {
            let archive = try ZipArchive(path: path)
            for entry in archive.entries where !entry.isDirectory {
                files[entry.name] = { try archive.extract(entry) }
            }
        }
        let labelFiles = files.keys.filter { ($0 as NSString).lastPathComponent == "class_labels.txt" }.sorted()
        guard !labelFiles.isEmpty else {
            throw FormatError(path, "no one-shot runs here: expected runNN/class_labels.txt with runNN/training/classNN.png and runNN/test/itemNN.png (Lake et al.'s all_runs layout)")
        }
        let reducer = DrawingReducer()
        return try labelFiles.map { labels in
            let runFolder = (labels as NSString).deletingLastPathComponent
            let runName = (runFolder as NSString).lastPathComponent
            let source = isDirectory.boolValue ? (path as NSString).appendingPathComponent(labels) : "\(path):\(labels)"
            var pairs: [(test: String, training: String)] = []
            for line in String(decoding: try files[labels]!(), as: UTF8.self).split(whereSeparator: \.isNewline) {
                let parts = line.split(whereSeparator: \.isWhitespace).map { String($0) }
                guard parts.count == 2 else { throw FormatError(source, "expected 'test/itemNN.png training/classNN.png' per line, got '\(line)'") }
                // Keep the last two components ("test/item01.png"): paths may or may not start with the run.
                func local(_ p: String) -> String { p.split(separator: "/").suffix(2).joined(separator: "/") }
                pairs.append((local(parts[0]), local(parts[1])))
            }
            guard !pairs.isEmpty else { throw FormatError(source, "no test items listed") }
            let prefix = runFolder.isEmpty ? "" : runFolder + "/"
            let trainingFiles = files.keys.filter { $0.hasPrefix(prefix + "training/") && $0.hasSuffix(".png") }
                .map { String($0.dropFirst(prefix.count)) }.sorted()
            let testFiles = pairs.map(\.test).sorted()
            var answers: [Int] = []
            for item in testFiles {
                let training = pairs.first { $0.test == item }!.training
                guard let index = trainingFiles.firstIndex(of: training) else {
                    throw FormatError(source, "\(item) is paired with \(training), which is not in \(prefix)training/")
                }
                answers.append(index)
            }
            func image(_ local: String) throws -> [UInt8] {
                let key = prefix + local
                guard let load = files[key] else { throw FormatError(source, "lists \(local), which is missing") }
                let name = isDirectory.boolValue ? (path as NSString).appendingPathComponent(key) : "\(path):\(key)"
                return try Omniglot.reduceDrawing(PNG.decode(load(), source: name), source: name, reducer: reducer)
            }
            return OmniglotRun(name: runName, training: try trainingFiles.map(image), test: try testFiles.map(image),
                               answers: answers, trainingFiles: trainingFiles, testFiles: testFiles)
        }
    }
}
