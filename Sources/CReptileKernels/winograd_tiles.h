// Winograd F(4×4, 3×3) tile transforms, included once per instruction set by winograd.c with SUFFIX,
// TARGET and VW (floats per vector) defined. Channels (a multiple of 16) are taken VW at a time;
// every value is computed with the operations, in the order, of Winograd.swift's inputTransform and
// outputTransform (nothing fused), so every instruction set gives the same floats.

#define NAME2(a, b) a##_##b
#define NAME(a, b) NAME2(a, b)
#define VEC NAME(wvec, SUFFIX)

typedef float VEC __attribute__((vector_size(VW * 4), aligned(4)));

// Prefetches the pixels that the tile two further along reads or writes, while this one computes:
// tiles are `span` pixels wide and high (6 for input patches, 4 for output tiles) and start at
// 4·t + `offset`; past the row's last tile the next tile row follows. On the same row only the
// columns past the next tile's are new. Rows and columns are clipped to the image.
static inline __attribute__((always_inline)) void NAME(prefetch_two_ahead, SUFFIX)(const float *image, long h, long w,
                                                                                 long channels, long y0, long x0,
                                                                                 long span, long offset, int write) {
    const long tiles_x = (w + 3) / 4;
    long tx = (x0 - offset) / 4 + 2, y = y0;
    int wrapped = 0;
    if (tx >= tiles_x) { tx -= tiles_x; y += 4; wrapped = 1; }
    const long x = 4 * tx + offset;
    long x_from = wrapped ? x : x + span - 4, x_to = x + span;
    if (x_from < 0) x_from = 0;
    if (x_to > w) x_to = w;
    if (x_from >= x_to) return;
    const long bytes = (x_to - x_from) * channels * 4;
    for (long r = y < 0 ? 0 : y; r < y + span && r < h; r++) {
        const char *row = (const char *)(image + (r * w + x_from) * channels);
        for (long byte = 0; byte < bytes; byte += 64) {
            if (write) __builtin_prefetch(row + byte, 1);
            else __builtin_prefetch(row + byte);
        }
    }
}

static TARGET void NAME(winograd_input_tile, SUFFIX)(const float *restrict image, long h, long w, long channels, long y0,
                                                     long x0, float *restrict v, long plane) {
    const int inside = y0 >= 0 && y0 + 5 < h && x0 >= 0 && x0 + 5 < w;
    const float *at[6][6];
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 6; j++) {
            const long y = y0 + i, x = x0 + j;
            at[i][j] = inside || (y >= 0 && y < h && x >= 0 && x < w) ? image + (y * w + x) * channels : 0;
        }
    const VEC zero = {0}, two = zero + 2.0f, four = zero + 4.0f, five = zero + 5.0f;
    NAME(prefetch_two_ahead, SUFFIX)(image, h, w, channels, y0, x0, 6, -1, 0);
    for (long c = 0; c < channels; c += VW) {
        VEC s[6][6];  // s[row of Bᵀ d][column j]
        for (int j = 0; j < 6; j++) {
            VEC d[6];
            for (int i = 0; i < 6; i++) d[i] = at[i][j] ? *(const VEC *)(at[i][j] + c) : zero;
            const VEC a = d[4] - four * d[2], b = d[3] - four * d[1];
            const VEC cc = d[4] - d[2], e = two * (d[3] - d[1]);
            s[0][j] = four * d[0] - five * d[2] + d[4];
            s[1][j] = a + b;
            s[2][j] = a - b;
            s[3][j] = cc + e;
            s[4][j] = cc - e;
            s[5][j] = four * d[1] - five * d[3] + d[5];
        }
        for (int i = 0; i < 6; i++) {
            const VEC *d = s[i];
            const VEC a = d[4] - four * d[2], b = d[3] - four * d[1];
            const VEC cc = d[4] - d[2], e = two * (d[3] - d[1]);
            float *base = v + 6 * i * plane + c;
            *(VEC *)(base) = four * d[0] - five * d[2] + d[4];
            *(VEC *)(base + plane) = a + b;
            *(VEC *)(base + 2 * plane) = a - b;
            *(VEC *)(base + 3 * plane) = cc + e;
            *(VEC *)(base + 4 * plane) = cc - e;
            *(VEC *)(base + 5 * plane) = four * d[1] - five * d[3] + d[5];
        }
    }
}

