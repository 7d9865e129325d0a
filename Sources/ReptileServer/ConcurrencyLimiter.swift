// Bounded, queued execution of CPU-bound work: a FIFO async semaphore and a helper that runs a
// blocking closure on a Dispatch worker thread, so that neither NIO's event loops nor Swift's
// cooperative thread pool (which serves all other requests) is blocked while a model adapts.

import Dispatch
import Foundation

/// Thrown by `ConcurrencyLimiter.withPermit` when the waiting queue is full.
struct LimiterQueueFull: Error {}

/// An async semaphore with `limit` permits and a FIFO queue of at most `maxWaiting` waiters.
/// Waiting is cancellable: a cancelled waiter leaves the queue and throws `CancellationError`.
final class ConcurrencyLimiter: @unchecked Sendable {
    private final class Waiter {
        var continuation: CheckedContinuation<Void, any Error>?
        var cancelled = false
    }

    let limit: Int
    let maxWaiting: Int
    private let lock = NSLock()
    private var available: Int
    private var queue: [Waiter] = []
    private var queueHead = 0  // queue[queueHead...] are waiting; compacted lazily

    init(limit: Int, maxWaiting: Int) {
        precondition(limit > 0)
        self.limit = limit
        self.maxWaiting = maxWaiting
        self.available = limit
    }

    /// How many callers are waiting for a permit now.
    var waitingCount: Int { lock.withLock { queue.count - queueHead } }

    /// Runs `body` holding one permit; waits (in FIFO order) while all permits are taken.
    func withPermit<T>(_ body: () async throws -> T) async throws -> T {
        try await acquire()
        defer { release() }
        return try await body()
    }

    private func acquire() async throws {
        let waiter: Waiter? = try lock.withLock {
            if available > 0 && queue.count == queueHead {
                available -= 1
                return nil
            }
            guard queue.count - queueHead < maxWaiting else { throw LimiterQueueFull() }
            return Waiter()
        }
        guard let waiter else { return }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let outcome: Result<Void, any Error>? = lock.withLock {
                    if waiter.cancelled { return .failure(CancellationError()) }
                    if available > 0 && queue.count == queueHead {
                        available -= 1
                        return .success(())
                    }
                    waiter.continuation = continuation
                    queue.append(waiter)
                    return nil
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            let continuation: CheckedContinuation<Void, any Error>? = lock.withLock {
                waiter.cancelled = true
                guard let position = queue[queueHead...].firstIndex(where: { $0 === waiter }) else { return nil }
                queue.remove(at: position)
                defer { waiter.continuation = nil }
                return waiter.continuation
            }
            continuation?.resume(throwing: CancellationError())
        }
    }

    private func release() {
        let next: CheckedContinuation<Void, any Error>? = lock.withLock {
            guard queueHead < queue.count else {
                available += 1
                return nil
            }
            let waiter = queue[queueHead]
            queueHead += 1
            if queueHead > 64 && queueHead * 2 > queue.count {
                queue.removeFirst(queueHead)
                queueHead = 0
            }
            defer { waiter.continuation = nil }
            return waiter.continuation
        }
        next?.resume()  // the permit passes directly to the next waiter
    }
}

/// Runs a blocking, CPU-bound closure on a Dispatch worker thread and awaits its result.
func runOffCooperativePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global(qos: .userInitiated).async {
            continuation.resume(with: Result { try body() })
        }
    }
}
