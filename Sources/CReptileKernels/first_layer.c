// The forward pass and weight gradient of a 3×3 convolution over 3-channel images (Mini-ImageNet's
// first layer), on AVX-512: each kernel row of an output pixel is 9 contiguous floats of the
// zero-padded input, and the 12 pixels of a tile sit at fixed distances from one another, so every
// broadcast is an operand at a constant offset from one pointer: no table of row pointers to fill,
// none to load. Each output float is the tap kernels' sum (zero, then the 27 products in kernel
// order, then the bias), each column's sum adds the rows in order, and each weight-gradient float
// sums its products in pixel order from zero, so the floats are those of the table-driven path.
#include "CReptileKernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define FL_TARGET __attribute__((target("avx512f,avx512vl,fma")))
#define FL_INLINE static inline __attribute__((always_inline)) FL_TARGET

// `rows` output pixels (12 or 1) of one image row, 32 columns: `a` is the first pixel's receptive
// field (kernel row 0) in the padded copy, `step` the floats between neighbouring pixels' fields.
FL_INLINE void first_layer_tile(const float *a, long row_floats, const float *w, long ldw, const float *bias,
                                float *out, long ldo, __m512 *sum0, __m512 *sum1, const int rows, const long step) {
    __m512 c0[12], c1[12];
#pragma clang loop unroll(full)
    for (int r = 0; r < rows; r++) { c0[r] = _mm512_setzero_ps(); c1[r] = _mm512_setzero_ps(); }
    // The kernel rows and their floats stay loops: unrolled, the compiler hoists the broadcasts
    // and spills the sums.
#pragma clang loop unroll(disable)
    for (int ky = 0; ky < 3; ky++) {
        const float *ar = a + ky * row_floats;
        const float *wr = w + ky * 9 * ldw;
#pragma clang loop unroll(disable)
        for (int k = 0; k < 9; k++) {
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
                                long stride_y, const long step, const float *weights, long out_c, const float *bias,
                                float *output, float *column_sums) {
    const long row_floats = padded_w * 3;
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
                                     12, step);
                for (; x < out_w; x++)
                    first_layer_tile(a + x * step, row_floats, weights + c, out_c, b, o + x * out_c, out_c, &sum0, &sum1,
                                     1, step);
            }
        }
        if (column_sums) {
            _mm512_storeu_ps(column_sums + c, sum0);
            _mm512_storeu_ps(column_sums + c + 16, sum1);
        }
    }
}

static FL_TARGET void first_layer_stride1(const float *padded, long batch, long padded_h, long padded_w, long out_h,
                                          long out_w, long stride_y, const float *weights, long out_c,
                                          const float *bias, float *output, float *column_sums) {
    first_layer_rows(padded, batch, padded_h, padded_w, out_h, out_w, stride_y, 3, weights, out_c, bias, output,
                     column_sums);
}

static FL_TARGET void first_layer_stride2(const float *padded, long batch, long padded_h, long padded_w, long out_h,
                                          long out_w, long stride_y, const float *weights, long out_c,
                                          const float *bias, float *output, float *column_sums) {
    first_layer_rows(padded, batch, padded_h, padded_w, out_h, out_w, stride_y, 6, weights, out_c, bias, output,
                     column_sums);
}

