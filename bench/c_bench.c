#define _POSIX_C_SOURCE 200809L
/* Times the generated C: median and fastest wall time of `runs` inferences of model_run on one
 * input, or of model_run_parallel on `threads` threads (samples/integrator/fk_pool.h), after
 * three warm-up runs when runs > 2 (so that 2 runs less 1 run is one inference); the logits are written to `logits.raw` when named (bench/c_student.py builds and runs it).
 * Usage: c_bench input.npy [runs] [threads] [logits.raw] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fk_pool.h"
#include "model.h"

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    static float input[MODEL_INPUT_SIZE];
    static float logits[MODEL_OUTPUT_SIZE];
    static union {
        double align;
        unsigned char bytes[MODEL_WORKSPACE_BYTES];
    } workspace;
    static double ms[1000];
    unsigned char magic[10];
    int runs = argc > 2 ? atoi(argv[2]) : 30, threads = argc > 3 ? atoi(argv[3]) : 1, i;
    struct fk_pool *pool = NULL;
    size_t header;
    FILE *f;
    if (argc < 2 || runs < 1 || runs > 1000 || threads < 1) return 1;
    if (threads > 1 && (pool = fk_pool_create(threads)) == NULL) return 2;
    f = fopen(argv[1], "rb");
    if (f == NULL || fread(magic, 1, 10, f) != 10) return 2;
    header = (size_t)magic[8] | ((size_t)magic[9] << 8);
    if (fseek(f, (long)(10 + header), SEEK_SET) != 0 || fread(input, 4, MODEL_INPUT_SIZE, f) != MODEL_INPUT_SIZE) return 2;
    fclose(f);
    for (i = runs > 2 ? -3 : 0; i < runs; i++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        if (pool != NULL)
            model_run_parallel(input, logits, workspace.bytes, fk_pool_parallel_for, pool);
        else
            model_run(input, logits, workspace.bytes);
        clock_gettime(CLOCK_MONOTONIC, &b);
        if (i >= 0) ms[i] = (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6;
    }
    fk_pool_destroy(pool);
    if (argc > 4) {
        f = fopen(argv[4], "wb");
        if (f == NULL || fwrite(logits, sizeof(float), MODEL_OUTPUT_SIZE, f) != MODEL_OUTPUT_SIZE) return 2;
        fclose(f);
    }
    qsort(ms, (size_t)runs, sizeof *ms, cmp);
    printf("%.3f %.3f\n", ms[runs / 2], ms[0]);
    return 0;
}
