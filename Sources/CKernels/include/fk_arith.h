/* DESIGN.md's INT8 arithmetic in C: QuantMath.swift's operations, line for line (fkdc's
 * generated C embeds these sections; scripts/embed-c-kernels.py) */
#ifndef FK_ARITH_H
#define FK_ARITH_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "fk_config.h"

/* @begin */
/* @kernel fk_simd */
/* the intrinsics headers of the SIMD paths a target profile names (the others are not emitted) */
#if defined(__AVX2__) /* @simd avx2 */
#include <immintrin.h>
#endif /* @simd avx2 */
#if defined(__ARM_NEON) && defined(__aarch64__) /* @simd neon */
#include <arm_neon.h>
#endif /* @simd neon */

/* ---- DESIGN.md's INT8 arithmetic (QuantMath.swift in C) ---- */

/* @kernel fk_sqrdmulh */
/* sqrdmulh(a, b) = clamp_int32((2ab + 2^31) >> 32), 64-bit; only -2^31 * -2^31 saturates */
static inline FK_HD int32_t fk_sqrdmulh(int32_t a, int32_t b)
{
    int64_t p;
    if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX;
    p = (int64_t)a * (int64_t)b;
    return (int32_t)((2 * p + ((int64_t)1 << 31)) >> 32);
}

/* @kernel fk_rshr */
/* rounding right shift (x + 2^(n-1)) >> n for n > 0 (arithmetic shift), x for n = 0 */
static inline FK_HD int32_t fk_rshr(int32_t x, int n)
{
    if (n == 0) return x;
    return (int32_t)(((int64_t)x + ((int64_t)1 << (n - 1))) >> n);
}

/* @kernel fk_sqshl */
/* sqshl(x, l) = clamp_int32(x * 2^l) */
static inline FK_HD int32_t fk_sqshl(int32_t x, int l)
{
    int64_t v;
    if (l == 0) return x;
    v = (int64_t)x * ((int64_t)1 << l);
    return v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : (int32_t)v;
}

/* @kernel fk_scale uses fk_rshr fk_sqrdmulh fk_sqshl */
static inline FK_HD int32_t fk_scale(int32_t acc, int32_t m, int l, int r)
{
    return fk_rshr(fk_sqrdmulh(fk_sqshl(acc, l), m), r);
}

/* @kernel fk_requant uses fk_scale */
/* out = clamp(rshr(sqrdmulh(sqshl(acc, l), M), r) + zp, lo, hi) */
static inline FK_HD int8_t fk_requant(int32_t acc, int32_t m, int l, int r, int32_t zp, int32_t lo, int32_t hi)
{
    int64_t v = (int64_t)fk_scale(acc, m, l, r) + zp;
    if (v < lo) v = lo;
    if (v > hi) v = hi;
    return (int8_t)v;
}

/* @kernel fk_requant_n uses fk_simd fk_requant */
#if defined(__AVX2__) /* @simd avx2 */
/* eight accumulators v with multipliers mv and right shifts rs (no channel shifting left)
 * requantized into out: sqrdmulh from VPMULDQ on even and odd lanes, bits 31..62 of p + 2^30;
 * rshr(x, n) = (x >> n) + bit n-1 of x, which cannot overflow; clamped before the zero point
 * is added, which then cannot overflow either; the results, in [lo, hi], narrowed exactly by
 * the saturating packs and stored as eight bytes at once. Kernels that requantize several
 * pixels' accumulators with the same channels' (mv, rs) call it with them loaded once. Only
 * INT32_MIN * INT32_MIN saturates in sqrdmulh: sat (fk_requant_sat_avx2(mv), once per block of
 * channels) says whether a multiplier is INT32_MIN, and only then are the accumulators checked
 * (fkdc's multipliers are in [2^30, 2^31)). */
