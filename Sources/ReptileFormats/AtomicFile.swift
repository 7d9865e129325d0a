// Crash-safe file replacement: write a temporary file next to the destination, flush it, rename it over the
// destination, then flush the directory, so a crash leaves the old file or the new one, never a torn mix.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes files atomically: readers (and a machine that loses power) see either the previous contents or the
/// complete new contents, never a partly written file.
///
/// The bytes go to a uniquely named temporary file in the destination's directory, which is flushed to disk
/// (`fsync`, or `F_FULLFSYNC` on Apple platforms) and then renamed over the destination with `rename(2)`;
/// finally the directory itself is flushed so that the rename is durable. On failure the temporary file
/// is removed and the destination is left untouched.
///
/// ```swift
/// try AtomicFile.write(SafeTensors.encode(tensors), to: "runs/model.safetensors")
/// try AtomicFile.writeString("{\"step\": 100}\n", to: "runs/progress.json")
/// ```
public enum AtomicFile {
    /// Atomically replaces (or creates) the file at `path` with `bytes`.
    ///
    /// - Parameters:
    ///   - bytes: The new contents.
    ///   - path: The destination; its directory must exist.
    /// - Throws: `FormatError` naming `path` when the directory is missing or not writable, or when writing,
    ///   flushing or renaming fails.
    public static func write(_ bytes: [UInt8], to path: String) throws {
        try bytes.withUnsafeBytes { try write($0, to: path) }
    }

    /// Atomically replaces (or creates) the file at `path` with the UTF-8 encoding of `string`.
    ///
    /// - Parameters:
    ///   - string: The new contents.
    ///   - path: The destination; its directory must exist.
    /// - Throws: `FormatError` as ``write(_:to:)`` does.
    public static func writeString(_ string: String, to path: String) throws {
        try write(Array(string.utf8), to: path)
    }

    /// Atomically replaces (or creates) the file at `path` with the given bytes.
    ///
    /// - Parameters:
    ///   - bytes: The new contents.
    ///   - path: The destination; its directory must exist.
    /// - Throws: `FormatError` as ``write(_:to:)`` does.
    package static func write(_ bytes: UnsafeRawBufferPointer, to path: String) throws {
        guard !path.isEmpty else { throw FormatError("(empty path)", "cannot write: the path is empty") }
        guard !path.hasSuffix("/") else { throw FormatError(path, "cannot write: the path names a directory") }
        let (directory, name) = split(path)

        var directoryInfo = stat()
        guard stat(directory, &directoryInfo) == 0 else {
            let code = errno
            if code == ENOENT { throw FormatError(path, "cannot write: directory \(directory) does not exist") }
            throw FormatError(path, "cannot write: directory \(directory): \(systemErrorText(code))")
        }
        guard (directoryInfo.st_mode & S_IFMT) == S_IFDIR else {
            throw FormatError(path, "cannot write: \(directory) is not a directory")
        }
        var destinationInfo = stat()
        if stat(path, &destinationInfo) == 0, (destinationInfo.st_mode & S_IFMT) == S_IFDIR {
            throw FormatError(path, "cannot write: the path is a directory")
        }

        // A unique name in the same directory (rename is only atomic within one file system). O_EXCL guards
        // against collisions with other writers; retry a few names in the unlikely case of one.
        var temporaryPath = ""
        var descriptor: Int32 = -1
        for _ in 0..<16 {
            let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 36)
            let prefix = path.contains("/") ? (directory == "/" ? "/" : directory + "/") : ""
            temporaryPath = prefix + ".\(name).tmp-\(getpid())-\(suffix)"
            descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
            if descriptor >= 0 || errno != EEXIST { break }
        }
        guard descriptor >= 0 else {
            throw FormatError(path, "cannot create a temporary file in \(directory): \(systemErrorText(errno))")
        }

        var succeeded = false
        defer {
            if descriptor >= 0 { _ = close(descriptor) }
            if !succeeded { _ = unlink(temporaryPath) }
        }

