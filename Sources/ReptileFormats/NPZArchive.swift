// NumPy .npz archives (zip files of .npy entries), with header-only reads and inflation straight into caller memory.

/// A NumPy `.npz` archive, as written by `numpy.savez` and `numpy.savez_compressed`.
///
/// Arrays can be read whole (``array(named:)``), or, for very large arrays, in two steps that avoid any
/// intermediate copy: ask ``header(named:)`` for the dtype and shape (this inflates only the first few hundred
/// bytes of the entry), allocate a buffer, and let ``readArray(named:into:)`` inflate the data directly into it.
///
/// ```swift
/// let npz = try NPZArchive(path: "images_background.npz")
/// let header = try npz.header(named: "images")          // bool, shape (964, 20, 105, 105)
/// let pixels = UnsafeMutableRawBufferPointer.allocate(byteCount: header.byteCount, alignment: 64)
/// try npz.readArray(named: "images", into: pixels)
/// let labels = try npz.array(named: "labels").int64s()
/// ```
public final class NPZArchive: @unchecked Sendable {
    /// The underlying zip archive.
    public let archive: ZipArchive

    /// The archive path (or label), used in error messages.
    public var source: String { archive.source }

    /// Opens the `.npz` file at `path`.
    ///
    /// - Parameter path: The archive's file path.
    /// - Throws: `FormatError` naming `path` when the file is missing or is not a zip archive.
    public convenience init(path: String) throws {
        self.init(archive: try ZipArchive(path: path))
    }

    /// Opens an `.npz` archive held in memory.
    ///
    /// - Parameters:
    ///   - bytes: The whole archive.
    ///   - source: A name for the archive, used in error messages.
    /// - Throws: `FormatError` when `bytes` is not a zip archive.
    public convenience init(bytes: [UInt8], source: String) throws {
        self.init(archive: try ZipArchive(bytes: bytes, source: source))
    }

    /// Wraps an already opened zip archive.
    ///
    /// - Parameter archive: A zip archive whose entries are `.npy` files.
    public init(archive: ZipArchive) {
        self.archive = archive
    }

    /// The names of the arrays in the archive, in archive order, without the `.npy` extension
    /// (the keyword names given to `numpy.savez`).
    public var arrayNames: [String] {
        archive.entries.filter { !$0.isDirectory }.map { $0.name.hasSuffix(".npy") ? String($0.name.dropLast(4)) : $0.name }
    }

    /// Reads the header of an array: its dtype, shape and size, inflating only the start of its entry.
    ///
    /// - Parameter name: The array's name, with or without `.npy`.
    /// - Returns: The array's header.
    /// - Throws: `FormatError` when there is no such array (the message lists the arrays present) or its
    ///   header is malformed.
    public func header(named name: String) throws -> NPYHeader {
        let entry = try entry(forArray: name)
        let reader = try EntryReader(archive: archive, entry: entry)
        return try readHeader(from: reader).header
    }

    /// Reads a whole array.
    ///
    /// The data is inflated once, directly into the returned array's storage.
    ///
    /// - Parameter name: The array's name, with or without `.npy`.
    /// - Returns: The array, little-endian.
    /// - Throws: `FormatError` when there is no such array, or its entry is corrupt or not a valid `.npy` file.
    public func array(named name: String) throws -> NPYArray {
        let entry = try entry(forArray: name)
        let reader = try EntryReader(archive: archive, entry: entry)
        let (header, _) = try readHeader(from: reader)
        var failure: Error?
        let data = [UInt8](unsafeUninitializedCapacity: header.byteCount) { buffer, initialized in
            do {
                try readData(from: reader, header: header, into: UnsafeMutableRawBufferPointer(buffer))
                initialized = header.byteCount
            } catch {
                failure = error
                initialized = 0
            }
        }
        if let failure { throw failure }
        return NPYArray(unchecked: header.dtype, shape: header.shape, bytes: data)
    }