static inline int fk_requant_sat_avx2(__m256i mv)
{
    const __m256i t = _mm256_cmpeq_epi32(mv, _mm256_set1_epi32(INT32_MIN));
    return !_mm256_testz_si256(t, t);
}
/* rshr(sqrdmulh(v, mv), rs) of eight lanes: the int32 before the zero point */
static inline __m256i fk_scale8_avx2(__m256i v, __m256i mv, __m256i rs, int sat)
{
    const __m256i half = _mm256_set1_epi64x((int64_t)1 << 30);
    const __m256i e = _mm256_add_epi64(_mm256_mul_epi32(v, mv), half);
    const __m256i od = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(v, 32), _mm256_srli_epi64(mv, 32)), half);
    /* bits 31..62 of each product: the even lanes' shifted down, the odd lanes' shifted up by one
     * into the high half */
    __m256i res = _mm256_blend_epi32(_mm256_srli_epi64(e, 31), _mm256_slli_epi64(od, 1), 0xAA);
    __m256i bit;
    if (sat)
        res = _mm256_blendv_epi8(res, _mm256_set1_epi32(INT32_MAX),
                                 _mm256_and_si256(_mm256_cmpeq_epi32(v, _mm256_set1_epi32(INT32_MIN)),
                                                  _mm256_cmpeq_epi32(mv, _mm256_set1_epi32(INT32_MIN))));
    bit = _mm256_and_si256(_mm256_srav_epi32(res, _mm256_sub_epi32(rs, _mm256_set1_epi32(1))),
                           _mm256_and_si256(_mm256_cmpgt_epi32(rs, _mm256_setzero_si256()), _mm256_set1_epi32(1)));
    return _mm256_add_epi32(_mm256_srav_epi32(res, rs), bit);
}
static inline void fk_requant8_avx2(__m256i v, __m256i mv, __m256i rs, int sat, int32_t zp, int32_t lo, int32_t hi,
                                    int8_t *out)
{
    __m256i res = fk_scale8_avx2(v, mv, rs, sat);
    __m128i pk;
    res = _mm256_add_epi32(_mm256_min_epi32(_mm256_max_epi32(res, _mm256_set1_epi32(lo - zp)), _mm256_set1_epi32(hi - zp)),
                           _mm256_set1_epi32(zp));
    pk = _mm_packs_epi32(_mm256_castsi256_si128(res), _mm256_extracti128_si256(res, 1));
    _mm_storel_epi64((__m128i *)out, _mm_packs_epi16(pk, pk));
}
/* sixteen channels (v0: 0-7, v1: 8-15) where zp, lo and hi are int8 (always, for fkdc's graphs):
 * the scaled values narrowed saturating to 16 bits (VPACKSSDW, whose lane order VPERMQ puts
 * back), the zero point added saturating, narrowed saturating to 8 bits and clamped to [lo, hi]:
 * clamp(v + zp, lo, hi), as NEON's fk_requant16_neon, with one 16-byte store */
static inline void fk_requant16_avx2(__m256i v0, __m256i v1, __m256i m0, __m256i m1, __m256i r0, __m256i r1, int sat,
                                     __m256i vzp16, __m128i vlo8, __m128i vhi8, int8_t *out)
{
    const __m256i t = _mm256_adds_epi16(
        _mm256_permute4x64_epi64(_mm256_packs_epi32(fk_scale8_avx2(v0, m0, r0, sat), fk_scale8_avx2(v1, m1, r1, sat)),
                                 0xD8),
        vzp16);
    const __m128i b = _mm_packs_epi16(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1));
    _mm_storeu_si128((__m128i *)out, _mm_min_epi8(_mm_max_epi8(b, vlo8), vhi8));
}
#endif /* @simd avx2 */
/* requantizes n accumulators with per-channel (m, l, r) */
static inline void fk_requant_n(const int32_t *acc, const int32_t *m, const int8_t *l, const int8_t *r,
                                int n, int32_t zp, int32_t lo, int32_t hi, int8_t *out)
{
    int j = 0;
    #if defined(__AVX2__) /* @simd avx2 */
        /* eight channels at a time where no channel shifts left (the usual case) */
        for (; j + 8 <= n; j += 8) {
            const __m128i ls = _mm_loadl_epi64((const __m128i *)(l + j));
            if (!_mm_testz_si128(ls, ls)) break;
            const __m256i mv = _mm256_loadu_si256((const __m256i *)(m + j));
            fk_requant8_avx2(_mm256_loadu_si256((const __m256i *)(acc + j)), mv,
                             _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(r + j))), fk_requant_sat_avx2(mv), zp,
                             lo, hi, out + j);
        }
    #endif /* @simd avx2 */
