/* The CUDA kernels of generated model_cuda.cu (CUDAEmitter.swift prints the launches): C++14,
 * nothing newer than CUDA 10.2's cuda_fp16.h, compiled by nvcc on the board, by NVRTC and ptxas
 * in CI (scripts/cuda-check.py), and for the host through fk_cuda_host.h in the tests.
 *
 * Two precisions over the same lowered program (Sources/Codegen/Lowering):
 * - int8 (sm_61 and later: __dp4a): NHWC int8 maps and the requantization of fk_arith.h, the
 *   same functions generated C calls, so the results equal the int8 evaluator bit for bit;
 * - fp16 (the Nano's sm_53): the int8 weights dequantized to half once at init, maps in half,
 *   half2 arithmetic over short reductions and fp32 accumulation over long ones.
 *
 * Sections as in Sources/CKernels (scripts/embed-c-kernels.py embeds them): a model's .cu holds
 * the kernels it launches and what they declare they use.
 *
 * The intrinsics and runtime calls the generator may emit, all present in CUDA 10.2 (a name
 * outside this list in a generated .cu fails the emitter and scripts/cuda-check.py):
 * @allow __global__ __device__ __host__ __shared__ __forceinline__ __align__ __syncthreads
 * @allow __dp4a __half __half2 __float2half __half2float __float2half2_rn __halves2half2
 * @allow __half2half2 __hfma2 __hfma __hadd __low2float __high2float __CUDA_ARCH__
 * @allow __CUDACC__ __CUDACC_RTC__ __cplusplus __VA_ARGS__ __GNUC__ __clang__ cudaErrorMemoryAllocation
 * @allow cudaError_t cudaSuccess cudaErrorInvalidValue cudaMalloc cudaFree cudaMemcpyAsync cudaMemcpyHostToDevice
 * @allow cudaMemcpyDeviceToHost cudaStream_t cudaStreamSynchronize cudaGetLastError
 * @allow cudaGetErrorString cuda_fp16 cuda_runtime __fmul_rn __fadd_rn __fdiv_rn
 *
 * Spellings of C++17 and later that CUDA 10.2's C++14 front end rejects (refused the same way):
 * @forbid if constexpr
 * @forbid [[nodiscard]]
 * @forbid [[maybe_unused]]
 * @forbid [[fallthrough]]
 * @forbid std::optional
 * @forbid std::variant
 * @forbid std::string_view
 * @forbid std::byte
 * @forbid inline constexpr
 * @forbid __has_include
 * @forbid template <auto
 */
#ifndef FK_CUDA_CUH
#define FK_CUDA_CUH

/* @begin */
/* @kernel fk_cu_base */
/* launches, dynamic shared memory and the thread index; fk_cuda_host.h defines the first two
 * for the host emulation */
#if !defined(FK_CUDA_HOST_EMULATION)
#define FK_LAUNCH(kernel, grid, block, smem, stream, ...) kernel<<<grid, block, smem, stream>>>(__VA_ARGS__)
#define FK_LAUNCH_SYNC(kernel, grid, block, smem, stream, ...) kernel<<<grid, block, smem, stream>>>(__VA_ARGS__)
#define FK_DYNAMIC_SMEM(type, name)                        \
    extern __shared__ __align__(16) unsigned char fk_smem[]; \
    type *name = (type *)fk_smem
#endif
/* no clamp in the fp16 kernels: the largest finite float */
#define FK_CU_NO_CLAMP 3.402823466e38f
/* the 1x1 kernels' output tile (pixels and channels a block), and their K steps (int8 bytes,
 * half values) */
#define FK_CU_TILE 64
#define FK_CU_TK 32
#define FK_CU_TKH 16
static __device__ __forceinline__ int fk_cu_index(void) { return (int)(blockIdx.x * blockDim.x + threadIdx.x); }

