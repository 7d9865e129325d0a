// Work sharing inside one task: threads that have run out of tasks help the thread still
// training split its kernels' loops.

import CReptileKernels

/// Threads that split the loops of one thread's kernels into independent items.
///
/// A meta-batch of 5 tasks on 2 cores leaves one core idle while the fifth task trains. With a
/// team, the thread training that task (the *leader*, member 0) hands out the items of each
/// kernel loop — row tiles of a convolution, channel blocks of a batch norm — and a thread that
/// has finished its own tasks calls ``help(as:)`` to take items too, until ``dismiss()``.
///
/// Results never depend on who runs an item: each item writes its own part of the output, and
/// the kernels choose their items so that every float is computed the same way whatever the
/// team size (or with no team at all).
///
/// The shared words are sequentially consistent atomics. Helpers spin (with a pause hint) while
/// waiting: the team exists only while the leader's task runs, and the helpers have nothing else
/// to do.
public final class LoopTeam: @unchecked Sendable {
    /// Each member's kernel scratch; the items a member runs use its own.
    public let scratches: [KernelScratch]
    /// Shared words, each on its own cache line (index × 16 longs).
    private let words: UnsafeMutablePointer<CLong>
    private static let published = 0, inside = 1, next = 2, finished = 3, dismissed = 4, attached = 5
    /// The job being shared: a pointer to the leader's closure, and its item count. Written by
    /// the leader only while no helper is inside (see ``forEach(_:_:)``).
    private var job: UnsafeRawPointer?
    private var itemCount = 0
    private var generation = 0
    private var sharing = false

    /// A team whose member `i` runs its items with `scratches[i]` (member 0 leads).
    public init(scratches: [KernelScratch]) {
        precondition(!scratches.isEmpty, "a team needs at least its leader")
        self.scratches = scratches
        words = .allocate(capacity: 6 * 16)
        words.initialize(repeating: 0, count: 6 * 16)
        // Closed until the leader opens it: a helper arriving at a team whose leader has no
        // task must not wait.
        reptile_atomic_store(word(Self.dismissed), 1)
    }

    deinit { words.deallocate() }

    /// Number of members.
    public var size: Int { scratches.count }

    /// Whether some helper is in ``help(as:)`` now. Kernels split their loops only then: split
    /// loops cost more (smaller blocks, data moving between cores' caches) and pay off only
    /// when another core takes part.
    public var hasHelpers: Bool { reptile_atomic_load(word(Self.attached)) > 0 }

    @inline(__always) private func word(_ index: Int) -> UnsafeMutablePointer<CLong> { words + index * 16 }

    /// Opens the team for a new leader's task (helpers may then join with ``help(as:)``). A new
    /// team is closed.
    public func open() {
        reptile_atomic_store(word(Self.dismissed), 0)
    }

    /// Ends the leader's task: helpers return from ``help(as:)`` once their current item is done.
    public func dismiss() {
        reptile_atomic_store(word(Self.dismissed), 1)
    }

    /// Runs `body(item, scratch)` for every item in `0..<count`, shared with the helpers that are
    /// present; returns when all items are done. Called by the leader only, not from inside an item.
    public func forEach(_ count: Int, _ body: (Int, KernelScratch) -> Void) {
        precondition(!sharing, "LoopTeam.forEach cannot be nested")
        if count <= 1 || size == 1 {
            for item in 0..<count { body(item, scratches[0]) }
            return
        }
        sharing = true
        defer { sharing = false }
        withoutActuallyEscaping(body) { escapable in
            var record = escapable
            withUnsafePointer(to: &record) { pointer in
                // Mark the job as changing, then wait until no helper can still be reading the
                // previous one (a helper announces itself in `inside` before it reads `job`).
                reptile_atomic_store(word(Self.published), -1)
                while reptile_atomic_load(word(Self.inside)) != 0 { reptile_spin_pause() }
                job = UnsafeRawPointer(pointer)
                itemCount = count
                reptile_atomic_store(word(Self.next), 0)
                reptile_atomic_store(word(Self.finished), 0)
                generation += 1
                reptile_atomic_store(word(Self.published), generation)
                runItems(member: 0)
                while reptile_atomic_load(word(Self.finished)) < count { reptile_spin_pause() }
            }
        }
    }

    /// Takes items of the leader's loops as member `member` until ``dismiss()``; returns at once
    /// if the team is not open.
    public func help(as member: Int) {
        precondition(member > 0 && member < size, "helpers are members 1..<\(size)")
        var seen = 0
        _ = reptile_atomic_fetch_add(word(Self.attached), 1)
        defer { _ = reptile_atomic_fetch_add(word(Self.attached), -1) }
        while reptile_atomic_load(word(Self.dismissed)) == 0 {
            let current = reptile_atomic_load(word(Self.published))
            if current <= 0 || current == seen { reptile_spin_pause(); continue }
            _ = reptile_atomic_fetch_add(word(Self.inside), 1)
            if reptile_atomic_load(word(Self.published)) == current {
                runItems(member: member)
                seen = current
            }
            _ = reptile_atomic_fetch_add(word(Self.inside), -1)
        }
    }