#if defined(__ARM_NEON) && defined(__aarch64__) /* @simd neon */
    /* SQSHL, SQRDMULH and SRSHL (a negative shift is the rounding right shift): the same
     * three operations as fk_scale, four channels at a time */
    const int32x4_t vzp = vdupq_n_s32(zp), vlo = vdupq_n_s32(lo), vhi = vdupq_n_s32(hi);
    /* eight at a time: shifts widened from one load each, results narrowed (exact:
     * already clamped to int8) and stored with one instruction; the zero point is
     * added saturating, which clamps as the 64-bit sum does */
    /* with zp, lo and hi in int8 (always, for fkdc's graphs) the zero point is added and the
     * result clamped on the narrowed values: saturating to 16 bits, adding zp (saturating),
     * saturating to 8 bits and clamping to [lo, hi] gives clamp(v + zp, lo, hi) */
    const int narrow = zp >= -128 && zp <= 127 && lo >= -128 && hi <= 127;
    const int16x8_t vzp16 = vdupq_n_s16((int16_t)(narrow ? zp : 0));
    const int8x8_t vlo8 = vdup_n_s8((int8_t)(narrow ? lo : 0)), vhi8 = vdup_n_s8((int8_t)(narrow ? hi : 0));
    for (; j + 8 <= n; j += 8) {
        const int8x8_t l8 = vld1_s8(l + j);
        const int16x8_t r16 = vmovl_s8(vld1_s8(r + j));
        int32x4_t v0 = vld1q_s32(acc + j), v1 = vld1q_s32(acc + j + 4);
        /* SQSHL by 0 is the identity: skipped where no channel of the eight shifts left */
        if (vget_lane_u64(vreinterpret_u64_s8(l8), 0) != 0) {
            const int16x8_t l16 = vmovl_s8(l8);
            v0 = vqshlq_s32(v0, vmovl_s16(vget_low_s16(l16)));
            v1 = vqshlq_s32(v1, vmovl_high_s16(l16));
        }
        v0 = vrshlq_s32(vqrdmulhq_s32(v0, vld1q_s32(m + j)), vnegq_s32(vmovl_s16(vget_low_s16(r16))));
        v1 = vrshlq_s32(vqrdmulhq_s32(v1, vld1q_s32(m + j + 4)), vnegq_s32(vmovl_high_s16(r16)));
        if (narrow) {
            const int16x8_t t = vqaddq_s16(vqmovn_high_s32(vqmovn_s32(v0), v1), vzp16);
            vst1_s8(out + j, vmin_s8(vmax_s8(vqmovn_s16(t), vlo8), vhi8));
            continue;
        }
        v0 = vminq_s32(vmaxq_s32(vqaddq_s32(v0, vzp), vlo), vhi);
        v1 = vminq_s32(vmaxq_s32(vqaddq_s32(v1, vzp), vlo), vhi);
        vst1_s8(out + j, vmovn_s16(vcombine_s16(vmovn_s32(v0), vmovn_s32(v1))));
    }
    for (; j + 4 <= n; j += 4) {
        int32x4_t ls = {l[j], l[j + 1], l[j + 2], l[j + 3]};
        int32x4_t rs = {-r[j], -r[j + 1], -r[j + 2], -r[j + 3]};
        int32x4_t v = vqshlq_s32(vld1q_s32(acc + j), ls);
        v = vqrdmulhq_s32(v, vld1q_s32(m + j));
        v = vrshlq_s32(v, rs);
        v = vminq_s32(vmaxq_s32(vqaddq_s32(v, vzp), vlo), vhi);
        out[j] = (int8_t)vgetq_lane_s32(v, 0);
        out[j + 1] = (int8_t)vgetq_lane_s32(v, 1);
        out[j + 2] = (int8_t)vgetq_lane_s32(v, 2);
        out[j + 3] = (int8_t)vgetq_lane_s32(v, 3);
    }
#endif /* @simd neon */
    for (; j < n; j++) out[j] = fk_requant(acc[j], m[j], l[j], r[j], zp, lo, hi);
}

