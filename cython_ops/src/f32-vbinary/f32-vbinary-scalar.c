/* Scalar spec of the fp32 binary ops (see edgert/f32-vbinary.h); the reference every SIMD
 * variant must match bit for bit, and the fallback where none runs. */
#include <math.h>

#include "edgert/f32-vbinary.h"

typedef float (*op_scalar)(float a, float b);

/* Compare-select so NaN passes through (fmaxf/fminf would drop it). */
static inline float clamp_scalar(float v, float lo, float hi) {
  v = v < lo ? lo : v;
  return v > hi ? hi : v;
}

static inline float add_op(float a, float b) { return a + b; }
static inline float sub_op(float a, float b) { return a - b; }
static inline float mul_op(float a, float b) { return a * b; }
static inline float div_op(float a, float b) { return a / b; }
static inline float max_op(float a, float b) { return a >= b || isnan(a) ? a : b; }
static inline float min_op(float a, float b) { return a <= b || isnan(a) ? a : b; }

EDGERT_INLINE void map_vv(size_t n, const float* a, const float* b, float* y,
                          const edgert_f32_minmax_params* p, op_scalar op) {
  const float lo = p->min, hi = p->max;
  for (size_t i = 0; i < n; i++) y[i] = clamp_scalar(op(a[i], b[i]), lo, hi);
}

/* b[0] is read once, before any store, so y may alias b; with n == 0 b is not read at all. */
EDGERT_INLINE void map_vs(size_t n, const float* a, const float* b, float* y,
                          const edgert_f32_minmax_params* p, op_scalar op) {
  if (n == 0) return;
  const float lo = p->min, hi = p->max, b0 = b[0];
  for (size_t i = 0; i < n; i++) y[i] = clamp_scalar(op(a[i], b0), lo, hi);
}

EDGERT_INLINE void map_sv(size_t n, const float* a, const float* b, float* y,
                          const edgert_f32_minmax_params* p, op_scalar op) {
  if (n == 0) return;
  const float lo = p->min, hi = p->max, b0 = b[0];
  for (size_t i = 0; i < n; i++) y[i] = clamp_scalar(op(b0, a[i]), lo, hi);
}

void edgert_f32_vadd__scalar(size_t n, const float* a, const float* b, float* y,
                             const edgert_f32_minmax_params* p) {
  map_vv(n, a, b, y, p, add_op);
}

void edgert_f32_vsub__scalar(size_t n, const float* a, const float* b, float* y,
                             const edgert_f32_minmax_params* p) {
  map_vv(n, a, b, y, p, sub_op);
}

void edgert_f32_vmul__scalar(size_t n, const float* a, const float* b, float* y,
                             const edgert_f32_minmax_params* p) {
  map_vv(n, a, b, y, p, mul_op);
}

void edgert_f32_vdiv__scalar(size_t n, const float* a, const float* b, float* y,
                             const edgert_f32_minmax_params* p) {
  map_vv(n, a, b, y, p, div_op);
}

void edgert_f32_vmax__scalar(size_t n, const float* a, const float* b, float* y,
                             const edgert_f32_minmax_params* p) {
  map_vv(n, a, b, y, p, max_op);
}

void edgert_f32_vmin__scalar(size_t n, const float* a, const float* b, float* y,
                             const edgert_f32_minmax_params* p) {
  map_vv(n, a, b, y, p, min_op);
}


void edgert_f32_vaddc__scalar(size_t n, const float* a, const float* b, float* y,
                              const edgert_f32_minmax_params* p) {
  map_vs(n, a, b, y, p, add_op);
}

void edgert_f32_vsubc__scalar(size_t n, const float* a, const float* b, float* y,
                              const edgert_f32_minmax_params* p) {
  map_vs(n, a, b, y, p, sub_op);
}

void edgert_f32_vmulc__scalar(size_t n, const float* a, const float* b, float* y,
                              const edgert_f32_minmax_params* p) {
  map_vs(n, a, b, y, p, mul_op);
}

void edgert_f32_vdivc__scalar(size_t n, const float* a, const float* b, float* y,
                              const edgert_f32_minmax_params* p) {
  map_vs(n, a, b, y, p, div_op);
}

void edgert_f32_vmaxc__scalar(size_t n, const float* a, const float* b, float* y,
                              const edgert_f32_minmax_params* p) {
  map_vs(n, a, b, y, p, max_op);
}

void edgert_f32_vminc__scalar(size_t n, const float* a, const float* b, float* y,
                              const edgert_f32_minmax_params* p) {
  map_vs(n, a, b, y, p, min_op);
}


void edgert_f32_vrsubc__scalar(size_t n, const float* a, const float* b, float* y,
                               const edgert_f32_minmax_params* p) {
  map_sv(n, a, b, y, p, sub_op);
}

void edgert_f32_vrdivc__scalar(size_t n, const float* a, const float* b, float* y,
                               const edgert_f32_minmax_params* p) {
  map_sv(n, a, b, y, p, div_op);
}

