/* fk_host.h: the portable build of the layer kernels (NEON on aarch64, which every aarch64 CPU
 * has), and on x86-64 the choice of host_avx2.c's build where the CPU and the OS have AVX2, of
 * host_avx512.c's kernels where they have AVX-512 F, BW, VL and VNNI too, else of host_vnni.c's
 * 1x1 kernel where they have AVX-VNNI */
#include "fk_host.h"
#include "fk_int8.h"

#if defined(__x86_64__) && !defined(__AVX2__) && defined(__clang__)
#include <cpuid.h>
#define FK_HOST_DISPATCH 1
FK_HOST_POINTWISE(fk_host_pointwise_avx2);
FK_HOST_POINTWISE(fk_host_pointwise_quad_avx2);
FK_HOST_POINTWISE(fk_host_pointwise_quad_vnni);
FK_HOST_POINTWISE(fk_host_pointwise_quad_avx512);
FK_HOST_DEPTHWISE(fk_host_depthwise_avx512);
FK_HOST_CONV_DENSE(fk_host_conv_dense_avx512);
FK_HOST_DEPTHWISE(fk_host_depthwise_avx2);
FK_HOST_CONV_DENSE(fk_host_conv_dense_avx2);
FK_HOST_CONV(fk_host_conv_avx2);

/* CPUID leaf 7 EBX bit 5 (AVX2), leaf 1 ECX bits 27 (OSXSAVE) and 28 (AVX), and XCR0 bits 1-2
 * (the OS saves the XMM and YMM state) */
static int fk_host_avx2(void)
{
    unsigned a, b, c, d, lo, hi;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27)) || !(c & (1u << 28))) return 0;
    __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    (void)hi;
    if ((lo & 6u) != 6u) return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (b & (1u << 5)) != 0;
}
/* and CPUID leaf 7 subleaf 1 EAX bit 4 (AVX-VNNI) */
static int fk_host_vnni(void)
{
    unsigned a, b, c, d;
    if (!fk_host_avx2() || !__get_cpuid_count(7, 1, &a, &b, &c, &d)) return 0;
    return (a & (1u << 4)) != 0;
}
/* and CPUID leaf 7 EBX bits 16 (AVX512F), 30 (AVX512BW) and 31 (AVX512VL), ECX bit 11
 * (AVX512_VNNI), and XCR0 bits 5-7 (the OS saves the mask and ZMM state) */
static int fk_host_avx512(void)
{
    unsigned a, b, c, d, lo, hi;
    if (!fk_host_avx2() || !__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    if (!(b & (1u << 16)) || !(b & (1u << 30)) || !(b & (1u << 31)) || !(c & (1u << 11))) return 0;
    __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    (void)hi;
    return (lo & 0xE0u) == 0xE0u;
}
/* the AVX-512 build where there is one, then the AVX2 one (FK_HOST_CALL's body again: args, a
 * comma list once expanded, cannot be handed on to another macro) */
#define FK_HOST_CALL512(kernel, args)                                                                           \
    do {                                                                                                        \
        if (fk_host_avx512()) {                                                                                 \
            fk_host_##kernel##_avx512(args);                                                                    \
            return;                                                                                             \
        }                                                                                                       \
        if (fk_host_avx2()) {                                                                                   \
            fk_host_##kernel##_avx2(args);                                                                      \
            return;                                                                                             \
        }                                                                                                       \
        fk_##kernel(args);                                                                                      \
    } while (0)
#define FK_HOST_CALL(kernel, args)                                                                              \
    do {                                                                                                        \
        if (fk_host_avx2()) {                                                                                   \
            fk_host_##kernel##_avx2(args);                                                                      \
            return;                                                                                             \
        }                                                                                                       \
        fk_##kernel(args);                                                                                      \
    } while (0)
#else
#define FK_HOST_CALL(kernel, args) fk_##kernel(args)
#define FK_HOST_CALL512(kernel, args) fk_##kernel(args)
#endif

FK_HOST_POINTWISE(fk_host_pointwise) { FK_HOST_CALL(pointwise, FK_HOST_POINTWISE_ARGS); }
FK_HOST_POINTWISE(fk_host_pointwise_quad)
{
#if defined(FK_HOST_DISPATCH)
    if (fk_host_avx512()) {
        fk_host_pointwise_quad_avx512(FK_HOST_POINTWISE_ARGS);
        return;
    }
    if (fk_host_vnni()) {
        fk_host_pointwise_quad_vnni(FK_HOST_POINTWISE_ARGS);
        return;
    }
#endif
    FK_HOST_CALL(pointwise_quad, FK_HOST_POINTWISE_ARGS);
}
FK_HOST_POINTWISE(fk_host_pointwise_dot) { fk_pointwise_dot(FK_HOST_POINTWISE_ARGS); }
FK_HOST_DEPTHWISE(fk_host_depthwise) { FK_HOST_CALL512(depthwise, FK_HOST_DEPTHWISE_ARGS); }
FK_HOST_CONV_DENSE(fk_host_conv_dense) { FK_HOST_CALL512(conv_dense, FK_HOST_CONV_DENSE_ARGS); }
FK_HOST_CONV(fk_host_conv) { FK_HOST_CALL(conv, FK_HOST_CONV_ARGS); }

const char *fk_host_simd(void)
{
#if defined(FK_HOST_DISPATCH)
    return fk_host_avx512() ? "avx512+vnni"
           : fk_host_vnni() ? "avx2+vnni"
           : fk_host_avx2() ? "avx2"
                            : "portable";
#elif defined(__AVX2__) && defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) &&                  \
    defined(__AVX512VNNI__)
    return "avx512+vnni";
#elif defined(__AVX2__) && (defined(__AVXVNNI__) || (defined(__AVX512VNNI__) && defined(__AVX512VL__)))
    return "avx2+vnni";
#elif defined(__AVX2__)
    return "avx2";
#elif defined(__ARM_NEON) && defined(__aarch64__)
    return "neon";
#else
    return "portable";
#endif
}
