// Zip archive reading (the container of .npz files): end-of-central-directory search, the central
// directory, ZIP64 records, and stored/deflated entries verified by CRC-32.
// Not ZIPFoundation: it reads the built-in Omniglot archives 2.9 times slower (1.42 s against 0.50 s,
// `scripts/compare_zip_readers.sh`, Intel Emerald Rapids), and its `CZlib` module clashes with ours.
import CZlib

/// One file (or directory) inside a ``ZipArchive``, as described by the archive's central directory.
public struct ZipEntry: Sendable, Equatable {
    /// The entry's path inside the archive, e.g. `images.npy` or `data/labels.npy`.
    public var name: String
    /// The compression method: 0 (stored) and 8 (deflate) can be extracted.
    public var method: UInt16
    /// The size of the entry's data as stored in the archive.
    public var compressedSize: Int
    /// The size of the entry after extraction.
    public var uncompressedSize: Int
    /// The CRC-32 of the extracted bytes, checked on every extraction.
    public var crc32: UInt32
    /// Where the entry's local header starts, from the beginning of the archive.
    public var localHeaderOffset: Int
    /// The general-purpose flags (bit 0: encrypted; bit 3: sizes in a data descriptor; bit 11: UTF-8 name).
    public var flags: UInt16

    /// Whether the entry is a directory (its name ends in `/`).
    public var isDirectory: Bool { name.hasSuffix("/") }
}

/// A zip archive held in memory, with random access to its entries.
///
/// Reads the formats `zipfile`, `numpy.savez`/`savez_compressed`, Info-ZIP and most other tools write,
/// including ZIP64 archives and archive comments. Entries may be stored (method 0) or deflated (method 8);
/// every extraction is checked against the entry's CRC-32.
///
/// ```swift
/// let archive = try ZipArchive(path: "weights.npz")
/// for entry in archive.entries { print(entry.name, entry.uncompressedSize) }
/// let bytes = try archive.extract(archive.entries[0])
/// ```
public final class ZipArchive: @unchecked Sendable {
    /// The archive path (or the label given to ``init(bytes:source:)``), used in error messages.
    public let source: String
    /// The entries in central-directory order.
    public let entries: [ZipEntry]
    /// The archive comment (usually empty).
    public let comment: String
    /// The whole archive. Immutable after init, so sharing across threads is safe.
    let bytes: [UInt8]

    /// Reads and indexes the zip archive at `path`.
    ///
    /// - Parameter path: The archive's file path.
    /// - Throws: `FormatError` naming `path` when the file is missing ("no such file"), unreadable, or not a
    ///   well-formed zip archive.
    public convenience init(path: String) throws {
        try self.init(bytes: try readFileBytes(path), source: path)
    }

    /// Indexes a zip archive that is already in memory.
    ///
    /// - Parameters:
    ///   - bytes: The whole archive.
    ///   - source: A name for the archive, used in error messages.
    /// - Throws: `FormatError` when `bytes` is not a well-formed zip archive.
    public init(bytes: [UInt8], source: String) throws {
        self.source = source
        self.bytes = bytes
        (entries, comment) = try bytes.withUnsafeBytes { try ZipArchive.readDirectory($0, source: source) }
    }

    /// The first entry called `name`, if any.
    ///
    /// - Parameter name: The entry's full path inside the archive.
    public func entry(named name: String) -> ZipEntry? {
        entries.first { $0.name == name }
    }

    /// The source label used for errors about `entry`, e.g. `data.npz:images.npy`.
    func entrySource(_ entry: ZipEntry) -> String { "\(source):\(entry.name)" }

    /// Extracts an entry into a new array.
    ///
    /// - Parameter entry: An entry of this archive.
    /// - Returns: The entry's uncompressed bytes.
    /// - Throws: `FormatError` for an unsupported method, encrypted or corrupt data, or a CRC-32 mismatch.
    public func extract(_ entry: ZipEntry) throws -> [UInt8] {
        try checkPlausibleSize(entry)  // Before allocating what a forged header asks for.
        var failure: Error?
        let result = [UInt8](unsafeUninitializedCapacity: entry.uncompressedSize) { buffer, initialized in
            do {
                try extract(entry, into: UnsafeMutableRawBufferPointer(buffer))
                initialized = entry.uncompressedSize
            } catch {
                failure = error
                initialized = 0
            }
        }
        if let failure { throw failure }
        return result
    }

