// NumPy .npy arrays as this project meets them: little-endian bool, uint8, int32, int64 and float32
// arrays in C order (what numpy.save writes for Omniglot's drawings and labels), format versions
// 1.0–3.0, and writing them byte for byte as numpy does. Other dtypes are refused by name.

/// The element types ``NPYArray`` holds.
public enum NPYDType: String, Sendable, CaseIterable, Equatable {
    /// `|b1`: one byte, 0 or 1.
    case bool
    /// `|u1`.
    case uint8
    /// `<i4`.
    case int32
    /// `<i8`.
    case int64
    /// `<f4`.
    case float32

    /// Bytes per element.
    public var itemSize: Int {
        switch self {
        case .bool, .uint8: return 1
        case .int32, .float32: return 4
        case .int64: return 8
        }
    }

    /// The dtype descriptor numpy writes, e.g. `<i8`.
    public var descr: String {
        switch self {
        case .bool: return "|b1"
        case .uint8: return "|u1"
        case .int32: return "<i4"
        case .int64: return "<i8"
        case .float32: return "<f4"
        }
    }

    /// The dtype of a descriptor; `=` (native order) counts as little-endian on the machines Swift runs on.
    static func parse(descr: String) -> NPYDType? {
        let normalized = descr.hasPrefix("=") ? "<" + descr.dropFirst() : descr
        return allCases.first { $0.descr == normalized || ($0.itemSize == 1 && "<" + $0.descr.dropFirst() == normalized) }
    }
}

/// The header of an `.npy` file: what the array is, without its data.
public struct NPYHeader: Sendable, Equatable {
    /// The format version, e.g. `(1, 0)`; 1.0 has a 2-byte header length, 2.0 and 3.0 a 4-byte one.
    public var majorVersion: UInt8
    /// The minor format version (0 in every released format).
    public var minorVersion: UInt8
    /// The element type.
    public var dtype: NPYDType
    /// The dimensions; `[]` for a scalar.
    public var shape: [Int]
    /// The number of elements, the product of `shape` (1 for a scalar).
    public var count: Int
    /// The size of the data part in bytes, `count × dtype.itemSize`.
    public var byteCount: Int
}

/// An n-dimensional NumPy array: dtype, shape, and the element bytes (little-endian, row-major).
public struct NPYArray: Sendable, Equatable {
    // dtype, shape and bytes must stay consistent, so they change only through the initializers.

    /// The element type.
    public private(set) var dtype: NPYDType
    /// The dimensions; `[]` for a scalar.
    public private(set) var shape: [Int]
    /// The elements' bytes, `count × dtype.itemSize` of them.
    public private(set) var bytes: [UInt8]

    /// The number of elements, the product of `shape` (1 for a scalar).
    public var count: Int { bytes.count / dtype.itemSize }

    /// Creates an array from raw little-endian element bytes.
    ///
    /// - Throws: `FormatError` when the byte count does not match the shape.
    public init(dtype: NPYDType, shape: [Int], bytes: [UInt8]) throws {
        guard let count = checkedProduct(shape) else {
            throw FormatError("NPYArray", "invalid shape \(NPY.shapeText(shape))")
        }
        guard count.multipliedReportingOverflow(by: dtype.itemSize) == (bytes.count, false) else {
            throw FormatError("NPYArray", "shape \(NPY.shapeText(shape)) of \(dtype.rawValue) needs \(count) × \(dtype.itemSize) bytes, got \(bytes.count)")
        }
        self.init(unchecked: dtype, shape: shape, bytes: bytes)
    }

    init(unchecked dtype: NPYDType, shape: [Int], bytes: [UInt8]) {
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
    }

    /// A `float32` array of `product(shape)` elements in row-major order.
    public init(floats: [Float], shape: [Int]) {
        self.init(unchecked: .float32, shape: shape, bytes: NPYArray.littleEndianBytes(floats.map(\.bitPattern), shape: shape))
    }

    /// An `int64` array of `product(shape)` elements in row-major order.
    public init(int64s: [Int64], shape: [Int]) {
        self.init(unchecked: .int64, shape: shape, bytes: NPYArray.littleEndianBytes(int64s, shape: shape))
    }

    /// A `bool` array of `product(shape)` elements in row-major order.
    public init(bools: [Bool], shape: [Int]) {
        self.init(unchecked: .bool, shape: shape, bytes: NPYArray.littleEndianBytes(bools.map { $0 ? UInt8(1) : 0 }, shape: shape))
    }

