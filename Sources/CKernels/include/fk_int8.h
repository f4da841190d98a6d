/* The int8 kernels of generated C on channel-last (NHWC) activations, batch 1: each one
 * Int8Kernels.swift's arithmetic (tests call both on the same inputs) */
#ifndef FK_INT8_H
#define FK_INT8_H

#include <stddef.h>
#include <stdint.h>

#include "fk_arith.h"
#include "fk_config.h"

/* @begin */
/* ---- kernels on NHWC activations (batch 1) ---- */

/* @kernel fk_quantize_nchw uses fk_simd fk_quantize */
/* NCHW float input -> NHWC int8 */
static inline void fk_quantize_nchw(const float *in, int c, int plane, float s, int32_t zp, int8_t *out)
{
    int ch, p = 0;
#if defined(__AVX2__) /* @simd avx2 */
    /* three channels (an RGB image), eight pixels at a time: x / s (VDIVPS, IEEE as the scalar
     * division), rounded half away from zero as roundf (truncated, then one away from zero where
     * the exact remainder q - trunc(q) is at least one half), clamped to [-128 - zp, 127 - zp] by
     * VMAXPS/VMINPS with the bound second (a NaN takes it, so -128; infinities the bounds, as
     * fk_quantize), converted (exact: integers), shifted by zp and interleaved by byte stores */
    if (c == 3 && zp >= -128 && zp <= 127) {
        const __m256 vs = _mm256_set1_ps(s), lo = _mm256_set1_ps((float)(-128 - zp));
        const __m256 hi = _mm256_set1_ps((float)(127 - zp)), one = _mm256_set1_ps(1.0f);
        const __m256 half = _mm256_set1_ps(0.5f), mhalf = _mm256_set1_ps(-0.5f);
        const __m256i vz = _mm256_set1_epi32(zp);
        for (; p + 8 <= plane; p += 8) {
            int32_t q[3][8];
            int i;
            for (ch = 0; ch < 3; ch++) {
                const __m256 v = _mm256_div_ps(_mm256_loadu_ps(in + (size_t)ch * plane + p), vs);
                const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
                const __m256 d = _mm256_sub_ps(v, t);
                __m256 r = _mm256_add_ps(t, _mm256_and_ps(_mm256_cmp_ps(d, half, _CMP_GE_OQ), one));
                r = _mm256_sub_ps(r, _mm256_and_ps(_mm256_cmp_ps(d, mhalf, _CMP_LE_OQ), one));
                r = _mm256_min_ps(_mm256_max_ps(r, lo), hi);
                _mm256_storeu_si256((__m256i *)q[ch], _mm256_add_epi32(_mm256_cvtps_epi32(r), vz));
            }
            for (i = 0; i < 8; i++) {
                out[(size_t)(p + i) * 3] = (int8_t)q[0][i];
                out[(size_t)(p + i) * 3 + 1] = (int8_t)q[1][i];
                out[(size_t)(p + i) * 3 + 2] = (int8_t)q[2][i];
            }
        }
    }
#endif /* @simd avx2 */
#if defined(__ARM_NEON) && defined(__aarch64__) /* @simd neon */
    /* three channels (an RGB image), eight pixels at a time, interleaved by VST3: x / s (FDIV,
     * IEEE as the scalar division), rounded half away from zero (FRINTA, as roundf), clamped to
     * [-128 - zp, 127 - zp] by FMAXNM/FMINNM (NaN takes the lower bound, so -128, and infinities
     * the bounds, as fk_quantize), converted (exact: integers) and shifted by zp */
    if (c == 3 && zp >= -128 && zp <= 127) {
        const float32x4_t vs = vdupq_n_f32(s), lo = vdupq_n_f32((float)(-128 - zp)), hi = vdupq_n_f32((float)(127 - zp));
        const int32x4_t vz = vdupq_n_s32(zp);
        for (; p + 8 <= plane; p += 8) {
            int8x8x3_t v;
            int8x8_t q[3];
            for (ch = 0; ch < 3; ch++) {
                const float *x = in + (size_t)ch * plane + p;
                const float32x4_t a = vminnmq_f32(vmaxnmq_f32(vrndaq_f32(vdivq_f32(vld1q_f32(x), vs)), lo), hi);
                const float32x4_t b = vminnmq_f32(vmaxnmq_f32(vrndaq_f32(vdivq_f32(vld1q_f32(x + 4), vs)), lo), hi);
                const int32x4_t ia = vaddq_s32(vcvtq_s32_f32(a), vz), ib = vaddq_s32(vcvtq_s32_f32(b), vz);
                q[ch] = vmovn_s16(vcombine_s16(vmovn_s32(ia), vmovn_s32(ib)));
            }
            v.val[0] = q[0];
            v.val[1] = q[1];
            v.val[2] = q[2];
            vst3_s8(out + (size_t)p * 3, v);
        }
    }
#endif /* @simd neon */
    for (; p < plane; p++)
        for (ch = 0; ch < c; ch++) out[(size_t)p * c + ch] = fk_quantize(in[(size_t)ch * plane + p], s, zp);
}

/* @kernel fk_nchw_to_nhwc */
static inline void fk_nchw_to_nhwc(const int8_t *in, int c, int plane, int8_t *out)
{
    int ch, p;
    for (ch = 0; ch < c; ch++)
        for (p = 0; p < plane; p++) out[p * c + ch] = in[ch * plane + p];
}

/* @kernel fk_to_nchw */
static inline void fk_to_nchw(const int8_t *in, int plane, int c, int8_t *out)
{
    int ch, p;
    for (p = 0; p < plane; p++)
        for (ch = 0; ch < c; ch++) out[ch * plane + p] = in[p * c + ch];
}

/* @kernel fk_pointwise uses fk_simd fk_requant_n */
/* 1x1 convolution (and fully connected). Weights are stored in pairs of input channels,
 * w[k/2][o][2] (a zero pads an odd k): acc[o] += x[2i] w[i][o][0] + x[2i+1] w[i][o][1] runs
 * over contiguous output channels, so 32 accumulators stay in registers for the whole
 * dot product. The input zero point is folded into the bias, b' = b - zx * sum_k w[k][o].
 * Every path sums the same int32 products, so all give the same bytes. */
#if defined(__AVX2__) /* @simd avx2 */
/* fk_pointwise on AVX2 for four pixels (rows of k inputs; the first np are real, the others
 * repeat the first): each pixel's inputs widened to 16 bits once (VPMOVSXBW), so a 32-bit lane
 * holds the pair x[2i] | x[2i+1] << 16; then per sixteen output channels two vectors of
 * widened weight pairs, each VPMADDWD'd with every pixel's broadcast pair (eight accumulators,
 * eleven registers in all, so nothing spills), eight channels where sixteen do not fit */
static inline void fk_pointwise_avx2(const int8_t *x, int np, int k, const int8_t *w, const int32_t *b,
                                     const int32_t *m, const int8_t *l, const int8_t *r, int8_t *y, int o,
                                     int32_t zo, int32_t lo, int32_t hi)
{
    int32_t px[4][FK_POINTWISE_MAX_PAIRS];
    int32_t acc[4][8];
    const int pairs = (k + 1) / 2;
    int q, i, kp, o0, n;
    for (q = 0; q < 4; q++) {
        const int8_t *xp = x + (size_t)(q < np ? q : 0) * k;
        for (i = 0; i + 16 <= k; i += 16)
            _mm256_storeu_si256((__m256i *)(px[q] + i / 2),
                                _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(xp + i))));
        for (kp = i / 2; kp < pairs; kp++) {
            const int32_t x0 = xp[2 * kp], x1 = 2 * kp + 1 < k ? xp[2 * kp + 1] : 0;
            px[q][kp] = (int32_t)((uint32_t)(uint16_t)x0 | ((uint32_t)(uint16_t)x1 << 16));
        }
    }
    for (o0 = 0; o0 < o; o0 += n) {
        const int8_t *wp = w + (size_t)o0 * 2;
        n = o - o0 >= 16 ? 16 : 8;
        if (n == 16) {
            __m256i a0 = _mm256_loadu_si256((const __m256i *)(b + o0));
            __m256i a1 = _mm256_loadu_si256((const __m256i *)(b + o0 + 8));
            __m256i c0 = a0, c1 = a1, d0 = a0, d1 = a1, e0 = a0, e1 = a1;
            for (kp = 0; kp < pairs; kp++, wp += (size_t)o * 2) {
                const __m256i w0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)wp));
                const __m256i w1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(wp + 16)));
                __m256i xv = _mm256_set1_epi32(px[0][kp]);
                a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(w0, xv));
                a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(w1, xv));
                xv = _mm256_set1_epi32(px[1][kp]);
                c0 = _mm256_add_epi32(c0, _mm256_madd_epi16(w0, xv));
                c1 = _mm256_add_epi32(c1, _mm256_madd_epi16(w1, xv));
                xv = _mm256_set1_epi32(px[2][kp]);
                d0 = _mm256_add_epi32(d0, _mm256_madd_epi16(w0, xv));
                d1 = _mm256_add_epi32(d1, _mm256_madd_epi16(w1, xv));
                xv = _mm256_set1_epi32(px[3][kp]);
                e0 = _mm256_add_epi32(e0, _mm256_madd_epi16(w0, xv));
                e1 = _mm256_add_epi32(e1, _mm256_madd_epi16(w1, xv));
            }
            {
                const __m256i v[8] = {a0, a1, c0, c1, d0, d1, e0, e1};
                fk_requant16x4_avx2(v, np, m + o0, l + o0, r + o0, zo, lo, hi, y + o0, (size_t)o);
            }
            continue;
        } else {
            __m256i a0 = _mm256_loadu_si256((const __m256i *)(b + o0));
            __m256i c0 = a0, d0 = a0, e0 = a0;
            for (kp = 0; kp < pairs; kp++, wp += (size_t)o * 2) {
                const __m256i w0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)wp));
                a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(w0, _mm256_set1_epi32(px[0][kp])));
                c0 = _mm256_add_epi32(c0, _mm256_madd_epi16(w0, _mm256_set1_epi32(px[1][kp])));
                d0 = _mm256_add_epi32(d0, _mm256_madd_epi16(w0, _mm256_set1_epi32(px[2][kp])));
                e0 = _mm256_add_epi32(e0, _mm256_madd_epi16(w0, _mm256_set1_epi32(px[3][kp])));
            }
            _mm256_storeu_si256((__m256i *)acc[0], a0);
            _mm256_storeu_si256((__m256i *)acc[1], c0);
            _mm256_storeu_si256((__m256i *)acc[2], d0);
            _mm256_storeu_si256((__m256i *)acc[3], e0);
        }
        for (q = 0; q < np; q++) fk_requant_n(acc[q], m + o0, l + o0, r + o0, n, zo, lo, hi, y + (size_t)q * o + o0);
    }
}
#endif /* @simd avx2 */
static inline void fk_pointwise(const int8_t *x, int plane, int k, const int8_t *w, const int32_t *b,
                                const int32_t *m, const int8_t *l, const int8_t *r, int8_t *y, int o,
                                int32_t zo, int32_t lo, int32_t hi)
{
    int32_t acc[32];
    int p, o0, j, kp;
    const int pairs = (k + 1) / 2;
#if defined(__AVX2__) /* @simd avx2 */
    if (o % 8 == 0 && pairs <= FK_POINTWISE_MAX_PAIRS) {
        for (p = 0; p < plane; p += 4)
            fk_pointwise_avx2(x + (size_t)p * k, plane - p < 4 ? plane - p : 4, k, w, b, m, l, r, y + (size_t)p * o,
                              o, zo, lo, hi);
        return;
    }
#endif /* @simd avx2 */
    for (p = 0; p < plane; p++) {
        const int8_t *xp = x + (size_t)p * k;
        int8_t *yp = y + (size_t)p * o;
#if defined(__ARM_NEON) && defined(__aarch64__) /* @simd neon */
        if (o % 32 == 0 && p + 1 < plane && pairs <= FK_POINTWISE_MAX_PAIRS) {
            const int8_t *xq = xp + k;
            int8_t *yq = yp + o;
            int32_t acc2[32];
            int16_t px[4 * FK_POINTWISE_MAX_PAIRS]; /* per pair: x[2i], x[2i+1] of both pixels, packed once */
            for (kp = 0; kp < pairs; kp++) {
                const int odd = 2 * kp + 1 < k;
                px[4 * kp] = xp[2 * kp];
                px[4 * kp + 1] = odd ? xp[2 * kp + 1] : 0;
                px[4 * kp + 2] = xq[2 * kp];
                px[4 * kp + 3] = odd ? xq[2 * kp + 1] : 0;
            }
            for (o0 = 0; o0 < o; o0 += 32) {
                int32x4_t a[8], c[8];
                int q;
                for (q = 0; q < 8; q++) a[q] = c[q] = vld1q_s32(b + o0 + 4 * q);
                for (kp = 0; kp < pairs; kp++) {
                    const int16x4_t xv = vld1_s16(px + 4 * kp);
                    const int8_t *wp = w + ((size_t)kp * o + o0) * 2;
                    for (q = 0; q < 4; q++) {
                        const int8x8x2_t ww = vld2_s8(wp + 16 * q);
                        const int16x8_t w0 = vmovl_s8(ww.val[0]), w1 = vmovl_s8(ww.val[1]);
                        a[2 * q] = vmlal_lane_s16(vmlal_lane_s16(a[2 * q], vget_low_s16(w0), xv, 0), vget_low_s16(w1), xv, 1);
                        a[2 * q + 1] = vmlal_lane_s16(vmlal_lane_s16(a[2 * q + 1], vget_high_s16(w0), xv, 0), vget_high_s16(w1), xv, 1);
                        c[2 * q] = vmlal_lane_s16(vmlal_lane_s16(c[2 * q], vget_low_s16(w0), xv, 2), vget_low_s16(w1), xv, 3);
                        c[2 * q + 1] = vmlal_lane_s16(vmlal_lane_s16(c[2 * q + 1], vget_high_s16(w0), xv, 2), vget_high_s16(w1), xv, 3);
                    }
                }
                for (q = 0; q < 8; q++) {
                    vst1q_s32(acc + 4 * q, a[q]);
                    vst1q_s32(acc2 + 4 * q, c[q]);
                }
                fk_requant_n(acc, m + o0, l + o0, r + o0, 32, zo, lo, hi, yp + o0);
                fk_requant_n(acc2, m + o0, l + o0, r + o0, 32, zo, lo, hi, yq + o0);
            }
            p++;
            continue;
        }
#endif /* @simd neon */
        for (o0 = 0; o0 < o; o0 += 32) {
            const int n = o - o0 < 32 ? o - o0 : 32;
            kp = 0;
            for (j = 0; j < n; j++) acc[j] = b[o0 + j];
#if defined(__ARM_NEON) && defined(__aarch64__) /* @simd neon */
            if (n == 32) {
                int32x4_t a[8];
                int q;
                for (q = 0; q < 8; q++) a[q] = vld1q_s32(acc + 4 * q);
                for (; kp < pairs; kp++) {
                    const int16x4_t x0 = vdup_n_s16(xp[2 * kp]);
                    const int16x4_t x1 = vdup_n_s16(2 * kp + 1 < k ? xp[2 * kp + 1] : 0);
                    const int8_t *wp = w + ((size_t)kp * o + o0) * 2;
                    for (q = 0; q < 4; q++) {
                        int8x8x2_t ww = vld2_s8(wp + 16 * q);
                        int16x8_t w0 = vmovl_s8(ww.val[0]), w1 = vmovl_s8(ww.val[1]);
                        a[2 * q] = vmlal_s16(vmlal_s16(a[2 * q], vget_low_s16(w0), x0), vget_low_s16(w1), x1);
                        a[2 * q + 1] = vmlal_s16(vmlal_s16(a[2 * q + 1], vget_high_s16(w0), x0), vget_high_s16(w1), x1);
                    }
                }
                for (q = 0; q < 8; q++) vst1q_s32(acc + 4 * q, a[q]);
            } else if (n % 8 == 0) {
                /* 8, 16 or 24 output channels, eight at a time */
                int q, kq;
                for (q = 0; q < n / 8; q++) {
                    int32x4_t a0 = vld1q_s32(acc + 8 * q), a1 = vld1q_s32(acc + 8 * q + 4);
                    for (kq = 0; kq < pairs; kq++) {
                        const int16x4_t x0 = vdup_n_s16(xp[2 * kq]);
                        const int16x4_t x1 = vdup_n_s16(2 * kq + 1 < k ? xp[2 * kq + 1] : 0);
                        const int8x8x2_t ww = vld2_s8(w + ((size_t)kq * o + o0 + 8 * q) * 2);
                        const int16x8_t w0 = vmovl_s8(ww.val[0]), w1 = vmovl_s8(ww.val[1]);
                        a0 = vmlal_s16(vmlal_s16(a0, vget_low_s16(w0), x0), vget_low_s16(w1), x1);
                        a1 = vmlal_s16(vmlal_s16(a1, vget_high_s16(w0), x0), vget_high_s16(w1), x1);
                    }
                    vst1q_s32(acc + 8 * q, a0);
                    vst1q_s32(acc + 8 * q + 4, a1);
                }
                kp = pairs;
            }
#endif /* @simd neon */
            for (; kp < pairs; kp++) {
                const int32_t x0 = xp[2 * kp], x1 = 2 * kp + 1 < k ? xp[2 * kp + 1] : 0;
                const int8_t *wp = w + ((size_t)kp * o + o0) * 2;
                for (j = 0; j < n; j++) acc[j] += x0 * wp[2 * j] + x1 * wp[2 * j + 1];
            }
            fk_requant_n(acc, m + o0, l + o0, r + o0, n, zo, lo, hi, yp + o0);
        }
    }
}