static TARGET void NAME(winograd_output_tile, SUFFIX)(const float *restrict m, long plane, long channels,
                                                      const float *restrict bias, float *restrict image, long h, long w,
                                                      long y0, long x0) {
    const long rows = h - y0 < 4 ? h - y0 : 4, columns = w - x0 < 4 ? w - x0 : 4;
    const VEC zero = {0}, two = zero + 2.0f, four = zero + 4.0f, eight = zero + 8.0f;
    NAME(prefetch_two_ahead, SUFFIX)(image, h, w, channels, y0, x0, 4, 0, 1);
    for (long c = 0; c < channels; c += VW) {
        VEC t[4][6];  // t = Aᵀ m, column by column
        for (int j = 0; j < 6; j++) {
            const VEC m0 = *(const VEC *)(m + j * plane + c), m1 = *(const VEC *)(m + (6 + j) * plane + c);
            const VEC m2 = *(const VEC *)(m + (12 + j) * plane + c), m3 = *(const VEC *)(m + (18 + j) * plane + c);
            const VEC m4 = *(const VEC *)(m + (24 + j) * plane + c), m5 = *(const VEC *)(m + (30 + j) * plane + c);
            const VEC p12 = m1 + m2, q12 = m1 - m2, p34 = m3 + m4, q34 = m3 - m4;
            t[0][j] = m0 + p12 + p34;
            t[1][j] = q12 + two * q34;
            t[2][j] = p12 + four * p34;
            t[3][j] = q12 + eight * q34 + m5;
        }
        const VEC b = bias ? *(const VEC *)(bias + c) : zero;
        for (int r = 0; r < rows; r++) {
            const VEC *e = t[r];
            const VEC p12 = e[1] + e[2], q12 = e[1] - e[2], p34 = e[3] + e[4], q34 = e[3] - e[4];
            const VEC y[4] = {e[0] + p12 + p34, q12 + two * q34, p12 + four * p34, q12 + eight * q34 + e[5]};
            float *base = image + ((y0 + r) * w + x0) * channels + c;
            for (int k = 0; k < columns; k++) *(VEC *)(base + k * channels) = y[k] + b;
        }
    }
}

// Z = A e Aᵀ of the 4×4 output-gradient tile at (y0, x0) (zeros past the last row or column), to
// z[ξ·plane + c]: the operations of Winograd.swift's outputGradientTransform.
static TARGET void NAME(winograd_gradient_tile, SUFFIX)(const float *restrict image, long h, long w, long channels,
                                                        long y0, long x0, float *restrict z, long plane) {
    const long rows = h - y0 < 4 ? h - y0 : 4, columns = w - x0 < 4 ? w - x0 : 4;
    const VEC zero = {0}, two = zero + 2.0f, four = zero + 4.0f, eight = zero + 8.0f;
    NAME(prefetch_two_ahead, SUFFIX)(image, h, w, channels, y0, x0, 4, 0, 0);
    for (long c = 0; c < channels; c += VW) {
        VEC t[4][6];  // t[j] = A e for column j
        for (int j = 0; j < 4; j++) {
            VEC e[4];
            for (int i = 0; i < 4; i++) e[i] = i < rows && j < columns ? *(const VEC *)(image + ((y0 + i) * w + x0 + j) * channels + c) : zero;
            const VEC even = e[0] + e[2], odd = e[1] + e[3];
            const VEC even4 = e[0] + four * e[2], odd2 = two * e[1] + eight * e[3];
            t[j][0] = e[0]; t[j][1] = even + odd; t[j][2] = even - odd;
            t[j][3] = even4 + odd2; t[j][4] = even4 - odd2; t[j][5] = e[3];
        }
        for (int i = 0; i < 6; i++) {
            const VEC e0 = t[0][i], e1 = t[1][i], e2 = t[2][i], e3 = t[3][i];
            const VEC even = e0 + e2, odd = e1 + e3;
            const VEC even4 = e0 + four * e2, odd2 = two * e1 + eight * e3;
            float *base = z + 6 * i * plane + c;
            *(VEC *)(base) = e0;
            *(VEC *)(base + plane) = even + odd;
            *(VEC *)(base + 2 * plane) = even - odd;
            *(VEC *)(base + 3 * plane) = even4 + odd2;
            *(VEC *)(base + 4 * plane) = even4 - odd2;
            *(VEC *)(base + 5 * plane) = e3;
        }
    }
}

#undef VEC
#undef NAME
#undef NAME2
