/* read_npy: the integrator examples' .npy reader (C99 and C++). */
#ifndef FKDC_EXAMPLE_READ_NPY_H
#define FKDC_EXAMPLE_READ_NPY_H

#include <stdio.h>
#include <string.h>

/* Reads a little-endian float32 .npy holding exactly `count` values into `out`. */
static int read_npy(const char *path, float *out, size_t count)
{
    unsigned char magic[10];
    char header[4096];
    size_t header_len;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "%s: cannot open\n", path);
        return -1;
    }
    if (fread(magic, 1, 10, f) != 10 || memcmp(magic, "\x93NUMPY", 6) != 0 || magic[6] != 1) {
        fprintf(stderr, "%s: not a version 1 .npy file\n", path);
        fclose(f);
        return -1;
    }
    header_len = (size_t)magic[8] | ((size_t)magic[9] << 8);
    if (header_len >= sizeof header || fread(header, 1, header_len, f) != header_len) {
        fprintf(stderr, "%s: bad .npy header\n", path);
        fclose(f);
        return -1;
    }
    header[header_len] = '\0';
    if (strstr(header, "'<f4'") == NULL || strstr(header, "'fortran_order': False") == NULL) {
        fprintf(stderr, "%s: expected little-endian float32 in C order\n", path);
        fclose(f);
        return -1;
    }
    if (fread(out, sizeof(float), count, f) != count || fgetc(f) != EOF) {
        fprintf(stderr, "%s: expected exactly %lu float32 values\n", path, (unsigned long)count);
        fclose(f);
        return -1;
    }
    fclose(f);
    return 0;
}

#endif
