// A 16×16 transpose of 32-bit elements held in AVX-512 registers (the classic unpack / 128-bit
// lane shuffle network: 64 shuffles per 256 elements), shared by transpose.c and bf16.c.
#ifndef REPTILE_TRANSPOSE16_H
#define REPTILE_TRANSPOSE16_H
#if defined(__x86_64__)
#include <immintrin.h>

/// Transposes r in place: afterwards r[j] holds element j of every input row, rows in order.
static inline __attribute__((always_inline, target("avx512f"))) void reptile_transpose16_registers(__m512 r[16]) {
    __m512 t[16];
    // Interleave pairs of rows (32-bit), then pairs of pairs (64-bit): each 128-bit lane of
    // t[4q + j] now holds column 4·lane + j of rows 4q … 4q + 3.
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int q = 0; q < 16; q += 4) {
        r[q] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[q]), _mm512_castps_pd(t[q + 2])));
        r[q + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[q]), _mm512_castps_pd(t[q + 2])));
        r[q + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[q + 1]), _mm512_castps_pd(t[q + 3])));
        r[q + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[q + 1]), _mm512_castps_pd(t[q + 3])));
    }
    // Gather the 128-bit lanes: first lanes (0, 2) of row groups (0, 1) and (2, 3), then the rest.
    for (int j = 0; j < 4; j++) {
        t[j] = _mm512_shuffle_f32x4(r[j], r[4 + j], 0x88);       // lanes 0, 2 of group 0; 0, 2 of group 1
        t[4 + j] = _mm512_shuffle_f32x4(r[j], r[4 + j], 0xdd);   // lanes 1, 3 …
        t[8 + j] = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0x88);
        t[12 + j] = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0xdd);
    }
    for (int j = 0; j < 4; j++) {
        // Output row 4·lane + j: lane L of every group, groups in order.
        r[0 + j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0x88);
        r[8 + j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0xdd);
        r[4 + j] = _mm512_shuffle_f32x4(t[4 + j], t[12 + j], 0x88);
        r[12 + j] = _mm512_shuffle_f32x4(t[4 + j], t[12 + j], 0xdd);
    }
}
#endif
#endif
