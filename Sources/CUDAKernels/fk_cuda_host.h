/* Runs fkdc's generated CUDA on the CPU, for tests on machines without a GPU: compile
 * model_cuda.cu as C++14 with -DFK_CUDA_HOST_EMULATION and this header's folder on the include
 * path. Blocks run one after another; the threads of a block run as coroutines (ucontext), each
 * until it finishes or reaches __syncthreads, so every barrier phase completes for all threads
 * before the next begins, as on the GPU. __half is emulated in software with round-to-nearest-
 * even after every operation; __dp4a is the exact integer sum. The runtime calls generated code
 * makes work on host memory. Deterministic: one order of execution.
 *
 * Not a simulator of a GPU's timing, warps or memory model: it checks the arithmetic and the
 * barrier structure (a kernel that reaches __syncthreads in some threads and returns in others
 * aborts with a message). */
#ifndef FK_CUDA_HOST_H
#define FK_CUDA_HOST_H

#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#include <cmath>
#include <functional>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static
#define __align__(n) alignas(n)

struct dim3 {
    unsigned x, y, z;
    dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
struct fk_emu_index {
    unsigned x, y, z;
};

/* ---- threads and blocks ---- */

struct fk_emu_state {
    ucontext_t scheduler;
    std::vector<ucontext_t> threads;
    std::vector<char> stacks;
    std::vector<int> phase; /* 0 running, 1 at the barrier, 2 finished */
    std::vector<unsigned char> dynamic_smem;
    const std::function<void()> *body;
    int current;
    bool cooperative;
    int last_error;
    fk_emu_index thread, block;
    dim3 block_dim, grid_dim;
};
static fk_emu_state fk_emu;
#define threadIdx (fk_emu.thread)
#define blockIdx (fk_emu.block)
#define blockDim (fk_emu.block_dim)
#define gridDim (fk_emu.grid_dim)

static const size_t fk_emu_stack_bytes = 64 * 1024;

static inline void fk_emu_select(int t)
{
    fk_emu.current = t;
    fk_emu.thread.x = (unsigned)t % fk_emu.block_dim.x;
    fk_emu.thread.y = (unsigned)t / fk_emu.block_dim.x % fk_emu.block_dim.y;
    fk_emu.thread.z = (unsigned)t / (fk_emu.block_dim.x * fk_emu.block_dim.y);
}

static inline void fk_emu_entry(void)
{
    (*fk_emu.body)();
    fk_emu.phase[(size_t)fk_emu.current] = 2; /* uc_link returns to the scheduler */
}

static inline void __syncthreads(void)
{
    if (!fk_emu.cooperative) {
        fprintf(stderr, "fk_cuda_host: __syncthreads in a kernel launched with FK_LAUNCH (use FK_LAUNCH_SYNC)\n");
        abort();
    }
    fk_emu.phase[(size_t)fk_emu.current] = 1;
    swapcontext(&fk_emu.threads[(size_t)fk_emu.current], &fk_emu.scheduler);
}

static inline unsigned char *fk_emu_dynamic_smem(void) { return fk_emu.dynamic_smem.data(); }

/* one launch: every block in order; without barriers each thread is a plain call */
static inline void fk_emu_run(dim3 grid, dim3 block, size_t smem, bool cooperative, const std::function<void()> &body)
{
    const int n = (int)(block.x * block.y * block.z);
    fk_emu.grid_dim = grid;
    fk_emu.block_dim = block;
    fk_emu.body = &body;
    fk_emu.cooperative = cooperative;
    fk_emu.dynamic_smem.assign(smem > 0 ? smem : 1, 0);
    if (cooperative && fk_emu.threads.size() < (size_t)n) {
        fk_emu.threads.resize((size_t)n);
        fk_emu.stacks.assign((size_t)n * fk_emu_stack_bytes, 0);
        fk_emu.phase.resize((size_t)n);
    }
    for (unsigned bz = 0; bz < grid.z; bz++)
        for (unsigned by = 0; by < grid.y; by++)
            for (unsigned bx = 0; bx < grid.x; bx++) {
                int t;
                fk_emu.block.x = bx;
                fk_emu.block.y = by;
                fk_emu.block.z = bz;
                if (!cooperative) {
                    for (t = 0; t < n; t++) {
                        fk_emu_select(t);
                        body();
                    }
                    continue;
                }
                for (t = 0; t < n; t++) {
                    ucontext_t *c = &fk_emu.threads[(size_t)t];
                    getcontext(c);
                    c->uc_stack.ss_sp = &fk_emu.stacks[(size_t)t * fk_emu_stack_bytes];
                    c->uc_stack.ss_size = fk_emu_stack_bytes;
                    c->uc_link = &fk_emu.scheduler;
                    makecontext(c, fk_emu_entry, 0);
                    fk_emu.phase[(size_t)t] = 0;
                }
                for (;;) {
                    int waiting = 0, finished = 0;
                    for (t = 0; t < n; t++) {
                        if (fk_emu.phase[(size_t)t] == 2) continue;
                        fk_emu_select(t);
                        fk_emu.phase[(size_t)t] = 0;
                        swapcontext(&fk_emu.scheduler, &fk_emu.threads[(size_t)t]);
                    }
                    for (t = 0; t < n; t++) {
                        waiting += fk_emu.phase[(size_t)t] == 1;
                        finished += fk_emu.phase[(size_t)t] == 2;
                    }
                    if (finished == n) break;
                    if (finished > 0 && waiting > 0) {
                        fprintf(stderr, "fk_cuda_host: block (%u,%u,%u): %d threads wait at __syncthreads, %d returned\n",
                                bx, by, bz, waiting, finished);
                        abort();
                    }
                }
            }
}

#define FK_LAUNCH(kernel, grid, block, smem, stream, ...) \
    ((void)(stream), fk_emu_run(grid, block, smem, false, [=]() { kernel(__VA_ARGS__); }))
#define FK_LAUNCH_SYNC(kernel, grid, block, smem, stream, ...) \
    ((void)(stream), fk_emu_run(grid, block, smem, true, [=]() { kernel(__VA_ARGS__); }))
#define FK_DYNAMIC_SMEM(type, name) type *name = (type *)fk_emu_dynamic_smem()

/* ---- __dp4a ---- */

static inline int __dp4a(int a, int b, int c)
{
    int e;
    for (e = 0; e < 4; e++) c += (int)(int8_t)(uint8_t)((unsigned)a >> (8 * e)) * (int)(int8_t)(uint8_t)((unsigned)b >> (8 * e));
    return c;
}

/* ---- fp16: IEEE binary16, round to nearest even ---- */

struct __half {
    uint16_t bits;
};
struct __half2 {
    __half x, y;
};

/* double -> half, rounding to nearest even once, from the double's bits */
static inline __half fk_emu_half_from_double(double v)
{
    uint64_t b, mant, full, rem, halfway;
    int e, shift;
    uint16_t sign, m;
    __half h;
    memcpy(&b, &v, sizeof b);
    sign = (uint16_t)((b >> 48) & 0x8000);
    e = (int)((b >> 52) & 0x7ff) - 1023;
    mant = b & ((1ull << 52) - 1);
    if (e == 1024) { /* inf, nan */
        h.bits = (uint16_t)(sign | 0x7c00 | (mant ? 0x200 : 0));
        return h;
    }
    if (e < -25) { /* below half of the smallest subnormal: zero */
        h.bits = sign;
        return h;
    }
    full = mant | (1ull << 52);
    /* a normal half keeps 10 fraction bits; a subnormal counts units of 2^-24 */
    shift = e >= -14 ? 42 : 28 - e;
    m = (uint16_t)(((e >= -14 ? mant : full) >> shift));
    rem = (e >= -14 ? mant : full) & ((1ull << shift) - 1);
    halfway = 1ull << (shift - 1);
    if (rem > halfway || (rem == halfway && (m & 1))) m++;
    if (e < -14) { /* a carry into bit 10 is the smallest normal: the same bits */
        h.bits = (uint16_t)(sign | m);
        return h;
    }
    if (m == 1024) {
        m = 0;
        e++;
    }
    h.bits = e > 15 ? (uint16_t)(sign | 0x7c00) : (uint16_t)(sign | ((e + 15) << 10) | m);
    return h;
}

/* half -> float through a table of all 65536 values, built on first use */
static inline float fk_emu_float(__half h)
{
    static float table[65536];
    static bool ready = false;
    if (!ready) {
        for (uint32_t i = 0; i < 65536; i++) {
            const int e = (int)(i >> 10) & 0x1f, f = (int)(i & 0x3ff);
            double v = e == 31 ? (f ? NAN : INFINITY) : e == 0 ? std::ldexp((double)f, -24)
                                                              : std::ldexp((double)(f | 0x400), e - 25);
            table[i] = (float)((i & 0x8000) ? -v : v);
        }
        ready = true;
    }
    return table[h.bits];
}
static inline double fk_emu_double(__half h) { return (double)fk_emu_float(h); }

/* float and double hold every half exactly, and a sum or product of two halves exactly
 * (double: 11 + 11 bits, exponents within 2^40 of each other); fma is rounded once from double */
static inline __half __float2half(float f) { return fk_emu_half_from_double((double)f); }
static inline float __half2float(__half h) { return fk_emu_float(h); }
static inline __half2 __halves2half2(__half a, __half b) { return __half2{a, b}; }
static inline __half2 __half2half2(__half a) { return __half2{a, a}; }
static inline __half2 __float2half2_rn(float f) { return __half2half2(__float2half(f)); }
static inline float __low2float(__half2 a) { return __half2float(a.x); }
static inline float __high2float(__half2 a) { return __half2float(a.y); }
/* float32 arithmetic rounded once each (the device's _rn intrinsics: never contracted) */
static inline float __fmul_rn(float a, float b) { return a * b; }
static inline float __fadd_rn(float a, float b) { return a + b; }
static inline float __fdiv_rn(float a, float b) { return a / b; }
static inline __half __hadd(__half a, __half b) { return fk_emu_half_from_double(fk_emu_double(a) + fk_emu_double(b)); }
static inline __half __hfma(__half a, __half b, __half c)
{
    return fk_emu_half_from_double(fk_emu_double(a) * fk_emu_double(b) + fk_emu_double(c));
}
static inline __half2 __hfma2(__half2 a, __half2 b, __half2 c)
{
    return __half2{__hfma(a.x, b.x, c.x), __hfma(a.y, b.y, c.y)};
}

/* ---- the runtime calls generated code makes, on host memory ---- */

typedef int cudaError_t;
enum { cudaSuccess = 0, cudaErrorInvalidValue = 1, cudaErrorMemoryAllocation = 2 };
typedef struct fk_emu_stream *cudaStream_t;
enum cudaMemcpyKind { cudaMemcpyHostToHost, cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost, cudaMemcpyDeviceToDevice };

static inline cudaError_t cudaMalloc(void **p, size_t n)
{
    *p = malloc(n > 0 ? n : 1);
    return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
static inline cudaError_t cudaFree(void *p)
{
    free(p);
    return cudaSuccess;
}
static inline cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t n, cudaMemcpyKind, cudaStream_t)
{
    if (n > 0 && (dst == NULL || src == NULL)) return cudaErrorInvalidValue;
    if (n > 0) memmove(dst, src, n);
    return cudaSuccess;
}
static inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
static inline cudaError_t cudaGetLastError(void)
{
    const cudaError_t e = fk_emu.last_error;
    fk_emu.last_error = cudaSuccess;
    return e;
}
/* events (bench/cuda_time.cu): the host's monotonic clock */
typedef struct fk_emu_event {
    double ms;
} *cudaEvent_t;
static inline cudaError_t cudaEventCreate(cudaEvent_t *e)
{
    *e = (cudaEvent_t)calloc(1, sizeof(struct fk_emu_event));
    return *e ? cudaSuccess : cudaErrorMemoryAllocation;
}
static inline cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t = NULL)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    e->ms = (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
    return cudaSuccess;
}
static inline cudaError_t cudaEventSynchronize(cudaEvent_t) { return cudaSuccess; }
static inline cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t a, cudaEvent_t b)
{
    *ms = (float)(b->ms - a->ms);
    return cudaSuccess;
}
static inline cudaError_t cudaEventDestroy(cudaEvent_t e)
{
    free(e);
    return cudaSuccess;
}
static inline cudaError_t cudaDeviceSynchronize(void) { return cudaSuccess; }

static inline const char *cudaGetErrorString(cudaError_t e)
{
    return e == cudaSuccess ? "no error" : e == cudaErrorMemoryAllocation ? "out of memory" : "invalid value";
}

#endif
