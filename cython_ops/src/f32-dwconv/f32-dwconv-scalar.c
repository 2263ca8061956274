#include "edgert/f32-dwconv.h"

#include "../common/window.h"

/* The spec: every tap is bounds-checked, out-of-range input is zero padding. */
void edgert_f32_dwconv__scalar(const edgert_f32_dwconv_args* a, size_t oy0, size_t oy1) {
  const size_t B = EDGERT_F32_DWCONV_CBLOCK;
  const size_t taps = a->KH * a->KW;
  const edgert_window g = EDGERT_WINDOW_OF(a);
  for (size_t oy = oy0; oy < oy1; oy++) {
    for (size_t ox = 0; ox < a->OW; ox++) {
      for (size_t c = 0; c < a->C; c++) {
        /* Bias, then tap (ky, kx) at block[(1 + ky*KW + kx) * B]. */
        const float* block = a->packed + (c / B) * (1 + taps) * B + c % B;
        const float acc =
            edgert_window_reduce(&g, a->input, oy, ox, c, block[0], block + B, B, NULL,
                                 EDGERT_WINDOW_DOT);
        a->output[(oy * a->OW + ox) * a->C + c] = edgert_clamp_f32(acc, a->min, a->max);
      }
    }
  }
}
