/* Image preprocessing as PIL (Pillow's Resample.c and Geometry.c) and torchvision compute it:
 * separable antialiased resampling of 8-bit images (the filter's support grows with the
 * downscale factor, coefficients in 22-bit fixed point, horizontal pass then vertical, each
 * rounded to 8 bits), the same resampling as torch computes it on float32 tensors (float32
 * weights and passes, nothing rounded), nearest-neighbour scaling by either rule, centre crop
 * with zero padding, and the ToTensor + Normalize step. `fkdc preprocess` and the data loaders call these; generated C
 * can embed them. */
#ifndef FK_IMAGE_H
#define FK_IMAGE_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fk_config.h"

/* @begin */
/* @kernel fk_filter */
/* PIL's filters: FK_FILTER_BILINEAR (triangle, support 1), FK_FILTER_BICUBIC (a = -0.5,
 * support 2) */
static inline double fk_filter(int filter, double x)
{
    if (x < 0.0) x = -x;
    if (filter == FK_FILTER_BICUBIC) {
        const double a = -0.5;
        if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
        if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
        return 0.0;
    }
    if (x < 1.0) return 1.0 - x;
    return 0.0;
}

/* @kernel fk_filter_ksize */
/* coefficients per output sample along an axis of `in` samples resampled to `out` */
static inline int fk_filter_ksize(int filter, int in, int out)
{
    double scale = (double)in / out, support;
    if (scale < 1.0) scale = 1.0;
    support = (filter == FK_FILTER_BICUBIC ? 2.0 : 1.0) * scale;
    return (int)ceil(support) * 2 + 1;
}

/* @kernel fk_resample_coeffs uses fk_filter fk_filter_ksize */
/* PIL's precompute_coeffs + normalize_coeffs_8bpc: for output sample i, the first input sample
 * bounds[2i], the count bounds[2i + 1], and ksize weights kk[i * ksize ...] in fixed point with
 * FK_RESAMPLE_BITS fraction bits (rounded half away from zero); `tmp` holds ksize doubles */
static inline void fk_resample_coeffs(int filter, int in, int out, int *bounds, int32_t *kk, double *tmp)
{
    const double scale = (double)(float)in / out;
    const double filterscale = scale < 1.0 ? 1.0 : scale;
    const double support = (filter == FK_FILTER_BICUBIC ? 2.0 : 1.0) * filterscale;
    const int ksize = fk_filter_ksize(filter, in, out);
    int i, x;
    for (i = 0; i < out; i++) {
        const double center = (i + 0.5) * scale, ss = 1.0 / filterscale;
        double ww = 0.0;
        int xmin = (int)(center - support + 0.5), xmax = (int)(center + support + 0.5);
        if (xmin < 0) xmin = 0;
        if (xmax > in) xmax = in;
        xmax -= xmin;
        for (x = 0; x < xmax; x++) {
            tmp[x] = fk_filter(filter, (x + xmin - center + 0.5) * ss);
            ww += tmp[x];
        }
        for (x = 0; x < ksize; x++) {
            const double k = x < xmax ? (ww != 0.0 ? tmp[x] / ww : tmp[x]) : 0.0;
            kk[(size_t)i * ksize + x] =
                (int32_t)(k < 0 ? -0.5 + k * (1 << FK_RESAMPLE_BITS) : 0.5 + k * (1 << FK_RESAMPLE_BITS));
        }
        bounds[2 * i] = xmin;
        bounds[2 * i + 1] = xmax;
    }
}

/* @kernel fk_clip8 */
/* a fixed-point sum back to 8 bits (PIL's clip8) */
static inline FK_HD uint8_t fk_clip8(int32_t v)
{
    if (v >= (1 << FK_RESAMPLE_BITS << 8)) return 255;
    if (v <= 0) return 0;
    return (uint8_t)(v >> FK_RESAMPLE_BITS);
}

/* @kernel fk_resample_dot uses fk_clip8 */
/* one resampled 8-bit value: n samples `step` bytes apart weighted by k (fixed point), rounded
 * (generated CUDA's resampler too) */
