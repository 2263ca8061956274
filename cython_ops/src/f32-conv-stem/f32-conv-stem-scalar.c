#include "edgert/f32-conv-stem.h"

#include "../common/window.h"

/* The spec: every tap is bounds-checked, out-of-range input is zero padding; taps are summed in
 * packed order (ky, kx, c) onto the bias. */
void edgert_f32_conv_stem__scalar(const edgert_f32_conv_stem_args* a, size_t p0, size_t p1) {
  const size_t B = EDGERT_F32_CONV_STEM_COUT_BLOCK;
  const size_t taps = a->KH * a->KW * a->C_in, plane = a->H * a->W;
  for (size_t p = p0; p < p1; p++) {
    const size_t oy = p / a->OW, ox = p % a->OW;
    float* out = a->output + p * a->C_out;
    for (size_t co = 0; co < a->C_out; co++) {
      /* Bias, then tap (ky, kx, c) at block[(1 + (ky*KW + kx)*C_in + c) * B]. */
      const float* block = a->packed + (co / B) * (1 + taps) * B + co % B;
      float acc = block[0];
      for (size_t ky = 0; ky < a->KH; ky++) {
        /* Unsigned wrap-around makes negative coordinates fail the < H test too. */
        const size_t iy = oy * a->SH + ky * a->DH - a->pad_top;
        if (iy >= a->H) continue;
        for (size_t kx = 0; kx < a->KW; kx++) {
          const size_t ix = ox * a->SW + kx * a->DW - a->pad_left;
          if (ix >= a->W) continue;
          const float* x = a->input + iy * a->W + ix;
          const float* w = block + (1 + (ky * a->KW + kx) * a->C_in) * B;
          for (size_t c = 0; c < a->C_in; c++) acc += x[c * plane] * w[c * B];
        }
      }
      out[co] = edgert_clamp_f32(acc, a->min, a->max);
    }
  }
}