/* @kernel fk_requant_rows uses fk_simd fk_requant_n */
#if defined(__ARM_NEON) && defined(__aarch64__) /* @simd neon */
/* sixteen channels' multipliers (mq) and negated right shifts (nq), widened once for the pixels
 * that share them; 0, with nothing loaded, where one of the channels shifts left */
static inline int fk_requant16_params_neon(const int32_t *m, const int8_t *l, const int8_t *r, int32x4_t *mq,
                                           int32x4_t *nq)
{
    const int8x16_t r8 = vld1q_s8(r);
    const int16x8_t ra = vmovl_s8(vget_low_s8(r8)), rb = vmovl_high_s8(r8);
    if (vmaxvq_u8(vreinterpretq_u8_s8(vld1q_s8(l))) != 0) return 0;
    nq[0] = vnegq_s32(vmovl_s16(vget_low_s16(ra)));
    nq[1] = vnegq_s32(vmovl_high_s16(ra));
    nq[2] = vnegq_s32(vmovl_s16(vget_low_s16(rb)));
    nq[3] = vnegq_s32(vmovl_high_s16(rb));
    mq[0] = vld1q_s32(m);
    mq[1] = vld1q_s32(m + 4);
    mq[2] = vld1q_s32(m + 8);
    mq[3] = vld1q_s32(m + 12);
    return 1;
}
/* one pixel's sixteen accumulators (v0..v3) requantized with those into out: SQRDMULH, SRSHL by
 * the negated shift (the rounding right shift), narrowed saturating to 16 bits, the zero point
 * added saturating, narrowed to 8 bits and clamped to [lo, hi] (zp, lo and hi in int8), which is
 * clamp(v + zp, lo, hi); fk_requant_n's eight-channel arithmetic, sixteen at a time */
static inline void fk_requant16c_neon(int32x4_t v0, int32x4_t v1, int32x4_t v2, int32x4_t v3, const int32x4_t *mq,
                                      const int32x4_t *nq, int16x8_t vzp16, int8x16_t vlo16, int8x16_t vhi16,
                                      int8_t *out, const int clamp)
{
    const int32x4_t s0 = vrshlq_s32(vqrdmulhq_s32(v0, mq[0]), nq[0]);
    const int32x4_t s1 = vrshlq_s32(vqrdmulhq_s32(v1, mq[1]), nq[1]);
    const int32x4_t s2 = vrshlq_s32(vqrdmulhq_s32(v2, mq[2]), nq[2]);
    const int32x4_t s3 = vrshlq_s32(vqrdmulhq_s32(v3, mq[3]), nq[3]);
    const int16x8_t t0 = vqaddq_s16(vqmovn_high_s32(vqmovn_s32(s0), s1), vzp16);
    const int16x8_t t1 = vqaddq_s16(vqmovn_high_s32(vqmovn_s32(s2), s3), vzp16);
    const int8x16_t v = vqmovn_high_s16(vqmovn_s16(t0), t1);
    vst1q_s8(out, clamp ? vminq_s8(vmaxq_s8(v, vlo16), vhi16) : v);
}
/* clamp: 0 only where [lo, hi] is all of int8 (the narrowing saturates there already); callers
 * pass a constant */
static inline void fk_requant16_neon(int32x4_t v0, int32x4_t v1, int32x4_t v2, int32x4_t v3, const int32x4_t *mq,
                                     const int32x4_t *nq, int16x8_t vzp16, int8x16_t vlo16, int8x16_t vhi16,
                                     int8_t *out)
{
    fk_requant16c_neon(v0, v1, v2, v3, mq, nq, vzp16, vlo16, vhi16, out, 1);
}
#endif /* @simd neon */
/* requantizes the n channels of `rows` pixels (accumulators acc + q * as, outputs out + q * os):
 * with NEON, each block of sixteen channels' (then eight's) multipliers and shifts loaded and
 * widened once for all the rows where none of them shifts left and the zero point and bounds
 * are int8 (always, for fkdc's graphs), the arithmetic of fk_requant_n; fk_requant_n for the
 * rest */
