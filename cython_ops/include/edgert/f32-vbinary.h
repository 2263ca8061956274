/* Elementwise fp32 binary ops with a fused output clamp.
 *
 * Three forms per op, for i < n:
 *   v<op>    y[i] = clamp(a[i] op b[i])
 *   v<op>c   y[i] = clamp(a[i] op b[0])      (b is one scalar, read before any store, not at all when n == 0)
 *   vr<op>c  y[i] = clamp(b[0] op a[i])      (only for the non-commutative sub and div)
 * clamp(v) = v < p->min ? p->min : v > p->max ? p->max : v   (NaN passes; +-INFINITY for none).
 * y may alias a or b exactly (in place), no partial overlap. The operator layer reduces NumPy
 * broadcasting to calls of these on contiguous runs.
 *
 * max/min follow NumPy: NaN if either input is NaN, and a for ties (so max(-0, +0) = -0):
 *   max(a, b) = (a >= b || isnan(a)) ? a : b,   min(a, b) = (a <= b || isnan(a)) ? a : b.
 * Every SIMD variant matches the scalar spec bit for bit (NaN payloads aside); IEEE division is
 * correctly rounded everywhere, so div is exact too.
 */
#ifndef EDGERT_F32_VBINARY_H
#define EDGERT_F32_VBINARY_H

#include "edgert/common.h"

typedef void (*edgert_f32_vbinary_fn)(size_t n, const float* a, const float* b, float* y,
                                      const edgert_f32_minmax_params* p);

#define EDGERT_F32_VBINARY_PROTO(name) \
  void name(size_t n, const float* a, const float* b, float* y, const edgert_f32_minmax_params* p)

EDGERT_F32_VBINARY_PROTO(edgert_f32_vadd__scalar);
EDGERT_F32_VBINARY_PROTO(edgert_f32_vsub__scalar);
EDGERT_F32_VBINARY_PROTO(edgert_f32_vmul__scalar);
EDGERT_F32_VBINARY_PROTO(edgert_f32_vdiv__scalar);
EDGERT_F32_VBINARY_PROTO(edgert_f32_vmax__scalar);
EDGERT_F32_VBINARY_PROTO(edgert_f32_vmin__scalar);
EDGERT_F32_VBINARY_PROTO(edgert_f32_vaddc__scalar);
EDGERT_F32_VBINARY_PROTO(edgert_f32_vsubc__scalar);
EDGERT_F32_VBINARY_PROTO(edgert_f32_vmulc__scalar);
EDGERT_F32_VBINARY_PROTO(edgert_f32_vdivc__scalar);
EDGERT_F32_VBINARY_PROTO(edgert_f32_vmaxc__scalar);
EDGERT_F32_VBINARY_PROTO(edgert_f32_vminc__scalar);
EDGERT_F32_VBINARY_PROTO(edgert_f32_vrsubc__scalar);
EDGERT_F32_VBINARY_PROTO(edgert_f32_vrdivc__scalar);

#if EDGERT_ARCH_X86_64
/* Requires AVX2 + FMA3 (edgert_cpu()->avx2_fma). */
EDGERT_F32_VBINARY_PROTO(edgert_f32_vadd__avx2);
EDGERT_F32_VBINARY_PROTO(edgert_f32_vsub__avx2);
EDGERT_F32_VBINARY_PROTO(edgert_f32_vmul__avx2);
EDGERT_F32_VBINARY_PROTO(edgert_f32_vdiv__avx2);
EDGERT_F32_VBINARY_PROTO(edgert_f32_vmax__avx2);
EDGERT_F32_VBINARY_PROTO(edgert_f32_vmin__avx2);
EDGERT_F32_VBINARY_PROTO(edgert_f32_vaddc__avx2);
EDGERT_F32_VBINARY_PROTO(edgert_f32_vsubc__avx2);
EDGERT_F32_VBINARY_PROTO(edgert_f32_vmulc__avx2);
EDGERT_F32_VBINARY_PROTO(edgert_f32_vdivc__avx2);
EDGERT_F32_VBINARY_PROTO(edgert_f32_vmaxc__avx2);
EDGERT_F32_VBINARY_PROTO(edgert_f32_vminc__avx2);
EDGERT_F32_VBINARY_PROTO(edgert_f32_vrsubc__avx2);
EDGERT_F32_VBINARY_PROTO(edgert_f32_vrdivc__avx2);
#endif

#if EDGERT_ARCH_ARM64
EDGERT_F32_VBINARY_PROTO(edgert_f32_vadd__neon);
EDGERT_F32_VBINARY_PROTO(edgert_f32_vsub__neon);
EDGERT_F32_VBINARY_PROTO(edgert_f32_vmul__neon);
EDGERT_F32_VBINARY_PROTO(edgert_f32_vdiv__neon);
EDGERT_F32_VBINARY_PROTO(edgert_f32_vmax__neon);
EDGERT_F32_VBINARY_PROTO(edgert_f32_vmin__neon);
EDGERT_F32_VBINARY_PROTO(edgert_f32_vaddc__neon);
EDGERT_F32_VBINARY_PROTO(edgert_f32_vsubc__neon);
EDGERT_F32_VBINARY_PROTO(edgert_f32_vmulc__neon);
EDGERT_F32_VBINARY_PROTO(edgert_f32_vdivc__neon);
EDGERT_F32_VBINARY_PROTO(edgert_f32_vmaxc__neon);
EDGERT_F32_VBINARY_PROTO(edgert_f32_vminc__neon);
EDGERT_F32_VBINARY_PROTO(edgert_f32_vrsubc__neon);
EDGERT_F32_VBINARY_PROTO(edgert_f32_vrdivc__neon);
#endif

#undef EDGERT_F32_VBINARY_PROTO

#endif /* EDGERT_F32_VBINARY_H */
