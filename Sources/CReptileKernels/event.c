// Waiting without burning a core: a thread that has spun for a while sleeps in the kernel (a
// futex on Linux) until another thread signals, as OpenMP runtimes do. And how long a thread
// waited for a core, which tells whether another process competes for this machine's cores.

#include "CReptileKernels.h"

#if defined(__linux__)
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
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

#if defined(__linux__)
// Each thread keeps its schedstat file open (fd + 1 in a thread-specific slot, closed when the
// thread ends): a pread is about 1 µs, an open-read-close about 7. (A forked child would read its
// parent's thread; nothing here forks.)
static pthread_key_t schedstat_key;
static int schedstat_key_made;
static pthread_once_t schedstat_once = PTHREAD_ONCE_INIT;
static void close_schedstat(void *slot) { close((int)(intptr_t)slot - 1); }
static void make_schedstat_key(void) { schedstat_key_made = pthread_key_create(&schedstat_key, close_schedstat) == 0; }
#endif

int64_t reptile_thread_run_delay(void) {
#if defined(__linux__)
    // /proc/thread-self/schedstat: "time on a core, time waiting for one, time slices" (ns).
    pthread_once(&schedstat_once, make_schedstat_key);
    if (!schedstat_key_made) return -1;
    int file = (int)(intptr_t)pthread_getspecific(schedstat_key) - 1;
    if (file < 0) {
        file = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
        if (file < 0) return -1;
        if (pthread_setspecific(schedstat_key, (void *)(intptr_t)(file + 1)) != 0) {
            close(file);
            return -1;
        }
    }
    char text[96];
    ssize_t length = pread(file, text, sizeof text - 1, 0);
    if (length <= 0) {  // forget the file: the next call opens it again
        pthread_setspecific(schedstat_key, NULL);
        close(file);
        return -1;
    }
    text[length] = 0;
    char *end;
    long long running = strtoll(text, &end, 10);
    // A thread that has run (this one) with no time on a core: the kernel keeps no such counts.
    if (end == text || running <= 0) return -1;
    char *field = end;
    long long delay = strtoll(field, &end, 10);
    return end == field ? -1 : (int64_t)delay;
#else
    return -1;
#endif
}