static inline void fk_requant_rows(const int32_t *acc, size_t as, int rows, const int32_t *m, const int8_t *l,
                                   const int8_t *r, int n, int32_t zp, int32_t lo, int32_t hi, int8_t *out, size_t os)
{
    int j = 0, q;
#if defined(__ARM_NEON) && defined(__aarch64__) /* @simd neon */
    if (zp >= -128 && zp <= 127 && lo >= -128 && hi <= 127) {
        const int16x8_t vzp16 = vdupq_n_s16((int16_t)zp);
        const int8x8_t vlo8 = vdup_n_s8((int8_t)lo), vhi8 = vdup_n_s8((int8_t)hi);
        const int8x16_t vlo16 = vdupq_n_s8((int8_t)lo), vhi16 = vdupq_n_s8((int8_t)hi);
        for (; j + 16 <= n; j += 16) {
            int32x4_t mq[4], nq[4];
            if (!fk_requant16_params_neon(m + j, l + j, r + j, mq, nq)) break;
            for (q = 0; q < rows; q++) {
                const int32_t *a = acc + (size_t)q * as + j;
                fk_requant16_neon(vld1q_s32(a), vld1q_s32(a + 4), vld1q_s32(a + 8), vld1q_s32(a + 12), mq, nq, vzp16,
                                  vlo16, vhi16, out + (size_t)q * os + j);
            }
        }
        for (; j + 8 <= n; j += 8) {
            const int16x8_t r16 = vmovl_s8(vld1_s8(r + j));
            const int32x4_t n0 = vnegq_s32(vmovl_s16(vget_low_s16(r16))), n1 = vnegq_s32(vmovl_high_s16(r16));
            const int32x4_t m0 = vld1q_s32(m + j), m1 = vld1q_s32(m + j + 4);
            if (vget_lane_u64(vreinterpret_u64_s8(vld1_s8(l + j)), 0) != 0) break;
            for (q = 0; q < rows; q++) {
                const int32_t *a = acc + (size_t)q * as + j;
                const int32x4_t v0 = vrshlq_s32(vqrdmulhq_s32(vld1q_s32(a), m0), n0);
                const int32x4_t v1 = vrshlq_s32(vqrdmulhq_s32(vld1q_s32(a + 4), m1), n1);
                const int16x8_t t = vqaddq_s16(vqmovn_high_s32(vqmovn_s32(v0), v1), vzp16);
                vst1_s8(out + (size_t)q * os + j, vmin_s8(vmax_s8(vqmovn_s16(t), vlo8), vhi8));
            }
        }
    }
#endif /* @simd neon */
    if (j < n)
        for (q = 0; q < rows; q++)
            fk_requant_n(acc + (size_t)q * as + j, m + j, l + j, r + j, n - j, zp, lo, hi, out + (size_t)q * os + j);
}
#if defined(__AVX2__) /* @simd avx2 */
#if defined(__AVX512F__) && defined(__AVX512BW__)
/* fk_requant8_avx2's arithmetic on sixteen channels of one pixel at once (v0: channels 0-7, v1:
 * 8-15) where the compiler targets AVX-512 (-march=native on a recent x86): one register of
 * sixteen lanes, the saturation and the rounding bit by masks, VPMOVSDB narrowing (exact: the
 * values are already in [lo, hi]) and one 16-byte store */
