// Thin, safe wrappers over the system zlib: raw deflate (zip entries), zlib-wrapped streams (PNG IDAT)
// and CRC-32. Output is always written straight into the caller's memory, so inflating a 200 MB entry is a
// single pass of zlib's own inflate loop.
import CZlib

/// Deflate compression, decompression and CRC-32, backed by the system zlib.
///
/// Two stream flavours are supported: *raw* deflate, as stored in zip (and therefore `.npz`) entries, and
/// *zlib-wrapped* deflate (a 2-byte header and an Adler-32 trailer around the raw stream), as used by PNG.
///
/// ```swift
/// let packed = Zlib.compress(Array("hello hello hello".utf8))
/// let unpacked = try Zlib.decompress(packed, source: "greeting")
/// ```
public enum Zlib {
    /// Inflates a raw deflate stream (no zlib header, `windowBits` −15) into `output`, which it must fill exactly.
    ///
    /// The decompressed size must be known in advance, as it is for zip entries. The stream must produce exactly
    /// `output.count` bytes and then end; input bytes after the end of the stream are ignored.
    ///
    /// - Parameters:
    ///   - input: The compressed bytes.
    ///   - output: Where the decompressed bytes go; its size is the expected decompressed size.
    ///   - source: The file or entry the stream comes from, used in error messages.
    /// - Throws: `FormatError` when the stream is corrupt, ends before filling `output` ("truncated: expected
    ///   N bytes of deflate output, got M"), or would produce more than `output.count` bytes.
    package static func inflateRaw(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer,
                                  source: String) throws {
        let inflater = try Inflater(format: .raw, source: source)
        inflater.setInput(input)
        try inflater.inflateExactly(into: output, expectedTotal: output.count)
        try inflater.expectEnd(expectedTotal: output.count)
    }

    /// Inflates a raw deflate stream whose decompressed size is known, returning a new array.
    ///
    /// - Parameters:
    ///   - input: The compressed bytes.
    ///   - expectedSize: The exact decompressed size.
    ///   - source: The file or entry the stream comes from, used in error messages.
    /// - Returns: Exactly `expectedSize` decompressed bytes.
    /// - Throws: `FormatError` as ``inflateRaw(_:into:source:)`` does.
    public static func inflateRaw(_ input: [UInt8], expectedSize: Int, source: String) throws -> [UInt8] {
        guard expectedSize >= 0 else { throw FormatError(source, "invalid expected size \(expectedSize)") }
        var failure: Error?
        let result = [UInt8](unsafeUninitializedCapacity: expectedSize) { buffer, initialized in
            do {
                try input.withUnsafeBytes { try inflateRaw($0, into: UnsafeMutableRawBufferPointer(buffer), source: source) }
                initialized = expectedSize
            } catch {
                failure = error
                initialized = 0
            }
        }
        if let failure { throw failure }
        return result
    }

