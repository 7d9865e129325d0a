// NumPy .npy arrays: the preamble, the header (a Python dict literal, read by a small real parser), numeric and
// bool dtypes in either byte order, and numpy-identical writing.

/// The element types of ``NPYArray``: NumPy's bool and fixed-size integer and floating-point dtypes.
public enum NPYDType: String, Sendable, CaseIterable, Equatable {
    /// `bool` (`|b1`), one byte per element, 0 or 1.
    case bool
    /// `uint8` (`|u1`).
    case uint8
    /// `int8` (`|i1`).
    case int8
    /// `uint16` (`<u2`).
    case uint16
    /// `uint32` (`<u4`).
    case uint32
    /// `uint64` (`<u8`).
    case uint64
    /// `int16` (`<i2`).
    case int16
    /// `int32` (`<i4`).
    case int32
    /// `int64` (`<i8`).
    case int64
    /// `float16` (`<f2`), IEEE 754 half precision.
    case float16
    /// `float32` (`<f4`).
    case float32
    /// `float64` (`<f8`).
    case float64

    /// Bytes per element.
    public var itemSize: Int {
        switch self {
        case .bool, .uint8, .int8: return 1
        case .uint16, .int16, .float16: return 2
        case .uint32, .int32, .float32: return 4
        case .uint64, .int64, .float64: return 8
        }
    }

    /// The little-endian descriptor NumPy writes for this dtype, e.g. `<f4` or `|b1`.
    public var descr: String {
        switch self {
        case .bool: return "|b1"
        case .uint8: return "|u1"
        case .int8: return "|i1"
        case .uint16: return "<u2"
        case .uint32: return "<u4"
        case .uint64: return "<u8"
        case .int16: return "<i2"
        case .int32: return "<i4"
        case .int64: return "<i8"
        case .float16: return "<f2"
        case .float32: return "<f4"
        case .float64: return "<f8"
        }
    }

    /// Parses a NumPy type descriptor such as `<f4`, `>i8`, `=u2` or `|b1`.
    /// - Returns: The dtype and whether its data is big-endian, or nil for descriptors this module does not support.
    static func parse(descr: String) -> (dtype: NPYDType, bigEndian: Bool)? {
        guard let order = descr.first, "<>=|".contains(order) else { return nil }
        let code = String(descr.dropFirst())
        let dtype: NPYDType
        switch code {
        case "b1": dtype = .bool
        case "u1": dtype = .uint8
        case "i1": dtype = .int8
        case "u2": dtype = .uint16
        case "u4": dtype = .uint32
        case "u8": dtype = .uint64
        case "i2": dtype = .int16
        case "i4": dtype = .int32
        case "i8": dtype = .int64
        case "f2": dtype = .float16
        case "f4": dtype = .float32
        case "f8": dtype = .float64
        default: return nil
        }
        // `|` ("not applicable") is only meaningful for single-byte types.
        if order == "|" && dtype.itemSize > 1 { return nil }
        let nativeIsBig = UInt16(1).bigEndian == 1
        let bigEndian = dtype.itemSize > 1 && (order == ">" || (order == "=" && nativeIsBig))
        return (dtype, bigEndian)
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
    /// Whether the data on disk is big-endian (`>` descriptors). ``NPYArray`` always holds little-endian data.
    public var isBigEndian: Bool
    /// The dimensions; `[]` for a scalar.
    public var shape: [Int]
    /// Whether the data is stored in column-major (Fortran) order rather than row-major (C) order.
    public var fortranOrder: Bool
    /// The number of elements, the product of `shape` (1 for a scalar).
    public var count: Int
    /// The size of the data part in bytes, `count × dtype.itemSize`.
    public var byteCount: Int
}

/// An n-dimensional NumPy array read from or written to `.npy`: dtype, shape, and the raw element bytes in
/// little-endian order (big-endian files are byte-swapped on reading).
///
/// Elements are in storage order: row-major unless ``fortranOrder`` is true, in which case they are column-major.
public struct NPYArray: Sendable, Equatable {
    // dtype, shape and bytes must stay consistent, so they change only through the initializers.

    /// The element type.
    public private(set) var dtype: NPYDType
    /// The dimensions; `[]` for a scalar.
    public private(set) var shape: [Int]
    /// Whether the elements are in column-major (Fortran) order.
    public private(set) var fortranOrder: Bool
    /// The elements' bytes, little-endian, `count × dtype.itemSize` of them.
    public private(set) var bytes: [UInt8]

