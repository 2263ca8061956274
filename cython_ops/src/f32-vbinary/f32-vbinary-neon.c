/* aarch64 NEON fp32 binary ops with the fused output clamp; bit for bit the scalar spec. */
#include <arm_neon.h>
#include <string.h>

#include "edgert/f32-vbinary.h"

typedef float32x4_t (*op_neon)(float32x4_t a, float32x4_t b);

/* Compare-select rather than FMAX/FMIN: those turn max(-0, +0) into +0, the scalar spec keeps v. */
EDGERT_INLINE float32x4_t clamp_neon(float32x4_t v, float32x4_t lo, float32x4_t hi) {
  v = vbslq_f32(vcltq_f32(v, lo), lo, v);
  return vbslq_f32(vcgtq_f32(v, hi), hi, v);
}

static inline float32x4_t add_op(float32x4_t a, float32x4_t b) { return vaddq_f32(a, b); }
static inline float32x4_t sub_op(float32x4_t a, float32x4_t b) { return vsubq_f32(a, b); }
static inline float32x4_t mul_op(float32x4_t a, float32x4_t b) { return vmulq_f32(a, b); }
static inline float32x4_t div_op(float32x4_t a, float32x4_t b) { return vdivq_f32(a, b); }

/* a where a >= b or a is NaN, else b (the spec); FMAX would also differ on max(-0, +0). */
static inline float32x4_t max_op(float32x4_t a, float32x4_t b) {
  return vbslq_f32(vornq_u32(vcgeq_f32(a, b), vceqq_f32(a, a)), a, b);
}
static inline float32x4_t min_op(float32x4_t a, float32x4_t b) {
  return vbslq_f32(vornq_u32(vcleq_f32(a, b), vceqq_f32(a, a)), a, b);
}

/* Two vectors per iteration, then one, then the 1..3 element tail through a stack buffer so
 * nothing past the last element is touched. */
EDGERT_INLINE void map_vv(size_t n, const float* a, const float* b, float* y,
                          const edgert_f32_minmax_params* p, op_neon op) {
  const float32x4_t lo = vdupq_n_f32(p->min), hi = vdupq_n_f32(p->max);
  for (; n >= 8; n -= 8) {
    const float32x4_t y0 = clamp_neon(op(vld1q_f32(a), vld1q_f32(b)), lo, hi);
    const float32x4_t y1 = clamp_neon(op(vld1q_f32(a + 4), vld1q_f32(b + 4)), lo, hi);
    vst1q_f32(y, y0);
    vst1q_f32(y + 4, y1);
    a += 8;
    b += 8;
    y += 8;
  }
  if (n >= 4) {
    vst1q_f32(y, clamp_neon(op(vld1q_f32(a), vld1q_f32(b)), lo, hi));
    a += 4;
    b += 4;
    y += 4;
    n -= 4;
  }
  if (n != 0) {
    float a_buffer[4] = {0.0f, 0.0f, 0.0f, 0.0f}, b_buffer[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    memcpy(a_buffer, a, n * sizeof(float));
    memcpy(b_buffer, b, n * sizeof(float));
    vst1q_f32(a_buffer, clamp_neon(op(vld1q_f32(a_buffer), vld1q_f32(b_buffer)), lo, hi));
    memcpy(y, a_buffer, n * sizeof(float));
  }
}

/* b[0] is broadcast before any store, so y may alias b; with n == 0 b is not read at all.
 * reversed: op(b[0], a[i]). */
EDGERT_INLINE void map_vs(size_t n, const float* a, const float* b, float* y,
                          const edgert_f32_minmax_params* p, op_neon op, int reversed) {
  if (n == 0) return;
  const float32x4_t lo = vdupq_n_f32(p->min), hi = vdupq_n_f32(p->max);
  const float32x4_t vb = vdupq_n_f32(b[0]);
  for (; n >= 8; n -= 8) {
    const float32x4_t a0 = vld1q_f32(a), a1 = vld1q_f32(a + 4);
    vst1q_f32(y, clamp_neon(reversed ? op(vb, a0) : op(a0, vb), lo, hi));
    vst1q_f32(y + 4, clamp_neon(reversed ? op(vb, a1) : op(a1, vb), lo, hi));
    a += 8;
    y += 8;
  }
  if (n >= 4) {
    const float32x4_t a0 = vld1q_f32(a);
    vst1q_f32(y, clamp_neon(reversed ? op(vb, a0) : op(a0, vb), lo, hi));
    a += 4;
    y += 4;
    n -= 4;
  }
  if (n != 0) {
    float buffer[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    memcpy(buffer, a, n * sizeof(float));
    const float32x4_t a0 = vld1q_f32(buffer);
    vst1q_f32(buffer, clamp_neon(reversed ? op(vb, a0) : op(a0, vb), lo, hi));
    memcpy(y, buffer, n * sizeof(float));
  }
}

void edgert_f32_vadd__neon(size_t n, const float* a, const float* b, float* y,
                           const edgert_f32_minmax_params* p) {
  map_vv(n, a, b, y, p, add_op);
}

void edgert_f32_vsub__neon(size_t n, const float* a, const float* b, float* y,
                           const edgert_f32_minmax_params* p) {
  map_vv(n, a, b, y, p, sub_op);
}

void edgert_f32_vmul__neon(size_t n, const float* a, const float* b, float* y,
                           const edgert_f32_minmax_params* p) {
  map_vv(n, a, b, y, p, mul_op);
}

void edgert_f32_vdiv__neon(size_t n, const float* a, const float* b, float* y,
                           const edgert_f32_minmax_params* p) {
  map_vv(n, a, b, y, p, div_op);
}

void edgert_f32_vmax__neon(size_t n, const float* a, const float* b, float* y,
                           const edgert_f32_minmax_params* p) {
  map_vv(n, a, b, y, p, max_op);
}

void edgert_f32_vmin__neon(size_t n, const float* a, const float* b, float* y,
                           const edgert_f32_minmax_params* p) {
  map_vv(n, a, b, y, p, min_op);
}


void edgert_f32_vaddc__neon(size_t n, const float* a, const float* b, float* y,
                            const edgert_f32_minmax_params* p) {
  map_vs(n, a, b, y, p, add_op, 0);
}

void edgert_f32_vsubc__neon(size_t n, const float* a, const float* b, float* y,
                            const edgert_f32_minmax_params* p) {
  map_vs(n, a, b, y, p, sub_op, 0);
}

void edgert_f32_vmulc__neon(size_t n, const float* a, const float* b, float* y,
                            const edgert_f32_minmax_params* p) {
  map_vs(n, a, b, y, p, mul_op, 0);
}

void edgert_f32_vdivc__neon(size_t n, const float* a, const float* b, float* y,
                            const edgert_f32_minmax_params* p) {
  map_vs(n, a, b, y, p, div_op, 0);
}

void edgert_f32_vmaxc__neon(size_t n, const float* a, const float* b, float* y,
                            const edgert_f32_minmax_params* p) {
  map_vs(n, a, b, y, p, max_op, 0);
}

void edgert_f32_vminc__neon(size_t n, const float* a, const float* b, float* y,
                            const edgert_f32_minmax_params* p) {
  map_vs(n, a, b, y, p, min_op, 0);
}


void edgert_f32_vrsubc__neon(size_t n, const float* a, const float* b, float* y,
                             const edgert_f32_minmax_params* p) {
  map_vs(n, a, b, y, p, sub_op, 1);
}

void edgert_f32_vrdivc__neon(size_t n, const float* a, const float* b, float* y,
                             const edgert_f32_minmax_params* p) {
  map_vs(n, a, b, y, p, div_op, 1);
}

