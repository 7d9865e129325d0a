// Loops that Swift cannot vectorize: packed square roots (Swift's `squareRoot()` keeps libm's
// errno semantics, which forces one scalar square root per element).
#ifndef C_REPTILE_KERNELS_H
#define C_REPTILE_KERNELS_H

/// One Adam step with beta1 = 0: v <- b2 v + (1 - b2) g^2;  p <- p - step g / (sqrt(v) + eps).
void reptile_adam_beta1_zero(float *restrict parameters, const float *restrict gradients, float *restrict v,
                             float step, float beta2, float epsilon, long count);

/// One Adam step: m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;  p <- p - step m / (sqrt(v) + eps).
void reptile_adam(float *restrict parameters, const float *restrict gradients, float *restrict m, float *restrict v,
                  float step, float beta1, float beta2, float epsilon, long count);

#endif