    /// The number of elements, the product of `shape` (1 for a scalar).
    public var count: Int { dtype.itemSize == 0 ? 0 : bytes.count / dtype.itemSize }

    /// Creates an array from raw little-endian element bytes.
    ///
    /// - Parameters:
    ///   - dtype: The element type.
    ///   - shape: The dimensions.
    ///   - bytes: `product(shape) × dtype.itemSize` bytes, little-endian.
    ///   - fortranOrder: Whether `bytes` is in column-major order.
    /// - Throws: `FormatError` when the byte count does not match the shape.
    public init(dtype: NPYDType, shape: [Int], bytes: [UInt8], fortranOrder: Bool = false) throws {
        guard let count = checkedProduct(shape) else {
            throw FormatError("NPYArray", "invalid shape \(NPY.shapeText(shape))")
        }
        guard count.multipliedReportingOverflow(by: dtype.itemSize) == (bytes.count, false) else {
            throw FormatError("NPYArray", "shape \(NPY.shapeText(shape)) of \(dtype.rawValue) needs \(count) × \(dtype.itemSize) bytes, got \(bytes.count)")
        }
        self.init(unchecked: dtype, shape: shape, bytes: bytes, fortranOrder: fortranOrder)
    }

    init(unchecked dtype: NPYDType, shape: [Int], bytes: [UInt8], fortranOrder: Bool) {
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
        self.fortranOrder = fortranOrder
    }

    /// Creates a `float32` array.
    ///
    /// - Parameters:
    ///   - floats: The elements in row-major order; there must be `product(shape)` of them.
    ///   - shape: The dimensions.
    public init(floats: [Float], shape: [Int]) {
        self.init(unchecked: .float32, shape: shape, bytes: NPYArray.littleEndianBytes(floats, shape: shape), fortranOrder: false)
    }

    /// Creates an `int64` array.
    ///
    /// - Parameters:
    ///   - int64s: The elements in row-major order; there must be `product(shape)` of them.
    ///   - shape: The dimensions.
    public init(int64s: [Int64], shape: [Int]) {
        self.init(unchecked: .int64, shape: shape, bytes: NPYArray.littleEndianBytes(int64s, shape: shape), fortranOrder: false)
    }

    /// Creates a `bool` array.
    ///
    /// - Parameters:
    ///   - bools: The elements in row-major order; there must be `product(shape)` of them.
    ///   - shape: The dimensions.
    public init(bools: [Bool], shape: [Int]) {
        precondition(checkedProduct(shape) == bools.count, "\(bools.count) elements do not fill shape \(NPY.shapeText(shape))")
        self.init(unchecked: .bool, shape: shape, bytes: bools.map { $0 ? 1 : 0 }, fortranOrder: false)
    }

    /// Creates a `uint8` array.
    ///
    /// - Parameters:
    ///   - uint8s: The elements in row-major order; there must be `product(shape)` of them.
    ///   - shape: The dimensions.
    public init(uint8s: [UInt8], shape: [Int]) {
        precondition(checkedProduct(shape) == uint8s.count, "\(uint8s.count) elements do not fill shape \(NPY.shapeText(shape))")
        self.init(unchecked: .uint8, shape: shape, bytes: uint8s, fortranOrder: false)
    }

    private static func littleEndianBytes<T: FixedWidthInteger>(_ values: [T], shape: [Int]) -> [UInt8] {
        precondition(checkedProduct(shape) == values.count, "\(values.count) elements do not fill shape \(NPY.shapeText(shape))")
        var littleEndian = values
        if UInt16(1).bigEndian == 1 { for index in littleEndian.indices { littleEndian[index] = littleEndian[index].littleEndian } }
        return littleEndian.withUnsafeBytes { [UInt8]($0) }
    }

    private static func littleEndianBytes(_ values: [Float], shape: [Int]) -> [UInt8] {
        littleEndianBytes(values.map(\.bitPattern), shape: shape)
    }

    /// The header describing this array (version 1.0, little-endian).
    public var header: NPYHeader {
        NPYHeader(majorVersion: 1, minorVersion: 0, dtype: dtype, isBigEndian: false, shape: shape,
                  fortranOrder: fortranOrder, count: count, byteCount: bytes.count)
    }

    /// Calls `body` with the raw little-endian element bytes, without copying them.
    package func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try bytes.withUnsafeBytes(body)
    }

