// CJPEG: a small C wrapper over the system's libjpeg(-turbo) decompressor, used by ReptileFormats' JPEG.swift.
// This header is the whole interface; libjpeg's own headers stay private to reptile_jpeg.c.
#ifndef REPTILE_JPEG_H
#define REPTILE_JPEG_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Size of the error-text buffer the caller should pass to `reptile_jpeg_decode_rgb`
/// (libjpeg's messages are at most 200 bytes, JMSG_LENGTH_MAX).
#define REPTILE_JPEG_ERROR_CAPACITY 256

/// The result of a successful `reptile_jpeg_decode_rgb`.
typedef struct reptile_jpeg_image {
    /// Size of the decoded (possibly DCT-downscaled) image in pixels.
    int width;
    int height;
    /// Size of the image as stored in the file.
    int source_width;
    int source_height;
    /// The downscaling applied while decoding: 1, 2, 4 or 8 (output = ceil(source / scale_denom)).
    int scale_denom;
    /// Components in the file: 1 (grayscale), 3 (YCbCr or RGB) or 4 (CMYK or YCCK).
    int source_components;
    /// `width * height * 3` bytes of interleaved 8-bit RGB, rows top to bottom, no padding.
    /// Allocated with malloc() by the decoder; the caller owns it and releases it with `reptile_jpeg_free`.
    unsigned char *pixels;
} reptile_jpeg_image;

/// Decodes a complete JPEG file held in memory to 8-bit interleaved RGB.
///
/// - Grayscale and YCbCr/RGB files are converted by libjpeg. CMYK and YCCK files (Photoshop/Adobe
///   style) are converted here with R = C·K/255 on the stored, inverted values, the convention
///   Pillow and browsers use (no ICC colour management).
/// - If `min_width` or `min_height` is positive, libjpeg's DCT-domain downscaling is used: the
///   decoder picks the largest denominator d in {8, 4, 2, 1} for which ceil(width/d) >= min_width
///   and ceil(height/d) >= min_height (a value <= 0 puts no constraint on that axis). An image that is
///   already smaller than the minimum is decoded at full size. With both <= 0 the image is decoded
///   at full size.
/// - Truncated or corrupt data is an error, not a warning: libjpeg's "Premature end of JPEG file"
///   and every "Corrupt JPEG data: ..." warning abort the decode (libjpeg would otherwise pad the
///   missing part with gray or return damaged pixels). Purely informational warnings (unknown JFIF
///   revision, unknown Adobe transform code, non-standard SOS parameters) are ignored.
/// - libjpeg's fatal errors never terminate the process: they are caught with setjmp/longjmp.
///
/// Thread-safe: every call uses its own decompressor and error manager, so any number of threads
/// may decode at the same time.
///
/// Returns 0 on success and fills `*image` (the caller frees `image->pixels`). Returns -1 on failure,
/// leaves `image->pixels` NULL and writes libjpeg's message (NUL-terminated, e.g. "Not a JPEG file:
/// starts with 0x89 0x50") into `error`, which must hold `error_capacity` bytes (pass
/// REPTILE_JPEG_ERROR_CAPACITY); `error` may be NULL if the text is not wanted.
int reptile_jpeg_decode_rgb(const unsigned char *data, size_t size,
                            int min_width, int min_height,
                            reptile_jpeg_image *image,
                            char *error, size_t error_capacity);

/// Releases the pixel buffer returned by `reptile_jpeg_decode_rgb` (NULL is allowed).
void reptile_jpeg_free(unsigned char *pixels);

#ifdef __cplusplus
}
#endif

#endif /* REPTILE_JPEG_H */