    /// Extracts an entry straight into caller-provided memory: deflated data is inflated directly into
    /// `destination`, with no intermediate copy, which matters for entries of hundreds of megabytes.
    ///
    /// - Parameters:
    ///   - entry: An entry of this archive.
    ///   - destination: Memory of exactly `entry.uncompressedSize` bytes.
    /// - Throws: `FormatError` when `destination` has the wrong size, or as ``extract(_:)`` does.
    package func extract(_ entry: ZipEntry, into destination: UnsafeMutableRawBufferPointer) throws {
        let source = entrySource(entry)
        guard destination.count == entry.uncompressedSize else {
            throw FormatError(source, "destination holds \(byteCountText(destination.count)), entry needs \(byteCountText(entry.uncompressedSize))")
        }
        try bytes.withUnsafeBytes { archive in
            let data = try dataRange(of: entry, in: archive)
            let compressed = UnsafeRawBufferPointer(rebasing: archive[data])
            var crc: UInt32
            switch entry.method {
            case 0:
                guard entry.compressedSize == entry.uncompressedSize else {
                    throw FormatError(source, "stored entry has compressed size \(entry.compressedSize) but uncompressed size \(entry.uncompressedSize)")
                }
                if let target = destination.baseAddress, let from = compressed.baseAddress, compressed.count > 0 {
                    target.copyMemory(from: from, byteCount: compressed.count)
                }
                crc = Zlib.crc32(UnsafeRawBufferPointer(destination))
            case 8:
                let inflater = try Inflater(format: .raw, source: source)
                inflater.setInput(compressed)
                // Inflate in 1 MiB windows and checksum each while it is still in cache:
                // one pass over memory instead of two.
                crc = 0
                let window = 1 << 20
                var offset = 0
                while offset < destination.count {
                    let piece = UnsafeMutableRawBufferPointer(rebasing: destination[offset..<min(offset + window, destination.count)])
                    try inflater.inflateExactly(into: piece, expectedTotal: entry.uncompressedSize)
                    crc = Zlib.crc32(UnsafeRawBufferPointer(piece), initial: crc)
                    offset += piece.count
                }
                try inflater.expectEnd(expectedTotal: entry.uncompressedSize)
            default:
                throw FormatError(source, "unsupported compression method \(entry.method) (\(Self.methodName(entry.method))); only stored (0) and deflate (8) are supported")
            }
            guard crc == entry.crc32 else {
                throw FormatError(source, "CRC-32 mismatch in entry \(entry.name): stored \(Self.hex(entry.crc32)), computed \(Self.hex(crc))")
            }
        }
    }

    /// Rejects entries that claim more output than their data could produce: deflate expands at most about
    /// 1032:1, and stored data not at all. This keeps forged sizes from triggering huge allocations.
    func checkPlausibleSize(_ entry: ZipEntry) throws {
        let limit: Int
        switch entry.method {
        case 0: limit = entry.compressedSize
        case 8: limit = entry.compressedSize.multipliedReportingOverflow(by: 1032).partialValue + 1024
        default: return  // Unsupported methods are reported when extracting.
        }
        guard entry.uncompressedSize <= limit else {
            throw FormatError(entrySource(entry), "entry claims \(byteCountText(entry.uncompressedSize)) from \(byteCountText(entry.compressedSize)) of data, more than method \(entry.method) can produce")
        }
    }

