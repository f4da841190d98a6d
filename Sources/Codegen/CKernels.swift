/// The C kernels every generated `model.c` carries: DESIGN.md's INT8 arithmetic written once in
/// C, mirroring `QuantMath` and `Int8Kernels` (each formula is the Swift one, line for line), on
/// channel-last (NHWC) activations. Portable C99 that compilers vectorise; with `neon`, an
/// `#if defined(__ARM_NEON)` path for Armv8.0 (widening multiply-accumulate, SQRDMULH and
/// SRSHL for requantization) in the kernels that carry most of the work.
enum CKernels {
    /// The kernels `body` calls (and what they call), with the arithmetic every model needs.
    static func source(neon: Bool, calls body: String) -> String {
        let parts = (all(neon: neon) + CFloatKernels.text).split(
            separator: "/* @kernel ", omittingEmptySubsequences: false)
        let kernels: [(name: String, text: Substring)] = parts.dropFirst().compactMap { part in
            guard let end = part.firstRange(of: " */\n") else { return nil }
            return (String(part[..<end.lowerBound]), part[end.upperBound...])
        }
        // a kernel is kept when the body or a kept kernel calls it; the names called are found in
        // one scan of each text (a 20,000-node model's body is scanned once, not once a kernel)
        let known = Set(kernels.map(\.name))
        var kept = Set<String>()
        var work = Array(calls(in: Substring(body)).intersection(known))
        let callees = Dictionary(kernels.map { ($0.name, calls(in: $0.text).intersection(known)) }) { a, _ in a }
        while let k = work.popLast() {
            guard kept.insert(k).inserted else { continue }
            work += callees[k, default: []].subtracting(kept)
        }
        return String(parts[0]) + kernels.filter { kept.contains($0.name) }.map { String($0.text) }.joined()
    }

    /// Every identifier in `text` followed directly by `(`.
    static func calls(in text: Substring) -> Set<String> {
        var out = Set<String>()
        var start: String.Index? = nil
        var i = text.startIndex
        while i < text.endIndex {
            let c = text.utf8[i]
            let ident = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c == 0x5f
            if ident {
                if start == nil { start = i }
            } else {
                if let s = start, c == 0x28 { out.insert(String(text[s..<i])) }
                start = nil
            }
            i = text.utf8.index(after: i)
        }
        return out
    }