/* @kernel fk_pointwise_quad uses fk_simd fk_requant_n fk_requant_rows */
/* 1x1 convolution (and fully connected) with weights in quads of input channels,
 * w[k/4][o][4] (zeros pad k to a multiple of 4), for targets without NEON, and only without a
 * -128 weight (the emitter's choice; fkdc's weights are in [-127, 127]). With AVX-VNNI or
 * AVX-512 VNNI one VPDPBUSD adds four unsigned-by-signed products into each of eight 32-bit
 * lanes: the activations go in offset by 128 (x ^ 0x80 is x + 128 as a byte), and 128 * sum_k
 * w[k][o] comes off the bias once per call, so the int32 sums are those of fk_pointwise (the
 * lanes wrap modulo 2^32 like the int32 sum they end as). Without VNNI, AVX2 forms the same
 * four products per lane from |x| and w with x's sign (VPABSB, VPSIGNB): each pair's sum,
 * at most 2 * 128 * 127 = 32512 in magnitude, fits VPMADDUBSW's 16 bits, so nothing saturates,
 * and VPMADDWD by ones adds the pairs. The input zero point is folded into the bias as in
 * fk_pointwise. Four pixels by sixteen output channels share each load (eight accumulators). */
#if defined(__AVX2__) /* @simd avx2 */
#if (defined(__AVX512VNNI__) && defined(__AVX512VL__)) || defined(__AVXVNNI__)
#define FK_QUAD_VNNI 1
#if defined(__GNUC__)
/* a += u (unsigned bytes) . w (signed bytes), four to a lane, in inline assembly: GCC 12 copies the
 * accumulator around every VPDPBUSD it emits from the intrinsic (two moves per product
 * instruction). The EVEX form where AVX-512 VNNI is there, else AVX-VNNI's VEX form (ymm0-15;
 * %{ and %} are braces in an asm template). */
static inline __m256i fk_dpbusd(__m256i a, __m256i u, __m256i w)
{
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
    __asm__("vpdpbusd %2, %1, %0" : "+v"(a) : "v"(u), "vm"(w));
#else
    __asm__("%{vex%} vpdpbusd %2, %1, %0" : "+x"(a) : "x"(u), "xm"(w));
#endif
    return a;
}
#define FK_QUAD_DOT(a, u, wv) fk_dpbusd((a), (u), (wv))
#elif defined(__AVX512VNNI__) && defined(__AVX512VL__)
#define FK_QUAD_DOT(a, u, wv) _mm256_dpbusd_epi32((a), (u), (wv))
#else
#define FK_QUAD_DOT(a, u, wv) _mm256_dpbusd_avx_epi32((a), (u), (wv))
#endif
#else
#define FK_QUAD_VNNI 0
#define FK_QUAD_DOT(a, u, wv) \
    _mm256_add_epi32((a), _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(u), _mm256_sign_epi8((wv), (u))), ones))
#endif
/* np <= 4 pixels (rows of k inputs; the others repeat the first) by channels [0, cn) of a
 * block whose weights start at w (row stride o quads), bias b (already offset under VNNI) */
static inline void fk_pointwise_quad_avx2(const int8_t *x, int np, int k, const int8_t *w, const int32_t *b,
                                          const int32_t *m, const int8_t *l, const int8_t *r, int8_t *y, int o,
                                          int cn, int32_t zo, int32_t lo, int32_t hi)
{
    int32_t px[4][FK_POINTWISE_MAX_PAIRS / 2];
    int32_t acc[4][8];
    const int quads = (k + 3) / 4;
    const __m256i ones = _mm256_set1_epi16(1);
    const __m256i flip = _mm256_set1_epi8(FK_QUAD_VNNI ? -128 : 0);
    int q, i, o0, n;
    (void)ones;
    for (q = 0; q < 4; q++) {
        const int8_t *xp = x + (size_t)(q < np ? q : 0) * k;
        for (i = 0; i + 32 <= k; i += 32)
            _mm256_storeu_si256((__m256i *)(px[q] + i / 4),
                                _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(xp + i)), flip));
        if (i + 16 <= k) {
            _mm_storeu_si128((__m128i *)(px[q] + i / 4), _mm_xor_si128(_mm_loadu_si128((const __m128i *)(xp + i)),
                                                                        _mm256_castsi256_si128(flip)));
            i += 16;
        }
        if (i + 8 <= k) {
            _mm_storel_epi64((__m128i *)(px[q] + i / 4), _mm_xor_si128(_mm_loadl_epi64((const __m128i *)(xp + i)),
                                                                        _mm256_castsi256_si128(flip)));
            i += 8;
        }
        /* the rest a quad at a time, byte t in lane byte t; padding inputs meet zero weights */
        for (; i < k; i += 4) {
            uint32_t v = 0;
            for (n = 0; n < 4 && i + n < k; n++) v |= (uint32_t)(uint8_t)xp[i + n] << (8 * n);
            px[q][i / 4] = (int32_t)(v ^ (FK_QUAD_VNNI ? 0x80808080u : 0u));
        }
    }
    for (o0 = 0; o0 < cn; o0 += n) {
        const int8_t *wp = w + (size_t)o0 * 4;
        n = cn - o0 >= 16 ? 16 : 8;
        if (n == 16) {
            __m256i a0 = _mm256_loadu_si256((const __m256i *)(b + o0));
            __m256i a1 = _mm256_loadu_si256((const __m256i *)(b + o0 + 8));
            __m256i c0 = a0, c1 = a1, d0 = a0, d1 = a1, e0 = a0, e1 = a1;
            for (i = 0; i < quads; i++, wp += (size_t)o * 4) {
                const __m256i w0 = _mm256_loadu_si256((const __m256i *)wp);
                const __m256i w1 = _mm256_loadu_si256((const __m256i *)(wp + 32));
                __m256i u = _mm256_set1_epi32(px[0][i]);
                a0 = FK_QUAD_DOT(a0, u, w0);
                a1 = FK_QUAD_DOT(a1, u, w1);
                u = _mm256_set1_epi32(px[1][i]);
                c0 = FK_QUAD_DOT(c0, u, w0);
                c1 = FK_QUAD_DOT(c1, u, w1);
                u = _mm256_set1_epi32(px[2][i]);
                d0 = FK_QUAD_DOT(d0, u, w0);
                d1 = FK_QUAD_DOT(d1, u, w1);
                u = _mm256_set1_epi32(px[3][i]);
                e0 = FK_QUAD_DOT(e0, u, w0);
                e1 = FK_QUAD_DOT(e1, u, w1);
            }
            {
                const __m256i v[8] = {a0, a1, c0, c1, d0, d1, e0, e1};
                fk_requant16x4_avx2(v, np, m + o0, l + o0, r + o0, zo, lo, hi, y + o0, (size_t)o);
            }
        } else {
            __m256i a0 = _mm256_loadu_si256((const __m256i *)(b + o0));
            __m256i c0 = a0, d0 = a0, e0 = a0;
            for (i = 0; i < quads; i++, wp += (size_t)o * 4) {
                const __m256i w0 = _mm256_loadu_si256((const __m256i *)wp);
                a0 = FK_QUAD_DOT(a0, _mm256_set1_epi32(px[0][i]), w0);
                c0 = FK_QUAD_DOT(c0, _mm256_set1_epi32(px[1][i]), w0);
                d0 = FK_QUAD_DOT(d0, _mm256_set1_epi32(px[2][i]), w0);
                e0 = FK_QUAD_DOT(e0, _mm256_set1_epi32(px[3][i]), w0);
            }
            _mm256_storeu_si256((__m256i *)acc[0], a0);
            _mm256_storeu_si256((__m256i *)acc[1], c0);
            _mm256_storeu_si256((__m256i *)acc[2], d0);
            _mm256_storeu_si256((__m256i *)acc[3], e0);
            for (q = 0; q < np; q++)
                fk_requant_n(acc[q], m + o0, l + o0, r + o0, n, zo, lo, hi, y + (size_t)q * o + o0);
        }
    }
}
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && defined(__AVX512VNNI__)
#define FK_QUAD_ZMM 1
/* With AVX-512 VNNI: sixteen channels to a register, blocks of MP pixels by ZN registers (6 by 4,
 * 8 by 3, 12 by 2 or by 1: at most 24 accumulators; fewer registers at the end of the channels),
 * the weights of a quad loaded once for the MP pixels and each pixel's quad broadcast from px,
 * where the offset activations of the MP pixels lie in rows FK_QUAD_ZMM_ROW(MP) quads apart (a
 * constant: every broadcast is one address from one pointer). The block's last register holds
 * eight channels where `last` is 0xFF. */
#define FK_QUAD_ZMM_PX 3072
/* each block its own function: inlined into their caller, GCC 12 spills the accumulators */
#if defined(__GNUC__)
#define FK_QUAD_ZMM_NOINLINE __attribute__((noinline))
#else
#define FK_QUAD_ZMM_NOINLINE
#endif
#define FK_QUAD_ZMM_ROW(mp) (FK_QUAD_ZMM_PX / (mp))
static inline __m512i fk_dpbusd512(__m512i a, __m512i u, __m512i w)
{
#if defined(__GNUC__)
    __asm__("vpdpbusd %2, %1, %0" : "+v"(a) : "v"(u), "vm"(w));
    return a;
#else
    return _mm512_dpbusd_epi32(a, u, w);
#endif
}
/* the twelve pixels' copies of a statement S(q) for constant q (those past MP drop out) */
#define FK_QUAD_ZMM_EACH(S) S(0) S(1) S(2) S(3) S(4) S(5) S(6) S(7) S(8) S(9) S(10) S(11)
#define FK_QUAD_ZMM_INIT(q)                                                                                     \
    if (MP > (q)) {                                                                                             \
        a[q][0] = b0;                                                                                           \
        a[q][1] = b1;                                                                                           \
        a[q][2] = b2;                                                                                           \
        a[q][3] = b3;                                                                                           \
    }
#define FK_QUAD_ZMM_DOT(q)                                                                                      \
    if (MP > (q)) {                                                                                             \
        const __m512i u = _mm512_set1_epi32(pp[(q) * FK_QUAD_ZMM_ROW(MP)]);                                     \
        a[q][0] = fk_dpbusd512(a[q][0], u, w0);                                                                 \
        if (ZN > 1) a[q][1] = fk_dpbusd512(a[q][1], u, w1);                                                     \
        if (ZN > 2) a[q][2] = fk_dpbusd512(a[q][2], u, w2);                                                     \
        if (ZN > 3) a[q][3] = fk_dpbusd512(a[q][3], u, w3);                                                     \
    }
/* register z of pixel q requantized and stored where q < np (n: its channels) */
#define FK_QUAD_ZMM_OUT(q)                                                                                      \
    if (MP > (q) && np > (q)) {                                                                                 \
        int8_t *yq = y + (size_t)(q) * o + 16 * z;                                                              \
        if (fast) {                                                                                             \
            const __m128i t = fk_rq512_apply(a[q][z], &rq);                                                     \
            if (n == 16)                                                                                        \
                _mm_storeu_si128((__m128i *)yq, t);                                                             \
            else                                                                                                \
                _mm_storel_epi64((__m128i *)yq, t);                                                             \
        } else {                                                                                                \
            int32_t acc[16];                                                                                    \
            _mm512_storeu_si512(acc, a[q][z]);                                                                  \
            fk_requant_n(acc, m + 16 * z, l + 16 * z, r + 16 * z, n, zo, lo, hi, yq);                           \
        }                                                                                                       \
    }
/* register zc of each pixel: its channels' constants loaded once */
#define FK_QUAD_ZMM_REG(zc)                                                                                     \
    if (ZN > (zc)) {                                                                                            \
        const int z = (zc), n = z + 1 == ZN && last != 0xFFFF ? 8 : 16;                                         \
        fk_rq512 rq;                                                                                            \
        const int fast = fk_rq512_params(m + 16 * z, l + 16 * z, r + 16 * z, n, zo, lo, hi, &rq);               \
        FK_QUAD_ZMM_EACH(FK_QUAD_ZMM_OUT)                                                                       \
    }
/* np <= MP pixels (px: their offset quads) by ZN registers of channels from w (row stride o
 * quads), bias b (already offset), outputs y (row stride o) */
#define FK_QUAD_ZMM_BLOCK(mp, zn)                                                                               \
    static FK_QUAD_ZMM_NOINLINE void fk_pointwise_quad_zmm_##mp##_##zn(                                       \
        const int32_t *px, int np, int quads, const int8_t *w, const int32_t *b, __mmask16 last,               \
        const int32_t *m, const int8_t *l, const int8_t *r, int8_t *y, int o, int32_t zo, int32_t lo, int32_t hi) \
    {                                                                                                           \
        enum { MP = mp, ZN = zn };                                                                              \
        const __mmask16 k0 = ZN == 1 ? last : 0xFFFF, k1 = ZN == 2 ? last : 0xFFFF;                             \
        const __mmask16 k2 = ZN == 3 ? last : 0xFFFF, k3 = last;                                                \
        const __m512i b0 = _mm512_maskz_loadu_epi32(k0, b);                                                     \
        const __m512i b1 = ZN > 1 ? _mm512_maskz_loadu_epi32(k1, b + 16) : b0;                                  \
        const __m512i b2 = ZN > 2 ? _mm512_maskz_loadu_epi32(k2, b + 32) : b0;                                  \
        const __m512i b3 = ZN > 3 ? _mm512_maskz_loadu_epi32(k3, b + 48) : b0;                                  \
        const int32_t *pp = px;                                                                                 \
        const int8_t *wp = w;                                                                                   \
        __m512i a[MP][4];                                                                                       \
        int i;                                                                                                  \
        FK_QUAD_ZMM_EACH(FK_QUAD_ZMM_INIT)                                                                      \
        for (i = 0; i < quads; i++, pp++, wp += (size_t)o * 4) {                                                \
            const __m512i w0 = _mm512_maskz_loadu_epi32(k0, wp);                                                \
            const __m512i w1 = ZN > 1 ? _mm512_maskz_loadu_epi32(k1, wp + 64) : w0;                             \
            const __m512i w2 = ZN > 2 ? _mm512_maskz_loadu_epi32(k2, wp + 128) : w0;                            \
            const __m512i w3 = ZN > 3 ? _mm512_maskz_loadu_epi32(k3, wp + 192) : w0;                            \
            FK_QUAD_ZMM_EACH(FK_QUAD_ZMM_DOT)                                                                   \
        }                                                                                                       \
        FK_QUAD_ZMM_REG(0) FK_QUAD_ZMM_REG(1) FK_QUAD_ZMM_REG(2) FK_QUAD_ZMM_REG(3)                             \
    }
FK_QUAD_ZMM_BLOCK(6, 4)
FK_QUAD_ZMM_BLOCK(6, 3)
FK_QUAD_ZMM_BLOCK(6, 2)
FK_QUAD_ZMM_BLOCK(6, 1)
FK_QUAD_ZMM_BLOCK(8, 3)
FK_QUAD_ZMM_BLOCK(8, 2)
FK_QUAD_ZMM_BLOCK(8, 1)
FK_QUAD_ZMM_BLOCK(12, 2)
FK_QUAD_ZMM_BLOCK(12, 1)
/* plane pixels by cn channels (weights w, row stride o quads; bias b already offset):
 * pixel blocks of 12 (cn <= 32), 8 (cn <= 48) or 6, each block's activations offset into px
 * once (64 bytes at a time; rows padded with offset zeros to whole quads, pixels past the block's
 * end copies of its first) for all its channels */
