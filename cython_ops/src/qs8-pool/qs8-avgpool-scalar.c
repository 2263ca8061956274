#include "edgert/qs8-pool.h"

/* The spec: every tap is bounds-checked; padded taps add nothing and count only with
 * count_include_pad. */
void edgert_qs8_avgpool__scalar(const edgert_qs8_pool_args* a, size_t oy0, size_t oy1) {
  for (size_t oy = oy0; oy < oy1; oy++) {
    for (size_t ox = 0; ox < a->OW; ox++) {
      for (size_t c = 0; c < a->C; c++) {
        int32_t acc = 0;
        size_t count = 0;
        for (size_t ky = 0; ky < a->KH; ky++) {
          /* Unsigned wrap-around makes negative coordinates fail the < H test too. */
          const size_t iy = oy * a->SH + ky * a->DH - a->pad_top;
          if (iy >= a->H) continue;
          for (size_t kx = 0; kx < a->KW; kx++) {
            const size_t ix = ox * a->SW + kx * a->DW - a->pad_left;
            if (ix >= a->W) continue;
            acc += a->input[(iy * a->W + ix) * a->C + c] - a->input_zero_point;
            count++;
          }
        }
        if (a->count_include_pad) count = a->KH * a->KW;
        a->output[(oy * a->OW + ox) * a->C + c] = edgert_qs8_average(acc, count, a->scale, &a->out);
      }
    }
  }
}