static inline FK_HD uint8_t fk_resample_dot(const uint8_t *p, size_t step, int n, const int32_t *k)
{
    int32_t s = 1 << (FK_RESAMPLE_BITS - 1);
    int x;
    for (x = 0; x < n; x++) s += p[(size_t)x * step] * k[x];
    return fk_clip8(s);
}

/* @kernel fk_resample_scratch uses fk_filter_ksize */
/* bytes of scratch fk_resample_u8 needs */
static inline size_t fk_resample_scratch(int filter, int w, int h, int ow, int oh, int channels)
{
    const size_t kh = (size_t)fk_filter_ksize(filter, w, ow), kv = (size_t)fk_filter_ksize(filter, h, oh);
    const size_t kmax = kh > kv ? kh : kv;
    return kmax * sizeof(double) + (2 * (size_t)ow + 2 * (size_t)oh) * sizeof(int) +
           ((size_t)ow * kh + (size_t)oh * kv) * sizeof(int32_t) + (size_t)ow * (size_t)h * (size_t)channels + 64;
}

/* @kernel fk_resample_u8 uses fk_resample_coeffs fk_resample_dot fk_filter_ksize */
/* PIL's Image.resize((ow, oh), BILINEAR or BICUBIC) of an 8-bit image of `channels` interleaved
 * channels (rows `stride` bytes apart) into `out` (ow * channels bytes a row): a horizontal pass
 * over the rows the vertical pass reads, then the vertical pass; an axis that keeps its size is
 * not resampled. `scratch`: fk_resample_scratch bytes, aligned to 8. */
static inline void fk_resample_u8(const uint8_t *in, int w, int h, size_t stride, int channels, uint8_t *out, int ow,
                                  int oh, int filter, void *scratch)
{
    const int kh = fk_filter_ksize(filter, w, ow), kv = fk_filter_ksize(filter, h, oh);
    double *tmp = (double *)scratch;
    int *bh = (int *)(tmp + (kh > kv ? kh : kv));
    int *bv = bh + 2 * ow;
    int32_t *kkh = (int32_t *)(bv + 2 * oh);
    int32_t *kkv = kkh + (size_t)ow * kh;
    uint8_t *mid = (uint8_t *)(kkv + (size_t)oh * kv);
    const uint8_t *src = in;
    size_t src_stride = stride;
    int first = 0, rows = h, i, x, y, c;
    if (ow == w && oh == h) {
        for (y = 0; y < h; y++) memcpy(out + (size_t)y * ow * channels, in + (size_t)y * stride, (size_t)w * channels);
        return;
    }
    fk_resample_coeffs(filter, h, oh, bv, kkv, tmp);
    if (ow != w) {
        /* only the rows the vertical pass reads: bv[0] up to the last output's last row */
        first = oh != h ? bv[0] : 0;
        rows = oh != h ? bv[2 * oh - 2] + bv[2 * oh - 1] - first : h;
        fk_resample_coeffs(filter, w, ow, bh, kkh, tmp);
        for (y = 0; y < rows; y++) {
            const uint8_t *row = in + (size_t)(y + first) * stride;
            uint8_t *dst = (oh == h ? out : mid) + (size_t)y * ow * channels;
            for (i = 0; i < ow; i++)
                for (c = 0; c < channels; c++)
                    dst[(size_t)i * channels + c] = fk_resample_dot(row + (size_t)bh[2 * i] * channels + c,
                                                                    (size_t)channels, bh[2 * i + 1], kkh + (size_t)i * kh);
        }
        if (oh == h) return;
        src = mid;
        src_stride = (size_t)ow * channels;
    }
    for (i = 0; i < oh; i++)
        for (x = 0; x < ow * channels; x++)
            out[(size_t)i * ow * channels + x] = fk_resample_dot(src + (size_t)(bv[2 * i] - first) * src_stride + x,
                                                                 src_stride, bv[2 * i + 1], kkv + (size_t)i * kv);
}

/* @kernel fk_nearest_index */
/* a nearest-neighbour source position to a sample index, kept inside [0, n) */
static inline FK_HD int fk_nearest_index(double o, int n)
{
    int i = o < 0.0 ? -1 : (int)o;
    return i < 0 ? 0 : i >= n ? n - 1 : i;
}

