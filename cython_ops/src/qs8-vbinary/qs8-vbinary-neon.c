#include <arm_neon.h>

#include "edgert/qs8-vbinary.h"

#include "../qs8-common/qs8-neon.h"

/* 16 elements per step; the spec's float steps one for one (separate vmulq/vaddq, no FMA).
 * Tails go through 16-byte copies. */

EDGERT_INLINE int8x16_t add16(int8x16_t a, int8x16_t b, const edgert_qs8_binary_params* p,
                              const qs8n_out* o, const int scalar_b, float32x4_t fb) {
  int32x4_t wa[4], wb[4], q[4];
  qs8n_widen16(a, wa);
  if (!scalar_b) qs8n_widen16(b, wb);
  const int32x4_t za = vdupq_n_s32(p->a_zero_point), zb = vdupq_n_s32(p->b_zero_point);
  const float32x4_t am = vdupq_n_f32(p->a_mult), bm = vdupq_n_f32(p->b_mult);
  for (int i = 0; i < 4; i++) {
    const float32x4_t fa = vmulq_f32(vcvtq_f32_s32(vsubq_s32(wa[i], za)), am);
    const float32x4_t fbi = scalar_b ? fb : vmulq_f32(vcvtq_f32_s32(vsubq_s32(wb[i], zb)), bm);
    q[i] = qs8n_output4(vaddq_f32(fa, fbi), o);
  }
  return qs8n_narrow16(q);
}

EDGERT_INLINE int8x16_t mul16(int8x16_t a, int8x16_t b, const edgert_qs8_binary_params* p,
                              const qs8n_out* o, const int scalar_b, int32x4_t xb) {
  int32x4_t wa[4], wb[4], q[4];
  qs8n_widen16(a, wa);
  if (!scalar_b) qs8n_widen16(b, wb);
  const int32x4_t za = vdupq_n_s32(p->a_zero_point), zb = vdupq_n_s32(p->b_zero_point);
  const float32x4_t m = vdupq_n_f32(p->a_mult);
  for (int i = 0; i < 4; i++) {
    const int32x4_t xbi = scalar_b ? xb : vsubq_s32(wb[i], zb);
    /* |(a - za) * (b - zb)| <= 255 * 255: exact in int32 and in float. */
    const int32x4_t prod = vmulq_s32(vsubq_s32(wa[i], za), xbi);
    q[i] = qs8n_output4(vmulq_f32(vcvtq_f32_s32(prod), m), o);
  }
  return qs8n_narrow16(q);
}

void edgert_qs8_vadd__neon(size_t n, const int8_t* a, const int8_t* b, int8_t* y,
                           const edgert_qs8_binary_params* p) {
  const qs8n_out o = qs8n_out_make(&p->out);
  for (size_t i = 0; i < n; i += 16) {
    const size_t m = n - i;
    qs8n_store16(y + i, add16(qs8n_load16(a + i, m), qs8n_load16(b + i, m), p, &o, 0, vdupq_n_f32(0.0f)), m);
  }
}

void edgert_qs8_vaddc__neon(size_t n, const int8_t* a, const int8_t* b, int8_t* y,
                            const edgert_qs8_binary_params* p) {
  const qs8n_out o = qs8n_out_make(&p->out);
  const float32x4_t fb = vdupq_n_f32((float)(b[0] - p->b_zero_point) * p->b_mult);
  for (size_t i = 0; i < n; i += 16) {
    const size_t m = n - i;
    qs8n_store16(y + i, add16(qs8n_load16(a + i, m), vdupq_n_s8(0), p, &o, 1, fb), m);
  }
}

void edgert_qs8_vmul__neon(size_t n, const int8_t* a, const int8_t* b, int8_t* y,
                           const edgert_qs8_binary_params* p) {
  const qs8n_out o = qs8n_out_make(&p->out);
  for (size_t i = 0; i < n; i += 16) {
    const size_t m = n - i;
    qs8n_store16(y + i, mul16(qs8n_load16(a + i, m), qs8n_load16(b + i, m), p, &o, 0, vdupq_n_s32(0)), m);
  }
}

void edgert_qs8_vmulc__neon(size_t n, const int8_t* a, const int8_t* b, int8_t* y,
                            const edgert_qs8_binary_params* p) {
  const qs8n_out o = qs8n_out_make(&p->out);
  const int32x4_t xb = vdupq_n_s32(b[0] - p->b_zero_point);
  for (size_t i = 0; i < n; i += 16) {
    const size_t m = n - i;
    qs8n_store16(y + i, mul16(qs8n_load16(a + i, m), vdupq_n_s8(0), p, &o, 1, xb), m);
  }
}
