#include <arm_neon.h>

#include "edgert/qs8-pool.h"

#include "../qs8-common/qs8-neon.h"
#include "../common/window.h"

/* Per output pixel, 16 channels at a time in four int32x4 sums of the in-bounds taps, minus
 * zp_in per tap, times scale / count computed once per pixel in float as the spec does. */
void edgert_qs8_avgpool__neon(const edgert_qs8_pool_args* a, size_t oy0, size_t oy1) {
  const size_t C = a->C;
  const qs8n_out o = qs8n_out_make(&a->out);
  for (size_t oy = oy0; oy < oy1; oy++) {
    size_t ky0, ky1;
    edgert_tap_range(oy, a->SH, a->DH, a->pad_top, a->KH, a->H, &ky0, &ky1);
    for (size_t ox = 0; ox < a->OW; ox++) {
      size_t kx0, kx1;
      edgert_tap_range(ox, a->SW, a->DW, a->pad_left, a->KW, a->W, &kx0, &kx1);
      const size_t valid = (ky1 - ky0) * (kx1 - kx0);
      const size_t count = a->count_include_pad ? a->KH * a->KW : valid;
      const float32x4_t mult = vdupq_n_f32(count ? a->scale / (float)count : 0.0f);
      const int32x4_t offset = vdupq_n_s32(-(int32_t)valid * a->input_zero_point);
      int8_t* out = a->output + (oy * a->OW + ox) * C;
      for (size_t c = 0; c < C; c += 16) {
        const size_t lanes = C - c;
        int32x4_t s[4] = {offset, offset, offset, offset};
        for (size_t ky = ky0; ky < ky1; ky++) {
          const int8_t* row = a->input + (oy * a->SH + ky * a->DH - a->pad_top) * a->W * C + c;
          for (size_t kx = kx0; kx < kx1; kx++) {
            const int8x16_t x = qs8n_load16(row + (ox * a->SW + kx * a->DW - a->pad_left) * C, lanes);
            const int16x8_t lo = vmovl_s8(vget_low_s8(x)), hi = vmovl_high_s8(x);
            s[0] = vaddw_s16(s[0], vget_low_s16(lo));
            s[1] = vaddw_high_s16(s[1], lo);
            s[2] = vaddw_s16(s[2], vget_low_s16(hi));
            s[3] = vaddw_high_s16(s[3], hi);
          }
        }
        int32x4_t q[4];
        for (int i = 0; i < 4; i++) q[i] = qs8n_output4(vmulq_f32(vcvtq_f32_s32(s[i]), mult), &o);
        qs8n_store16(out + c, qs8n_narrow16(q), lanes);
      }
    }
  }
}
