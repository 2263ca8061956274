/* Body shared by the NEON qs8 depthwise convolutions (qs8-dwconv-*-neon.c), TAPS packing
 * (edgert/qs8-dwconv.h): per 16-channel block, int32 bias'[16] then int8 w[KH*KW][16].
 *
 * Arithmetic: vmull_s8 / vmull_high_s8 form the exact int16 products of 16 channels of one tap,
 * vaddw widens them into four int32x4 accumulators (no saturating instruction anywhere). Taps in
 * the padding read the input zero point (the packed bias has zp_in * sum(w) removed).
 * Work order: per output pixel, every 16-channel block over all taps. Pixels whose window lies
 * inside the image read every tap unchecked; border pixels substitute zp for padded taps.
 * fixed=1 makes the kernel size and stride compile-time constants so the tap loops unroll. */
#ifndef EDGERT_QS8_DWCONV_NEON_IMPL_H
#define EDGERT_QS8_DWCONV_NEON_IMPL_H

#include <arm_neon.h>
#include <string.h>

#include "edgert/qs8-dwconv.h"

#include "../common/window.h"

#define CB EDGERT_QS8_DWCONV_CBLOCK

/* Block kinds: 16 channels, exactly 8 (C = 8, 24, ...: 8-byte loads and stores, no copies), or
 * a partial tail of another width. */
enum { DWN_FULL = 0, DWN_TAIL = 1, DWN_HALF = 2 };

EDGERT_INLINE int8x16_t dwn_load(const int8_t* p, size_t lanes, const int tail) {
  if (tail == DWN_HALF) return vcombine_s8(vld1_s8(p), vdup_n_s8(0));
  if (tail) {
    int8_t tmp[CB] = {0};
    memcpy(tmp, p, lanes);
    return vld1q_s8(tmp);
  }
  return vld1q_s8(p);
}

EDGERT_INLINE void dwn_tap(int32x4_t* acc, int8x16_t x, int8x16_t w) {
  const int16x8_t lo = vmull_s8(vget_low_s8(x), vget_low_s8(w));
  const int16x8_t hi = vmull_high_s8(x, w);
  acc[0] = vaddw_s16(acc[0], vget_low_s16(lo));
  acc[1] = vaddw_high_s16(acc[1], lo);
  acc[2] = vaddw_s16(acc[2], vget_low_s16(hi));
  acc[3] = vaddw_high_s16(acc[3], hi);
}

/* One output pixel, one channel block. border: check every tap against the image. */
EDGERT_INLINE void dwn_block(const edgert_qs8_dwconv_args* a, const uint8_t* block, size_t c,
                             size_t oy, size_t ox, size_t KH, size_t KW, size_t SH, size_t SW,
                             size_t DH, size_t DW, int8x16_t zp, size_t lanes, int8_t* out,
                             const int border, const int tail) {
  const size_t W = a->W, C = a->C;
  const int32_t* bias = (const int32_t*)block;
  const int8_t* w = (const int8_t*)(block + CB * sizeof(int32_t));
  int32x4_t acc[4] = {vld1q_s32(bias), vld1q_s32(bias + 4), vld1q_s32(bias + 8), vld1q_s32(bias + 12)};
  for (size_t ky = 0; ky < KH; ky++) {
    /* Unsigned wrap-around makes negative coordinates fail the < H / < W tests too. */
    const size_t iy = oy * SH + ky * DH - a->pad_top;
    const int row_in = !border || iy < a->H;
    const int8_t* row = a->input + (row_in ? iy * W * C : 0) + c;
#pragma GCC unroll 7
    for (size_t kx = 0; kx < KW; kx++) {
      const size_t ix = ox * SW + kx * DW - a->pad_left;
      const int8x16_t wv = vld1q_s8(w + (ky * KW + kx) * CB);
      const int8x16_t x = row_in && (!border || ix < W) ? dwn_load(row + ix * C, lanes, tail) : zp;
      dwn_tap(acc, x, wv);
    }
  }
  /* Requantize (the spec lane for lane) and store; a tail block reads only its live scales. */
  float tail_scales[CB] = {0};
  const float* s = a->scales + c;
  if (tail == DWN_HALF) {
    memcpy(tail_scales, s, 8 * sizeof(float));
    s = tail_scales;
  } else if (tail) {
    memcpy(tail_scales, s, lanes * sizeof(float));
    s = tail_scales;
  }
  const float32x4_t lo = vdupq_n_f32((float)(a->out.qmin - a->out.zero_point));
  const float32x4_t hi = vdupq_n_f32((float)(a->out.qmax - a->out.zero_point));
  const int32x4_t ozp = vdupq_n_s32(a->out.zero_point);
  int16x4_t q16[4];
  for (size_t i = 0; i < 4; i++) {
    float32x4_t f = vmulq_f32(vcvtq_f32_s32(acc[i]), vld1q_f32(s + 4 * i));
    f = vminq_f32(vmaxq_f32(f, lo), hi);
    q16[i] = vqmovn_s32(vaddq_s32(vcvtnq_s32_f32(f), ozp));
  }
  const int8x16_t y = vcombine_s8(vqmovn_s16(vcombine_s16(q16[0], q16[1])),
                                  vqmovn_s16(vcombine_s16(q16[2], q16[3])));
  if (tail == DWN_HALF) {
    vst1_s8(out, vget_low_s8(y));
  } else if (tail) {
    int8_t tmp[CB];
    vst1q_s8(tmp, y);
    memcpy(out, tmp, lanes);
  } else {
    vst1q_s8(out, y);
  }
}

