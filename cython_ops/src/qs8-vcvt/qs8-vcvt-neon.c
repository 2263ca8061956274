#include <arm_neon.h>

#include "edgert/qs8-vcvt.h"

#include "../qs8-common/qs8-neon.h"

/* 4 floats -> 4 int32 in [-128, 127] per the spec: true division, NaN -> 0 (then + zp), clamp in
 * float, round half to even, + zp. */
EDGERT_INLINE int32x4_t quantize4(float32x4_t x, float32x4_t scale, const qs8n_out* o) {
  float32x4_t f = vdivq_f32(x, scale);
  f = vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(f), vceqq_f32(f, f))); /* NaN -> 0 */
  return qs8n_output4(f, o);
}

void edgert_qs8_quantize__neon(size_t n, const float* x, int8_t* y, float scale,
                               int32_t zero_point) {
  const edgert_qs8_output_params p = {zero_point, -128, 127};
  const qs8n_out o = qs8n_out_make(&p);
  const float32x4_t vs = vdupq_n_f32(scale);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    int32x4_t q[4];
    for (int j = 0; j < 4; j++) q[j] = quantize4(vld1q_f32(x + i + 4 * j), vs, &o);
    vst1q_s8(y + i, qs8n_narrow16(q));
  }
  for (; i < n; i++) y[i] = edgert_qs8_quantize(x[i], scale, zero_point);
}

void edgert_qs8_quantize_nchw__neon(size_t C, size_t HW, size_t p0, size_t p1, const float* x,
                                    int8_t* y, float scale, int32_t zero_point) {
  const edgert_qs8_output_params p = {zero_point, -128, 127};
  const qs8n_out o = qs8n_out_make(&p);
  const float32x4_t vs = vdupq_n_f32(scale);
  size_t px = p0;
  if (C == 3) { /* RGB images: vst3q interleaves three 16-pixel runs */
    for (; px + 16 <= p1; px += 16) {
      int8x16x3_t rgb;
      for (size_t c = 0; c < 3; c++) {
        int32x4_t q[4];
        for (int j = 0; j < 4; j++) q[j] = quantize4(vld1q_f32(x + c * HW + px + 4 * j), vs, &o);
        rgb.val[c] = qs8n_narrow16(q);
      }
      vst3q_s8(y + px * 3, rgb);
    }
  }
  /* 16 pixels at a time: quantize each plane's run, then interleave the C planes. */
  if (C <= 16) {
    for (; px + 16 <= p1; px += 16) {
      int8_t planes[16][16];
      for (size_t c = 0; c < C; c++) {
        int32x4_t q[4];
        for (int j = 0; j < 4; j++) q[j] = quantize4(vld1q_f32(x + c * HW + px + 4 * j), vs, &o);
        vst1q_s8(planes[c], qs8n_narrow16(q));
      }
      for (size_t i = 0; i < 16; i++)
        for (size_t c = 0; c < C; c++) y[(px + i) * C + c] = planes[c][i];
    }
  }
  for (; px < p1; px++)
    for (size_t c = 0; c < C; c++) y[px * C + c] = edgert_qs8_quantize(x[c * HW + px], scale, zero_point);
}

void edgert_qs8_dequantize__neon(size_t n, const int8_t* x, float* y, float scale,
                                 int32_t zero_point) {
  const float32x4_t vs = vdupq_n_f32(scale);
  const int32x4_t zp = vdupq_n_s32(zero_point);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    int32x4_t w[4];
    qs8n_widen16(vld1q_s8(x + i), w);
    for (int j = 0; j < 4; j++) vst1q_f32(y + i + 4 * j, vmulq_f32(vcvtq_f32_s32(vsubq_s32(w[j], zp)), vs));
  }
  for (; i < n; i++) y[i] = edgert_qs8_dequantize(x[i], scale, zero_point);
}
