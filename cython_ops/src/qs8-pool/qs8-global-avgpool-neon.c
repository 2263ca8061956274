#include <arm_neon.h>

#include "edgert/qs8-pool.h"

#include "../qs8-common/qs8-neon.h"

/* 16 channels at a time: int32 sums over the pixels, minus pixels * zp_in, times
 * scale / pixels (one float division, as the spec). */
void edgert_qs8_global_avgpool__neon(size_t pixels, size_t C, size_t pixel_stride,
                                     const int8_t* input, int8_t* output,
                                     const edgert_qs8_global_avgpool_params* p) {
  const qs8n_out o = qs8n_out_make(&p->out);
  const float32x4_t mult = vdupq_n_f32(pixels ? p->scale / (float)pixels : 0.0f);
  const int32x4_t offset = vdupq_n_s32(-(int32_t)pixels * p->input_zero_point);
  for (size_t c = 0; c < C; c += 16) {
    const size_t lanes = C - c;
    int32x4_t s[4] = {offset, offset, offset, offset};
    for (size_t i = 0; i < pixels; i++) {
      const int8x16_t x = qs8n_load16(input + i * pixel_stride + c, lanes);
      const int16x8_t lo = vmovl_s8(vget_low_s8(x)), hi = vmovl_high_s8(x);
      s[0] = vaddw_s16(s[0], vget_low_s16(lo));
      s[1] = vaddw_high_s16(s[1], lo);
      s[2] = vaddw_s16(s[2], vget_low_s16(hi));
      s[3] = vaddw_high_s16(s[3], hi);
    }
    int32x4_t q[4];
    for (int i = 0; i < 4; i++) q[i] = qs8n_output4(vmulq_f32(vcvtq_f32_s32(s[i]), mult), &o);
    qs8n_store16(output + c, qs8n_narrow16(q), lanes);
  }
}
