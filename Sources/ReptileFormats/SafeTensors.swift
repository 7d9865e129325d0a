// Hugging Face safetensors files: deterministic writing and fully validated reading, so checkpoints move freely
// between Reptile for Swift and PyTorch/NumPy (`safetensors.numpy.load_file`, `safetensors.torch.load_file`).

/// The safetensors tensor file format.
///
/// A file is an 8-byte little-endian header length `N`, then `N` bytes of UTF-8 JSON, then one data buffer. The
/// JSON maps each tensor name to `{"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}`, offsets
/// relative to the start of the data buffer, plus an optional `"__metadata__"` object of string → string.
///
/// Writing is deterministic: metadata first with its keys sorted, then the tensors in the order given, their data
/// contiguous in that order, and the header padded with spaces so that the data starts 8-byte aligned.
/// Reading validates everything: header length, JSON, dtypes, that each tensor's byte range matches its shape,
/// and that the tensors tile the data buffer exactly, with no holes or overlaps.
///
/// ```swift
/// let bytes = SafeTensors.encode([
///     SafeTensors.Tensor(name: "conv1.weight", floats: weights, shape: [64, 1, 3, 3]),
///     SafeTensors.Tensor(name: "step", int64s: [1000], shape: []),
/// ], metadata: ["format": "pt"])
/// let file = try SafeTensors.File(bytes: bytes, source: "model.safetensors")
/// let weights = try file.floats(named: "conv1.weight", shape: [64, 1, 3, 3])
/// ```
public enum SafeTensors {
    /// The largest header this reader accepts (the reference implementation's limit).
    public static let maximumHeaderLength = 100_000_000

    /// A safetensors element type.
    public enum DType: String, Sendable, CaseIterable, Equatable {
        /// 64-bit IEEE float.
        case F64
        /// 32-bit IEEE float.
        case F32
        /// 16-bit IEEE float.
        case F16
        /// bfloat16.
        case BF16
        /// Signed 64-bit integer.
        case I64
        /// Signed 32-bit integer.
        case I32
        /// Signed 16-bit integer.
        case I16
        /// Signed 8-bit integer.
        case I8
        /// Unsigned 8-bit integer.
        case U8
        /// Boolean, one byte.
        case BOOL
        /// Unsigned 16-bit integer.
        case U16
        /// Unsigned 32-bit integer.
        case U32
        /// Unsigned 64-bit integer.
        case U64

        /// Bytes per element.
        public var size: Int {
            switch self {
            case .F64, .I64, .U64: return 8
            case .F32, .I32, .U32: return 4
            case .F16, .BF16, .I16, .U16: return 2
            case .I8, .U8, .BOOL: return 1
            }
        }
    }

    /// One named tensor: dtype, shape and its raw little-endian bytes (row-major).
    public struct Tensor: Sendable, Equatable {
        /// The tensor's name, e.g. `conv1.weight`.
        public var name: String
        /// The element type.
        public var dtype: DType
        /// The dimensions; `[]` for a scalar.
        public var shape: [Int]
        /// `product(shape) × dtype.size` bytes, little-endian, row-major.
        public var bytes: [UInt8]

        /// Creates a tensor from raw little-endian bytes.
        ///
        /// - Parameters:
        ///   - name: The tensor's name.
        ///   - dtype: The element type.
        ///   - shape: The dimensions.
        ///   - bytes: `product(shape) × dtype.size` bytes.
        /// - Throws: `FormatError` when the byte count does not match the shape.
        public init(name: String, dtype: DType, shape: [Int], bytes: [UInt8]) throws {
            guard let count = checkedProduct(shape), count.multipliedReportingOverflow(by: dtype.size) == (bytes.count, false) else {
                throw FormatError(name, "shape \(shape) of \(dtype.rawValue) does not match \(byteCountText(bytes.count))")
            }
            self.name = name
            self.dtype = dtype
            self.shape = shape
            self.bytes = bytes
        }

        /// Creates an `F32` tensor.
        ///
        /// - Parameters:
        ///   - name: The tensor's name.
        ///   - floats: The elements in row-major order; there must be `product(shape)` of them.
        ///   - shape: The dimensions.
        public init(name: String, floats: [Float], shape: [Int]) {
            precondition(checkedProduct(shape) == floats.count, "\(floats.count) elements do not fill shape \(shape)")
            self.name = name
            dtype = .F32
            self.shape = shape
            bytes = [UInt8](unsafeUninitializedCapacity: floats.count * 4) { buffer, initialized in
                let raw = UnsafeMutableRawBufferPointer(buffer)
                for (index, value) in floats.enumerated() {
                    raw.storeBytes(of: value.bitPattern.littleEndian, toByteOffset: index * 4, as: UInt32.self)
                }
                initialized = floats.count * 4
            }
        }

