// Shared helpers for the ReptileFormats tests: fixture access, error expectations, a seeded random generator,
// truncation/bit-flip fuzzing, and tiny hand-made zip and PNG builders for malformed inputs.
import Foundation
import Testing
import ReptileFormats

enum Fixtures {
    /// The copied `Fixtures` folder inside the test bundle.
    static let root: String = {
        guard let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
            fatalError("the Fixtures folder is missing from the test bundle")
        }
        return url.path
    }()

    static func path(_ relative: String) -> String { root + "/" + relative }

    static func bytes(_ relative: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path(relative))))
    }

    /// A temporary directory for one test, removed by the caller with `cleanUp`.
    static func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "reptile-formats-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func cleanUp(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Runs `body` and expects it to throw a `FormatError` whose one-line description contains `text`.
func expectFormatError(_ text: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("expected a FormatError containing \"\(text)\", but nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as FormatError {
        #expect(error.description.contains(text), "\"\(error.description)\" does not contain \"\(text)\"", sourceLocation: sourceLocation)
        #expect(!error.description.contains("\n"), "error message spans lines: \(error.description)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected a FormatError, got \(type(of: error)): \(error)", sourceLocation: sourceLocation)
    }
}

/// SplitMix64: a small, seeded generator so that fuzz tests are reproducible.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Feeds truncated and bit-flipped variants of `bytes` to `parse`, which must either succeed or throw a
/// `FormatError` (anything else, and any trap, fails the test run). Returns how many variants were rejected.
@discardableResult
func fuzz(_ bytes: [UInt8], seed: UInt64, truncations: Int = 64, flips: Int = 200,
          sourceLocation: SourceLocation = #_sourceLocation, _ parse: ([UInt8]) throws -> Void) -> Int {
    var generator = SeededGenerator(seed: seed)
    var rejected = 0
    func attempt(_ variant: [UInt8], _ label: String) {
        do {
            try parse(variant)
        } catch is FormatError {
            rejected += 1
        } catch {
            Issue.record("\(label): expected success or FormatError, got \(error)", sourceLocation: sourceLocation)
        }
    }
    // Truncations: every length for small inputs, otherwise an even spread plus the last few bytes.
    var lengths = Set<Int>()
    if bytes.count <= truncations {
        lengths = Set(0..<bytes.count)
    } else {
        for k in 0..<truncations { lengths.insert(k * bytes.count / truncations) }
        for k in 1...8 { lengths.insert(bytes.count - k) }
    }
    for length in lengths.sorted() { attempt(Array(bytes[0..<length]), "truncated to \(length)") }
    // Random bit flips (1 to 3 per variant), and occasionally a random byte.
    for _ in 0..<flips where !bytes.isEmpty {
        var variant = bytes
        for _ in 0..<Int.random(in: 1...3, using: &generator) {
            let index = Int.random(in: 0..<variant.count, using: &generator)
            if Bool.random(using: &generator) {
                variant[index] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &generator)
            } else {
                variant[index] = UInt8.random(in: 0...255, using: &generator)
            }
        }
        attempt(variant, "flipped")
    }
    return rejected
}

/// Builds small zip archives by hand, for layouts and corruptions no tool writes on purpose.
struct ZipBuilder {
    struct Entry {
        var name: [UInt8]
        var data: [UInt8]
        var method: UInt16 = 8
        var flags: UInt16 = 0
        var crcOverride: UInt32?
        var localExtra: [UInt8] = []
        var centralExtra: [UInt8] = []
        var zip64: Bool = false

        init(_ name: String, _ data: [UInt8], method: UInt16 = 8) {
            self.name = Array(name.utf8)
            self.data = data
            self.method = method
        }
    }

    var entries: [Entry] = []
    var comment: [UInt8] = []
    /// Writes a zip64 end-of-central-directory record and locator, with saturated classic fields.
    var zip64Directory = false

    static func rawDeflate(_ data: [UInt8]) -> [UInt8] {
        // A zlib stream is a 2-byte header, raw deflate data and a 4-byte Adler-32.
        let zlib = Zlib.compress(data, level: 6)
        return Array(zlib[2..<(zlib.count - 4)])
    }