    /// Inflates an array's data directly into caller-provided memory, with no intermediate copy.
    /// The entry's CRC-32 is verified.
    ///
    /// - Parameters:
    ///   - name: The array's name, with or without `.npy`.
    ///   - destination: Exactly ``NPYHeader/byteCount`` bytes, as reported by ``header(named:)``.
    /// - Returns: The array's header.
    /// - Throws: `FormatError` when there is no such array, `destination` has the wrong size, or the entry is
    ///   corrupt.
    @discardableResult
    package func readArray(named name: String, into destination: UnsafeMutableRawBufferPointer) throws -> NPYHeader {
        let entry = try entry(forArray: name)
        let reader = try EntryReader(archive: archive, entry: entry)
        let (header, _) = try readHeader(from: reader)
        guard destination.count == header.byteCount else {
            throw FormatError(reader.source, "destination holds \(byteCountText(destination.count)), array \(NPY.shapeText(header.shape)) \(header.dtype.rawValue) needs \(byteCountText(header.byteCount))")
        }
        try readData(from: reader, header: header, into: destination)
        return header
    }

    /// Inflates an array's data in pieces of `chunkBytes` (the last one may be shorter) and hands
    /// each to `body` in order, so that an array larger than memory allows can be processed as it
    /// is read. The entry's CRC-32 is verified at the end; `body` should not keep the buffer.
    ///
    /// - Returns: The array's header.
    /// - Throws: `FormatError` as ``readArray(named:into:)`` does, or what `body` throws.
    @discardableResult
    package func streamArray(named name: String, chunkBytes: Int,
                            _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> NPYHeader {
        precondition(chunkBytes > 0, "chunkBytes must be positive")
        let entry = try entry(forArray: name)
        let reader = try EntryReader(archive: archive, entry: entry)
        let (header, _) = try readHeader(from: reader)
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: min(chunkBytes, max(header.byteCount, 1)), alignment: 64)
        defer { chunk.deallocate() }
        var remaining = header.byteCount
        while remaining > 0 {
            let piece = UnsafeMutableRawBufferPointer(rebasing: chunk[0..<min(chunk.count, remaining)])
            try reader.read(into: piece)
            try body(UnsafeRawBufferPointer(piece))
            remaining -= piece.count
        }
        try reader.finish()
        return header
    }

    // MARK: Internals

    private func entry(forArray name: String) throws -> ZipEntry {
        if let entry = archive.entry(named: name + ".npy") ?? archive.entry(named: name) { return entry }
        let names = arrayNames
        let list = names.isEmpty ? "the archive is empty" : "arrays: " + names.joined(separator: ", ")
        throw FormatError(source, "no array named '\(name)' (\(list))")
    }

    /// Reads and parses the `.npy` preamble and header from the start of the entry, then checks that the entry
    /// holds exactly the data the header promises.
    private func readHeader(from reader: EntryReader) throws -> (header: NPYHeader, dataOffset: Int) {
        let size = reader.entry.uncompressedSize
        var prefix = [UInt8](repeating: 0, count: min(12, size))
        try prefix.withUnsafeMutableBytes { try reader.read(into: $0) }
        guard let headerSize = try prefix.withUnsafeBytes({ try NPY.headerSize($0, source: reader.source) }) else {
            throw FormatError(reader.source, "truncated: \(byteCountText(size)) is too short for an .npy preamble")
        }
        guard headerSize <= size else {
            throw FormatError(reader.source, "truncated: header needs \(byteCountText(headerSize)), entry has \(byteCountText(size))")
        }
        if headerSize > prefix.count {
            let already = prefix.count
            prefix += [UInt8](repeating: 0, count: headerSize - already)
            try prefix.withUnsafeMutableBytes { try reader.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[already...])) }
        }
        let (header, dataOffset) = try prefix.withUnsafeBytes { try NPY.parseHeader($0, source: reader.source) }
        let available = size - dataOffset
        guard available >= header.byteCount else {
            throw FormatError(reader.source, "truncated: expected \(header.byteCount) bytes of array data for shape \(NPY.shapeText(header.shape)) \(header.dtype.rawValue), entry has \(available)")
        }
        guard available == header.byteCount else {
            throw FormatError(reader.source, "\(byteCountText(available - header.byteCount)) of unexpected data after the array")
        }
        return (header, dataOffset)
    }

    private func readData(from reader: EntryReader, header: NPYHeader, into destination: UnsafeMutableRawBufferPointer) throws {
        try reader.read(into: destination)
        try reader.finish()
    }
}
