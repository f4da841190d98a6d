/* The float32 kernels of generated C (mixed precision) on row-major tensors: each one the
 * float evaluator's formula in the order of OrderedKernels.swift */
#ifndef FK_FLOAT_H
#define FK_FLOAT_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "fk_arith.h"
#include "fk_config.h"

/* @begin */
/* ---- float32 kernels (mixed precision) on row-major tensors ---- */

/* @kernel fk_fmax */
/* Swift's max and min (the evaluator's), signed zeros and NaN included */
static inline FK_HD float fk_fmax(float a, float b) { return b >= a ? b : a; }

/* @kernel fk_fmin */
static inline FK_HD float fk_fmin(float a, float b) { return b < a ? b : a; }

/* @kernel fk_act uses fk_fmax fk_fmin */
/* an activation by its FK_ACT_ code (fk_config): fused into a conv, gemm or binary op, or alone */
static inline FK_HD float fk_act(float v, int act, float lo, float hi)
{
    switch (act) {
    case FK_ACT_RELU: return fk_fmax(v, 0);
    case FK_ACT_CLIP: return fk_fmin(fk_fmax(v, lo), hi);
    case FK_ACT_HARD_SWISH: return v * fk_fmin(fk_fmax(v + 3, 0), 6) / 6;
    case FK_ACT_HARD_SIGMOID: return fk_fmin(fk_fmax(v + 3, 0), 6) / 6;
    case FK_ACT_GELU: return 0.5f * v * (1 + erff(v * 0.70710678118654752f));
    case FK_ACT_SIGMOID: return 1 / (1 + expf(-v));
    case FK_ACT_SILU: return v * (1 / (1 + expf(-v)));
    default: return v;
    }
}

/* @kernel fk_quantize_n uses fk_quantize */
static inline void fk_quantize_n(const float *x, long n, float s, int32_t zp, int8_t *y)
{
    long i;
    for (i = 0; i < n; i++) y[i] = fk_quantize(x[i], s, zp);
}

/* @kernel fk_dequantize_n uses fk_dequantize */
static inline void fk_dequantize_n(const int8_t *x, long n, float s, int32_t zp, float *y)
{
    long i;
    for (i = 0; i < n; i++) y[i] = fk_dequantize(x[i], s, zp);
}

/* @kernel fk_dequantize_nhwc uses fk_dequantize */
/* NHWC int8 -> NCHW float32 */
static inline void fk_dequantize_nhwc(const int8_t *x, int plane, int c, float s, int32_t zp, float *y)
{
    int ch, p;
    for (ch = 0; ch < c; ch++)
        for (p = 0; p < plane; p++) y[ch * plane + p] = fk_dequantize(x[p * c + ch], s, zp);
}

/* @kernel fk_copy_f32 */
/* y[Σ i_d ys[d]] = x[Σ i_d xs[d]] over the index space dims (row-major): transpose, slice,
 * concat, gather and expand (a stride of 0 repeats) are all this one strided copy */
static inline void fk_copy_f32(const float *x, float *y, int rank, const int *dims, const int *xs,
                               const int *ys)
{
    int idx[FK_MAX_RANK] = {0};
    long xo = 0, yo = 0, rows = 1, r;
    int d, i;
    const int n = dims[rank - 1], xi = xs[rank - 1], yi = ys[rank - 1];
    for (d = 0; d < rank - 1; d++) rows *= dims[d];
    for (r = 0; r < rows; r++) {
        if (xi == 1 && yi == 1)
            for (i = 0; i < n; i++) y[yo + i] = x[xo + i];
        else
            for (i = 0; i < n; i++) y[yo + (long)i * yi] = x[xo + (long)i * xi];
        for (d = rank - 2; d >= 0; d--) {
            xo += xs[d];
            yo += ys[d];
            if (++idx[d] < dims[d]) break;
            xo -= (long)xs[d] * dims[d];
            yo -= (long)ys[d] * dims[d];
            idx[d] = 0;
        }
    }
}

/* @kernel fk_binary_f32 uses fk_act */
/* y = act(a op b) with broadcasting (a stride of 0 along a broadcast dimension); op 0 add,
 * 1 mul; y is contiguous over dims */