static inline void fk_requant16_avx512(__m256i v0, __m256i v1, __m512i mv, __m512i rs, __mmask16 rpos, int sat,
                                       int32_t zp, int32_t lo, int32_t hi, int8_t *out)
{
    const __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(v0), v1, 1);
    const __m512i half = _mm512_set1_epi64((long long)1 << 30);
    const __m512i e = _mm512_add_epi64(_mm512_mul_epi32(v, mv), half);
    const __m512i od = _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(v, 32), _mm512_srli_epi64(mv, 32)), half);
    __m512i res = _mm512_mask_blend_epi32((__mmask16)0xAAAA, _mm512_srli_epi64(e, 31), _mm512_slli_epi64(od, 1));
    if (sat)
        res = _mm512_mask_mov_epi32(res,
                                    _mm512_cmpeq_epi32_mask(v, _mm512_set1_epi32(INT32_MIN)) &
                                        _mm512_cmpeq_epi32_mask(mv, _mm512_set1_epi32(INT32_MIN)),
                                    _mm512_set1_epi32(INT32_MAX));
    /* rshr: (x >> n) + bit n-1 of x where n > 0 */
    res = _mm512_add_epi32(_mm512_srav_epi32(res, rs),
                           _mm512_maskz_and_epi32(rpos, _mm512_srav_epi32(res, _mm512_sub_epi32(rs, _mm512_set1_epi32(1))),
                                                  _mm512_set1_epi32(1)));
    res = _mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(res, _mm512_set1_epi32(lo - zp)), _mm512_set1_epi32(hi - zp)),
                           _mm512_set1_epi32(zp));
    _mm_storeu_si128((__m128i *)out, _mm512_cvtsepi32_epi8(res));
}
#endif
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
/* The requantization of n <= 16 channels of one pixel in 64-bit lanes, where no channel shifts
 * left, every right shift r is in [0, 31] and no multiplier is INT32_MIN (always, for fkdc's
 * graphs): floors of divisions compose, so rshr(sqrdmulh(v, m), r) is
 * (v m + 2^30 + [r > 0] 2^(30 + r)) >> (31 + r) exactly, and |v m| < 2^62 keeps the sum in 64
 * bits. VPMULDQ, VPADDQ and VPSRAVQ for the even channels, the same for the odd ones (shifted
 * down 32 bits), the odd results moved up into the even ones' high halves (VPSHUFD under a
 * mask), clamped to [lo - zp, hi - zp], the zero point added and narrowed by VPMOVSDB (exact:
 * already in [lo, hi]). fk_rq512_params loads the channels' constants once for the pixels that
 * share them; 0 where the fast path does not apply. */
typedef struct {
    __m512i me, mo, ce, co, se, so, lo, hi, zp;
} fk_rq512;
/* the constants of multipliers mv and right shifts rv (lanes as the accumulators'; no check) */
static inline void fk_rq512_make(__m512i mv, __m512i rv, int32_t zp, int32_t lo, int32_t hi, fk_rq512 *p)
{
    const __m512i re = _mm512_and_si512(rv, _mm512_set1_epi64(0xFFFFFFFF)), ro = _mm512_srli_epi64(rv, 32);
    const __m512i one = _mm512_set1_epi64(1), half = _mm512_set1_epi64((long long)1 << 30);
    const __m512i k30 = _mm512_set1_epi64(30), k31 = _mm512_set1_epi64(31), zero = _mm512_setzero_si512();
    p->me = mv;
    p->mo = _mm512_srli_epi64(mv, 32);
    p->ce = _mm512_add_epi64(half, _mm512_maskz_sllv_epi64(_mm512_cmpgt_epi64_mask(re, zero), one, _mm512_add_epi64(re, k30)));
    p->co = _mm512_add_epi64(half, _mm512_maskz_sllv_epi64(_mm512_cmpgt_epi64_mask(ro, zero), one, _mm512_add_epi64(ro, k30)));
    p->se = _mm512_add_epi64(re, k31);
    p->so = _mm512_add_epi64(ro, k31);
    p->lo = _mm512_set1_epi32(lo - zp);
    p->hi = _mm512_set1_epi32(hi - zp);
    p->zp = _mm512_set1_epi32(zp);
}
static inline int fk_rq512_params(const int32_t *m, const int8_t *l, const int8_t *r, int n, int32_t zp, int32_t lo,
                                  int32_t hi, fk_rq512 *p)
{
    const __mmask16 k = n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u);
    const __m512i lv = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, l));
    const __m512i rv = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, r));
    const __m512i mv = _mm512_maskz_loadu_epi32(k, m);
    if (_mm512_test_epi32_mask(lv, lv) | _mm512_cmpeq_epi32_mask(mv, _mm512_set1_epi32(INT32_MIN)) |
        _mm512_cmpgt_epi32_mask(rv, _mm512_set1_epi32(31)) | _mm512_cmplt_epi32_mask(rv, _mm512_setzero_si512()))
        return 0;
    fk_rq512_make(mv, rv, zp, lo, hi, p);
    return 1;
}
/* rshr(sqrdmulh(v, m), r) of the sixteen lanes of v, before the clamp and the zero point */
static inline __m512i fk_rq512_scale(__m512i v, const fk_rq512 *p)
{
    const __m512i e = _mm512_srav_epi64(_mm512_add_epi64(_mm512_mul_epi32(v, p->me), p->ce), p->se);
    const __m512i od =
        _mm512_srav_epi64(_mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(v, 32), p->mo), p->co), p->so);
    return _mm512_mask_shuffle_epi32(e, (__mmask16)0xAAAA, od, _MM_PERM_CDAB);
}
/* the sixteen int8 results of v (channels past n: unspecified) */
static inline __m128i fk_rq512_apply(__m512i v, const fk_rq512 *p)
{
    const __m512i res = fk_rq512_scale(v, p);
    return _mm512_cvtsepi32_epi8(_mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(res, p->lo), p->hi), p->zp));
}
#endif
/* sixteen channels' accumulators (v[2q], v[2q+1]: channels o0..o0+15 of pixel q) of np <= 4
 * pixels requantized into y + q * stride: each channel's (m, r) loaded once for them all where
 * no channel shifts left, fk_requant_n otherwise */
