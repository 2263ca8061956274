/* int8 SKA, NEON (edgert/qs8-ska.h): 8 channels per step as two 4-lane halves; otherwise as the AVX2
 * variant (centred tap weights collected once per pixel and 8-group block; the spec's float
 * operations in its order: bit-exact). Needs G % 8 == 0; else the spec. */
#include <arm_neon.h>

#include "edgert/f32-ska.h"
#include "edgert/qs8-ska.h"

static inline float32x4_t requant_tap(int32x4_t xv, int32x4_t wv, float32x4_t mult, float32x4_t lo,
                                      float32x4_t hi, float32x4_t magic, float32x4_t dqs) {
  float32x4_t f = vmulq_f32(vcvtq_f32_s32(vmulq_s32(xv, wv)), mult);
  f = vminq_f32(vmaxq_f32(f, lo), hi);
  f = vsubq_f32(vaddq_f32(f, magic), magic);
  return vmulq_f32(f, dqs);
}

static inline int32x4_t quantize4(float32x4_t sum, float32x4_t yscale, float32x4_t ylo, float32x4_t yhi,
                                  float32x4_t magic, int32x4_t yzp) {
  float32x4_t v = vminq_f32(vmaxq_f32(vdivq_f32(sum, yscale), ylo), yhi);
  v = vsubq_f32(vaddq_f32(v, magic), magic);
  return vaddq_s32(vcvtq_s32_f32(v), yzp);
}

void edgert_qs8_ska__neon(size_t H, size_t W, size_t C, size_t G, size_t k, const int8_t* x,
                          const int8_t* wt, int8_t* y, size_t row_begin, size_t row_end,
                          const edgert_qs8_ska_params* prm) {
  const size_t kk = k * k, reps = C / G;
  if (G % 8 != 0 || kk > EDGERT_QS8_SKA_MAX_TAPS) {
    edgert_qs8_ska__scalar(H, W, C, G, k, x, wt, y, row_begin, row_end, prm);
    return;
  }
  const int32x4_t xzp = vdupq_n_s32(prm->x_zero_point), yzp = vdupq_n_s32(prm->y_zero_point);
  const float32x4_t magic = vdupq_n_f32(12582912.0f), yscale = vdupq_n_f32(prm->y_scale);
  const float32x4_t ylo = vdupq_n_f32((float)(-128 - prm->y_zero_point));
  const float32x4_t yhi = vdupq_n_f32((float)(127 - prm->y_zero_point));
  size_t xoff[EDGERT_QS8_SKA_MAX_TAPS], tap[EDGERT_QS8_SKA_MAX_TAPS];
  int32_t wv[EDGERT_QS8_SKA_MAX_TAPS][8];
  for (size_t h = row_begin; h < row_end; h++) {
    for (size_t w = 0; w < W; w++) {
      const size_t n = edgert_f32_ska_inner_taps(H, W, C, k, h, w, 1, xoff, tap);
      const int8_t* kern = wt + (h * W + w) * G * kk;
      int8_t* out = y + (h * W + w) * C;
      for (size_t g = 0; g < G; g += 8) {
        edgert_qs8_ska_group_taps(kern, g, kk, n, tap, prm->w_zero_point, wv);
        for (size_t r = 0; r < reps; r++) {
          const size_t c0 = r * G + g;
          float32x4_t s0 = vdupq_n_f32(0.0f), s1 = vdupq_n_f32(0.0f);
          for (size_t q = 0; q < n; q++) {
            const size_t t = tap[q];
            const int16x8_t x16 = vmovl_s8(vld1_s8(x + xoff[q] + c0));
            const int32x4_t x0 = vsubq_s32(vmovl_s16(vget_low_s16(x16)), xzp);
            const int32x4_t x1 = vsubq_s32(vmovl_s16(vget_high_s16(x16)), xzp);
            const float32x4_t mult = vdupq_n_f32(prm->mult[t]), lo = vdupq_n_f32(prm->lo[t]);
            const float32x4_t hi = vdupq_n_f32(prm->hi[t]), dqs = vdupq_n_f32(prm->dq_scale[t]);
            s0 = vaddq_f32(s0, requant_tap(x0, vld1q_s32(wv[q]), mult, lo, hi, magic, dqs));
            s1 = vaddq_f32(s1, requant_tap(x1, vld1q_s32(wv[q] + 4), mult, lo, hi, magic, dqs));
          }
          const int16x8_t q16 = vcombine_s16(vqmovn_s32(quantize4(s0, yscale, ylo, yhi, magic, yzp)),
                                             vqmovn_s32(quantize4(s1, yscale, ylo, yhi, magic, yzp)));
          vst1_s8(out + c0, vqmovn_s16(q16));
        }
      }
    }
  }
}