    /// The elements converted to `Float`, in storage order.
    ///
    /// Works for every dtype: bools become 0 or 1, integers and `float64` are rounded to the nearest `Float`.
    public func floats() -> [Float] {
        let count = self.count
        return [Float](unsafeUninitializedCapacity: count) { out, initialized in
            bytes.withUnsafeBytes { raw in
                switch dtype {
                case .bool: for i in 0..<count { out[i] = raw[i] != 0 ? 1 : 0 }
                case .uint8: for i in 0..<count { out[i] = Float(raw[i]) }
                case .int8: for i in 0..<count { out[i] = Float(Int8(bitPattern: raw[i])) }
                case .uint16: for i in 0..<count { out[i] = Float(raw.element(UInt16.self, i)) }
                case .uint32: for i in 0..<count { out[i] = Float(raw.element(UInt32.self, i)) }
                case .uint64: for i in 0..<count { out[i] = Float(raw.element(UInt64.self, i)) }
                case .int16: for i in 0..<count { out[i] = Float(raw.element(Int16.self, i)) }
                case .int32: for i in 0..<count { out[i] = Float(raw.element(Int32.self, i)) }
                case .int64: for i in 0..<count { out[i] = Float(raw.element(Int64.self, i)) }
                case .float16: for i in 0..<count { out[i] = halfToFloat(raw.element(UInt16.self, i)) }
                case .float32: for i in 0..<count { out[i] = Float(bitPattern: raw.element(UInt32.self, i)) }
                case .float64: for i in 0..<count { out[i] = Float(Double(bitPattern: raw.element(UInt64.self, i))) }
                }
            }
            initialized = count
        }
    }

    /// The elements converted to `Int64`, in storage order.
    ///
    /// Integers and bools convert exactly, except `uint64` values above `Int64.max`, which saturate. Floating-point
    /// values are truncated toward zero and saturate at the `Int64` range; NaN becomes 0.
    public func int64s() -> [Int64] {
        let count = self.count
        return [Int64](unsafeUninitializedCapacity: count) { out, initialized in
            bytes.withUnsafeBytes { raw in
                switch dtype {
                case .bool: for i in 0..<count { out[i] = raw[i] != 0 ? 1 : 0 }
                case .uint8: for i in 0..<count { out[i] = Int64(raw[i]) }
                case .int8: for i in 0..<count { out[i] = Int64(Int8(bitPattern: raw[i])) }
                case .uint16: for i in 0..<count { out[i] = Int64(raw.element(UInt16.self, i)) }
                case .uint32: for i in 0..<count { out[i] = Int64(raw.element(UInt32.self, i)) }
                case .uint64: for i in 0..<count { out[i] = Int64(clamping: raw.element(UInt64.self, i)) }
                case .int16: for i in 0..<count { out[i] = Int64(raw.element(Int16.self, i)) }
                case .int32: for i in 0..<count { out[i] = Int64(raw.element(Int32.self, i)) }
                case .int64: for i in 0..<count { out[i] = raw.element(Int64.self, i) }
                case .float16: for i in 0..<count { out[i] = saturatingInt64(Double(halfToFloat(raw.element(UInt16.self, i)))) }
                case .float32: for i in 0..<count { out[i] = saturatingInt64(Double(Float(bitPattern: raw.element(UInt32.self, i)))) }
                case .float64: for i in 0..<count { out[i] = saturatingInt64(Double(bitPattern: raw.element(UInt64.self, i))) }
                }
            }
            initialized = count
        }
    }

