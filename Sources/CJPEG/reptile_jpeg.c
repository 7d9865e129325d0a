// CJPEG: JPEG decoding for ReptileFormats through the system's libjpeg(-turbo).
//
// This file owns everything that touches libjpeg: a per-call decompressor reading from memory
// (jpeg_mem_src), an error manager that turns libjpeg's fatal errors into a longjmp back here (the
// default error_exit calls exit(), which must never happen inside a library), a warning filter that
// treats truncated or corrupt data as an error instead of silently padding it with gray, the choice
// of DCT-domain downscaling (1/1, 1/2, 1/4, 1/8) from a caller-given minimum size, and the CMYK/YCCK
// to RGB conversion libjpeg does not provide. The interface is include/reptile_jpeg.h.
#include "reptile_jpeg.h"

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>   /* jpeglib.h needs FILE and size_t declared first */
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

/* ---------------------------------------------------------------------------------------------- */
/* Error manager                                                                                  */
/* ---------------------------------------------------------------------------------------------- */

/// libjpeg's error manager extended with the jump target and the text of the first fatal problem.
/// One lives on the stack of every decode call, so decoding is thread-safe.
typedef struct reptile_error_mgr {
    struct jpeg_error_mgr pub;   /* must be first: libjpeg sees only this part */
    jmp_buf escape;              /* where error_exit (and a fatal warning) jumps back to */
    char message[JMSG_LENGTH_MAX];
} reptile_error_mgr;

/// Replaces libjpeg's error_exit, which would print the message and call exit(): keeps the text
/// and unwinds to the setjmp in reptile_jpeg_decode_rgb.
static void reptile_error_exit(j_common_ptr cinfo) {
    reptile_error_mgr *err = (reptile_error_mgr *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, err->message);
    longjmp(err->escape, 1);
}

/// Whether a libjpeg warning means the pixels are missing or damaged. libjpeg recovers from these
/// (premature EOF is "recovered" by padding the rest of the image with gray), but a training set
/// must not silently contain such images, so each of them fails the decode.
static int reptile_is_damage_warning(int code) {
    switch (code) {
    case JWRN_JPEG_EOF:          /* Premature end of JPEG file */
    case JWRN_HIT_MARKER:        /* Corrupt JPEG data: premature end of data segment */
    case JWRN_HUFF_BAD_CODE:     /* Corrupt JPEG data: bad Huffman code */
    case JWRN_ARITH_BAD_CODE:    /* Corrupt JPEG data: bad arithmetic code */
    case JWRN_MUST_RESYNC:       /* Corrupt JPEG data: found marker 0x%02x instead of RST%d */
    case JWRN_EXTRANEOUS_DATA:   /* Corrupt JPEG data: %u extraneous bytes before marker 0x%02x */
    case JWRN_BOGUS_PROGRESSION: /* Inconsistent progression sequence for component %d coefficient %d */
        return 1;
    default:
        /* Informational: unknown JFIF revision, unknown Adobe transform code, non-standard SOS
           parameters in a sequential file, ... The image itself decodes correctly. */
        return 0;
    }
}

/// Replaces libjpeg's emit_message. Trace messages (msg_level >= 0) are dropped; warnings
/// (msg_level -1) are counted and dropped, except the damage warnings above, which abort the
/// decode like an error (as TurboJPEG's "stop on warning" mode does).
static void reptile_emit_message(j_common_ptr cinfo, int msg_level) {
    reptile_error_mgr *err = (reptile_error_mgr *)cinfo->err;
    if (msg_level >= 0) return;
    err->pub.num_warnings++;
    if (reptile_is_damage_warning(err->pub.msg_code)) {
        (*cinfo->err->format_message)(cinfo, err->message);
        longjmp(err->escape, 1);
    }
}

/// Replaces libjpeg's output_message (which writes to stderr): a library prints nothing.
static void reptile_output_message(j_common_ptr cinfo) {
    (void)cinfo;
}

/// Fails the current decode with a message of our own (same path as a libjpeg error).
__attribute__((format(printf, 2, 3)))
static _Noreturn void reptile_fail(reptile_error_mgr *err, const char *format, ...) {
    va_list args;
    va_start(args, format);
    vsnprintf(err->message, sizeof err->message, format, args);
    va_end(args);
    longjmp(err->escape, 1);
}

