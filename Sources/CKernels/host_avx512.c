/* fk_host.h's AVX-512 build on x86-64 of the kernels that have AVX-512 paths (fk_pointwise_quad,
 * fk_depthwise, fk_conv_dense), compiled as if with -mavx2 -mavx512f -mavx512bw -mavx512vl
 * -mavx512vnni, called by host.c only where the CPU and the OS have them all */
#if defined(__x86_64__) && !defined(__AVX2__) && defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,avx512f,avx512bw,avx512vl,avx512vnni"))), apply_to = function)
#define __AVX2__ 1
#define __AVX512F__ 1
#define __AVX512BW__ 1
#define __AVX512VL__ 1
#define __AVX512VNNI__ 1
#include "fk_host.h"
#include "fk_int8.h"

FK_HOST_POINTWISE(fk_host_pointwise_quad_avx512) { fk_pointwise_quad(FK_HOST_POINTWISE_ARGS); }
FK_HOST_DEPTHWISE(fk_host_depthwise_avx512) { fk_depthwise(FK_HOST_DEPTHWISE_ARGS); }
FK_HOST_CONV_DENSE(fk_host_conv_dense_avx512) { fk_conv_dense(FK_HOST_CONV_DENSE_ARGS); }
#pragma clang attribute pop
#else
/* an empty translation unit is not ISO C */
typedef int fk_host_avx512_unused;
#endif
