// The row loops of batch normalization, included once per instruction set by batchnorm.c with
// SUFFIX and TARGET defined. Every sum runs over the rows in order, per channel, and nothing is
// fused, so every instruction set gives the same floats (and those of the separate layers).

#define NAME2(a, b) a##_##b
#define NAME(a, b) NAME2(a, b)

typedef float NAME(bnvec, SUFFIX) __attribute__((vector_size(VW * 4), aligned(4)));
typedef int NAME(bnmask, SUFFIX) __attribute__((vector_size(VW * 4), aligned(4)));
#define BNVEC NAME(bnvec, SUFFIX)
#define BNMASK NAME(bnmask, SUFFIX)
#define LOADV(p) (*(const BNVEC *)(p))
#define STOREV(p, v) (*(BNVEC *)(p) = (v))
// g where the pre-activation p is above 0 (or NaN), +0 where p <= 0 (−0 too): the ReLU's mask.
#define MASKED_BY_RELU(g, p) ((BNVEC)((BNMASK)(g) & ~(BNMASK)((p) <= zero)))
// `v <= 0 ? 0 : v`.
#define RELU(v) MASKED_BY_RELU(v, v)

// The row loops go over the channels in blocks of up to NV vectors whose per-channel values and
// sums stay in registers from the first row to the last (left to the compiler, the loops kept them
// in memory: nine loads and two stores per vector). Each channel's sum still adds the rows in
// order, so the floats do not change. Up to 4 vectors where a block needs two registers per vector,
// up to 2 (AVX-512) or 1 where it needs six to eight (AVX2 and the portable set have 16).
#define NV_NARROW (VW == 16 ? 2 : 1)
// Calls BLOCK(nv) for each block of `nv` (at most `max`) whole vectors of the `c` channels, with
// c0 its first channel; the channels past the last whole vector are left to the caller.
#define FOR_EACH_BLOCK(c, max, BLOCK)                                                               \
    for (long c0 = 0; c0 + VW <= (c);) {                                                            \
        const long left = ((c) - c0) / VW;                                                          \
        switch (left >= (max) ? (max) : left) {                                                     \
        case 4: BLOCK(4); c0 += 4 * VW; break;                                                      \
        case 3: BLOCK(3); c0 += 3 * VW; break;                                                      \
        case 2: BLOCK(2); c0 += 2 * VW; break;                                                      \
        default: BLOCK(1); c0 += VW; break;                                                         \
        }                                                                                           \
    }

static inline __attribute__((always_inline)) TARGET void NAME(normalize_block, SUFFIX)(
    const float *restrict x, long rows, long c, const float *restrict a, const float *restrict b, int relu,
    float *restrict y, long c0, const int nv) {
    const BNVEC zero = {0};
    BNVEC av[4], bv[4];
    for (int k = 0; k < nv; k++) { av[k] = LOADV(a + c0 + k * VW); bv[k] = LOADV(b + c0 + k * VW); }
    for (long r = 0; r < rows; r++) {
        for (int k = 0; k < nv; k++) {
            BNVEC v = bv[k] + av[k] * LOADV(x + r * c + c0 + k * VW);
            if (relu) v = RELU(v);
            STOREV(y + r * c + c0 + k * VW, v);
        }
    }
}

static TARGET void NAME(normalize_rows, SUFFIX)(const float *restrict x, long rows, long c, const float *restrict a,
                                                const float *restrict b, int relu, float *restrict y) {
#define BLOCK(NV) NAME(normalize_block, SUFFIX)(x, rows, c, a, b, relu, y, c0, NV)
    FOR_EACH_BLOCK(c, 4, BLOCK)
#undef BLOCK
    for (long r = 0; r < rows; r++) {
        for (long j = c - c % VW; j < c; j++) {
            const float v = b[j] + a[j] * x[r * c + j];
            y[r * c + j] = relu && v <= 0.0f ? 0.0f : v;
        }
    }
}