/* @kernel fk_resize_nearest_u8 uses fk_nearest_index */
/* PIL's Image.resize((ow, oh), NEAREST): source positions stepped in double from the first
 * output's centre, as ImagingScaleAffine does (a position stepped past the edge keeps the
 * edge) */
static inline void fk_resize_nearest_u8(const uint8_t *in, int w, int h, size_t stride, int channels, uint8_t *out,
                                        int ow, int oh)
{
    const double ax = (double)w / ow, ay = (double)h / oh;
    double xo, yo = ay * 0.5;
    int x, y;
    for (y = 0; y < oh; y++) {
        const int yi = fk_nearest_index(yo, h);
        xo = ax * 0.5;
        for (x = 0; x < ow; x++) {
            const int xi = fk_nearest_index(xo, w);
            memcpy(out + ((size_t)y * ow + x) * channels, in + (size_t)yi * stride + (size_t)xi * channels,
                   (size_t)channels);
            xo += ax;
        }
        yo += ay;
    }
}

/* @kernel fk_normalise */
/* ToTensor + Normalize of one 8-bit value (or of a padding value, in the same units) */
static inline FK_HD float fk_normalise(float v, float mean, float std) { return (v / 255.0f - mean) / std; }

/* @kernel fk_crop_normalise uses fk_normalise */
/* torchvision's CenterCrop + ToTensor + Normalize: the ch x cw window at (top, left) of an 8-bit
 * HWC image (positions outside it read `pad`, 0…255: the crop's padding, 0 for torchvision's) to
 * float NCHW (value / 255 - mean[c]) / std[c], channel c of the output from channel order[c] of
 * the input */
static inline void fk_crop_normalise(const uint8_t *in, int w, int h, int channels, int top, int left, int ch,
                                     int cw, const int *order, const float *mean, const float *std, float pad,
                                     float *out)
{
    int c, y, x;
    for (c = 0; c < 3; c++)
        for (y = 0; y < ch; y++)
            for (x = 0; x < cw; x++) {
                const int iy = y + top, ix = x + left;
                const float v =
                    iy >= 0 && iy < h && ix >= 0 && ix < w ? (float)in[((size_t)iy * w + ix) * channels + order[c]] : pad;
                out[((size_t)c * ch + y) * cw + x] = fk_normalise(v, mean[c], std[c]);
            }
}
/* @kernel fk_filter_f32 */
/* torch's antialiasing filters in float32 (bilinear: triangle; bicubic: a = -0.5, PIL's) */
static inline float fk_filter_f32(int filter, float x)
{
    const float a = -0.5f;
    if (x < 0.0f) x = -x;
    if (filter == FK_FILTER_BICUBIC) {
        if (x < 1.0f) return ((a + 2.0f) * x - (a + 3.0f)) * x * x + 1.0f;
        if (x < 2.0f) return ((a * x - 5.0f * a) * x + 8.0f * a) * x - 4.0f * a;
        return 0.0f;
    }
    return x < 1.0f ? 1.0f - x : 0.0f;
}

/* @kernel fk_filter_ksize_f32 */
/* weights per output sample of fk_resample_coeffs_f32 (its support computed in float32) */
static inline int fk_filter_ksize_f32(int filter, int in, int out)
{
    const float scale = (float)in / (float)out;
    const float support = (filter == FK_FILTER_BICUBIC ? 2.0f : 1.0f) * (scale >= 1.0f ? scale : 1.0f);
    return (int)ceilf(support) * 2 + 1;
}

/* @kernel fk_resample_coeffs_f32 uses fk_filter_f32 fk_filter_ksize_f32 */
/* torch's antialiased interpolation weights for float32 tensors (`interpolate(..., antialias=True)`,
 * which torchvision's Resize calls): for output sample i the first input sample bounds[2i], the
 * count bounds[2i + 1] and ksize float32 weights kk[i * ksize ...], normalised to sum 1 */
