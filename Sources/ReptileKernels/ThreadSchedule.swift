// What the scheduler did to a thread: how long it waited for a core. Training reads it to tell
// whether other processes compete for this machine's cores.

import CReptileKernels

/// What the scheduler did to the calling thread.
public enum ThreadSchedule {
    /// Nanoseconds the calling thread has spent, since it started, ready to run but waiting for a
    /// core (Linux's schedstat run delay): it grows while more threads want to run than there are
    /// cores. Nil where the system does not count it.
    public static func nanosecondsWaitingForCore() -> Int? {
        let delay = reptile_thread_run_delay()
        return delay < 0 ? nil : Int(delay)
    }
}
