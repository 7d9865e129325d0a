import Foundation
import Testing
import ReptileFormats

@Suite struct AtomicFileTests {
    @Test func writesReplacesAndLeavesNoTemporaryFiles() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { Fixtures.cleanUp(directory) }
        let path = directory + "/checkpoint.bin"
        try AtomicFile.write([1, 2, 3], to: path)
        #expect(try Fixtures.bytesAt(path) == [1, 2, 3])
        try AtomicFile.write(Array(repeating: 9, count: 100_000), to: path)
        #expect(try Fixtures.bytesAt(path) == Array(repeating: 9, count: 100_000))
        try AtomicFile.writeString("héllo\n", to: path)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "héllo\n")
        try AtomicFile.write([], to: path)
        #expect(try Fixtures.bytesAt(path) == [])
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["checkpoint.bin"])
    }

    @Test func pathsWithDotComponentsWork() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { Fixtures.cleanUp(directory) }
        try AtomicFile.write([5], to: directory + "/./dotted.bin")
        #expect(try Fixtures.bytesAt(directory + "/dotted.bin") == [5])
        try FileManager.default.createDirectory(atPath: directory + "/sub", withIntermediateDirectories: false)
        try AtomicFile.write([6], to: directory + "/sub/../up.bin")
        #expect(try Fixtures.bytesAt(directory + "/up.bin") == [6])
    }

    @Test func reportsErrorsNamingThePath() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { Fixtures.cleanUp(directory) }
        expectFormatError("\(directory)/missing/x.bin: cannot write: directory \(directory)/missing does not exist") {
            try AtomicFile.write([1], to: directory + "/missing/x.bin")
        }
        expectFormatError("\(directory): cannot write: the path is a directory") {
            try AtomicFile.write([1], to: directory)
        }
        try AtomicFile.write([1], to: directory + "/file")
        expectFormatError("\(directory)/file/x.bin: cannot write: \(directory)/file is not a directory") {
            try AtomicFile.write([1], to: directory + "/file/x.bin")
        }
        expectFormatError("cannot write: the path is empty") { try AtomicFile.write([1], to: "") }

        // A read-only directory (root ignores permissions, so only check when the write is actually refused).
        let locked = directory + "/locked"
        try FileManager.default.createDirectory(atPath: locked, withIntermediateDirectories: false)
        try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: locked)
        defer { try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: locked) }
        if access(locked, W_OK) != 0 {
            expectFormatError("\(locked)/x.bin: cannot create a temporary file in \(locked): Permission denied") {
                try AtomicFile.write([1], to: locked + "/x.bin")
            }
        }
    }
}

extension Fixtures {
    static func bytesAt(_ path: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }
}
