// The forward pass and weight gradient of a 3×3 convolution over 3-channel images (Mini-ImageNet's
// first layer) or 1-channel images (Omniglot's), on AVX-512: each kernel row of an output pixel is
// 9 (or 3) contiguous floats of the zero-padded input, and the 12 pixels of a tile sit at fixed
// distances from one another, so every broadcast is an operand at a constant offset from one
// pointer: no table of row pointers to fill, none to load. Each output
// float is the tap kernels' sum (zero, then the 27 (or 9) products in kernel order, then the
// bias), each column's sum adds the rows in order, and each weight-gradient float sums its
// products in pixel order from zero, so the floats are those of the table-driven (or im2col) path.
#include "CReptileKernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define FL_TARGET __attribute__((target("avx512f,avx512vl,fma")))
#define FL_INLINE static inline __attribute__((always_inline)) FL_TARGET

// `rows` output pixels (12 or 1) of one image row, 32 columns: `a` is the first pixel's receptive
// field (kernel row 0) in the padded copy, `step` the floats between neighbouring pixels' fields,
// `row_len` the floats of a kernel row (3 × channels).
FL_INLINE void first_layer_tile(const float *a, long row_floats, const float *w, long ldw, const float *bias,
                                float *out, long ldo, __m512 *sum0, __m512 *sum1, const int rows, const long step,
                                const int row_len) {
    __m512 c0[12], c1[12];
#pragma clang loop unroll(full)
    for (int r = 0; r < rows; r++) { c0[r] = _mm512_setzero_ps(); c1[r] = _mm512_setzero_ps(); }
    // The kernel rows and their floats stay loops: unrolled, the compiler hoists the broadcasts
    // and spills the sums.
#pragma clang loop unroll(disable)
    for (int ky = 0; ky < 3; ky++) {
        const float *ar = a + ky * row_floats;
        const float *wr = w + ky * row_len * ldw;
#pragma clang loop unroll(disable)
        for (int k = 0; k < row_len; k++) {
            const __m512 b0 = _mm512_loadu_ps(wr + k * ldw), b1 = _mm512_loadu_ps(wr + k * ldw + 16);
#pragma clang loop unroll(full)
            for (int r = 0; r < rows; r++) {
                const __m512 x = _mm512_set1_ps(ar[r * step + k]);
                c0[r] = _mm512_fmadd_ps(x, b0, c0[r]);
                c1[r] = _mm512_fmadd_ps(x, b1, c1[r]);
            }
        }
    }
    const __m512 bias0 = bias ? _mm512_loadu_ps(bias) : _mm512_setzero_ps();
    const __m512 bias1 = bias ? _mm512_loadu_ps(bias + 16) : _mm512_setzero_ps();
#pragma clang loop unroll(full)
    for (int r = 0; r < rows; r++) {
        if (bias) { c0[r] = _mm512_add_ps(c0[r], bias0); c1[r] = _mm512_add_ps(c1[r], bias1); }
        _mm512_storeu_ps(out + r * ldo, c0[r]);
        _mm512_storeu_ps(out + r * ldo + 16, c1[r]);
        *sum0 = _mm512_add_ps(*sum0, c0[r]);
        *sum1 = _mm512_add_ps(*sum1, c1[r]);
    }
}

FL_INLINE void first_layer_rows(const float *padded, long batch, long padded_h, long padded_w, long out_h, long out_w,
                                long stride_y, const long step, const int channels, const float *weights, long out_c,
                                const float *bias, float *output, float *column_sums) {
    const long row_floats = padded_w * channels;
    for (long c = 0; c < out_c; c += 32) {
        __m512 sum0 = _mm512_setzero_ps(), sum1 = _mm512_setzero_ps();
        const float *b = bias ? bias + c : 0;
        for (long n = 0; n < batch; n++) {
            for (long oy = 0; oy < out_h; oy++) {
                const float *a = padded + (n * padded_h + oy * stride_y) * row_floats;
                float *o = output + (n * out_h + oy) * out_w * out_c + c;
                long x = 0;
                for (; x + 12 <= out_w; x += 12)
                    first_layer_tile(a + x * step, row_floats, weights + c, out_c, b, o + x * out_c, out_c, &sum0, &sum1,
                                     12, step, 3 * channels);
                for (; x < out_w; x++)
                    first_layer_tile(a + x * step, row_floats, weights + c, out_c, b, o + x * out_c, out_c, &sum0, &sum1,
                                     1, step, 3 * channels);
            }
        }
        if (column_sums) {
            _mm512_storeu_ps(column_sums + c, sum0);
            _mm512_storeu_ps(column_sums + c + 16, sum1);
        }
    }
}