/* @kernel fk_cu_clamp */
static __device__ __forceinline__ float fk_cu_clamp(float v, float lo, float hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* @kernel fk_cu_dot4 uses fk_cu_base */
/* c + the sum of the four signed byte products of a and b: __dp4a where the chip has it (sm_61
 * and later), the same integer sum from shifts elsewhere (so an int8 .cu also builds for sm_53) */
static __device__ __forceinline__ int fk_cu_dot4(int a, int b, int c)
{
#if defined(FK_CUDA_HOST_EMULATION) || (defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 610)
    return __dp4a(a, b, c);
#else
    int e;
    for (e = 0; e < 4; e++) c += ((a << (24 - 8 * e)) >> 24) * ((b << (24 - 8 * e)) >> 24);
    return c;
#endif
}

/* @kernel fk_cu_quantize_nchw uses fk_cu_base fk_quantize */
/* NCHW float input -> NHWC int8, one thread an element */
__global__ void fk_cu_quantize_nchw(const float *in, int c, int plane, float s, int32_t zp, int8_t *out)
{
    const int i = fk_cu_index();
    if (i < c * plane) out[(i % plane) * c + i / plane] = fk_quantize(in[i], s, zp);
}

/* @kernel fk_cu_dequantize uses fk_cu_base fk_dequantize */
__global__ void fk_cu_dequantize(const int8_t *in, int n, float s, int32_t zp, float *out)
{
    const int i = fk_cu_index();
    if (i < n) out[i] = fk_dequantize(in[i], s, zp);
}

/* @kernel fk_cu_layout uses fk_cu_base */
/* a channel-last map read in row-major order (a flatten), and back; any element type */
template <typename T> __global__ void fk_cu_to_nchw(const T *in, int plane, int c, T *out)
{
    const int i = fk_cu_index();
    if (i < c * plane) out[(i % c) * plane + i / c] = in[i];
}
template <typename T> __global__ void fk_cu_nchw_to_nhwc(const T *in, int c, int plane, T *out)
{
    const int i = fk_cu_index();
    if (i < c * plane) out[(i % plane) * c + i / plane] = in[i];
}

/* @kernel fk_cu_move uses fk_cu_base fk_requant */
/* a layout move (transpose, slice, one input of a concat) over a box of up to FK_MAX_RANK axes,
 * one thread an element, fk_move's indexing: int8 codes requantized when m != 0 (fk_move's
 * arithmetic), half and float values copied */
struct fk_cu_box {
    int rank, d[FK_MAX_RANK], xs[FK_MAX_RANK], ys[FK_MAX_RANK];
};
static __device__ __forceinline__ void fk_cu_box_at(const fk_cu_box &b, int i, int *xo, int *yo)
{
    int k, x = 0, y = 0;
    for (k = b.rank - 1; k >= 0; k--) {
        const int v = i % b.d[k];
        i /= b.d[k];
        x += v * b.xs[k];
        y += v * b.ys[k];
    }
    *xo = x;
    *yo = y;
}
__global__ void fk_cu_move(const int8_t *x, int8_t *y, fk_cu_box b, int n, int32_t zx, int32_t m, int l, int r,
                           int32_t zo)
{
    const int i = fk_cu_index();
    int xo, yo;
    if (i >= n) return;
    fk_cu_box_at(b, i, &xo, &yo);
    y[yo] = m != 0 ? fk_requant(x[xo] - zx, m, l, r, zo, -128, 127) : x[xo];
}
/* the same move copying values: half maps (the fp16 path), float32 values (mixed precision) */
template <typename T> __global__ void fk_cu_move_copy(const T *x, T *y, fk_cu_box b, int n)
{
    const int i = fk_cu_index();
    int xo, yo;
    if (i >= n) return;
    fk_cu_box_at(b, i, &xo, &yo);
    y[yo] = x[xo];
}

/* @kernel fk_cu_mul uses fk_cu_base fk_mul_one */
/* int8 mul (fk_mul): a channel-last [n / c][c], b one value per channel when per_channel */
__global__ void fk_cu_mul(const int8_t *a, int32_t za, const int8_t *b, int32_t zb, int8_t *y, int n, int c,
                          int per_channel, int32_t zo, int32_t m, int l, int r)
{
    const int i = fk_cu_index();
    if (i < n) y[i] = fk_mul_one(a[i], za, b[per_channel ? i % c : i], zb, zo, m, l, r);
}

/* @kernel fk_cu_mul_h uses fk_cu_base */
/* the fp16 path's int8 mul: the product of the real values, rounded to half */
__global__ void fk_cu_mul_h(const __half *a, const __half *b, __half *y, int n, int c, int per_channel)
{
    const int i = fk_cu_index();
    if (i < n) y[i] = __float2half(__half2float(a[i]) * __half2float(b[per_channel ? i % c : i]));
}

/* @kernel fk_cu_add_params uses fk_cu_base fk_add_one */
/* an int8 add's parameters (fk_add_one's), for fk_cu_add and the 1x1 kernel's fused residual */
struct fk_cu_add_params {
    int32_t za, ma, la, ra, zb, mb, lb, rb, zo, mo, lo_shift, ro, lo, hi;
};
static __device__ __forceinline__ int8_t fk_cu_add_one(int32_t a, int32_t b, const fk_cu_add_params &p)
{
    return fk_add_one(a, p.za, p.ma, p.la, p.ra, b, p.zb, p.mb, p.lb, p.rb, p.zo, p.mo, p.lo_shift, p.ro, p.lo, p.hi);
}

/* @kernel fk_cu_pointwise uses fk_cu_base fk_cu_dot4 fk_requant fk_cu_add_params */
/* 1x1 convolution and linear layers, y[p][o] = requant(b[o] + sum_k x[p][k] w[o][k]) (the input
 * zero point folded into b as in fk_pointwise): a tiled GEMM, a 64 x 64 output tile a block of
 * 256 threads, each 4 x 4; K in steps of 32 bytes through shared memory, four products a dot4.
 * Weights [O][kp], kp = K rounded up to 32 with zeros. With `res` (a residual connection fused
 * into the epilogue) each result is then added to res[p][o] as fk_cu_add would (the result the
 * add's first operand when res_first is 0, its second otherwise) and y is the add's output. */
__global__ void fk_cu_pointwise(const int8_t *x, int rows, int k, const int8_t *w, int kp, const int32_t *b,
                                const int32_t *m, const int8_t *l, const int8_t *r, int8_t *y, int o, int32_t zo,
                                int32_t lo, int32_t hi, const int8_t *res, int res_first, fk_cu_add_params ap)
{
    __shared__ int xs[FK_CU_TILE][FK_CU_TK / 4 + 1]; /* +1: rows on different banks */
    __shared__ int ws[FK_CU_TILE][FK_CU_TK / 4 + 1];
    const int t = (int)threadIdx.x, tx = t % 16, ty = t / 16;
    const int p0 = (int)blockIdx.x * FK_CU_TILE, o0 = (int)blockIdx.y * FK_CU_TILE;
    int acc[4][4];
    int i, j, q, k0;
    for (i = 0; i < 4; i++)
        for (j = 0; j < 4; j++) acc[i][j] = 0;
    for (k0 = 0; k0 < k; k0 += FK_CU_TK) {
        for (q = 0; q < 2; q++) {
            const int row = t / 8 + 32 * q, word = t % 8, kk = k0 + 4 * word;
            int v = 0;
            if (p0 + row < rows) {
                const int8_t *xp = x + (long long)(p0 + row) * k + kk;
                int e;
                if ((k & 3) == 0 && kk < k) v = *(const int *)xp;
                else
                    for (e = 0; e < 4; e++)
                        if (kk + e < k) v |= (int)((unsigned)(unsigned char)xp[e] << (8 * e));
            }
            xs[row][word] = v;
            ws[row][word] = o0 + row < o ? *(const int *)(w + (long long)(o0 + row) * kp + kk) : 0;
        }
        __syncthreads();
        for (q = 0; q < FK_CU_TK / 4; q++) {
            int a[4], c[4];
            for (i = 0; i < 4; i++) a[i] = xs[ty * 4 + i][q];
            for (j = 0; j < 4; j++) c[j] = ws[tx * 4 + j][q];
            for (i = 0; i < 4; i++)
                for (j = 0; j < 4; j++) acc[i][j] = fk_cu_dot4(a[i], c[j], acc[i][j]);
        }
        __syncthreads();
    }
    for (i = 0; i < 4; i++) {
        const int p = p0 + ty * 4 + i;
        if (p >= rows) continue;
        for (j = 0; j < 4; j++) {
            const int oc = o0 + tx * 4 + j;
            const long long at = (long long)p * o + oc;
            int8_t v;
            if (oc >= o) continue;
            v = fk_requant(b[oc] + acc[i][j], m[oc], l[oc], r[oc], zo, lo, hi);
            if (res) v = res_first ? fk_cu_add_one(res[at], v, ap) : fk_cu_add_one(v, res[at], ap);
            y[at] = v;
        }
    }
}

/* @kernel fk_cu_linear_f32 uses fk_cu_base */
/* a classifier's one row with float32 outputs from its int32 accumulators, fk_linear_f32's
 * arithmetic (the same int32 sum, one conversion and one product rounded to nearest, the clamp
 * by comparisons): one thread an output, weights [O][K] */
__global__ void fk_cu_linear_f32(const int8_t *x, int k, const int8_t *w, const int32_t *b, const float *s, float lo,
                                 float hi, float *y, int o)
{
    const int j = fk_cu_index();
    int i;
    int32_t acc;
    float v;
    if (j >= o) return;
    acc = b[j];
    for (i = 0; i < k; i++) acc += (int32_t)x[i] * w[(long long)j * k + i];
    v = __fmul_rn((float)acc, s[j]);
    y[j] = v < lo ? lo : (v > hi ? hi : v);
}

/* @kernel fk_cu_depthwise uses fk_cu_base fk_requant */
/* depthwise convolution, weights [kh][kw][C]: an 8 x 8 output tile of 32 channels a block of
 * 32 x 8 threads, each one channel of one row of 8 pixels; the input patch it reads, less the
 * zero point (0 in the padding: (zx - zx) w = 0 as in fk_depthwise), loaded once into shared
 * memory as int16: pr x pc x 32, pr = 7 sh + (kh - 1) dh + 1, pc likewise */
__global__ void fk_cu_depthwise(const int8_t *x, int h, int w, int c, int32_t zx, const int8_t *wt, const int32_t *b,
                                const int32_t *m, const int8_t *l, const int8_t *r, int8_t *y, int ho, int wo, int kh,
                                int kw, int sh, int sw, int ph, int pw, int dh, int dw, int32_t zo, int32_t lo,
                                int32_t hi)
{
    FK_DYNAMIC_SMEM(short, patch);
    const int pr = 7 * sh + (kh - 1) * dh + 1, pc = 7 * sw + (kw - 1) * dw + 1;
    const int ox0 = (int)blockIdx.x * 8, oy0 = (int)blockIdx.y * 8, c0 = (int)blockIdx.z * 32;
    const int t = (int)(threadIdx.y * 32 + threadIdx.x), cc = (int)threadIdx.x, row = (int)threadIdx.y;
    const int ch = c0 + cc, oy = oy0 + row;
    int e, ky, kx, j;
    int acc[8];
    for (e = t; e < pr * pc * 32; e += 256) {
        const int ec = e % 32, ex = e / 32 % pc, ey = e / 32 / pc;
        const int iy = oy0 * sh - ph + ey, ix = ox0 * sw - pw + ex;
        const int inside = iy >= 0 && iy < h && ix >= 0 && ix < w && c0 + ec < c;
        patch[e] = (short)(inside ? (int)x[((long long)iy * w + ix) * c + c0 + ec] - zx : 0);
    }
    __syncthreads();
    if (ch >= c || oy >= ho) return;
    for (j = 0; j < 8; j++) acc[j] = b[ch];
    for (ky = 0; ky < kh; ky++)
        for (kx = 0; kx < kw; kx++) {
            const int wv = wt[(ky * kw + kx) * c + ch];
            const short *pp = patch + ((row * sh + ky * dh) * pc + kx * dw) * 32 + cc;
            for (j = 0; j < 8; j++) acc[j] += pp[j * sw * 32] * wv;
        }
    for (j = 0; j < 8; j++)
        if (ox0 + j < wo)
            y[((long long)oy * wo + ox0 + j) * c + ch] = fk_requant(acc[j], m[ch], l[ch], r[ch], zo, lo, hi);
}

/* @kernel fk_cu_conv_sum uses fk_cu_base */
/* a direct convolution (NHWC, weights [O][kh][kw][C/groups]): output element i's window summed
 * onto acc, each input times its weight by fk_cu_mac (int8: less the zero point, in int; half: in
 * float); padding contributes nothing */
struct fk_cu_conv_shape {
    int h, w, c, ho, wo, o, kh, kw, sh, sw, ph, pw, dh, dw, groups;
};
template <typename A, typename T> struct fk_cu_mac;
template <> struct fk_cu_mac<int, int8_t> {
    static __device__ __forceinline__ int apply(int acc, int8_t x, int8_t w, int32_t zx)
    {
        return acc + ((int)x - zx) * (int)w;
    }
};
template <> struct fk_cu_mac<float, __half> {
    static __device__ __forceinline__ float apply(float acc, __half x, __half w, int32_t)
    {
        return acc + __half2float(x) * __half2float(w);
    }
};
template <typename A, typename T>
__device__ __forceinline__ A fk_cu_conv_sum(const T *x, const T *wt, int i, const fk_cu_conv_shape &s, int32_t zx, A acc)
{
    const int cg = s.c / s.groups, og = s.o / s.groups, oc = i % s.o, pix = i / s.o;
    const int oy = pix / s.wo, ox = pix % s.wo;
    int ky, kx, ci;
    for (ky = 0; ky < s.kh; ky++) {
        const int iy = oy * s.sh - s.ph + ky * s.dh;
        if (iy < 0 || iy >= s.h) continue;
        for (kx = 0; kx < s.kw; kx++) {
            const int ix = ox * s.sw - s.pw + kx * s.dw;
            const T *xp, *wp;
            if (ix < 0 || ix >= s.w) continue;
            xp = x + ((long long)iy * s.w + ix) * s.c + (oc / og) * cg;
            wp = wt + (((long long)oc * s.kh + ky) * s.kw + kx) * cg;
            for (ci = 0; ci < cg; ci++) acc = fk_cu_mac<A, T>::apply(acc, xp[ci], wp[ci], zx);
        }
    }
    return acc;
}

/* @kernel fk_cu_conv uses fk_cu_conv_sum fk_requant */
/* any other convolution (the strided stem, grouped): one thread an output, the window read
 * through the cache */
__global__ void fk_cu_conv(const int8_t *x, fk_cu_conv_shape s, int32_t zx, const int8_t *wt, const int32_t *b,
                           const int32_t *m, const int8_t *l, const int8_t *r, int8_t *y, int32_t zo, int32_t lo,
                           int32_t hi)
{
    const int i = fk_cu_index();
    int oc;
    if (i >= s.ho * s.wo * s.o) return;
    oc = i % s.o;
    y[i] = fk_requant(fk_cu_conv_sum(x, wt, i, s, zx, (int)b[oc]), m[oc], l[oc], r[oc], zo, lo, hi);
}

/* @kernel fk_cu_add uses fk_cu_add_params */
/* the int8 add, one thread an element */
__global__ void fk_cu_add(const int8_t *a, const int8_t *b, int8_t *y, int n, fk_cu_add_params p)
{
    const int i = fk_cu_index();
    if (i < n) y[i] = fk_cu_add_one(a[i], b[i], p);
}

/* @kernel fk_cu_pool_window uses fk_cu_base */
/* an average-pool window's bounds in the input and its divisor, as fk_avgpool computes them */
struct fk_cu_window {
    int ys, ye, xs, xe, count;
};
static __device__ __forceinline__ fk_cu_window fk_cu_pool_window(int oy, int ox, int h, int w, int kh, int kw, int sh,
                                                                 int sw, int pt, int pl, int pb, int pr,
                                                                 int include_pad)
{
    fk_cu_window v;
    const int y0 = oy * sh - pt, x0 = ox * sw - pl;
    const int y1 = y0 + kh < h + pb ? y0 + kh : h + pb, x1 = x0 + kw < w + pr ? x0 + kw : w + pr;
    v.ys = y0 > 0 ? y0 : 0;
    v.ye = y1 < h ? y1 : h;
    v.xs = x0 > 0 ? x0 : 0;
    v.xe = x1 < w ? x1 : w;
    v.count = include_pad ? (y1 - y0) * (x1 - x0) : (v.ye - v.ys) * (v.xe - v.xs);
    if (v.count < 0) v.count = 0;
    return v;
}

/* @kernel fk_cu_avgpool uses fk_cu_pool_window fk_requant */
/* average pooling (global: one window), one thread an output; the requantizer by divisor */
__global__ void fk_cu_avgpool(const int8_t *x, int h, int w, int c, int32_t zx, int8_t *y, int ho, int wo, int kh,
                              int kw, int sh, int sw, int pt, int pl, int pb, int pr, int include_pad, int max_count,
                              const int32_t *m, const int8_t *l, const int8_t *r, int32_t zo)
{
    const int i = fk_cu_index();
    int ch, pix, yy, xx, acc = 0;
    fk_cu_window v;
    if (i >= ho * wo * c) return;
    ch = i % c;
    pix = i / c;
    v = fk_cu_pool_window(pix / wo, pix % wo, h, w, kh, kw, sh, sw, pt, pl, pb, pr, include_pad);
    if (v.count > max_count) v.count = max_count;
    for (yy = v.ys; yy < v.ye; yy++)
        for (xx = v.xs; xx < v.xe; xx++) acc += (int)x[((long long)yy * w + xx) * c + ch] - zx;
    y[i] = fk_requant(acc, m[v.count], l[v.count], r[v.count], zo, -128, 127);
}

/* @kernel fk_cu_lut uses fk_cu_base */
/* fk_lut: y[i] = table[x[i] + 128] */
__global__ void fk_cu_lut(const int8_t *x, const int8_t *table, int8_t *y, int n)
{
    const int i = fk_cu_index();
    if (i < n) y[i] = table[x[i] + 128];
}

/* @kernel fk_cu_maxpool uses fk_cu_base */
/* max pooling (keeps the input's quantization; padding ignored), one thread an output */
__global__ void fk_cu_maxpool(const int8_t *x, int h, int w, int c, int8_t *y, int ho, int wo, int kh, int kw, int sh,
                              int sw, int ph, int pw)
{
    const int i = fk_cu_index();
    int ch, pix, y0, x0, yy, xx, mx = -128;
    if (i >= ho * wo * c) return;
    ch = i % c;
    pix = i / c;
    y0 = pix / wo * sh - ph;
    x0 = pix % wo * sw - pw;
    for (yy = y0 > 0 ? y0 : 0; yy < y0 + kh && yy < h; yy++)
        for (xx = x0 > 0 ? x0 : 0; xx < x0 + kw && xx < w; xx++) {
            const int v = x[((long long)yy * w + xx) * c + ch];
            if (v > mx) mx = v;
        }
    y[i] = (int8_t)mx;
}

/* ---- float32 steps (mixed precision): row-major, as in generated C ---- */

/* @kernel fk_cu_quantize_n uses fk_cu_base fk_quantize */
__global__ void fk_cu_quantize_n(const float *in, int n, float s, int32_t zp, int8_t *out)
{
    const int i = fk_cu_index();
    if (i < n) out[i] = fk_quantize(in[i], s, zp);
}

/* @kernel fk_cu_dequantize_nhwc uses fk_cu_base fk_dequantize */
/* NHWC int8 -> NCHW float */
__global__ void fk_cu_dequantize_nhwc(const int8_t *in, int plane, int c, float s, int32_t zp, float *out)
{
    const int i = fk_cu_index();
    if (i < c * plane) out[(i % c) * plane + i / c] = fk_dequantize(in[i], s, zp);
}

/* @kernel fk_cu_unary_f32 uses fk_cu_base fk_act */
/* y = act(x) by its FK_ACT_ code: the formulas of generated C's fk_act */
__global__ void fk_cu_unary_f32(const float *x, int n, int act, float lo, float hi, float *y)
{
    const int i = fk_cu_index();
    if (i < n) y[i] = fk_act(x[i], act, lo, hi);
}

/* @kernel fk_cu_binary_f32 uses fk_cu_base fk_act */
/* y = act(a op b) over a rank-4 index space (op 0 add, 1 mul), each operand read through its
 * strides (0 along a broadcast dimension), y contiguous */
struct fk_cu_space {
    int d[4], as[4], bs[4];
};
__global__ void fk_cu_binary_f32(const float *a, const float *b, float *y, fk_cu_space sp, int op, int act, float lo,
                                 float hi)
{
    const int i = fk_cu_index();
    int r, k, ao = 0, bo = 0;
    if (i >= sp.d[0] * sp.d[1] * sp.d[2] * sp.d[3]) return;
    for (r = i, k = 3; k >= 0; k--) {
        const int v = r % sp.d[k];
        r /= sp.d[k];
        ao += v * sp.as[k];
        bo += v * sp.bs[k];
    }
    y[i] = fk_act(op == 0 ? a[ao] + b[bo] : a[ao] * b[bo], act, lo, hi);
}

/* @kernel fk_cu_layernorm_f32 uses fk_cu_base */
/* normalises each of `outer` rows of `inner` values, a thread a row: generated C's
 * fk_layernorm_f32 (mean and variance in double) */
__global__ void fk_cu_layernorm_f32(const float *x, int outer, int inner, const float *scale, const float *bias,
                                    float eps, float *y)
{
    const int o = fk_cu_index();
    const float *src;
    float *dst;
    double sum = 0, mean, sq = 0, d;
    float inv, m;
    int i;
    if (o >= outer) return;
    src = x + (size_t)o * inner;
    dst = y + (size_t)o * inner;
    for (i = 0; i < inner; i++) sum += (double)src[i];
    mean = sum / (double)inner;
    for (i = 0; i < inner; i++) {
        d = (double)src[i] - mean;
        sq += d * d;
    }
    inv = (float)(1 / sqrt(sq / (double)inner + (double)eps));
    m = (float)mean;
    for (i = 0; i < inner; i++) {
        const float t = (src[i] - m) * inv * scale[i];
        dst[i] = t + bias[i];
    }
}

/* @kernel fk_cu_copy_f32 uses fk_cu_base */
__global__ void fk_cu_copy_f32(const float *x, int n, float *y)
{
    const int i = fk_cu_index();
    if (i < n) y[i] = x[i];
}

/* ---- preprocessing: fk_preprocess_u8's steps, one thread an output value, through the same
 * per-pixel functions of fk_image.h; the resampling weights come from the host ---- */

/* @kernel fk_cu_pixels uses fk_cu_base fk_pixel_rgb */
/* a frame (FK_FORMAT_*) to packed RGB */
__global__ void fk_cu_pixels(const uint8_t *px, int w, int h, int stride, int format, uint8_t *rgb)
{
    const int i = fk_cu_index();
    if (i < w * h) fk_pixel_rgb(px, (size_t)stride, h, i % w, i / w, format, rgb + (size_t)i * 3);
}

/* @kernel fk_cu_resample uses fk_cu_base fk_resample_dot */
/* one pass of fk_resample_u8 over `lines` lines of `count` values: value v of line y takes
 * bounds[2 j + 1] samples from in + y * line_in + bounds[2 j] * step + (v - j * across) (j the
 * output sample of v, `across` values each), weights kk + j * ksize. Horizontal: lines are rows,
 * across = channels, step = channels; vertical: lines are output rows (y the output sample),
 * across = the row's values, step = the row stride. */
__global__ void fk_cu_resample(const uint8_t *in, int lines, int count, int across, size_t line_in, size_t step,
                               const int *bounds, const int32_t *kk, int ksize, int vertical, uint8_t *out)
{
    const int i = fk_cu_index();
    int y, v, j;
    if (i >= lines * count) return;
    y = i / count;
    v = i % count;
    j = vertical ? y : v / across;
    out[i] = fk_resample_dot(in + (vertical ? 0 : (size_t)y * line_in) + (size_t)bounds[2 * j] * step +
                                 (vertical ? (size_t)v : (size_t)(v % across)),
                             step, bounds[2 * j + 1], kk + (size_t)j * ksize);
}

/* @kernel fk_cu_nearest uses fk_cu_base fk_nearest_index */
/* fk_resize_nearest_u8 of a packed RGB image: each position stepped from the first output's
 * centre by the same double additions as the C loop */
__global__ void fk_cu_nearest(const uint8_t *in, int w, int h, uint8_t *out, int ow, int oh)
{
    const int i = fk_cu_index();
    const double ax = (double)w / ow, ay = (double)h / oh;
    double xo = ax * 0.5, yo = ay * 0.5;
    int k, x, y, c;
    if (i >= ow * oh) return;
    x = i % ow;
    y = i / ow;
    for (k = 0; k < x; k++) xo += ax;
    for (k = 0; k < y; k++) yo += ay;
    for (c = 0; c < 3; c++) out[(size_t)i * 3 + c] = in[((size_t)fk_nearest_index(yo, h) * w + fk_nearest_index(xo, w)) * 3 + c];
}

/* @kernel fk_cu_crop_source uses fk_cu_base */
/* output value i (NCHW) of the ch x cw crop at (top, left) of a w x h packed RGB image: its
 * channel in *c, and where its pixel's values start in the image, or -1 outside it (padding) */
static __device__ __forceinline__ long long fk_cu_crop_source(int i, int w, int h, int top, int left, int ch, int cw,
                                                              int *c)
{
    const int iy = i / cw % ch + top, ix = i % cw + left;
    *c = i / (ch * cw);
    return iy >= 0 && iy < h && ix >= 0 && ix < w ? ((long long)iy * w + ix) * 3 : -1;
}

/* @kernel fk_cu_crop_normalise uses fk_cu_base fk_cu_crop_source fk_normalise */
/* fk_crop_normalise: the ch x cw window at (top, left) (`pad` outside the image) to float NCHW */
__global__ void fk_cu_crop_normalise(const uint8_t *in, int w, int h, int top, int left, int ch, int cw, int o0,
                                     int o1, int o2, float m0, float m1, float m2, float s0, float s1, float s2,
                                     float pad, float *out)
{
    const int i = fk_cu_index();
    int c;
    long long at;
    if (i >= 3 * ch * cw) return;
    at = fk_cu_crop_source(i, w, h, top, left, ch, cw, &c);
    out[i] = fk_normalise(at < 0 ? pad : (float)in[at + (c == 0 ? o0 : c == 1 ? o1 : o2)], c == 0 ? m0 : c == 1 ? m1 : m2,
                          c == 0 ? s0 : c == 1 ? s1 : s2);
}

/* @kernel fk_cu_unit_f32 uses fk_cu_base */
/* the tensor pipeline's ToDtype(float32, scale=True): n 8-bit values to v / 255 */
__global__ void fk_cu_unit_f32(const uint8_t *in, int n, float *out)
{
    const int i = fk_cu_index();
    if (i < n) out[i] = __fdiv_rn((float)in[i], 255.0f);
}

/* @kernel fk_cu_resample_f32 uses fk_cu_base */
/* one pass of fk_resample_f32, its sums in the C order with no contraction (the _rn intrinsics):
 * horizontal from packed 8-bit RGB rows (`in8`, each value / 255; lines = rows, step 3), or
 * vertical over float rows (`inf`; lines = output rows, step = the row's values); value v of
 * line y as fk_cu_resample indexes it */
__global__ void fk_cu_resample_f32(const uint8_t *in8, const float *inf, int lines, int count, size_t line_in,
                                   size_t step, const int *bounds, const float *kk, int ksize, int vertical,
                                   float *out)
{
    const int i = fk_cu_index();
    int y, v, j, k, n;
    size_t at;
    const float *w;
    float s;
    if (i >= lines * count) return;
    y = i / count;
    v = i % count;
    j = vertical ? y : v / 3;
    at = (vertical ? (size_t)v : (size_t)y * line_in + (size_t)(v % 3)) + (size_t)bounds[2 * j] * step;
    n = bounds[2 * j + 1];
    w = kk + (size_t)j * ksize;
    s = __fmul_rn(vertical ? inf[at] : __fdiv_rn((float)in8[at], 255.0f), w[0]);
    for (k = 1; k < n; k++)
        s = __fadd_rn(s, __fmul_rn(vertical ? inf[at + k * step] : __fdiv_rn((float)in8[at + k * step], 255.0f), w[k]));
    out[i] = s;
}

/* @kernel fk_cu_tensor_nearest uses fk_cu_base fk_tensor_nearest_index */
/* fk_resize_tensor_nearest_u8 of a packed RGB image */
__global__ void fk_cu_tensor_nearest(const uint8_t *in, int w, int h, uint8_t *out, int ow, int oh, int exact)
{
    const int i = fk_cu_index();
    int c, sx, sy;
    if (i >= ow * oh) return;
    sx = fk_tensor_nearest_index(i % ow, w, ow, exact);
    sy = fk_tensor_nearest_index(i / ow, h, oh, exact);
    for (c = 0; c < 3; c++) out[(size_t)i * 3 + c] = in[((size_t)sy * w + sx) * 3 + c];
}

/* @kernel fk_cu_crop_normalise_f32 uses fk_cu_base fk_cu_crop_source */
/* fk_crop_normalise_f32: the ch x cw window at (top, left) of float RGB (pad / 255 outside) to
 * float NCHW */
__global__ void fk_cu_crop_normalise_f32(const float *in, int w, int h, int top, int left, int ch, int cw, int o0,
                                         int o1, int o2, float m0, float m1, float m2, float s0, float s1,
                                         float s2, float pad, float *out)
{
    const int i = fk_cu_index();
    int c;
    long long at;
    float v;
    if (i >= 3 * ch * cw) return;
    at = fk_cu_crop_source(i, w, h, top, left, ch, cw, &c);
    v = at < 0 ? __fdiv_rn(pad, 255.0f) : in[at + (c == 0 ? o0 : c == 1 ? o1 : o2)];
    out[i] = __fdiv_rn(__fadd_rn(v, -(c == 0 ? m0 : c == 1 ? m1 : m2)), c == 0 ? s0 : c == 1 ? s1 : s2);
}

/* ---- fp16 ---- */

/* @kernel fk_cu_dequantize_weights uses fk_cu_base */
/* int8 weights -> half, once at init: out[i] = q[i] s[(i / inner) % channels] */
__global__ void fk_cu_dequantize_weights(const int8_t *q, int n, const float *s, int channels, int inner, __half *out)
{
    const int i = fk_cu_index();
    if (i < n) out[i] = __float2half((float)q[i] * s[(i / inner) % channels]);
}

/* @kernel fk_cu_half_from_nchw uses fk_cu_base */
/* NCHW float input -> NHWC half */
__global__ void fk_cu_half_from_nchw(const float *in, int c, int plane, __half *out)
{
    const int i = fk_cu_index();
    if (i < c * plane) out[(i % plane) * c + i / plane] = __float2half(in[i]);
}

/* @kernel fk_cu_half_from_f32 uses fk_cu_base */
/* row-major float -> half, element for element (a float32 step's output read by an fp16 one) */
__global__ void fk_cu_half_from_f32(const float *in, int n, __half *out)
{
    const int i = fk_cu_index();
    if (i < n) out[i] = __float2half(in[i]);
}

/* @kernel fk_cu_float_from_half_nhwc uses fk_cu_base */
/* NHWC half -> NCHW float */
__global__ void fk_cu_float_from_half_nhwc(const __half *in, int plane, int c, float *out)
{
    const int i = fk_cu_index();
    if (i < c * plane) out[(i % c) * plane + i / c] = __half2float(in[i]);
}

/* @kernel fk_cu_float_from_half uses fk_cu_base */
__global__ void fk_cu_float_from_half(const __half *in, int n, float *out)
{
    const int i = fk_cu_index();
    if (i < n) out[i] = __half2float(in[i]);
}

/* @kernel fk_cu_pointwise_h uses fk_cu_base fk_cu_clamp */
/* fp16 1x1 convolution and linear layers, weights [K][O] half, bias float: a 64 x 64 output
 * tile a block of 256 threads, each 4 pixels x 2 pairs of outputs in half2; K in steps of 16
 * through shared memory, each step's 16 products summed in half2 (__hfma2) and added to fp32
 * accumulators, so no half sum runs longer than 16 terms. With `res`, each (rounded) result is
 * added to res[p][o] as fk_cu_add_h would, clamped to [rlo, rhi]. */
__global__ void fk_cu_pointwise_h(const __half *x, int rows, int k, const __half *w, const float *b, __half *y, int o,
                                  float lo, float hi, const __half *res, float rlo, float rhi)
{
    __shared__ __half xs[FK_CU_TKH][FK_CU_TILE];
    __shared__ __half2 ws[FK_CU_TKH][FK_CU_TILE / 2];
    const int t = (int)threadIdx.x, tx = t % 16, ty = t / 16;
    const int p0 = (int)blockIdx.x * FK_CU_TILE, o0 = (int)blockIdx.y * FK_CU_TILE;
    float acc[4][4];
    int i, j, q, kk, k0;
    const __half zero = __float2half(0.0f);
    for (i = 0; i < 4; i++)
        for (j = 0; j < 4; j++) acc[i][j] = 0.0f;
    for (k0 = 0; k0 < k; k0 += FK_CU_TKH) {
        __half2 part[4][2];
        for (q = 0; q < 4; q++) {
            const int e = t + 256 * q, ek = e / FK_CU_TILE, ep = e % FK_CU_TILE;
            const int pair = e % (FK_CU_TILE / 2), wk = e / (FK_CU_TILE / 2);
            xs[ek][ep] = p0 + ep < rows && k0 + ek < k ? x[(long long)(p0 + ep) * k + k0 + ek] : zero;
            if (q < 2) {
                const int oc = o0 + 2 * pair, kr = k0 + wk;
                const __half w0 = kr < k && oc < o ? w[(long long)kr * o + oc] : zero;
                const __half w1 = kr < k && oc + 1 < o ? w[(long long)kr * o + oc + 1] : zero;
                ws[wk][pair] = __halves2half2(w0, w1);
            }
        }
        __syncthreads();
        for (i = 0; i < 4; i++) part[i][0] = part[i][1] = __float2half2_rn(0.0f);
        for (kk = 0; kk < FK_CU_TKH; kk++)
            for (i = 0; i < 4; i++) {
                const __half2 xv = __half2half2(xs[kk][ty * 4 + i]);
                part[i][0] = __hfma2(xv, ws[kk][tx * 2], part[i][0]);
                part[i][1] = __hfma2(xv, ws[kk][tx * 2 + 1], part[i][1]);
            }
        for (i = 0; i < 4; i++) {
            acc[i][0] += __low2float(part[i][0]);
            acc[i][1] += __high2float(part[i][0]);
            acc[i][2] += __low2float(part[i][1]);
            acc[i][3] += __high2float(part[i][1]);
        }
        __syncthreads();
    }
    for (i = 0; i < 4; i++) {
        const int p = p0 + ty * 4 + i;
        if (p >= rows) continue;
        for (j = 0; j < 4; j++) {
            /* thread tx holds outputs 4 tx .. 4 tx + 3: pairs 2 tx and 2 tx + 1 */
            const int oc = o0 + tx * 4 + j;
            const long long at = (long long)p * o + oc;
            __half v;
            if (oc >= o) continue;
            v = __float2half(fk_cu_clamp(acc[i][j] + b[oc], lo, hi));
            if (res) v = __float2half(fk_cu_clamp(__half2float(__hadd(v, res[at])), rlo, rhi));
            y[at] = v;
        }
    }
}

/* @kernel fk_cu_linear_hf uses fk_cu_base fk_cu_clamp */
/* fp16 classifier with float32 outputs: one thread an output, the half products summed in
 * fp32 from the real bias, weights [O][K] half */
__global__ void fk_cu_linear_hf(const __half *x, int k, const __half *w, const float *b, float lo, float hi, float *y,
                                int o)
{
    const int j = fk_cu_index();
    float acc;
    int i;
    if (j >= o) return;
    acc = b[j];
    for (i = 0; i < k; i++) acc += __half2float(x[i]) * __half2float(w[(long long)j * k + i]);
    y[j] = fk_cu_clamp(acc, lo, hi);
}

/* @kernel fk_cu_depthwise_h uses fk_cu_base fk_cu_clamp */
/* fp16 depthwise convolution, weights [kh][kw][C] half, bias float: fk_cu_depthwise's tiling
 * with a half patch (0 in the padding); each thread's 8 pixels as 4 half2, kh kw terms summed
 * with __hfma2 from the bias */
__global__ void fk_cu_depthwise_h(const __half *x, int h, int w, int c, const __half *wt, const float *b, __half *y,
                                  int ho, int wo, int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw,
                                  float lo, float hi)
{
    FK_DYNAMIC_SMEM(__half, patch);
    const int pr = 7 * sh + (kh - 1) * dh + 1, pc = 7 * sw + (kw - 1) * dw + 1;
    const int ox0 = (int)blockIdx.x * 8, oy0 = (int)blockIdx.y * 8, c0 = (int)blockIdx.z * 32;
    const int t = (int)(threadIdx.y * 32 + threadIdx.x), cc = (int)threadIdx.x, row = (int)threadIdx.y;
    const int ch = c0 + cc, oy = oy0 + row;
    const __half zero = __float2half(0.0f);
    int e, ky, kx, j;
    __half2 acc[4];
    for (e = t; e < pr * pc * 32; e += 256) {
        const int ec = e % 32, ex = e / 32 % pc, ey = e / 32 / pc;
        const int iy = oy0 * sh - ph + ey, ix = ox0 * sw - pw + ex;
        const int inside = iy >= 0 && iy < h && ix >= 0 && ix < w && c0 + ec < c;
        patch[e] = inside ? x[((long long)iy * w + ix) * c + c0 + ec] : zero;
    }
    __syncthreads();
    if (ch >= c || oy >= ho) return;
    for (j = 0; j < 4; j++) acc[j] = __float2half2_rn(b[ch]);
    for (ky = 0; ky < kh; ky++)
        for (kx = 0; kx < kw; kx++) {
            const __half2 wv = __half2half2(wt[(ky * kw + kx) * c + ch]);
            const __half *pp = patch + ((row * sh + ky * dh) * pc + kx * dw) * 32 + cc;
            for (j = 0; j < 4; j++)
                acc[j] = __hfma2(__halves2half2(pp[2 * j * sw * 32], pp[(2 * j + 1) * sw * 32]), wv, acc[j]);
        }
    for (j = 0; j < 8; j++)
        if (ox0 + j < wo) {
            const float v = j % 2 == 0 ? __low2float(acc[j / 2]) : __high2float(acc[j / 2]);
            y[((long long)oy * wo + ox0 + j) * c + ch] = __float2half(fk_cu_clamp(v, lo, hi));
        }
}

/* @kernel fk_cu_conv_h uses fk_cu_conv_sum fk_cu_clamp */
/* fp16 direct convolution (the stem, grouped), one thread an output, fp32 accumulation */
__global__ void fk_cu_conv_h(const __half *x, fk_cu_conv_shape s, const __half *wt, const float *b, __half *y, float lo,
                             float hi)
{
    const int i = fk_cu_index();
    if (i < s.ho * s.wo * s.o) y[i] = __float2half(fk_cu_clamp(fk_cu_conv_sum(x, wt, i, s, 0, b[i % s.o]), lo, hi));
}

/* @kernel fk_cu_add_h uses fk_cu_base fk_cu_clamp */
__global__ void fk_cu_add_h(const __half *a, const __half *b, __half *y, int n, float lo, float hi)
{
    const int i = fk_cu_index();
    if (i < n) y[i] = __float2half(fk_cu_clamp(__half2float(__hadd(a[i], b[i])), lo, hi));
}

/* @kernel fk_cu_avgpool_h uses fk_cu_pool_window */
/* fp16 average pooling, fp32 sums; a window wholly in the padding gives 0 */
__global__ void fk_cu_avgpool_h(const __half *x, int h, int w, int c, __half *y, int ho, int wo, int kh, int kw,
                                int sh, int sw, int pt, int pl, int pb, int pr, int include_pad)
{
    const int i = fk_cu_index();
    int ch, pix, yy, xx;
    float acc = 0.0f;
    fk_cu_window v;
    if (i >= ho * wo * c) return;
    ch = i % c;
    pix = i / c;
    v = fk_cu_pool_window(pix / wo, pix % wo, h, w, kh, kw, sh, sw, pt, pl, pb, pr, include_pad);
    for (yy = v.ys; yy < v.ye; yy++)
        for (xx = v.xs; xx < v.xe; xx++) acc += __half2float(x[((long long)yy * w + xx) * c + ch]);
    y[i] = __float2half(v.count > 0 ? acc / (float)v.count : 0.0f);
}

/* @kernel fk_cu_act_h uses fk_cu_base fk_act */
/* an int8 lookup step of the fp16 path: the function itself (fk_act, float32) on half values */
__global__ void fk_cu_act_h(const __half *x, int n, int act, __half *y)
{
    const int i = fk_cu_index();
    if (i < n) y[i] = __float2half(fk_act(__half2float(x[i]), act, 0.0f, 0.0f));
}

/* @kernel fk_cu_maxpool_h uses fk_cu_base */
__global__ void fk_cu_maxpool_h(const __half *x, int h, int w, int c, __half *y, int ho, int wo, int kh, int kw, int sh,
                                int sw, int ph, int pw)
{
    const int i = fk_cu_index();
    int ch, pix, y0, x0, yy, xx;
    float mx = -FK_CU_NO_CLAMP;
    if (i >= ho * wo * c) return;
    ch = i % c;
    pix = i / c;
    y0 = pix / wo * sh - ph;
    x0 = pix % wo * sw - pw;
    for (yy = y0 > 0 ? y0 : 0; yy < y0 + kh && yy < h; yy++)
        for (xx = x0 > 0 ? x0 : 0; xx < x0 + kw && xx < w; xx++) {
            const float v = __half2float(x[((long long)yy * w + xx) * c + ch]);
            if (v > mx) mx = v;
        }
    y[i] = __float2half(mx);
}
/* @end */

#endif
