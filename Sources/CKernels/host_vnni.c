/* fk_host.h's AVX-VNNI build of the 1x1 kernel on x86-64: fk_pointwise_quad compiled as if with
 * -mavx2 -mavxvnni (its VPDPBUSD path), called by host.c only where the CPU and the OS have both */
#if defined(__x86_64__) && !defined(__AVX2__) && defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,avxvnni"))), apply_to = function)
#define __AVX2__ 1
#define __AVXVNNI__ 1
#include "fk_host.h"
#include "fk_int8.h"

FK_HOST_POINTWISE(fk_host_pointwise_quad_vnni) { fk_pointwise_quad(FK_HOST_POINTWISE_ARGS); }
#pragma clang attribute pop
#else
/* an empty translation unit is not ISO C */
typedef int fk_host_vnni_unused;
#endif