static inline __attribute__((always_inline)) TARGET void NAME(gradient_sums_block, SUFFIX)(
    const float *restrict x, const float *restrict dy, long rows, long c, const float *restrict gamma,
    const float *restrict beta, const float *restrict mean, const float *restrict inverse_std, int relu,
    float *restrict dgamma, float *restrict dbeta, long c0, const int nv) {
    const BNVEC zero = {0};
    BNVEC gv[2], bv[2], mv[2], sv[2], sum_b[2], sum_g[2];
    for (int k = 0; k < nv; k++) {
        gv[k] = LOADV(gamma + c0 + k * VW); bv[k] = LOADV(beta + c0 + k * VW);
        mv[k] = LOADV(mean + c0 + k * VW); sv[k] = LOADV(inverse_std + c0 + k * VW);
        sum_b[k] = zero; sum_g[k] = zero;
    }
    for (long r = 0; r < rows; r++) {
        for (int k = 0; k < nv; k++) {
            const long i = r * c + c0 + k * VW;
            const BNVEC xhat = (LOADV(x + i) - mv[k]) * sv[k];
            BNVEC g = LOADV(dy + i);
            if (relu) g = MASKED_BY_RELU(g, bv[k] + gv[k] * xhat);
            sum_b[k] = sum_b[k] + g;
            sum_g[k] = sum_g[k] + g * xhat;
        }
    }
    for (int k = 0; k < nv; k++) { STOREV(dbeta + c0 + k * VW, sum_b[k]); STOREV(dgamma + c0 + k * VW, sum_g[k]); }
}

static TARGET void NAME(gradient_sums_rows, SUFFIX)(const float *restrict x, const float *restrict dy, long rows, long c,
                                                    const float *restrict gamma, const float *restrict beta,
                                                    const float *restrict mean, const float *restrict inverse_std, int relu,
                                                    float *restrict dgamma, float *restrict dbeta) {
#define BLOCK(NV) NAME(gradient_sums_block, SUFFIX)(x, dy, rows, c, gamma, beta, mean, inverse_std, relu, dgamma, dbeta, c0, NV)
    FOR_EACH_BLOCK(c, NV_NARROW, BLOCK)
#undef BLOCK
    for (long j = c - c % VW; j < c; j++) { dbeta[j] = 0.0f; dgamma[j] = 0.0f; }
    for (long r = 0; r < rows; r++) {
        for (long j = c - c % VW; j < c; j++) {
            const float xhat = (x[r * c + j] - mean[j]) * inverse_std[j];
            const float g = relu && beta[j] + gamma[j] * xhat <= 0.0f ? 0.0f : dy[r * c + j];
            dbeta[j] = dbeta[j] + g;
            dgamma[j] = dgamma[j] + g * xhat;
        }
    }
}

// dx may be dy: each vector is read before it is written at the same place.
static inline __attribute__((always_inline)) TARGET void NAME(input_gradient_block, SUFFIX)(
    const float *restrict x, const float *dy, long rows, long c, const float *restrict gamma,
    const float *restrict beta, const float *restrict mean, const float *restrict inverse_std, const float *restrict a,
    const float *restrict mean_g, const float *restrict mean_gx, int relu, float *dx, float *restrict dx_sums, long c0,
    const int nv) {
    const BNVEC zero = {0};
    BNVEC gv[2], bv[2], mv[2], sv[2], av[2], mgv[2], mgxv[2], sums[2];
    for (int k = 0; k < nv; k++) {
        const long j = c0 + k * VW;
        gv[k] = LOADV(gamma + j); bv[k] = LOADV(beta + j); mv[k] = LOADV(mean + j); sv[k] = LOADV(inverse_std + j);
        av[k] = LOADV(a + j); mgv[k] = LOADV(mean_g + j); mgxv[k] = LOADV(mean_gx + j);
        sums[k] = dx_sums ? LOADV(dx_sums + j) : zero;
    }
    for (long r = 0; r < rows; r++) {
        for (int k = 0; k < nv; k++) {
            const long i = r * c + c0 + k * VW;
            const BNVEC xhat = (LOADV(x + i) - mv[k]) * sv[k];
            BNVEC g = LOADV(dy + i);
            if (relu) g = MASKED_BY_RELU(g, bv[k] + gv[k] * xhat);
            const BNVEC v = av[k] * (g - mgv[k] - xhat * mgxv[k]);
            STOREV(dx + i, v);
            if (dx_sums) sums[k] = sums[k] + v;
        }
    }
    if (dx_sums) {
        for (int k = 0; k < nv; k++) STOREV(dx_sums + c0 + k * VW, sums[k]);
    }
}