static inline void fk_pointwise_quad_zmm(const int8_t *x, int plane, int k, const int8_t *w, const int32_t *b,
                                         const int32_t *m, const int8_t *l, const int8_t *r, int8_t *y, int o,
                                         int cn, int32_t zo, int32_t lo, int32_t hi)
{
    int32_t px[FK_QUAD_ZMM_PX];
    const int quads = (k + 3) / 4, groups = (cn + 15) / 16;
    const int zmax = groups < 4 ? groups : 4;
    int mp = zmax == 4 ? 6 : zmax == 3 ? 8 : 12, p, q, i, o0, z;
    const __m512i flip = _mm512_set1_epi8(-128);
    /* each row's last (partial) 64 bytes: from byte tail, k - tail of them, padded to whole quads */
    const int tail = k & ~63;
    const __mmask64 in = ((__mmask64)1 << (k - tail)) - 1;
    const __mmask64 out = 4 * quads - tail >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << (4 * quads - tail)) - 1;
    if (quads > FK_QUAD_ZMM_ROW(mp)) mp = 6;
    for (p = 0; p < plane; p += mp) {
        const int np = plane - p < mp ? plane - p : mp, row = FK_QUAD_ZMM_ROW(mp);
        for (q = 0; q < mp; q++) {
            const int8_t *xp = x + (size_t)(p + (q < np ? q : 0)) * k;
            int8_t *d = (int8_t *)(px + (size_t)q * row);
            for (i = 0; i < tail; i += 64)
                _mm512_storeu_si512(d + i, _mm512_xor_si512(_mm512_loadu_si512(xp + i), flip));
            if (tail < k)
                _mm512_mask_storeu_epi8(d + tail, out, _mm512_xor_si512(_mm512_maskz_loadu_epi8(in, xp + tail), flip));
        }
        for (o0 = 0; o0 < cn; o0 += 16 * z) {
            const int8_t *wp = w + (size_t)o0 * 4;
            const __mmask16 last = cn - o0 >= 16 * zmax || (cn - o0) % 16 == 0 ? 0xFFFF : 0xFF;
            int8_t *yp = y + (size_t)p * o + o0;
            z = (cn - o0 + 15) / 16;
            if (z > zmax) z = zmax;
#define FK_QUAD_ZMM_CALL(MP, ZN)                                                                                \
    fk_pointwise_quad_zmm_##MP##_##ZN(px, np, quads, wp, b + o0, last, m + o0, l + o0, r + o0, yp, o, zo, lo, hi)
            if (mp == 6)
                switch (z) {
                case 4: FK_QUAD_ZMM_CALL(6, 4); break;
                case 3: FK_QUAD_ZMM_CALL(6, 3); break;
                case 2: FK_QUAD_ZMM_CALL(6, 2); break;
                default: FK_QUAD_ZMM_CALL(6, 1); break;
                }
            else if (mp == 8)
                switch (z) {
                case 3: FK_QUAD_ZMM_CALL(8, 3); break;
                case 2: FK_QUAD_ZMM_CALL(8, 2); break;
                default: FK_QUAD_ZMM_CALL(8, 1); break;
                }
            else if (z == 2)
                FK_QUAD_ZMM_CALL(12, 2);
            else
                FK_QUAD_ZMM_CALL(12, 1);
#undef FK_QUAD_ZMM_CALL
        }
    }
}
#else
#define FK_QUAD_ZMM 0
#endif
#endif /* @simd avx2 */
static inline void fk_pointwise_quad(const int8_t *x, int plane, int k, const int8_t *w, const int32_t *b,
                                     const int32_t *m, const int8_t *l, const int8_t *r, int8_t *y, int o,
                                     int32_t zo, int32_t lo, int32_t hi)
{
    int32_t acc[32];
    int p, o0, j, i, t;
    const int quads = (k + 3) / 4;
#if defined(__AVX2__) /* @simd avx2 */
    if (o % 8 == 0 && quads <= FK_POINTWISE_MAX_PAIRS / 2) {
        /* output channels in chunks of FK_QUAD_CHUNK (each pixel block's activations offset once a
         * chunk with AVX-512), each chunk's bias offset once (VNNI) */
#if FK_QUAD_ZMM
#define FK_QUAD_CHUNK 1024
#else
#define FK_QUAD_CHUNK 256
#endif
        int32_t bc[FK_QUAD_CHUNK];
        int ch, cn;
        for (ch = 0; ch < o; ch += cn) {
            cn = o - ch < FK_QUAD_CHUNK ? o - ch : FK_QUAD_CHUNK;
#if FK_QUAD_VNNI
            /* 128 * sum_k w[k][o] by VPDPBUSD of bytes 0x80, 32 channels (four chains) at a time */
            int g;
            for (o0 = 0; o0 < cn; o0 += 8 * g) {
                const __m256i u = _mm256_set1_epi8(-128);
                const int8_t *wq = w + ((size_t)ch + o0) * 4;
                __m256i s[4];
                g = cn - o0 >= 32 ? 4 : 1;
                s[0] = s[1] = s[2] = s[3] = _mm256_setzero_si256();
                if (g == 4)
                    for (i = 0; i < quads; i++, wq += (size_t)o * 4) {
                        s[0] = FK_QUAD_DOT(s[0], u, _mm256_loadu_si256((const __m256i *)wq));
                        s[1] = FK_QUAD_DOT(s[1], u, _mm256_loadu_si256((const __m256i *)(wq + 32)));
                        s[2] = FK_QUAD_DOT(s[2], u, _mm256_loadu_si256((const __m256i *)(wq + 64)));
                        s[3] = FK_QUAD_DOT(s[3], u, _mm256_loadu_si256((const __m256i *)(wq + 96)));
                    }
                else
                    for (i = 0; i < quads; i++, wq += (size_t)o * 4)
                        s[0] = FK_QUAD_DOT(s[0], u, _mm256_loadu_si256((const __m256i *)wq));
                for (j = 0; j < g; j++)
                    _mm256_storeu_si256((__m256i *)(bc + o0 + 8 * j),
                                        _mm256_sub_epi32(_mm256_loadu_si256((const __m256i *)(b + ch + o0 + 8 * j)), s[j]));
            }
#else
            for (o0 = 0; o0 < cn; o0++) bc[o0] = b[ch + o0];
#endif
#if FK_QUAD_ZMM
            fk_pointwise_quad_zmm(x, plane, k, w + (size_t)ch * 4, bc, m + ch, l + ch, r + ch, y + ch, o, cn, zo, lo,
                                  hi);
#else
            for (p = 0; p < plane; p += 4)
                fk_pointwise_quad_avx2(x + (size_t)p * k, plane - p < 4 ? plane - p : 4, k, w + (size_t)ch * 4, bc,
                                       m + ch, l + ch, r + ch, y + (size_t)p * o + ch, o, cn, zo, lo, hi);
#endif
        }
        return;
    }
#endif /* @simd avx2 */
    for (p = 0; p < plane; p++) {
        const int8_t *xp = x + (size_t)p * k;
        for (o0 = 0; o0 < o; o0 += 32) {
            const int n = o - o0 < 32 ? o - o0 : 32;
            for (j = 0; j < n; j++) acc[j] = b[o0 + j];
            for (i = 0; i < quads; i++) {
                const int8_t *wq = w + ((size_t)i * o + o0) * 4;
                int32_t xv[4] = {0, 0, 0, 0};
                for (t = 0; t < 4 && 4 * i + t < k; t++) xv[t] = xp[4 * i + t];
                for (j = 0; j < n; j++)
                    acc[j] += xv[0] * wq[j * 4] + xv[1] * wq[j * 4 + 1] + xv[2] * wq[j * 4 + 2] + xv[3] * wq[j * 4 + 3];
            }
            fk_requant_n(acc, m + o0, l + o0, r + o0, n, zo, lo, hi, y + (size_t)p * o + o0);
        }
    }
}
#if defined(__AVX2__) /* @simd avx2 */
#undef FK_QUAD_VNNI
#undef FK_QUAD_DOT
#undef FK_QUAD_ZMM
#undef FK_QUAD_CHUNK
#endif /* @simd avx2 */

/* @kernel fk_pointwise_dot uses fk_simd fk_requant_rows */
/* 1x1 convolution (and fully connected) for targets with NEON: sixteen products of a pixel's
 * inputs with a channel's weights at a time. SMULL and SMLAL2 sum two products in each 16-bit
 * lane, SADALP adds those pairs into 32-bit lanes; four output channels of five pixels share each
 * load (twenty accumulators: 69 instructions per 320 multiply-adds).
 * The weights are each output channel's row of K bytes, but each group of four channels (o0 a
 * multiple of 4, 4K bytes at w + o0 K) stores its first k16 = K - K % 16 columns as
 * [k16 / 16][4][16], so that one LD1 loads a step's four rows, and the rest as [4][K - k16]; the
 * last O % 4 channels are plain rows (WeightLayout.dotRows, fk_dot_w).
 * Two products fit in 16 bits only while no weight is -128 (|x w| <= 128 * 127): the
 * emitter picks this kernel only then (fkdc's weights are in [-127, 127]). The input zero point
 * is folded into the bias as in fk_pointwise, and the int32 sums are the same, so the bytes are
 * too. */
/* weight t of row j in the group of n rows at w0 (n == 4: the interleaved layout above) */
static inline int32_t fk_dot_w(const int8_t *w0, int n, int k, int j, int t)
{
    const int k16 = k - k % 16;
    if (n < 4) return w0[(size_t)j * k + t];
    if (t < k16) return w0[4 * (size_t)(t - t % 16) + 16 * j + t % 16];
    return w0[4 * (size_t)k16 + (size_t)j * (k - k16) + (t - k16)];
}
#if defined(__ARM_NEON) && defined(__aarch64__) /* @simd neon */
/* sixteen products of wv and xv, two to a 16-bit lane; added into (FK_ACC) or starting (FK_INIT) a
 * 32-bit accumulator. With GCC or clang the pair is one asm block whose result is a fresh register
 * (early clobber): compiled from intrinsics, GCC 12 accumulated the last row's SMLAL2 into the
 * dying input registers and copied them back, four MOVs a step */
#if defined(__GNUC__)
static inline int16x8_t fk_pairs16(int8x16_t w, int8x16_t x)
{
    int16x8_t t;
    __asm__("smull %0.8h, %1.8b, %2.8b\n\tsmlal2 %0.8h, %1.16b, %2.16b" : "=&w"(t) : "w"(w), "w"(x));
    return t;
}
#define FK_PAIRS16(wv, xv) fk_pairs16((wv), (xv))
/* eight products, one to a lane (the K % 16 >= 8 step), likewise one asm block: from the intrinsic
 * GCC 12 formed them all ahead of their SADALPs and spilled */
static inline int16x8_t fk_prod8(int8x8_t w, int8x8_t x)
{
    int16x8_t t;
    __asm__("smull %0.8h, %1.8b, %2.8b" : "=w"(t) : "w"(w), "w"(x));
    return t;
}
#define FK_PROD8(wv, xv) fk_prod8((wv), (xv))
#else
#define FK_PAIRS16(wv, xv) vmlal_high_s8(vmull_s8(vget_low_s8(wv), vget_low_s8(xv)), (wv), (xv))
#define FK_PROD8(wv, xv) vmull_s8((wv), (xv))
#endif
#define FK_ACC(a, p) vpadalq_s16((a), (p))
#define FK_INIT(a, p) vpaddlq_s16(p)
/* the four rows' sixteen weights of a step, one LD1 that advances wp by 64 (vld1q_s8_x4 is missing
 * from GCC before 10.3: the asm names four consecutive registers) */
#if defined(__GNUC__) && !defined(__clang__)
#define FK_DOT_W4()                                                                                          \
    register int8x16_t wq0 __asm__("v28"), wq1 __asm__("v29"), wq2 __asm__("v30"), wq3 __asm__("v31");      \
    __asm__("ld1 {v28.16b-v31.16b}, [%4], #64"                                                                \
            : "=w"(wq0), "=w"(wq1), "=w"(wq2), "=w"(wq3), "+r"(wp)                                            \
            : "m"(*(const int8_t(*)[64])(wp)))
#else
#define FK_DOT_W4()                                   \
    const int8x16x4_t wq = vld1q_s8_x4(wp);           \
    const int8x16_t wq0 = wq.val[0], wq1 = wq.val[1]; \
    const int8x16_t wq2 = wq.val[2], wq3 = wq.val[3]; \
    wp += 64
#endif
#define FK_DOT16_ROW(j, OP)                                      \
    do {                                                         \
        const int8x16_t wv = wq##j;                              \
        a##j = OP(a##j, FK_PAIRS16(wv, u0));                     \
        b##j = OP(b##j, FK_PAIRS16(wv, u1));                     \
        c##j = OP(c##j, FK_PAIRS16(wv, u2));                     \
        d##j = OP(d##j, FK_PAIRS16(wv, u3));                     \
        e##j = OP(e##j, FK_PAIRS16(wv, u4));                     \
    } while (0)
#define FK_DOT16_STEP(OP)                                                                    \
    do {                                                                                     \
        const int8x16_t u0 = vld1q_s8(xs[0] + i), u1 = vld1q_s8(xs[1] + i);                  \
        const int8x16_t u2 = vld1q_s8(xs[2] + i), u3 = vld1q_s8(xs[3] + i);                  \
        const int8x16_t u4 = vld1q_s8(xs[4] + i);                                            \
        FK_DOT_W4();                                                                         \
        FK_DOT16_ROW(0, OP);                                                                 \
        FK_DOT16_ROW(1, OP);                                                                 \
        FK_DOT16_ROW(2, OP);                                                                 \
        FK_DOT16_ROW(3, OP);                                                                 \
        i += 16;                                                                             \
    } while (0)
/* after the 16-column steps wp is at the group's [4][K - k16] tail, rows rs = K - k16 bytes apart */
#define FK_DOT8_ROW(j, OP)                                     \
    do {                                                       \
        const int8x8_t wv = vld1_s8(wp + (size_t)(j) * rs);    \
        a##j = OP(a##j, FK_PROD8(wv, v0));                     \
        b##j = OP(b##j, FK_PROD8(wv, v1));                     \
        c##j = OP(c##j, FK_PROD8(wv, v2));                     \
        d##j = OP(d##j, FK_PROD8(wv, v3));                     \
        e##j = OP(e##j, FK_PROD8(wv, v4));                     \
    } while (0)
#define FK_DOT8_STEP(OP)                                                    \
    do {                                                                    \
        const int8x8_t v0 = vld1_s8(xs[0] + i), v1 = vld1_s8(xs[1] + i);    \
        const int8x8_t v2 = vld1_s8(xs[2] + i), v3 = vld1_s8(xs[3] + i);    \
        const int8x8_t v4 = vld1_s8(xs[4] + i);                             \
        FK_DOT8_ROW(0, OP);                                                 \
        FK_DOT8_ROW(1, OP);                                                 \
        FK_DOT8_ROW(2, OP);                                                 \
        FK_DOT8_ROW(3, OP);                                                 \
        i += 8;                                                             \
    } while (0)