static inline void fk_resample_coeffs_f32(int filter, int in, int out, int *bounds, float *kk)
{
    const float scale = (float)in / (float)out;
    const float support = (filter == FK_FILTER_BICUBIC ? 2.0f : 1.0f) * (scale >= 1.0f ? scale : 1.0f);
    const float invscale = scale >= 1.0f ? 1.0f / scale : 1.0f;
    const int ksize = fk_filter_ksize_f32(filter, in, out);
    int i, x;
    for (i = 0; i < out; i++) {
        const float center = scale * ((float)i + 0.5f);
        float total = 0.0f, *k = kk + (size_t)i * ksize;
        int xmin = (int)(center - support + 0.5f), xmax = (int)(center + support + 0.5f);
        if (xmin < 0) xmin = 0;
        if (xmax > in) xmax = in;
        xmax -= xmin;
        if (xmax > ksize) xmax = ksize;
        for (x = 0; x < xmax; x++) {
            k[x] = fk_filter_f32(filter, ((float)(x + xmin) - center + 0.5f) * invscale);
            total += k[x];
        }
        for (x = 0; x < ksize; x++) k[x] = x >= xmax ? 0.0f : total != 0.0f ? k[x] / total : k[x];
        bounds[2 * i] = xmin;
        bounds[2 * i + 1] = xmax;
    }
}

/* @kernel fk_resample_f32_scratch uses fk_filter_ksize_f32 */
/* bytes of scratch fk_resample_f32 needs */
static inline size_t fk_resample_f32_scratch(int filter, int w, int h, int ow, int oh)
{
    const size_t kh = (size_t)fk_filter_ksize_f32(filter, w, ow), kv = (size_t)fk_filter_ksize_f32(filter, h, oh);
    return (2 * (size_t)ow + 2 * (size_t)oh) * sizeof(int) + ((size_t)ow * kh + (size_t)oh * kv) * sizeof(float) +
           (size_t)ow * (size_t)h * 3 * sizeof(float) + 64;
}

/* @kernel fk_resample_f32 uses fk_resample_coeffs_f32 fk_filter_ksize_f32 */
/* torchvision's Resize of a float32 image tensor (ToDtype(float32, scale=True) first, so each
 * sample is v / 255) with BILINEAR or BICUBIC, antialiased: packed 8-bit RGB `in` (w x h) to
 * float32 RGB `out` (ow x oh, interleaved), a horizontal pass then a vertical one, each summing
 * in float32 from the first weight up, an axis that keeps its size not resampled. `scratch`:
 * fk_resample_f32_scratch bytes, aligned to 8. */
static inline void fk_resample_f32(const uint8_t *in, int w, int h, float *out, int ow, int oh, int filter,
                                   void *scratch)
{
    const int kh = fk_filter_ksize_f32(filter, w, ow), kv = fk_filter_ksize_f32(filter, h, oh);
    int *bh = (int *)scratch, *bv = bh + 2 * ow;
    float *kkh = (float *)(bv + 2 * oh), *kkv = kkh + (size_t)ow * kh, *mid = kkv + (size_t)oh * kv;
    int i, j, x, y;
    if (ow != w) fk_resample_coeffs_f32(filter, w, ow, bh, kkh);
    if (oh != h) fk_resample_coeffs_f32(filter, h, oh, bv, kkv);
    /* the horizontal pass (or the conversion to float) into `mid`, or `out` when no vertical pass follows */
    for (y = 0; y < h; y++) {
        const uint8_t *row = in + (size_t)y * w * 3;
        float *dst = (oh == h ? out : mid) + (size_t)y * ow * 3;
        for (i = 0; i < ow * 3; i++) {
            const int o = i / 3, c = i % 3;
            float s;
            if (ow == w) {
                dst[i] = (float)row[i] / 255.0f;
                continue;
            }
            s = (float)row[(size_t)bh[2 * o] * 3 + c] / 255.0f * kkh[(size_t)o * kh];
            for (j = 1; j < bh[2 * o + 1]; j++)
                s += (float)row[(size_t)(bh[2 * o] + j) * 3 + c] / 255.0f * kkh[(size_t)o * kh + j];
            dst[i] = s;
        }
    }
    if (oh == h) return;
    for (i = 0; i < oh; i++)
        for (x = 0; x < ow * 3; x++) {
            const float *col = mid + (size_t)bv[2 * i] * ow * 3 + x;
            float s = col[0] * kkv[(size_t)i * kv];
            for (j = 1; j < bv[2 * i + 1]; j++) s += col[(size_t)j * ow * 3] * kkv[(size_t)i * kv + j];
            out[(size_t)i * ow * 3 + x] = s;
        }
}