    func build() -> [UInt8] {
        var file: [UInt8] = []
        var central: [UInt8] = []
        for entry in entries {
            let payload = entry.method == 8 ? Self.rawDeflate(entry.data) : entry.data
            let crc = entry.crcOverride ?? Zlib.crc32(entry.data)
            let offset = file.count
            var centralExtra = entry.centralExtra
            if entry.zip64 {
                var field: [UInt8] = []
                field.le(UInt16(1)); field.le(UInt16(24))
                field.le(UInt64(entry.data.count)); field.le(UInt64(payload.count)); field.le(UInt64(offset))
                centralExtra = field + centralExtra
            }
            // Local header.
            file.le(UInt32(0x0403_4b50)); file.le(UInt16(20)); file.le(entry.flags); file.le(entry.method)
            file.le(UInt16(0)); file.le(UInt16(0x21)); file.le(crc)
            file.le(UInt32(payload.count)); file.le(UInt32(entry.data.count))
            file.le(UInt16(entry.name.count)); file.le(UInt16(entry.localExtra.count))
            file += entry.name + entry.localExtra + payload
            // Central directory record.
            central.le(UInt32(0x0201_4b50)); central.le(UInt16(0x031E)); central.le(UInt16(20)); central.le(entry.flags)
            central.le(entry.method); central.le(UInt16(0)); central.le(UInt16(0x21)); central.le(crc)
            central.le(entry.zip64 ? UInt32.max : UInt32(payload.count))
            central.le(entry.zip64 ? UInt32.max : UInt32(entry.data.count))
            central.le(UInt16(entry.name.count)); central.le(UInt16(centralExtra.count)); central.le(UInt16(0))
            central.le(UInt16(0)); central.le(UInt16(0)); central.le(UInt32(0))
            central.le(entry.zip64 ? UInt32.max : UInt32(offset))
            central += entry.name + centralExtra
        }
        let directoryOffset = file.count
        file += central
        if zip64Directory {
            let recordOffset = file.count
            file.le(UInt32(0x0606_4b50)); file.le(UInt64(44)); file.le(UInt16(45)); file.le(UInt16(45))
            file.le(UInt32(0)); file.le(UInt32(0))
            file.le(UInt64(entries.count)); file.le(UInt64(entries.count))
            file.le(UInt64(central.count)); file.le(UInt64(directoryOffset))
            file.le(UInt32(0x0706_4b50)); file.le(UInt32(0)); file.le(UInt64(recordOffset)); file.le(UInt32(1))
        }
        file.le(UInt32(0x0605_4b50)); file.le(UInt16(0)); file.le(UInt16(0))
        file.le(zip64Directory ? UInt16.max : UInt16(entries.count)); file.le(zip64Directory ? UInt16.max : UInt16(entries.count))
        file.le(zip64Directory ? UInt32.max : UInt32(central.count)); file.le(zip64Directory ? UInt32.max : UInt32(directoryOffset))
        file.le(UInt16(comment.count))
        file += comment
        return file
    }
}

extension Array where Element == UInt8 {
    mutating func le<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }

    mutating func be<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.bigEndian) { append(contentsOf: $0) }
    }
}

/// Builds PNG files chunk by chunk (with correct CRCs unless told otherwise).
enum PNGBuilder {
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    static func chunk(_ type: String, _ data: [UInt8], corruptCRC: Bool = false) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.be(UInt32(data.count))
        let body = Array(type.utf8) + data
        bytes += body
        bytes.be(Zlib.crc32(body) ^ (corruptCRC ? 1 : 0))
        return bytes
    }

    static func ihdr(width: Int, height: Int, depth: UInt8, colorType: UInt8, interlace: UInt8 = 0) -> [UInt8] {
        var data: [UInt8] = []
        data.be(UInt32(width)); data.be(UInt32(height))
        data += [depth, colorType, 0, 0, interlace]
        return chunk("IHDR", data)
    }

    /// A complete file from scanlines (each already prefixed by its filter byte).
    static func file(width: Int, height: Int, depth: UInt8, colorType: UInt8, scanlines: [UInt8],
                     extra: [UInt8] = [], end: Bool = true) -> [UInt8] {
        signature + ihdr(width: width, height: height, depth: depth, colorType: colorType) + extra
            + chunk("IDAT", Zlib.compress(scanlines)) + (end ? chunk("IEND", []) : [])
    }
}