    /// The elements as `Bool`, in storage order: nonzero (including NaN) is true, as in NumPy's `astype(bool)`.
    public func bools() -> [Bool] {
        let count = self.count
        return [Bool](unsafeUninitializedCapacity: count) { out, initialized in
            bytes.withUnsafeBytes { raw in
                switch dtype {
                case .bool, .uint8, .int8: for i in 0..<count { out[i] = raw[i] != 0 }
                case .uint16, .int16: for i in 0..<count { out[i] = raw.element(UInt16.self, i) != 0 }
                case .uint32, .int32: for i in 0..<count { out[i] = raw.element(UInt32.self, i) != 0 }
                case .uint64, .int64: for i in 0..<count { out[i] = raw.element(UInt64.self, i) != 0 }
                // Floating point: ±0 is false, so ignore the sign bit.
                case .float16: for i in 0..<count { out[i] = raw.element(UInt16.self, i) & 0x7FFF != 0 }
                case .float32: for i in 0..<count { out[i] = raw.element(UInt32.self, i) & 0x7FFF_FFFF != 0 }
                case .float64: for i in 0..<count { out[i] = raw.element(UInt64.self, i) & 0x7FFF_FFFF_FFFF_FFFF != 0 }
                }
            }
            initialized = count
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

/// Converts IEEE 754 half-precision bits to `Float` (written out so that it also builds where `Float16` is
/// unavailable, such as macOS on Intel).
@inline(__always)
func halfToFloat(_ half: UInt16) -> Float {
    let sign: UInt32 = UInt32(half & 0x8000) << 16
    let exponent = UInt32((half >> 10) & 0x1F)
    let mantissa = UInt32(half & 0x03FF)
    if exponent == 0 {
        // Zero or subnormal: mantissa × 2^-24, exactly representable in Float.
        let magnitude = Float(mantissa) * 0x1p-24
        return sign != 0 ? -magnitude : magnitude
    }
    if exponent == 0x1F {
        return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))  // Infinity or NaN (payload kept).
    }
    return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
}

/// Truncates toward zero, saturating at the `Int64` range; NaN becomes 0.
@inline(__always)
func saturatingInt64(_ value: Double) -> Int64 {
    if value.isNaN { return 0 }
    if value >= 9_223_372_036_854_775_808.0 { return .max }
    if value < -9_223_372_036_854_775_808.0 { return .min }
    return Int64(value)
}

/// Reading and writing NumPy `.npy` files (format versions 1.0, 2.0 and 3.0).
///
/// ```swift
/// let array = try NPY.load(path: "weights.npy")
/// print(array.dtype, array.shape)
/// let bytes = NPY.encode(floats: [1, 2, 3, 4], shape: [2, 2])
/// ```
public enum NPY {
    /// The longest header accepted. Headers of supported arrays are a few hundred bytes; numpy itself refuses
    /// more than 10,000 by default. The limit keeps forged lengths from requesting huge buffers.
    public static let maximumHeaderLength = 1 << 20

    /// The 6-byte magic string every `.npy` file starts with.
    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // \x93NUMPY

    /// Reads an `.npy` file.
    ///
    /// - Parameter path: The file's path.
    /// - Returns: The array, little-endian.
    /// - Throws: `FormatError` naming `path` for a missing, unreadable or malformed file.
    public static func load(path: String) throws -> NPYArray {
        try parse(entryBytes: try readFileBytes(path), source: path)
    }

    /// Writes `array` as an `.npy` file, atomically (see ``AtomicFile``).
    ///
    /// - Parameters:
    ///   - array: The array to write.
    ///   - path: The destination path.
    /// - Throws: `FormatError` naming `path` when the file cannot be written.
    public static func save(_ array: NPYArray, to path: String) throws {
        try AtomicFile.write(encode(array), to: path)
    }

    /// Parses a complete `.npy` file held in memory (for example an extracted `.npz` entry).
    ///
    /// - Parameters:
    ///   - entryBytes: The whole file.
    ///   - source: The file or entry name, used in error messages.
    /// - Returns: The array, little-endian.
    /// - Throws: `FormatError` for a bad preamble or header, an unsupported dtype, or a data part whose length is not
    ///   `product(shape) × itemsize`.
    public static func parse(entryBytes: [UInt8], source: String) throws -> NPYArray {
        try entryBytes.withUnsafeBytes { try parse($0, source: source) }
    }

    /// Parses a complete `.npy` file held in memory.
    ///
    /// - Parameters:
    ///   - bytes: The whole file.
    ///   - source: The file or entry name, used in error messages.
    /// - Returns: The array, little-endian.
    /// - Throws: `FormatError` as ``parse(entryBytes:source:)`` does.
    package static func parse(_ bytes: UnsafeRawBufferPointer, source: String) throws -> NPYArray {
        let (header, dataOffset) = try parseHeader(bytes, source: source)
        let available = bytes.count - dataOffset
        guard available >= header.byteCount else {
            throw FormatError(source, "truncated: expected \(header.byteCount) bytes of array data for shape \(shapeText(header.shape)) \(header.dtype.rawValue), got \(available)")
        }
        guard available == header.byteCount else {
            throw FormatError(source, "\(byteCountText(available - header.byteCount)) of unexpected data after the array")
        }
        var data = [UInt8](UnsafeRawBufferPointer(rebasing: bytes[dataOffset...]))
        if header.isBigEndian {
            data.withUnsafeMutableBytes { swapByteOrder($0, itemSize: header.dtype.itemSize) }
        }
        return NPYArray(unchecked: header.dtype, shape: header.shape, bytes: data, fortranOrder: header.fortranOrder)
    }

