// CPNG: a small C wrapper over the system's libpng, used by ReptileFormats' PNG.swift.
// This header is the whole interface; libpng's own headers stay private to reptile_png.c.
#ifndef REPTILE_PNG_H
#define REPTILE_PNG_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Size of the error-text buffer the caller passes to the functions below.
#define REPTILE_PNG_ERROR_CAPACITY 256

/// A decoded image: 8-bit samples, interleaved, rows top to bottom, no padding.
typedef struct reptile_png_image {
    int width;
    int height;
    /// 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA.
    int channels;
    /// `width * height * channels` bytes, allocated with malloc(); free with `reptile_png_free`.
    unsigned char *pixels;
} reptile_png_image;

/// Decodes a complete PNG file held in memory to 8-bit interleaved samples.
///
/// Every standard PNG is accepted; libpng converts it: palettes to RGB (RGBA with a tRNS chunk),
/// gray of depth 1, 2 or 4 scaled to 0...255, a tRNS color key to an alpha channel, 16-bit samples
/// rounded to the nearest 8-bit value, Adam7 interlacing undone. Every chunk's CRC is checked,
/// and the file must end with IEND. Images of more than `max_samples` samples are refused before
/// anything is allocated.
///
/// Thread-safe; libpng's errors are caught with setjmp/longjmp and never end the process.
/// Returns 0 and fills `*image`, or -1 with libpng's message in `error` (`error_capacity` bytes).
int reptile_png_decode(const unsigned char *data, size_t size, size_t max_samples,
                       reptile_png_image *image, char *error, size_t error_capacity);

/// Encodes `width * height * channels` 8-bit samples (1 gray, 2 gray + alpha, 3 RGB, 4 RGBA) as a
/// PNG file in memory with libpng's default compression. Returns 0 and sets `*out` (malloc'd;
/// free with `reptile_png_free`) and `*out_size`, or -1 with a message in `error`.
int reptile_png_encode(const unsigned char *pixels, int width, int height, int channels,
                       unsigned char **out, size_t *out_size, char *error, size_t error_capacity);

/// Releases a buffer returned by the functions above (NULL is allowed).
void reptile_png_free(void *buffer);

#ifdef __cplusplus
}
#endif

#endif /* REPTILE_PNG_H */