/* @kernel fk_tensor_nearest_index */
/* torch's nearest source index for output sample o of `out` from `in` (InterpolationMode
 * NEAREST: floor(o * in / out); NEAREST_EXACT: floor((o + 0.5) * in / out)), in float32 */
static inline FK_HD int fk_tensor_nearest_index(int o, int in, int out, int exact)
{
    const float scale = (float)in / (float)out;
    int i;
    if (in == out) return o;
    if (!exact && out == 2 * in) return o >> 1;
    i = (int)floorf(exact ? ((float)o + 0.5f) * scale : (float)o * scale);
    return i < in - 1 ? i : in - 1;
}

/* @kernel fk_resize_tensor_nearest_u8 uses fk_tensor_nearest_index */
/* torchvision's nearest Resize of an image tensor (the same indices for 8-bit and float
 * tensors): packed RGB w x h to ow x oh */
static inline void fk_resize_tensor_nearest_u8(const uint8_t *in, int w, int h, uint8_t *out, int ow, int oh,
                                               int exact)
{
    int x, y;
    for (y = 0; y < oh; y++) {
        const int yi = fk_tensor_nearest_index(y, h, oh, exact);
        for (x = 0; x < ow; x++)
            memcpy(out + ((size_t)y * ow + x) * 3, in + ((size_t)yi * w + fk_tensor_nearest_index(x, w, ow, exact)) * 3,
                   3);
    }
}

/* @kernel fk_crop_normalise_f32 */
/* fk_crop_normalise of a float32 RGB image already scaled to [0, 1] (the tensor pipeline's
 * resize output): (x - mean[c]) / std[c], pad / 255 outside the image */
static inline void fk_crop_normalise_f32(const float *in, int w, int h, int top, int left, int ch, int cw,
                                         const int *order, const float *mean, const float *std, float pad, float *out)
{
    int c, y, x;
    for (c = 0; c < 3; c++)
        for (y = 0; y < ch; y++)
            for (x = 0; x < cw; x++) {
                const int iy = y + top, ix = x + left;
                const float v =
                    iy >= 0 && iy < h && ix >= 0 && ix < w ? in[((size_t)iy * w + ix) * 3 + order[c]] : pad / 255.0f;
                out[((size_t)c * ch + y) * cw + x] = (v - mean[c]) / std[c];
            }
}

/* @kernel fk_preprocessing */
/* a model's stored preprocessing: the resize (FK_RESIZE_*: to resize_h x resize_w, the shorter
 * side to resize_h, or a letterbox inside resize_h x resize_w), the crop (crop_h = 0: none;
 * centred, or from the top left: FK_ALIGN_*), the model's input size, the filter (FK_FILTER_*)
 * and whose arithmetic it follows (FK_PIPELINE_*), the input channel each output channel takes,
 * the normalisation, and the value (0…255) padding reads */
typedef struct {
    int resize, resize_h, resize_w, crop_h, crop_w, out_h, out_w, filter, pipeline, align;
    int order[3];
    float mean[3], std[3], pad;
} fk_preprocessing;

/* @kernel fk_resized_size uses fk_preprocessing */
/* the size after the resize step for a w x h image (torchvision's Resize(int): the longer side
 * n * long / short, truncated) */
static inline void fk_resized_size(const fk_preprocessing *p, int w, int h, int *rw, int *rh)
{
    if (p->resize == FK_RESIZE_MODEL) {
        *rw = p->out_w;
        *rh = p->out_h;
    } else if (p->resize == FK_RESIZE_EXACT) {
        *rw = p->resize_w;
        *rh = p->resize_h;
    } else if (p->resize == FK_RESIZE_SHORTER) {
        const int n = p->resize_h, shorter = w <= h ? w : h, longer = w <= h ? h : w;
        double l = (double)n * longer / shorter;
        const int nl = l >= FK_IMAGE_MAX_SIDE ? FK_IMAGE_MAX_SIDE : (int)l;
        *rw = w <= h ? n : nl;
        *rh = w <= h ? nl : n;
    } else if (p->resize == FK_RESIZE_FIT) {
        const double sh = (double)p->resize_h / h, sw = (double)p->resize_w / w, r = sh < sw ? sh : sw;
        const double nw = nearbyint(w * r), nh = nearbyint(h * r);
        *rw = nw < 1 ? 1 : nw > p->resize_w ? p->resize_w : (int)nw;
        *rh = nh < 1 ? 1 : nh > p->resize_h ? p->resize_h : (int)nh;
    } else if (p->resize == FK_RESIZE_HEIGHT) {
        const double nw = ceil(p->resize_h * ((double)w / h));
        *rw = nw < 1 ? 1 : nw > p->resize_w ? p->resize_w : (int)nw;
        *rh = p->resize_h;
    } else {
        *rw = w;
        *rh = h;
    }
}