    /// Claims and runs items of the current job until none is left.
    private func runItems(member: Int) {
        let body = job!.assumingMemoryBound(to: ((Int, KernelScratch) -> Void).self)
        let scratch = scratches[member]
        while true {
            let item = reptile_atomic_fetch_add(word(Self.next), 1)
            if item >= itemCount { return }
            Self.call(body, item, scratch)
            _ = reptile_atomic_fetch_add(word(Self.finished), 1)
        }
    }

    /// Calls the job's closure, with whatever retain and release that takes finished before the
    /// item is counted (the leader's `withoutActuallyEscaping` checks the closure did not escape).
    @inline(never)
    private static func call(_ body: UnsafePointer<(Int, KernelScratch) -> Void>, _ item: Int, _ scratch: KernelScratch) {
        body.pointee(item, scratch)
    }
}

/// Runs `body(item, scratch)` for every item in `0..<count`: shared with `team` when there is one,
/// else in order on this thread with `scratch`.
@inline(__always)
func shareLoop(_ team: LoopTeam?, count: Int, scratch: KernelScratch, _ body: (Int, KernelScratch) -> Void) {
    if let team {
        team.forEach(count, body)
    } else {
        for item in 0..<count { body(item, scratch) }
    }
}

/// The same without per-member scratch.
@inline(__always)
func shareLoop(_ team: LoopTeam?, count: Int, _ body: (Int) -> Void) {
    if let team {
        team.forEach(count) { item, _ in body(item) }
    } else {
        for item in 0..<count { body(item) }
    }
}

/// Splits `channels` (a multiple of 16) into blocks of up to 64 — smaller when a team shares them,
/// so that each member gets some, but not below 32: a pass over 16 channels of 32 or more reads
/// every other 64-byte line, and the line-pair prefetcher fetches the rest for nothing — and calls
/// `body(firstChannel, vectors)` for each. Per-channel results do not depend on the grouping (the
/// channels are independent lanes).
@inline(__always)
func forEachChannelBlock(channels: Int, team: LoopTeam?, _ body: (Int, Int) -> Void) {
    let vectorCount = channels / 16
    guard let team, vectorCount > 2 else {
        forEachChannelBlock(channels: channels, body)
        return
    }
    let perBlock = max(2, min(4, vectorCount / team.size))
    let blocks = (vectorCount + perBlock - 1) / perBlock
    team.forEach(blocks) { block, _ in
        let v0 = block * perBlock
        body(16 * v0, min(perBlock, vectorCount - v0))
    }
}

/// Splits `0..<count` into `parts` nearly equal ranges and returns range `part`.
@inline(__always)
func partRange(_ part: Int, of parts: Int, count: Int) -> Range<Int> {
    (part * count / parts)..<((part + 1) * count / parts)
}

extension KernelScratch {
    /// The team to split a kernel's loops with: ``team`` while it has helpers, else nil.
    public var sharingTeam: LoopTeam? {
        guard let team, team.hasHelpers else { return nil }
        return team
    }
}

/// Items to cut a loop of `units` units into: one without a team, else a few per member so that
/// a helper joining late still gets a share.
@inline(__always)
func itemCount(units: Int, team: LoopTeam?) -> Int {
    guard let team else { return 1 }
    return max(1, min(units, 4 * team.size))
}

/// Hands out the tasks of a meta-batch to worker threads in order, and counts those finished, so
/// that a worker with no task left knows how long to help the others (``LoopTeam/help(as:)``).
public final class TaskDispenser: @unchecked Sendable {
    /// The next task and the number finished, a cache line apart.
    private let words: UnsafeMutablePointer<CLong>
    /// Tasks per round.
    public private(set) var count = 0

    public init() {
        words = .allocate(capacity: 32)
        words.initialize(repeating: 0, count: 32)
    }

    deinit { words.deallocate() }

    /// Starts a round of `count` tasks. Call before the workers start.
    public func reset(count: Int) {
        self.count = count
        reptile_atomic_store(words, 0)
        reptile_atomic_store(words + 16, 0)
    }

    /// The next task, or nil when all have been taken.
    public func take() -> Int? {
        let task = reptile_atomic_fetch_add(words, 1)
        return task < count ? task : nil
    }

    /// Records that a task is done.
    public func finish() { _ = reptile_atomic_fetch_add(words + 16, 1) }

    /// Whether every task of the round is done.
    public var allFinished: Bool { reptile_atomic_load(words + 16) >= count }

    /// A pause hint for threads waiting in a loop.
    public static func pause() { reptile_spin_pause() }
}
