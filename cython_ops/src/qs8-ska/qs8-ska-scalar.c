/* Scalar spec of the int8 SKA (edgert/qs8-ska.h). */
#include "edgert/qs8-requant.h"
#include "edgert/qs8-ska.h"

void edgert_qs8_ska__scalar(size_t H, size_t W, size_t C, size_t G, size_t k, const int8_t* x,
                            const int8_t* wt, int8_t* y, size_t row_begin, size_t row_end,
                            const edgert_qs8_ska_params* prm) {
  const size_t kk = k * k, p = (k - 1) / 2;
  for (size_t h = row_begin; h < row_end; h++) {
    for (size_t w = 0; w < W; w++) {
      const int8_t* kern = wt + (h * W + w) * G * kk;
      for (size_t c = 0; c < C; c++) {
        const int8_t* kg = kern + (c % G) * kk;
        float sum = 0.0f;
        for (size_t i = 0; i < k; i++) {
          if (h + i < p || h + i - p >= H) continue;
          for (size_t j = 0; j < k; j++) {
            if (w + j < p || w + j - p >= W) continue;
            const size_t t = i * k + j;
            const int32_t xv = x[((h + i - p) * W + (w + j - p)) * C + c] - prm->x_zero_point;
            float f = (float)(xv * ((int32_t)kg[t] - prm->w_zero_point)) * prm->mult[t];
            f = f < prm->lo[t] ? prm->lo[t] : f;
            f = f > prm->hi[t] ? prm->hi[t] : f;
            sum += (float)edgert_qs8_round(f) * prm->dq_scale[t];
          }
        }
        y[(h * W + w) * C + c] = edgert_qs8_quantize(sum, prm->y_scale, prm->y_zero_point);
      }
    }
  }
}