    /// Compresses `input` into a zlib-wrapped deflate stream (header, deflate data, Adler-32), as PNG `IDAT`
    /// chunks and `decompress(_:source:sizeHint:)` expect.
    ///
    /// - Parameters:
    ///   - input: The bytes to compress.
    ///   - level: The zlib compression level, 0 (store) through 9 (smallest); −1 means zlib's default (6).
    ///     Values outside that range are clamped.
    /// - Returns: The compressed stream.
    public static func compress(_ input: [UInt8], level: Int32 = 6) -> [UInt8] {
        let level = level < 0 ? Z_DEFAULT_COMPRESSION : min(level, 9)
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        defer {
            deflateEnd(stream)
            stream.deinitialize(count: 1)
            stream.deallocate()
        }
        let status = deflateInit_(stream, level, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        // deflateInit only fails on invalid arguments (ruled out above) or when memory is exhausted.
        precondition(status == Z_OK, "deflateInit failed (\(status)): out of memory")

        let bound = Int(deflateBound(stream, uLong(min(input.count, Int(UInt32.max))))) + input.count / 1000 + 64
        var output = [UInt8](repeating: 0, count: max(bound, 64))
        var produced = 0
        input.withUnsafeBytes { inputBytes in
            var consumed = 0
            while true {
                if produced == output.count {
                    output.append(contentsOf: repeatElement(0, count: max(output.count / 2, 4096)))
                }
                let chunkIn = min(inputBytes.count - consumed, Int(UInt32.max))
                let flush = consumed + chunkIn == inputBytes.count ? Z_FINISH : Z_NO_FLUSH
                let base = inputBytes.baseAddress.map { UnsafeMutablePointer(mutating: $0.assumingMemoryBound(to: Bytef.self)) }
                stream.pointee.next_in = base.map { $0 + consumed }
                stream.pointee.avail_in = uInt(chunkIn)
                let result: Int32 = output.withUnsafeMutableBytes { outputBytes in
                    let chunkOut = min(outputBytes.count - produced, Int(UInt32.max))
                    stream.pointee.next_out = outputBytes.baseAddress!.assumingMemoryBound(to: Bytef.self) + produced
                    stream.pointee.avail_out = uInt(chunkOut)
                    let result = deflate(stream, flush)
                    produced += chunkOut - Int(stream.pointee.avail_out)
                    return result
                }
                consumed += chunkIn - Int(stream.pointee.avail_in)
                if result == Z_STREAM_END { break }
                // Z_OK and Z_BUF_ERROR both mean "give me more room or more input"; the loop provides both.
                precondition(result == Z_OK || result == Z_BUF_ERROR, "deflate failed (\(result))")
            }
        }
        output.removeSubrange(produced...)
        return output
    }

    /// Inflates a zlib-wrapped deflate stream of unknown decompressed size.
    ///
    /// The output buffer starts at `sizeHint` bytes (or a guess from the input size) and grows as needed.
    /// The stream's Adler-32 checksum is verified; input after the end of the stream is ignored.
    ///
    /// - Parameters:
    ///   - input: The compressed bytes, starting with the 2-byte zlib header.
    ///   - source: The file or entry the stream comes from, used in error messages.
    ///   - sizeHint: The expected decompressed size, if known; 0 lets the function guess.
    /// - Returns: All decompressed bytes.
    /// - Throws: `FormatError` when the stream is corrupt or truncated.
    public static func decompress(_ input: [UInt8], source: String, sizeHint: Int = 0) throws -> [UInt8] {
        let inflater = try Inflater(format: .zlib, source: source)
        return try input.withUnsafeBytes { inputBytes in
            inflater.setInput(inputBytes)
            var capacity = sizeHint > 0 ? sizeHint : max(64, min(inputBytes.count, Int.max / 8) * 4)
            var storage = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
            defer { storage.deallocate() }
            var produced = 0
            while true {
                let window = UnsafeMutableRawBufferPointer(start: storage + produced, count: capacity - produced)
                let (written, outcome) = try inflater.inflate(into: window)
                produced += written
                switch outcome {
                case .streamEnded:
                    return [UInt8](UnsafeRawBufferPointer(start: storage, count: produced))
                case .inputExhausted:
                    throw FormatError(source, "truncated zlib stream: input ends after \(byteCountText(produced)) of output")
                case .outputFull:
                    // Grow by half again; one realloc-style copy per growth keeps the total work linear.
                    let (doubled, overflow) = capacity.addingReportingOverflow(max(capacity / 2, 4096))
                    guard !overflow else { throw FormatError(source, "decompressed data too large") }
                    let grown = UnsafeMutableRawPointer.allocate(byteCount: doubled, alignment: 16)
                    grown.copyMemory(from: storage, byteCount: produced)
                    storage.deallocate()
                    storage = grown
                    capacity = doubled
                }
            }
        }
    }

    /// Computes the CRC-32 (the zip/PNG/gzip polynomial) of `bytes`.
    ///
    /// - Parameters:
    ///   - bytes: The bytes to checksum.
    ///   - initial: The CRC of the bytes before these, to checksum data that arrives in pieces; 0 to start.
    /// - Returns: The CRC-32 of everything so far.
    package static func crc32(_ bytes: UnsafeRawBufferPointer, initial: UInt32 = 0) -> UInt32 {
        guard var pointer = bytes.baseAddress?.assumingMemoryBound(to: Bytef.self) else { return initial }
        var remaining = bytes.count
        var crc = uLong(initial)
        while remaining > 0 {
            // zlib's length parameter is 32-bit; feed huge buffers in 1 GiB pieces.
            let piece = min(remaining, 1 << 30)
            crc = CZlib.crc32(crc, pointer, uInt(piece))
            pointer += piece
            remaining -= piece
        }
        return UInt32(truncatingIfNeeded: crc)
    }

    /// Computes the CRC-32 of `bytes`.
    ///
    /// - Parameters:
    ///   - bytes: The bytes to checksum.
    ///   - initial: The CRC of the bytes before these; 0 to start.
    /// - Returns: The CRC-32 of everything so far.
    public static func crc32(_ bytes: [UInt8], initial: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { crc32($0, initial: initial) }
    }
}

// MARK: - Streaming inflater

/// An incremental inflater over one input buffer, used where output goes to several destinations in turn
/// (an `.npy` header into scratch memory, then its data straight into a caller's buffer).
///
/// The `z_stream` lives at a fixed heap address because zlib keeps a pointer back to it.
final class Inflater {
    enum Format {
        /// Raw deflate, as in zip entries.
        case raw
        /// zlib-wrapped deflate with an Adler-32 trailer, as in PNG.
        case zlib

        var windowBits: Int32 { self == .raw ? -15 : 15 }
        var name: String { self == .raw ? "deflate" : "zlib" }
    }

    /// Why `inflate(into:)` stopped.
    enum Outcome {
        /// The output window is full; the stream may continue.
        case outputFull
        /// The stream's final block (and, for zlib, its checksum) has been decoded.
        case streamEnded
        /// All input was consumed before the stream ended.
        case inputExhausted
    }