        /// Creates an `I64` tensor.
        ///
        /// - Parameters:
        ///   - name: The tensor's name.
        ///   - int64s: The elements in row-major order; there must be `product(shape)` of them.
        ///   - shape: The dimensions.
        public init(name: String, int64s: [Int64], shape: [Int]) {
            precondition(checkedProduct(shape) == int64s.count, "\(int64s.count) elements do not fill shape \(shape)")
            self.name = name
            dtype = .I64
            self.shape = shape
            bytes = [UInt8](unsafeUninitializedCapacity: int64s.count * 8) { buffer, initialized in
                let raw = UnsafeMutableRawBufferPointer(buffer)
                for (index, value) in int64s.enumerated() {
                    raw.storeBytes(of: value.littleEndian, toByteOffset: index * 8, as: Int64.self)
                }
                initialized = int64s.count * 8
            }
        }

        /// The number of elements, the product of `shape` (1 for a scalar).
        public var count: Int { bytes.count / dtype.size }

        /// The elements of an `F32` tensor.
        ///
        /// - Throws: `FormatError` when the tensor is not `F32`.
        public func floats() throws -> [Float] {
            guard dtype == .F32 else { throw FormatError(name, "tensor has dtype \(dtype.rawValue), expected F32") }
            return bytes.withUnsafeBytes { raw in (0..<count).map { Float(bitPattern: raw.element(UInt32.self, $0)) } }
        }

        /// The elements of an `I64` tensor.
        ///
        /// - Throws: `FormatError` when the tensor is not `I64`.
        public func int64s() throws -> [Int64] {
            guard dtype == .I64 else { throw FormatError(name, "tensor has dtype \(dtype.rawValue), expected I64") }
            return bytes.withUnsafeBytes { raw in (0..<count).map { raw.element(Int64.self, $0) } }
        }
    }