    /// A `uint8` array of `product(shape)` elements in row-major order.
    public init(uint8s: [UInt8], shape: [Int]) {
        self.init(unchecked: .uint8, shape: shape, bytes: NPYArray.littleEndianBytes(uint8s, shape: shape))
    }

    private static func littleEndianBytes<T: FixedWidthInteger>(_ values: [T], shape: [Int]) -> [UInt8] {
        precondition(checkedProduct(shape) == values.count, "\(values.count) elements do not fill shape \(NPY.shapeText(shape))")
        return values.map(\.littleEndian).withUnsafeBytes { [UInt8]($0) }
    }

    /// The header describing this array (version 1.0).
    public var header: NPYHeader {
        NPYHeader(majorVersion: 1, minorVersion: 0, dtype: dtype, shape: shape, count: count, byteCount: bytes.count)
    }

    /// The elements as `Float`, row-major: bools become 0 or 1, integers the nearest `Float`.
    public func floats() -> [Float] {
        bytes.withUnsafeBytes { raw in
            (0..<count).map { i in
                switch dtype {
                case .bool, .uint8: return Float(raw[i])
                case .int32: return Float(Int32(bitPattern: raw.element(UInt32.self, i)))
                case .int64: return Float(Int64(bitPattern: raw.element(UInt64.self, i)))
                case .float32: return Float(bitPattern: raw.element(UInt32.self, i))
                }
            }
        }
    }

    /// The elements as `Int64`, row-major: floats are truncated toward zero and saturate; NaN becomes 0.
    public func int64s() -> [Int64] {
        bytes.withUnsafeBytes { raw in
            (0..<count).map { i in
                switch dtype {
                case .bool, .uint8: return Int64(raw[i])
                case .int32: return Int64(Int32(bitPattern: raw.element(UInt32.self, i)))
                case .int64: return Int64(bitPattern: raw.element(UInt64.self, i))
                case .float32:
                    let value = Float(bitPattern: raw.element(UInt32.self, i))
                    return value.isNaN ? 0 : Int64(exactly: value.rounded(.towardZero)) ?? (value < 0 ? .min : .max)
                }
            }
        }
    }

    /// The elements as `Bool`, row-major: nonzero (including NaN) is true, as numpy's `astype(bool)`.
    public func bools() -> [Bool] {
        bytes.withUnsafeBytes { raw in
            (0..<count).map { i in
                switch dtype {
                case .bool, .uint8: return raw[i] != 0
                case .int32: return raw.element(UInt32.self, i) != 0
                case .int64: return raw.element(UInt64.self, i) != 0
                case .float32: return raw.element(UInt32.self, i) & 0x7FFF_FFFF != 0  // ±0 is false
                }
            }
        }
    }
}

extension UnsafeRawBufferPointer {
    /// The `index`-th little-endian element of type `T`.
    @inline(__always)
    func element<T: FixedWidthInteger>(_: T.Type, _ index: Int) -> T {
        T(littleEndian: loadUnaligned(fromByteOffset: index &* MemoryLayout<T>.size, as: T.self))
    }
}

/// Reading and writing NumPy `.npy` files.
///
/// ```swift
/// let array = try NPY.load(path: "labels.npy")
/// print(array.dtype, array.shape, array.int64s())
/// let bytes = NPY.encode(floats: [1, 2, 3, 4], shape: [2, 2])
/// ```
public enum NPY {
    /// The longest header accepted: numpy writes a few hundred bytes; the limit keeps forged lengths
    /// from requesting huge buffers.
    public static let maximumHeaderLength = 1 << 20

    /// The 6-byte magic string every `.npy` file starts with.
    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // \x93NUMPY

    /// Reads an `.npy` file.
    ///
    /// - Throws: `FormatError` naming `path` for a missing, unreadable, malformed or unsupported file.
    public static func load(path: String) throws -> NPYArray {
        try parse(entryBytes: try readFileBytes(path), source: path)
    }

    /// Writes `array` as an `.npy` file, atomically (see ``AtomicFile``).
    public static func save(_ array: NPYArray, to path: String) throws {
        try AtomicFile.write(encode(array), to: path)
    }

    /// Parses a complete `.npy` file held in memory (for example an extracted `.npz` entry).
    ///
    /// - Throws: `FormatError` for a bad preamble or header, an unsupported dtype, or a data part whose length is not
    ///   `product(shape) × itemsize`.
    public static func parse(entryBytes: [UInt8], source: String) throws -> NPYArray {
        try entryBytes.withUnsafeBytes { try parse($0, source: source) }
    }

