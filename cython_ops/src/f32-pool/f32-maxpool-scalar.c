#include <math.h>

#include "edgert/f32-pool.h"

/* The spec: every tap is bounds-checked; padded taps are ignored. */
void edgert_f32_maxpool__scalar(const edgert_f32_pool_args* a, size_t oy0, size_t oy1) {
  for (size_t oy = oy0; oy < oy1; oy++) {
    for (size_t ox = 0; ox < a->OW; ox++) {
      float* out = a->output + (oy * a->OW + ox) * a->C;
      for (size_t c = 0; c < a->C; c++) {
        float m = -INFINITY;
        for (size_t ky = 0; ky < a->KH; ky++) {
          /* Unsigned wrap-around makes negative coordinates fail the < H test too. */
          const size_t iy = oy * a->SH + ky * a->DH - a->pad_top;
          if (iy >= a->H) continue;
          for (size_t kx = 0; kx < a->KW; kx++) {
            const size_t ix = ox * a->SW + kx * a->DW - a->pad_left;
            if (ix >= a->W) continue;
            const float v = a->input[(iy * a->W + ix) * a->C + c];
            m = v > m ? v : m;
          }
        }
        m = m < a->min ? a->min : m;
        m = m > a->max ? a->max : m;
        out[c] = m;
      }
    }
  }
}
