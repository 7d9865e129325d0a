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


// Batch norm (+ ReLU) fused with a max pooling whose windows tile the input (no padding before,
// windows clipped at the bottom and right): each window's positions are normalized in row-major
// order and only the maximum is written; the first maximum stays on ties, as in max pooling.
// With `maxima`, also the input at each maximum and, `pooled` floats further, its window row.
// The channels go in blocks of up to 4 vectors of VW floats, whose running maxima stay in registers
// (`nv` is a constant once inlined).
typedef float NAME(bnvec, SUFFIX) __attribute__((vector_size(VW * 4), aligned(4)));
typedef int NAME(bnmask, SUFFIX) __attribute__((vector_size(VW * 4), aligned(4)));
#define BNVEC NAME(bnvec, SUFFIX)
#define BNMASK NAME(bnmask, SUFFIX)

static inline __attribute__((always_inline)) TARGET void NAME(pooled_block, SUFFIX)(
    const float *restrict x, long batch, long height, long width, long c, long size, long out_h, long out_w,
    const float *restrict a, const float *restrict b, int relu, float *restrict y, float *restrict maxima, long c0,
    const int nv) {
    const long pooled = batch * out_h * out_w * c;
    const BNVEC zero = {0};
    BNVEC av[4], bv[4];
    for (int k = 0; k < nv; k++) {
        av[k] = *(const BNVEC *)(a + c0 + k * VW);
        bv[k] = *(const BNVEC *)(b + c0 + k * VW);
    }
    for (long n = 0; n < batch; n++) {
        for (long oy = 0; oy < out_h; oy++) {
            for (long ox = 0; ox < out_w; ox++) {
                BNVEC best[4], at[4], row[4];
                int first = 1;
                for (long wy = 0; wy < size && oy * size + wy < height; wy++) {
                    const BNVEC window_row = zero + (float)wy;
                    for (long wx = 0; wx < size && ox * size + wx < width; wx++) {
                        const float *xi = x + ((n * height + oy * size + wy) * width + ox * size + wx) * c + c0;
                        for (int k = 0; k < nv; k++) {
                            const BNVEC xv = *(const BNVEC *)(xi + k * VW);
                            BNVEC v = bv[k] + av[k] * xv;
                            if (relu) v = (BNVEC)((BNMASK)v & ~(BNMASK)(v <= zero));  // +0 where v <= 0
                            if (first) {
                                best[k] = v;
                                at[k] = xv;
                                row[k] = window_row;
                            } else {
                                const BNMASK better = (BNMASK)(v > best[k]);
                                best[k] = (BNVEC)(((BNMASK)v & better) | ((BNMASK)best[k] & ~better));
                                at[k] = (BNVEC)(((BNMASK)xv & better) | ((BNMASK)at[k] & ~better));
                                row[k] = (BNVEC)(((BNMASK)window_row & better) | ((BNMASK)row[k] & ~better));
                            }
                        }
                        first = 0;
                    }
                }
                const long o = ((n * out_h + oy) * out_w + ox) * c + c0;
                for (int k = 0; k < nv; k++) {
                    *(BNVEC *)(y + o + k * VW) = best[k];
                    if (maxima) {
                        *(BNVEC *)(maxima + o + k * VW) = at[k];
                        *(BNVEC *)(maxima + pooled + o + k * VW) = row[k];
                    }
                }
            }
        }
    }
}

static TARGET void NAME(normalize_pooled_rows, SUFFIX)(const float *restrict x, long batch, long height, long width,
                                                       long c, long size, long out_h, long out_w,
                                                       const float *restrict a, const float *restrict b, int relu,
                                                       float *restrict y, float *restrict maxima) {
    for (long c0 = 0; c0 < c; c0 += 4 * VW) {
        const long left = (c - c0) / VW;
        switch (left >= 4 ? 4 : left) {
        case 4: NAME(pooled_block, SUFFIX)(x, batch, height, width, c, size, out_h, out_w, a, b, relu, y, maxima, c0, 4); break;
        case 3: NAME(pooled_block, SUFFIX)(x, batch, height, width, c, size, out_h, out_w, a, b, relu, y, maxima, c0, 3); break;
        case 2: NAME(pooled_block, SUFFIX)(x, batch, height, width, c, size, out_h, out_w, a, b, relu, y, maxima, c0, 2); break;
        default: NAME(pooled_block, SUFFIX)(x, batch, height, width, c, size, out_h, out_w, a, b, relu, y, maxima, c0, 1); break;
        }
    }
}

#undef BNVEC
#undef BNMASK

// Per-column sums over the rows, each column's in row order (the floats do not depend on the width).
static TARGET void NAME(column_sums_rows, SUFFIX)(const float *restrict x, long rows, long c, long stride,
                                                  float *restrict out) {
    for (long j = 0; j < c; j++) out[j] = 0.0f;
    for (long r = 0; r < rows; r++) {
        const float *restrict xr = x + r * stride;
#pragma clang loop vectorize(assume_safety)
        for (long j = 0; j < c; j++) out[j] = out[j] + xr[j];
    }
}

// Σ(x − μ)² per column, in row order.
static TARGET void NAME(squared_deviations_rows, SUFFIX)(const float *restrict x, long rows, long c,
                                                         const float *restrict mean, float *restrict out) {
    for (long j = 0; j < c; j++) out[j] = 0.0f;
    for (long r = 0; r < rows; r++) {
        const float *restrict xr = x + r * c;
#pragma clang loop vectorize(assume_safety)
        for (long j = 0; j < c; j++) { const float d = xr[j] - mean[j]; out[j] = out[j] + d * d; }
    }
}

#undef NAME
#undef NAME2