    /// The byte range of an entry's (compressed) data, after its local header.
    func dataRange(of entry: ZipEntry, in archive: UnsafeRawBufferPointer) throws -> Range<Int> {
        let source = entrySource(entry)
        if entry.flags & 0x0001 != 0 { throw FormatError(source, "encrypted entries are not supported") }
        let offset = entry.localHeaderOffset
        guard let signature = archive.readLE(UInt32.self, at: offset) else {
            throw FormatError(source, "local header offset \(offset) is past the end of the archive (\(byteCountText(archive.count)))")
        }
        guard signature == 0x0403_4b50 else {
            throw FormatError(source, "no local file header at offset \(offset) (found signature \(Self.hex(signature)))")
        }
        guard let nameLength = archive.readLE(UInt16.self, at: offset + 26),
              let extraLength = archive.readLE(UInt16.self, at: offset + 28) else {
            throw FormatError(source, "truncated local file header at offset \(offset)")
        }
        // The local header's name and extra field lengths may differ from the central directory's.
        let start = offset + 30 + Int(nameLength) + Int(extraLength)
        let (end, overflow) = start.addingReportingOverflow(entry.compressedSize)
        guard !overflow, end <= archive.count else {
            throw FormatError(source, "truncated: entry data needs \(byteCountText(entry.compressedSize)) from offset \(start), archive has \(byteCountText(archive.count))")
        }
        return start..<end
    }

    // MARK: Central directory

