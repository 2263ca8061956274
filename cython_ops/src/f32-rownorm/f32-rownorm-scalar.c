/* Scalar spec of the row reductions (edgert/f32-rownorm.h). */
#include <math.h>

#include "edgert/f32-rownorm.h"

void edgert_f32_instnorm__scalar(size_t rows, size_t n, const float* x, const float* scale,
                                 const float* bias, float eps, float* y) {
  for (size_t r = 0; r < rows; r++) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) sum += xr[i];
    const float mean = n ? (float)(sum / (double)n) : 0.0f;
    double ss = 0.0;
    for (size_t i = 0; i < n; i++) {
      const float d = xr[i] - mean;
      ss += (double)(d * d);
    }
    const float var = n ? (float)(ss / (double)n) : 0.0f;
    const float a = (scale ? scale[r] : 1.0f) / sqrtf(var + eps);
    const float b = bias ? bias[r] : 0.0f;
    for (size_t i = 0; i < n; i++) yr[i] = (xr[i] - mean) * a + b;
  }
}

void edgert_f32_softmax__scalar(size_t rows, size_t n, const float* x, float* y) {
  for (size_t r = 0; r < rows; r++) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    float m = -INFINITY;
    int nan = 0;
    for (size_t i = 0; i < n; i++) {
      nan |= isnan(xr[i]);
      if (xr[i] > m) m = xr[i];
    }
    if (nan) m = NAN;
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
      yr[i] = expf(xr[i] - m);
      sum += yr[i];
    }
    const float inv = (float)(1.0 / sum);
    for (size_t i = 0; i < n; i++) yr[i] *= inv;
  }
}