/* @kernel fk_crop_offset */
/* the centre crop's offset along one side (negative: the crop pads the image first). torchvision's
 * CenterCrop: int(round((size - crop) / 2)), halves to even, and a crop larger than the image
 * pads (crop - size) // 2 before; Hugging Face's center_crop (FK_PIPELINE_HF): (size - crop) // 2
 * floored, both ways */
static inline int fk_crop_offset(int size, int crop, int pipeline)
{
    int d, q;
    if (pipeline == FK_PIPELINE_HF) return size >= crop ? (size - crop) / 2 : -((crop - size + 1) / 2);
    if (crop > size) return -((crop - size) / 2);
    d = size - crop;
    q = d / 2;
    return d % 2 == 1 && q % 2 == 1 ? q + 1 : q; /* .5 rounds to the even neighbour */
}

/* @kernel fk_crop_origin uses fk_preprocessing fk_crop_offset */
/* the crop's offset along a side of `size` for the stored alignment: fk_crop_offset, or 0 (the
 * image at the top left, padding after it) */
static inline int fk_crop_origin(const fk_preprocessing *p, int size, int crop)
{
    return p->align == FK_ALIGN_TOP_LEFT ? 0 : fk_crop_offset(size, crop, p->pipeline);
}

/* @kernel fk_preprocess_scratch uses fk_preprocessing fk_resized_size fk_resample_scratch fk_resample_f32_scratch */
/* bytes of scratch fk_preprocess_u8 needs for a w x h image (0: the image cannot be read) */
static inline size_t fk_preprocess_scratch(const fk_preprocessing *p, int w, int h)
{
    int rw, rh;
    const int nearest = p->filter == FK_FILTER_NEAREST || p->filter == FK_FILTER_NEAREST_EXACT;
    if (w <= 0 || h <= 0 || w > FK_IMAGE_MAX_SIDE || h > FK_IMAGE_MAX_SIDE) return 0;
    fk_resized_size(p, w, h, &rw, &rh);
    if (p->pipeline == FK_PIPELINE_TENSOR && !nearest)
        return ((size_t)w * h * 3 + 63) / 64 * 64 + ((size_t)rw * rh * 3 * sizeof(float) + 63) / 64 * 64 +
               fk_resample_f32_scratch(p->filter, w, h, rw, rh);
    return ((size_t)w * h * 3 + 63) / 64 * 64 + ((size_t)rw * rh * 3 + 63) / 64 * 64 +
           (nearest ? 0 : fk_resample_scratch(p->filter, w, h, rw, rh, 3));
}

/* @kernel fk_pixel_rgb */
/* pixel (x, y) of an 8-bit frame as packed RGB: RGB, BGR and RGBA rows `stride` bytes apart, or
 * NV12 (a luma plane of h rows, then the interleaved U, V plane at half resolution) through
 * BT.601 limited-range integer arithmetic */
static inline FK_HD void fk_pixel_rgb(const uint8_t *px, size_t stride, int h, int x, int y, int format, uint8_t *d)
{
    if (format == FK_FORMAT_NV12) {
        const uint8_t *uv = px + stride * h + stride * (y / 2) + (size_t)(x / 2) * 2;
        const int c = px[stride * y + x] - 16, u = uv[0] - 128, v = uv[1] - 128;
        const int r = (298 * c + 409 * v + 128) >> 8, g = (298 * c - 100 * u - 208 * v + 128) >> 8,
                  b = (298 * c + 516 * u + 128) >> 8;
        d[0] = (uint8_t)(r < 0 ? 0 : r > 255 ? 255 : r);
        d[1] = (uint8_t)(g < 0 ? 0 : g > 255 ? 255 : g);
        d[2] = (uint8_t)(b < 0 ? 0 : b > 255 ? 255 : b);
    } else {
        const uint8_t *s = px + stride * y + (size_t)x * (format == FK_FORMAT_RGBA ? 4 : 3);
        d[0] = s[format == FK_FORMAT_BGR ? 2 : 0];
        d[1] = s[1];
        d[2] = s[format == FK_FORMAT_BGR ? 0 : 2];
    }
}

