#include "edgert/qs8-pool.h"

/* The spec: every tap is bounds-checked; padded taps are ignored. */
void edgert_qs8_maxpool__scalar(const edgert_qs8_pool_args* a, size_t oy0, size_t oy1) {
  for (size_t oy = oy0; oy < oy1; oy++) {
    for (size_t ox = 0; ox < a->OW; ox++) {
      for (size_t c = 0; c < a->C; c++) {
        int32_t m = -128;
        for (size_t ky = 0; ky < a->KH; ky++) {
          /* Unsigned wrap-around makes negative coordinates fail the < H test too. */
          const size_t iy = oy * a->SH + ky * a->DH - a->pad_top;
          if (iy >= a->H) continue;
          for (size_t kx = 0; kx < a->KW; kx++) {
            const size_t ix = ox * a->SW + kx * a->DW - a->pad_left;
            if (ix >= a->W) continue;
            const int32_t x = a->input[(iy * a->W + ix) * a->C + c];
            m = x > m ? x : m;
          }
        }
        m = m < a->out.qmin ? a->out.qmin : m;
        m = m > a->out.qmax ? a->out.qmax : m;
        a->output[(oy * a->OW + ox) * a->C + c] = (int8_t)m;
      }
    }
  }
}
