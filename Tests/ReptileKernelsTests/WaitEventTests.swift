// WaitEvent: threads that wait longer than the spin sleep in the kernel and are woken, none lost.

import Foundation
import Testing
import CReptileKernels
@testable import ReptileKernels

@Test("Two threads ping-pong 3 000 times through a WaitEvent, often slower than its spin: no wake-up is lost",
      .timeLimit(.minutes(1)))
func waitEventPingPong() {
    let event = WaitEvent()
    let counter = UnsafeMutablePointer<CLong>.allocate(capacity: 1)
    counter.initialize(to: 0)
    defer { counter.deallocate() }
    let rounds = 3_000
    // Thread 0 moves the counter from even to odd, thread 1 from odd to even; every 7th move is
    // delayed past the spin, so that the other thread goes to sleep.
    DispatchQueue.concurrentPerform(iterations: 2) { member in
        for round in 0..<rounds {
            let mine = 2 * round + member
            event.wait { reptile_atomic_load(counter) == mine }
            if round % 7 == member { usleep(300) }
            reptile_atomic_store(counter, mine + 1)
            event.signal()
        }
    }
    #expect(reptile_atomic_load(counter) == 2 * rounds)
}

@Test("A waiter sleeps while the condition is false and returns once it is signalled")
func waitEventSleepsUntilSignalled() {
    let event = WaitEvent()
    let flag = UnsafeMutablePointer<CLong>.allocate(capacity: 1)
    flag.initialize(to: 0)
    defer { flag.deallocate() }
    let start = Date()
    var waited = 0.0
    var cpu = 0.0
    DispatchQueue.concurrentPerform(iterations: 2) { member in
        if member == 0 {
            let before = threadCPUSeconds()
            event.wait { reptile_atomic_load(flag) == 1 }
            cpu = threadCPUSeconds() - before
            waited = Date().timeIntervalSince(start)
        } else {
            usleep(200_000)
            reptile_atomic_store(flag, 1)
            event.signal()
        }
    }
    #expect(waited >= 0.19)
    // 0.2 s of waiting took (almost) no CPU time: the waiter slept.
    #expect(cpu < 0.05, "the waiter used \(cpu) s of CPU in 0.2 s")
}

private func threadCPUSeconds() -> Double {
    var usage = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &usage)
    return Double(usage.tv_sec) + Double(usage.tv_nsec) / 1e9
}
