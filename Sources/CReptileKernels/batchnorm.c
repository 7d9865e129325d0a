// Batch normalization's row loops, compiled once per instruction set and chosen at run time with
// the microkernels (the per-channel values a, b, dβ/N and dγ/N come from the Swift side).
#include "CReptileKernels.h"

#pragma clang fp contract(off)

#define ISA_BODY "batchnorm_rows.h"
#include "per_isa.h"

void reptile_bn_normalize(const float *x, long rows, long channels, const float *a, const float *b, int relu, float *y) {
    PICK(normalize_rows, x, rows, channels, a, b, relu, y);
}

void reptile_bn_gradient_sums(const float *x, const float *dy, long rows, long channels, const float *gamma,
                              const float *beta, const float *mean, const float *inverse_std, int relu, float *dgamma,
                              float *dbeta) {
    PICK(gradient_sums_rows, x, dy, rows, channels, gamma, beta, mean, inverse_std, relu, dgamma, dbeta);
}

void reptile_bn_input_gradient(const float *x, const float *dy, long rows, long channels, const float *gamma,
                               const float *beta, const float *mean, const float *inverse_std, const float *a,
                               const float *mean_g, const float *mean_gx, int relu, float *dx, float *dx_sums) {
    PICK(input_gradient_rows, x, dy, rows, channels, gamma, beta, mean, inverse_std, a, mean_g, mean_gx, relu, dx, dx_sums);
}

void reptile_bn_normalize_pooled(const float *x, long batch, long height, long width, long channels, long size,
                                 long out_h, long out_w, const float *a, const float *b, int relu, float *y,
                                 float *maxima) {
    PICK(normalize_pooled_rows, x, batch, height, width, channels, size, out_h, out_w, a, b, relu, y, maxima);
}

void reptile_column_sums(const float *x, long rows, long columns, long stride, float *out) {
    PICK(column_sums_rows, x, rows, columns, stride, out);
}

void reptile_bn_squared_deviations(const float *x, long rows, long channels, const float *mean, float *out) {
    PICK(squared_deviations_rows, x, rows, channels, mean, out);
}

void reptile_bn_pooled_gradient_sums(const float *maxima, long batch, long height, long channels, long size, long out_h,
                                     long out_w, const float *dy, const float *gamma, const float *beta,
                                     const float *mean, const float *inverse_std, int relu, float *dgamma, float *dbeta) {
    PICK(pooled_gradient_sums_rows, maxima, batch, height, channels, size, out_h, out_w, dy, gamma, beta, mean,
         inverse_std, relu, dgamma, dbeta);
}

void reptile_bn_pooled_input_gradient(const float *x, const float *y, const float *dy, long q0, long q1, long height,
                                      long width, long channels, long size, long out_h, long out_w, const float *gamma,
                                      const float *beta, const float *mean, const float *inverse_std, const float *a,
                                      const float *b, const float *mean_g, const float *mean_gx, int relu,
                                      float *waiting, float *dx, long dx_offset, float *dx_sums) {
    PICK(pooled_input_gradient_rows, x, y, dy, q0, q1, height, width, channels, size, out_h, out_w, gamma, beta, mean,
         inverse_std, a, b, mean_g, mean_gx, relu, waiting, dx, dx_offset, dx_sums);
}
