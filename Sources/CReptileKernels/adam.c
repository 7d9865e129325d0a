// Adam's element-wise update, written so that the compiler emits packed square roots and
// divisions (compiled with -O3 -fno-math-errno -ffp-contract=off; see Package.swift). IEEE square root and division, no fused multiply-adds:
// the results are bit-identical to the scalar formula.
#include "CReptileKernels.h"

void reptile_adam_beta1_zero(float *restrict parameters, const float *restrict gradients, float *restrict v,
                             float step, float beta2, float epsilon, long count) {
    const float one_minus_b2 = 1.0f - beta2;
    for (long i = 0; i < count; i++) {
        const float g = gradients[i];
        const float vi = beta2 * v[i] + one_minus_b2 * (g * g);
        v[i] = vi;
        parameters[i] -= step * g / (__builtin_sqrtf(vi) + epsilon);
    }
}

void reptile_adam(float *restrict parameters, const float *restrict gradients, float *restrict m, float *restrict v,
                  float step, float beta1, float beta2, float epsilon, long count) {
    const float one_minus_b1 = 1.0f - beta1, one_minus_b2 = 1.0f - beta2;
    for (long i = 0; i < count; i++) {
        const float g = gradients[i];
        const float mi = beta1 * m[i] + one_minus_b1 * g;
        const float vi = beta2 * v[i] + one_minus_b2 * (g * g);
        m[i] = mi;
        v[i] = vi;
        parameters[i] -= step * mi / (__builtin_sqrtf(vi) + epsilon);
    }
}