// The weight gradient's sums of one kernel row `ky` and 32 columns over `count` output pixels from
// pixel m0 on: dw[k][c] = Σ padded-input[k] · dy[c], each sum from zero in pixel order (as the outer
// kernels take them), then written or added to dw.
FL_INLINE void first_layer_gradient_rows(const float *padded, long padded_h, long padded_w, long out_h, long out_w,
                                         long stride_y, const long step, long m0, long count, const float *dy,
                                         long out_c, float *dw, int accumulate) {
    const long row_floats = padded_w * 3;
    for (long ky = 0; ky < 3; ky++) {
        for (long c = 0; c < out_c; c += 32) {
            __m512 s0[9], s1[9];
#pragma clang loop unroll(full)
            for (int k = 0; k < 9; k++) { s0[k] = _mm512_setzero_ps(); s1[k] = _mm512_setzero_ps(); }
            long n = m0 / (out_h * out_w), oy = m0 / out_w % out_h, ox = m0 % out_w;
            const float *g = dy + c;
            for (long left = count; left > 0;) {
                const long run = out_w - ox < left ? out_w - ox : left;
                const float *a = padded + ((n * padded_h + oy * stride_y + ky) * padded_w) * 3 + ox * step;
                for (long x = 0; x < run; x++, a += step, g += out_c) {
                    const __m512 b0 = _mm512_loadu_ps(g), b1 = _mm512_loadu_ps(g + 16);
#pragma clang loop unroll(full)
                    for (int k = 0; k < 9; k++) {
                        const __m512 v = _mm512_set1_ps(a[k]);
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
                float *d = dw + (ky * 9 + k) * out_c + c;
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

static FL_TARGET void first_layer_gradient_stride1(const float *padded, long padded_h, long padded_w, long out_h,
                                                   long out_w, long stride_y, long m0, long count, const float *dy,
                                                   long out_c, float *dw, int accumulate) {
    first_layer_gradient_rows(padded, padded_h, padded_w, out_h, out_w, stride_y, 3, m0, count, dy, out_c, dw,
                              accumulate);
}

static FL_TARGET void first_layer_gradient_stride2(const float *padded, long padded_h, long padded_w, long out_h,
                                                   long out_w, long stride_y, long m0, long count, const float *dy,
                                                   long out_c, float *dw, int accumulate) {
    first_layer_gradient_rows(padded, padded_h, padded_w, out_h, out_w, stride_y, 6, m0, count, dy, out_c, dw,
                              accumulate);
}

// Whether the kernels above serve this call: AVX-512 chosen, 32·j outputs, stride 1 or 2 across.
static int first_layer_applies(long out_c, long stride_x) {
    return reptile_microkernels_selected()->lanes == 16 && out_c % 32 == 0 && (stride_x == 1 || stride_x == 2);
}
#endif

int reptile_first_layer_forward(const float *padded, long batch, long padded_h, long padded_w, long out_h, long out_w,
                                long stride_y, long stride_x, const float *weights, long out_c, const float *bias,
                                float *output, float *column_sums) {
#if defined(__x86_64__)
    if (!first_layer_applies(out_c, stride_x)) return 0;
    (stride_x == 1 ? first_layer_stride1 : first_layer_stride2)(padded, batch, padded_h, padded_w, out_h, out_w,
                                                               stride_y, weights, out_c, bias, output, column_sums);
    return 1;
#else
    (void)padded; (void)batch; (void)padded_h; (void)padded_w; (void)out_h; (void)out_w; (void)stride_y;
    (void)stride_x; (void)weights; (void)out_c; (void)bias; (void)output; (void)column_sums;
    return 0;
#endif
}

int reptile_first_layer_weight_gradient(const float *padded, long padded_h, long padded_w, long out_h, long out_w,
                                        long stride_y, long stride_x, long m0, long count, const float *dy, long out_c,
                                        float *dw, int accumulate) {
#if defined(__x86_64__)
    if (!first_layer_applies(out_c, stride_x)) return 0;
    (stride_x == 1 ? first_layer_gradient_stride1 : first_layer_gradient_stride2)(
        padded, padded_h, padded_w, out_h, out_w, stride_y, m0, count, dy, out_c, dw, accumulate);
    return 1;
#else
    (void)padded; (void)padded_h; (void)padded_w; (void)out_h; (void)out_w; (void)stride_y; (void)stride_x;
    (void)m0; (void)count; (void)dy; (void)out_c; (void)dw; (void)accumulate;
    return 0;
#endif
}