static TARGET void NAME(input_gradient_rows, SUFFIX)(const float *restrict x, const float *dy, long rows, long c,
                                                     const float *restrict gamma, const float *restrict beta,
                                                     const float *restrict mean, const float *restrict inverse_std,
                                                     const float *restrict a, const float *restrict mean_g,
                                                     const float *restrict mean_gx, int relu, float *dx,
                                                     float *restrict dx_sums) {
#define BLOCK(NV)                                                                                            \
    NAME(input_gradient_block, SUFFIX)(x, dy, rows, c, gamma, beta, mean, inverse_std, a, mean_g, mean_gx, relu, dx, \
                                       dx_sums, c0, NV)
    FOR_EACH_BLOCK(c, NV_NARROW, BLOCK)
#undef BLOCK
    for (long r = 0; r < rows; r++) {
        for (long j = c - c % VW; j < c; j++) {
            const float xhat = (x[r * c + j] - mean[j]) * inverse_std[j];
            const float g = relu && beta[j] + gamma[j] * xhat <= 0.0f ? 0.0f : dy[r * c + j];
            const float v = a[j] * (g - mean_g[j] - xhat * mean_gx[j]);
            dx[r * c + j] = v;
            if (dx_sums) dx_sums[j] = dx_sums[j] + v;
        }
    }
}


// Batch norm (+ ReLU) fused with a max pooling whose windows tile the input (no padding before,
// windows clipped at the bottom and right): each window's positions are normalized in row-major
// order and only the maximum is written; the first maximum stays on ties, as in max pooling.
// With `maxima`, also the input at each maximum and, `pooled` floats further, its window row.
// The channels go in blocks of up to 4 vectors of VW floats, whose running maxima stay in registers
// (`nv` is a constant once inlined).

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

// Pass 1 of the fused backward pass from the maxima the forward pass kept: dβ = Σg and dγ = Σg·x̂
// over every window row and window, where g is the window's gradient if its maximum lies in that
// row and +0 otherwise (then masked by the ReLU), in the order the input positions come.
static inline __attribute__((always_inline)) TARGET void NAME(pooled_sums_block, SUFFIX)(
    const float *restrict maxima, long batch, long height, long c, long size, long out_h, long out_w,
    const float *restrict dy, const float *restrict gamma, const float *restrict beta, const float *restrict mean,
    const float *restrict inverse_std, int relu, float *restrict dgamma, float *restrict dbeta, long c0, const int nv) {
    const long pooled = batch * out_h * out_w * c;
    const BNVEC zero = {0};
    BNVEC gv[4], bv[4], mv[4], sv[4], sum_b[4], sum_g[4];
    for (int k = 0; k < nv; k++) {
        gv[k] = *(const BNVEC *)(gamma + c0 + k * VW);
        bv[k] = *(const BNVEC *)(beta + c0 + k * VW);
        mv[k] = *(const BNVEC *)(mean + c0 + k * VW);
        sv[k] = *(const BNVEC *)(inverse_std + c0 + k * VW);
        sum_b[k] = zero;
        sum_g[k] = zero;
    }
    for (long q = 0; q < batch * out_h; q++) {
        const long oy = q % out_h;
        for (long wy = 0; wy < size && oy * size + wy < height; wy++) {
            const BNVEC window_row = zero + (float)wy;
            for (long ox = 0; ox < out_w; ox++) {
                const long o = (q * out_w + ox) * c + c0;
                for (int k = 0; k < nv; k++) {
                    const BNMASK here = (BNMASK)(*(const BNVEC *)(maxima + pooled + o + k * VW) == window_row);
                    BNVEC g = zero + (BNVEC)((BNMASK)*(const BNVEC *)(dy + o + k * VW) & here);  // −0 becomes +0
                    const BNVEC xhat = (*(const BNVEC *)(maxima + o + k * VW) - mv[k]) * sv[k];
                    if (relu) g = (BNVEC)((BNMASK)g & ~(BNMASK)(bv[k] + gv[k] * xhat <= zero));
                    sum_b[k] = sum_b[k] + g;
                    sum_g[k] = sum_g[k] + g * xhat;
                }
            }
        }
    }
    for (int k = 0; k < nv; k++) {
        *(BNVEC *)(dbeta + c0 + k * VW) = sum_b[k];
        *(BNVEC *)(dgamma + c0 + k * VW) = sum_g[k];
    }
}

static TARGET void NAME(pooled_gradient_sums_rows, SUFFIX)(const float *restrict maxima, long batch, long height,
                                                           long c, long size, long out_h, long out_w,
                                                           const float *restrict dy, const float *restrict gamma,
                                                           const float *restrict beta, const float *restrict mean,
                                                           const float *restrict inverse_std, int relu,
                                                           float *restrict dgamma, float *restrict dbeta) {
    for (long c0 = 0; c0 < c; c0 += 4 * VW) {
        const long left = (c - c0) / VW;
#define SUMS_BLOCK(NV) NAME(pooled_sums_block, SUFFIX)(maxima, batch, height, c, size, out_h, out_w, dy, gamma, beta, \
                                                       mean, inverse_std, relu, dgamma, dbeta, c0, NV)
        switch (left >= 4 ? 4 : left) {
        case 4: SUMS_BLOCK(4); break;
        case 3: SUMS_BLOCK(3); break;
        case 2: SUMS_BLOCK(2); break;
        default: SUMS_BLOCK(1); break;
        }
#undef SUMS_BLOCK
    }
}

