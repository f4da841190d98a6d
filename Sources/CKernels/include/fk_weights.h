/* External weights: unpacking a .fkdc's tensors into the kernels' layouts, and its CRC-32 */
#ifndef FK_WEIGHTS_H
#define FK_WEIGHTS_H

#include <stddef.h>
#include <string.h>

#include "fk_config.h"

/* @begin */
/* @kernel fk_pack */
/* external weights: dst[Σ i_d ds[d]] = src[Σ i_d ss[d]] over dims, elements of `size` bytes
 * (the .fkdc's little-endian bytes, copied as they are) */
static inline void fk_pack(const unsigned char *src, unsigned char *dst, int size, int rank, const int *dims,
                    const int *ss, const int *ds)
{
    int idx[FK_MAX_RANK] = {0};
    long so = 0, d0 = 0, rows = 1, r;
    int d, i;
    const int n = dims[rank - 1], si = ss[rank - 1], di = ds[rank - 1];
    for (d = 0; d < rank - 1; d++) rows *= dims[d];
    for (r = 0; r < rows; r++) {
        for (i = 0; i < n; i++) memcpy(dst + (d0 + (long)i * di) * size, src + (so + (long)i * si) * size, (size_t)size);
        for (d = rank - 2; d >= 0; d--) {
            so += ss[d];
            d0 += ds[d];
            if (++idx[d] < dims[d]) break;
            so -= (long)ss[d] * dims[d];
            d0 -= (long)ds[d] * dims[d];
            idx[d] = 0;
        }
    }
}

/* @kernel fk_crc32 */
/* CRC-32 (zlib's) of a .fkdc file, its header's CRC field (bytes 24..27) read as zeros */
static inline unsigned long fk_crc32(const unsigned char *b, size_t n)
{
    unsigned long table[256], c, crc = 0xFFFFFFFFul;
    size_t i;
    int k;
    for (i = 0; i < 256; i++) {
        c = (unsigned long)i;
        for (k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320ul ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
    for (i = 0; i < n; i++) crc = table[(crc ^ (i >= FK_FKDC_CRC_OFFSET && i < FK_FKDC_CRC_OFFSET + 4 ? 0u : b[i])) & 0xFFu] ^ (crc >> 8);
    return (crc ^ 0xFFFFFFFFul) & 0xFFFFFFFFul;
}
/* @end */

#endif
