/* Requantization of int32 accumulators on NEON, shared by the NEON qs8 GEMMs: the spec of
 * edgert/qs8-requant.h lane for lane (vcvtnq_s32_f32 rounds half to even). Private to src/. */
#ifndef EDGERT_QS8_GEMM_NEON_REQUANT_H
#define EDGERT_QS8_GEMM_NEON_REQUANT_H

#include <arm_neon.h>
#include <string.h>

#include "edgert/qs8-requant.h"

typedef struct {
  float32x4_t lo, hi;
  int32x4_t zp;
} qs8_neon_out;

EDGERT_INLINE qs8_neon_out qs8_neon_out_make(const edgert_qs8_output_params* p) {
  qs8_neon_out o;
  o.lo = vdupq_n_f32((float)(p->qmin - p->zero_point));
  o.hi = vdupq_n_f32((float)(p->qmax - p->zero_point));
  o.zp = vdupq_n_s32(p->zero_point);
  return o;
}

EDGERT_INLINE int32x4_t qs8_neon_requant4(int32x4_t acc, float32x4_t scale, const qs8_neon_out* o) {
  float32x4_t f = vmulq_f32(vcvtq_f32_s32(acc), scale);
  f = vminq_f32(vmaxq_f32(f, o->lo), o->hi);
  return vaddq_s32(vcvtnq_s32_f32(f), o->zp);
}

/* Eight requantized int32 lanes (already within [qmin, qmax]) -> int8. */
EDGERT_INLINE int8x8_t qs8_neon_narrow8(int32x4_t q0, int32x4_t q1) {
  return vqmovn_s16(vcombine_s16(vqmovn_s32(q0), vqmovn_s32(q1)));
}

/* Up to 8 scales from s (n live), zeros past n: nothing past N is read. */
EDGERT_INLINE void qs8_neon_scales8(const float* s, size_t n, float32x4_t* s0, float32x4_t* s1) {
  if (n >= 8) {
    *s0 = vld1q_f32(s);
    *s1 = vld1q_f32(s + 4);
    return;
  }
  float tmp[8] = {0};
  for (size_t i = 0; i < n && i < 8; i++) tmp[i] = s[i];
  *s0 = vld1q_f32(tmp);
  *s1 = vld1q_f32(tmp + 4);
}

/* Stores the first n (<= 8) bytes of v. */
EDGERT_INLINE void qs8_neon_store8(int8_t* c, int8x8_t v, size_t n) {
  if (n >= 8) {
    vst1_s8(c, v);
    return;
  }
  int8_t tmp[8];
  vst1_s8(tmp, v);
  for (size_t i = 0; i < n && i < 8; i++) c[i] = tmp[i];
}

#endif /* EDGERT_QS8_GEMM_NEON_REQUANT_H */