    static func all(neon: Bool) -> String {
        var s = #"""
            /* ---- DESIGN.md's INT8 arithmetic (QuantMath.swift in C) ---- */

            /* sqrdmulh(a, b) = clamp_int32((2ab + 2^31) >> 32), 64-bit; only -2^31 * -2^31 saturates */
            static inline int32_t fk_sqrdmulh(int32_t a, int32_t b)
            {
                int64_t p;
                if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX;
                p = (int64_t)a * (int64_t)b;
                return (int32_t)((2 * p + ((int64_t)1 << 31)) >> 32);
            }

            /* rounding right shift (x + 2^(n-1)) >> n for n > 0 (arithmetic shift), x for n = 0 */
            static inline int32_t fk_rshr(int32_t x, int n)
            {
                if (n == 0) return x;
                return (int32_t)(((int64_t)x + ((int64_t)1 << (n - 1))) >> n);
            }

            /* sqshl(x, l) = clamp_int32(x * 2^l) */
            static inline int32_t fk_sqshl(int32_t x, int l)
            {
                int64_t v;
                if (l == 0) return x;
                v = (int64_t)x * ((int64_t)1 << l);
                return v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : (int32_t)v;
            }

            static inline int32_t fk_scale(int32_t acc, int32_t m, int l, int r)
            {
                return fk_rshr(fk_sqrdmulh(fk_sqshl(acc, l), m), r);
            }

            /* out = clamp(rshr(sqrdmulh(sqshl(acc, l), M), r) + zp, lo, hi) */
            static inline int8_t fk_requant(int32_t acc, int32_t m, int l, int r, int32_t zp, int32_t lo, int32_t hi)
            {
                int64_t v = (int64_t)fk_scale(acc, m, l, r) + zp;
                if (v < lo) v = lo;
                if (v > hi) v = hi;
                return (int8_t)v;
            }

            /* requantizes n accumulators with per-channel (m, l, r) */
            static inline void fk_requant_n(const int32_t *acc, const int32_t *m, const int8_t *l, const int8_t *r,
                                            int n, int32_t zp, int32_t lo, int32_t hi, int8_t *out)
            {
                int j = 0;
                #if defined(__AVX2__)
                    /* eight channels at a time where no channel shifts left (the usual case):
                     * sqrdmulh from VPMULDQ on even and odd lanes, bits 31..62 of p + 2^30;
                     * rshr(x, n) = (x >> n) + bit n-1 of x, which cannot overflow;
                     * clamp before adding the zero point, which then cannot overflow either */
                    for (; j + 8 <= n; j += 8) {
                        int32_t t[8];
                        int q;
                        __m256i v, mv, e, od, res, rs, bit, lov, hiv;
                        if (l[j] | l[j + 1] | l[j + 2] | l[j + 3] | l[j + 4] | l[j + 5] | l[j + 6] | l[j + 7]) break;
                        v = _mm256_loadu_si256((const __m256i *)(acc + j));
                        mv = _mm256_loadu_si256((const __m256i *)(m + j));
                        e = _mm256_add_epi64(_mm256_mul_epi32(v, mv), _mm256_set1_epi64x((int64_t)1 << 30));
                        od = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(v, 32), _mm256_srli_epi64(mv, 32)),
                                              _mm256_set1_epi64x((int64_t)1 << 30));
                        res = _mm256_blend_epi32(_mm256_srli_epi64(e, 31), _mm256_slli_epi64(_mm256_srli_epi64(od, 31), 32), 0xAA);
                        res = _mm256_blendv_epi8(res, _mm256_set1_epi32(INT32_MAX),
                                                 _mm256_and_si256(_mm256_cmpeq_epi32(v, _mm256_set1_epi32(INT32_MIN)),
                                                                  _mm256_cmpeq_epi32(mv, _mm256_set1_epi32(INT32_MIN))));
                        rs = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(r + j)));
                        bit = _mm256_and_si256(_mm256_srav_epi32(res, _mm256_sub_epi32(rs, _mm256_set1_epi32(1))),
                                               _mm256_and_si256(_mm256_cmpgt_epi32(rs, _mm256_setzero_si256()),
                                                                _mm256_set1_epi32(1)));
                        res = _mm256_add_epi32(_mm256_srav_epi32(res, rs), bit);
                        lov = _mm256_set1_epi32(lo - zp);
                        hiv = _mm256_set1_epi32(hi - zp);
                        res = _mm256_add_epi32(_mm256_min_epi32(_mm256_max_epi32(res, lov), hiv), _mm256_set1_epi32(zp));
                        _mm256_storeu_si256((__m256i *)t, res);
                        for (q = 0; q < 8; q++) out[j + q] = (int8_t)t[q];
                    }
                #endif
            """#
        if neon {
            s += #"""

                #if defined(__ARM_NEON) && defined(__aarch64__)
                    /* SQSHL, SQRDMULH and SRSHL (a negative shift is the rounding right shift): the same
                     * three operations as fk_scale, four channels at a time */
                    const int32x4_t vzp = vdupq_n_s32(zp), vlo = vdupq_n_s32(lo), vhi = vdupq_n_s32(hi);
                    /* eight at a time: shifts widened from one load each, results narrowed (exact:
                     * already clamped to int8) and stored with one instruction; the zero point is
                     * added saturating, which clamps as the 64-bit sum does */
                    for (; j + 8 <= n; j += 8) {
                        const int16x8_t l16 = vmovl_s8(vld1_s8(l + j)), r16 = vmovl_s8(vld1_s8(r + j));
                        int32x4_t v0 = vqshlq_s32(vld1q_s32(acc + j), vmovl_s16(vget_low_s16(l16)));
                        int32x4_t v1 = vqshlq_s32(vld1q_s32(acc + j + 4), vmovl_high_s16(l16));
                        v0 = vrshlq_s32(vqrdmulhq_s32(v0, vld1q_s32(m + j)), vnegq_s32(vmovl_s16(vget_low_s16(r16))));
                        v1 = vrshlq_s32(vqrdmulhq_s32(v1, vld1q_s32(m + j + 4)), vnegq_s32(vmovl_high_s16(r16)));
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
                #endif
                """#
        }
        s += #"""

                for (; j < n; j++) out[j] = fk_requant(acc[j], m[j], l[j], r[j], zp, lo, hi);
            }

            /* float -> int8: clamp(round(x / s) + zp, -128, 127), rounding half away from zero */
            static inline int8_t fk_quantize(float x, float s, int32_t zp)
            {
                float r = roundf(x / s);
                int64_t v;
                if (!isfinite(r)) return (int8_t)(r > 0 ? 127 : -128);
                if (r > 1e9f) r = 1e9f;
                if (r < -1e9f) r = -1e9f;
                v = (int64_t)r + zp;
                return (int8_t)(v < -128 ? -128 : v > 127 ? 127 : v);
            }

            static inline float fk_dequantize(int8_t q, float s, int32_t zp)
            {
                return s * (float)((int32_t)q - zp);
            }

            /* ---- kernels on NHWC activations (batch 1) ---- */

            /* NCHW float input -> NHWC int8 */
            static inline void fk_quantize_nchw(const float *in, int c, int plane, float s, int32_t zp, int8_t *out)
            {
                int ch, p;
                for (ch = 0; ch < c; ch++)
                    for (p = 0; p < plane; p++) out[p * c + ch] = fk_quantize(in[ch * plane + p], s, zp);
            }

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

            /* @kernel fk_pointwise */
            /* 1x1 convolution (and fully connected). Weights are stored in pairs of input channels,
             * w[k/2][o][2] (a zero pads an odd k): acc[o] += x[2i] w[i][o][0] + x[2i+1] w[i][o][1] runs
             * over contiguous output channels, so 32 accumulators stay in registers for the whole
             * dot product. The input zero point is folded into the bias, b' = b - zx * sum_k w[k][o].
             * Every path sums the same int32 products, so all give the same bytes. */
            static inline void fk_pointwise(const int8_t *x, int plane, int k, const int8_t *w, const int32_t *b,
                                            const int32_t *m, const int8_t *l, const int8_t *r, int8_t *y, int o,
                                            int32_t zo, int32_t lo, int32_t hi)
            {
                int32_t acc[32];
                int p, o0, j, kp;
                const int pairs = (k + 1) / 2;
                for (p = 0; p < plane; p++) {
                    const int8_t *xp = x + (size_t)p * k;
                    int8_t *yp = y + (size_t)p * o;
            @SIMD_TWO@
                    for (o0 = 0; o0 < o; o0 += 32) {
                        const int n = o - o0 < 32 ? o - o0 : 32;
                        kp = 0;
                        for (j = 0; j < n; j++) acc[j] = b[o0 + j];
            @SIMD_MAC@
                        for (; kp < pairs; kp++) {
                            const int32_t x0 = xp[2 * kp], x1 = 2 * kp + 1 < k ? xp[2 * kp + 1] : 0;
                            const int8_t *wp = w + ((size_t)kp * o + o0) * 2;
                            for (j = 0; j < n; j++) acc[j] += x0 * wp[2 * j] + x1 * wp[2 * j + 1];
                        }
                        fk_requant_n(acc, m + o0, l + o0, r + o0, n, zo, lo, hi, yp + o0);
                    }
                }
            }

            /* @kernel fk_depthwise */
            /* depthwise convolution, weights [kh][kw][C]; padding contributes (zx - zx) * w = 0 */
            static inline void fk_depthwise(const int8_t *x, int h, int w, int c, int32_t zx, const int8_t *wt,
                                            const int32_t *b, const int32_t *m, const int8_t *l, const int8_t *r,
                                            int8_t *y, int ho, int wo, int kh, int kw, int sh, int sw, int ph, int pw,
                                            int dh, int dw, int32_t zo, int32_t lo, int32_t hi)
            {
                int32_t acc[64];
                int oy, ox, ky, kx, c0, j;
                for (oy = 0; oy < ho; oy++)
                    for (ox = 0; ox < wo; ox++)
                        for (c0 = 0; c0 < c; c0 += 64) {
                            int n = c - c0 < 64 ? c - c0 : 64;
                            int8_t *yp = y + ((size_t)oy * wo + ox) * c + c0;
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

            /* @kernel fk_conv_dense */
            /* a dense convolution (the stem): each output pixel's input window, less the zero point
             * (0 in the padding), gathered into col[kh*kw*C]; weights [kh][kw][C][O], so the products
             * run over contiguous output channels as in the 1x1 kernel */
            static inline void fk_conv_dense(const int8_t *x, int h, int w, int c, int32_t zx, const int8_t *wt,
                                             const int32_t *b, const int32_t *m, const int8_t *l, const int8_t *r,
                                             int8_t *y, int ho, int wo, int o, int kh, int kw, int sh, int sw, int ph,
                                             int pw, int dh, int dw, int32_t zo, int32_t lo, int32_t hi)
            {
                int16_t col[1024];
                int32_t acc[32];
                const int kk_n = kh * kw * c;
                int oy, ox, ky, kx, ci, o0, j, kk;
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
            @SIMD_DENSE@
                            for (; kk < kk_n; kk++) {
                                const int32_t xv = col[kk];
                                const int8_t *wp = wt + (size_t)kk * o + o0;
                                for (j = 0; j < n; j++) acc[j] += xv * wp[j];
                            }
                            fk_requant_n(acc, m + o0, l + o0, r + o0, n, zo, lo, hi, y + ((size_t)oy * wo + ox) * o + o0);
                        }
                    }
            }

            /* @kernel fk_conv */
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

            /* @kernel fk_add */
            /* add with its own scales: each input (less its zero point) << 20, rescaled to 2 max(sa, sb),
             * the sum rescaled to the output */
            static inline void fk_add(const int8_t *a, int32_t za, int32_t ma, int la, int ra, const int8_t *b,
                                      int32_t zb, int32_t mb, int lb, int rb, int8_t *y, int n, int32_t zo, int32_t mo,
                                      int lo_shift, int ro, int32_t lo, int32_t hi)
            {
                int i;
                for (i = 0; i < n; i++) {
                    int32_t va = fk_scale(((int32_t)a[i] - za) * (1 << 20), ma, la, ra);
                    int32_t vb = fk_scale(((int32_t)b[i] - zb) * (1 << 20), mb, lb, rb);
                    y[i] = fk_requant(va + vb, mo, lo_shift, ro, zo, lo, hi);
                }
            }

            /* @kernel fk_avgpool */
            /* average pooling (global: one window over the plane); the requantizer by divisor count */
            static inline void fk_avgpool(const int8_t *x, int h, int w, int c, int32_t zx, int8_t *y, int ho, int wo,
                                          int kh, int kw, int sh, int sw, int pt, int pl, int pb, int pr, int include_pad,
                                          const int32_t *m, const int8_t *l, const int8_t *r, int32_t zo)
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
                        for (ch = 0; ch < c; ch++) {
                            int32_t acc = 0;
                            for (yy = ys; yy < ye; yy++)
                                for (xx = xs; xx < xe; xx++) acc += (int32_t)x[((size_t)yy * w + xx) * c + ch] - zx;
                            y[((size_t)oy * wo + ox) * c + ch] = fk_requant(acc, m[count], l[count], r[count], zo, -128, 127);
                        }
                    }
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

            """#
        // x86 with AVX2: VPMADDWD multiplies the 16-bit pairs and adds each pair into 32 bits (exact:
        // |x·w| ≤ 128·127, so no pair sum saturates); eight outputs per instruction
        let x86 = """
            #if defined(__AVX2__)
                        if (n == 32) {
                            __m256i a0 = _mm256_loadu_si256((const __m256i *)acc);
                            __m256i a1 = _mm256_loadu_si256((const __m256i *)(acc + 8));
                            __m256i a2 = _mm256_loadu_si256((const __m256i *)(acc + 16));
                            __m256i a3 = _mm256_loadu_si256((const __m256i *)(acc + 24));
                            for (; kp < pairs; kp++) {
                                const int32_t x0 = xp[2 * kp], x1 = 2 * kp + 1 < k ? xp[2 * kp + 1] : 0;
                                const __m256i xv = _mm256_set1_epi32((int32_t)((uint32_t)(uint16_t)x0 | ((uint32_t)(uint16_t)x1 << 16)));
                                const int8_t *wp = w + ((size_t)kp * o + o0) * 2;
                                a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)wp)), xv));
                                a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(wp + 16))), xv));
                                a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(wp + 32))), xv));
                                a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(wp + 48))), xv));
                            }
                            _mm256_storeu_si256((__m256i *)acc, a0);
                            _mm256_storeu_si256((__m256i *)(acc + 8), a1);
                            _mm256_storeu_si256((__m256i *)(acc + 16), a2);
                            _mm256_storeu_si256((__m256i *)(acc + 24), a3);
                        } else if (n % 8 == 0) {
                            /* 8, 16 or 24 output channels (layers of 16 or 24, the tail of 144) */
                            int q, kq;
                            for (q = 0; q < n / 8; q++) {
                                __m256i a = _mm256_loadu_si256((const __m256i *)(acc + 8 * q));
                                for (kq = 0; kq < pairs; kq++) {
                                    const int32_t x0 = xp[2 * kq], x1 = 2 * kq + 1 < k ? xp[2 * kq + 1] : 0;
                                    const __m256i xv = _mm256_set1_epi32((int32_t)((uint32_t)(uint16_t)x0 | ((uint32_t)(uint16_t)x1 << 16)));
                                    const int8_t *wp = w + ((size_t)kq * o + o0 + 8 * q) * 2;
                                    a = _mm256_add_epi32(a, _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)wp)), xv));
                                }
                                _mm256_storeu_si256((__m256i *)(acc + 8 * q), a);
                            }
                            kp = pairs;
                        }
            #endif
            """
        // two pixels at a time: each weight vector is loaded and widened once for both, so 14 of
        // the 16 ymm registers hold 8 accumulators, 4 weight vectors and the 2 inputs
        let x86Two = """
            #if defined(__AVX2__)
                    if (o % 32 == 0 && p + 1 < plane && pairs <= 1024) {
                        const int8_t *xq = xp + k;
                        int8_t *yq = yp + o;
                        int32_t acc2[32];
                        int32_t px[1024], py[1024]; /* each pixel's input pairs as 16-bit halves, packed once */
                        for (kp = 0; kp < pairs; kp++) {
                            const int odd = 2 * kp + 1 < k;
                            const int32_t x0 = xp[2 * kp], x1 = odd ? xp[2 * kp + 1] : 0;
                            const int32_t y0 = xq[2 * kp], y1 = odd ? xq[2 * kp + 1] : 0;
                            px[kp] = (int32_t)((uint32_t)(uint16_t)x0 | ((uint32_t)(uint16_t)x1 << 16));
                            py[kp] = (int32_t)((uint32_t)(uint16_t)y0 | ((uint32_t)(uint16_t)y1 << 16));
                        }
                        for (o0 = 0; o0 < o; o0 += 32) {
                            __m256i a0 = _mm256_loadu_si256((const __m256i *)(b + o0));
                            __m256i a1 = _mm256_loadu_si256((const __m256i *)(b + o0 + 8));
                            __m256i a2 = _mm256_loadu_si256((const __m256i *)(b + o0 + 16));
                            __m256i a3 = _mm256_loadu_si256((const __m256i *)(b + o0 + 24));
                            __m256i c0 = a0, c1 = a1, c2 = a2, c3 = a3;
                            for (kp = 0; kp < pairs; kp++) {
                                const __m256i xv = _mm256_set1_epi32(px[kp]);
                                const __m256i yv = _mm256_set1_epi32(py[kp]);
                                const int8_t *wp = w + ((size_t)kp * o + o0) * 2;
                                const __m256i w0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)wp));
                                const __m256i w1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(wp + 16)));
                                const __m256i w2 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(wp + 32)));
                                const __m256i w3 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(wp + 48)));
                                a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(w0, xv));
                                a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(w1, xv));
                                a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(w2, xv));
                                a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(w3, xv));
                                c0 = _mm256_add_epi32(c0, _mm256_madd_epi16(w0, yv));
                                c1 = _mm256_add_epi32(c1, _mm256_madd_epi16(w1, yv));
                                c2 = _mm256_add_epi32(c2, _mm256_madd_epi16(w2, yv));
                                c3 = _mm256_add_epi32(c3, _mm256_madd_epi16(w3, yv));
                            }
                            _mm256_storeu_si256((__m256i *)acc, a0);
                            _mm256_storeu_si256((__m256i *)(acc + 8), a1);
                            _mm256_storeu_si256((__m256i *)(acc + 16), a2);
                            _mm256_storeu_si256((__m256i *)(acc + 24), a3);
                            _mm256_storeu_si256((__m256i *)acc2, c0);
                            _mm256_storeu_si256((__m256i *)(acc2 + 8), c1);
                            _mm256_storeu_si256((__m256i *)(acc2 + 16), c2);
                            _mm256_storeu_si256((__m256i *)(acc2 + 24), c3);
                            fk_requant_n(acc, m + o0, l + o0, r + o0, 32, zo, lo, hi, yp + o0);
                            fk_requant_n(acc2, m + o0, l + o0, r + o0, 32, zo, lo, hi, yq + o0);
                        }
                        p++;
                        continue;
                    }
            #endif
            """
        // the same on Armv8.0 NEON: one LD2 and widening per weight vector for both pixels; the four
        // inputs (two channels of two pixels) sit in the lanes of one register for SMLAL by lane
        let armTwo = """
            #if defined(__ARM_NEON) && defined(__aarch64__)
                    if (o % 32 == 0 && p + 1 < plane && pairs <= 1024) {
                        const int8_t *xq = xp + k;
                        int8_t *yq = yp + o;
                        int32_t acc2[32];
                        int16_t px[4 * 1024]; /* per pair: x[2i], x[2i+1] of both pixels, packed once */
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
            #endif
            """
        // Armv8.0 NEON: LD2 splits each pair into the two input channels' weights, SMLAL widens and
        // multiply-accumulates them into int32, eight outputs per pair of instructions
        let arm = """
            #if defined(__ARM_NEON) && defined(__aarch64__)
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
            #endif
            """
        // the stem on NEON: eight output channels at a time, SMLAL by the window value
        let armDense = """
            #if defined(__ARM_NEON) && defined(__aarch64__)
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
            #endif
            """
        s = s.replacing("@SIMD_MAC@\n", with: x86 + "\n" + (neon ? arm + "\n" : ""))
        s = s.replacing("@SIMD_DENSE@\n", with: neon ? armDense + "\n" : "")
        s = s.replacing("@SIMD_TWO@\n", with: x86Two + "\n" + (neon ? armTwo + "\n" : ""))
        s = "#if defined(__AVX2__)\n#include <immintrin.h>\n#endif\n" + s
        if neon { s = "#if defined(__ARM_NEON) && defined(__aarch64__)\n#include <arm_neon.h>\n#endif\n\n" + s }
        return s
    }
}
