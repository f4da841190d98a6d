#ifndef FKDC_IMAGE_DECODE_H
#define FKDC_IMAGE_DECODE_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Decodes a PNG or JPEG held in memory into 8-bit RGB (3 bytes per pixel, row-major).
/// On success returns 0, sets *width, *height and *pixels (free with fkdc_image_free).
/// On failure returns non-zero and writes a message into error (error_size bytes).
/// Images larger than max_pixels are refused.
int fkdc_decode_image(const uint8_t *data, size_t size, size_t max_pixels, int *width, int *height,
                      uint8_t **pixels, char *error, size_t error_size);

void fkdc_image_free(uint8_t *pixels);

#ifdef __cplusplus
}
#endif
#endif