    /// Encodes tensors (and optional metadata) as a safetensors file.
    ///
    /// The output depends only on the arguments: metadata keys are sorted, tensors keep the order given (which is
    /// also the order of their data), and the JSON is compact.
    ///
    /// - Parameters:
    ///   - tensors: The tensors, with distinct names other than `__metadata__`.
    ///   - metadata: Free-form string pairs stored under `__metadata__` (omitted when empty).
    /// - Returns: The complete file.
    public static func encode(_ tensors: [Tensor], metadata: [String: String] = [:]) -> [UInt8] {
        var seen = Set<String>()
        for tensor in tensors {
            precondition(tensor.name != "__metadata__", "a tensor cannot be named __metadata__")
            precondition(seen.insert(tensor.name).inserted, "duplicate tensor name \(tensor.name)")
            precondition(checkedProduct(tensor.shape).map { $0 * tensor.dtype.size } == tensor.bytes.count,
                         "tensor \(tensor.name): shape \(tensor.shape) of \(tensor.dtype.rawValue) does not match \(tensor.bytes.count) bytes")
        }
        var members: [String] = []
        if !metadata.isEmpty {
            let keys = metadata.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            let pairs = keys.map { jsonQuoted($0) + ":" + jsonQuoted(metadata[$0] ?? "") }
            members.append("\"__metadata__\":{" + pairs.joined(separator: ",") + "}")
        }
        var offset = 0
        for tensor in tensors {
            let end = offset + tensor.bytes.count
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            members.append(jsonQuoted(tensor.name) + ":{\"dtype\":\"\(tensor.dtype.rawValue)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        var header = Array(("{" + members.joined(separator: ",") + "}").utf8)
        // Pad with spaces (valid JSON whitespace) so the data buffer starts 8-byte aligned.
        header += [UInt8](repeating: 0x20, count: (8 - header.count % 8) % 8)

        var file: [UInt8] = []
        file.reserveCapacity(8 + header.count + offset)
        file.appendLE(UInt64(header.count))
        file += header
        for tensor in tensors { file += tensor.bytes }
        return file
    }

    /// Encodes tensors as a safetensors file and writes it to `path` atomically (see ``AtomicFile``).
    ///
    /// - Parameters:
    ///   - tensors: The tensors, with distinct names.
    ///   - metadata: Free-form string pairs stored under `__metadata__`.
    ///   - path: The destination path.
    /// - Throws: `FormatError` naming `path` when the file cannot be written.
    public static func write(_ tensors: [Tensor], metadata: [String: String] = [:], to path: String) throws {
        try AtomicFile.write(encode(tensors, metadata: metadata), to: path)
    }

    /// A decoded, validated safetensors file.
    public struct File: Sendable {
        /// The file path (or label), used in error messages.
        public let source: String
        /// The tensors, in the order their data appears in the file.
        public let tensors: [Tensor]
        /// The `__metadata__` pairs (empty when absent).
        public let metadata: [String: String]
        private let index: [String: Int]

        /// The tensor names, in the order their data appears in the file.
        public var names: [String] { tensors.map(\.name) }

        /// Reads and validates the safetensors file at `path`.
        ///
        /// - Parameter path: The file's path.
        /// - Throws: `FormatError` naming `path` when the file is missing, unreadable or invalid.
        public init(path: String) throws {
            try self.init(bytes: try readFileBytes(path), source: path)
        }

        /// Decodes and validates a safetensors file held in memory.
        ///
        /// - Parameters:
        ///   - bytes: The whole file.
        ///   - source: A name for the file, used in error messages.
        /// - Throws: `FormatError` for a bad header length, invalid JSON, an unknown dtype, a tensor whose byte
        ///   range does not match its shape or lies outside the buffer, or tensors that leave holes in the data
        ///   buffer, overlap, or do not cover it.
        public init(bytes: [UInt8], source: String) throws {
            self.source = source
            var tensors: [Tensor] = []
            var metadata: [String: String] = [:]
            try bytes.withUnsafeBytes { file in
                guard let length64 = file.readLE(UInt64.self, at: 0) else {
                    throw FormatError(source, "truncated: \(byteCountText(file.count)) is too short for the 8-byte header length")
                }
                guard length64 <= UInt64(maximumHeaderLength) else {
                    throw FormatError(source, "header length \(length64) exceeds the \(maximumHeaderLength)-byte limit")
                }
                let headerLength = Int(length64)
                guard headerLength <= file.count - 8 else {
                    throw FormatError(source, "truncated: header length \(headerLength) exceeds the \(byteCountText(file.count - 8)) after it")
                }
                let headerBytes = UnsafeRawBufferPointer(rebasing: file[8..<(8 + headerLength)])
                let json: JSONValue
                do {
                    json = try JSONParser.parse(headerBytes)
                } catch let failure as JSONParser.Failure {
                    throw FormatError(source, "invalid JSON header: \(failure.message) at byte \(failure.offset)")
                }
                guard case .object(let members) = json else {
                    throw FormatError(source, "header is \(json.kind), expected a JSON object")
                }

                struct Entry { var name: String; var dtype: DType; var shape: [Int]; var begin: Int; var end: Int }
                var entries: [Entry] = []
                for (name, value) in members {
                    if name == "__metadata__" {
                        guard case .object(let pairs) = value else {
                            throw FormatError(source, "__metadata__ is \(value.kind), expected an object of strings")
                        }
                        for (key, item) in pairs {
                            guard case .string(let text) = item else {
                                throw FormatError(source, "__metadata__ value for \"\(key)\" is \(item.kind), expected a string")
                            }
                            metadata[key] = text
                        }
                        continue
                    }
                    entries.append(try Self.parseEntry(name: name, value: value, source: source, make: Entry.init))
                }

                let dataStart = 8 + headerLength
                let bufferSize = file.count - dataStart
                for entry in entries where entry.end > bufferSize {
                    throw FormatError(source, "tensor '\(entry.name)' data_offsets [\(entry.begin), \(entry.end)] run past the \(byteCountText(bufferSize)) data buffer")
                }
                // The tensors must tile the buffer: sorted by offset, each starts where the previous ended.
                entries.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
                var expectedBegin = 0
                var previousName: String?
                for entry in entries {
                    guard entry.begin == expectedBegin else {
                        if let previousName {
                            let relation = entry.begin < expectedBegin ? "overlaps" : "leaves a hole after"
                            throw FormatError(source, "tensor '\(entry.name)' at data offset \(entry.begin) \(relation) tensor '\(previousName)', which ends at \(expectedBegin)")
                        }
                        throw FormatError(source, "tensor '\(entry.name)' starts at data offset \(entry.begin); the first tensor must start at 0")
                    }
                    expectedBegin = entry.end
                    previousName = entry.name
                }
                guard expectedBegin == bufferSize else {
                    throw FormatError(source, "tensors cover \(byteCountText(expectedBegin)) but the data buffer holds \(byteCountText(bufferSize))")
                }
                tensors = entries.map { entry in
                    let data = Array(file[(dataStart + entry.begin)..<(dataStart + entry.end)])
                    return Tensor(unchecked: entry.name, dtype: entry.dtype, shape: entry.shape, bytes: data)
                }
            }
            self.tensors = tensors
            self.metadata = metadata
            var index: [String: Int] = [:]
            for (position, tensor) in tensors.enumerated() { index[tensor.name] = position }
            self.index = index
        }

        private static func parseEntry<Entry>(name: String, value: JSONValue, source: String,
                                              make: (String, DType, [Int], Int, Int) -> Entry) throws -> Entry {
            guard case .object(let fields) = value else {
                throw FormatError(source, "tensor '\(name)' is described by \(value.kind), expected an object")
            }
            func field(_ key: String) throws -> JSONValue {
                guard let found = fields.first(where: { $0.key == key }) else {
                    throw FormatError(source, "tensor '\(name)' has no \"\(key)\"")
                }
                return found.value
            }
            guard case .string(let dtypeName) = try field("dtype") else {
                throw FormatError(source, "tensor '\(name)' dtype is not a string")
            }
            guard let dtype = DType(rawValue: dtypeName) else {
                throw FormatError(source, "tensor '\(name)' has unknown dtype \"\(dtypeName)\"")
            }
            guard case .array(let dimensions) = try field("shape") else {
                throw FormatError(source, "tensor '\(name)' shape is not an array")
            }
            let shape = dimensions.compactMap(\.nonNegativeInteger)
            guard shape.count == dimensions.count else {
                throw FormatError(source, "tensor '\(name)' shape must hold non-negative integers")
            }
            guard case .array(let offsets) = try field("data_offsets"), offsets.count == 2,
                  let begin = offsets[0].nonNegativeInteger, let end = offsets[1].nonNegativeInteger else {
                throw FormatError(source, "tensor '\(name)' data_offsets must be two non-negative integers [begin, end]")
            }
            guard begin <= end else {
                throw FormatError(source, "tensor '\(name)' data_offsets [\(begin), \(end)] end before they begin")
            }
            guard let count = checkedProduct(shape), case let (byteCount, false) = count.multipliedReportingOverflow(by: dtype.size) else {
                throw FormatError(source, "tensor '\(name)' shape \(shape) is too large")
            }
            guard byteCount == end - begin else {
                throw FormatError(source, "tensor '\(name)' shape \(shape) of \(dtype.rawValue) needs \(byteCountText(byteCount)), but data_offsets [\(begin), \(end)] span \(end - begin)")
            }
            return make(name, dtype, shape, begin, end)
        }

        /// The tensor called `name`, if present.
        ///
        /// - Parameter name: The tensor's name.
        public func tensor(named name: String) -> Tensor? {
            index[name].map { tensors[$0] }
        }

        /// The elements of the `F32` tensor called `name`.
        ///
        /// - Parameters:
        ///   - name: The tensor's name.
        ///   - shape: The shape the caller expects, or nil to accept any.
        /// - Returns: The elements in row-major order.
        /// - Throws: `FormatError` when the tensor is missing (the message lists the names present), is not `F32`,
        ///   or has a different shape.
        public func floats(named name: String, shape: [Int]? = nil) throws -> [Float] {
            try checked(name, dtype: .F32, shape: shape).floats()
        }

        /// The elements of the `I64` tensor called `name`.
        ///
        /// - Parameters:
        ///   - name: The tensor's name.
        ///   - shape: The shape the caller expects, or nil to accept any.
        /// - Returns: The elements in row-major order.
        /// - Throws: `FormatError` when the tensor is missing, is not `I64`, or has a different shape.
        public func int64s(named name: String, shape: [Int]? = nil) throws -> [Int64] {
            try checked(name, dtype: .I64, shape: shape).int64s()
        }

        private func checked(_ name: String, dtype: DType, shape: [Int]?) throws -> Tensor {
            guard let tensor = tensor(named: name) else {
                let list = names.isEmpty ? "the file has no tensors" : "tensors: " + names.joined(separator: ", ")
                throw FormatError(source, "no tensor named '\(name)' (\(list))")
            }
            guard tensor.dtype == dtype else {
                throw FormatError(source, "tensor '\(name)' has dtype \(tensor.dtype.rawValue), expected \(dtype.rawValue)")
            }
            if let shape, shape != tensor.shape {
                throw FormatError(source, "tensor '\(name)' has shape \(tensor.shape), expected \(shape)")
            }
            return tensor
        }
    }
}

extension SafeTensors.Tensor {
    init(unchecked name: String, dtype: SafeTensors.DType, shape: [Int], bytes: [UInt8]) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
    }
}