    /// Parses only the preamble and header of an `.npy` file, so its data can be read elsewhere (for example
    /// inflated straight into a caller's buffer).
    ///
    /// - Parameters:
    ///   - prefix: The start of the file; it must contain at least the whole header (a few hundred bytes suffice
    ///     for ordinary arrays: see ``headerSize(_:source:)``).
    ///   - source: The file or entry name, used in error messages.
    /// - Returns: The header and the offset at which the data starts.
    /// - Throws: `FormatError` for a bad magic string, unsupported version, truncated or malformed header,
    ///   or unsupported dtype.
    package static func parseHeader(_ prefix: UnsafeRawBufferPointer, source: String) throws -> (NPYHeader, dataOffset: Int) {
        guard let dataOffset = try headerSize(prefix, source: source) else {
            throw FormatError(source, "truncated: \(byteCountText(prefix.count)) is too short for an .npy preamble")
        }
        guard prefix.count >= dataOffset else {
            throw FormatError(source, "truncated: header needs \(byteCountText(dataOffset)), got \(prefix.count)")
        }
        let major = prefix[6], minor = prefix[7]
        let headerStart = major == 1 ? 10 : 12
        let text = UnsafeRawBufferPointer(rebasing: prefix[headerStart..<dataOffset])
        var parser = PythonLiteralParser(bytes: text, utf8: major >= 3, source: source)
        let literal = try parser.parseHeader()
        guard case .dict(let items) = literal else {
            throw FormatError(source, "header is not a dictionary")
        }
        var descr: PythonLiteral?, fortran: PythonLiteral?, shapeValue: PythonLiteral?
        for (key, value) in items {
            guard case .string(let name) = key else { continue }
            switch name {
            case "descr": descr = value
            case "fortran_order": fortran = value
            case "shape": shapeValue = value
            default: continue  // Unknown keys are ignored, for forward compatibility.
            }
        }
        guard let descr else { throw FormatError(source, "header has no 'descr' key") }
        guard let fortran else { throw FormatError(source, "header has no 'fortran_order' key") }
        guard let shapeValue else { throw FormatError(source, "header has no 'shape' key") }

        let dtype: NPYDType, bigEndian: Bool
        switch descr {
        case .string(let text):
            guard let parsed = NPYDType.parse(descr: text) else {
                throw FormatError(source, "unsupported dtype '\(text)' (supported: bool, int8–64, uint8–64, float16/32/64)")
            }
            (dtype, bigEndian) = parsed
        case .list, .tuple:
            throw FormatError(source, "structured dtypes are not supported")
        default:
            throw FormatError(source, "'descr' is not a string")
        }
        guard case .bool(let fortranOrder) = fortran else {
            throw FormatError(source, "'fortran_order' is not True or False")
        }
        guard case .tuple(let dimensions) = shapeValue else {
            throw FormatError(source, "'shape' is not a tuple")
        }
        var shape: [Int] = []
        for dimension in dimensions {
            guard case .integer(let size) = dimension, size >= 0 else {
                throw FormatError(source, "'shape' must hold non-negative integers")
            }
            shape.append(size)
        }
        guard let count = checkedProduct(shape) else {
            throw FormatError(source, "shape \(shapeText(shape)) is too large")
        }
        let (byteCount, overflow) = count.multipliedReportingOverflow(by: dtype.itemSize)
        guard !overflow else { throw FormatError(source, "shape \(shapeText(shape)) is too large") }
        let header = NPYHeader(majorVersion: major, minorVersion: minor, dtype: dtype, isBigEndian: bigEndian, shape: shape,
                               fortranOrder: fortranOrder, count: count, byteCount: byteCount)
        return (header, dataOffset)
    }

    /// The total size of the preamble and header (the offset of the data), read from the first 10 or 12 bytes.
    ///
    /// - Parameters:
    ///   - prefix: The start of the file.
    ///   - source: The file or entry name, used in error messages.
    /// - Returns: The data offset, or nil when `prefix` is too short to tell (fewer than 12 bytes).
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