/* channels o0..o0+3 of one pixel: the four lanes of each summed, plus the bias */
#define FK_DOT_STORE(out, e)                                                                           \
    vst1q_s32((out), vaddq_s32(vld1q_s32(bias + o0), vpaddq_s32(vpaddq_s32(e##0, e##1), vpaddq_s32(e##2, e##3))))
#endif /* @simd neon */
static inline void fk_pointwise_dot(const int8_t *x, int plane, int k, const int8_t *w, const int32_t *bias,
                                    const int32_t *m, const int8_t *l, const int8_t *r, int8_t *y, int o,
                                    int32_t zo, int32_t lo, int32_t hi)
{
    /* five pixels' accumulators for up to 256 output channels, requantized together */
    int32_t acc[5][256];
    int p, ch, o0, i, j, q;
#if defined(__ARM_NEON) && defined(__aarch64__) /* @simd neon */
    /* a chunk's right shifts negated (SRSHL's) once, where fk_requant16_neon applies to it: no
     * channel shifts left, the zero point and bounds are int8 */
    int32_t nr[256];
    const int narrow = zo >= -128 && zo <= 127 && lo >= -128 && hi <= 127;
    const int16x8_t vzp16 = vdupq_n_s16((int16_t)(narrow ? zo : 0));
    const int8x16_t vlo16 = vdupq_n_s8((int8_t)(narrow ? lo : 0)), vhi16 = vdupq_n_s8((int8_t)(narrow ? hi : 0));
#endif /* @simd neon */
    for (ch = 0; ch < o; ch += 256) {
        const int cn = o - ch < 256 ? o - ch : 256;
#if defined(__ARM_NEON) && defined(__aarch64__) /* @simd neon */
        int fast = narrow;
        for (j = 0; j < cn; j++) {
            if (l[ch + j] != 0) fast = 0;
            nr[j] = -(int32_t)r[ch + j];
        }
#endif /* @simd neon */
        for (p = 0; p < plane; p += 5) {
            const int pixels = plane - p < 5 ? plane - p : 5;
            const int8_t *xs[5];
            int8_t *yp = y + (size_t)p * o + ch;
            for (q = 0; q < 5; q++) xs[q] = x + (size_t)(p + (q < pixels ? q : 0)) * k;
            for (o0 = ch; o0 < ch + cn; o0 += 4) {
                const int n = ch + cn - o0 < 4 ? ch + cn - o0 : 4;
                const int8_t *w0 = w + (size_t)o0 * k;
                i = 0;
#if defined(__ARM_NEON) && defined(__aarch64__) /* @simd neon */
                if (n == 4 && k >= 8) {
                    /* the first step starts the accumulators (no zeroing) */
                    int32x4_t a0, a1, a2, a3, b0, b1, b2, b3, c0, c1, c2, c3, d0, d1, d2, d3, e0, e1, e2, e3;
                    const int8_t *wp = w0;
                    const size_t rs = (size_t)(k % 16);
                    if (k >= 16)
                        FK_DOT16_STEP(FK_INIT);
                    else
                        FK_DOT8_STEP(FK_INIT);
                    while (i + 16 <= k) FK_DOT16_STEP(FK_ACC);
                    if (i + 8 <= k) FK_DOT8_STEP(FK_ACC);
                    FK_DOT_STORE(acc[0] + (o0 - ch), a);
                    FK_DOT_STORE(acc[1] + (o0 - ch), b);
                    FK_DOT_STORE(acc[2] + (o0 - ch), c);
                    FK_DOT_STORE(acc[3] + (o0 - ch), d);
                    FK_DOT_STORE(acc[4] + (o0 - ch), e);
                } else
#endif /* @simd neon */
                {
                    for (q = 0; q < 5; q++)
                        for (j = 0; j < n; j++) acc[q][o0 - ch + j] = bias[o0 + j];
                }
                if (i < k)
                    for (q = 0; q < pixels; q++)
                        for (j = 0; j < n; j++) {
                            int32_t s = 0;
                            int t;
                            for (t = i; t < k; t++) s += (int32_t)xs[q][t] * fk_dot_w(w0, n, k, j, t);
                            acc[q][o0 - ch + j] += s;
                        }
            }
            j = 0;
#if defined(__ARM_NEON) && defined(__aarch64__) /* @simd neon */
            for (; fast && j + 16 <= cn; j += 16) {
                const int32x4_t mq[4] = {vld1q_s32(m + ch + j), vld1q_s32(m + ch + j + 4), vld1q_s32(m + ch + j + 8),
                                         vld1q_s32(m + ch + j + 12)};
                const int32x4_t nq[4] = {vld1q_s32(nr + j), vld1q_s32(nr + j + 4), vld1q_s32(nr + j + 8),
                                         vld1q_s32(nr + j + 12)};
                /* five pixels written out (no loop), without the clamp where [lo, hi] is all of int8 */
#define FK_DOT_RQ(q, clamp)                                                                                       \
    fk_requant16c_neon(vld1q_s32(acc[q] + j), vld1q_s32(acc[q] + j + 4), vld1q_s32(acc[q] + j + 8),               \
                       vld1q_s32(acc[q] + j + 12), mq, nq, vzp16, vlo16, vhi16, yp + (size_t)(q) * o + j, clamp)
#define FK_DOT_RQ5(clamp)      \
    do {                       \
        FK_DOT_RQ(0, clamp);   \
        FK_DOT_RQ(1, clamp);   \
        FK_DOT_RQ(2, clamp);   \
        FK_DOT_RQ(3, clamp);   \
        FK_DOT_RQ(4, clamp);   \
    } while (0)
                if (pixels == 5 && lo == -128 && hi == 127)
                    FK_DOT_RQ5(0);
                else if (pixels == 5)
                    FK_DOT_RQ5(1);
                else
                    for (q = 0; q < pixels; q++) FK_DOT_RQ(q, 1);
#undef FK_DOT_RQ5
#undef FK_DOT_RQ
            }
#endif /* @simd neon */
            if (j < cn)
                fk_requant_rows(acc[0] + j, 256, pixels, m + ch + j, l + ch + j, r + ch + j, cn - j, zo, lo, hi, yp + j,
                                (size_t)o);
        }
    }
}
#if defined(__ARM_NEON) && defined(__aarch64__) /* @simd neon */
#undef FK_PAIRS16
#undef FK_PROD8
#undef FK_ACC
#undef FK_INIT
#undef FK_DOT_W4
#undef FK_DOT16_ROW
#undef FK_DOT16_STEP
#undef FK_DOT8_ROW
#undef FK_DOT8_STEP
#undef FK_DOT_STORE
#endif /* @simd neon */

/* @kernel fk_conv_dot uses fk_simd fk_pointwise_dot */
/* a dense convolution (the stem) for NEON targets: each output pixel's window gathered into a
 * row of kh*kw*C bytes (x inside the image, zx in the padding), zero-padded to kp (a multiple of
 * 16, at most FK_DOT_MAX_COLS), and the rows of up to 15 pixels (three of fk_pointwise_dot's
 * five-pixel blocks) multiplied by the weights, rows of kp in fk_pointwise_dot's layout. The bias
 * given is b - zx * sum(w) (the emitter's), so the padding, read as zx, adds nothing: the int32
 * sums of fk_conv_dense, so its bytes. */
static inline void fk_conv_dot(const int8_t *x, int h, int w, int c, int32_t zx, const int8_t *wt,
                               const int32_t *b, const int32_t *m, const int8_t *l, const int8_t *r, int8_t *y,
                               int ho, int wo, int o, int kh, int kw, int sh, int sw, int ph, int pw, int dh,
                               int dw, int kp, int32_t zo, int32_t lo, int32_t hi)
{
    int8_t col[15 * FK_DOT_MAX_COLS];
    int oy, ox0, q, ky, kx, ci;
    for (oy = 0; oy < ho; oy++)
        for (ox0 = 0; ox0 < wo; ox0 += 15) {
            const int np = wo - ox0 < 15 ? wo - ox0 : 15;
            for (q = 0; q < np; q++) {
                int8_t *cp = col + (size_t)q * kp;
                int idx = 0;
                for (ky = 0; ky < kh; ky++) {
                    const int iy = oy * sh - ph + ky * dh, ix0 = (ox0 + q) * sw - pw;
                    if (dw == 1 && iy >= 0 && iy < h && ix0 >= 0 && ix0 + kw <= w) {
                        /* the row's taps all inside: kw * c consecutive bytes */
                        const int8_t *xp = x + ((size_t)iy * w + ix0) * c;
                        const int n = kw * c;
                        int i = 0;
#if defined(__ARM_NEON) && defined(__aarch64__) /* @simd neon */
                        for (; i + 8 <= n; i += 8) vst1_s8(cp + idx + i, vld1_s8(xp + i));
#endif /* @simd neon */
                        for (; i < n; i++) cp[idx + i] = xp[i];
                        idx += n;
                        continue;
                    }
                    for (kx = 0; kx < kw; kx++) {
                        const int ix = ix0 + kx * dw;
                        if (iy >= 0 && iy < h && ix >= 0 && ix < w) {
                            const int8_t *xp = x + ((size_t)iy * w + ix) * c;
                            for (ci = 0; ci < c; ci++) cp[idx++] = xp[ci];
                        } else {
                            for (ci = 0; ci < c; ci++) cp[idx++] = (int8_t)zx;
                        }
                    }
                }
                while (idx < kp) cp[idx++] = 0;
            }
            fk_pointwise_dot(col, np, kp, wt, b, m, l, r, y + ((size_t)oy * wo + ox0) * o, o, zo, lo, hi);
        }
}

/* @kernel fk_linear_f32 */
/* a classifier's one row with float32 outputs from its int32 accumulators (no int8 output
 * grid): acc = b[o] + sum_k x[k] w[o][k], weights [O][K], the input zero point folded into b as
 * in fk_pointwise; y[o] = (float)acc * s[o] (s = s_in * s_w[o]) clamped to [lo, hi] by
 * comparisons, QuantMath.accumulatorToFloat's arithmetic. */
static inline void fk_linear_f32(const int8_t *x, int k, const int8_t *w, const int32_t *b, const float *s, float lo,
                                 float hi, float *y, int o)
{
    int j, i;
    for (j = 0; j < o; j++) {
        const int8_t *wr = w + (size_t)j * k;
        int32_t acc = b[j];
        float v;
        for (i = 0; i < k; i++) acc += (int32_t)x[i] * wr[i];
        v = (float)acc * s[j];
        y[j] = v < lo ? lo : (v > hi ? hi : v);
    }
}

/* @kernel fk_conv_rows */
/* output rows [begin, end) of a convolution as a convolution of their own (generated C's
 * parallel steps): the input from the first row they read (*x advanced by whole rows of w*c),
 * the rows left (*h), and the top padding left (*ph; negative when every row they read lies in
 * the bottom padding). Each output row reads the same inputs as in the whole convolution, so
 * any split gives the same bytes. */
static inline void fk_conv_rows(int begin, int h, int w, int c, int sh, int ph, const int8_t **x, int *hb, int *phb)
{
    int skip = begin * sh - ph;
    if (skip < 0) skip = 0;
    if (skip > h) skip = h;
    *x += (size_t)skip * w * c;
    *hb = h - skip;
    *phb = ph + skip - begin * sh;
}

/* @kernel fk_dw_window uses fk_simd */
/* the SIMD depthwise paths' block at output pixel (oy, ox): *np = 4 where the windows of pixels
 * ox..ox+3 all stay inside the image's columns, else 1; and the taps of pixel ox's window inside
 * the image, each one's input offset (off, NHWC) and weight offset (woff, weights [kh][kw][C]), at
 * most kh * kw of them; returns how many */
static inline int fk_dw_window(int oy, int ox, int wo, int h, int w, int c, int kh, int kw, int sh, int sw, int ph,
                               int pw, int dh, int dw, size_t *off, size_t *woff, int *np)
{
    const int x0 = ox * sw - pw, y0 = oy * sh - ph;
    int ky, kx, nt = 0;
    *np = ox + 4 <= wo && x0 >= 0 && x0 + 3 * sw + (kw - 1) * dw < w ? 4 : 1;
    if (y0 >= 0 && y0 + (kh - 1) * dh < h && x0 >= 0 && x0 + (kw - 1) * dw < w) {
        /* the whole window inside: no bounds to check */
        const size_t rows = (size_t)dh * w * c, cols = (size_t)dw * c;
        size_t at = ((size_t)y0 * w + x0) * c;
        for (ky = 0; ky < kh; ky++, at += rows)
            for (kx = 0; kx < kw; kx++, nt++) {
                off[nt] = at + (size_t)kx * cols;
                woff[nt] = (size_t)nt * c;
            }
        return nt;
    }
    for (ky = 0; ky < kh; ky++) {
        const int iy = oy * sh - ph + ky * dh;
        if (iy < 0 || iy >= h) continue;
        for (kx = 0; kx < kw; kx++) {
            const int ix = x0 + kx * dw;
            if (ix < 0 || ix >= w) continue;
            off[nt] = ((size_t)iy * w + ix) * c;
            woff[nt++] = ((size_t)ky * kw + kx) * c;
        }
    }
    return nt;
}

/* the SIMD paths' bias for windows wholly inside the image, where x itself is multiplied:
 * bz[j] = b[j] - zx * sum over the taps of w[t][j] (weights [taps][C], at most FK_DW_MAX_TAPS taps;
 * int32 wraps, as the sums it stands in for). Returns 0 where some weight is -128 (NEON's two taps
 * in 16 bits need none), else 1. */
static inline int fk_dw_inside_bias(const int8_t *wt, const int32_t *b, int32_t zx, int taps, int c, int32_t *bz)
{
    int j = 0, t, clear = 1;
#if defined(__ARM_NEON) && defined(__aarch64__) /* @simd neon */
    /* sixteen channels at a time, the sums in 16 bits (at most 64 * 128), zx an int16 */
    uint8x16_t seen = vdupq_n_u8(0);
    const int wide = taps <= FK_DW_MAX_TAPS && zx >= -32768 && zx <= 32767;
    for (; wide && j + 16 <= c; j += 16) {
        int16x8_t sl = vdupq_n_s16(0), sh = sl;
        for (t = 0; t < taps; t++) {
            const int8x16_t v = vld1q_s8(wt + (size_t)t * c + j);
            seen = vorrq_u8(seen, vceqq_s8(v, vdupq_n_s8(-128)));
            sl = vaddw_s8(sl, vget_low_s8(v));
            sh = vaddw_high_s8(sh, v);
        }
        vst1q_s32(bz + j, vmlsl_n_s16(vld1q_s32(b + j), vget_low_s16(sl), (int16_t)zx));
        vst1q_s32(bz + j + 4, vmlsl_high_n_s16(vld1q_s32(b + j + 4), sl, (int16_t)zx));
        vst1q_s32(bz + j + 8, vmlsl_n_s16(vld1q_s32(b + j + 8), vget_low_s16(sh), (int16_t)zx));
        vst1q_s32(bz + j + 12, vmlsl_high_n_s16(vld1q_s32(b + j + 12), sh, (int16_t)zx));
    }
    clear = vmaxvq_u8(seen) == 0;
#endif /* @simd neon */
    for (; j < c; j++) {
        int32_t sw8 = 0;
        for (t = 0; t < taps; t++) {
            sw8 += wt[(size_t)t * c + j];
            if (wt[(size_t)t * c + j] == -128) clear = 0;
        }
        bz[j] = (int32_t)((uint32_t)b[j] - (uint32_t)zx * (uint32_t)sw8);
    }
    return clear;
}

/* @kernel fk_depthwise uses fk_simd fk_requant_n fk_requant_rows fk_dw_window */
/* depthwise convolution, weights [kh][kw][C]; padding contributes (zx - zx) * w = 0 */
#if defined(__AVX2__) /* @simd avx2 */
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && defined(__AVX512VNNI__)
#define FK_DW_ZMM 1
#if defined(__GNUC__)
#define FK_DW_ZMM_NOINLINE __attribute__((noinline))
#else
#define FK_DW_ZMM_NOINLINE
#endif
/* With AVX-512 VNNI, fk_depthwise's blocks of np pixels (4 or 1, as fk_dw_window gives them), 32
 * channels (16 where `half`) at a time: the nt taps' inputs (from xc, the block's first pixel's
 * channel cc, taps at off[t], pixels step apart) and weights (from wc, tap t's at woff[t]) widened
 * to 16 bits and two taps interleaved, as in the AVX2 path, VPDPWSSD adding each pair of products
 * to a lane: x itself with bias b - zx * sum(w) where the windows lie inside the image (`inside`,
 * bias bz), x - zx with b elsewhere. VPUNPCK*WD interleave within 128-bit lanes, so the low sums
 * hold channels {0-3, 8-11, 16-19, 24-27} and the high ones the others; VPERMT2Q puts them back
 * in order before the bias, and fk_rq512 requantizes sixteen channels at a time into y (pixel q
 * at y + q * c) */
static FK_DW_ZMM_NOINLINE void fk_dw_zmm(const int8_t *xc, const size_t *off, const size_t *woff, int nt,
                                         const int8_t *wc, int c, size_t step, int np, int half, int inside,
                                         int32_t zx, const int32_t *bias, const int32_t *m, const int8_t *l,
                                         const int8_t *r, int32_t zo, int32_t lo, int32_t hi, int8_t *y)
{
    const __mmask32 kb = half ? (__mmask32)0xFFFF : ~(__mmask32)0;
    const __m512i z = _mm512_set1_epi16((int16_t)zx);
    const size_t s2 = 2 * step, s3 = 3 * step;
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, c0 = a0, c1 = a0, d0 = a0, d1 = a0, e0 = a0, e1 = a0;
    __m512i v[8];
    int t, q, g;
#define FK_DW_ZMM_LOAD(p) _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(kb, (p)))
#define FK_DW_ZMM_PAIR(lo_, hi_, pa, pb, SUB)                                                               \
    do {                                                                                                  \
        const __m512i va = SUB(FK_DW_ZMM_LOAD(pa)), vb = SUB(FK_DW_ZMM_LOAD(pb));                         \
        lo_ = _mm512_dpwssd_epi32(lo_, _mm512_unpacklo_epi16(va, vb), wl);                                \
        hi_ = _mm512_dpwssd_epi32(hi_, _mm512_unpackhi_epi16(va, vb), wh);                                \
    } while (0)
#define FK_DW_ZMM_X(v_) (v_)
#define FK_DW_ZMM_XZ(v_) _mm512_sub_epi16((v_), z)
/* the taps two at a time (an odd last one with itself at weight zero), NP pixels */
#define FK_DW_ZMM_TAPS(SUB, NP)                                                                             \
    for (t = 0; t < nt; t += 2) {                                                                         \
        const int u = t + 1 < nt ? t + 1 : t;                                                             \
        const __m512i wa = FK_DW_ZMM_LOAD(wc + woff[t]);                                                  \
        const __m512i wb = u > t ? FK_DW_ZMM_LOAD(wc + woff[u]) : _mm512_setzero_si512();                 \
        const __m512i wl = _mm512_unpacklo_epi16(wa, wb), wh = _mm512_unpackhi_epi16(wa, wb);             \
        const int8_t *xa = xc + off[t], *xb = xc + off[u];                                                \
        FK_DW_ZMM_PAIR(a0, a1, xa, xb, SUB);                                                              \
        if (NP == 4) {                                                                                    \
            FK_DW_ZMM_PAIR(c0, c1, xa + step, xb + step, SUB);                                            \
            FK_DW_ZMM_PAIR(d0, d1, xa + s2, xb + s2, SUB);                                                \
            FK_DW_ZMM_PAIR(e0, e1, xa + s3, xb + s3, SUB);                                                \
        }                                                                                                 \
    }
    if (inside)
        FK_DW_ZMM_TAPS(FK_DW_ZMM_X, 4)
    else if (np == 4)
        FK_DW_ZMM_TAPS(FK_DW_ZMM_XZ, 4)
    else
        FK_DW_ZMM_TAPS(FK_DW_ZMM_XZ, 1)
#undef FK_DW_ZMM_TAPS
#undef FK_DW_ZMM_XZ
#undef FK_DW_ZMM_X
#undef FK_DW_ZMM_PAIR
#undef FK_DW_ZMM_LOAD
    {
        const __m512i i0 = _mm512_set_epi64(11, 10, 3, 2, 9, 8, 1, 0), i1 = _mm512_set_epi64(15, 14, 7, 6, 13, 12, 5, 4);
        const __m512i b0 = _mm512_loadu_si512(bias), b1 = half ? b0 : _mm512_loadu_si512(bias + 16);
        v[0] = _mm512_add_epi32(_mm512_permutex2var_epi64(a0, i0, a1), b0);
        v[1] = _mm512_add_epi32(_mm512_permutex2var_epi64(a0, i1, a1), b1);
        v[2] = _mm512_add_epi32(_mm512_permutex2var_epi64(c0, i0, c1), b0);
        v[3] = _mm512_add_epi32(_mm512_permutex2var_epi64(c0, i1, c1), b1);
        v[4] = _mm512_add_epi32(_mm512_permutex2var_epi64(d0, i0, d1), b0);
        v[5] = _mm512_add_epi32(_mm512_permutex2var_epi64(d0, i1, d1), b1);
        v[6] = _mm512_add_epi32(_mm512_permutex2var_epi64(e0, i0, e1), b0);
        v[7] = _mm512_add_epi32(_mm512_permutex2var_epi64(e0, i1, e1), b1);
    }
    for (g = 0; g < (half ? 1 : 2); g++) {
        fk_rq512 rq;
        if (fk_rq512_params(m + 16 * g, l + 16 * g, r + 16 * g, 16, zo, lo, hi, &rq))
            for (q = 0; q < np; q++)
                _mm_storeu_si128((__m128i *)(y + (size_t)q * c + 16 * g), fk_rq512_apply(v[2 * q + g], &rq));
        else
            for (q = 0; q < np; q++) {
                int32_t acc[16];
                _mm512_storeu_si512(acc, v[2 * q + g]);
                fk_requant_n(acc, m + 16 * g, l + 16 * g, r + 16 * g, 16, zo, lo, hi, y + (size_t)q * c + 16 * g);
            }
    }
}
/* With AVX-512 VNNI, output row oy (its windows' first input row iy0 = oy * sh - ph), 64 channels
 * at a time (16, 32 or 48 at the end): four taps' inputs offset by 128 (x ^ 0x80, unsigned;
 * taps in the padding zx ^ 0x80) and interleaved a byte at a time (VPUNPCK*BW, then *WD),
 * VPDPBUSD against the four taps' weights interleaved the same way, each lane summing one
 * channel's four products (u8 x s8, any weight), on top of the bias b - (zx + 128) * sum(w)
 * (int32 wraps, as the sums it stands in for; padding adds (zx + 128 - (zx + 128)) w = 0). The
 * interleaving stays within 128-bit lanes, so register j holds channels 16k + 4j + i (lane k,
 * i < 4): bias, multipliers and shifts are put in that order by a 4x4 transpose of 128-bit lanes
 * (VSHUFI32X4), and VPACKSSDW then VPACKSSWB, also within lanes, put the results back in channel
 * order. The pack saturates to 16 bits before the zero point and to 8 after, then clamps: the
 * same bytes as clamp(v + zp, lo, hi) where zp, lo and hi are int8 (fk_depthwise checks). No
 * channel shifts left (checked too), so fk_rq512_scale applies. */
#define FK_DW_VNNI_G 7 /* groups of four taps: up to 5x5 windows */
static inline void fk_dw_vnni_mix(const __m512i t[4], __m512i u[4])
{
    const __m512i ab0 = _mm512_unpacklo_epi8(t[0], t[1]), ab1 = _mm512_unpackhi_epi8(t[0], t[1]);
    const __m512i cd0 = _mm512_unpacklo_epi8(t[2], t[3]), cd1 = _mm512_unpackhi_epi8(t[2], t[3]);
    u[0] = _mm512_unpacklo_epi16(ab0, cd0);
    u[1] = _mm512_unpackhi_epi16(ab0, cd0);
    u[2] = _mm512_unpacklo_epi16(ab1, cd1);
    u[3] = _mm512_unpackhi_epi16(ab1, cd1);
}
/* channels 16k + 4j + i of register j from v[k]'s 128-bit lane j (v[k]: channels 16k..16k+15) */
static inline void fk_dw_vnni_t4(const __m512i v[4], __m512i o[4])
{
    const __m512i t0 = _mm512_shuffle_i32x4(v[0], v[1], 0x44), t1 = _mm512_shuffle_i32x4(v[0], v[1], 0xEE);
    const __m512i t2 = _mm512_shuffle_i32x4(v[2], v[3], 0x44), t3 = _mm512_shuffle_i32x4(v[2], v[3], 0xEE);
    o[0] = _mm512_shuffle_i32x4(t0, t2, 0x88);
    o[1] = _mm512_shuffle_i32x4(t0, t2, 0xDD);
    o[2] = _mm512_shuffle_i32x4(t1, t3, 0x88);
    o[3] = _mm512_shuffle_i32x4(t1, t3, 0xDD);
}
/* a[j] += the products of four taps' inputs u (interleaved here) and their weights w[j] */
static inline void fk_dw_vnni_dot(__m512i a[4], const __m512i u[4], const __m512i w[4])
{
    __m512i v[4];
    int j;
    fk_dw_vnni_mix(u, v);
    for (j = 0; j < 4; j++) a[j] = _mm512_dpbusd_epi32(a[j], v[j], w[j]);
}
static FK_DW_ZMM_NOINLINE void fk_dw_vnni(const int8_t *x, int h, int w, int c, int32_t zx, const int8_t *wt,
                                          const int32_t *b, const int32_t *m, const int8_t *r, int8_t *y, int wo,
                                          int kh, int kw, int sw, int pw, int dh, int dw, int iy0, int32_t zo,
                                          int32_t lo, int32_t hi)
{
    const int nt = kh * kw, groups = (nt + 3) / 4;
    const int rowin = iy0 >= 0 && iy0 + (kh - 1) * dh < h;
    const __m512i flip = _mm512_set1_epi8((char)0x80), zero = _mm512_setzero_si512(), ones = _mm512_set1_epi8(1);
    const __m512i zxf = _mm512_set1_epi8((char)(zx ^ 0x80)), zp16 = _mm512_set1_epi16((int16_t)zo);
    const __m512i lo8 = _mm512_set1_epi8((char)lo), hi8 = _mm512_set1_epi8((char)hi);
    const __m512i zx128 = _mm512_set1_epi32(zx + 128);
    size_t rel[4 * FK_DW_VNNI_G];
    int cc, g, j, t, ox;
    /* tap t's input offset from its window's first (top left) input */
    for (t = 0; t < nt; t++) rel[t] = ((size_t)(t / kw) * dh * w + (size_t)(t % kw) * dw) * c;
    for (cc = 0; cc < c; cc += 64) {
        const int nch = c - cc < 64 ? c - cc : 64;
        const __mmask64 kb = nch == 64 ? ~(__mmask64)0 : ((__mmask64)1 << nch) - 1;
        __m512i wv[4 * FK_DW_VNNI_G], bias[4], sum[4], bv[4], mv[4], rv[4], mt[4], rt[4];
        fk_rq512 rq[4];
        for (j = 0; j < 4; j++) {
            const __mmask16 k16 = 16 * j < nch ? (__mmask16)0xFFFF : 0;
            sum[j] = zero;
            bv[j] = _mm512_maskz_loadu_epi32(k16, b + cc + 16 * j);
            mv[j] = _mm512_maskz_loadu_epi32(k16, m + cc + 16 * j);
            rv[j] = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k16, r + cc + 16 * j));
        }
        for (g = 0; g < groups; g++) {
            __m512i u[4];
            for (j = 0; j < 4; j++)
                u[j] = 4 * g + j < nt ? _mm512_maskz_loadu_epi8(kb, wt + (size_t)(4 * g + j) * c + cc) : zero;
            fk_dw_vnni_mix(u, wv + 4 * g);
            for (j = 0; j < 4; j++) sum[j] = _mm512_dpbusd_epi32(sum[j], ones, wv[4 * g + j]);
        }
        fk_dw_vnni_t4(bv, bias);
        fk_dw_vnni_t4(mv, mt);
        fk_dw_vnni_t4(rv, rt);
        for (j = 0; j < 4; j++) {
            bias[j] = _mm512_sub_epi32(bias[j], _mm512_mullo_epi32(zx128, sum[j]));
            fk_rq512_make(mt[j], rt[j], zo, lo, hi, &rq[j]);
        }
        for (ox = 0; ox < wo; ox++) {
            const int x0 = ox * sw - pw;
            __m512i a[4], s01, s23;
            for (j = 0; j < 4; j++) a[j] = bias[j];
            if (rowin && x0 >= 0 && x0 + (kw - 1) * dw < w) {
                const int8_t *xp = x + ((size_t)iy0 * w + (size_t)x0) * c + cc;
                for (g = 0; g < groups; g++) {
                    __m512i u[4];
                    for (j = 0; j < 4; j++)
                        u[j] = 4 * g + j < nt ? _mm512_xor_si512(_mm512_maskz_loadu_epi8(kb, xp + rel[4 * g + j]), flip)
                                              : zero;
                    fk_dw_vnni_dot(a, u, wv + 4 * g);
                }
            } else
                /* a window over an edge: the taps in the padding take zx */
                for (g = 0; g < groups; g++) {
                    __m512i u[4];
                    for (j = 0; j < 4; j++) {
                        const int tj = 4 * g + j, iy = iy0 + tj / kw * dh, ix = x0 + tj % kw * dw;
                        u[j] = tj >= nt ? zero
                               : iy >= 0 && iy < h && ix >= 0 && ix < w
                                   ? _mm512_xor_si512(
                                         _mm512_maskz_loadu_epi8(kb, x + ((size_t)iy * w + (size_t)ix) * c + cc), flip)
                                   : zxf;
                    }
                    fk_dw_vnni_dot(a, u, wv + 4 * g);
                }
            s01 = _mm512_adds_epi16(_mm512_packs_epi32(fk_rq512_scale(a[0], &rq[0]), fk_rq512_scale(a[1], &rq[1])), zp16);
            s23 = _mm512_adds_epi16(_mm512_packs_epi32(fk_rq512_scale(a[2], &rq[2]), fk_rq512_scale(a[3], &rq[3])), zp16);
            _mm512_mask_storeu_epi8(y + (size_t)ox * c + cc, kb,
                                    _mm512_min_epi8(_mm512_max_epi8(_mm512_packs_epi16(s01, s23), lo8), hi8));
        }
    }
}
#else
#define FK_DW_ZMM 0
#endif
#endif /* @simd avx2 */
static inline void fk_depthwise(const int8_t *x, int h, int w, int c, int32_t zx, const int8_t *wt,
                                const int32_t *b, const int32_t *m, const int8_t *l, const int8_t *r,
                                int8_t *y, int ho, int wo, int kh, int kw, int sh, int sw, int ph, int pw,
                                int dh, int dw, int32_t zo, int32_t lo, int32_t hi)
{
    int32_t acc[64];
    int oy, ox, ky, kx, c0, j;
    (void)fk_dw_window; /* the SIMD paths' helpers, named for builds that have neither path */
    (void)fk_dw_inside_bias;
#if defined(__AVX2__) /* @simd avx2 */
    /* four output pixels of a row (one where a window crosses the left or right edge) by
     * sixteen channels, over the window's taps inside the image two at a time: x - zx of both
     * taps widened to 16 bits and interleaved, times the two taps' weights interleaved the same
     * way, by VPMADDWD (|x - zx| <= 255, |w| <= 128: each pair of products fits 32 bits), the
     * weights widened once for the four pixels. VPUNPCK*WD interleave within 128-bit lanes, so
     * the sums come out as channels {0-3, 8-11} and {4-7, 12-15} and are put back in order before
     * the bias; the scalar sums exactly. Blocks of four pixels whose windows are wholly inside
     * the image take x itself (|x w| <= 128 * 128, a pair fits 32 bits even with -128 weights),
     * step pointers through the taps (tap t's weights at t * C) and add b - zx * sum(w) instead of
     * b (int32 wraps, so the sums are the same): 7-10 % off a depthwise layer on Zen 3 */
    if (c % 16 == 0 && kh * kw <= FK_DW_MAX_TAPS) {
        const __m256i z = _mm256_set1_epi16((int16_t)zx);
        size_t off[FK_DW_MAX_TAPS], woff[FK_DW_MAX_TAPS];
        int32_t bz[FK_DW_MAX_CH];
        int np, cc, nt, t, q;
        const int folded = c <= FK_DW_MAX_CH;
        /* fk_dw_vnni, row by row, where its conditions hold (no bz then) */
        int vnni = 0;
#if FK_DW_ZMM
        vnni = kh * kw <= 4 * FK_DW_VNNI_G && zx >= -128 && zx <= 127 && zo >= -128 && zo <= 127 && lo >= -128 &&
               hi <= 127;
        for (j = 0; vnni && j < c; j++) vnni = l[j] == 0 && m[j] != INT32_MIN && r[j] >= 0 && r[j] <= 31;
#endif
        if (folded && !vnni) (void)fk_dw_inside_bias(wt, b, zx, kh * kw, c, bz);
#define FK_DW_PAIR0(lo, hi, pa, pb)                                                                       \
    do {                                                                                                  \
        const __m256i va = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(pa)));                 \
        const __m256i vb = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(pb)));                 \
        lo = _mm256_add_epi32(lo, _mm256_madd_epi16(_mm256_unpacklo_epi16(va, vb), wl));                \
        hi = _mm256_add_epi32(hi, _mm256_madd_epi16(_mm256_unpackhi_epi16(va, vb), wh));                \
    } while (0)
