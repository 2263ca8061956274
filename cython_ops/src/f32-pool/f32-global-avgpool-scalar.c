#include "edgert/f32-pool.h"

void edgert_f32_global_avgpool__scalar(size_t pixels, size_t C, const float* input, float* output) {
  const float scale = pixels ? 1.0f / (float)pixels : 0.0f;
  for (size_t c = 0; c < C; c++) {
    float sum = 0.0f;
    for (size_t p = 0; p < pixels; p++) sum += input[p * C + c];
    output[c] = sum * scale;
  }
}