    private static func readDirectory(_ archive: UnsafeRawBufferPointer, source: String) throws -> ([ZipEntry], String) {
        guard let eocd = findEndOfCentralDirectory(archive) else {
            if archive.count < 22 {
                throw FormatError(source, "not a zip archive (\(byteCountText(archive.count)), too short for an end-of-central-directory record)")
            }
            throw FormatError(source, "not a zip archive (no end-of-central-directory record)")
        }
        // findEndOfCentralDirectory guarantees the 22 fixed bytes are present.
        let diskNumber = archive.readLE(UInt16.self, at: eocd + 4) ?? 0
        let directoryDisk = archive.readLE(UInt16.self, at: eocd + 6) ?? 0
        let entriesOnDisk = archive.readLE(UInt16.self, at: eocd + 8) ?? 0
        let totalEntries16 = archive.readLE(UInt16.self, at: eocd + 10) ?? 0
        let directorySize32 = archive.readLE(UInt32.self, at: eocd + 12) ?? 0
        let directoryOffset32 = archive.readLE(UInt32.self, at: eocd + 16) ?? 0
        let commentLength = Int(archive.readLE(UInt16.self, at: eocd + 20) ?? 0)
        let commentBytes = UnsafeRawBufferPointer(rebasing: archive[(eocd + 22)..<min(eocd + 22 + commentLength, archive.count)])
        let comment = decodeName(commentBytes, utf8: false)

        var totalEntries = Int(totalEntries16)
        var directorySize = Int(directorySize32)
        var directoryOffset = Int(directoryOffset32)

        // ZIP64: a locator just before the classic record points at the zip64 end-of-central-directory record.
        if eocd >= 20, archive.readLE(UInt32.self, at: eocd - 20) == 0x0706_4b50 {
            let locatorDisk = archive.readLE(UInt32.self, at: eocd - 16) ?? 0
            let recordOffset64 = archive.readLE(UInt64.self, at: eocd - 12) ?? 0
            let totalDisks = archive.readLE(UInt32.self, at: eocd - 4) ?? 0
            guard locatorDisk == 0, totalDisks <= 1 else {
                throw FormatError(source, "multi-disk (spanned) zip archives are not supported")
            }
            guard recordOffset64 <= UInt64(eocd - 20), let recordOffset = Int(exactly: recordOffset64) else {
                throw FormatError(source, "zip64 end-of-central-directory locator points past the end of the archive (offset \(recordOffset64))")
            }
            guard archive.readLE(UInt32.self, at: recordOffset) == 0x0606_4b50,
                  let entries64 = archive.readLE(UInt64.self, at: recordOffset + 32),
                  let size64 = archive.readLE(UInt64.self, at: recordOffset + 40),
                  let offset64 = archive.readLE(UInt64.self, at: recordOffset + 48) else {
                throw FormatError(source, "missing or truncated zip64 end-of-central-directory record at offset \(recordOffset)")
            }
            let disk64 = archive.readLE(UInt32.self, at: recordOffset + 16) ?? 0
            let directoryDisk64 = archive.readLE(UInt32.self, at: recordOffset + 20) ?? 0
            guard disk64 == 0, directoryDisk64 == 0 else {
                throw FormatError(source, "multi-disk (spanned) zip archives are not supported")
            }
            guard let entriesValue = Int(exactly: entries64), let sizeValue = Int(exactly: size64),
                  let offsetValue = Int(exactly: offset64) else {
                throw FormatError(source, "zip64 end-of-central-directory record has out-of-range values")
            }
            totalEntries = entriesValue
            directorySize = sizeValue
            directoryOffset = offsetValue
        } else {
            guard diskNumber == 0, directoryDisk == 0, entriesOnDisk == totalEntries16 else {
                throw FormatError(source, "multi-disk (spanned) zip archives are not supported")
            }
            if totalEntries16 == 0xFFFF || directorySize32 == 0xFFFF_FFFF || directoryOffset32 == 0xFFFF_FFFF {
                throw FormatError(source, "zip64 archive without a zip64 end-of-central-directory locator")
            }
        }

        let (directoryEnd, overflow) = directoryOffset.addingReportingOverflow(directorySize)
        guard !overflow, directoryEnd <= archive.count else {
            throw FormatError(source, "truncated: central directory needs \(byteCountText(directorySize)) at offset \(directoryOffset), archive has \(byteCountText(archive.count))")
        }
        // Each central-directory record is at least 46 bytes, which bounds the entry count we will believe.
        guard totalEntries <= directorySize / 46 else {
            throw FormatError(source, "central directory of \(byteCountText(directorySize)) cannot hold \(totalEntries) entries")
        }

        var entries: [ZipEntry] = []
        entries.reserveCapacity(totalEntries)
        var position = directoryOffset
        for index in 0..<totalEntries {
            guard position + 46 <= directoryEnd, let signature = archive.readLE(UInt32.self, at: position) else {
                throw FormatError(source, "truncated central directory at entry \(index) of \(totalEntries)")
            }
            guard signature == 0x0201_4b50 else {
                throw FormatError(source, "bad central directory record \(index) at offset \(position) (signature \(hex(signature)))")
            }
            let flags = archive.readLE(UInt16.self, at: position + 8) ?? 0
            let method = archive.readLE(UInt16.self, at: position + 10) ?? 0
            let crc = archive.readLE(UInt32.self, at: position + 16) ?? 0
            let compressed32 = archive.readLE(UInt32.self, at: position + 20) ?? 0
            let uncompressed32 = archive.readLE(UInt32.self, at: position + 24) ?? 0
            let nameLength = Int(archive.readLE(UInt16.self, at: position + 28) ?? 0)
            let extraLength = Int(archive.readLE(UInt16.self, at: position + 30) ?? 0)
            let entryCommentLength = Int(archive.readLE(UInt16.self, at: position + 32) ?? 0)
            let startDisk = archive.readLE(UInt16.self, at: position + 34) ?? 0
            let offset32 = archive.readLE(UInt32.self, at: position + 42) ?? 0
            let nameStart = position + 46
            let extraStart = nameStart + nameLength
            let recordEnd = extraStart + extraLength + entryCommentLength
            guard recordEnd <= directoryEnd else {
                throw FormatError(source, "truncated central directory record \(index) at offset \(position)")
            }
            let name = decodeName(UnsafeRawBufferPointer(rebasing: archive[nameStart..<extraStart]), utf8: flags & 0x0800 != 0)

            var uncompressedSize = UInt64(uncompressed32)
            var compressedSize = UInt64(compressed32)
            var localOffset = UInt64(offset32)
            var disk = UInt32(startDisk)
            let needsZip64 = uncompressed32 == 0xFFFF_FFFF || compressed32 == 0xFFFF_FFFF || offset32 == 0xFFFF_FFFF || startDisk == 0xFFFF
            if needsZip64 {
                // The zip64 extra field (tag 0x0001) holds, in this order, only the values whose
                // 32-bit (or 16-bit) fields above are saturated.
                let extra = UnsafeRawBufferPointer(rebasing: archive[extraStart..<(extraStart + extraLength)])
                guard let field = findExtraField(0x0001, in: extra) else {
                    throw FormatError(source, "entry \(name) has saturated sizes but no zip64 extra field")
                }
                var cursor = 0
                func next64(_ what: String) throws -> UInt64 {
                    guard let value = field.readLE(UInt64.self, at: cursor) else {
                        throw FormatError(source, "entry \(name): zip64 extra field too short for the \(what)")
                    }
                    cursor += 8
                    return value
                }
                if uncompressed32 == 0xFFFF_FFFF { uncompressedSize = try next64("uncompressed size") }
                if compressed32 == 0xFFFF_FFFF { compressedSize = try next64("compressed size") }
                if offset32 == 0xFFFF_FFFF { localOffset = try next64("local header offset") }
                if startDisk == 0xFFFF {
                    guard let value = field.readLE(UInt32.self, at: cursor) else {
                        throw FormatError(source, "entry \(name): zip64 extra field too short for the disk number")
                    }
                    disk = value
                }
            }
            guard disk == 0 else { throw FormatError(source, "multi-disk (spanned) zip archives are not supported") }
            guard let uncompressed = Int(exactly: uncompressedSize), let compressedValue = Int(exactly: compressedSize),
                  let offset = Int(exactly: localOffset), offset < archive.count, compressedValue <= archive.count else {
                throw FormatError(source, "entry \(name) has out-of-range sizes or offset (compressed \(compressedSize), uncompressed \(uncompressedSize), offset \(localOffset))")
            }
            entries.append(ZipEntry(name: name, method: method, compressedSize: compressedValue,
                                    uncompressedSize: uncompressed, crc32: crc, localHeaderOffset: offset, flags: flags))
            position = recordEnd
        }
        return (entries, comment)
    }

