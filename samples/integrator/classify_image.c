/* The integrator example on an image file: decodes a PNG or JPEG (fkdc's own decoder,
 * Sources/CImageDecode: the pixels PIL's convert("RGB") gives), applies the preprocessing the
 * model was compiled with (model_preprocess: resize, crop, normalisation, bit for bit as
 * `fkdc preprocess`), runs the int8 model and prints the class probabilities.
 *
 *     make MODEL=../../out/student-jetson-nano classify-image
 *     ./classify-image ../fundus/val/0_normal/000.png [logits.raw]
 *
 * A camera frame skips the decoder: hand its pixels to model_preprocess with MODEL_FORMAT_NV12,
 * _RGB, _BGR or _RGBA and its row stride. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "image_decode.h"
#include "model.h"

#if MODEL_WEIGHTS_EXTERNAL
#error "classify-image is the embedded-weights example (compile with --weights embedded)"
#endif

int main(int argc, char **argv)
{
    static float input[MODEL_INPUT_SIZE], logits[MODEL_OUTPUT_SIZE];
    static union {
        double align;
        unsigned char bytes[MODEL_WORKSPACE_BYTES];
    } workspace;
    char error[256];
    unsigned char *file;
    uint8_t *pixels;
    void *scratch;
    long size;
    int w, h, i, best = 0, status;
    float max, sum = 0, p[MODEL_OUTPUT_SIZE];
    FILE *f;
    if (argc < 2) {
        fprintf(stderr, "usage: %s image.png|image.jpg [logits.raw]\n", argv[0]);
        return 1;
    }
    if ((f = fopen(argv[1], "rb")) == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) <= 0) {
        fprintf(stderr, "%s: cannot read\n", argv[1]);
        return 2;
    }
    rewind(f);
    file = malloc((size_t)size);
    if (file == NULL || fread(file, 1, (size_t)size, f) != (size_t)size) return 2;
    fclose(f);
    if (fkdc_decode_image(file, (size_t)size, (size_t)1 << 26, &w, &h, &pixels, error, sizeof error) != 0) {
        fprintf(stderr, "%s: %s\n", argv[1], error);
        return 2;
    }
    free(file);
    /* 64-byte aligned scratch, its size rounded up to a multiple of the alignment */
    scratch = aligned_alloc(64, (model_preprocess_scratch_bytes(w, h) + 63) / 64 * 64);
    status = scratch == NULL ? -1 : model_preprocess(pixels, w, h, w * 3, MODEL_FORMAT_RGB, input, scratch);
    free(scratch);
    fkdc_image_free(pixels);
    if (status != 0) {
        fprintf(stderr, "%s: a %dx%d image does not preprocess to the model's input\n", argv[1], w, h);
        return 2;
    }
    if (model_run(input, logits, workspace.bytes) != 0) return 2;
    max = logits[0];
    for (i = 1; i < MODEL_OUTPUT_SIZE; i++)
        if (logits[i] > max) max = logits[i], best = i;
    for (i = 0; i < MODEL_OUTPUT_SIZE; i++) sum += p[i] = expf(logits[i] - max);
    for (i = 0; i < MODEL_OUTPUT_SIZE; i++) printf("class %d  logit %8.4f  p=%.4f\n", i, logits[i], p[i] / sum);
    printf("top-1: class %d\n", best);
    if (argc > 2) {
        if ((f = fopen(argv[2], "wb")) == NULL || fwrite(logits, sizeof(float), MODEL_OUTPUT_SIZE, f) != MODEL_OUTPUT_SIZE)
            return 2;
        fclose(f);
    }
    return 0;
}