static void reptile_copy_message(char *error, size_t capacity, const char *message) {
    if (error != NULL && capacity > 0) snprintf(error, capacity, "%s", message);
}

/* ---------------------------------------------------------------------------------------------- */
/* Colour conversion                                                                              */
/* ---------------------------------------------------------------------------------------------- */

/// a·b/255 rounded to nearest, exact for 0...255 inputs.
static inline unsigned char reptile_mul255(unsigned a, unsigned b) {
    unsigned t = a * b + 128;
    return (unsigned char)((t + (t >> 8)) >> 8);
}

/// One row of CMYK as libjpeg delivers it for Adobe files (inverted: 255 = no ink) to RGB:
/// R = C·K/255, G = M·K/255, B = Y·K/255. Same result as Pillow's CMYK → RGB for such files.
static void reptile_inverted_cmyk_to_rgb(const unsigned char *cmyk, unsigned char *rgb, size_t width) {
    for (size_t x = 0; x < width; x++) {
        unsigned k = cmyk[3];
        rgb[0] = reptile_mul255(cmyk[0], k);
        rgb[1] = reptile_mul255(cmyk[1], k);
        rgb[2] = reptile_mul255(cmyk[2], k);
        cmyk += 4;
        rgb += 3;
    }
}

/* ---------------------------------------------------------------------------------------------- */
/* Decoding                                                                                       */
/* ---------------------------------------------------------------------------------------------- */

/// The largest denominator in {8, 4, 2} whose output still covers the minimum size, else 1.
/// Must run after jpeg_read_header and after out_color_space is set.
static int reptile_choose_scale(j_decompress_ptr cinfo, int min_width, int min_height) {
    static const int denominators[] = {8, 4, 2};
    if (min_width <= 0 && min_height <= 0) return 1;
    for (size_t i = 0; i < sizeof denominators / sizeof denominators[0]; i++) {
        cinfo->scale_num = 1;
        cinfo->scale_denom = (unsigned)denominators[i];
        jpeg_calc_output_dimensions(cinfo);
        int wide_enough = min_width <= 0 || cinfo->output_width >= (JDIMENSION)min_width;
        int tall_enough = min_height <= 0 || cinfo->output_height >= (JDIMENSION)min_height;
        if (wide_enough && tall_enough) return denominators[i];
    }
    return 1;
}