static inline void fk_binary_f32(const float *a, const float *b, float *y, int rank, const int *dims,
                                 const int *as, const int *bs, int op, int act, float lo, float hi)
{
    int idx[FK_MAX_RANK] = {0};
    long ao = 0, bo = 0, yo = 0, rows = 1, r;
    int d, i;
    const int n = dims[rank - 1], ai = as[rank - 1], bi = bs[rank - 1];
    for (d = 0; d < rank - 1; d++) rows *= dims[d];
    for (r = 0; r < rows; r++, yo += n) {
        if (op == 0)
            for (i = 0; i < n; i++) y[yo + i] = a[ao + (long)i * ai] + b[bo + (long)i * bi];
        else
            for (i = 0; i < n; i++) y[yo + i] = a[ao + (long)i * ai] * b[bo + (long)i * bi];
        if (act != 0)
            for (i = 0; i < n; i++) y[yo + i] = fk_act(y[yo + i], act, lo, hi);
        for (d = rank - 2; d >= 0; d--) {
            ao += as[d];
            bo += bs[d];
            if (++idx[d] < dims[d]) break;
            ao -= (long)as[d] * dims[d];
            bo -= (long)bs[d] * dims[d];
            idx[d] = 0;
        }
    }
}

/* @kernel fk_unary_f32 uses fk_act */
/* y = act(x), the activation by its FK_ACT_ code (relu, clip(lo, hi), hard swish, hard sigmoid,
 * GELU in the erf form, sigmoid, SiLU) */
static inline void fk_unary_f32(const float *x, long n, int act, float lo, float hi, float *y)
{
    long i;
    for (i = 0; i < n; i++) y[i] = fk_act(x[i], act, lo, hi);
}

/* @kernel fk_layernorm_f32 */
/* normalises each of `outer` rows of `inner` values (mean and variance in double) */
static inline void fk_layernorm_f32(const float *x, long outer, int inner, const float *scale,
                                    const float *bias, float eps, float *y)
{
    long o;
    int i;
    for (o = 0; o < outer; o++) {
        const float *src = x + o * inner;
        float *dst = y + o * inner;
        double sum = 0, mean, sq = 0, d;
        float inv, m;
        for (i = 0; i < inner; i++) sum += (double)src[i];
        mean = sum / (double)inner;
        for (i = 0; i < inner; i++) {
            d = (double)src[i] - mean;
            d = d * d;
            sq += d;
        }
        inv = (float)(1 / sqrt(sq / (double)inner + (double)eps));
        m = (float)mean;
        for (i = 0; i < inner; i++) {
            const float t = (src[i] - m) * inv * scale[i];
            dst[i] = t + bias[i];
        }
    }
}

/* @kernel fk_softmax_f32 uses fk_fmax */
static inline void fk_softmax_f32(const float *x, long outer, int len, int inner, float *y)
{
    long o;
    int i, j;
    for (o = 0; o < outer; o++)
        for (i = 0; i < inner; i++) {
            const float *src = x + o * len * inner + i;
            float *dst = y + o * len * inner + i;
            float mx = -HUGE_VALF, sum = 0, inv;
            for (j = 0; j < len; j++) mx = fk_fmax(mx, src[j * inner]);
            for (j = 0; j < len; j++) {
                const float e = expf(src[j * inner] - mx);
                dst[j * inner] = e;
                sum += e;
            }
            inv = 1 / sum;
            for (j = 0; j < len; j++) dst[j * inner] *= inv;
        }
}

/* @kernel fk_matmul_f32 */
/* y[t] = a[t] (m x k) times b[t] (k x n) for each of `batches` products; a and b start at
 * the offsets given (a broadcast operand repeats an offset) */
static inline void fk_matmul_f32(const float *a, const int *ao, const float *b, const int *bo, int batches,
                                 int m, int k, int n, float *y)
{
    int t, i, p, j;
    for (t = 0; t < batches; t++) {
        const float *A = a + ao[t], *B = b + bo[t];
        for (i = 0; i < m; i++) {
            float *row = y + ((long)t * m + i) * n;
            for (j = 0; j < n; j++) row[j] = 0;
            for (p = 0; p < k; p++) {
                const float av = A[i * k + p];
                const float *br = B + (long)p * n;
                for (j = 0; j < n; j++) {
                    const float prod = av * br[j]; /* a statement of its own: never contracted */
                    row[j] += prod;
                }
            }
        }
    }
}

/* @kernel fk_gemm_f32 uses fk_act */
/* linear layer on `rows` rows: y[r][o] = act(b[o] + sum_k x[r][k] wt[k][o]), weights
 * stored transposed [K][N] so the inner loop runs over contiguous outputs */
static inline void fk_gemm_f32(const float *x, long rows, int k, const float *wt, const float *b, int n,
                               int act, float lo, float hi, float *y)
{
    long r;
    int p, j;
    for (r = 0; r < rows; r++) {
        float *row = y + r * n;
        const float *xr = x + r * k;
        for (j = 0; j < n; j++) row[j] = b != NULL ? b[j] : 0;
        for (p = 0; p < k; p++) {
            const float xv = xr[p];
            const float *wr = wt + (long)p * n;
            for (j = 0; j < n; j++) {
                const float prod = xv * wr[j];
                row[j] += prod;
            }
        }
        if (act != 0)
            for (j = 0; j < n; j++) row[j] = fk_act(row[j], act, lo, hi);
    }
}

