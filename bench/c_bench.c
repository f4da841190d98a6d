#define _POSIX_C_SOURCE 199309L
/* Times the generated C: median wall time of `runs` single-threaded inferences of model_run on
 * one input (bench/c_student.py builds and runs it). Usage: c_bench input.npy [runs] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
    int runs = argc > 2 ? atoi(argv[2]) : 30, i;
    size_t header;
    FILE *f;
    if (argc < 2 || runs < 1 || runs > 1000) return 1;
    f = fopen(argv[1], "rb");
    if (f == NULL || fread(magic, 1, 10, f) != 10) return 2;
    header = (size_t)magic[8] | ((size_t)magic[9] << 8);
    if (fseek(f, (long)(10 + header), SEEK_SET) != 0 || fread(input, 4, MODEL_INPUT_SIZE, f) != MODEL_INPUT_SIZE) return 2;
    fclose(f);
    for (i = 0; i < runs; i++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        model_run(input, logits, workspace.bytes);
        clock_gettime(CLOCK_MONOTONIC, &b);
        ms[i] = (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6;
    }
    qsort(ms, (size_t)runs, sizeof *ms, cmp);
    printf("%.3f %.3f\n", ms[runs / 2], ms[0]);
    return 0;
}
