/* fkdc integrator example, CUDA: links the generated model_cuda.cu / model_cuda.h, uploads the
 * weights once, runs each image tensor (a float32 NCHW .npy, already resized and normalised) on
 * the GPU and prints the class probabilities and the raw logits.
 *
 *     make MODEL=../../out/student-jetson-nano classify-cuda     (on the board: nvcc, CUDA 10.2)
 *     ./classify_cuda ../inputs/x0.npy ../inputs/x1.npy
 *
 * The tests build the same file for the CPU with fk_cuda_host.h (-DFK_CUDA_HOST_EMULATION -x c++). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#if defined(FK_CUDA_HOST_EMULATION)
#include "fk_cuda_host.h"
#else
#include <cuda_runtime.h>
#endif

#include "model_cuda.h"
#include "read_npy.h"

static const char *class_names[] = {"normal", "diabetic_retinopathy", "glaucoma", "cataract"};

int main(int argc, char **argv)
{
    const size_t input_count = (size_t)MODEL_CUDA_INPUT_C * MODEL_CUDA_INPUT_H * MODEL_CUDA_INPUT_W;
    float *input = (float *)malloc(input_count * sizeof(float));
    float logits[MODEL_CUDA_OUTPUT_SIZE];
    void *workspace = NULL;
    model_cuda_context ctx;
    int i, a, status;
    if (argc < 2 || input == NULL) {
        fprintf(stderr, "usage: %s image.npy...\n", argv[0]);
        return 1;
    }
    if ((status = model_cuda_init(&ctx, NULL)) != 0 ||
        (status = (int)cudaMalloc(&workspace, MODEL_CUDA_WORKSPACE_BYTES)) != 0) {
        fprintf(stderr, "CUDA: %s\n", model_cuda_error_string(status));
        return 2;
    }
    printf("%s on %s (%s)\n", MODEL_CUDA_PRECISION, MODEL_CUDA_ARCH, MODEL_CUDA_TARGET);
    for (a = 1; a < argc; a++) {
        float max, sum = 0, p[MODEL_CUDA_OUTPUT_SIZE];
        int best = 0;
        if (read_npy(argv[a], input, input_count) != 0) return 2;
        if ((status = model_cuda_run(&ctx, input, logits, workspace)) != 0) {
            fprintf(stderr, "%s: CUDA: %s\n", argv[a], model_cuda_error_string(status));
            return 2;
        }
        max = logits[0];
        for (i = 1; i < MODEL_CUDA_OUTPUT_SIZE; i++)
            if (logits[i] > max) max = logits[i], best = i;
        for (i = 0; i < MODEL_CUDA_OUTPUT_SIZE; i++) sum += p[i] = expf(logits[i] - max);
        printf("%s: top-1 %d", argv[a], best);
        if (MODEL_CUDA_OUTPUT_SIZE == 4) printf(" (%s)", class_names[best]);
        printf("\n  probabilities");
        for (i = 0; i < MODEL_CUDA_OUTPUT_SIZE; i++) printf(" %.6f", p[i] / sum);
        printf("\n  logits");
        for (i = 0; i < MODEL_CUDA_OUTPUT_SIZE; i++) printf(" %.9g", logits[i]);
        printf("\n");
    }
    cudaFree(workspace);
    model_cuda_free(&ctx);
    free(input);
    return 0;
}
