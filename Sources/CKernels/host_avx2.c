/* fk_host.h's AVX2 build on x86-64: the kernels of fk_int8.h compiled as if with -mavx2 (every
 * function here targets AVX2, and __AVX2__ selects their AVX2 paths), called by host.c only where
 * the CPU and the OS have AVX2 */
#if defined(__x86_64__) && !defined(__AVX2__) && defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2"))), apply_to = function)
#define __AVX2__ 1
#include "fk_host.h"
#include "fk_int8.h"

FK_HOST_POINTWISE(fk_host_pointwise_avx2) { fk_pointwise(FK_HOST_POINTWISE_ARGS); }
FK_HOST_POINTWISE(fk_host_pointwise_quad_avx2) { fk_pointwise_quad(FK_HOST_POINTWISE_ARGS); }
FK_HOST_DEPTHWISE(fk_host_depthwise_avx2) { fk_depthwise(FK_HOST_DEPTHWISE_ARGS); }
FK_HOST_CONV_DENSE(fk_host_conv_dense_avx2) { fk_conv_dense(FK_HOST_CONV_DENSE_ARGS); }
FK_HOST_CONV(fk_host_conv_avx2) { fk_conv(FK_HOST_CONV_ARGS); }
#pragma clang attribute pop
#else
/* an empty translation unit is not ISO C */
typedef int fk_host_avx2_unused;
#endif