#define FK_DW_PAIR(lo, hi, pa, pb)                                                                            \
    do {                                                                                                      \
        const __m256i va = _mm256_sub_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(pa))), z); \
        const __m256i vb = _mm256_sub_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(pb))), z); \
        lo = _mm256_add_epi32(lo, _mm256_madd_epi16(_mm256_unpacklo_epi16(va, vb), wl));                    \
        hi = _mm256_add_epi32(hi, _mm256_madd_epi16(_mm256_unpackhi_epi16(va, vb), wh));                    \
    } while (0)
        for (oy = 0; oy < ho; oy++) {
#if FK_DW_ZMM
            if (vnni) {
                fk_dw_vnni(x, h, w, c, zx, wt, b, m, r, y + (size_t)oy * wo * c, wo, kh, kw, sw, pw, dh, dw,
                           oy * sh - ph, zo, lo, hi);
                continue;
            }
#endif
            for (ox = 0; ox < wo; ox += np) {
                const size_t step = (size_t)sw * c;
                nt = fk_dw_window(oy, ox, wo, h, w, c, kh, kw, sh, sw, ph, pw, dh, dw, off, woff, &np);
                for (cc = 0; cc < c; cc += 16) {
                    __m256i s[8];
                    const int fast = folded && np == 4 && nt == kh * kw;
#if FK_DW_ZMM
                    {
                        const int half = cc + 32 > c;
                        fk_dw_zmm(x + cc, off, woff, nt, wt + cc, c, step, np, half, fast, zx, (fast ? bz : b) + cc,
                                  m + cc, l + cc, r + cc, zo, lo, hi, y + ((size_t)oy * wo + ox) * c + cc);
                        if (!half) cc += 16;
                        continue;
                    }
#endif
                    for (q = 0; q < 8; q++) s[q] = _mm256_setzero_si256();
                    if (fast) {
                        const int8_t *wp = wt + cc, *xc = x + cc;
                        const size_t s2 = 2 * step, s3 = 3 * step;
                        for (t = 0; t < nt; t += 2, wp += 2 * (size_t)c) {
                            const __m256i wa = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)wp));
                            const __m256i wb = t + 1 < nt
                                                   ? _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(wp + c)))
                                                   : _mm256_setzero_si256();
                            const __m256i wl = _mm256_unpacklo_epi16(wa, wb), wh = _mm256_unpackhi_epi16(wa, wb);
                            const int8_t *xa = xc + off[t], *xb = xc + off[t + 1 < nt ? t + 1 : t];
                            FK_DW_PAIR0(s[0], s[1], xa, xb);
                            FK_DW_PAIR0(s[2], s[3], xa + step, xb + step);
                            FK_DW_PAIR0(s[4], s[5], xa + s2, xb + s2);
                            FK_DW_PAIR0(s[6], s[7], xa + s3, xb + s3);
                        }
                    }
                    for (t = 0; !fast && t < nt; t += 2) {
                        /* an odd last tap pairs with itself at weight zero */
                        const int u = t + 1 < nt ? t + 1 : t;
                        const __m256i wa =
                            _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(wt + woff[t] + cc)));
                        const __m256i wb =
                            u > t ? _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(wt + woff[u] + cc)))
                                  : _mm256_setzero_si256();
                        const __m256i wl = _mm256_unpacklo_epi16(wa, wb), wh = _mm256_unpackhi_epi16(wa, wb);
                        const int8_t *xa = x + off[t] + cc, *xb = x + off[u] + cc;
                        FK_DW_PAIR(s[0], s[1], xa, xb);
                        if (np == 4) {
                            FK_DW_PAIR(s[2], s[3], xa + step, xb + step);
                            FK_DW_PAIR(s[4], s[5], xa + 2 * step, xb + 2 * step);
                            FK_DW_PAIR(s[6], s[7], xa + 3 * step, xb + 3 * step);
                        }
                    }
                    {
                        const int32_t *bb = fast ? bz : b;
                        const __m256i b0 = _mm256_loadu_si256((const __m256i *)(bb + cc));
                        const __m256i b1 = _mm256_loadu_si256((const __m256i *)(bb + cc + 8));
                        __m256i v[8];
                        for (q = 0; q < 4; q++) {
                            v[2 * q] = _mm256_add_epi32(_mm256_permute2x128_si256(s[2 * q], s[2 * q + 1], 0x20), b0);
                            v[2 * q + 1] = _mm256_add_epi32(_mm256_permute2x128_si256(s[2 * q], s[2 * q + 1], 0x31), b1);
                        }
                        fk_requant16x4_avx2(v, np, m + cc, l + cc, r + cc, zo, lo, hi,
                                            y + ((size_t)oy * wo + ox) * c + cc, (size_t)c);
                    }
                }
            }
        }
#undef FK_DW_PAIR
#undef FK_DW_PAIR0
        return;
    }