    package static func parse(_ bytes: UnsafeRawBufferPointer, source: String) throws -> NPYArray {
        let (header, dataOffset) = try parseHeader(bytes, source: source)
        let available = bytes.count - dataOffset
        guard available >= header.byteCount else {
            throw FormatError(source, "truncated: expected \(header.byteCount) bytes of array data for shape \(shapeText(header.shape)) \(header.dtype.rawValue), got \(available)")
        }
        guard available == header.byteCount else {
            throw FormatError(source, "\(byteCountText(available - header.byteCount)) of unexpected data after the array")
        }
        return NPYArray(unchecked: header.dtype, shape: header.shape, bytes: [UInt8](UnsafeRawBufferPointer(rebasing: bytes[dataOffset...])))
    }

    /// Parses only the preamble and header of an `.npy` file, so its data can be read elsewhere (for
    /// example inflated straight into a caller's buffer). `prefix` must hold the whole header
    /// (``headerSize(_:source:)`` says how long it is). Returns the header and the data's offset.
    package static func parseHeader(_ prefix: UnsafeRawBufferPointer, source: String) throws -> (NPYHeader, dataOffset: Int) {
        guard let dataOffset = try headerSize(prefix, source: source) else {
            throw FormatError(source, "truncated: \(byteCountText(prefix.count)) is too short for an .npy preamble")
        }
        guard prefix.count >= dataOffset else {
            throw FormatError(source, "truncated: header needs \(byteCountText(dataOffset)), got \(prefix.count)")
        }
        let major = prefix[6], minor = prefix[7]
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: prefix[(major == 1 ? 10 : 12)..<dataOffset]), as: UTF8.self)
        var parser = HeaderParser(text: text, source: source)
        let fields = try parser.parse()
        guard let descr = fields["descr"] else { throw FormatError(source, "header has no 'descr' key") }
        guard let fortran = fields["fortran_order"] else { throw FormatError(source, "header has no 'fortran_order' key") }
        guard let shapeValue = fields["shape"] else { throw FormatError(source, "header has no 'shape' key") }
        guard case .string(let descrText) = descr else {
            throw FormatError(source, "unsupported dtype: only plain numeric dtypes are read, not structured ones")
        }
        guard let dtype = NPYDType.parse(descr: descrText) else {
            throw FormatError(source, "unsupported dtype '\(descrText)': this reader takes little-endian bool, uint8, int32, int64 and float32 arrays")
        }
        guard case .bool(let fortranOrder) = fortran else { throw FormatError(source, "'fortran_order' is not True or False") }
        guard !fortranOrder else { throw FormatError(source, "Fortran-order (column-major) arrays are not supported: save it in C order") }
        guard case .shape(let shape) = shapeValue else { throw FormatError(source, "'shape' is not a tuple of non-negative integers") }
        guard let count = checkedProduct(shape), case let (byteCount, false) = count.multipliedReportingOverflow(by: dtype.itemSize) else {
            throw FormatError(source, "shape \(shapeText(shape)) is too large")
        }
        return (NPYHeader(majorVersion: major, minorVersion: minor, dtype: dtype, shape: shape, count: count, byteCount: byteCount),
                dataOffset)
    }

    /// The total size of the preamble and header (the offset of the data), read from the first 10 or
    /// 12 bytes; nil when `prefix` is too short to tell.
    ///
    /// - Throws: `FormatError` for a bad magic string or an unsupported version.
    package static func headerSize(_ prefix: UnsafeRawBufferPointer, source: String) throws -> Int? {
        let checked = min(prefix.count, magic.count)
        guard prefix.prefix(checked).elementsEqual(magic.prefix(checked)) else {
            throw FormatError(source, "not an .npy file (bad magic string)")
        }
        guard prefix.count >= 8 else { return nil }
        let major = prefix[6], minor = prefix[7]
        guard (1...3).contains(major), minor == 0 else {
            throw FormatError(source, "unsupported .npy format version \(major).\(minor)")
        }
        if major == 1 {
            guard let length = prefix.readLE(UInt16.self, at: 8) else { return nil }
            return 10 + Int(length)
        }
        guard let length = prefix.readLE(UInt32.self, at: 8) else { return nil }
        guard Int(length) <= maximumHeaderLength else {
            throw FormatError(source, "header length \(length) exceeds the \(maximumHeaderLength)-byte limit")
        }
        return 12 + Int(length)
    }

    /// Encodes an array as `.npy` bytes exactly as `numpy.save` does: version 1.0, the header dict
    /// padded with spaces and a newline so that the data starts 64-byte aligned.
    public static func encode(_ array: NPYArray) -> [UInt8] {
        encodeHeader(array.header) + array.bytes
    }

    /// Encodes a `float32` array of `product(shape)` elements in row-major order as `.npy` bytes.
    public static func encode(floats: [Float], shape: [Int]) -> [UInt8] {
        encode(NPYArray(floats: floats, shape: shape))
    }

    /// The preamble and padded header for `header` (version 1.0).
    static func encodeHeader(_ header: NPYHeader) -> [UInt8] {
        var text = "{'descr': '\(header.dtype.descr)', 'fortran_order': False, 'shape': \(shapeText(header.shape)), }"
        // Like numpy, leave room for the first axis to be rewritten in place.
        if let growth = header.shape.first { text += String(repeating: " ", count: max(0, 21 - String(growth).count)) }
        let textBytes = Array(text.utf8)
        let length = textBytes.count + 1 + (64 - (10 + textBytes.count + 1) % 64)
        var bytes = magic + [1, 0]
        bytes.appendLE(UInt16(length))
        bytes += textBytes + [UInt8](repeating: 0x20, count: length - textBytes.count - 1) + [0x0A]
        return bytes
    }

    /// Python's `repr` of a shape tuple: `()`, `(5,)`, `(2, 3)`.
    static func shapeText(_ shape: [Int]) -> String {
        shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    }
}