// One function per channel count and stride, so that each inlines its constants.
#define FIRST_LAYER_FORWARD(NAME, STEP, CHANNELS)                                                                      \
    static FL_TARGET void NAME(const float *padded, long batch, long padded_h, long padded_w, long out_h, long out_w, \
                               long stride_y, const float *weights, long out_c, const float *bias, float *output,    \
                               float *column_sums) {                                                                  \
        first_layer_rows(padded, batch, padded_h, padded_w, out_h, out_w, stride_y, STEP, CHANNELS, weights, out_c,   \
                         bias, output, column_sums);                                                                   \
    }
FIRST_LAYER_FORWARD(first_layer_stride1, 3, 3)
FIRST_LAYER_FORWARD(first_layer_stride2, 6, 3)
FIRST_LAYER_FORWARD(first_layer_one_channel_stride1, 1, 1)
FIRST_LAYER_FORWARD(first_layer_one_channel_stride2, 2, 1)
#undef FIRST_LAYER_FORWARD

// The weight gradient's sums of nine kernel floats and 32 columns over `count` output pixels from
// pixel m0 on: dw[k][c] = Σ padded-input[k] · dy[c], each sum from zero in pixel order (as the outer
// kernels take them), then written or added to dw. With 3 channels the nine floats are one kernel
// row (three passes); with 1 channel all three rows (one pass).
FL_INLINE void first_layer_gradient_rows(const float *padded, long padded_h, long padded_w, long out_h, long out_w,
                                         long stride_y, const long step, const int channels, long m0, long count,
                                         const float *dy, long out_c, float *dw, int accumulate) {
    const long row_floats = padded_w * channels;
    const int row_len = 3 * channels, rows_per_pass = 9 / row_len;
    for (long ky = 0; ky < 3; ky += rows_per_pass) {
        for (long c = 0; c < out_c; c += 32) {
            __m512 s0[9], s1[9];
#pragma clang loop unroll(full)
            for (int k = 0; k < 9; k++) { s0[k] = _mm512_setzero_ps(); s1[k] = _mm512_setzero_ps(); }
            long n = m0 / (out_h * out_w), oy = m0 / out_w % out_h, ox = m0 % out_w;
            const float *g = dy + c;
            for (long left = count; left > 0;) {
                const long run = out_w - ox < left ? out_w - ox : left;
                const float *a = padded + (n * padded_h + oy * stride_y + ky) * row_floats + ox * step;
                for (long x = 0; x < run; x++, a += step, g += out_c) {
                    const __m512 b0 = _mm512_loadu_ps(g), b1 = _mm512_loadu_ps(g + 16);
#pragma clang loop unroll(full)
                    for (int k = 0; k < 9; k++) {
                        const __m512 v = _mm512_set1_ps(a[k / row_len * row_floats + k % row_len]);
                        s0[k] = _mm512_fmadd_ps(v, b0, s0[k]);
                        s1[k] = _mm512_fmadd_ps(v, b1, s1[k]);
                    }
                }
                left -= run;
                ox = 0;
                if (++oy == out_h) { oy = 0; n++; }
            }
#pragma clang loop unroll(full)
            for (int k = 0; k < 9; k++) {
                float *d = dw + (ky * row_len + k) * out_c + c;
                if (accumulate) {
                    s0[k] = _mm512_add_ps(_mm512_loadu_ps(d), s0[k]);
                    s1[k] = _mm512_add_ps(_mm512_loadu_ps(d + 16), s1[k]);
                }
                _mm512_storeu_ps(d, s0[k]);
                _mm512_storeu_ps(d + 16, s1[k]);
            }
        }
    }
}

