// The columns of a dense product that the 16-wide microkernels leave over: a 5- or 20-way
// classifier's last columns, the sine model's single output. Each sum adds its rounded products in
// k order (no fused multiply-add), so every vector width gives the floats of the plain loop; the
// vectors only run several of those sums side by side.
#include "CReptileKernels.h"

#pragma clang fp contract(off)

static void dense_columns_generic(const float *a, long lda, const float *b, long ldb, float *c, long ldc, long m,
                                  long k, long j0, long n, const float *bias, int accumulate) {
    for (long i = 0; i < m; i++) {
        const float *ai = a + i * lda;
        for (long j = j0; j < n; j++) {
            float s = 0;
            for (long kk = 0; kk < k; kk++) s += ai[kk] * b[kk * ldb + j];
            if (bias) s += bias[j];
            if (accumulate) c[i * ldc + j] += s; else c[i * ldc + j] = s;
        }
    }
}

static void dense_columns_transposing_a_generic(const float *a, long lda, const float *b, long ldb, float *c, long ldc,
                                                long m, long k, long j0, long n, int accumulate) {
    for (long i = 0; i < m; i++) {
        for (long j = j0; j < n; j++) {
            float s = 0;
            for (long kk = 0; kk < k; kk++) s += a[kk * lda + i] * b[kk * ldb + j];
            if (accumulate) c[i * ldc + j] += s; else c[i * ldc + j] = s;
        }
    }
}

#if defined(__x86_64__)
#include <immintrin.h>
#define AVX512 __attribute__((target("avx512f")))

// Lanes are the leftover columns (fewer than 16): four rows at a time, each row's sums in one register.
static AVX512 void dense_columns_avx512(const float *a, long lda, const float *b, long ldb, float *c, long ldc, long m,
                                        long k, long j0, long n, const float *bias, int accumulate) {
    const __mmask16 mask = (__mmask16)((1u << (n - j0)) - 1);
    const __m512 biasRow = bias ? _mm512_maskz_loadu_ps(mask, bias + j0) : _mm512_setzero_ps();
    long i = 0;
    for (; i + 4 <= m; i += 4) {
        __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
        const float *a0 = a + i * lda;
        for (long kk = 0; kk < k; kk++) {
            const __m512 row = _mm512_maskz_loadu_ps(mask, b + kk * ldb + j0);
            s0 = _mm512_add_ps(s0, _mm512_mul_ps(_mm512_set1_ps(a0[kk]), row));
            s1 = _mm512_add_ps(s1, _mm512_mul_ps(_mm512_set1_ps(a0[lda + kk]), row));
            s2 = _mm512_add_ps(s2, _mm512_mul_ps(_mm512_set1_ps(a0[2 * lda + kk]), row));
            s3 = _mm512_add_ps(s3, _mm512_mul_ps(_mm512_set1_ps(a0[3 * lda + kk]), row));
        }
        __m512 sums[4] = {s0, s1, s2, s3};
        for (int q = 0; q < 4; q++) {
            __m512 s = bias ? _mm512_add_ps(sums[q], biasRow) : sums[q];
            float *ci = c + (i + q) * ldc + j0;
            if (accumulate) s = _mm512_add_ps(_mm512_maskz_loadu_ps(mask, ci), s);
            _mm512_mask_storeu_ps(ci, mask, s);
        }
    }
    for (; i < m; i++) {
        __m512 s = _mm512_setzero_ps();
        for (long kk = 0; kk < k; kk++)
            s = _mm512_add_ps(s, _mm512_mul_ps(_mm512_set1_ps(a[i * lda + kk]), _mm512_maskz_loadu_ps(mask, b + kk * ldb + j0)));
        if (bias) s = _mm512_add_ps(s, biasRow);
        float *ci = c + i * ldc + j0;
        if (accumulate) s = _mm512_add_ps(_mm512_maskz_loadu_ps(mask, ci), s);
        _mm512_mask_storeu_ps(ci, mask, s);
    }
}

// Lanes are 16 consecutive rows of C (columns of A, contiguous in each row of A); one register
// per leftover column.
static AVX512 void dense_columns_transposing_a_avx512(const float *a, long lda, const float *b, long ldb, float *c,
                                                      long ldc, long m, long k, long j0, long n, int accumulate) {
    float out[16];
    for (long i0 = 0; i0 < m; i0 += 16) {
        const long lanes = m - i0 < 16 ? m - i0 : 16;
        const __mmask16 mask = (__mmask16)((1u << lanes) - 1);
        for (long j = j0; j < n; j++) {
            __m512 s = _mm512_setzero_ps();
            for (long kk = 0; kk < k; kk++)
                s = _mm512_add_ps(s, _mm512_mul_ps(_mm512_maskz_loadu_ps(mask, a + kk * lda + i0), _mm512_set1_ps(b[kk * ldb + j])));
            _mm512_storeu_ps(out, s);
            for (long l = 0; l < lanes; l++) {
                float *cij = c + (i0 + l) * ldc + j;
                if (accumulate) *cij += out[l]; else *cij = out[l];
            }
        }
    }
}
#endif

void reptile_dense_columns(const float *a, long lda, const float *b, long ldb, float *c, long ldc, long m, long k,
                           long j0, long n, const float *bias, int accumulate) {
#if defined(__x86_64__)
    if (reptile_microkernels_selected()->lanes == 16 && n - j0 < 16) {
        dense_columns_avx512(a, lda, b, ldb, c, ldc, m, k, j0, n, bias, accumulate);
        return;
    }
#endif
    dense_columns_generic(a, lda, b, ldb, c, ldc, m, k, j0, n, bias, accumulate);
}

void reptile_dense_columns_transposing_a(const float *a, long lda, const float *b, long ldb, float *c, long ldc, long m,
                                         long k, long j0, long n, int accumulate) {
#if defined(__x86_64__)
    if (reptile_microkernels_selected()->lanes == 16) {
        dense_columns_transposing_a_avx512(a, lda, b, ldb, c, ldc, m, k, j0, n, accumulate);
        return;
    }
#endif
    dense_columns_transposing_a_generic(a, lda, b, ldb, c, ldc, m, k, j0, n, accumulate);
}
