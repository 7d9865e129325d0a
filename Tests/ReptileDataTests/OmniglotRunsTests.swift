import Testing
import Foundation
@testable import ReptileData
import ReptileFormats

/// The miniature one-shot runs made by scripts/make_omniglot_runs_fixture.py.
let runsFixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/omniglot-runs").path

@Test("The runs fixture reads as a folder and as a zip under all_runs/, each test item paired with the training drawing of its character")
func omniglotRunsLoadWithTheirAnswers() throws {
    let answers = try JSONDecoder().decode([String: Int].self,
                                           from: Data(contentsOf: URL(fileURLWithPath: runsFixture + "/answers.json")))
    let folder = try OmniglotRuns.load(path: runsFixture)
    let zipped = try OmniglotRuns.load(path: runsFixture + ".zip")
    #expect(folder.map(\.name) == ["run01", "run02"] && zipped.map(\.name) == ["run01", "run02"])
    for (run, other) in zip(folder, zipped) {
        #expect(run.training.count == 20 && run.test.count == 20 && run.answers.count == 20)
        #expect(run.training == other.training && run.test == other.test && run.answers == other.answers)
        #expect(run.training.allSatisfy { $0.count == 28 * 28 && $0.contains { $0 > 0 } })
        // The labels: every item's answer is the training drawing of the same character.
        for (i, item) in run.testFiles.enumerated() {
            let itemCharacter = answers["\(run.name)/\(item)"]
            let classCharacter = answers["\(run.name)/\(run.trainingFiles[run.answers[i]])"]
            #expect(itemCharacter != nil && itemCharacter == classCharacter, "\(run.name)/\(item)")
        }
        #expect(Set(run.answers).count == 20)
    }


    // Different characters give different images.
    #expect(folder[0].training[0] != folder[0].training[1])
}

@Test("Broken runs are one-line errors that name the file")
func brokenRunsAreClearErrors() throws {
    let fm = FileManager.default
    let base = fm.temporaryDirectory.appendingPathComponent("runs-\(UUID().uuidString)").path
    defer { try? fm.removeItem(atPath: base) }
    func copy() throws -> String {
        let dir = base + "/\(UUID().uuidString)"
        try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try fm.copyItem(atPath: runsFixture + "/run01", toPath: dir + "/run01")
        return dir
    }
    func expectError(_ path: String, _ mention: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try OmniglotRuns.load(path: path)
            Issue.record("accepted \(path)", sourceLocation: sourceLocation)
        } catch {
            #expect("\(error)".contains(mention), "\(error)", sourceLocation: sourceLocation)
        }
    }
    let empty = base + "/empty"
    try fm.createDirectory(atPath: empty, withIntermediateDirectories: true)
    expectError(empty, "no one-shot runs here")
    let missing = try copy()
    try fm.removeItem(atPath: missing + "/run01/test/item07.png")
    expectError(missing, "lists test/item07.png, which is missing")
    let badLine = try copy()
    try "run01/test/item01.png\n".write(toFile: badLine + "/run01/class_labels.txt", atomically: true, encoding: .utf8)
    expectError(badLine, "class_labels.txt: expected 'test/itemNN.png training/classNN.png' per line")
    let corrupt = try copy()
    try Data([0x89, 0x50, 0x4E, 0x47, 1, 2, 3]).write(to: URL(fileURLWithPath: corrupt + "/run01/training/class03.png"))
    expectError(corrupt, "run01/training/class03.png")
    expectError(base + "/nothing", "no such file or folder")
}