// Pass 2 of the fused backward pass over the rows of windows q0 ..< q1: visits every input position
// in row order with the gradient max pooling routes to it (its window's, at the first position whose
// normalized value equals the window's output; +0 elsewhere) and writes
// dx = a·(g − dβ/N − x̂·dγ/N), g masked by the ReLU, at dx[i − dx_offset]; with dx_sums, adds each dx
// to its channel's sum in that order. A window's undistributed gradient waits in `waiting` (one row
// of windows) between its rows.
static inline __attribute__((always_inline)) TARGET void NAME(pooled_dx_block, SUFFIX)(
    const float *restrict x, const float *restrict y, const float *restrict dy, long q0, long q1, long height,
    long width, long c, long size, long out_h, long out_w, const float *restrict gamma, const float *restrict beta,
    const float *restrict mean, const float *restrict inverse_std, const float *restrict a, const float *restrict b,
    const float *restrict mean_g, const float *restrict mean_gx, int relu, float *restrict waiting,
    float *restrict dx, long dx_offset, float *restrict dx_sums, long c0, const int nv) {
    const BNVEC zero = {0};
    BNVEC gv[4], bev[4], mv[4], sv[4], av[4], bv[4], mgv[4], mgxv[4], sums[4];
    for (int k = 0; k < nv; k++) {
        const long j = c0 + k * VW;
        gv[k] = *(const BNVEC *)(gamma + j);
        bev[k] = *(const BNVEC *)(beta + j);
        mv[k] = *(const BNVEC *)(mean + j);
        sv[k] = *(const BNVEC *)(inverse_std + j);
        av[k] = *(const BNVEC *)(a + j);
        bv[k] = *(const BNVEC *)(b + j);
        mgv[k] = *(const BNVEC *)(mean_g + j);
        mgxv[k] = *(const BNVEC *)(mean_gx + j);
        sums[k] = dx_sums ? *(const BNVEC *)(dx_sums + j) : zero;
    }
    for (long q = q0; q < q1; q++) {
        const long n = q / out_h, oy = q - n * out_h;
        const long rows_here = size < height - oy * size ? size : height - oy * size;
        for (long wy = 0; wy < rows_here; wy++) {
            const long row_start = ((n * height + oy * size + wy) * width) * c + c0;
            for (long ox = 0; ox < out_w; ox++) {
                const long o = ((n * out_h + oy) * out_w + ox) * c + c0;
                float *saved = waiting + ox * c + c0;
                const float *source = wy == 0 ? dy + o : saved;
                BNVEC remaining[4];
                for (int k = 0; k < nv; k++) remaining[k] = *(const BNVEC *)(source + k * VW);
                const long ix_end = ox * size + size < width ? ox * size + size : width;
                for (long ix = ox * size; ix < ix_end; ix++) {
                    const long i = row_start + ix * c;
                    for (int k = 0; k < nv; k++) {
                        const BNVEC xv = *(const BNVEC *)(x + i + k * VW);
                        BNVEC v = bv[k] + av[k] * xv;
                        if (relu) v = (BNVEC)((BNMASK)v & ~(BNMASK)(v <= zero));
                        const BNMASK hit = (BNMASK)(v == *(const BNVEC *)(y + o + k * VW));
                        BNVEC g = zero + (BNVEC)((BNMASK)remaining[k] & hit);  // −0 becomes +0
                        remaining[k] = (BNVEC)((BNMASK)remaining[k] & ~hit);
                        const BNVEC xhat = (xv - mv[k]) * sv[k];
                        if (relu) g = (BNVEC)((BNMASK)g & ~(BNMASK)(bev[k] + gv[k] * xhat <= zero));
                        const BNVEC d = av[k] * (g - mgv[k] - xhat * mgxv[k]);
                        *(BNVEC *)(dx + (i + k * VW - dx_offset)) = d;
                        sums[k] = sums[k] + d;
                    }
                }
                if (wy + 1 < rows_here) {
                    for (int k = 0; k < nv; k++) *(BNVEC *)(saved + k * VW) = remaining[k];
                }
            }
        }
    }
    if (dx_sums) {
        for (int k = 0; k < nv; k++) *(BNVEC *)(dx_sums + c0 + k * VW) = sums[k];
    }
}

