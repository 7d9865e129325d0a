import Testing
import ReptileFormats

/// An `.npy` file with a hand-written header (padded like numpy's, unless `pad` is false).
func npyFile(header: String, data: [UInt8] = [], major: UInt8 = 1, pad: Bool = true) -> [UInt8] {
    var text = Array(header.utf8)
    let preamble = major == 1 ? 10 : 12
    if pad {
        while (preamble + text.count + 1) % 64 != 0 { text.append(0x20) }
        text.append(0x0A)
    }
    var bytes: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, major, 0]
    if major == 1 { bytes.le(UInt16(text.count)) } else { bytes.le(UInt32(text.count)) }
    return bytes + text + data
}

func parseNPY(_ bytes: [UInt8], _ source: String = "test.npy") throws -> NPYArray {
    try NPY.parse(entryBytes: bytes, source: source)
}

@Suite struct NPYTests {
    func fixture(_ name: String) throws -> NPYArray {
        try NPY.load(path: Fixtures.path("npy/" + name))
    }

    @Test func readsNumpyWrittenFixtures() throws {
        let f4 = try fixture("f4_2x3.npy")
        #expect(f4.dtype == .float32 && f4.shape == [2, 3] && f4.count == 6)
        #expect(f4.floats() == [0, 0.25, 0.5, 0.75, 1, 1.25])
        #expect(f4.int64s() == [0, 0, 0, 0, 1, 1])  // Truncated toward zero.

        let i4 = try fixture("i4_2x2.npy")
        #expect(i4.dtype == .int32 && i4.shape == [2, 2])
        #expect(i4.int64s() == [1, -2, 300_000, -400_000] && i4.floats() == [1, -2, 300_000, -400_000])

        let b1 = try fixture("b1_bool.npy")
        #expect(b1.dtype == .bool && b1.shape == [5])
        #expect(b1.floats() == [1, 0, 1, 1, 0])
        #expect(b1.bools() == [true, false, true, true, false])
        #expect(b1.bytes == [1, 0, 1, 1, 0])

        let scalar = try fixture("i8_scalar.npy")
        #expect(scalar.shape == [] && scalar.count == 1 && scalar.int64s() == [-7])

        let empty = try fixture("u1_empty.npy")
        #expect(empty.dtype == .uint8 && empty.shape == [0, 4] && empty.count == 0 && empty.floats() == [])

        for version in [2, 3] {
            let array = try fixture("i4_v\(version).npy")
            #expect(array.dtype == .int32 && array.shape == [1, 3] && array.int64s() == [1, -2, 3])
        }
    }

    @Test func refusesWhatItDoesNotReadByName() throws {
        expectFormatError("unsupported dtype '>i4': this reader takes little-endian bool, uint8, int32, int64 and float32") {
            _ = try fixture("i4_big_endian.npy")
        }
        expectFormatError("unsupported dtype '<f2'") { _ = try fixture("f2_half.npy") }
        expectFormatError("unsupported dtype '<c8'") { _ = try fixture("complex.npy") }
        expectFormatError("only plain numeric dtypes are read, not structured ones") { _ = try fixture("structured.npy") }
        expectFormatError("Fortran-order (column-major) arrays are not supported") { _ = try fixture("i4_fortran.npy") }
    }

    @Test func encodeMatchesNumpyByteForByte() throws {
        for name in ["f4_2x3.npy", "i4_2x2.npy", "b1_bool.npy", "i8_scalar.npy", "u1_empty.npy"] {
            let original = try Fixtures.bytes("npy/" + name)
            let encoded = NPY.encode(try parseNPY(original, name))
            #expect(encoded == original, "\(name)")
        }
    }

