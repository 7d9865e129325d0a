// PNG decoding and encoding through libpng, with libpng's errors turned into messages.
#include "reptile_png.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *text;
    size_t capacity;
    char warning[128];
} error_sink;

// libpng often warns with the detail ("Invalid image color type specified") just before it fails
// with a summary ("Invalid IHDR data"): the message gives both.
static void fail(png_structp png, png_const_charp message) {
    error_sink *sink = png_get_error_ptr(png);
    if (sink->text != NULL && sink->capacity > 0) {
        if (sink->warning[0] != 0) {
            snprintf(sink->text, sink->capacity, "%s (%s)", message, sink->warning);
        } else {
            snprintf(sink->text, sink->capacity, "%s", message);
        }
    }
    png_longjmp(png, 1);
}

// Warnings (an unknown ancillary chunk, a palette index past the palette's end, which libpng
// reads as black) do not stop decoding; the last one is kept for the error message.
static void keep_warning(png_structp png, png_const_charp message) {
    error_sink *sink = png_get_error_ptr(png);
    snprintf(sink->warning, sizeof sink->warning, "%s", message);
}

typedef struct {
    const unsigned char *data;
    size_t size;
    size_t offset;
} memory_reader;

static void read_memory(png_structp png, png_bytep out, size_t count) {
    memory_reader *reader = png_get_io_ptr(png);
    if (count > reader->size - reader->offset) png_error(png, "truncated: the file ends early");
    memcpy(out, reader->data + reader->offset, count);
    reader->offset += count;
}

static void set_error(char *error, size_t capacity, const char *message) {
    if (error != NULL && capacity > 0) snprintf(error, capacity, "%s", message);
}

int reptile_png_decode(const unsigned char *data, size_t size, size_t max_samples,
                       reptile_png_image *image, char *error, size_t error_capacity) {
    memset(image, 0, sizeof *image);
    if (size < 8 || png_sig_cmp(data, 0, 8) != 0) {
        set_error(error, error_capacity, "not a PNG file (bad signature)");
        return -1;
    }
    error_sink sink = {error, error_capacity, {0}};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &sink, fail, keep_warning);
    if (png == NULL) {
        set_error(error, error_capacity, "out of memory");
        return -1;
    }
    png_infop info = png_create_info_struct(png);
    // Changed between setjmp and longjmp, so kept in memory rather than registers.
    unsigned char *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    if (info == NULL || setjmp(png_jmpbuf(png))) {
        if (info == NULL) set_error(error, error_capacity, "out of memory");
        free(pixels);
        free(rows);
        png_destroy_read_struct(&png, info == NULL ? NULL : &info, NULL);
        return -1;
    }
    memory_reader reader = {data, size, 0};
    png_set_read_fn(png, &reader, read_memory);
    // A CRC mismatch in any chunk, critical or not, is an error.
    png_set_crc_action(png, PNG_CRC_ERROR_QUIT, PNG_CRC_ERROR_QUIT);
    png_read_info(png, info);

    png_uint_32 width = png_get_image_width(png, info), height = png_get_image_height(png, info);
    int color_type = png_get_color_type(png, info), depth = png_get_bit_depth(png, info);
    if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color_type == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    if (depth == 16) png_set_scale_16(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    int channels = png_get_channels(png, info);
    size_t row_bytes = png_get_rowbytes(png, info);
    if ((size_t)width * channels != row_bytes) png_error(png, "unexpected row layout after conversion");
    if ((size_t)height > max_samples / row_bytes) {
        char message[128];
        snprintf(message, sizeof message, "cannot hold %u×%u pixels", (unsigned)width, (unsigned)height);
        png_error(png, message);
    }
    pixels = malloc(row_bytes * height);
    rows = malloc(sizeof(png_bytep) * height);
    if (pixels == NULL || rows == NULL) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < height; y++) rows[y] = pixels + (size_t)y * row_bytes;
    png_read_image(png, rows);
    png_read_end(png, NULL);

    image->width = (int)width;
    image->height = (int)height;
    image->channels = channels;
    image->pixels = pixels;
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    return 0;
}

int reptile_png_encode(const unsigned char *pixels, int width, int height, int channels,
                       unsigned char **out, size_t *out_size, char *error, size_t error_capacity) {
    static const png_uint_32 formats[] = {PNG_FORMAT_GRAY, PNG_FORMAT_GA, PNG_FORMAT_RGB, PNG_FORMAT_RGBA};
    *out = NULL;
    *out_size = 0;
    if (channels < 1 || channels > 4 || width <= 0 || height <= 0) {
        set_error(error, error_capacity, "cannot encode an image of that shape");
        return -1;
    }
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    image.width = (png_uint_32)width;
    image.height = (png_uint_32)height;
    image.format = formats[channels - 1];
    png_alloc_size_t size = 0;
    if (!png_image_write_to_memory(&image, NULL, &size, 0, pixels, 0, NULL)) goto failed;
    *out = malloc(size);
    if (*out == NULL) {
        set_error(error, error_capacity, "out of memory");
        return -1;
    }
    if (!png_image_write_to_memory(&image, *out, &size, 0, pixels, 0, NULL)) goto failed;
    *out_size = size;
    return 0;
failed:
    set_error(error, error_capacity, image.message);
    free(*out);
    *out = NULL;
    png_image_free(&image);
    return -1;
}

void reptile_png_free(void *buffer) { free(buffer); }
