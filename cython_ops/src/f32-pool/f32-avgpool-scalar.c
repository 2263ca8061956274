#include "edgert/f32-pool.h"

/* The spec: every tap is bounds-checked; padded taps add nothing and count only with
 * count_include_pad. The sum is scaled by the reciprocal of the divisor, like the SIMD variants. */
void edgert_f32_avgpool__scalar(const edgert_f32_pool_args* a, size_t oy0, size_t oy1) {
  for (size_t oy = oy0; oy < oy1; oy++) {
    for (size_t ox = 0; ox < a->OW; ox++) {
      float* out = a->output + (oy * a->OW + ox) * a->C;
      for (size_t c = 0; c < a->C; c++) {
        float sum = 0.0f;
        size_t count = 0;
        for (size_t ky = 0; ky < a->KH; ky++) {
          /* Unsigned wrap-around makes negative coordinates fail the < H test too. */
          const size_t iy = oy * a->SH + ky * a->DH - a->pad_top;
          if (iy >= a->H) continue;
          for (size_t kx = 0; kx < a->KW; kx++) {
            const size_t ix = ox * a->SW + kx * a->DW - a->pad_left;
            if (ix >= a->W) continue;
            sum += a->input[(iy * a->W + ix) * a->C + c];
            count++;
          }
        }
        const size_t divisor = a->count_include_pad ? a->KH * a->KW : count;
        float y = divisor ? sum * (1.0f / (float)divisor) : 0.0f;
        y = y < a->min ? a->min : y;
        y = y > a->max ? a->max : y;
        out[c] = y;
      }
    }
  }
}
