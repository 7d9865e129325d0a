// bf16 operands for the bf16 rows kernels: rounding fp32 to bf16 with AVX512-BF16's
// VCVTNEPS2BF16 (round to nearest even), packed two to a 32-bit word as VDPBF16PS reads them.
#include "CReptileKernels.h"
#include <string.h>
#include "transpose16.h"

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

// Words interleaving 16 floats of each of two rows: one VCVTNE2PS2BF16 rounds both into the two
// halves of a register and one VPERMW pairs them up.
static inline __attribute__((always_inline)) BF16_TARGET __m512i interleave16(const float *even, const float *odd,
                                                                             __mmask16 m) {
    const __m512i pairs = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8,
                                           23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    const __m512 high = odd ? _mm512_maskz_loadu_ps(m, odd) : _mm512_setzero_ps();
    const __m512bh both = _mm512_cvtne2ps_pbh(high, _mm512_maskz_loadu_ps(m, even));
    return _mm512_permutexvar_epi16(pairs, (__m512i)both);
}

BF16_TARGET void reptile_bf16_pack_rows(const float *x, long pairs, long columns, long ld, float *words) {
    for (long p = 0; p < pairs; p++) {
        const float *even = x + 2 * p * ld, *odd = even + ld;
        float *out = words + p * columns;
        for (long c = 0; c < columns; c += 16) {
            long n = columns - c < 16 ? columns - c : 16;
            __mmask16 m = (__mmask16)((1u << n) - 1);
            _mm512_mask_storeu_epi32(out + c, m, interleave16(even + c, odd + c, m));
        }
    }
}
BF16_TARGET void reptile_bf16_pack_pairs(const float *const *rows, long count, long depth, float *words) {
    for (long p = 0; 2 * p < count; p++) {
        const float *even = rows[2 * p], *odd = 2 * p + 1 < count ? rows[2 * p + 1] : 0;
        float *out = words + p * depth;
        for (long i = 0; i < depth; i += 16) {
            long n = depth - i < 16 ? depth - i : 16;
            __mmask16 m = (__mmask16)((1u << n) - 1);
            _mm512_mask_storeu_epi32(out + i, m, interleave16(even + i, odd ? odd + i : 0, m));
        }
    }
}

// Blocks of 16 rows × 16 column pairs: each row's pairs rounded into one register of words, then
// the 16 registers transposed, so the weights are read and written once.
BF16_TARGET void reptile_bf16_pack_transposed(const float *x, long rows, long columns, float *words) {
    const long pairs = columns / 2;
    for (long i0 = 0; i0 < rows; i0 += 16) {
        const long nr = rows - i0 < 16 ? rows - i0 : 16;
        const __mmask16 row_mask = (__mmask16)((1u << nr) - 1);
        for (long p0 = 0; p0 < pairs; p0 += 16) {
            const long np = pairs - p0 < 16 ? pairs - p0 : 16, nc = 2 * np;
            const __mmask16 low = (__mmask16)(nc >= 16 ? 0xffffu : (1u << nc) - 1);
            const __mmask16 high = (__mmask16)(nc > 16 ? (1u << (nc - 16)) - 1 : 0);
            __m512 r[16];
            for (long i = 0; i < 16; i++) {
                if (i < nr) {
                    const float *row = x + (i0 + i) * columns + 2 * p0;
                    __m512bh v = _mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(high, row + 16), _mm512_maskz_loadu_ps(low, row));
                    r[i] = _mm512_castsi512_ps((__m512i)v);
                } else {
                    r[i] = _mm512_setzero_ps();
                }
            }
            reptile_transpose16_registers(r);
            for (long j = 0; j < np; j++) _mm512_mask_storeu_ps(words + (p0 + j) * rows + i0, row_mask, r[j]);
        }
    }
}
#else
const reptile_microkernels *reptile_bf16_kernels_available(void) { return NULL; }
void reptile_bf16_pack(const float *x, long count, float *words) { (void)x; (void)count; (void)words; }
void reptile_bf16_pack_transposed(const float *x, long rows, long columns, float *words) {
    (void)x; (void)rows; (void)columns; (void)words;
}
void reptile_bf16_pack_pairs(const float *const *rows, long count, long depth, float *words) {
    (void)rows; (void)count; (void)depth; (void)words;
}
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
