// Element-wise vector sums on the widest registers the CPU has (Swift's own loops are compiled for
// baseline x86-64, four floats at a time): the shards' gradients are added every inner step.
#include "CReptileKernels.h"

#define ADD_LOOP(SUFFIX, TARGET)                                                                       \
    static TARGET void vector_add_##SUFFIX(const float *restrict x, float *restrict y, long count) {  \
        for (long i = 0; i < count; i++) y[i] += x[i];                                                 \
    }

ADD_LOOP(generic, )
#if defined(__x86_64__)
ADD_LOOP(avx512, __attribute__((target("avx512f,avx512vl"))))
#endif

void reptile_vector_add(const float *restrict x, float *restrict y, long count) {
#if defined(__x86_64__)
    if (reptile_microkernels_selected()->lanes == 16) {
        vector_add_avx512(x, y, count);
        return;
    }
#endif
    vector_add_generic(x, y, count);
}
