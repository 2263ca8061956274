#include "edgert/f32-dwconv.h"

/* The spec: every tap is bounds-checked, out-of-range input is zero padding. */
void edgert_f32_dwconv__scalar(const edgert_f32_dwconv_args* a, size_t oy0, size_t oy1) {
  const size_t B = EDGERT_F32_DWCONV_CBLOCK;
  const size_t taps = a->KH * a->KW;
  for (size_t oy = oy0; oy < oy1; oy++) {
    for (size_t ox = 0; ox < a->OW; ox++) {
      float* out = a->output + (oy * a->OW + ox) * a->C;
      for (size_t c = 0; c < a->C; c++) {
        const float* block = a->packed + (c / B) * (1 + taps) * B + c % B;
        float acc = block[0];
        for (size_t ky = 0; ky < a->KH; ky++) {
          /* Unsigned wrap-around makes negative coordinates fail the < H test too. */
          const size_t iy = oy * a->SH + ky * a->DH - a->pad_top;
          if (iy >= a->H) continue;
          for (size_t kx = 0; kx < a->KW; kx++) {
            const size_t ix = ox * a->SW + kx * a->DW - a->pad_left;
            if (ix >= a->W) continue;
            acc += a->input[(iy * a->W + ix) * a->C + c] * block[(1 + ky * a->KW + kx) * B];
          }
        }
        acc = acc < a->min ? a->min : acc;
        acc = acc > a->max ? a->max : acc;
        out[c] = acc;
      }
    }
  }
}
