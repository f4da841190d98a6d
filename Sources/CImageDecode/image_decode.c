// PNG through libpng's simplified API, JPEG through libjpeg with a longjmp error handler, so a
// corrupt file is an error message, never an exit or a crash.
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

static int decode_png(const uint8_t *data, size_t size, size_t max_pixels, int *w, int *h, uint8_t **out,
                      char *error, size_t n) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&image, data, size)) return fail(error, n, image.message);
    if ((size_t)image.width * image.height > max_pixels || image.width == 0 || image.height == 0) {
        png_image_free(&image);
        return fail(error, n, "image dimensions are zero or too large");
    }
    image.format = PNG_FORMAT_RGB;
    uint8_t *buf = malloc(PNG_IMAGE_SIZE(image));
    if (!buf) {
        png_image_free(&image);
        return fail(error, n, "out of memory");
    }
    if (!png_image_finish_read(&image, NULL, buf, 0, NULL)) {
        free(buf);
        return fail(error, n, image.message);
    }
    *w = (int)image.width;
    *h = (int)image.height;
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