static TARGET void NAME(pooled_input_gradient_rows, SUFFIX)(
    const float *restrict x, const float *restrict y, const float *restrict dy, long q0, long q1, long height,
    long width, long c, long size, long out_h, long out_w, const float *restrict gamma, const float *restrict beta,
    const float *restrict mean, const float *restrict inverse_std, const float *restrict a, const float *restrict b,
    const float *restrict mean_g, const float *restrict mean_gx, int relu, float *restrict waiting,
    float *restrict dx, long dx_offset, float *restrict dx_sums) {
    for (long c0 = 0; c0 < c; c0 += 4 * VW) {
        const long left = (c - c0) / VW;
#define DX_BLOCK(NV) NAME(pooled_dx_block, SUFFIX)(x, y, dy, q0, q1, height, width, c, size, out_h, out_w, gamma, beta, \
                                                   mean, inverse_std, a, b, mean_g, mean_gx, relu, waiting, dx,       \
                                                   dx_offset, dx_sums, c0, NV)
        switch (left >= 4 ? 4 : left) {
        case 4: DX_BLOCK(4); break;
        case 3: DX_BLOCK(3); break;
        case 2: DX_BLOCK(2); break;
        default: DX_BLOCK(1); break;
        }
#undef DX_BLOCK
    }
}

// Per-column sums over the rows, each column's in row order (the floats do not depend on the width).
static inline __attribute__((always_inline)) TARGET void NAME(column_sums_block, SUFFIX)(
    const float *restrict x, long rows, long stride, float *restrict out, long c0, const int nv) {
    const BNVEC zero = {0};
    BNVEC sums[4];
    for (int k = 0; k < nv; k++) sums[k] = zero;
    for (long r = 0; r < rows; r++) {
        for (int k = 0; k < nv; k++) sums[k] = sums[k] + LOADV(x + r * stride + c0 + k * VW);
    }
    for (int k = 0; k < nv; k++) STOREV(out + c0 + k * VW, sums[k]);
}

static TARGET void NAME(column_sums_rows, SUFFIX)(const float *restrict x, long rows, long c, long stride,
                                                  float *restrict out) {
#define BLOCK(NV) NAME(column_sums_block, SUFFIX)(x, rows, stride, out, c0, NV)
    FOR_EACH_BLOCK(c, 4, BLOCK)
#undef BLOCK
    for (long j = c - c % VW; j < c; j++) out[j] = 0.0f;
    for (long r = 0; r < rows; r++) {
        for (long j = c - c % VW; j < c; j++) out[j] = out[j] + x[r * stride + j];
    }
}

// Σ(x − μ)² per column, in row order.
static inline __attribute__((always_inline)) TARGET void NAME(squared_deviations_block, SUFFIX)(
    const float *restrict x, long rows, long c, const float *restrict mean, float *restrict out, long c0, const int nv) {
    const BNVEC zero = {0};
    BNVEC mv[4], sums[4];
    for (int k = 0; k < nv; k++) { mv[k] = LOADV(mean + c0 + k * VW); sums[k] = zero; }
    for (long r = 0; r < rows; r++) {
        for (int k = 0; k < nv; k++) {
            const BNVEC d = LOADV(x + r * c + c0 + k * VW) - mv[k];
            sums[k] = sums[k] + d * d;
        }
    }
    for (int k = 0; k < nv; k++) STOREV(out + c0 + k * VW, sums[k]);
}

static TARGET void NAME(squared_deviations_rows, SUFFIX)(const float *restrict x, long rows, long c,
                                                         const float *restrict mean, float *restrict out) {
#define BLOCK(NV) NAME(squared_deviations_block, SUFFIX)(x, rows, c, mean, out, c0, NV)
    FOR_EACH_BLOCK(c, 4, BLOCK)
#undef BLOCK
    for (long j = c - c % VW; j < c; j++) out[j] = 0.0f;
    for (long r = 0; r < rows; r++) {
        for (long j = c - c % VW; j < c; j++) { const float d = x[r * c + j] - mean[j]; out[j] = out[j] + d * d; }
    }
}

#undef FOR_EACH_BLOCK
#undef NV_NARROW
#undef RELU
#undef MASKED_BY_RELU
#undef LOADV
#undef STOREV
#undef BNVEC
#undef BNMASK
#undef NAME
#undef NAME2