        var written = 0
        while written < bytes.count {
            guard let base = bytes.baseAddress else { break }
            let result = Glue.write(descriptor, base + written, min(bytes.count - written, 1 << 30))
            if result < 0 {
                if errno == EINTR { continue }
                throw FormatError(path, "cannot write: \(systemErrorText(errno))")
            }
            written += result
        }
        guard flushToDisk(descriptor) else {
            throw FormatError(path, "cannot flush to disk: \(systemErrorText(errno))")
        }
        let closeResult = close(descriptor)
        descriptor = -1
        guard closeResult == 0 else {
            throw FormatError(path, "cannot write (close failed): \(systemErrorText(errno))")
        }
        guard rename(temporaryPath, path) == 0 else {
            throw FormatError(path, "cannot replace the file: \(systemErrorText(errno))")
        }
        succeeded = true

        // Make the rename itself durable. Some file systems cannot fsync a directory (EINVAL, ENOTSUP);
        // the file is in place either way, so only real I/O errors are reported.
        let directoryDescriptor = open(directory, O_RDONLY | O_CLOEXEC)
        if directoryDescriptor >= 0 {
            defer { _ = close(directoryDescriptor) }
            if fsync(directoryDescriptor) != 0 {
                let code = errno
                if code != EINVAL && code != ENOTSUP && code != EBADF && code != EROFS {
                    throw FormatError(path, "cannot flush directory \(directory): \(systemErrorText(code))")
                }
            }
        }
    }

    /// Removes the temporary files that writes into `directory` left behind when their process was
    /// killed mid-write (`.NAME.tmp-PID-SUFFIX`); returns their names. Call it only while no other
    /// process writes there (a lock held on the folder), or it could remove a live write's file.
    @discardableResult
    public static func removeTemporaries(in directory: String) -> [String] {
        guard let stream = opendir(directory) else { return [] }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            if isTemporaryName(name) { names.append(name) }
        }
        closedir(stream)
        let prefix = directory.hasSuffix("/") ? directory : directory + "/"
        return names.filter { unlink(prefix + $0) == 0 }.sorted()
    }

    /// Whether `name` has the form of this type's temporary files: `.NAME.tmp-PID-SUFFIX`.
    static func isTemporaryName(_ name: String) -> Bool {
        let parts = name.split(separator: "-", omittingEmptySubsequences: false)
        guard name.hasPrefix("."), parts.count >= 3 else { return false }
        let head = parts.dropLast(2).joined(separator: "-"), pid = parts[parts.count - 2], suffix = parts[parts.count - 1]
        func all(_ text: Substring, _ allowed: (Unicode.Scalar) -> Bool) -> Bool { !text.isEmpty && text.unicodeScalars.allSatisfy(allowed) }
        return head.count >= ".x.tmp".count && head.hasSuffix(".tmp")
            && all(pid) { ("0"..."9").contains($0) } && all(suffix) { ("0"..."9").contains($0) || ("a"..."z").contains($0) }
    }

    /// Splits a path into its directory (`.` when none) and last component.
    static func split(_ path: String) -> (directory: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let directory = String(path[..<slash])
        let name = String(path[path.index(after: slash)...])
        return (directory.isEmpty ? "/" : directory, name)
    }

    private static func flushToDisk(_ descriptor: Int32) -> Bool {
        #if canImport(Darwin)
        // On Apple platforms fsync does not flush the drive's cache; F_FULLFSYNC does (fall back if unsupported).
        if fcntl(descriptor, F_FULLFSYNC) == 0 { return true }
        #endif
        while fsync(descriptor) != 0 {
            if errno != EINTR { return false }
        }
        return true
    }
}

/// The C library's functions, where a Swift name (such as `write`) would shadow them.
private enum Glue {
    static func write(_ descriptor: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
        #if canImport(Glibc)
        return Glibc.write(descriptor, buffer, count)
        #elseif canImport(Musl)
        return Musl.write(descriptor, buffer, count)
        #else
        return Darwin.write(descriptor, buffer, count)
        #endif
    }
}
