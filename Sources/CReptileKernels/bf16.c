// bf16 operands for the bf16 rows kernels: rounding fp32 to bf16 with AVX512-BF16's
// VCVTNEPS2BF16 (round to nearest even), packed two to a 32-bit word as VDPBF16PS reads them.
#include "CReptileKernels.h"
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

extern const reptile_microkernels reptile_microkernels_avx512bf16;

const reptile_microkernels *reptile_bf16_kernels_available(void) {
    __builtin_cpu_init();
    int ok = __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512f") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma");
    return ok ? &reptile_microkernels_avx512bf16 : NULL;
}

#define BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,avx2,fma")))

BF16_TARGET void reptile_bf16_pack(const float *x, long count, float *words) {
    long i = 0;
    for (; i + 32 <= count; i += 32) {
        __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(x + i));
        _mm512_storeu_si512((void *)(words + i / 2), (__m512i)v);
    }
    for (; i < count; i += 16) {  // the last 16 or fewer (count is even)
        long n = count - i < 16 ? count - i : 16;
        __mmask16 m = (__mmask16)((1u << n) - 1);
        __m256bh v = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, x + i));
        _mm256_mask_storeu_epi16((void *)(words + i / 2), m, (__m256i)v);
    }
}

BF16_TARGET void reptile_bf16_pack_rows(const float *x, long pairs, long columns, long ld, float *words) {
    for (long p = 0; p < pairs; p++) {
        const float *even = x + 2 * p * ld, *odd = even + ld;
        float *out = words + p * columns;
        for (long c = 0; c < columns; c += 16) {
            long n = columns - c < 16 ? columns - c : 16;
            __mmask16 m = (__mmask16)((1u << n) - 1);
            __m512i lo = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, even + c)));
            __m512i hi = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, odd + c)));
            _mm512_mask_storeu_epi32(out + c, m, _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16)));
        }
    }
}
BF16_TARGET void reptile_bf16_pack_two(const float *x0, const float *x1, long count, float *words) {
    for (long i = 0; i < count; i += 16) {
        long n = count - i < 16 ? count - i : 16;
        __mmask16 m = (__mmask16)((1u << n) - 1);
        __m512i lo = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, x0 + i)));
        __m512i w = lo;
        if (x1) {
            __m512i hi = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, x1 + i)));
            w = _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16));
        }
        _mm512_mask_storeu_epi32(words + i, m, w);
    }
}
#else
const reptile_microkernels *reptile_bf16_kernels_available(void) { return NULL; }
void reptile_bf16_pack_two(const float *x0, const float *x1, long count, float *words) {
    (void)x0; (void)x1; (void)count; (void)words;
}
void reptile_bf16_pack(const float *x, long count, float *words) { (void)x; (void)count; (void)words; }
void reptile_bf16_pack_rows(const float *x, long pairs, long columns, long ld, float *words) {
    (void)x; (void)pairs; (void)columns; (void)ld; (void)words;
}
#endif

float reptile_bf16_round(float x) {
    unsigned u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) {
        u = (u | 0x00400000u) & 0xffff0000u;  // NaN stays a (quiet) NaN
    } else {
        u += 0x7fffu + ((u >> 16) & 1u);
        u &= 0xffff0000u;
    }
    memcpy(&x, &u, sizeof x);
    return x;
}