/// The header dictionary numpy writes, `{'descr': '<i8', 'fortran_order': False, 'shape': (3, 4), }`:
/// string keys; values that are strings (either quote), True/False, or tuples of integers (a list,
/// for structured dtypes, is read as "other"). Duplicate keys are an error.
struct HeaderParser {
    enum Value: Equatable { case string(String), bool(Bool), shape([Int]), other }

    private let characters: [Character]
    private let source: String
    private var position = 0

    init(text: String, source: String) {
        characters = Array(text)
        self.source = source
    }

    private func error(_ problem: String) -> FormatError { FormatError(source, "malformed header: \(problem)") }
    private var current: Character? { position < characters.count ? characters[position] : nil }
    private mutating func skipSpace() { while let c = current, c.isWhitespace { position += 1 } }

    private mutating func expect(_ c: Character) throws {
        skipSpace()
        guard current == c else { throw error("expected '\(c)' at offset \(position)") }
        position += 1
    }

    mutating func parse() throws -> [String: Value] {
        var fields: [String: Value] = [:]
        try expect("{")
        while true {
            skipSpace()
            if current == "}" { position += 1; break }
            guard case .string(let key) = try value() else { throw error("keys must be strings (offset \(position))") }
            guard fields[key] == nil else { throw error("duplicate key '\(key)'") }
            try expect(":")
            fields[key] = try value()
            skipSpace()
            if current == "," { position += 1 } else if current != "}" { throw error("expected ',' or '}' at offset \(position)") }
        }
        skipSpace()
        guard current == nil else { throw error("unexpected text after the header dictionary at offset \(position)") }
        return fields
    }

    private mutating func value() throws -> Value {
        skipSpace()
        guard let c = current else { throw error("unexpected end of header") }
        switch c {
        case "'", "\"":
            position += 1
            let start = position
            while let d = current, d != c, d != "\n" { position += 1 }
            guard current == c else { throw error("unterminated string at offset \(start - 1)") }
            position += 1
            return .string(String(characters[start..<position - 1]))
        case "(":
            position += 1
            var dimensions: [Int] = []
            while true {
                skipSpace()
                if current == ")" { position += 1; break }
                let start = position
                while let d = current, d.isASCII, d.isNumber { position += 1 }
                guard let size = Int(String(characters[start..<position])) else {
                    throw error("'shape' must hold non-negative integers (offset \(start))")
                }
                if current == "L" { position += 1 }  // Python 2's long integers: (3L, 4L)
                dimensions.append(size)
                skipSpace()
                if current == "," { position += 1 } else if current != ")" { throw error("expected ',' or ')' at offset \(position)") }
            }
            return .shape(dimensions)
        case "[":
            // A structured dtype's field list: skipped to its closing bracket.
            var depth = 0
            repeat {
                guard let d = current else { throw error("unterminated list") }
                if d == "[" { depth += 1 } else if d == "]" { depth -= 1 }
                position += 1
            } while depth > 0
            return .other
        default:
            for (word, result) in [("True", Value.bool(true)), ("False", .bool(false)), ("None", .other)]
            where characters[position...].starts(with: word) {
                position += word.count
                return result
            }
            throw error("unexpected '\(c)' at offset \(position)")
        }
    }
}
