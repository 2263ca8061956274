#include <arm_neon.h>
#include <string.h>

#include "edgert/qs8-lut.h"

/* 256-entry lookup as four 64-entry vqtbl4q lookups: indices past 63 yield 0 (vqtbl) or leave
 * the lane unchanged (vqtbx), so subtracting 64 per quarter (with wrap-around) selects it. */
EDGERT_INLINE uint8x16_t lookup16(uint8x16_t x, const uint8x16x4_t* t) {
  const uint8x16_t step = vdupq_n_u8(64);
  uint8x16_t y = vqtbl4q_u8(t[0], x);
  x = vsubq_u8(x, step);
  y = vqtbx4q_u8(y, t[1], x);
  x = vsubq_u8(x, step);
  y = vqtbx4q_u8(y, t[2], x);
  x = vsubq_u8(x, step);
  return vqtbx4q_u8(y, t[3], x);
}

void edgert_x8_lut__neon(size_t n, const int8_t* x, int8_t* y, const int8_t* table) {
  uint8x16x4_t t[4];
  for (int i = 0; i < 4; i++) t[i] = vld1q_u8_x4((const uint8_t*)table + 64 * i);
  size_t i = 0;
  for (; i + 16 <= n; i += 16)
    vst1q_u8((uint8_t*)y + i, lookup16(vld1q_u8((const uint8_t*)x + i), t));
  if (i < n) {
    uint8_t tmp[16] = {0};
    memcpy(tmp, x + i, n - i);
    vst1q_u8(tmp, lookup16(vld1q_u8(tmp), t));
    memcpy(y + i, tmp, n - i);
  }
}
