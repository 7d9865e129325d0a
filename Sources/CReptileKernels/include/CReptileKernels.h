// Loops that Swift cannot vectorize well: packed square roots (Swift's `squareRoot()` keeps libm's
// errno semantics, which forces one scalar square root per element) and register-block transposes
// (Swift's generic shuffles spill). And the few sequentially consistent atomic operations that let
// the two threads of a `ShardTeam` share a training step.
#ifndef C_REPTILE_KERNELS_H
#define C_REPTILE_KERNELS_H

/// One Adam step with beta1 = 0: v <- b2 v + (1 - b2) g^2;  p <- p - step g / (sqrt(v) + eps).
void reptile_adam_beta1_zero(float *restrict parameters, const float *restrict gradients, float *restrict v,
                             float step, float beta2, float epsilon, long count);

/// One Adam step: m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;  p <- p - step m / (sqrt(v) + eps).
void reptile_adam(float *restrict parameters, const float *restrict gradients, float *restrict m, float *restrict v,
                  float step, float beta1, float beta2, float epsilon, long count);

/// Transposes a row-major rows × columns matrix into out (columns × rows).
void reptile_transpose(const float *restrict a, long rows, long columns, float *restrict out);

/// Atomic operations on a shared word (sequentially consistent).
static inline long reptile_atomic_load(const long *word) { return __atomic_load_n(word, __ATOMIC_SEQ_CST); }
static inline void reptile_atomic_store(long *word, long value) { __atomic_store_n(word, value, __ATOMIC_SEQ_CST); }
static inline long reptile_atomic_fetch_add(long *word, long value) { return __atomic_fetch_add(word, value, __ATOMIC_SEQ_CST); }
/// Replaces *word by desired if it equals expected; returns whether it did.
static inline int reptile_atomic_compare_exchange(long *word, long expected, long desired) {
    return __atomic_compare_exchange_n(word, &expected, desired, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

/// Tells the core that this thread is spinning (lets a sibling hyperthread run; saves power).
static inline void reptile_spin_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/// Something threads wait for: waiters spin a while (the usual case, a partner a few
/// microseconds behind), then sleep until a signal. A waiter, after spinning:
///     reptile_event_enter(e); seen = reptile_event_sequence(e);
///     if (!condition) reptile_event_sleep(e, seen);
///     reptile_event_leave(e);
/// and a signaller makes the condition true, then calls reptile_event_signal(e). No wake-up is
/// lost (all operations are sequentially consistent: a signaller that sees no sleeper made the
/// condition true before the waiter checked it), and a signal with nobody asleep is one load.
typedef struct { int sequence; int sleepers; } reptile_event;

static inline int reptile_event_sequence(const reptile_event *event) {
    return __atomic_load_n(&event->sequence, __ATOMIC_SEQ_CST);
}
static inline void reptile_event_enter(reptile_event *event) { __atomic_fetch_add(&event->sleepers, 1, __ATOMIC_SEQ_CST); }
static inline void reptile_event_leave(reptile_event *event) { __atomic_fetch_sub(&event->sleepers, 1, __ATOMIC_SEQ_CST); }
/// Wakes every sleeper (a system call).
void reptile_event_wake(reptile_event *event);
static inline void reptile_event_signal(reptile_event *event) {
    if (__atomic_load_n(&event->sleepers, __ATOMIC_SEQ_CST) > 0) reptile_event_wake(event);
}
/// Sleeps until a wake-up after `seen` was read (returns at once if one already came).
void reptile_event_sleep(reptile_event *event, int seen);

#endif
