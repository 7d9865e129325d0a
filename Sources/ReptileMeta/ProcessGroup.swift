// Processes that share a meta-batch: each runs its own block of the tasks, then all exchange the
// tasks' results and apply the same meta-update, so every process holds the same parameters.

import ReptileKernels

/// A fixed group of processes, numbered 0 ..< `size`, that exchange floats collectively (an MPI
/// communicator; see the `ReptileMPI` module). Every member calls each method in the same order.
public protocol ProcessGroup: AnyObject {
    /// This process's number.
    var rank: Int { get }
    /// Processes in the group.
    var size: Int { get }
    /// Gathers every member's block of `buffer` into every member's `buffer`, in place: member r
    /// owns `counts[r]` floats at offset `counts[0..<r].sum()` and, on return, all members hold
    /// all blocks.
    func allGather(_ buffer: FloatView, counts: [Int])
    /// Gathers one block of bytes of the same length from every member, in rank order.
    func allGather(bytes: [UInt8]) -> [[UInt8]]
}

extension ProcessGroup {
    /// The contiguous block of `count` items (tasks of a meta-batch, evaluation tasks) that `rank`
    /// runs: the first `count % size` members take one item more.
    public func block(of count: Int, rank r: Int? = nil) -> Range<Int> {
        ProcessGroupBlocks.block(of: count, rank: r ?? rank, size: size)
    }

    /// Agrees on whether every member is ready to go on: each passes its own error (nil when
    /// fine); every member then throws the lowest-ranked member's error, prefixed by its rank, or
    /// returns when all are fine. Keeps one member's failed setup from leaving the others waiting.
    public func agree(_ error: Error?) throws {
        let message = error.map { String(describing: $0) } ?? ""
        let all = allGather(bytes: Self.fixed(message, length: 1024))
        for (r, bytes) in all.enumerated() {
            let text = String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
            if !text.isEmpty { throw ProcessGroupError(rank: r, message: text, isOwn: r == rank) }
        }
    }

    /// Checks that every member describes its setup the same way (binary, flags, data), each part
    /// named; throws naming the first member and part that differ from member 0's.
    public func requireSame(_ parts: [(name: String, value: String)]) throws {
        // Compare digests so that long descriptions fit the fixed-size exchange.
        let mine = parts.map { Self.fixed(String($0.value.hashValueStable, radix: 16), length: 32) }.flatMap { $0 }
        let all = allGather(bytes: mine)
        for (r, bytes) in all.enumerated() where r > 0 {
            for (p, part) in parts.enumerated() where bytes[p * 32 ..< (p + 1) * 32] != all[0][p * 32 ..< (p + 1) * 32] {
                throw ProcessGroupError(rank: r, message: "was started with a different \(part.name) from rank 0's; every rank must run the same binary with the same flags and data", isOwn: false)
            }
        }
    }

    private static func fixed(_ text: String, length: Int) -> [UInt8] {
        var bytes = Array(text.utf8.prefix(length - 1))
        bytes += [UInt8](repeating: 0, count: length - bytes.count)
        return bytes
    }
}

enum ProcessGroupBlocks {
    static func block(of count: Int, rank: Int, size: Int) -> Range<Int> {
        let base = count / size, extra = count % size
        let start = rank * base + min(rank, extra)
        return start ..< start + base + (rank < extra ? 1 : 0)
    }
}

/// A member of a process group failed, or differs from the others.
public struct ProcessGroupError: Error, CustomStringConvertible {
    /// The member concerned.
    public var rank: Int
    public var message: String
    /// Whether the member that throws is the one concerned.
    public var isOwn: Bool
    public var description: String { isOwn ? message : "rank \(rank): \(message)" }
}

extension String {
    /// FNV-1a over the UTF-8 bytes: the same in every process (unlike `hashValue`, which is seeded
    /// per process).
    var hashValueStable: UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in utf8 { h = (h ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return h
    }
}
