// Winograd F(4×4, 3×3)'s per-tile transforms (forward pass, input gradient, weight gradient), compiled
// once per instruction set and chosen at run time with the microkernels.
#include "CReptileKernels.h"

#pragma clang fp contract(off)

#define SUFFIX generic
#define TARGET
#define VW 4
#include "winograd_tiles.h"
#undef SUFFIX
#undef TARGET
#undef VW

#if defined(__x86_64__)
#define SUFFIX avx512
#define TARGET __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl")))
#define VW 16
#include "winograd_tiles.h"
#undef SUFFIX
#undef TARGET
#undef VW
#define SUFFIX avx2
#define TARGET __attribute__((target("avx2")))
#define VW 8
#include "winograd_tiles.h"
#undef SUFFIX
#undef TARGET
#undef VW
static int lanes(void) { return reptile_microkernels_selected()->lanes; }
#define PICK(f, ...) (lanes() == 16 ? f##_avx512(__VA_ARGS__) : lanes() == 8 ? f##_avx2(__VA_ARGS__) : f##_generic(__VA_ARGS__))
#else
#define PICK(f, ...) f##_generic(__VA_ARGS__)
#endif

void reptile_winograd_input_tile(const float *image, long height, long width, long channels, long y0, long x0, float *v,
                                 long plane) {
    PICK(winograd_input_tile, image, height, width, channels, y0, x0, v, plane);
}

void reptile_winograd_output_tile(const float *m, long plane, long channels, const float *bias, float *image, long height,
                                  long width, long y0, long x0) {
    PICK(winograd_output_tile, m, plane, channels, bias, image, height, width, y0, x0);
}

void reptile_winograd_gradient_tile(const float *image, long height, long width, long channels, long y0, long x0, float *z,
                                    long plane) {
    PICK(winograd_gradient_tile, image, height, width, channels, y0, x0, z, plane);
}
