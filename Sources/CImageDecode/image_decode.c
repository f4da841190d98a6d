// PNG through libpng and JPEG through libjpeg, each with a longjmp error handler, so a corrupt
// file is an error message, never an exit or a crash; pixels as PIL's convert("RGB") gives them.
#include "image_decode.h"

#include <stdio.h>  // before jpeglib.h, which uses FILE
#include <jpeglib.h>
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *error, size_t n, const char *what) {
    if (n > 0) {
        strncpy(error, what, n - 1);
        error[n - 1] = 0;
    }
    return 1;
}

/* PNG as PIL's Image.open(...).convert("RGB") reads it: palette and low bit depths expanded,
 * 16-bit colour (and gray + alpha) reduced to its high byte, 16-bit grayscale clipped to 255
 * (PIL's I;16 -> RGB),
 * alpha dropped (not composited), gray replicated, no gamma applied. */
struct png_source {
    const uint8_t *data;
    size_t size, at;
};

static void png_read_memory(png_structp png, png_bytep out, png_size_t n) {
    struct png_source *s = (struct png_source *)png_get_io_ptr(png);
    if (n > s->size - s->at) png_error(png, "the file ends early");
    memcpy(out, s->data + s->at, n);
    s->at += n;
}

static void png_fail(png_structp png, png_const_charp message) {
    char *error = (char *)png_get_error_ptr(png);
    snprintf(error, 256, "%s", message);
    png_longjmp(png, 1);
}

static void png_quiet(png_structp png, png_const_charp message) {
    (void)png;
    (void)message;
}

static int decode_png(const uint8_t *data, size_t size, size_t max_pixels, int *w, int *h, uint8_t **out,
                      char *error, size_t n) {
    char message[256] = "corrupt PNG";
    struct png_source src = {data, size, 0};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, message, png_fail, png_quiet);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    uint8_t *volatile buf = NULL;
    uint16_t *volatile wide = NULL;
    png_bytep *volatile rows = NULL;
    if (!png || !info) {
        png_destroy_read_struct(png ? &png : NULL, NULL, NULL);
        return fail(error, n, "out of memory");
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(buf);
        free(wide);
        free(rows);
        return fail(error, n, message);
    }
    png_set_read_fn(png, &src, png_read_memory);
    png_read_info(png, info);
    png_uint_32 width = png_get_image_width(png, info), height = png_get_image_height(png, info);
    int type = png_get_color_type(png, info), depth = png_get_bit_depth(png, info);
    if ((size_t)width * height > max_pixels || width == 0 || height == 0) png_error(png, "image dimensions are zero or too large");
    /* PIL reads 16-bit gray as I;16 (clipped to 255 in RGB) but 16-bit gray+alpha by its high byte */
    int gray16 = depth == 16 && type == PNG_COLOR_TYPE_GRAY;
    if (type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (type == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16 && !gray16) png_set_strip_16(png);
    if (gray16) png_set_swap(png); /* host-order 16-bit samples, clipped below */
    if (type & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(png);
    if (!gray16 && (type == PNG_COLOR_TYPE_GRAY || type == PNG_COLOR_TYPE_GRAY_ALPHA)) png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    if (rowbytes != (size_t)width * (gray16 ? 2 : 3)) png_error(png, "unexpected PNG layout");
    rows = malloc(sizeof(png_bytep) * height);
    buf = malloc((size_t)width * height * 3);
    if (gray16) wide = malloc(rowbytes * height);
    if (!rows || !buf || (gray16 && !wide)) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < height; y++)
        rows[y] = gray16 ? (png_bytep)(wide + (size_t)y * width) : buf + (size_t)y * rowbytes;
    png_read_image(png, rows);
    if (gray16)
        for (size_t i = 0; i < (size_t)width * height; i++) {
            uint8_t v = wide[i] > 255 ? 255 : (uint8_t)wide[i];
            buf[3 * i] = buf[3 * i + 1] = buf[3 * i + 2] = v;
        }
    png_destroy_read_struct(&png, &info, NULL);
    free(wide);
    free(rows);
    *w = (int)width;
    *h = (int)height;
    *out = buf;
    return 0;
}