    @Test func encodeRoundTripsAndAlignsData() throws {
        let floats: [Float] = [1, -2, 3.5, .pi, 0, -0.0]
        let bytes = NPY.encode(floats: floats, shape: [3, 2])
        let header = try bytes.withUnsafeBytes { try NPY.parseHeader($0, source: "t") }
        #expect(header.dataOffset % 64 == 0)
        #expect(bytes[header.dataOffset - 1] == 0x0A)
        #expect(header.0.shape == [3, 2] && header.0.dtype == .float32 && header.0.byteCount == 24)
        #expect(try parseNPY(bytes).floats().map(\.bitPattern) == floats.map(\.bitPattern))

        let arrays = [
            NPYArray(int64s: [1, -1, .max, .min], shape: [2, 2]),
            NPYArray(bools: [true, false, true], shape: [3]),
            NPYArray(uint8s: [], shape: [0]),
            NPYArray(floats: [42], shape: []),
            try NPYArray(dtype: .int32, shape: [1, 1], bytes: [0xFF, 0xFF, 0xFF, 0x7F]),
        ]
        for array in arrays { #expect(try parseNPY(NPY.encode(array)) == array) }
        #expect(arrays[4].int64s() == [Int64(Int32.max)])
        #expect(NPYArray(floats: [.nan, -1e30, 1e30, -0.0], shape: [4]).int64s() == [0, .min, .max, 0])
        #expect(NPYArray(floats: [.nan, -0.0, 0.5], shape: [3]).bools() == [true, false, true])
        expectFormatError("needs 3 × 4 bytes, got 4") { _ = try NPYArray(dtype: .int32, shape: [3], bytes: [1, 2, 3, 4]) }
    }

    @Test func saveAndLoadFiles() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { Fixtures.cleanUp(directory) }
        let array = NPYArray(floats: [1, 2, 3], shape: [3])
        try NPY.save(array, to: directory + "/a.npy")
        #expect(try NPY.load(path: directory + "/a.npy") == array)
        expectFormatError("\(directory)/missing.npy: no such file") { _ = try NPY.load(path: directory + "/missing.npy") }
    }

