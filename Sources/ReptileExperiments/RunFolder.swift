// A training run's folder: created with a one-line error when it cannot be, held by one process
// at a time, and cleared of the temporaries that a killed write left behind.

import Foundation
import ReptileCheckpoint
import ReptileFormats
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A checkpoint folder held for writing by this process.
///
/// The hold is an advisory `flock` on `DIR/.lock`, which the kernel releases when the process
/// ends in any way (`kill -9` included), so a crashed run never leaves the folder locked.
public final class RunFolder {
    /// The lock file inside the folder.
    public static let lockFile = ".lock"
    /// The files a run writes: a fresh run refuses a folder that holds any of them.
    public static let runFiles = [Checkpoint.tensorsFile, Checkpoint.runFile, Metrics.file, FewShotResult.file]

    public let path: String
    private let descriptor: Int32

    /// Takes `path` for a run (creating it first when `create`), and removes stale temporaries.
    ///
    /// - Throws: ``ExperimentError`` when the path is a file, cannot be created or written, or
    ///   another process holds it.
    public init(path: String, create: Bool) throws {
        if create {
            try Self.makeDirectories(path)
        } else {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ExperimentError("\(path): no such checkpoint folder")
            }
        }
        let lockPath = (path as NSString).appendingPathComponent(Self.lockFile)
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw ExperimentError("\(path): cannot write in this folder (\(String(cString: strerror(errno))))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            var bytes = [UInt8](repeating: 0, count: 32)
            let count = pread(fd, &bytes, bytes.count, 0)
            let holder = Int(String(decoding: bytes.prefix(max(count, 0)), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
            close(fd)
            throw ExperimentError("\(path) is in use by another reptile run\(holder.map { " (process \($0))" } ?? ""): wait for it to end or stop it, or choose another --checkpoint folder")
        }
        let pid = Array("\(getpid())\n".utf8)
        if ftruncate(fd, 0) == 0 { _ = pwrite(fd, pid, pid.count, 0) }
        descriptor = fd
        self.path = path
        AtomicFile.removeTemporaries(in: path)
    }

    deinit { close(descriptor) }

    /// The run files (``runFiles``) present in the folder.
    public var existingRunFiles: [String] {
        Self.runFiles.filter { FileManager.default.fileExists(atPath: (path as NSString).appendingPathComponent($0)) }
    }

    /// `mkdir -p` with an error that names the component that failed and why.
    static func makeDirectories(_ path: String) throws {
        guard !path.isEmpty else { throw ExperimentError("the checkpoint folder's path is empty") }
        var partial = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            partial += (partial.isEmpty || partial.hasSuffix("/") ? "" : "/") + component
            if mkdir(partial, 0o777) == 0 { continue }
            let code = errno
            var info = stat()
            if code == EEXIST, stat(partial, &info) == 0 {
                guard (info.st_mode & S_IFMT) == S_IFDIR else {
                    throw ExperimentError("\(path): cannot be a checkpoint folder: \(partial) is a file")
                }
                continue
            }
            throw ExperimentError("\(path): cannot create the checkpoint folder: \(partial): \(String(cString: strerror(code)))")
        }
    }
}