#define FIRST_LAYER_GRADIENT(NAME, STEP, CHANNELS)                                                                   \
    static FL_TARGET void NAME(const float *padded, long padded_h, long padded_w, long out_h, long out_w,          \
                               long stride_y, long m0, long count, const float *dy, long out_c, float *dw,         \
                               int accumulate) {                                                                   \
        first_layer_gradient_rows(padded, padded_h, padded_w, out_h, out_w, stride_y, STEP, CHANNELS, m0, count, dy, \
                                  out_c, dw, accumulate);                                                          \
    }
FIRST_LAYER_GRADIENT(first_layer_gradient_stride1, 3, 3)
FIRST_LAYER_GRADIENT(first_layer_gradient_stride2, 6, 3)
FIRST_LAYER_GRADIENT(first_layer_one_channel_gradient_stride1, 1, 1)
FIRST_LAYER_GRADIENT(first_layer_one_channel_gradient_stride2, 2, 1)
#undef FIRST_LAYER_GRADIENT

// Whether the kernels above serve this call: AVX-512 chosen, 32·j outputs, stride 1 or 2 across.
static int first_layer_applies(long out_c, long stride_x) {
    return reptile_microkernels_selected()->lanes == 16 && out_c % 32 == 0 && (stride_x == 1 || stride_x == 2);
}
#endif

int reptile_first_layer_applies(long out_c, long stride_x) {
#if defined(__x86_64__)
    return first_layer_applies(out_c, stride_x);
#else
    (void)out_c; (void)stride_x;
    return 0;
#endif
}

int reptile_first_layer_forward(const float *padded, long batch, long padded_h, long padded_w, long out_h, long out_w,
                                long stride_y, long stride_x, long channels, const float *weights, long out_c,
                                const float *bias, float *output, float *column_sums) {
#if defined(__x86_64__)
    if (!first_layer_applies(out_c, stride_x) || (channels != 1 && channels != 3)) return 0;
    if (channels == 3) {
        (stride_x == 1 ? first_layer_stride1 : first_layer_stride2)(padded, batch, padded_h, padded_w, out_h, out_w,
                                                                   stride_y, weights, out_c, bias, output, column_sums);
    } else {
        (stride_x == 1 ? first_layer_one_channel_stride1 : first_layer_one_channel_stride2)(
            padded, batch, padded_h, padded_w, out_h, out_w, stride_y, weights, out_c, bias, output, column_sums);
    }
    return 1;
#else
    (void)padded; (void)batch; (void)padded_h; (void)padded_w; (void)out_h; (void)out_w; (void)stride_y;
    (void)stride_x; (void)channels; (void)weights; (void)out_c; (void)bias; (void)output; (void)column_sums;
    return 0;
#endif
}

int reptile_first_layer_weight_gradient(const float *padded, long padded_h, long padded_w, long out_h, long out_w,
                                        long stride_y, long stride_x, long channels, long m0, long count,
                                        const float *dy, long out_c, float *dw, int accumulate) {
#if defined(__x86_64__)
    if (!first_layer_applies(out_c, stride_x) || (channels != 1 && channels != 3)) return 0;
    if (channels == 3) {
        (stride_x == 1 ? first_layer_gradient_stride1 : first_layer_gradient_stride2)(
            padded, padded_h, padded_w, out_h, out_w, stride_y, m0, count, dy, out_c, dw, accumulate);
    } else {
        (stride_x == 1 ? first_layer_one_channel_gradient_stride1 : first_layer_one_channel_gradient_stride2)(
            padded, padded_h, padded_w, out_h, out_w, stride_y, m0, count, dy, out_c, dw, accumulate);
    }
    return 1;
#else
    (void)padded; (void)padded_h; (void)padded_w; (void)out_h; (void)out_w; (void)stride_y; (void)stride_x;
    (void)channels; (void)m0; (void)count; (void)dy; (void)out_c; (void)dw; (void)accumulate;
    return 0;
#endif
}
