/* NEON helpers shared by the qs8 elementwise and pooling kernels (the qs8 *-neon.c files): 16-byte
 * partial loads/stores and the requantization of edgert/qs8-requant.h lane for lane (vcvtnq_s32_f32
 * rounds half to even). Private to src/. */
#ifndef EDGERT_SRC_QS8_COMMON_QS8_NEON_H
#define EDGERT_SRC_QS8_COMMON_QS8_NEON_H

#include <arm_neon.h>
#include <string.h>

#include "edgert/qs8-requant.h"

/* 16 bytes at p, n of them valid (zeros after), never reading past p + n. */
EDGERT_INLINE int8x16_t qs8n_load16(const int8_t* p, size_t n) {
  if (n >= 16) return vld1q_s8(p);
  int8_t tmp[16] = {0};
  memcpy(tmp, p, n);
  return vld1q_s8(tmp);
}

EDGERT_INLINE void qs8n_store16(int8_t* p, int8x16_t v, size_t n) {
  if (n >= 16) {
    vst1q_s8(p, v);
    return;
  }
  int8_t tmp[16];
  vst1q_s8(tmp, v);
  memcpy(p, tmp, n);
}

typedef struct {
  float32x4_t lo, hi;
  int32x4_t zp;
} qs8n_out;

EDGERT_INLINE qs8n_out qs8n_out_make(const edgert_qs8_output_params* p) {
  qs8n_out o = {vdupq_n_f32((float)(p->qmin - p->zero_point)),
                vdupq_n_f32((float)(p->qmax - p->zero_point)), vdupq_n_s32(p->zero_point)};
  return o;
}

/* Scaled floats -> int32 in [qmin, qmax]: clamp, round half to even, + zp. */
EDGERT_INLINE int32x4_t qs8n_output4(float32x4_t f, const qs8n_out* o) {
  f = vminq_f32(vmaxq_f32(f, o->lo), o->hi);
  return vaddq_s32(vcvtnq_s32_f32(f), o->zp);
}

/* 16 int32 lanes in int8 range -> int8x16 in order. */
EDGERT_INLINE int8x16_t qs8n_narrow16(const int32x4_t* q) {
  return vcombine_s8(vqmovn_s16(vcombine_s16(vqmovn_s32(q[0]), vqmovn_s32(q[1]))),
                     vqmovn_s16(vcombine_s16(vqmovn_s32(q[2]), vqmovn_s32(q[3]))));
}

/* The 16 int8 lanes of x widened to four int32x4. */
EDGERT_INLINE void qs8n_widen16(int8x16_t x, int32x4_t* w) {
  const int16x8_t lo = vmovl_s8(vget_low_s8(x)), hi = vmovl_high_s8(x);
  w[0] = vmovl_s16(vget_low_s16(lo));
  w[1] = vmovl_high_s16(lo);
  w[2] = vmovl_s16(vget_low_s16(hi));
  w[3] = vmovl_high_s16(hi);
}

#endif /* EDGERT_SRC_QS8_COMMON_QS8_NEON_H */
