// Waiting without burning a core: a thread that has spun for a while sleeps in the kernel (a
// futex on Linux) until another thread signals, as OpenMP runtimes do.

#include "CReptileKernels.h"

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#else
#include <sched.h>
#include <unistd.h>
#endif

void reptile_event_wake(reptile_event *event) {
    __atomic_fetch_add(&event->sequence, 1, __ATOMIC_SEQ_CST);
#if defined(__linux__)
    syscall(SYS_futex, &event->sequence, FUTEX_WAKE_PRIVATE, 0x7fffffff, NULL, NULL, 0);
#endif
}

void reptile_event_sleep(reptile_event *event, int seen) {
#if defined(__linux__)
    // Returns at once if the sequence moved on since `seen` (a wake-up came in between).
    syscall(SYS_futex, &event->sequence, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
#else
    // No futex: give the core away briefly instead.
    if (__atomic_load_n(&event->sequence, __ATOMIC_SEQ_CST) == seen) {
        sched_yield();
        usleep(20);
    }
#endif
}