EDGERT_INLINE void dwn_rows(const edgert_qs8_dwconv_args* a, size_t oy0, size_t oy1,
                            const int fixed, const size_t K, const size_t S) {
  const size_t KH = fixed ? K : a->KH, KW = fixed ? K : a->KW;
  const size_t SH = fixed ? S : a->SH, SW = fixed ? S : a->SW;
  const size_t DH = fixed ? 1 : a->DH, DW = fixed ? 1 : a->DW;
  const size_t C = a->C;
  const size_t block_bytes = CB * sizeof(int32_t) + KH * KW * CB;
  const int8x16_t zp = vdupq_n_s8((int8_t)a->input_zero_point);
  for (size_t oy = oy0; oy < oy1; oy++) {
    size_t ky0, ky1;
    edgert_tap_range(oy, SH, DH, a->pad_top, KH, a->H, &ky0, &ky1);
    const int rows_inside = ky0 == 0 && ky1 == KH;
    for (size_t ox = 0; ox < a->OW; ox++) {
      size_t kx0, kx1;
      edgert_tap_range(ox, SW, DW, a->pad_left, KW, a->W, &kx0, &kx1);
      const int inside = rows_inside && kx0 == 0 && kx1 == KW;
      int8_t* out = a->output + (oy * a->OW + ox) * C;
      for (size_t c = 0; c < C; c += CB) {
        const uint8_t* block = (const uint8_t*)a->packed + c / CB * block_bytes;
        const size_t lanes = C - c;
        if (lanes == CB / 2) {
          if (inside) dwn_block(a, block, c, oy, ox, KH, KW, SH, SW, DH, DW, zp, lanes, out + c, 0, DWN_HALF);
          else dwn_block(a, block, c, oy, ox, KH, KW, SH, SW, DH, DW, zp, lanes, out + c, 1, DWN_HALF);
        } else if (lanes < CB) {
          dwn_block(a, block, c, oy, ox, KH, KW, SH, SW, DH, DW, zp, lanes, out + c, 1, DWN_TAIL);
        } else if (inside) {
          dwn_block(a, block, c, oy, ox, KH, KW, SH, SW, DH, DW, zp, CB, out + c, 0, 0);
        } else {
          dwn_block(a, block, c, oy, ox, KH, KW, SH, SW, DH, DW, zp, CB, out + c, 1, 0);
        }
      }
    }
  }
}

#endif /* EDGERT_QS8_DWCONV_NEON_IMPL_H */