    /// Encodes an array as `.npy` bytes exactly as `numpy.save` does: version 1.0 (2.0 only for enormous headers),
    /// the header dict with sorted keys, padded with spaces and a newline so the data starts 64-byte aligned.
    ///
    /// - Parameter array: The array to encode.
    /// - Returns: The complete file.
    public static func encode(_ array: NPYArray) -> [UInt8] {
        var bytes = encodeHeader(array.header)
        bytes.append(contentsOf: array.bytes)
        return bytes
    }

    /// Encodes a `float32` array as `.npy` bytes.
    ///
    /// - Parameters:
    ///   - floats: The elements in row-major order; there must be `product(shape)` of them.
    ///   - shape: The dimensions.
    /// - Returns: The complete file.
    public static func encode(floats: [Float], shape: [Int]) -> [UInt8] {
        encode(NPYArray(floats: floats, shape: shape))
    }

    /// The preamble and padded header for `header` (its version and byte order are ignored: the result is
    /// little-endian, version 1.0 unless the header is too long for it).
    static func encodeHeader(_ header: NPYHeader) -> [UInt8] {
        let shape = shapeText(header.shape)
        var text = "{'descr': '\(header.dtype.descr)', 'fortran_order': \(header.fortranOrder ? "True" : "False"), 'shape': \(shape), }"
        // Like numpy, leave room for the growing axis to be rewritten in place.
        if let growth = header.fortranOrder ? header.shape.last : header.shape.first {
            text += String(repeating: " ", count: max(0, 21 - String(growth).count))
        }
        let textBytes = Array(text.utf8)
        let paddedLength: (Int) -> Int = { preamble in
            let length = textBytes.count + 1
            return length + (64 - (preamble + length) % 64)
        }
        var bytes = magic
        let version1Length = paddedLength(10)
        if version1Length <= Int(UInt16.max) {
            bytes += [1, 0]
            bytes.appendLE(UInt16(version1Length))
            bytes += textBytes
            bytes += [UInt8](repeating: 0x20, count: version1Length - textBytes.count - 1)
        } else {
            let version2Length = paddedLength(12)
            bytes += [2, 0]
            bytes.appendLE(UInt32(truncatingIfNeeded: version2Length))
            bytes += textBytes
            bytes += [UInt8](repeating: 0x20, count: version2Length - textBytes.count - 1)
        }
        bytes.append(0x0A)
        return bytes
    }

    /// Python's `repr` of a shape tuple: `()`, `(5,)`, `(2, 3)`.
    static func shapeText(_ shape: [Int]) -> String {
        shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    }

    /// Reverses the bytes of every `itemSize`-byte element in place.
    static func swapByteOrder(_ buffer: UnsafeMutableRawBufferPointer, itemSize: Int) {
        guard let base = buffer.baseAddress, itemSize > 1 else { return }
        let count = buffer.count / itemSize
        switch itemSize {
        case 2:
            for i in 0..<count {
                let value = base.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)
                base.storeBytes(of: value.byteSwapped, toByteOffset: i * 2, as: UInt16.self)
            }
        case 4:
            for i in 0..<count {
                let value = base.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)
                base.storeBytes(of: value.byteSwapped, toByteOffset: i * 4, as: UInt32.self)
            }
        case 8:
            for i in 0..<count {
                let value = base.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)
                base.storeBytes(of: value.byteSwapped, toByteOffset: i * 8, as: UInt64.self)
            }
        default:
            for i in 0..<count {
                var element = UnsafeMutableRawBufferPointer(rebasing: buffer[(i * itemSize)..<((i + 1) * itemSize)])
                element.reverse()
            }
        }
    }
}

// MARK: - Python literal parser