#endif /* @simd avx2 */
#if defined(__ARM_NEON) && defined(__aarch64__) /* @simd neon */
    /* four output pixels of a row (one where a window crosses the left or right edge) by sixteen
     * channels, over the window's taps inside the image: each tap's weights widened once for the
     * four pixels, x - zx widened to 16 bits (SSUBL), products accumulated in 32 bits (SMLAL,
     * sixteen accumulators); the scalar sums exactly. Where no weight is -128 the taps inside the
     * image go two at a time instead: x * w of both by SMULL/SMLAL in 16 bits (|x w| <= 128 * 127,
     * two fit), widened into the accumulators by SADDW, the zero point folded out (int32 wraps, so
     * the sums are the same): blocks of four pixels whose windows are wholly inside start from
     * b - zx * sum(w) over the whole window and step pointers through the taps; windows at an
     * edge, and single pixels, start from b and take zx times their inside taps' weight sum off at
     * the end. The four pixels are requantized together, from the registers where no channel
     * shifts left */
    if (c % 16 == 0 && kh * kw <= FK_DW_MAX_TAPS) {
        const int8x8_t z8 = vdup_n_s8((int8_t)zx);
        const int8x16_t z16 = vdupq_n_s8((int8_t)zx);
        size_t off[FK_DW_MAX_TAPS], woff[FK_DW_MAX_TAPS];
        int32_t a4[4 * 16];
        int32_t bz[FK_DW_MAX_CH];
        const int narrow = zo >= -128 && zo <= 127 && lo >= -128 && hi <= 127;
        const int16x8_t vzp16 = vdupq_n_s16((int16_t)(narrow ? zo : 0));
        const int8x16_t vlo16 = vdupq_n_s8((int8_t)(narrow ? lo : 0)), vhi16 = vdupq_n_s8((int8_t)(narrow ? hi : 0));
        int np, cc, nt, t, folded = c <= FK_DW_MAX_CH;
        /* 3x3 windows without dilation at stride 1 and 2 (each input vector loaded once) */
        const int k33 = kh == 3 && kw == 3 && sw == 1 && dh == 1 && dw == 1, full = lo == -128 && hi == 127;
        const int k33s2 = kh == 3 && kw == 3 && sw == 2 && dh == 1 && dw == 1;
        /* the right shifts negated (SRSHL's) once, where no channel shifts left */
        int32_t nr[FK_DW_MAX_CH];
        int fastq = narrow && c <= FK_DW_MAX_CH;
        if (folded) folded = fk_dw_inside_bias(wt, b, zx, kh * kw, c, bz);
        for (j = 0; fastq && j < c; j++) {
            if (l[j] != 0) fastq = 0;
            nr[j] = -(int32_t)r[j];
        }
#if defined(__GNUC__)
/* lo, hi: x_a w_a + x_b w_b of channels 0-7 and 8-15 in 16 bits; an asm block so that the
 * compiler keeps each pixel's two temporaries apart from the sixteen accumulators (scheduled
 * freely, GCC 12 hoisted every load and spilled) */
#define FK_DW_PRODUCTS_W(lo, hi, va, vb, wa, wb)                                                     \
    __asm__("smull %0.8h, %2.8b, %4.8b\n\tsmull2 %1.8h, %2.16b, %4.16b\n\t"                         \
            "smlal %0.8h, %3.8b, %5.8b\n\tsmlal2 %1.8h, %3.16b, %5.16b"                                \
            : "=&w"(lo), "=&w"(hi)                                                                   \
            : "w"(va), "w"(vb), "w"(wa), "w"(wb))
#else
#define FK_DW_PRODUCTS_W(lo, hi, va, vb, wa, wb)                                                     \
    do {                                                                                             \
        lo = vmlal_s8(vmull_s8(vget_low_s8(va), vget_low_s8(wa)), vget_low_s8(vb), vget_low_s8(wb)); \
        hi = vmlal_high_s8(vmull_high_s8(va, wa), vb, wb);                                           \
    } while (0)
#endif
#define FK_DW_PRODUCTS(lo, hi, va, vb) FK_DW_PRODUCTS_W(lo, hi, va, vb, wa, wb)
/* no load moves across it: GCC 12 otherwise hoists the 3x3 path's loads of every column and spills */
#if defined(__GNUC__)
#define FK_DW_FENCE() __asm__ __volatile__("" ::: "memory")
#else
#define FK_DW_FENCE() ((void)0)
#endif
/* the 3x3 path's steps: s += (16 bits) from a, the pixel's first step from its bias b instead */
#define FK_DW_ADD16(s0, s1, s2, s3, a0, a1, a2, a3, lo16, hi16) \
    do {                                                        \
        s0 = vaddw_s16(a0, vget_low_s16(lo16));                 \
        s1 = vaddw_high_s16(a1, lo16);                          \
        s2 = vaddw_s16(a2, vget_low_s16(hi16));                 \
        s3 = vaddw_high_s16(a3, hi16);                          \
    } while (0)
#define FK_DW_TWO(s, a, va, vb, wa, wb)                              \
    do {                                                             \
        int16x8_t lo16, hi16;                                        \
        FK_DW_PRODUCTS_W(lo16, hi16, va, vb, wa, wb);                \
        FK_DW_ADD16(s##0, s##1, s##2, s##3, a##0, a##1, a##2, a##3, lo16, hi16); \
    } while (0)
#define FK_DW_ONE(s, va, wv)                                                        \
    do {                                                                            \
        const int16x8_t lo16 = vmull_s8(vget_low_s8(va), vget_low_s8(wv));         \
        const int16x8_t hi16 = vmull_high_s8(va, wv);                               \
        FK_DW_ADD16(s##0, s##1, s##2, s##3, s##0, s##1, s##2, s##3, lo16, hi16);    \
    } while (0)
#define FK_DW_PIX2(s0, s1, s2, s3, pa, pb)                                                           \
    do {                                                                                             \
        const int8x16_t va = vld1q_s8(pa), vb = vld1q_s8(pb);                                        \
        int16x8_t lo16, hi16;                                                                        \
        FK_DW_PRODUCTS(lo16, hi16, va, vb);                                                          \
        s0 = vaddw_s16(s0, vget_low_s16(lo16));                                                      \
        s1 = vaddw_high_s16(s1, lo16);                                                               \
        s2 = vaddw_s16(s2, vget_low_s16(hi16));                                                      \
        s3 = vaddw_high_s16(s3, hi16);                                                               \
    } while (0)
#define FK_DW_PIX1(s0, s1, s2, s3, pa)                                                          \
    do {                                                                                        \
        const int8x16_t va = vld1q_s8(pa);                                                      \
        const int16x8_t lo16 = vmull_s8(vget_low_s8(va), vget_low_s8(wa));                      \
        const int16x8_t hi16 = vmull_high_s8(va, wa);                                           \
        s0 = vaddw_s16(s0, vget_low_s16(lo16));                                                 \
        s1 = vaddw_high_s16(s1, lo16);                                                          \
        s2 = vaddw_s16(s2, vget_low_s16(hi16));                                                 \
        s3 = vaddw_high_s16(s3, hi16);                                                          \
    } while (0)
/* accumulators less zx * sum w (z0..z3); the lanes wrap like the portable path's int32 sums */
#define FK_DW_UNZERO(s0, s1, s2, s3) \
    do {                             \
        s0 = vsubq_s32(s0, z0);      \
        s1 = vsubq_s32(s1, z1);      \
        s2 = vsubq_s32(s2, z2);      \
        s3 = vsubq_s32(s3, z3);      \
    } while (0)
#define FK_DW_PIX(s0, s1, s2, s3, xp)                                 \
    do {                                                              \
        const int8x16_t xv = vld1q_s8(xp);                            \
        const int16x8_t xl = vsubl_s8(vget_low_s8(xv), z8);           \
        const int16x8_t xh = vsubl_high_s8(xv, z16);                  \
        s0 = vmlal_s16(s0, vget_low_s16(xl), vget_low_s16(wl));       \
        s1 = vmlal_high_s16(s1, xl, wl);                              \
        s2 = vmlal_s16(s2, vget_low_s16(xh), vget_low_s16(wh));       \
        s3 = vmlal_high_s16(s3, xh, wh);                              \
    } while (0)
        for (oy = 0; oy < ho; oy++)
            for (ox = 0; ox < wo; ox += np) {
                const size_t step = (size_t)sw * c;
                const int iy0 = oy * sh - ph, ix0 = ox * sw - pw;
                if ((k33 || k33s2) && folded && iy0 >= 0 && iy0 + 2 < h && ix0 >= 0 && ox + 4 <= wo &&
                    ix0 + 3 * sw + 2 < w) {
                    /* four 3x3 windows wholly inside: the paths below read only each row's first tap */
                    np = 4;
                    nt = 9;
                    off[0] = ((size_t)iy0 * w + ix0) * c;
                    off[3] = off[0] + (size_t)w * c;
                    off[6] = off[3] + (size_t)w * c;
                } else
                    nt = fk_dw_window(oy, ox, wo, h, w, c, kh, kw, sh, sw, ph, pw, dh, dw, off, woff, &np);
                for (cc = 0; cc < c; cc += 16) {
                    const int inside = folded && nt == kh * kw;
                    const int32_t *bb = inside ? bz : b;
                    const int32x4_t b0 = vld1q_s32(bb + cc), b1 = vld1q_s32(bb + cc + 4);
                    const int32x4_t b2 = vld1q_s32(bb + cc + 8), b3 = vld1q_s32(bb + cc + 12);
                    int32x4_t p0 = b0, p1 = b1, p2 = b2, p3 = b3, q0 = b0, q1 = b1, q2 = b2, q3 = b3;
                    int32x4_t r0 = b0, r1 = b1, r2 = b2, r3 = b3, u0 = b0, u1 = b1, u2 = b2, u3 = b3;
                    /* interior windows: two taps at a time, a last odd tap paired with itself at
                     * weight zero */
                    if (inside && np == 4 && k33) {
                        /* a 3x3 window at stride 1, every tap inside: each input vector loaded
                         * once for the four pixels. Rows 0 and 1 go column by column (the
                         * window's span is six columns), a column's two rows a pair of taps in
                         * 16 bits for each pixel whose window holds it; row 2 by pixels, its
                         * first two taps a pair and the third alone */
                        const int8_t *x0 = x + off[0] + cc, *x1 = x + off[3] + cc, *x2 = x + off[6] + cc;
                        const int8_t *wp = wt + cc;
                        const size_t c2 = 2 * (size_t)c, c3 = 3 * (size_t)c, c4 = 4 * (size_t)c, c5 = 5 * (size_t)c;
                        const int8x16_t w00 = vld1q_s8(wp), w01 = vld1q_s8(wp + c), w02 = vld1q_s8(wp + c2);
                        const int8x16_t w10 = vld1q_s8(wp + c3), w11 = vld1q_s8(wp + c4), w12 = vld1q_s8(wp + c5);
                        int8x16_t va, vb, vc, vd;
                        va = vld1q_s8(x0), vb = vld1q_s8(x1);
                        FK_DW_TWO(p, b, va, vb, w00, w10);
                        FK_DW_FENCE();
                        va = vld1q_s8(x0 + c), vb = vld1q_s8(x1 + c);
                        FK_DW_TWO(p, p, va, vb, w01, w11);
                        FK_DW_TWO(q, b, va, vb, w00, w10);
                        FK_DW_FENCE();
                        va = vld1q_s8(x0 + c2), vb = vld1q_s8(x1 + c2);
                        FK_DW_TWO(p, p, va, vb, w02, w12);
                        FK_DW_TWO(q, q, va, vb, w01, w11);
                        FK_DW_TWO(r, b, va, vb, w00, w10);
                        FK_DW_FENCE();
                        va = vld1q_s8(x0 + c3), vb = vld1q_s8(x1 + c3);
                        FK_DW_TWO(q, q, va, vb, w02, w12);
                        FK_DW_TWO(r, r, va, vb, w01, w11);
                        FK_DW_TWO(u, b, va, vb, w00, w10);
                        FK_DW_FENCE();
                        va = vld1q_s8(x0 + c4), vb = vld1q_s8(x1 + c4);
                        FK_DW_TWO(r, r, va, vb, w02, w12);
                        FK_DW_TWO(u, u, va, vb, w01, w11);
                        FK_DW_FENCE();
                        va = vld1q_s8(x0 + c5), vb = vld1q_s8(x1 + c5);
                        FK_DW_TWO(u, u, va, vb, w02, w12);
                        FK_DW_FENCE();
                        {
                            const int8x16_t w20 = vld1q_s8(wp + 6 * (size_t)c), w21 = vld1q_s8(wp + 7 * (size_t)c);
                            const int8x16_t w22 = vld1q_s8(wp + 8 * (size_t)c);
                            va = vld1q_s8(x2), vb = vld1q_s8(x2 + c), vc = vld1q_s8(x2 + c2);
                            FK_DW_TWO(p, p, va, vb, w20, w21);
                            FK_DW_ONE(p, vc, w22);
                            FK_DW_FENCE();
                            vd = vld1q_s8(x2 + c3);
                            FK_DW_TWO(q, q, vb, vc, w20, w21);
                            FK_DW_ONE(q, vd, w22);
                            FK_DW_FENCE();
                            va = vld1q_s8(x2 + c4);
                            FK_DW_TWO(r, r, vc, vd, w20, w21);
                            FK_DW_ONE(r, va, w22);
                            FK_DW_FENCE();
                            vb = vld1q_s8(x2 + c5);
                            FK_DW_TWO(u, u, vd, va, w20, w21);
                            FK_DW_ONE(u, vb, w22);
                        }
                    }
                    else if (inside && np == 4 && k33s2) {
                        /* the same at stride 2: the four windows span nine columns, the even
                         * ones shared by two neighbouring pixels */
                        const int8_t *x0 = x + off[0] + cc, *x1 = x + off[3] + cc, *x2 = x + off[6] + cc;
                        const int8_t *wp = wt + cc;
                        const size_t c2 = 2 * (size_t)c, c3 = 3 * (size_t)c, c4 = 4 * (size_t)c, c5 = 5 * (size_t)c;
                        const size_t c6 = 6 * (size_t)c, c7 = 7 * (size_t)c, c8 = 8 * (size_t)c;
                        const int8x16_t w00 = vld1q_s8(wp), w01 = vld1q_s8(wp + c), w02 = vld1q_s8(wp + c2);
                        const int8x16_t w10 = vld1q_s8(wp + c3), w11 = vld1q_s8(wp + c4), w12 = vld1q_s8(wp + c5);
                        int8x16_t va, vb, vc;
                        va = vld1q_s8(x0), vb = vld1q_s8(x1);
                        FK_DW_TWO(p, b, va, vb, w00, w10);
                        FK_DW_FENCE();
                        va = vld1q_s8(x0 + c), vb = vld1q_s8(x1 + c);
                        FK_DW_TWO(p, p, va, vb, w01, w11);
                        FK_DW_FENCE();
                        va = vld1q_s8(x0 + c2), vb = vld1q_s8(x1 + c2);
                        FK_DW_TWO(p, p, va, vb, w02, w12);
                        FK_DW_TWO(q, b, va, vb, w00, w10);
                        FK_DW_FENCE();
                        va = vld1q_s8(x0 + c3), vb = vld1q_s8(x1 + c3);
                        FK_DW_TWO(q, q, va, vb, w01, w11);
                        FK_DW_FENCE();
                        va = vld1q_s8(x0 + c4), vb = vld1q_s8(x1 + c4);
                        FK_DW_TWO(q, q, va, vb, w02, w12);
                        FK_DW_TWO(r, b, va, vb, w00, w10);
                        FK_DW_FENCE();
                        va = vld1q_s8(x0 + c5), vb = vld1q_s8(x1 + c5);
                        FK_DW_TWO(r, r, va, vb, w01, w11);
                        FK_DW_FENCE();
                        va = vld1q_s8(x0 + c6), vb = vld1q_s8(x1 + c6);
                        FK_DW_TWO(r, r, va, vb, w02, w12);
                        FK_DW_TWO(u, b, va, vb, w00, w10);
                        FK_DW_FENCE();
                        va = vld1q_s8(x0 + c7), vb = vld1q_s8(x1 + c7);
                        FK_DW_TWO(u, u, va, vb, w01, w11);
                        FK_DW_FENCE();
                        va = vld1q_s8(x0 + c8), vb = vld1q_s8(x1 + c8);
                        FK_DW_TWO(u, u, va, vb, w02, w12);
                        FK_DW_FENCE();
                        {
                            const int8x16_t w20 = vld1q_s8(wp + c6), w21 = vld1q_s8(wp + c7), w22 = vld1q_s8(wp + c8);
                            va = vld1q_s8(x2), vb = vld1q_s8(x2 + c), vc = vld1q_s8(x2 + c2);
                            FK_DW_TWO(p, p, va, vb, w20, w21);
                            FK_DW_ONE(p, vc, w22);
                            FK_DW_FENCE();
                            va = vld1q_s8(x2 + c3), vb = vld1q_s8(x2 + c4);
                            FK_DW_TWO(q, q, vc, va, w20, w21);
                            FK_DW_ONE(q, vb, w22);
                            FK_DW_FENCE();
                            va = vld1q_s8(x2 + c5), vc = vld1q_s8(x2 + c6);
                            FK_DW_TWO(r, r, vb, va, w20, w21);
                            FK_DW_ONE(r, vc, w22);
                            FK_DW_FENCE();
                            va = vld1q_s8(x2 + c7), vb = vld1q_s8(x2 + c8);
                            FK_DW_TWO(u, u, vc, va, w20, w21);
                            FK_DW_ONE(u, vb, w22);
                        }
                    }
                    else if (inside && np == 4) {
                        /* every tap inside: tap t's weights at wt + t * c, pointer steps only */
                        const int8_t *wp = wt + cc, *xc = x + cc;
                        const size_t s2 = 2 * step, s3 = 3 * step;
                        for (t = 0; t + 1 < nt; t += 2, wp += 2 * (size_t)c) {
                            const int8x16_t wa = vld1q_s8(wp), wb = vld1q_s8(wp + c);
                            const int8_t *xa = xc + off[t], *xb = xc + off[t + 1];
                            FK_DW_PIX2(p0, p1, p2, p3, xa, xb);
                            FK_DW_PIX2(q0, q1, q2, q3, xa + step, xb + step);
                            FK_DW_PIX2(r0, r1, r2, r3, xa + s2, xb + s2);
                            FK_DW_PIX2(u0, u1, u2, u3, xa + s3, xb + s3);
                        }
                        if (t < nt) {
                            const int8x16_t wa = vld1q_s8(wp);
                            const int8_t *xa = xc + off[t];
                            FK_DW_PIX1(p0, p1, p2, p3, xa);
                            FK_DW_PIX1(q0, q1, q2, q3, xa + step);
                            FK_DW_PIX1(r0, r1, r2, r3, xa + s2);
                            FK_DW_PIX1(u0, u1, u2, u3, xa + s3);
                        }
                    }
                    else if (inside) {
                        /* one pixel, every tap inside: from b - zx * sum(w), two taps at a time */
                        for (t = 0; t + 1 < nt; t += 2) {
                            const int8x16_t wa = vld1q_s8(wt + woff[t] + cc), wb = vld1q_s8(wt + woff[t + 1] + cc);
                            FK_DW_PIX2(p0, p1, p2, p3, x + off[t] + cc, x + off[t + 1] + cc);
                        }
                        if (t < nt) {
                            const int8x16_t wa = vld1q_s8(wt + woff[t] + cc);
                            FK_DW_PIX1(p0, p1, p2, p3, x + off[t] + cc);
                        }
                    }
                    else if (folded) {
                        /* a window at an edge: its taps inside the image two at a
                         * time from b, their weights summed (sw, 16 bits: at most FK_DW_MAX_TAPS *
                         * 127), and zx * sw taken off at the end: b + sum (x - zx) w */
                        int16x8_t swl = vdupq_n_s16(0), swh = swl;
                        int32x4_t z0, z1, z2, z3;
                        for (t = 0; t < nt; t += 2) {
                            const int v = t + 1 < nt ? t + 1 : t;
                            const int8x16_t wa = vld1q_s8(wt + woff[t] + cc);
                            const int8x16_t wb = v > t ? vld1q_s8(wt + woff[v] + cc) : vdupq_n_s8(0);
                            const int8_t *xa = x + off[t] + cc, *xb = x + off[v] + cc;
                            swl = vaddw_s8(vaddw_s8(swl, vget_low_s8(wa)), vget_low_s8(wb));
                            swh = vaddw_high_s8(vaddw_high_s8(swh, wa), wb);
                            FK_DW_PIX2(p0, p1, p2, p3, xa, xb);
                            if (np == 4) {
                                FK_DW_PIX2(q0, q1, q2, q3, xa + step, xb + step);
                                FK_DW_PIX2(r0, r1, r2, r3, xa + 2 * step, xb + 2 * step);
                                FK_DW_PIX2(u0, u1, u2, u3, xa + 3 * step, xb + 3 * step);
                            }
                        }
                        z0 = vmull_n_s16(vget_low_s16(swl), (int16_t)zx);
                        z1 = vmull_high_n_s16(swl, (int16_t)zx);
                        z2 = vmull_n_s16(vget_low_s16(swh), (int16_t)zx);
                        z3 = vmull_high_n_s16(swh, (int16_t)zx);
                        FK_DW_UNZERO(p0, p1, p2, p3);
                        if (np == 4) {
                            FK_DW_UNZERO(q0, q1, q2, q3);
                            FK_DW_UNZERO(r0, r1, r2, r3);
                            FK_DW_UNZERO(u0, u1, u2, u3);
                        }
                    }
                    for (t = 0; !folded && t < nt; t++) {
                        const int8x16_t wv = vld1q_s8(wt + woff[t] + cc);
                        const int16x8_t wl = vmovl_s8(vget_low_s8(wv)), wh = vmovl_high_s8(wv);
                        const int8_t *xa = x + off[t] + cc;
                        FK_DW_PIX(p0, p1, p2, p3, xa);
                        if (np == 4) {
                            FK_DW_PIX(q0, q1, q2, q3, xa + step);
                            FK_DW_PIX(r0, r1, r2, r3, xa + 2 * step);
                            FK_DW_PIX(u0, u1, u2, u3, xa + 3 * step);
                        }
                    }
                    if (narrow) {
                        /* requantized from the registers where no channel of the sixteen shifts left */
                        int32x4_t mq[4], nq[4];
                        int ready = fastq;
                        if (ready) {
                            for (t = 0; t < 4; t++) {
                                mq[t] = vld1q_s32(m + cc + 4 * t);
                                nq[t] = vld1q_s32(nr + cc + 4 * t);
                            }
                        } else
                            ready = fk_requant16_params_neon(m + cc, l + cc, r + cc, mq, nq);
                        if (ready) {
                            int8_t *yp = y + ((size_t)oy * wo + ox) * c + cc;
                            /* without the clamp where [lo, hi] is all of int8 */
#define FK_DW_RQ(s, at, clamp) fk_requant16c_neon(s##0, s##1, s##2, s##3, mq, nq, vzp16, vlo16, vhi16, yp + (at), clamp)
#define FK_DW_RQ4(clamp)                               \
    do {                                               \
        FK_DW_RQ(p, 0, clamp);                         \
        if (np == 4) {                                 \
            FK_DW_RQ(q, c, clamp);                     \
            FK_DW_RQ(r, 2 * (size_t)c, clamp);         \
            FK_DW_RQ(u, 3 * (size_t)c, clamp);         \
        }                                              \
    } while (0)
                            if (full)
                                FK_DW_RQ4(0);
                            else
                                FK_DW_RQ4(1);
#undef FK_DW_RQ4
#undef FK_DW_RQ
                            continue;
                        }
                    }
                    vst1q_s32(a4, p0);
                    vst1q_s32(a4 + 4, p1);
                    vst1q_s32(a4 + 8, p2);
                    vst1q_s32(a4 + 12, p3);
                    vst1q_s32(a4 + 16, q0);
                    vst1q_s32(a4 + 20, q1);
                    vst1q_s32(a4 + 24, q2);
                    vst1q_s32(a4 + 28, q3);
                    vst1q_s32(a4 + 32, r0);
                    vst1q_s32(a4 + 36, r1);
                    vst1q_s32(a4 + 40, r2);
                    vst1q_s32(a4 + 44, r3);
                    vst1q_s32(a4 + 48, u0);
                    vst1q_s32(a4 + 52, u1);
                    vst1q_s32(a4 + 56, u2);
                    vst1q_s32(a4 + 60, u3);
                    fk_requant_rows(a4, 16, np, m + cc, l + cc, r + cc, 16, zo, lo, hi,
                                    y + ((size_t)oy * wo + ox) * c + cc, (size_t)c);
                }
            }
#undef FK_DW_PIX
#undef FK_DW_UNZERO
#undef FK_DW_PIX1
#undef FK_DW_PIX2
#undef FK_DW_ONE
#undef FK_DW_FENCE
#undef FK_DW_TWO
#undef FK_DW_ADD16
#undef FK_DW_PRODUCTS
#undef FK_DW_PRODUCTS_W
        return;
    }
#endif /* @simd neon */
    for (oy = 0; oy < ho; oy++)
        for (ox = 0; ox < wo; ox++)
            for (c0 = 0; c0 < c; c0 += 64) {
                int n = c - c0 < 64 ? c - c0 : 64;
                int8_t *yp = y + ((size_t)oy * wo + ox) * c + c0;
#if defined(__ARM_NEON) && defined(__aarch64__) /* @simd neon */
                /* sixteen channels at a time: x - zx widened to 16 bits (SSUBL), weights
                 * widened, products accumulated in 32 bits (SMLAL): the scalar sums exactly */
                if (n % 16 == 0) {
                    const int8x8_t z8 = vdup_n_s8((int8_t)zx);
                    const int8x16_t z16 = vdupq_n_s8((int8_t)zx);
                    int cc;
                    for (cc = 0; cc < n; cc += 16) {
                        int32x4_t s0 = vld1q_s32(b + c0 + cc), s1 = vld1q_s32(b + c0 + cc + 4);
                        int32x4_t s2 = vld1q_s32(b + c0 + cc + 8), s3 = vld1q_s32(b + c0 + cc + 12);
                        for (ky = 0; ky < kh; ky++) {
                            int iy = oy * sh - ph + ky * dh;
                            if (iy < 0 || iy >= h) continue;
                            for (kx = 0; kx < kw; kx++) {
                                int ix = ox * sw - pw + kx * dw;
                                int8x16_t xv, wv;
                                int16x8_t xl, xh, wl, wh;
                                if (ix < 0 || ix >= w) continue;
                                xv = vld1q_s8(x + ((size_t)iy * w + ix) * c + c0 + cc);
                                wv = vld1q_s8(wt + ((size_t)ky * kw + kx) * c + c0 + cc);
                                xl = vsubl_s8(vget_low_s8(xv), z8);
                                xh = vsubl_high_s8(xv, z16);
                                wl = vmovl_s8(vget_low_s8(wv));
                                wh = vmovl_high_s8(wv);
                                s0 = vmlal_s16(s0, vget_low_s16(xl), vget_low_s16(wl));
                                s1 = vmlal_high_s16(s1, xl, wl);
                                s2 = vmlal_s16(s2, vget_low_s16(xh), vget_low_s16(wh));
                                s3 = vmlal_high_s16(s3, xh, wh);
                            }
                        }
                        vst1q_s32(acc + cc, s0);
                        vst1q_s32(acc + cc + 4, s1);
                        vst1q_s32(acc + cc + 8, s2);
                        vst1q_s32(acc + cc + 12, s3);
                    }
                    fk_requant_n(acc, m + c0, l + c0, r + c0, n, zo, lo, hi, yp);
                    continue;
                }
#endif /* @simd neon */
                for (j = 0; j < n; j++) acc[j] = b[c0 + j];
                for (ky = 0; ky < kh; ky++) {
                    int iy = oy * sh - ph + ky * dh;
                    if (iy < 0 || iy >= h) continue;
                    for (kx = 0; kx < kw; kx++) {
                        int ix = ox * sw - pw + kx * dw;
                        const int8_t *xp, *wp;
                        if (ix < 0 || ix >= w) continue;
                        xp = x + ((size_t)iy * w + ix) * c + c0;
                        wp = wt + ((size_t)ky * kw + kx) * c + c0;
                        /* |x - zx| <= 255 and |w| <= 128: the product fits 16 bits, so
                         * compilers may multiply 16 lanes at a time */
                        for (j = 0; j < n; j++)
                            acc[j] += (int16_t)((int16_t)((int32_t)xp[j] - zx) * (int16_t)wp[j]);
                    }
                }
                fk_requant_n(acc, m + c0, l + c0, r + c0, n, zo, lo, hi, yp);
            }
}

/* @kernel fk_conv_dense uses fk_simd fk_requant_n fk_pointwise_quad */
#if defined(__AVX2__) /* @simd avx2 */
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && defined(__AVX512VNNI__)
#define FK_DENSE_ZMM 1
#define FK_DENSE_ZMM_W 8192 /* bytes of weights in quads */
#define FK_DENSE_ZMM_O 256  /* output channels */
#define FK_DENSE_ZMM_X 4096 /* bytes of gathered windows */
/* With AVX-512 VNNI, a dense convolution is a 1x1 one over its windows: the weights, [kk][O],
 * laid out in quads ([kk/4][O][4], zeros after the last kk) and the windows gathered as bytes
 * (the padding as zx itself), rows of kk bytes, for fk_pointwise_quad's AVX-512 blocks, with
 * zx * sum_kk w[kk][o] taken off the bias: the padding's zx * w then cancels, and the sums are
 * those of sum (x - zx) w over the taps inside. Up to FK_DENSE_ZMM_W bytes of weights and
 * FK_DENSE_ZMM_O channels (o % 8 == 0), windows of at most FK_DENSE_ZMM_X bytes, and no -128
 * weight (fk_pointwise_quad's condition); returns 0, having written nothing, otherwise */
static inline int fk_conv_dense_zmm(const int8_t *x, int h, int w, int c, int32_t zx, const int8_t *wt,
                                    const int32_t *b, const int32_t *m, const int8_t *l, const int8_t *r, int8_t *y,
                                    int ho, int wo, int o, int kh, int kw, int sh, int sw, int ph, int pw, int dh,
                                    int dw, int32_t zo, int32_t lo, int32_t hi)
{
    int8_t wq[FK_DENSE_ZMM_W], cols[FK_DENSE_ZMM_X];
    int32_t bq[FK_DENSE_ZMM_O];
    const int kk_n = kh * kw * c, quads = (kk_n + 3) / 4;
    int oy, ox, ky, kx, kk, j, n, p, np, ci;
    if (zx < -128 || zx > 127 || o % 8 != 0 || o > FK_DENSE_ZMM_O || kk_n > FK_DENSE_ZMM_X || (size_t)quads * 4 * o > FK_DENSE_ZMM_W) return 0;
    for (j = 0; j < o; j++) bq[j] = 0;
    for (kk = 0; kk < 4 * quads; kk++)
        for (j = 0; j < o; j++) {
            const int8_t v = kk < kk_n ? wt[(size_t)kk * o + j] : 0;
            if (v == -128) return 0;
            wq[((size_t)(kk / 4) * o + j) * 4 + kk % 4] = v;
            bq[j] += v;
        }
    for (j = 0; j < o; j++) bq[j] = (int32_t)((uint32_t)b[j] - (uint32_t)zx * (uint32_t)bq[j]);
    np = FK_DENSE_ZMM_X / kk_n;
    for (oy = 0; oy < ho; oy++)
        for (ox = 0; ox < wo; ox += n) {
            n = wo - ox < np ? wo - ox : np;
            for (p = 0; p < n; p++) {
                int8_t *d = cols + (size_t)p * kk_n;
                for (ky = 0; ky < kh; ky++)
                    for (kx = 0; kx < kw; kx++, d += c) {
                        const int iy = oy * sh - ph + ky * dh, ix = (ox + p) * sw - pw + kx * dw;
                        if (iy >= 0 && iy < h && ix >= 0 && ix < w)
                            for (ci = 0; ci < c; ci++) d[ci] = x[((size_t)iy * w + ix) * c + ci];
                        else
                            for (ci = 0; ci < c; ci++) d[ci] = (int8_t)zx;
                    }
            }
            fk_pointwise_quad(cols, n, kk_n, wq, bq, m, l, r, y + ((size_t)oy * wo + ox) * o, o, zo, lo, hi);
        }
    return 1;
}
#else
#define FK_DENSE_ZMM 0
#endif
#endif /* @simd avx2 */
/* a dense convolution (the stem): each output pixel's input window, less the zero point
 * (0 in the padding), gathered into col[kh*kw*C]; weights [kh][kw][C][O], so the products
 * run over contiguous output channels as in the 1x1 kernel */
static inline void fk_conv_dense(const int8_t *x, int h, int w, int c, int32_t zx, const int8_t *wt,
                                 const int32_t *b, const int32_t *m, const int8_t *l, const int8_t *r,
                                 int8_t *y, int ho, int wo, int o, int kh, int kw, int sh, int sw, int ph,
                                 int pw, int dh, int dw, int32_t zo, int32_t lo, int32_t hi)
{
    int16_t col[FK_DENSE_MAX_COLS];
    int32_t acc[32];
    const int kk_n = kh * kw * c;
    int oy, ox, ky, kx, ci, o0, j, kk;
#if defined(__AVX2__) /* @simd avx2 */
#if FK_DENSE_ZMM
    if (fk_conv_dense_zmm(x, h, w, c, zx, wt, b, m, l, r, y, ho, wo, o, kh, kw, sh, sw, ph, pw, dh, dw, zo, lo, hi)) return;
#endif
    /* four pixels by sixteen output channels, as fk_pointwise_avx2: the windows gathered as
     * 16-bit values (a union, so a 32-bit lane reads a pair of them), two weight rows
     * interleaved by bytes (VPUNPCKLBW/HBW, a zero row after an odd last one) and widened into
     * pairs, each VPMADDWD'd with every pixel's broadcast pair */
    if (o % 16 == 0) {
        union {
            int16_t v[FK_DENSE_MAX_COLS + 2];
            int32_t pair[FK_DENSE_MAX_COLS / 2 + 1];
        } cols[4];
        int q;
        for (oy = 0; oy < ho; oy++)
            for (ox = 0; ox < wo; ox += 4) {
                const int np = wo - ox < 4 ? wo - ox : 4;
                for (q = 0; q < 4; q++) {
                    const int qx = ox + (q < np ? q : 0);
                    int idx = 0;
                    for (ky = 0; ky < kh; ky++)
                        for (kx = 0; kx < kw; kx++) {
                            const int iy = oy * sh - ph + ky * dh, ix = qx * sw - pw + kx * dw;
                            if (iy >= 0 && iy < h && ix >= 0 && ix < w) {
                                const int8_t *xp = x + ((size_t)iy * w + ix) * c;
                                for (ci = 0; ci < c; ci++) cols[q].v[idx++] = (int16_t)((int32_t)xp[ci] - zx);
                            } else {
                                for (ci = 0; ci < c; ci++) cols[q].v[idx++] = 0;
                            }
                        }
                    cols[q].v[idx] = 0;
                }
                for (o0 = 0; o0 < o; o0 += 16) {
                    __m256i a0 = _mm256_loadu_si256((const __m256i *)(b + o0));
                    __m256i a1 = _mm256_loadu_si256((const __m256i *)(b + o0 + 8));
                    __m256i c0 = a0, c1 = a1, d0 = a0, d1 = a1, e0 = a0, e1 = a1;
                    for (kk = 0; kk < kk_n; kk += 2) {
                        const __m128i r0 = _mm_loadu_si128((const __m128i *)(wt + (size_t)kk * o + o0));
                        const __m128i r1 = kk + 1 < kk_n ? _mm_loadu_si128((const __m128i *)(wt + (size_t)(kk + 1) * o + o0))
                                                         : _mm_setzero_si128();
                        const __m256i w0 = _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(r0, r1));
                        const __m256i w1 = _mm256_cvtepi8_epi16(_mm_unpackhi_epi8(r0, r1));
                        __m256i xv = _mm256_set1_epi32(cols[0].pair[kk / 2]);
                        a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(w0, xv));
                        a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(w1, xv));
                        xv = _mm256_set1_epi32(cols[1].pair[kk / 2]);
                        c0 = _mm256_add_epi32(c0, _mm256_madd_epi16(w0, xv));
                        c1 = _mm256_add_epi32(c1, _mm256_madd_epi16(w1, xv));
                        xv = _mm256_set1_epi32(cols[2].pair[kk / 2]);
                        d0 = _mm256_add_epi32(d0, _mm256_madd_epi16(w0, xv));
                        d1 = _mm256_add_epi32(d1, _mm256_madd_epi16(w1, xv));
                        xv = _mm256_set1_epi32(cols[3].pair[kk / 2]);
                        e0 = _mm256_add_epi32(e0, _mm256_madd_epi16(w0, xv));
                        e1 = _mm256_add_epi32(e1, _mm256_madd_epi16(w1, xv));
                    }
                    {
                        const __m256i v[8] = {a0, a1, c0, c1, d0, d1, e0, e1};
                        fk_requant16x4_avx2(v, np, m + o0, l + o0, r + o0, zo, lo, hi,
                                            y + ((size_t)oy * wo + ox) * o + o0, (size_t)o);
                    }
                }
            }
        return;
    }
