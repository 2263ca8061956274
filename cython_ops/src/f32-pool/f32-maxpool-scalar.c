#include <math.h>

#include "edgert/f32-pool.h"

#include "../common/window.h"

/* The spec: every tap is bounds-checked; padded taps are ignored. */
void edgert_f32_maxpool__scalar(const edgert_f32_pool_args* a, size_t oy0, size_t oy1) {
  const edgert_window g = EDGERT_WINDOW_OF(a);
  for (size_t oy = oy0; oy < oy1; oy++) {
    for (size_t ox = 0; ox < a->OW; ox++) {
      for (size_t c = 0; c < a->C; c++) {
        const float m = edgert_window_reduce(&g, a->input, oy, ox, c, -INFINITY, NULL, 0, NULL,
                                             EDGERT_WINDOW_MAX);
        a->output[(oy * a->OW + ox) * a->C + c] = edgert_clamp_f32(m, a->min, a->max);
      }
    }
  }
}
