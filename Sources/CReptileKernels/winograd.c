// Winograd F(4×4, 3×3)'s per-tile transforms (forward pass, input gradient, weight gradient), compiled
// once per instruction set and chosen at run time with the microkernels.
#include "CReptileKernels.h"

#pragma clang fp contract(off)

#define ISA_BODY "winograd_tiles.h"
#include "per_isa.h"

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