static inline void fk_requant16x4_avx2(const __m256i v[8], int np, const int32_t *m, const int8_t *l, const int8_t *r,
                                       int32_t zp, int32_t lo, int32_t hi, int8_t *y, size_t stride)
{
    const __m128i ls = _mm_loadu_si128((const __m128i *)l);
    int q;
    if (_mm_testz_si128(ls, ls)) {
        const __m256i m0 = _mm256_loadu_si256((const __m256i *)m), m1 = _mm256_loadu_si256((const __m256i *)(m + 8));
        const __m256i r0 = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)r));
        const __m256i r1 = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(r + 8)));
        const int sat = fk_requant_sat_avx2(m0) || fk_requant_sat_avx2(m1);
#if defined(__AVX512F__) && defined(__AVX512BW__)
        const __m512i mz = _mm512_inserti64x4(_mm512_castsi256_si512(m0), m1, 1);
        const __m512i rz = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)r));
        const __mmask16 rpos = _mm512_cmpgt_epi32_mask(rz, _mm512_setzero_si512());
        (void)r0;
        (void)r1;
        for (q = 0; q < np; q++) fk_requant16_avx512(v[2 * q], v[2 * q + 1], mz, rz, rpos, sat, zp, lo, hi, y + q * stride);
        return;
#endif
        if (zp >= -128 && zp <= 127 && lo >= -128 && hi <= 127) {
            const __m256i vzp16 = _mm256_set1_epi16((int16_t)zp);
            const __m128i vlo8 = _mm_set1_epi8((int8_t)lo), vhi8 = _mm_set1_epi8((int8_t)hi);
            for (q = 0; q < np; q++)
                fk_requant16_avx2(v[2 * q], v[2 * q + 1], m0, m1, r0, r1, sat, vzp16, vlo8, vhi8, y + q * stride);
            return;
        }
        for (q = 0; q < np; q++) {
            fk_requant8_avx2(v[2 * q], m0, r0, sat, zp, lo, hi, y + q * stride);
            fk_requant8_avx2(v[2 * q + 1], m1, r1, sat, zp, lo, hi, y + q * stride + 8);
        }
        return;
    }
    for (q = 0; q < np; q++) {
        int32_t acc[16];
        _mm256_storeu_si256((__m256i *)acc, v[2 * q]);
        _mm256_storeu_si256((__m256i *)(acc + 8), v[2 * q + 1]);
        fk_requant_n(acc, m, l, r, 16, zp, lo, hi, y + q * stride);
    }
}
#endif /* @simd avx2 */

/* @kernel fk_quantize */
/* float -> int8: clamp(round(x / s) + zp, -128, 127), rounding half away from zero */
static inline FK_HD int8_t fk_quantize(float x, float s, int32_t zp)
{
    float r = roundf(x / s);
    int64_t v;
    if (!isfinite(r)) return (int8_t)(r > 0 ? 127 : -128);
    if (r > 1e9f) r = 1e9f;
    if (r < -1e9f) r = -1e9f;
    v = (int64_t)r + zp;
    return (int8_t)(v < -128 ? -128 : v > 127 ? 127 : v);
}

/* @kernel fk_dequantize */
static inline FK_HD float fk_dequantize(int8_t q, float s, int32_t zp)
{
    return s * (float)((int32_t)q - zp);
}

/* ---- kernels on NHWC activations (batch 1) ---- */
/* @end */

#endif
