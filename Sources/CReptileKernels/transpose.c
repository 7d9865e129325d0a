// Matrix transposition in 16×16 blocks held in AVX-512 registers (the classic unpack / 128-bit
// lane shuffle network: 64 shuffles per 256 floats), with a plain blocked loop elsewhere. Swift's
// generic SIMD shuffles compile to spills and inserts here, four times slower.
#include "CReptileKernels.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define AVX512 __attribute__((target("avx512f")))

static inline AVX512 void transpose_block16(const float *a, long a_stride, float *out, long out_stride) {
    __m512 r[16], t[16];
    for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_ps(a + i * a_stride);
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
        _mm512_storeu_ps(out + (0 + j) * out_stride, _mm512_shuffle_f32x4(t[j], t[8 + j], 0x88));
        _mm512_storeu_ps(out + (8 + j) * out_stride, _mm512_shuffle_f32x4(t[j], t[8 + j], 0xdd));
        _mm512_storeu_ps(out + (4 + j) * out_stride, _mm512_shuffle_f32x4(t[4 + j], t[12 + j], 0x88));
        _mm512_storeu_ps(out + (12 + j) * out_stride, _mm512_shuffle_f32x4(t[4 + j], t[12 + j], 0xdd));
    }
}
#endif

#if defined(__x86_64__)
static AVX512 void transpose_blocks(const float *restrict a, long rows, long columns, float *restrict out,
                                    long full_rows, long full_columns) {
    for (long r0 = 0; r0 < full_rows; r0 += 16)
        for (long c0 = 0; c0 < full_columns; c0 += 16)
            transpose_block16(a + r0 * columns + c0, columns, out + c0 * rows + r0, rows);
}
#endif

void reptile_transpose(const float *restrict a, long rows, long columns, float *restrict out) {
    long full_rows = 0, full_columns = 0;
#if defined(__x86_64__)
    if (reptile_microkernels_selected()->lanes == 16) {
        full_rows = rows - rows % 16;
        full_columns = columns - columns % 16;
        transpose_blocks(a, rows, columns, out, full_rows, full_columns);
    }
#endif
    // The rest (everything without AVX-512): element by element, in 16×16 tiles.
    for (long r0 = 0; r0 < rows; r0 += 16) {
        long r1 = r0 + 16 < rows ? r0 + 16 : rows;
        for (long c0 = 0; c0 < columns; c0 += 16) {
            if (r0 < full_rows && c0 < full_columns) continue;
            long c1 = c0 + 16 < columns ? c0 + 16 : columns;
            for (long r = r0; r < r1; r++)
                for (long c = c0; c < c1; c++) out[c * rows + r] = a[r * columns + c];
        }
    }
}
