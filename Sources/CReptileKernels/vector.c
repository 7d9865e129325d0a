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

// sums[j] += x[r * stride + j] for r = 0 ..< count in order: a batch norm's column sums, taken
// from a tile of output rows while it is in L1. Each column is added in row order, so any vector
// width gives the floats of the plain loop. `width` is a multiple of 16.
static void add_strided_rows_generic(const float *x, long count, long stride, long width, float *restrict sums) {
    for (long r = 0; r < count; r++) {
        const float *restrict row = x + r * stride;
        for (long j = 0; j < width; j++) sums[j] += row[j];
    }
}

#if defined(__x86_64__)
#include <immintrin.h>
__attribute__((target("avx512f"))) static void add_strided_rows_avx512(const float *x, long count, long stride,
                                                                       long width, float *restrict sums) {
    for (long j = 0; j < width; j += 16) {
        __m512 sum = _mm512_loadu_ps(sums + j);
        for (long r = 0; r < count; r++) sum = _mm512_add_ps(sum, _mm512_loadu_ps(x + r * stride + j));
        _mm512_storeu_ps(sums + j, sum);
    }
}
#endif

void reptile_add_strided_rows(const float *x, long count, long stride, long width, float *restrict sums) {
#if defined(__x86_64__)
    if (reptile_microkernels_selected()->lanes == 16) {
        add_strided_rows_avx512(x, count, stride, width, sums);
        return;
    }
#endif
    add_strided_rows_generic(x, count, stride, width, sums);
}