    @Test func headerParserAcceptsWhatNumpyWrites() throws {
        let data = [UInt8](repeating: 0, count: 24)
        let variants = [
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
            "{'shape': (2, 3), 'descr': '<f4', 'fortran_order': False}",
            "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2, 3)}",
            "{ 'descr' : '<f4' ,\n 'fortran_order' : False ,\t'shape' : ( 2 , 3 , ) , }",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L)}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'future_key': None}",
        ]
        for header in variants {
            let array = try parseNPY(npyFile(header: header, data: data))
            #expect(array.dtype == .float32 && array.shape == [2, 3], "\(header)")
        }
        #expect(try parseNPY(npyFile(header: "{'descr': '<i8', 'fortran_order': False, 'shape': ()}", data: [5, 0, 0, 0, 0, 0, 0, 0])).int64s() == [5])
        // Header without padding or newline, and a version 3.0 header with a UTF-8 key.
        #expect(try parseNPY(npyFile(header: "{'descr': '|u1', 'fortran_order': False, 'shape': (1,)}", data: [9], pad: false)).bytes == [9])
        #expect(try parseNPY(npyFile(header: "{'descr': '|u1', 'fortran_order': False, 'shape': (1,), 'é': None}", data: [9], major: 3)).bytes == [9])
        // Native and little-endian descriptors of one-byte types, and native order of wider ones.
        #expect(try parseNPY(npyFile(header: "{'descr': '<u1', 'fortran_order': False, 'shape': (1,)}", data: [7])).bytes == [7])
        #expect(try parseNPY(npyFile(header: "{'descr': '=i4', 'fortran_order': False, 'shape': (1,)}", data: [1, 2, 0, 0])).int64s() == [0x0201])
    }

    @Test func headerOnlyParsingFromAPrefix() throws {
        let bytes = NPY.encode(NPYArray(bools: Array(repeating: true, count: 1000), shape: [10, 100]))
        let prefix = Array(bytes.prefix(128))
        let (header, offset) = try prefix.withUnsafeBytes { try NPY.parseHeader($0, source: "t") }
        #expect(header.dtype == .bool && header.shape == [10, 100] && header.count == 1000 && header.byteCount == 1000)
        #expect(offset == 128 && header.majorVersion == 1)
        #expect(try Array(bytes.prefix(12)).withUnsafeBytes { try NPY.headerSize($0, source: "t") } == 128)
        #expect(try Array(bytes.prefix(9)).withUnsafeBytes { try NPY.headerSize($0, source: "t") } == nil)
        expectFormatError("t: truncated: header needs 128 bytes, got 100") {
            _ = try Array(bytes.prefix(100)).withUnsafeBytes { try NPY.parseHeader($0, source: "t") }
        }
    }

    @Test func rejectsMalformedFiles() throws {
        let good = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}"
        let data = [UInt8](repeating: 0, count: 8)
        expectFormatError("x.npy: not an .npy file (bad magic string)") { _ = try parseNPY(Array("PK\u{3}\u{4}hello".utf8), "x.npy") }
        expectFormatError("unsupported .npy format version 4.0") {
            var bytes = npyFile(header: good, data: data)
            bytes[6] = 4
            _ = try parseNPY(bytes)
        }
        expectFormatError("truncated") { _ = try parseNPY([0x93, 0x4E, 0x55]) }
        expectFormatError("header length 4294967295 exceeds the 1048576-byte limit") {
            _ = try parseNPY([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 2, 0, 0xFF, 0xFF, 0xFF, 0xFF])
        }
        expectFormatError("truncated: header needs") { _ = try parseNPY(Array(npyFile(header: good, data: data).prefix(40))) }
        expectFormatError("truncated: expected 8 bytes of array data for shape (2,) float32, got 5") {
            _ = try parseNPY(npyFile(header: good, data: Array(data.prefix(5))))
        }
        expectFormatError("3 bytes of unexpected data after the array") { _ = try parseNPY(npyFile(header: good, data: data + [1, 2, 3])) }
        let cases: [(String, String)] = [
            ("{'descr': '<f4', 'shape': (2,)}", "header has no 'fortran_order' key"),
            ("{'fortran_order': False, 'shape': (2,)}", "header has no 'descr' key"),
            ("{'descr': '<f4', 'fortran_order': False}", "header has no 'shape' key"),
            ("{'descr': '<f4', 'fortran_order': None, 'shape': (2,)}", "'fortran_order' is not True or False"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': 'x'}", "'shape' is not a tuple"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,)}", "'shape' must hold non-negative integers"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (2.0,)}", "expected ',' or ')'"),
            ("{'descr': '|f4', 'fortran_order': False, 'shape': (2,)}", "unsupported dtype '|f4'"),
            ("{'descr': 'f4', 'fortran_order': False, 'shape': (2,)}", "unsupported dtype 'f4'"),
            ("{'descr': '<U8', 'fortran_order': False, 'shape': (2,)}", "unsupported dtype '<U8'"),
            ("{'descr': '|O', 'fortran_order': False, 'shape': (2,)}", "unsupported dtype '|O'"),
            ("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", "duplicate key 'descr'"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)", "expected ',' or '}' at offset"),
            ("{'descr: '<f4', 'fortran_order': False, 'shape': (2,)}", "malformed header"),
            ("{'descr': '<f4' 'fortran_order': False, 'shape': (2,)}", "expected ',' or '}'"),
            ("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,)}", "unexpected 'M'"),
            ("['descr', '<f4']", "expected '{'"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} extra", "after the header dictionary"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", "non-negative integers"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296)}", "too large"),
            ("{'descr': '<f4, 'fortran_order': False, 'shape': (2,)}", "malformed header"),
        ]
        for (header, message) in cases {
            expectFormatError(message) { _ = try parseNPY(npyFile(header: header, data: data)) }
        }
    }

    @Test func fuzzedFilesThrowInsteadOfTrapping() throws {
        for (index, name) in ["f4_2x3.npy", "i4_v3.npy", "i4_2x2.npy", "b1_bool.npy"].enumerated() {
            fuzz(try Fixtures.bytes("npy/" + name), seed: UInt64(200 + index), truncations: 200, flips: 400) { _ = try parseNPY($0) }
        }
    }
}