#endif /* @simd avx2 */
    for (oy = 0; oy < ho; oy++)
        for (ox = 0; ox < wo; ox++) {
            int idx = 0;
            for (ky = 0; ky < kh; ky++)
                for (kx = 0; kx < kw; kx++) {
                    int iy = oy * sh - ph + ky * dh, ix = ox * sw - pw + kx * dw;
                    int inside = iy >= 0 && iy < h && ix >= 0 && ix < w;
                    for (ci = 0; ci < c; ci++)
                        col[idx++] = (int16_t)(inside ? (int32_t)x[((size_t)iy * w + ix) * c + ci] - zx : 0);
                }
            for (o0 = 0; o0 < o; o0 += 32) {
                const int n = o - o0 < 32 ? o - o0 : 32;
                for (j = 0; j < n; j++) acc[j] = b[o0 + j];
                kk = 0;
#if defined(__ARM_NEON) && defined(__aarch64__) /* @simd neon */
                if (n % 8 == 0) {
                    int q;
                    for (q = 0; q < n; q += 8) {
                        int32x4_t a0 = vld1q_s32(acc + q), a1 = vld1q_s32(acc + q + 4);
                        for (kk = 0; kk < kk_n; kk++) {
                            const int16x8_t wv = vmovl_s8(vld1_s8(wt + (size_t)kk * o + o0 + q));
                            a0 = vmlal_n_s16(a0, vget_low_s16(wv), col[kk]);
                            a1 = vmlal_n_s16(a1, vget_high_s16(wv), col[kk]);
                        }
                        vst1q_s32(acc + q, a0);
                        vst1q_s32(acc + q + 4, a1);
                    }
                    kk = kk_n;
                }
#endif /* @simd neon */
                for (; kk < kk_n; kk++) {
                    const int32_t xv = col[kk];
                    const int8_t *wp = wt + (size_t)kk * o + o0;
                    for (j = 0; j < n; j++) acc[j] += xv * wp[j];
                }
                fk_requant_n(acc, m + o0, l + o0, r + o0, n, zo, lo, hi, y + ((size_t)oy * wo + ox) * o + o0);
            }
        }
}