int reptile_jpeg_decode_rgb(const unsigned char *data, size_t size,
                            int min_width, int min_height,
                            reptile_jpeg_image *image,
                            char *error, size_t error_capacity) {
    struct jpeg_decompress_struct cinfo;
    reptile_error_mgr err;
    /* Written after setjmp and read after longjmp, hence volatile. */
    unsigned char *volatile pixels = NULL;
    unsigned char *volatile cmyk_rows = NULL;
    JSAMPROW *volatile row_pointers = NULL;

    if (error != NULL && error_capacity > 0) error[0] = '\0';
    if (image == NULL) {
        reptile_copy_message(error, error_capacity, "No output structure given");
        return -1;
    }
    memset(image, 0, sizeof *image);
    if (size == 0) {
        reptile_copy_message(error, error_capacity, "Empty input file");
        return -1;
    }
    if (data == NULL) {
        reptile_copy_message(error, error_capacity, "No input buffer given");
        return -1;
    }
    if ((uintmax_t)size > (uintmax_t)ULONG_MAX) {
        reptile_copy_message(error, error_capacity, "Input too large for libjpeg");
        return -1;
    }

    memset(&cinfo, 0, sizeof cinfo);
    memset(&err, 0, sizeof err);
    cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = reptile_error_exit;
    err.pub.emit_message = reptile_emit_message;
    err.pub.output_message = reptile_output_message;

    if (setjmp(err.escape)) {
        /* Any libjpeg error or damage warning lands here. jpeg_destroy_decompress releases
           everything libjpeg allocated, whatever state the decompressor was left in. */
        reptile_copy_message(error, error_capacity, err.message[0] ? err.message : "Unknown JPEG error");
        jpeg_destroy_decompress(&cinfo);
        free(row_pointers);
        free(cmyk_rows);
        free(pixels);
        memset(image, 0, sizeof *image);
        return -1;
    }

    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);

    int is_cmyk = 0;
    switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE:
    case JCS_YCbCr:
    case JCS_RGB:
        cinfo.out_color_space = JCS_RGB;   /* libjpeg converts (gray is replicated to R = G = B) */
        break;
    case JCS_CMYK:
    case JCS_YCCK:
        cinfo.out_color_space = JCS_CMYK;  /* libjpeg undoes YCCK; CMYK → RGB is ours, below */
        is_cmyk = 1;
        break;
    default:
        reptile_fail(&err, "Unsupported JPEG color space (%d components)", cinfo.num_components);
    }

    int denom = reptile_choose_scale(&cinfo, min_width, min_height);
    cinfo.scale_num = 1;
    cinfo.scale_denom = (unsigned)denom;

    jpeg_start_decompress(&cinfo);

    const int expected_components = is_cmyk ? 4 : 3;
    if (cinfo.output_components != expected_components) {
        reptile_fail(&err, "Unexpected number of output components %d", cinfo.output_components);
    }
    const size_t width = cinfo.output_width;
    const size_t height = cinfo.output_height;
    if (width == 0 || height == 0) reptile_fail(&err, "Empty JPEG image");
    const size_t stride = width * 3;
    if (height > SIZE_MAX / stride) reptile_fail(&err, "Image too large (%zu x %zu)", width, height);

    pixels = malloc(stride * height);
    if (pixels == NULL) reptile_fail(&err, "Out of memory for a %zu x %zu image", width, height);

    if (!is_cmyk) {
        /* Decode straight into the output, as many rows per call as libjpeg wants to give. */
        row_pointers = malloc(height * sizeof(JSAMPROW));
        if (row_pointers == NULL) reptile_fail(&err, "Out of memory for a %zu x %zu image", width, height);
        for (size_t y = 0; y < height; y++) row_pointers[y] = pixels + y * stride;
        while (cinfo.output_scanline < cinfo.output_height) {
            JDIMENSION done = cinfo.output_scanline;
            JDIMENSION got = jpeg_read_scanlines(&cinfo, row_pointers + done, cinfo.output_height - done);
            if (got == 0) reptile_fail(&err, "JPEG decoder made no progress");
        }
    } else {
        /* Decode CMYK into a small strip buffer and convert each row. */
        const size_t strip = cinfo.rec_outbuf_height > 0 ? (size_t)cinfo.rec_outbuf_height : 1;
        const size_t cmyk_stride = width * 4;
        cmyk_rows = malloc(strip * cmyk_stride);
        row_pointers = malloc(strip * sizeof(JSAMPROW));
        if (cmyk_rows == NULL || row_pointers == NULL) {
            reptile_fail(&err, "Out of memory for a %zu x %zu image", width, height);
        }
        for (size_t i = 0; i < strip; i++) row_pointers[i] = cmyk_rows + i * cmyk_stride;
        while (cinfo.output_scanline < cinfo.output_height) {
            size_t first = cinfo.output_scanline;
            JDIMENSION got = jpeg_read_scanlines(&cinfo, row_pointers, (JDIMENSION)strip);
            if (got == 0) reptile_fail(&err, "JPEG decoder made no progress");
            for (size_t i = 0; i < got; i++) {
                reptile_inverted_cmyk_to_rgb(row_pointers[i], pixels + (first + i) * stride, width);
            }
        }
    }

    /* Reads up to EOI, so trailing damage and a missing EOI are caught too. */
    jpeg_finish_decompress(&cinfo);

    image->width = (int)width;
    image->height = (int)height;
    image->source_width = (int)cinfo.image_width;
    image->source_height = (int)cinfo.image_height;
    image->scale_denom = denom;
    image->source_components = cinfo.num_components;
    image->pixels = pixels;

    jpeg_destroy_decompress(&cinfo);
    free(row_pointers);
    free(cmyk_rows);
    return 0;
}

void reptile_jpeg_free(unsigned char *pixels) {
    free(pixels);
}
