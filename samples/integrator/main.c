/* fkdc integrator example: links the generated model.c / model.h, reads an image tensor
 * (a float32 NCHW .npy, already resized and normalised), runs the int8 model and prints the
 * class probabilities. With a second argument it also writes the raw float32 logits there.
 *
 *     make MODEL=../../out/student-jetson-nano
 *     ./classify ../inputs/x0.npy
 *
 * A model compiled with `--weights external` reads its weights from model.fkdc, named first:
 *
 *     ./classify ../../out/student-jetson-nano/model.fkdc ../inputs/x0.npy
 *
 * `-t N` first runs the model on N threads (model_run_parallel with fk_pool.h's pthread pool);
 * the logits are the same bytes for any N:
 *
 *     ./classify -t 4 ../inputs/x0.npy
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fk_pool.h"
#include "model.h"
#include "read_npy.h"

static const char *class_names[] = {"normal", "diabetic_retinopathy", "glaucoma", "cataract"};

#if MODEL_WEIGHTS_EXTERNAL
/* Unpacks the weights of a .fkdc file into a new buffer (NULL on failure, with the reason printed). */
static void *load_weights(const char *path)
{
    FILE *f = fopen(path, "rb");
    long size;
    unsigned char *bytes;
    void *packed = malloc(MODEL_PACKED_BYTES); /* malloc aligns for any type */
    if (f == NULL || packed == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0 || (bytes = malloc((size_t)size + 1)) == NULL) {
        fprintf(stderr, "%s: cannot read\n", path);
        if (f != NULL) fclose(f);
        free(packed);
        return NULL;
    }
    if (fread(bytes, 1, (size_t)size, f) != (size_t)size || model_prepare(bytes, (size_t)size, packed) != 0) {
        fprintf(stderr, "%s: not the model.fkdc this model.c was generated from\n", path);
        free(packed);
        packed = NULL;
    }
    free(bytes);
    fclose(f);
    return packed;
}
#endif

int main(int argc, char **argv)
{
    static float input[MODEL_INPUT_SIZE];
    static float logits[MODEL_OUTPUT_SIZE];
    /* a union aligns the workspace for the float32 activations a mixed-precision model has */
    static union {
        double align;
        unsigned char bytes[MODEL_WORKSPACE_BYTES];
    } workspace;
    float max, sum = 0, p[MODEL_OUTPUT_SIZE];
    int i, best = 0, status, threads = 1;
    struct fk_pool *pool = NULL;
    if (argc > 2 && strcmp(argv[1], "-t") == 0) {
        threads = atoi(argv[2]);
        if (threads < 1 || threads > FK_POOL_MAX_THREADS + 1) {
            fprintf(stderr, "-t takes 1 to %d threads\n", FK_POOL_MAX_THREADS + 1);
            return 1;
        }
        argc -= 2, argv += 2;
    }
#if MODEL_WEIGHTS_EXTERNAL
    void *weights;
    if (argc < 3) {
        fprintf(stderr, "usage: %s [-t threads] model.fkdc image.npy [logits.raw]\n", argv[0]);
        return 1;
    }
    if ((weights = load_weights(argv[1])) == NULL) return 2;
    argc--, argv++;
#else
    if (argc < 2) {
        fprintf(stderr, "usage: %s [-t threads] image.npy [logits.raw]\n", argv[0]);
        return 1;
    }
#endif
    if (read_npy(argv[1], input, MODEL_INPUT_SIZE) != 0) return 2;
    if (threads > 1 && (pool = fk_pool_create(threads)) == NULL) {
        fprintf(stderr, "cannot start %d threads\n", threads);
        return 2;
    }
#if MODEL_WEIGHTS_EXTERNAL
    status = pool != NULL ? model_run_parallel(weights, input, logits, workspace.bytes, fk_pool_parallel_for, pool)
                          : model_run(weights, input, logits, workspace.bytes);
    free(weights);
#else
    status = pool != NULL ? model_run_parallel(input, logits, workspace.bytes, fk_pool_parallel_for, pool)
                          : model_run(input, logits, workspace.bytes);
#endif
    fk_pool_destroy(pool);
    if (status != 0) return 2;
    max = logits[0];
    for (i = 1; i < MODEL_OUTPUT_SIZE; i++)
        if (logits[i] > max) max = logits[i], best = i;
    for (i = 0; i < MODEL_OUTPUT_SIZE; i++) sum += p[i] = expf(logits[i] - max);
    for (i = 0; i < MODEL_OUTPUT_SIZE; i++)
        printf("class %d %-22s logit %8.4f  p=%.4f\n", i,
               i < (int)(sizeof class_names / sizeof *class_names) ? class_names[i] : "", logits[i], p[i] / sum);
    printf("top-1: class %d\n", best);
    if (argc > 2) {
        FILE *f = fopen(argv[2], "wb");
        if (f == NULL || fwrite(logits, sizeof(float), MODEL_OUTPUT_SIZE, f) != MODEL_OUTPUT_SIZE) return 2;
        fclose(f);
    }
    return 0;
}