/// The Python literals an `.npy` header may contain.
indirect enum PythonLiteral: Equatable {
    case string(String)
    case integer(Int)
    case bool(Bool)
    case none
    case tuple([PythonLiteral])
    case list([PythonLiteral])
    case dict([(PythonLiteral, PythonLiteral)])

    static func == (lhs: PythonLiteral, rhs: PythonLiteral) -> Bool {
        switch (lhs, rhs) {
        case let (.string(a), .string(b)): return a == b
        case let (.integer(a), .integer(b)): return a == b
        case let (.bool(a), .bool(b)): return a == b
        case (.none, .none): return true
        case let (.tuple(a), .tuple(b)), let (.list(a), .list(b)): return a == b
        case let (.dict(a), .dict(b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }
}

/// A recursive-descent parser for the subset of Python literal syntax `numpy.save` writes (and `ast.literal_eval`
/// would accept in its place): dicts, tuples, lists, strings in either quote style, integers, True/False/None.
struct PythonLiteralParser {
    let bytes: UnsafeRawBufferPointer
    /// Version 3.0 headers are UTF-8; earlier ones are Latin-1.
    let utf8: Bool
    let source: String
    var position = 0
    private var depth = 0
    private static let maximumDepth = 32

    init(bytes: UnsafeRawBufferPointer, utf8: Bool, source: String) {
        self.bytes = bytes
        self.utf8 = utf8
        self.source = source
    }

    /// Parses the whole header: one literal followed only by whitespace (the padding and final newline).
    mutating func parseHeader() throws -> PythonLiteral {
        let value = try parseValue()
        skipWhitespace()
        if position < bytes.count {
            throw error("unexpected \(describe(bytes[position])) after the header dictionary at offset \(position)")
        }
        return value
    }

    private func error(_ problem: String) -> FormatError {
        FormatError(source, "malformed header: \(problem)")
    }

    private func describe(_ byte: UInt8) -> String {
        (0x21...0x7E).contains(byte) ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(String(byte, radix: 16))"
    }

    private mutating func skipWhitespace() {
        while position < bytes.count, [0x20, 0x09, 0x0A, 0x0D, 0x0C, 0x0B].contains(bytes[position]) { position += 1 }
    }

    private var current: UInt8? { position < bytes.count ? bytes[position] : nil }

    private mutating func parseValue() throws -> PythonLiteral {
        skipWhitespace()
        guard let byte = current else { throw error("unexpected end of header") }
        switch byte {
        case UInt8(ascii: "{"):
            return try nested { try $0.parseDict() }
        case UInt8(ascii: "("):
            return try nested { try $0.parseSequence(closing: UInt8(ascii: ")"), isTuple: true) }
        case UInt8(ascii: "["):
            return try nested { try $0.parseSequence(closing: UInt8(ascii: "]"), isTuple: false) }
        case UInt8(ascii: "'"), UInt8(ascii: "\""):
            return .string(try parseString())
        case UInt8(ascii: "u"), UInt8(ascii: "b"), UInt8(ascii: "U"), UInt8(ascii: "B"):
            // String prefixes written by Python 2-era numpy: u'...' (and b'...').
            if position + 1 < bytes.count, bytes[position + 1] == UInt8(ascii: "'") || bytes[position + 1] == UInt8(ascii: "\"") {
                position += 1
                return .string(try parseString())
            }
            return try parseWord()
        case UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .integer(try parseInteger())
        default:
            return try parseWord()
        }
    }

    private mutating func nested(_ body: (inout PythonLiteralParser) throws -> PythonLiteral) throws -> PythonLiteral {
        depth += 1
        defer { depth -= 1 }
        guard depth <= Self.maximumDepth else { throw error("nested too deeply") }
        return try body(&self)
    }

    private mutating func parseWord() throws -> PythonLiteral {
        let start = position
        while let byte = current, (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte | 0x20) || byte == UInt8(ascii: "_") {
            position += 1
        }
        let word = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
        switch word {
        case "True": return .bool(true)
        case "False": return .bool(false)
        case "None": return .none
        case "": throw error("unexpected \(describe(bytes[start])) at offset \(start)")
        default: throw error("unexpected name '\(word)' at offset \(start)")
        }
    }

    private mutating func parseInteger() throws -> Int {
        let start = position
        var negative = false
        if current == UInt8(ascii: "-") || current == UInt8(ascii: "+") {
            negative = current == UInt8(ascii: "-")
            position += 1
            skipWhitespace()
        }
        var value = 0
        var digits = 0
        while let byte = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(Int(byte - UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else { throw error("integer too large at offset \(start)") }
            value = sum
            digits += 1
            position += 1
        }
        guard digits > 0 else { throw error("expected digits at offset \(start)") }
        // Python 2-era headers wrote long integers with an L suffix: (3L, 4L).
        if current == UInt8(ascii: "L") || current == UInt8(ascii: "l") { position += 1 }
        if let byte = current, byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") || byte == UInt8(ascii: "j") {
            throw error("only integers are allowed, found a number with '\(Character(Unicode.Scalar(byte)))' at offset \(start)")
        }
        return negative ? -value : value
    }

    private mutating func parseString() throws -> String {
        guard let quote = current else { throw error("unexpected end of header") }
        let start = position
        position += 1
        var scalars = String.UnicodeScalarView()
        var pendingUTF8: [UInt8] = []
        func flushUTF8() throws {
            guard !pendingUTF8.isEmpty else { return }
            guard let text = strictUTF8String(pendingUTF8) else {
                throw error("invalid UTF-8 in string at offset \(start)")
            }
            scalars.append(contentsOf: text.unicodeScalars)
            pendingUTF8.removeAll()
        }
        while true {
            guard let byte = current else { throw error("unterminated string starting at offset \(start)") }
            position += 1
            if byte == quote { break }
            if byte == 0x0A { throw error("unterminated string starting at offset \(start)") }
            if byte != UInt8(ascii: "\\") {
                if utf8 && byte >= 0x80 { pendingUTF8.append(byte) } else { try flushUTF8(); scalars.append(Unicode.Scalar(byte)) }
                continue
            }
            try flushUTF8()
            guard let escaped = current else { throw error("unterminated string starting at offset \(start)") }
            position += 1
            switch escaped {
            case UInt8(ascii: "\\"), UInt8(ascii: "'"), UInt8(ascii: "\""): scalars.append(Unicode.Scalar(escaped))
            case UInt8(ascii: "n"): scalars.append("\n")
            case UInt8(ascii: "t"): scalars.append("\t")
            case UInt8(ascii: "r"): scalars.append("\r")
            case UInt8(ascii: "0"): scalars.append("\0")
            case UInt8(ascii: "x"): scalars.append(try parseHexEscape(digits: 2))
            case UInt8(ascii: "u"): scalars.append(try parseHexEscape(digits: 4))
            case UInt8(ascii: "U"): scalars.append(try parseHexEscape(digits: 8))
            default: throw error("unsupported escape '\\\(Character(Unicode.Scalar(escaped)))' in string at offset \(start)")
            }
        }
        try flushUTF8()
        return String(scalars)
    }

    private mutating func parseHexEscape(digits: Int) throws -> Unicode.Scalar {
        guard position + digits <= bytes.count,
              let text = strictUTF8String(UnsafeRawBufferPointer(rebasing: bytes[position..<(position + digits)])),
              let value = UInt32(text, radix: 16), let scalar = Unicode.Scalar(value) else {
            throw error("bad escape sequence at offset \(position)")
        }
        position += digits
        return scalar
    }

    /// Parses `(a, b, ...)` or `[a, b, ...]`; a trailing comma is allowed, and `(x)` without a comma is just `x`.
    private mutating func parseSequence(closing: UInt8, isTuple: Bool) throws -> PythonLiteral {
        position += 1
        var items: [PythonLiteral] = []
        var sawComma = false
        while true {
            skipWhitespace()
            guard let byte = current else { throw error("unterminated \(isTuple ? "tuple" : "list")") }
            if byte == closing {
                position += 1
                break
            }
            if !items.isEmpty && !sawComma {
                throw error("expected ',' or '\(Character(Unicode.Scalar(closing)))' at offset \(position)")
            }
            items.append(try parseValue())
            skipWhitespace()
            sawComma = current == UInt8(ascii: ",")
            if sawComma { position += 1 }
        }
        if isTuple && items.count == 1 && !sawComma { return items[0] }  // Parentheses, not a tuple.
        return isTuple ? .tuple(items) : .list(items)
    }

    /// Parses `{key: value, ...}`; a trailing comma is allowed; duplicate keys are an error.
    private mutating func parseDict() throws -> PythonLiteral {
        position += 1
        var items: [(PythonLiteral, PythonLiteral)] = []
        var sawComma = false
        while true {
            skipWhitespace()
            guard let byte = current else { throw error("unterminated dictionary") }
            if byte == UInt8(ascii: "}") {
                position += 1
                break
            }
            if !items.isEmpty && !sawComma { throw error("expected ',' or '}' at offset \(position)") }
            let keyOffset = position
            let key = try parseValue()
            skipWhitespace()
            guard current == UInt8(ascii: ":") else { throw error("expected ':' at offset \(position)") }
            position += 1
            let value = try parseValue()
            if items.contains(where: { $0.0 == key }) {
                throw error("duplicate key at offset \(keyOffset)")
            }
            items.append((key, value))
            skipWhitespace()
            sawComma = current == UInt8(ascii: ",")
            if sawComma { position += 1 }
        }
        return .dict(items)
    }
}