    let format: Format
    let source: String
    private let stream: UnsafeMutablePointer<z_stream>
    private var input = UnsafeRawBufferPointer(start: nil, count: 0)
    private var inputFed = 0
    /// Total bytes produced so far, over all calls.
    private(set) var totalOut = 0
    private(set) var ended = false

    init(format: Format, source: String) throws {
        self.format = format
        self.source = source
        stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let status = inflateInit2_(stream, format.windowBits, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            stream.deinitialize(count: 1)
            stream.deallocate()
            throw FormatError(source, "cannot start inflate (zlib error \(status))")
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    /// Sets the compressed input; the memory must stay valid while this inflater is used.
    func setInput(_ bytes: UnsafeRawBufferPointer) {
        input = bytes
        inputFed = 0
        stream.pointee.next_in = nil
        stream.pointee.avail_in = 0
    }

    /// Moves the next piece of input into the stream once zlib has consumed the previous one.
    @inline(__always)
    private func refillInput() {
        guard stream.pointee.avail_in == 0, inputFed < input.count, let base = input.baseAddress else { return }
        let piece = min(input.count - inputFed, Int(UInt32.max))
        stream.pointee.next_in = UnsafeMutablePointer(mutating: (base + inputFed).assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = uInt(piece)
        inputFed += piece
    }

    /// Points the stream at `bytes`, the same compressed input as before but possibly at a new address,
    /// keeping the position reached so far. zlib holds no pointers into input or output between calls
    /// (its window is its own copy), so input memory only needs to be valid during each `inflate` call.
    func rebaseInput(_ bytes: UnsafeRawBufferPointer) {
        let consumed = inputFed - Int(stream.pointee.avail_in)
        input = bytes
        inputFed = consumed
        stream.pointee.next_in = nil
        stream.pointee.avail_in = 0
    }

    private var inputRemaining: Bool { stream.pointee.avail_in > 0 || inputFed < input.count }

    /// Inflates into `output` until it is full, the stream ends or the input runs out.
    /// - Returns: The number of bytes written and why inflation stopped.
    func inflate(into output: UnsafeMutableRawBufferPointer) throws -> (written: Int, outcome: Outcome) {
        if ended { return (0, .streamEnded) }
        guard let outputBase = output.baseAddress, output.count > 0 else { return (0, .outputFull) }
        var written = 0
        while written < output.count {
            refillInput()
            let window = min(output.count - written, Int(UInt32.max))
            stream.pointee.next_out = (outputBase + written).assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_out = uInt(window)
            let availableIn = stream.pointee.avail_in
            let status = CZlib.inflate(stream, Z_NO_FLUSH)
            let produced = window - Int(stream.pointee.avail_out)
            written += produced
            totalOut += produced
            switch status {
            case Z_STREAM_END:
                ended = true
                return (written, .streamEnded)
            case Z_OK, Z_BUF_ERROR:
                if produced == 0 && stream.pointee.avail_in == availableIn && !inputRemaining {
                    return (written, .inputExhausted)
                }
                if produced == 0 && stream.pointee.avail_in == availableIn {
                    // No progress although input and room remain: cannot happen with a sane zlib; do not spin.
                    throw FormatError(source, "corrupt \(format.name) stream: inflate made no progress")
                }
            case Z_DATA_ERROR:
                let message = stream.pointee.msg.map { String(cString: $0) } ?? "invalid data"
                throw FormatError(source, "corrupt \(format.name) stream: \(message) (after \(byteCountText(totalOut)) of output)")
            case Z_NEED_DICT:
                throw FormatError(source, "corrupt \(format.name) stream: it needs a preset dictionary")
            case Z_MEM_ERROR:
                throw FormatError(source, "out of memory while inflating")
            default:
                throw FormatError(source, "inflate failed (zlib error \(status))")
            }
        }
        return (written, .outputFull)
    }

    /// Inflates until `output` is full; a stream that ends or runs out of input first is an error
    /// phrased against `expectedTotal`, the size of the whole decompressed stream.
    func inflateExactly(into output: UnsafeMutableRawBufferPointer, expectedTotal: Int) throws {
        let (written, outcome) = try inflate(into: output)
        if written == output.count { return }
        switch outcome {
        case .inputExhausted:
            throw FormatError(source, "truncated: expected \(expectedTotal) bytes of \(format.name) output, got \(totalOut)")
        case .streamEnded:
            throw FormatError(source, "\(format.name) stream ends early: expected \(expectedTotal) bytes of output, got \(totalOut)")
        case .outputFull:
            return
        }
    }

    /// After the expected output has been produced, checks that the stream ends there (for zlib streams
    /// this also verifies the Adler-32 trailer).
    func expectEnd(expectedTotal: Int) throws {
        if ended { return }
        var probe: UInt8 = 0
        let (written, outcome) = try withUnsafeMutableBytes(of: &probe) { try inflate(into: $0) }
        if written > 0 {
            throw FormatError(source, "\(format.name) stream holds more than the expected \(byteCountText(expectedTotal))")
        }
        if outcome == .inputExhausted {
            throw FormatError(source, "truncated: \(format.name) stream ends without its final block after \(byteCountText(expectedTotal))")
        }
    }
}
