// Data parallelism inside one task: a thread that has run out of tasks takes half of the batch
// of a task still training, step after step.

import CReptileKernels

/// Two threads that run the training steps of one task together, each on its own part (shard)
/// of every batch, meeting at ``sync(_:)`` wherever a layer needs a sum over the whole batch.
///
/// A meta-batch of 5 tasks on 2 cores leaves one core idle while the fifth task trains. The
/// thread training a task (the *leader*, member 0) opens its team; a thread that has finished its
/// own tasks calls ``help(scratch:)``, which claims the team (one helper per team) and runs
/// member 1's part of every step the leader hands out with ``run(scratch:_:)``, until the leader's
/// task ends (``close()``). A step without a helper runs both parts on the leader's thread, in
/// the same order of sums, so results never depend on whether, or when, a helper came.
///
/// The shared words are sequentially consistent atomics. Waiting threads spin briefly, then sleep
/// on the team's ``WaitEvent`` until the other member moves on: a partner that lost its core to
/// another process then costs no core of ours while it is away.
public final class ShardTeam: @unchecked Sendable {
    /// Shared words, each on its own cache line (index × 16 longs).
    private let words: UnsafeMutablePointer<CLong>
    /// `state`: the leader's task number (its epoch) × 4 + open (1) or claimed (2), or closed (0).
    /// `published`: epoch × 2³² + the number of the step to run. `done`: the last step the helper
    /// finished. `arrivals + m`: how many times member m reached ``sync(_:)`` in this step.
    private static let state = 0, published = 1, done = 2, arrivals = 3
    private var epoch = 0
    private var jobNumber = 0
    /// The step being shared: a pointer to the leader's closure. Written by the leader only while
    /// the helper waits for the next step.
    private var job: UnsafeRawPointer?
    /// Signalled whenever a shared word changes; shared with the trainer's other teams and its dispenser.
    public let event: WaitEvent

    public init(event: WaitEvent = WaitEvent()) {
        words = .allocate(capacity: 5 * 16)
        words.initialize(repeating: 0, count: 5 * 16)
        self.event = event
    }

    deinit { words.deallocate() }

    @inline(__always) private func word(_ index: Int) -> UnsafeMutablePointer<CLong> { words + index * 16 }

    /// Opens the team for a new task of the leader (a helper may then join). A new team is closed.
    public func open() {
        epoch += 1
        reptile_atomic_store(word(Self.state), epoch * 4 + 1)
        event.signal()
    }

    /// Ends the leader's task: the helper, if any, returns from ``help(scratch:)``.
    public func close() {
        reptile_atomic_store(word(Self.state), 0)
        event.signal()
    }

    /// Whether a thread could join the team now (it is open and has no helper).
    public var isJoinable: Bool { reptile_atomic_load(word(Self.state)) % 4 == 1 }

    /// Whether a helper has joined the leader's current task: its steps may then be shared.
    public var hasHelper: Bool { reptile_atomic_load(word(Self.state)) == epoch * 4 + 2 }

    /// Runs one step as two members: `body(member, scratch)` with member 0 on this thread (with
    /// `scratch`) and member 1 on the helper's (with its own scratch); returns when both are
    /// done. Call only while ``hasHelper`` (the helper stays until ``close()``). Inside `body`,
    /// each member calls ``sync(_:)`` the same number of times.
    public func run(scratch: KernelScratch, _ body: (Int, KernelScratch) -> Void) {
        precondition(hasHelper, "ShardTeam.run without a helper")
        withoutActuallyEscaping(body) { escapable in
            var record = escapable
            withUnsafePointer(to: &record) { pointer in
                // The helper is waiting for the next step: nobody reads these words now.
                reptile_atomic_store(word(Self.arrivals), 0)
                reptile_atomic_store(word(Self.arrivals + 1), 0)
                job = UnsafeRawPointer(pointer)
                jobNumber += 1
                let number = epoch << 32 + jobNumber
                reptile_atomic_store(word(Self.published), number)
                event.signal()
                body(0, scratch)
                let done = word(Self.done)
                event.wait { reptile_atomic_load(done) == number }
            }
        }
    }

    /// Waits until the other member has reached the same number of calls: what each wrote
    /// before is then visible to the other.
    public func sync(_ member: Int) {
        let mine = reptile_atomic_load(word(Self.arrivals + member)) + 1
        reptile_atomic_store(word(Self.arrivals + member), mine)
        event.signal()
        let other = word(Self.arrivals + 1 - member)
        event.wait { reptile_atomic_load(other) >= mine }
    }

