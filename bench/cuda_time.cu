/* Times generated CUDA on a GPU (scripts/gpu-check.sh builds it): the whole network through
 * <prefix>_cuda_run_device with CUDA events (median and mean of N runs after warm-up), and with
 * model_cuda.cu built -DFK_CUDA_PROFILE an event after every launch, so each kernel's time
 * (the mean over the runs) is listed beside its node.
 *
 *     nvcc -std=c++14 -O3 -arch=sm_90 -DFK_CUDA_PROFILE -I MODEL -I samples/integrator \
 *         -o cuda_time bench/cuda_time.cu MODEL/model_cuda.cu
 *     ./cuda_time samples/inputs/x0.npy 200 */
#include <stdio.h>
#include <stdlib.h>

#if defined(FK_CUDA_HOST_EMULATION)
#include "fk_cuda_host.h"
#else
#include <cuda_runtime.h>
#endif

#include "model_cuda.h"
#include "read_npy.h"

#define MAX_LAUNCHES 4096
static cudaEvent_t marks[MAX_LAUNCHES + 1];
static double kernel_ms[MAX_LAUNCHES];
static const char *kernel_name[MAX_LAUNCHES], *node_name[MAX_LAUNCHES];
static int profiling = 0;

extern "C" void fk_cuda_profile_mark(int launch, const char *kernel, const char *node, cudaStream_t stream)
{
    if (!profiling || launch >= MAX_LAUNCHES) return;
    cudaEventRecord(marks[launch + 1], stream);
    kernel_name[launch] = kernel;
    node_name[launch] = node;
}

static int cmp(const void *a, const void *b)
{
    const float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

#define CHECK(call)                                                          \
    do {                                                                     \
        int e_ = (int)(call);                                                \
        if (e_ != 0) {                                                       \
            fprintf(stderr, "%s: %s\n", #call, model_cuda_error_string(e_)); \
            return 2;                                                        \
        }                                                                    \
    } while (0)

int main(int argc, char **argv)
{
    const size_t n_in = (size_t)MODEL_CUDA_INPUT_C * MODEL_CUDA_INPUT_H * MODEL_CUDA_INPUT_W;
    float *input = (float *)malloc(n_in * sizeof(float)), *times;
    void *ws, *d_in, *d_out;
    model_cuda_context ctx;
    cudaEvent_t start, stop;
    int runs = argc > 2 ? atoi(argv[2]) : 200, i, k;
    double sum = 0;
    if (argc < 2 || input == NULL || runs < 1) {
        fprintf(stderr, "usage: %s image.npy [runs]\n", argv[0]);
        return 1;
    }
    if (read_npy(argv[1], input, n_in) != 0) return 2;
    times = (float *)malloc((size_t)runs * sizeof(float));
    CHECK(model_cuda_init(&ctx, NULL));
    CHECK(cudaMalloc(&ws, MODEL_CUDA_WORKSPACE_BYTES));
    CHECK(cudaMalloc(&d_in, n_in * sizeof(float)));
    CHECK(cudaMalloc(&d_out, MODEL_CUDA_OUTPUT_SIZE * sizeof(float)));
    CHECK(cudaMemcpyAsync(d_in, input, n_in * sizeof(float), cudaMemcpyHostToDevice, NULL));
    CHECK(cudaEventCreate(&start));
    CHECK(cudaEventCreate(&stop));
    for (k = 0; k <= MAX_LAUNCHES; k++) CHECK(cudaEventCreate(&marks[k]));
    for (i = 0; i < 20; i++) CHECK(model_cuda_run_device(&ctx, (const float *)d_in, (float *)d_out, ws));
    CHECK(cudaDeviceSynchronize());
    for (i = 0; i < runs; i++) {
        CHECK(cudaEventRecord(start, NULL));
        CHECK(model_cuda_run_device(&ctx, (const float *)d_in, (float *)d_out, ws));
        CHECK(cudaEventRecord(stop, NULL));
        CHECK(cudaEventSynchronize(stop));
        CHECK(cudaEventElapsedTime(&times[i], start, stop));
        sum += times[i];
    }
    qsort(times, (size_t)runs, sizeof(float), cmp);
    printf("%s %s on %s: whole network %d runs: median %.4f ms, mean %.4f ms, min %.4f ms (%d launches)\n",
           MODEL_CUDA_TARGET, MODEL_CUDA_PRECISION, MODEL_CUDA_ARCH, runs, times[runs / 2], sum / runs, times[0],
           MODEL_CUDA_LAUNCHES);
#if defined(FK_CUDA_PROFILE)
    profiling = 1;
    for (i = 0; i < runs; i++) {
        float ms;
        CHECK(cudaEventRecord(marks[0], NULL));
        CHECK(model_cuda_run_device(&ctx, (const float *)d_in, (float *)d_out, ws));
        CHECK(cudaEventSynchronize(marks[MODEL_CUDA_LAUNCHES < MAX_LAUNCHES ? MODEL_CUDA_LAUNCHES : MAX_LAUNCHES]));
        for (k = 0; k < MODEL_CUDA_LAUNCHES && k < MAX_LAUNCHES; k++) {
            CHECK(cudaEventElapsedTime(&ms, marks[k], marks[k + 1]));
            kernel_ms[k] += ms;
        }
    }
    printf("per launch (mean of %d runs, with an event after each launch):\n", runs);
    for (k = 0; k < MODEL_CUDA_LAUNCHES && k < MAX_LAUNCHES; k++)
        printf("  %3d %-28s %-32s %.4f ms\n", k, kernel_name[k], node_name[k], kernel_ms[k] / runs);
#endif
    model_cuda_free(&ctx);
    return 0;
}