    /// Searches backwards for the end-of-central-directory record, which may be followed by a comment of up
    /// to 65,535 bytes. Prefers a candidate whose comment ends exactly at the end of the file.
    private static func findEndOfCentralDirectory(_ archive: UnsafeRawBufferPointer) -> Int? {
        guard archive.count >= 22 else { return nil }
        let last = archive.count - 22
        let first = max(0, last - 65_535)
        var fallback: Int?
        var offset = last
        while offset >= first {
            if archive[offset] == 0x50, archive.readLE(UInt32.self, at: offset) == 0x0605_4b50 {
                let commentLength = Int(archive.readLE(UInt16.self, at: offset + 20) ?? 0)
                if offset + 22 + commentLength == archive.count { return offset }
                if fallback == nil, offset + 22 + commentLength <= archive.count { fallback = offset }
            }
            offset -= 1
        }
        return fallback
    }

    /// The payload of the extra field with `tag`, if present.
    private static func findExtraField(_ tag: UInt16, in extra: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        var cursor = 0
        while let fieldTag = extra.readLE(UInt16.self, at: cursor), let size = extra.readLE(UInt16.self, at: cursor + 2) {
            let start = cursor + 4
            let end = start + Int(size)
            guard end <= extra.count else { return nil }
            if fieldTag == tag { return UnsafeRawBufferPointer(rebasing: extra[start..<end]) }
            cursor = end
        }
        return nil
    }

    /// Decodes an entry name: UTF-8 when flagged or when the bytes are valid UTF-8, otherwise IBM code page 437
    /// (the zip default).
    static func decodeName(_ raw: UnsafeRawBufferPointer, utf8: Bool) -> String {
        if let text = strictUTF8String(raw) { return text }
        if utf8 { return String(decoding: raw, as: UTF8.self) }
        var scalars = String.UnicodeScalarView()
        for byte in raw {
            if byte < 0x80 {
                scalars.append(Unicode.Scalar(byte))
            } else {
                let index = cp437High.unicodeScalars.index(cp437High.unicodeScalars.startIndex, offsetBy: Int(byte) - 0x80)
                scalars.append(cp437High.unicodeScalars[index])
            }
        }
        return String(scalars)
    }