/* @kernel fk_conv uses fk_requant */
/* any convolution (the stem, grouped): weights [O][kh][kw][Cin/groups] */
static inline void fk_conv(const int8_t *x, int h, int w, int c, int32_t zx, const int8_t *wt,
                           const int32_t *b, const int32_t *m, const int8_t *l, const int8_t *r, int8_t *y,
                           int ho, int wo, int o, int kh, int kw, int sh, int sw, int ph, int pw, int dh,
                           int dw, int groups, int32_t zo, int32_t lo, int32_t hi)
{
    int cg = c / groups, og = o / groups;
    int oy, ox, oc, ky, kx, ci;
    for (oy = 0; oy < ho; oy++)
        for (ox = 0; ox < wo; ox++)
            for (oc = 0; oc < o; oc++) {
                int g = oc / og;
                int32_t acc = b[oc];
                for (ky = 0; ky < kh; ky++) {
                    int iy = oy * sh - ph + ky * dh;
                    if (iy < 0 || iy >= h) continue;
                    for (kx = 0; kx < kw; kx++) {
                        int ix = ox * sw - pw + kx * dw;
                        const int8_t *xp, *wp;
                        if (ix < 0 || ix >= w) continue;
                        xp = x + ((size_t)iy * w + ix) * c + (size_t)g * cg;
                        wp = wt + (((size_t)oc * kh + ky) * kw + kx) * cg;
                        for (ci = 0; ci < cg; ci++) acc += ((int32_t)xp[ci] - zx) * (int32_t)wp[ci];
                    }
                }
                y[((size_t)oy * wo + ox) * o + oc] = fk_requant(acc, m[oc], l[oc], r[oc], zo, lo, hi);
            }
}

/* @kernel fk_add_one uses fk_requant fk_scale */
/* one element of the int8 add (generated CUDA's too): each input, less its zero point,
 * << FK_ADD_SHIFT, rescaled to 2 max(sa, sb); the sum rescaled to the output */
static inline FK_HD int8_t fk_add_one(int32_t a, int32_t za, int32_t ma, int la, int ra, int32_t b, int32_t zb,
                                      int32_t mb, int lb, int rb, int32_t zo, int32_t mo, int lo_shift, int ro,
                                      int32_t lo, int32_t hi)
{
    const int32_t va = fk_scale((a - za) * (1 << FK_ADD_SHIFT), ma, la, ra);
    const int32_t vb = fk_scale((b - zb) * (1 << FK_ADD_SHIFT), mb, lb, rb);
    return fk_requant(va + vb, mo, lo_shift, ro, zo, lo, hi);
}

/* @kernel fk_add uses fk_simd fk_add_one fk_requant_rows */
/* add with its own scales (fk_add_one on every element); NEON: eight elements at a time with
 * fk_scale's SQSHL, SQRDMULH and SRSHL, the zero point added and the result clamped on the
 * narrowed values as in fk_requant_n (zero points and bounds are int8). AVX-512: sixteen at a
 * time, each SQSHL exact in 64-bit lanes and clamped to int32, then fk_rq512's rescaling (every
 * left and right shift in [0, 31], no multiplier INT32_MIN; elsewhere fk_add_one) */
#if defined(__AVX2__) /* @simd avx2 */
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
#define FK_ADD_ZMM 1
/* sqshl(v, l) of sixteen int32 lanes (l also in lv), the even and odd ones sign-extended to 64
 * bits apart */
static inline __m512i fk_add_sqshl512(__m512i v, int l, __m128i lv)
{
    if (l == 0) return v;
    const __m512i lo = _mm512_set1_epi64(INT32_MIN), hi = _mm512_set1_epi64(INT32_MAX);
    const __m512i e = _mm512_min_epi64(_mm512_max_epi64(_mm512_sll_epi64(_mm512_srai_epi64(_mm512_slli_epi64(v, 32), 32), lv), lo), hi);
    const __m512i o = _mm512_min_epi64(_mm512_max_epi64(_mm512_sll_epi64(_mm512_srai_epi64(v, 32), lv), lo), hi);
    return _mm512_mask_shuffle_epi32(e, (__mmask16)0xAAAA, o, _MM_PERM_CDAB);
}
static inline int fk_add_zmm_ok(int32_t m, int l, int r)
{
    return m != INT32_MIN && l >= 0 && l <= 31 && r >= 0 && r <= 31;
}
#else
#define FK_ADD_ZMM 0
#endif
#endif /* @simd avx2 */
static inline void fk_add(const int8_t *a, int32_t za, int32_t ma, int la, int ra, const int8_t *b,
                          int32_t zb, int32_t mb, int lb, int rb, int8_t *y, int n, int32_t zo, int32_t mo,
                          int lo_shift, int ro, int32_t lo, int32_t hi)
{
    int i = 0;
#if defined(__ARM_NEON) && defined(__aarch64__) /* @simd neon */
    if (za >= -128 && za <= 127 && zb >= -128 && zb <= 127 && zo >= -128 && zo <= 127 && lo >= -128 && hi <= 127) {
        const int32x4_t vla = vdupq_n_s32(la), vra = vdupq_n_s32(-ra), vma = vdupq_n_s32(ma);
        const int32x4_t vlb = vdupq_n_s32(lb), vrb = vdupq_n_s32(-rb), vmb = vdupq_n_s32(mb);
        const int32x4_t vlo = vdupq_n_s32(lo_shift), vro = vdupq_n_s32(-ro), vmo = vdupq_n_s32(mo);
        const int16x8_t za16 = vdupq_n_s16((int16_t)za), zb16 = vdupq_n_s16((int16_t)zb), zo16 = vdupq_n_s16((int16_t)zo);
        const int8x8_t lo8 = vdup_n_s8((int8_t)lo), hi8 = vdup_n_s8((int8_t)hi);
        /* SQSHL only where some left shift is not 0 (FK_ADD_SQSHL's second argument a constant) */
#define FK_ADD_SQSHL(v, l, shl) ((shl) ? vqshlq_s32((v), (l)) : (v))
#define FK_ADD_LOOP(shl)                                                                                       \
    for (; i + 8 <= n; i += 8) {                                                                               \
        /* each input less its zero point (in [-255, 255]), << FK_ADD_SHIFT, rescaled */                       \
        const int16x8_t da = vsubq_s16(vmovl_s8(vld1_s8(a + i)), za16);                                        \
        const int16x8_t db = vsubq_s16(vmovl_s8(vld1_s8(b + i)), zb16);                                        \
        int32x4_t a0 = vshlq_n_s32(vmovl_s16(vget_low_s16(da)), FK_ADD_SHIFT);                                 \
        int32x4_t a1 = vshlq_n_s32(vmovl_high_s16(da), FK_ADD_SHIFT);                                          \
        int32x4_t b0 = vshlq_n_s32(vmovl_s16(vget_low_s16(db)), FK_ADD_SHIFT);                                 \
        int32x4_t b1 = vshlq_n_s32(vmovl_high_s16(db), FK_ADD_SHIFT);                                          \
        int16x8_t t;                                                                                           \
        a0 = vrshlq_s32(vqrdmulhq_s32(FK_ADD_SQSHL(a0, vla, shl), vma), vra);                                  \
        a1 = vrshlq_s32(vqrdmulhq_s32(FK_ADD_SQSHL(a1, vla, shl), vma), vra);                                  \
        b0 = vrshlq_s32(vqrdmulhq_s32(FK_ADD_SQSHL(b0, vlb, shl), vmb), vrb);                                  \
        b1 = vrshlq_s32(vqrdmulhq_s32(FK_ADD_SQSHL(b1, vlb, shl), vmb), vrb);                                  \
        a0 = vrshlq_s32(vqrdmulhq_s32(FK_ADD_SQSHL(vaddq_s32(a0, b0), vlo, shl), vmo), vro);                   \
        a1 = vrshlq_s32(vqrdmulhq_s32(FK_ADD_SQSHL(vaddq_s32(a1, b1), vlo, shl), vmo), vro);                   \
        t = vqaddq_s16(vqmovn_high_s32(vqmovn_s32(a0), a1), zo16);                                             \
        vst1_s8(y + i, vmin_s8(vmax_s8(vqmovn_s16(t), lo8), hi8));                                             \
    }
        if (la == 0 && lb == 0 && lo_shift == 0)
            FK_ADD_LOOP(0)
        else
            FK_ADD_LOOP(1)
#undef FK_ADD_LOOP
#undef FK_ADD_SQSHL
    }
#endif /* @simd neon */
#if defined(__AVX2__) /* @simd avx2 */
#if FK_ADD_ZMM
    if (fk_add_zmm_ok(ma, la, ra) && fk_add_zmm_ok(mb, lb, rb) && fk_add_zmm_ok(mo, lo_shift, ro)) {
        const __m128i sa = _mm_cvtsi32_si128(la), sb = _mm_cvtsi32_si128(lb), so = _mm_cvtsi32_si128(lo_shift);
        const __m512i vza = _mm512_set1_epi32(za), vzb = _mm512_set1_epi32(zb);
        fk_rq512 pa, pb, po;
        fk_rq512_make(_mm512_set1_epi32(ma), _mm512_set1_epi32(ra), 0, INT32_MIN, INT32_MAX, &pa);
        fk_rq512_make(_mm512_set1_epi32(mb), _mm512_set1_epi32(rb), 0, INT32_MIN, INT32_MAX, &pb);
        fk_rq512_make(_mm512_set1_epi32(mo), _mm512_set1_epi32(ro), zo, lo, hi, &po);
        for (; i < n; i += 16) {
            const __mmask16 k = n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1u);
            const __m512i va = _mm512_slli_epi32(
                _mm512_sub_epi32(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, a + i)), vza), FK_ADD_SHIFT);
            const __m512i vb = _mm512_slli_epi32(
                _mm512_sub_epi32(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, b + i)), vzb), FK_ADD_SHIFT);
            const __m512i v = _mm512_add_epi32(fk_rq512_scale(fk_add_sqshl512(va, la, sa), &pa),
                                               fk_rq512_scale(fk_add_sqshl512(vb, lb, sb), &pb));
            _mm_mask_storeu_epi8(y + i, k, fk_rq512_apply(fk_add_sqshl512(v, lo_shift, so), &po));
        }
    }
#endif
#endif /* @simd avx2 */
    for (; i < n; i++) y[i] = fk_add_one(a[i], za, ma, la, ra, b[i], zb, mb, lb, rb, zo, mo, lo_shift, ro, lo, hi);
}

/* @kernel fk_mul_one uses fk_requant */
/* one element of the int8 mul (TFLite's rule; generated CUDA's too): requant((a - za)(b - zb),
 * m, l, r) + zo, |product| <= 255^2 */
static inline FK_HD int8_t fk_mul_one(int32_t a, int32_t za, int32_t b, int32_t zb, int32_t zo, int32_t m, int l, int r)
{
    return fk_requant((a - za) * (b - zb), m, l, r, zo, -128, 127);
}

/* @kernel fk_mul uses fk_mul_one */
/* int8 mul: a channel-last (pixels x c), b one value per channel when per_channel, else of a's
 * shape */
static inline void fk_mul(const int8_t *a, int32_t za, const int8_t *b, int32_t zb, int8_t *y, long pixels, int c,
                          int per_channel, int32_t zo, int32_t m, int l, int r)
{
    long p;
    int ch;
    for (p = 0; p < pixels; p++) {
        const int8_t *bp = per_channel ? b : b + p * c;
        for (ch = 0; ch < c; ch++) y[p * c + ch] = fk_mul_one(a[p * c + ch], za, bp[ch], zb, zo, m, l, r);
    }
}

/* @kernel fk_move uses fk_requant */
/* a layout move (transpose, slice, one input of a concat) on int8 codes: y[sum i_k ys_k] =
 * x[sum i_k xs_k] over dims (rank <= FK_MAX_RANK, the last axis fastest), requantized
 * (q - zx) -> zo through (m, l, r) when m != 0 (a concat input with other parameters) */
static inline void fk_move(const int8_t *x, int8_t *y, int rank, const int *dims, const int *xs, const int *ys,
                           int32_t zx, int32_t m, int l, int r, int32_t zo)
{
    int idx[FK_MAX_RANK] = {0};
    long xo = 0, yo = 0, rows = 1, k;
    int d, i;
    const int n = dims[rank - 1], xi = xs[rank - 1], yi = ys[rank - 1];
    for (d = 0; d < rank - 1; d++) rows *= dims[d];
    for (k = 0; k < rows; k++) {
        if (m != 0)
            for (i = 0; i < n; i++) y[yo + (long)i * yi] = fk_requant(x[xo + (long)i * xi] - zx, m, l, r, zo, -128, 127);
        else if (xi == 1 && yi == 1)
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

/* @kernel fk_avgpool uses fk_requant */
/* average pooling (global: one window over the plane); the requantizer by divisor count */
static inline void fk_avgpool(const int8_t *x, int h, int w, int c, int32_t zx, int8_t *y, int ho, int wo,
                              int kh, int kw, int sh, int sw, int pt, int pl, int pb, int pr, int include_pad,
                              int max_count, const int32_t *m, const int8_t *l, const int8_t *r, int32_t zo)
{
    int ch, oy, ox, yy, xx;
    for (oy = 0; oy < ho; oy++)
        for (ox = 0; ox < wo; ox++) {
            int y0 = oy * sh - pt, x0 = ox * sw - pl;
            int y1 = y0 + kh < h + pb ? y0 + kh : h + pb;
            int x1 = x0 + kw < w + pr ? x0 + kw : w + pr;
            int ys = y0 > 0 ? y0 : 0, ye = y1 < h ? y1 : h;
            int xs = x0 > 0 ? x0 : 0, xe = x1 < w ? x1 : w;
            int count = include_pad ? (y1 - y0) * (x1 - x0) : (ye - ys) * (xe - xs);
            /* a window wholly in the padding sums nothing: any divisor gives the zero point */
            if (count < 0) count = 0;
            if (count > max_count) count = max_count;
            for (ch = 0; ch < c; ch++) {
                int32_t acc = 0;
                for (yy = ys; yy < ye; yy++)
                    for (xx = xs; xx < xe; xx++) acc += (int32_t)x[((size_t)yy * w + xx) * c + ch] - zx;
                y[((size_t)oy * wo + ox) * c + ch] = fk_requant(acc, m[count], l[count], r[count], zo, -128, 127);
            }
        }
}

/* @kernel fk_lut */
/* a pointwise function through its 256-entry table: y[i] = table[x[i] + 128] (any layout) */
static inline void fk_lut(const int8_t *x, const int8_t *table, int8_t *y, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) y[i] = table[x[i] + 128];
}

/* @kernel fk_maxpool */
/* max pooling (keeps the input's quantization; padding ignored) */
static inline void fk_maxpool(const int8_t *x, int h, int w, int c, int8_t *y, int ho, int wo, int kh, int kw,
                              int sh, int sw, int ph, int pw)
{
    int ch, oy, ox, yy, xx;
    for (oy = 0; oy < ho; oy++)
        for (ox = 0; ox < wo; ox++) {
            int y0 = oy * sh - ph, x0 = ox * sw - pw;
            int ys = y0 > 0 ? y0 : 0, ye = y0 + kh < h ? y0 + kh : h;
            int xs = x0 > 0 ? x0 : 0, xe = x0 + kw < w ? x0 + kw : w;
            for (ch = 0; ch < c; ch++) {
                int8_t mx = -128;
                for (yy = ys; yy < ye; yy++)
                    for (xx = xs; xx < xe; xx++) {
                        int8_t v = x[((size_t)yy * w + xx) * c + ch];
                        if (v > mx) mx = v;
                    }
                y[((size_t)oy * wo + ox) * c + ch] = mx;
            }
        }
}
/* @end */

#endif