struct jpeg_failure {
    struct jpeg_error_mgr base;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
};

static void jpeg_fail(j_common_ptr cinfo) {
    struct jpeg_failure *f = (struct jpeg_failure *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, f->message);
    longjmp(f->jump, 1);
}

static void jpeg_quiet(j_common_ptr cinfo, int level) {
    (void)cinfo;
    (void)level;
}

/* A progressive JPEG may hold any number of scans, each a full pass over the image: a few
   bytes each can make decoding take hours. Real encoders write about ten; like libjpeg-turbo's
   TurboJPEG scan limit (but tighter: mozjpeg writes at most a few dozen), more than FKDC_JPEG_MAX_SCANS is refused while decoding. */
#define FKDC_JPEG_MAX_SCANS 64

static void jpeg_progress(j_common_ptr cinfo) {
    j_decompress_ptr d = (j_decompress_ptr)cinfo;
    if (d->inputctl != NULL && d->input_scan_number > FKDC_JPEG_MAX_SCANS) {
        struct jpeg_failure *f = (struct jpeg_failure *)cinfo->err;
        snprintf(f->message, sizeof f->message, "more than %d scans (a progressive JPEG has about ten)",
                 FKDC_JPEG_MAX_SCANS);
        longjmp(f->jump, 1);
    }
}

static int decode_jpeg(const uint8_t *data, size_t size, size_t max_pixels, int *w, int *h, uint8_t **out,
                       char *error, size_t n) {
    struct jpeg_decompress_struct cinfo;
    struct jpeg_failure err;
    struct jpeg_progress_mgr progress;
    uint8_t *volatile buf = NULL;
    cinfo.err = jpeg_std_error(&err.base);
    err.base.error_exit = jpeg_fail;
    err.base.emit_message = jpeg_quiet;
    progress.progress_monitor = jpeg_progress;
    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(buf);
        return fail(error, n, err.message);
    }
    jpeg_create_decompress(&cinfo);
    cinfo.progress = &progress;
    jpeg_mem_src(&cinfo, (unsigned char *)data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    /* dimensions and colour model before libjpeg allocates anything the size of the image */
    if ((size_t)cinfo.image_width * cinfo.image_height > max_pixels || cinfo.image_width == 0 ||
        cinfo.image_height == 0) {
        jpeg_destroy_decompress(&cinfo);
        return fail(error, n, "image dimensions are zero or too large");
    }
    if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
        jpeg_destroy_decompress(&cinfo);
        return fail(error, n, "CMYK JPEGs are not supported; convert the image to RGB");
    }
    cinfo.out_color_space = JCS_RGB;
    jpeg_start_decompress(&cinfo);
    if ((size_t)cinfo.output_width * cinfo.output_height > max_pixels || cinfo.output_components != 3) {
        jpeg_destroy_decompress(&cinfo);
        return fail(error, n, "image dimensions are too large or not RGB");
    }
    size_t stride = (size_t)cinfo.output_width * 3;
    buf = malloc(stride * cinfo.output_height);
    if (!buf) {
        jpeg_destroy_decompress(&cinfo);
        return fail(error, n, "out of memory");
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = buf + stride * cinfo.output_scanline;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    *w = (int)cinfo.output_width;
    *h = (int)cinfo.output_height;
    jpeg_destroy_decompress(&cinfo);
    *out = buf;
    return 0;
}

int fkdc_decode_image(const uint8_t *data, size_t size, size_t max_pixels, int *width, int *height,
                      uint8_t **pixels, char *error, size_t error_size) {
    *pixels = NULL;
    if (size >= 8 && memcmp(data, "\x89PNG\r\n\x1a\n", 8) == 0)
        return decode_png(data, size, max_pixels, width, height, pixels, error, error_size);
    if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF)
        return decode_jpeg(data, size, max_pixels, width, height, pixels, error, error_size);
    return fail(error, error_size, "not a PNG or JPEG file");
}

void fkdc_image_free(uint8_t *pixels) { free(pixels); }
