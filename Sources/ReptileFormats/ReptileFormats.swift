// ReptileFormats owns every file format Reptile for Swift reads or writes: zlib/deflate streams
// (`Zlib`), zip archives (`ZipArchive`), NumPy `.npy` arrays and `.npz` archives (`NPY`, `NPYArray`,
// `NPZArchive`), PNG images through libpng (`PNG`, `PNGImage`), JPEG through libjpeg (`JPEG`), Hugging Face safetensors checkpoints (`SafeTensors`),
// crash-safe file replacement (`AtomicFile`) and the exact area-average image resampler used to shrink
// data set images (`AreaResampler`). Parsers treat their input as untrusted: every malformed, truncated or
// unsupported file is reported as a one-line `FormatError` naming the file and the problem, never a trap.
// This file holds the small byte-level helpers the formats share.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Little/big-endian reads from untrusted buffers

extension UnsafeRawBufferPointer {
    /// Reads a little-endian integer at `offset`, or nil when it would run past the end.
    @inline(__always)
    func readLE<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T? {
        guard offset >= 0, offset <= count - MemoryLayout<T>.size else { return nil }
        return T(littleEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    /// Reads a big-endian integer at `offset`, or nil when it would run past the end.
    @inline(__always)
    func readBE<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T? {
        guard offset >= 0, offset <= count - MemoryLayout<T>.size else { return nil }
        return T(bigEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}

extension Array where Element == UInt8 {
    /// Appends `value` as little-endian bytes.
    @inline(__always)
    mutating func appendLE<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }

    /// Appends `value` as big-endian bytes.
    @inline(__always)
    mutating func appendBE<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.bigEndian) { append(contentsOf: $0) }
    }
}

/// The product of `dimensions`, or nil when a dimension is negative or the product overflows `Int`.
func checkedProduct(_ dimensions: [Int]) -> Int? {
    var product = 1
    for dimension in dimensions {
        guard dimension >= 0 else { return nil }
        let (result, overflow) = product.multipliedReportingOverflow(by: dimension)
        if overflow { return nil }
        product = result
    }
    return product
}

/// Decodes `bytes` as UTF-8, or returns nil when they are not valid UTF-8 (no replacement characters).
/// (`String(validating:as:)` would do, but needs macOS 15.)
func strictUTF8String<Bytes: Sequence>(_ bytes: Bytes) -> String? where Bytes.Element == UInt8 {
    var scalars = String.UnicodeScalarView()
    var decoder = UTF8()
    var iterator = bytes.makeIterator()
    while true {
        switch decoder.decode(&iterator) {
        case .scalarValue(let scalar): scalars.append(scalar)
        case .emptyInput: return String(scalars)
        case .error: return nil
        }
    }
}

/// Formats a byte count for messages, e.g. `212562128 bytes`.
func byteCountText(_ count: Int) -> String { count == 1 ? "1 byte" : "\(count) bytes" }

// MARK: - File reading

/// The text of the C `errno` value `code`, e.g. "Permission denied".
func systemErrorText(_ code: Int32) -> String {
    if let text = strerror(code) { return String(cString: text) }
    return "error \(code)"
}

/// Reads a whole file with POSIX calls straight into one array (no intermediate `Data`).
/// Errors name the path: "no such file", "is a directory", "permission denied", or the system's text.
/// The most bytes ``readFileBytes(_:)`` takes from a pipe, whose size is not known in advance.
let maxPipeBytes = 4 << 30

func readFileBytes(_ path: String) throws -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else {
        let code = errno
        switch code {
        case ENOENT: throw FormatError(path, "no such file")
        case EACCES: throw FormatError(path, "permission denied")
        default: throw FormatError(path, "cannot open: \(systemErrorText(code))")
        }
    }
    defer { _ = close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else {
        throw FormatError(path, "cannot stat: \(systemErrorText(errno))")
    }
    let kind = info.st_mode & S_IFMT
    if kind == S_IFDIR { throw FormatError(path, "is a directory") }
    // A device (/dev/zero, a disk) never ends or is not a data file: refuse it rather than read
    // until memory runs out. Pipes are read, up to a limit.
    if kind == S_IFCHR || kind == S_IFBLK || kind == S_IFSOCK { throw FormatError(path, "not a regular file (a device or socket)") }

    let statedSize = Int(info.st_size)
    if (info.st_mode & S_IFMT) == S_IFREG && statedSize > 0 {
        // Regular file: one allocation of the stated size, filled by read(2).
        var failure: Int32 = 0
        let bytes = [UInt8](unsafeUninitializedCapacity: statedSize) { buffer, initialized in
            var filled = 0
            while filled < statedSize {
                let got = read(fd, buffer.baseAddress! + filled, statedSize - filled)
                if got < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    break
                }
                if got == 0 { break }  // The file shrank while we read it; keep what is there.
                filled += got
            }
            initialized = filled
        }
        if failure != 0 { throw FormatError(path, "read failed: \(systemErrorText(failure))") }
        return bytes
    }

    // Pipes and special files have no useful size: read in chunks until end of file.
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let got = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
        if got < 0 {
            if errno == EINTR { continue }
            throw FormatError(path, "read failed: \(systemErrorText(errno))")
        }
        if got == 0 { break }
        bytes.append(contentsOf: chunk[0..<got])
        if bytes.count > maxPipeBytes { throw FormatError(path, "more than \(byteCountText(maxPipeBytes)) from a pipe: not a data file") }
    }
    return bytes
}
