#include "edgert/f32-pool.h"

#include "../common/window.h"

/* The spec: every tap is bounds-checked; padded taps add nothing and count only with
 * count_include_pad. The sum is scaled by the reciprocal of the divisor, like the SIMD variants. */
void edgert_f32_avgpool__scalar(const edgert_f32_pool_args* a, size_t oy0, size_t oy1) {
  const edgert_window g = EDGERT_WINDOW_OF(a);
  for (size_t oy = oy0; oy < oy1; oy++) {
    for (size_t ox = 0; ox < a->OW; ox++) {
      for (size_t c = 0; c < a->C; c++) {
        size_t count;
        const float sum =
            edgert_window_reduce(&g, a->input, oy, ox, c, 0.0f, NULL, 0, &count, EDGERT_WINDOW_SUM);
        const size_t divisor = a->count_include_pad ? a->KH * a->KW : count;
        const float y = divisor ? sum * (1.0f / (float)divisor) : 0.0f;
        a->output[(oy * a->OW + ox) * a->C + c] = edgert_clamp_f32(y, a->min, a->max);
      }
    }
  }
}
