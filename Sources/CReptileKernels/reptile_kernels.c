// Which instruction set the kernels use: chosen once from the CPU's features (the compiler
// runtime's cpuid check, which also asks the OS whether it saves the wide registers).
#include "CReptileKernels.h"
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
extern const reptile_microkernels reptile_microkernels_avx512, reptile_microkernels_avx2, reptile_microkernels_generic;
static int has_avx512(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma");
}
static int has_avx2(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#elif defined(__aarch64__)
extern const reptile_microkernels reptile_microkernels_neon;
#else
extern const reptile_microkernels reptile_microkernels_generic;
#endif

const reptile_microkernels *reptile_microkernels_named(const char *name) {
#if defined(__x86_64__)
    if (strcmp(name, "avx512") == 0) return has_avx512() ? &reptile_microkernels_avx512 : NULL;
    if (strcmp(name, "avx2") == 0) return has_avx2() ? &reptile_microkernels_avx2 : NULL;
    if (strcmp(name, "generic") == 0) return &reptile_microkernels_generic;
#elif defined(__aarch64__)
    if (strcmp(name, "neon") == 0 || strcmp(name, "generic") == 0) return &reptile_microkernels_neon;
#else
    if (strcmp(name, "generic") == 0) return &reptile_microkernels_generic;
#endif
    return NULL;
}

const reptile_microkernels *reptile_microkernels_selected(void) {
    static const reptile_microkernels *selected;
    const reptile_microkernels *s = __atomic_load_n(&selected, __ATOMIC_ACQUIRE);
    if (s) return s;
    const char *asked = getenv("REPTILE_KERNELS");
    if (asked && *asked) s = reptile_microkernels_named(asked);
#if defined(__x86_64__)
    if (!s) s = has_avx512() ? &reptile_microkernels_avx512 : has_avx2() ? &reptile_microkernels_avx2 : &reptile_microkernels_generic;
#elif defined(__aarch64__)
    if (!s) s = &reptile_microkernels_neon;
#else
    if (!s) s = &reptile_microkernels_generic;
#endif
    __atomic_store_n(&selected, s, __ATOMIC_RELEASE);  // every thread computes the same choice
    return s;
}