    /// Code page 437, bytes 0x80 through 0xFF.
    private static let cp437High =
        "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀" +
        "αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u{00A0}"

    static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }

    static func methodName(_ method: UInt16) -> String {
        switch method {
        case 1: return "shrink"
        case 6: return "implode"
        case 9: return "deflate64"
        case 12: return "bzip2"
        case 14: return "LZMA"
        case 93: return "zstd"
        case 95: return "xz"
        case 99: return "AES-encrypted"
        default: return "unknown"
        }
    }
}

// MARK: - Sequential entry reading

/// Reads an entry's uncompressed bytes front to back in pieces, each into memory the caller chooses.
/// Keeps a running CRC so that a reader that consumes the whole entry can verify it.
final class EntryReader {
    let archive: ZipArchive
    let entry: ZipEntry
    let source: String
    private let data: Range<Int>
    private let inflater: Inflater?
    private(set) var position = 0
    private(set) var crc: UInt32 = 0

    init(archive: ZipArchive, entry: ZipEntry) throws {
        self.archive = archive
        self.entry = entry
        source = archive.entrySource(entry)
        try archive.checkPlausibleSize(entry)
        data = try archive.bytes.withUnsafeBytes { try archive.dataRange(of: entry, in: $0) }
        switch entry.method {
        case 0:
            guard entry.compressedSize == entry.uncompressedSize else {
                throw FormatError(source, "stored entry has compressed size \(entry.compressedSize) but uncompressed size \(entry.uncompressedSize)")
            }
            inflater = nil
        case 8:
            inflater = try Inflater(format: .raw, source: source)
        default:
            throw FormatError(source, "unsupported compression method \(entry.method) (\(ZipArchive.methodName(entry.method))); only stored (0) and deflate (8) are supported")
        }
    }

    /// Fills `destination` with the next `destination.count` bytes of the entry.
    func read(into destination: UnsafeMutableRawBufferPointer) throws {
        guard destination.count > 0 else { return }
        guard destination.count <= entry.uncompressedSize - position else {
            throw FormatError(source, "truncated: wanted \(byteCountText(destination.count)) at offset \(position), entry has \(byteCountText(entry.uncompressedSize))")
        }
        try archive.bytes.withUnsafeBytes { bytes in
            let compressed = UnsafeRawBufferPointer(rebasing: bytes[data])
            if let inflater {
                // The array's address is only valid inside this closure, so re-point the stream each time.
                inflater.rebaseInput(compressed)
                let window = 1 << 20
                var offset = 0
                while offset < destination.count {
                    let piece = UnsafeMutableRawBufferPointer(rebasing: destination[offset..<min(offset + window, destination.count)])
                    try inflater.inflateExactly(into: piece, expectedTotal: entry.uncompressedSize)
                    crc = Zlib.crc32(UnsafeRawBufferPointer(piece), initial: crc)
                    offset += piece.count
                }
            } else if let target = destination.baseAddress, let base = compressed.baseAddress {
                target.copyMemory(from: base + position, byteCount: destination.count)
                crc = Zlib.crc32(UnsafeRawBufferPointer(destination), initial: crc)
            }
        }
        position += destination.count
    }

    /// After the whole entry has been read, checks that the stream ends and the CRC-32 matches.
    func finish() throws {
        guard position == entry.uncompressedSize else {
            throw FormatError(source, "entry read incompletely (\(position) of \(entry.uncompressedSize) bytes)")
        }
        try inflater?.expectEnd(expectedTotal: entry.uncompressedSize)
        guard crc == entry.crc32 else {
            throw FormatError(source, "CRC-32 mismatch in entry \(entry.name): stored \(ZipArchive.hex(entry.crc32)), computed \(ZipArchive.hex(crc))")
        }
    }
}
