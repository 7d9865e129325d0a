// Matrix transposition in 16×16 blocks held in AVX-512 registers (transpose16.h), with a plain
// blocked loop elsewhere. Swift's generic SIMD shuffles compile to spills and inserts here, four
// times slower.
#include "CReptileKernels.h"
#include "transpose16.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define AVX512 __attribute__((target("avx512f")))

static inline AVX512 void transpose_block16(const float *a, long a_stride, float *out, long out_stride) {
    __m512 r[16];
    for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_ps(a + i * a_stride);
    reptile_transpose16_registers(r);
    for (int j = 0; j < 16; j++) _mm512_storeu_ps(out + j * out_stride, r[j]);
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
