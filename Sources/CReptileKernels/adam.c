// Adam's element-wise update with packed square roots and divisions: IEEE square root and
// division, no fused multiply-adds, so the results are bit-identical to the scalar formula on every
// instruction set. Compiled once per instruction set and chosen at run time with the microkernels.
#include "CReptileKernels.h"

#pragma clang fp contract(off)

// __builtin_elementwise_sqrt never sets errno, so these loops vectorize without -fno-math-errno.
#define ADAM_LOOPS(SUFFIX, TARGET)                                                                        \
    static TARGET void adam_beta1_zero_##SUFFIX(float *restrict parameters, const float *restrict gradients, \
                                                float *restrict v, float step, float beta2, float epsilon, \
                                                long count) {                                              \
        const float one_minus_b2 = 1.0f - beta2;                                                           \
        for (long i = 0; i < count; i++) {                                                                 \
            const float g = gradients[i];                                                                  \
            const float vi = beta2 * v[i] + one_minus_b2 * (g * g);                                        \
            v[i] = vi;                                                                                     \
            parameters[i] -= step * g / (__builtin_elementwise_sqrt(vi) + epsilon);                        \
        }                                                                                                  \
    }                                                                                                      \
    static TARGET void adam_##SUFFIX(float *restrict parameters, const float *restrict gradients,          \
                                     float *restrict m, float *restrict v, float step, float beta1,        \
                                     float beta2, float epsilon, long count) {                             \
        const float one_minus_b1 = 1.0f - beta1, one_minus_b2 = 1.0f - beta2;                              \
        for (long i = 0; i < count; i++) {                                                                 \
            const float g = gradients[i];                                                                  \
            const float mi = beta1 * m[i] + one_minus_b1 * g;                                              \
            const float vi = beta2 * v[i] + one_minus_b2 * (g * g);                                        \
            m[i] = mi;                                                                                     \
            v[i] = vi;                                                                                     \
            parameters[i] -= step * mi / (__builtin_elementwise_sqrt(vi) + epsilon);                       \
        }                                                                                                  \
    }

ADAM_LOOPS(generic, )
#if defined(__x86_64__)
ADAM_LOOPS(avx512, __attribute__((target("avx512f,avx512vl"))))
static int wide(void) { return reptile_microkernels_selected()->lanes == 16; }
#else
static int wide(void) { return 0; }
#define adam_beta1_zero_avx512 adam_beta1_zero_generic
#define adam_avx512 adam_generic
#endif

void reptile_adam_beta1_zero(float *restrict parameters, const float *restrict gradients, float *restrict v,
                             float step, float beta2, float epsilon, long count) {
    if (wide()) adam_beta1_zero_avx512(parameters, gradients, v, step, beta2, epsilon, count);
    else adam_beta1_zero_generic(parameters, gradients, v, step, beta2, epsilon, count);
}

void reptile_adam(float *restrict parameters, const float *restrict gradients, float *restrict m, float *restrict v,
                  float step, float beta1, float beta2, float epsilon, long count) {
    if (wide()) adam_avx512(parameters, gradients, m, v, step, beta1, beta2, epsilon, count);
    else adam_generic(parameters, gradients, m, v, step, beta1, beta2, epsilon, count);
}