    /// One member's side of the team, for code that meets the other member between its phases.
    /// A struct, so that passing it along a step allocates nothing (a closure would).
    public struct Member {
        public let team: ShardTeam
        public let index: Int
        public init(team: ShardTeam, index: Int) { (self.team, self.index) = (team, index) }
        /// ``ShardTeam/sync(_:)`` as this member.
        @inline(__always) public func sync() { team.sync(index) }
    }

    /// Joins the team if it is open and has no helper, then runs member 1's part of each step
    /// until the leader's task ends. Returns whether it joined.
    @discardableResult
    public func help(scratch: KernelScratch) -> Bool {
        let open = reptile_atomic_load(word(Self.state))
        guard open % 4 == 1, reptile_atomic_compare_exchange(word(Self.state), open, open + 1) != 0 else { return false }
        let claimed = open + 1
        let taskEpoch = open / 4
        var seen = 0  // no step of this task yet (step numbers start at 1)
        let (state, published) = (word(Self.state), word(Self.published))
        while true {
            var number = 0
            // Until the leader publishes a step of this task, or closes the team (after its last step).
            event.wait {
                if reptile_atomic_load(state) != claimed { return true }
                number = reptile_atomic_load(published)
                return number != seen && number >> 32 == taskEpoch
            }
            guard reptile_atomic_load(state) == claimed else { return true }
            Self.call(job!.assumingMemoryBound(to: ((Int, KernelScratch) -> Void).self), scratch)
            seen = number
            reptile_atomic_store(word(Self.done), number)
            event.signal()
        }
    }

    /// Calls the step's closure as member 1, with whatever retain and release that takes finished
    /// before the step is marked done (the leader's `withoutActuallyEscaping` checks the closure
    /// did not escape).
    @inline(never)
    private static func call(_ body: UnsafePointer<(Int, KernelScratch) -> Void>, _ scratch: KernelScratch) {
        body.pointee(1, scratch)
    }
}

/// Hands out the tasks of a meta-batch to worker threads in order, and counts those finished, so
/// that a worker with no task left knows how long to help the others (``ShardTeam/help(scratch:)``).
public final class TaskDispenser: @unchecked Sendable {
    /// The next task and the number finished, a cache line apart.
    private let words: UnsafeMutablePointer<CLong>
    /// Tasks per round.
    public private(set) var count = 0

    deinit { words.deallocate() }

    /// The number of the first task of the round.
    public private(set) var first = 0

    /// Starts a round of `count` tasks numbered from `first`. Call before the workers start.
    public func reset(count: Int, first: Int = 0) {
        self.count = count
        self.first = first
        reptile_atomic_store(words, 0)
        reptile_atomic_store(words + 16, 0)
    }

    /// The next task, or nil when all have been taken.
    public func take() -> Int? {
        let task = reptile_atomic_fetch_add(words, 1)
        return task < count ? first + task : nil
    }

    /// Records that a task is done.
    public func finish() {
        _ = reptile_atomic_fetch_add(words + 16, 1)
        event.signal()
    }

    /// Whether every task of the round is done.
    public var allFinished: Bool { reptile_atomic_load(words + 16) >= count }

    /// Signalled when a task is finished (its waiters can then stop helping).
    public let event: WaitEvent

    /// - Parameter event: shared with the teams of the threads that take the tasks.
    public init(event: WaitEvent = WaitEvent()) {
        words = .allocate(capacity: 32)
        words.initialize(repeating: 0, count: 32)
        self.event = event
    }
}

/// A condition that threads wait for, polled briefly and then slept on in the kernel (a futex on
/// Linux) until whoever changes it calls ``signal()``: waits of a few microseconds stay fast, and a
/// thread whose partner lost its core to another process gives its own core away meanwhile.
public final class WaitEvent: @unchecked Sendable {
    private let event: UnsafeMutablePointer<reptile_event>
    /// Polls before sleeping: about 20–100 µs, much longer than a partner a layer behind needs,
    /// much shorter than the time slice a preempted partner waits for.
    public static let spins = 2_000

    public init() {
        event = .allocate(capacity: 1)
        event.initialize(to: reptile_event(sequence: 0, sleepers: 0))
    }

    deinit { event.deallocate() }

    /// Wakes the threads sleeping on the event; call after changing what they wait for.
    @inline(__always) public func signal() { reptile_event_signal(event) }

    /// Returns once `condition` holds (checked after each signal).
    @inline(__always) public func wait(until condition: () -> Bool) {
        var spins = 0
        while !condition() {
            if spins < Self.spins {
                spins += 1
                reptile_spin_pause()
                continue
            }
            reptile_event_enter(event)
            let seen = reptile_event_sequence(event)
            if !condition() { reptile_event_sleep(event, seen) }
            reptile_event_leave(event)
        }
    }
}
