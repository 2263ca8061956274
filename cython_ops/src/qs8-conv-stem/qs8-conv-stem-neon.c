/* NEON qs8 stem convolution (edgert/qs8-conv-stem.h): tiles of 4 output pixels x 8 output
 * channels. Per tap pair the two int16 inputs are duplicated across a vector (x0, x1, x0, x1,
 * ...) and vmlal_s16 / vmlal_high_s16 accumulate their exact products with the packed
 * (w_2j, w_2j+1) weight pairs into per-tap int32 lanes; one pairwise add per 4 channels at the
 * end joins each channel's two lanes. */
#include <arm_neon.h>
#include <string.h>

#include "stem-rows.h"

#define CB EDGERT_QS8_CONV_STEM_COUT_BLOCK
#define TILE 4

EDGERT_INLINE int16x8_t duplicate_pair(const int16_t* p) {
  int32_t v;
  memcpy(&v, p, sizeof(v));
  return vreinterpretq_s16_s32(vdupq_n_s32(v));
}

/* Pixels [ox, ox + n), n <= TILE, of one channel block; pixels past n repeat pixel n - 1. */
EDGERT_INLINE void stem_tile(const edgert_qs8_conv_stem_args* a, size_t stride, const int16_t* w,
                             const int32_t* bias, const float* scale, size_t P, size_t ox, size_t n,
                             int8_t* out, size_t nc) {
  const size_t step = a->SW * a->C_in;
  size_t off[TILE];
  for (size_t t = 0; t < TILE; t++) off[t] = (ox + (t < n ? t : n - 1)) * step;
  /* acc[t][0..1]: channels 0-3 as (tap 2j, tap 2j+1) lanes; acc[t][2..3]: channels 4-7. */
  int32x4_t acc[TILE][4];
  for (size_t t = 0; t < TILE; t++)
    for (size_t i = 0; i < 4; i++) acc[t][i] = vdupq_n_s32(0);
  for (size_t ky = 0; ky < a->KH; ky++) {
    const int16_t* row = a->scratch + ky * stride;
    const int16_t* wr = w + ky * P * CB * 2;
    for (size_t j = 0; j < P; j++) {
      const int16x8_t w03 = vld1q_s16(wr + j * CB * 2);
      const int16x8_t w47 = vld1q_s16(wr + j * CB * 2 + 8);
#pragma GCC unroll 4
      for (size_t t = 0; t < TILE; t++) {
        const int16x8_t x = duplicate_pair(row + off[t] + 2 * j);
        acc[t][0] = vmlal_s16(acc[t][0], vget_low_s16(w03), vget_low_s16(x));
        acc[t][1] = vmlal_high_s16(acc[t][1], w03, x);
        acc[t][2] = vmlal_s16(acc[t][2], vget_low_s16(w47), vget_low_s16(x));
        acc[t][3] = vmlal_high_s16(acc[t][3], w47, x);
      }
    }
  }
  const float32x4_t lo = vdupq_n_f32((float)(a->out.qmin - a->out.zero_point));
  const float32x4_t hi = vdupq_n_f32((float)(a->out.qmax - a->out.zero_point));
  const int32x4_t ozp = vdupq_n_s32(a->out.zero_point);
  for (size_t t = 0; t < n; t++) {
    int16x4_t q16[2];
    for (size_t h = 0; h < 2; h++) {
      const int32x4_t sum = vaddq_s32(vld1q_s32(bias + 4 * h), vpaddq_s32(acc[t][2 * h], acc[t][2 * h + 1]));
      float32x4_t f = vmulq_f32(vcvtq_f32_s32(sum), vld1q_f32(scale + 4 * h));
      f = vminq_f32(vmaxq_f32(f, lo), hi);
      q16[h] = vqmovn_s32(vaddq_s32(vcvtnq_s32_f32(f), ozp));
    }
    const int8x8_t y = vqmovn_s16(vcombine_s16(q16[0], q16[1]));
    int8_t* dst = out + (ox + t) * a->C_out;
    if (nc == CB) {
      vst1_s8(dst, y);
    } else {
      int8_t tmp[CB];
      vst1_s8(tmp, y);
      memcpy(dst, tmp, nc);
    }
  }
}

void edgert_qs8_conv_stem__neon(const edgert_qs8_conv_stem_args* a, size_t oy0, size_t oy1) {
  const size_t P = (a->KW * a->C_in + 1) / 2, stride = stem_row_stride(a);
  const size_t block_bytes = CB * sizeof(int32_t) + a->KH * P * CB * 2 * sizeof(int16_t);
  for (size_t oy = oy0; oy < oy1; oy++) {
    stem_fill_rows(a, oy);
    int8_t* out_row = a->output + oy * a->OW * a->C_out;
    for (size_t c = 0; c < a->C_out; c += CB) {
      const size_t nc = edgert_min_sz(CB, a->C_out - c);
      const uint8_t* block = (const uint8_t*)a->packed + c / CB * block_bytes;
      float s[CB] = {0};
      memcpy(s, a->scales + c, nc * sizeof(float));
      const int16_t* w = (const int16_t*)(block + CB * sizeof(int32_t));
      for (size_t ox = 0; ox < a->OW; ox += TILE)
        stem_tile(a, stride, w, (const int32_t*)block, s, P, ox, edgert_min_sz(TILE, a->OW - ox),
                  out_row + c, nc);
    }
  }
}