/* @kernel fk_preprocess_u8 uses fk_preprocessing fk_resized_size fk_crop_origin fk_preprocess_scratch fk_pixel_rgb fk_resample_u8 fk_resize_nearest_u8 fk_crop_normalise fk_resample_f32 fk_resize_tensor_nearest_u8 fk_crop_normalise_f32 */
/* an 8-bit image (FK_FORMAT_RGB, BGR or RGBA rows `stride` bytes apart; NV12: a w x h luma
 * plane, then the interleaved U, V plane at half resolution, both `stride` bytes a row) to the
 * model's float NCHW input: packed RGB (NV12 through BT.601 limited-range integer arithmetic),
 * the resize (PIL's 8-bit arithmetic, or torch's float32 under FK_PIPELINE_TENSOR), the centre
 * crop, normalisation. Returns 0, or -1 when the result is not the
 * model's size or an argument is out of range. `scratch`: fk_preprocess_scratch bytes, aligned
 * to 64. */
static inline int fk_preprocess_u8(const uint8_t *px, int w, int h, size_t stride, int format,
                                   const fk_preprocessing *p, float *out, void *scratch)
{
    int rw, rh, x, y, ch, cw;
    uint8_t *rgb = (uint8_t *)scratch, *sized;
    if (fk_preprocess_scratch(p, w, h) == 0 || format < FK_FORMAT_RGB || format > FK_FORMAT_NV12) return -1;
    fk_resized_size(p, w, h, &rw, &rh);
    ch = p->crop_h > 0 ? p->crop_h : rh;
    cw = p->crop_w > 0 ? p->crop_w : rw;
    if (ch != p->out_h || cw != p->out_w || rw <= 0 || rh <= 0) return -1;
    for (y = 0; y < h; y++)
        for (x = 0; x < w; x++) fk_pixel_rgb(px, stride, h, x, y, format, rgb + ((size_t)y * w + x) * 3);
    sized = rgb;
    if (rw != w || rh != h) {
        /* the packed image, the resized one and the resampler's scratch, each 64-byte aligned */
        sized = rgb + ((size_t)w * h * 3 + 63) / 64 * 64;
        if (p->pipeline == FK_PIPELINE_TENSOR && (p->filter == FK_FILTER_BILINEAR || p->filter == FK_FILTER_BICUBIC)) {
            float *f = (float *)(void *)sized;
            fk_resample_f32(rgb, w, h, f, rw, rh, p->filter, sized + ((size_t)rw * rh * 3 * sizeof(float) + 63) / 64 * 64);
            fk_crop_normalise_f32(f, rw, rh, fk_crop_origin(p, rh, ch), fk_crop_origin(p, rw, cw),
                                  ch, cw, p->order, p->mean, p->std, p->pad, out);
            return 0;
        }
        if (p->pipeline == FK_PIPELINE_TENSOR)
            fk_resize_tensor_nearest_u8(rgb, w, h, sized, rw, rh, p->filter == FK_FILTER_NEAREST_EXACT);
        else if (p->filter == FK_FILTER_NEAREST || p->filter == FK_FILTER_NEAREST_EXACT)
            fk_resize_nearest_u8(rgb, w, h, (size_t)w * 3, 3, sized, rw, rh);
        else
            fk_resample_u8(rgb, w, h, (size_t)w * 3, 3, sized, rw, rh, p->filter,
                           sized + ((size_t)rw * rh * 3 + 63) / 64 * 64);
    }
    fk_crop_normalise(sized, rw, rh, 3, fk_crop_origin(p, rh, ch), fk_crop_origin(p, rw, cw), ch,
                      cw, p->order, p->mean, p->std, p->pad, out);
    return 0;
}
/* @end */

#endif
