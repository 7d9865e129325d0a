// The row loops of batch normalization, included once per instruction set by batchnorm.c with
// SUFFIX and TARGET defined. Every sum runs over the rows in order, per channel, and nothing is
// fused, so each instruction set gives the floats of the Swift definitions (BatchNorm.swift).

#define NAME2(a, b) a##_##b
#define NAME(a, b) NAME2(a, b)

static TARGET void NAME(normalize_rows, SUFFIX)(const float *restrict x, long rows, long c, const float *restrict a,
                                                const float *restrict b, int relu, float *restrict y) {
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * c;
        float *yr = y + r * c;
        if (relu) {
#pragma clang loop vectorize(assume_safety)
            for (long j = 0; j < c; j++) { const float v = b[j] + a[j] * xr[j]; yr[j] = v <= 0.0f ? 0.0f : v; }
        } else {
#pragma clang loop vectorize(assume_safety)
            for (long j = 0; j < c; j++) yr[j] = b[j] + a[j] * xr[j];
        }
    }
}

static TARGET void NAME(gradient_sums_rows, SUFFIX)(const float *restrict x, const float *restrict dy, long rows, long c,
                                                    const float *restrict gamma, const float *restrict beta,
                                                    const float *restrict mean, const float *restrict inverse_std, int relu,
                                                    float *restrict dgamma, float *restrict dbeta) {
    for (long j = 0; j < c; j++) { dbeta[j] = 0.0f; dgamma[j] = 0.0f; }
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * c, *gr = dy + r * c;
#pragma clang loop vectorize(assume_safety)
        for (long j = 0; j < c; j++) {
            const float xhat = (xr[j] - mean[j]) * inverse_std[j];
            const float masked = beta[j] + gamma[j] * xhat <= 0.0f ? 0.0f : gr[j];
            const float g = relu ? masked : gr[j];
            dbeta[j] = dbeta[j] + g;
            dgamma[j] = dgamma[j] + g * xhat;
        }
    }
}

static TARGET void NAME(input_gradient_rows, SUFFIX)(const float *restrict x, const float *dy, long rows, long c,
                                                     const float *restrict gamma, const float *restrict beta,
                                                     const float *restrict mean, const float *restrict inverse_std,
                                                     const float *restrict a, const float *restrict mean_g,
                                                     const float *restrict mean_gx, int relu, float *dx,
                                                     float *restrict dx_sums) {
    // dx may be dy: each element is read before it is written at the same index, so the vector
    // loops are safe (assume_safety), and the branches are hoisted out of them.
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * c, *gr = dy + r * c;
        float *dxr = dx + r * c;
#define DX_ELEMENT                                                                   \
        const float xhat = (xr[j] - mean[j]) * inverse_std[j];                      \
        const float masked = beta[j] + gamma[j] * xhat <= 0.0f ? 0.0f : gr[j];      \
        const float g = relu ? masked : gr[j];                                       \
        const float v = a[j] * (g - mean_g[j] - xhat * mean_gx[j]);                  \
        dxr[j] = v;
        if (dx_sums) {
#pragma clang loop vectorize(assume_safety)
            for (long j = 0; j < c; j++) { DX_ELEMENT dx_sums[j] = dx_sums[j] + v; }
        } else {
#pragma clang loop vectorize(assume_safety)
            for (long j = 0; j < c; j++) { DX_ELEMENT }
        }
#undef DX_ELEMENT
    }
}

#undef NAME
#undef NAME2
