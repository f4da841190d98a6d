/* The int8 layer kernels for fkdc's own exact evaluator (validation, calibration, the
 * accuracy-target search): the functions generated C calls (fk_int8.h), built portably (host.c)
 * and on x86-64 for AVX2 (host_avx2.c), for AVX2 with AVX-VNNI (host_vnni.c, the 1x1 kernel) and
 * with AVX-512 VNNI (host_avx512.c: the 1x1, depthwise and dense kernels), the fastest build the
 * CPU and the OS have taken at run time. All give the same bytes as the Swift reference (Int8Kernels). Not part
 * of the generated C (scripts/embed-c-kernels.py embeds a fixed list of headers). */
#ifndef FK_HOST_H
#define FK_HOST_H

#include <stdint.h>

#define FK_HOST_POINTWISE(name)                                                                                 \
    void name(const int8_t *x, int plane, int k, const int8_t *w, const int32_t *b, const int32_t *m,          \
              const int8_t *l, const int8_t *r, int8_t *y, int o, int32_t zo, int32_t lo, int32_t hi)
#define FK_HOST_DEPTHWISE(name)                                                                                 \
    void name(const int8_t *x, int h, int w, int c, int32_t zx, const int8_t *wt, const int32_t *b,            \
              const int32_t *m, const int8_t *l, const int8_t *r, int8_t *y, int ho, int wo, int kh, int kw,     \
              int sh, int sw, int ph, int pw, int dh, int dw, int32_t zo, int32_t lo, int32_t hi)
#define FK_HOST_CONV_DENSE(name)                                                                                \
    void name(const int8_t *x, int h, int w, int c, int32_t zx, const int8_t *wt, const int32_t *b,            \
              const int32_t *m, const int8_t *l, const int8_t *r, int8_t *y, int ho, int wo, int o, int kh,      \
              int kw, int sh, int sw, int ph, int pw, int dh, int dw, int32_t zo, int32_t lo, int32_t hi)
#define FK_HOST_CONV(name)                                                                                      \
    void name(const int8_t *x, int h, int w, int c, int32_t zx, const int8_t *wt, const int32_t *b,            \
              const int32_t *m, const int8_t *l, const int8_t *r, int8_t *y, int ho, int wo, int o, int kh,      \
              int kw, int sh, int sw, int ph, int pw, int dh, int dw, int groups, int32_t zo, int32_t lo,        \
              int32_t hi)
#define FK_HOST_POINTWISE_ARGS x, plane, k, w, b, m, l, r, y, o, zo, lo, hi
#define FK_HOST_DEPTHWISE_ARGS x, h, w, c, zx, wt, b, m, l, r, y, ho, wo, kh, kw, sh, sw, ph, pw, dh, dw, zo, lo, hi
#define FK_HOST_CONV_DENSE_ARGS                                                                                 \
    x, h, w, c, zx, wt, b, m, l, r, y, ho, wo, o, kh, kw, sh, sw, ph, pw, dh, dw, zo, lo, hi
#define FK_HOST_CONV_ARGS x, h, w, c, zx, wt, b, m, l, r, y, ho, wo, o, kh, kw, sh, sw, ph, pw, dh, dw, groups, zo, lo, hi

/* fk_pointwise, fk_pointwise_quad, fk_pointwise_dot, fk_depthwise, fk_conv_dense and fk_conv,
 * whichever build runs */
FK_HOST_POINTWISE(fk_host_pointwise);
FK_HOST_POINTWISE(fk_host_pointwise_quad);
FK_HOST_POINTWISE(fk_host_pointwise_dot);
FK_HOST_DEPTHWISE(fk_host_depthwise);
FK_HOST_CONV_DENSE(fk_host_conv_dense);
FK_HOST_CONV(fk_host_conv);

/* the SIMD set the calls above run: "avx512+vnni", "avx2+vnni", "avx2", "neon" or "portable" */
const char *fk_host_simd(void);

#endif
