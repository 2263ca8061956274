/* SKA, the scalar spec (edgert/f32-ska.h). */
#include "edgert/f32-ska.h"

void edgert_f32_ska__scalar(size_t H, size_t W, size_t C, size_t G, size_t k, const float* x,
                            const float* wt, float* y, size_t row_begin, size_t row_end) {
  const size_t kk = k * k, p = (k - 1) / 2;
  for (size_t h = row_begin; h < row_end; h++) {
    for (size_t w = 0; w < W; w++) {
      const float* kern = wt + (h * W + w) * G * kk;
      float* out = y + (h * W + w) * C;
      for (size_t c = 0; c < C; c++) {
        const float* kc = kern + (c % G) * kk;
        float acc = 0.0f;
        for (size_t i = 0; i < k; i++) {
          const size_t hi = h + i;  /* input row + p */
          if (hi < p || hi - p >= H) continue;
          for (size_t j = 0; j < k; j++) {
            const size_t wj = w + j;
            if (wj < p || wj - p >= W) continue;
            acc += x[((hi - p) * W + (wj - p)) * C + c] * kc[i * k + j];
          }
        }
        out[c] = acc;
      }
    }
  }
}