/* @kernel fk_conv_f32 uses fk_act */
/* direct convolution on NCHW, weights [O][C/groups][kh][kw] */
static inline void fk_conv_f32(const float *x, int nb, int c, int h, int w, const float *wt, const float *b,
                               float *y, int o, int ho, int wo, int kh, int kw, int sh, int sw, int pt,
                               int pl, int dh, int dw, int groups, int act, float lo, float hi)
{
    const int cg = c / groups, og = o / groups;
    int bt, oc, oy, ox, ci, ky, kx;
    for (bt = 0; bt < nb; bt++)
        for (oc = 0; oc < o; oc++) {
            const int g0 = (oc / og) * cg;
            for (oy = 0; oy < ho; oy++)
                for (ox = 0; ox < wo; ox++) {
                    float acc = b != NULL ? b[oc] : 0;
                    for (ci = 0; ci < cg; ci++) {
                        const float *xp = x + ((long)bt * c + g0 + ci) * h * w;
                        const float *wp = wt + ((long)oc * cg + ci) * kh * kw;
                        for (ky = 0; ky < kh; ky++) {
                            const int iy = oy * sh - pt + ky * dh;
                            if (iy < 0 || iy >= h) continue;
                            for (kx = 0; kx < kw; kx++) {
                                const int ix = ox * sw - pl + kx * dw;
                                if (ix < 0 || ix >= w) continue;
                                const float prod = xp[iy * w + ix] * wp[ky * kw + kx];
                                acc += prod;
                            }
                        }
                    }
                    y[(((long)bt * o + oc) * ho + oy) * wo + ox] = fk_act(acc, act, lo, hi);
                }
        }
}

/* @kernel fk_pool_f32 uses fk_fmax */
/* max (is_max) or average pooling on NCHW planes, PyTorch semantics: padding never wins a
 * max; the average divides by the clipped padded window or by the valid count */
static inline void fk_pool_f32(const float *x, long planes, int h, int w, float *y, int ho, int wo, int kh,
                               int kw, int sh, int sw, int pt, int pl, int pb, int pr, int include_pad,
                               int is_max)
{
    long i;
    int oy, ox, yy, xx;
    for (i = 0; i < planes; i++) {
        const float *src = x + i * h * w;
        float *dst = y + i * ho * wo;
        for (oy = 0; oy < ho; oy++)
            for (ox = 0; ox < wo; ox++) {
                const int y0 = oy * sh - pt, x0 = ox * sw - pl;
                const int y1 = y0 + kh < h + pb ? y0 + kh : h + pb, x1 = x0 + kw < w + pr ? x0 + kw : w + pr;
                const int ys = y0 > 0 ? y0 : 0, ye = y1 < h ? y1 : h, xs = x0 > 0 ? x0 : 0, xe = x1 < w ? x1 : w;
                float acc = is_max ? -HUGE_VALF : 0;
                int count;
                for (yy = ys; yy < ye; yy++)
                    for (xx = xs; xx < xe; xx++) {
                        const float v = src[yy * w + xx];
                        acc = is_max ? fk_fmax(acc, v) : acc + v;
                    }
                if (!is_max) {
                    count = include_pad ? (y1 - y0) * (x1 - x0) : (ye - ys) * (xe - xs);
                    acc /= (float)(count > 1 ? count : 1);
                }
                dst[oy * wo + ox] = acc;
            }
    }
}

/* @kernel fk_batchnorm_f32 */
/* inference batch norm over [N][C][inner] */
static inline void fk_batchnorm_f32(const float *x, int nb, int c, long inner, const float *scale,
                                    const float *bias, const float *mean, const float *var, float eps,
                                    float *y)
{
    int bt, ch;
    long i;
    for (bt = 0; bt < nb; bt++)
        for (ch = 0; ch < c; ch++) {
            const float k = scale[ch] / sqrtf(var[ch] + eps), m = mean[ch], s = bias[ch];
            const float *src = x + ((long)bt * c + ch) * inner;
            float *dst = y + ((long)bt * c + ch) * inner;
            for (i = 0; i < inner; i++) {
                const float t = (src[i] - m) * k;
                dst[i] = t + s;
            }
        }
}

/* @kernel fk_gap_f32 */
static inline void fk_gap_f32(const float *x, long planes, int plane, float *y)
{
    long i;
    int j;
    for (i = 0; i < planes; i++) {
        float s = 0;
        for (j = 0; j < plane; j++) s += x[i * plane + j];
        y[i] = s / (float)plane;
    }
}
/* @end */

#endif
