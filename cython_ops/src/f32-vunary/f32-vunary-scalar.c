/* Scalar spec of the fp32 activations: plain C + libm, the reference every SIMD variant is
 * tested against and the fallback where none runs. */
#include <math.h>

#include "edgert/f32-vunary.h"

/* Compare-select so NaN passes through (fmaxf/fminf would drop it). */
static inline float clamp_scalar(float v, float lo, float hi) {
  v = v < lo ? lo : v;
  return v > hi ? hi : v;
}

/* Both branches divide by 1 + exp(-|x|) <= 2, so the result keeps full relative accuracy
 * in both tails (1 - sigmoid(-x) would lose it for x << 0). */
static inline float sigmoid_scalar(float x) {
  if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
  const float e = expf(x);
  return e / (1.0f + e);
}

void edgert_f32_vclamp__scalar(size_t n, const float* x, float* y, const edgert_f32_unary_params* p) {
  const float lo = p->min, hi = p->max;
  for (size_t i = 0; i < n; i++) y[i] = clamp_scalar(x[i], lo, hi);
}

void edgert_f32_vsigmoid__scalar(size_t n, const float* x, float* y, const edgert_f32_unary_params* p) {
  for (size_t i = 0; i < n; i++) y[i] = sigmoid_scalar(x[i]);
}

void edgert_f32_vtanh__scalar(size_t n, const float* x, float* y, const edgert_f32_unary_params* p) {
  for (size_t i = 0; i < n; i++) y[i] = tanhf(x[i]);
}

void edgert_f32_vhardsigmoid__scalar(size_t n, const float* x, float* y, const edgert_f32_unary_params* p) {
  const float alpha = p->alpha, beta = p->beta;
  for (size_t i = 0; i < n; i++) y[i] = clamp_scalar(alpha * x[i] + beta, 0.0f, 1.0f);
}

void edgert_f32_vhardswish__scalar(size_t n, const float* x, float* y, const edgert_f32_unary_params* p) {
  for (size_t i = 0; i < n; i++) {
    const float v = x[i];
    y[i] = v * clamp_scalar(v * (1.0f / 6.0f) + 0.5f, 0.0f, 1.0f);
  }
}

void edgert_f32_vswish__scalar(size_t n, const float* x, float* y, const edgert_f32_unary_params* p) {
  for (size_t i = 0; i < n; i++) y[i] = x[i] * sigmoid_scalar(x[i]);
}

/* 0.5 x (1 + erf(x/sqrt2)) written as 0.5 x erfc(-x/sqrt2): same function, but erfc does not
 * cancel for x << 0, so the spec stays accurate in the negative tail. */
void edgert_f32_vgelu__scalar(size_t n, const float* x, float* y, const edgert_f32_unary_params* p) {
  for (size_t i = 0; i < n; i++) {
    const float v = x[i];
    y[i] = 0.5f * v * erfcf(-v * 0.70710678f);
  }
}

void edgert_f32_vgelu_tanh__scalar(size_t n, const float* x, float* y, const edgert_f32_unary_params* p) {
  const float sqrt_2_over_pi = 0.7978845608f;
  for (size_t i = 0; i < n; i++) {
    const float v = x[i];
    y[i] = 0.5f * v * (1.0f + tanhf(sqrt_2_over_pi * (v + 0.044715f * v * v * v)));
  }
}

void edgert_f32_vleakyrelu__scalar(size_t n, const float* x, float* y, const edgert_f32_unary_params* p) {
  const float alpha = p->alpha;
  for (size_t i = 0; i < n; i++) y[i] = x[i] >= 0.0f ? x[i] : alpha * x[i];
}

/* expm1f keeps relative accuracy for x near 0, where exp(x) - 1 cancels. */
void edgert_f32_velu__scalar(size_t n, const float* x, float* y, const edgert_f32_unary_params* p) {
  const float alpha = p->alpha;
  for (size_t i = 0; i < n; i++) y[i] = x[i] >= 0.0f ? x[i] : alpha * expm1f(x[i]);
}

void edgert_f32_vexp__scalar(size_t n, const float* x, float* y, const edgert_f32_unary_params* p) {
  for (size_t i = 0; i < n; i++) y[i] = expf(x[i]);
}

void edgert_f32_vprelu__scalar(size_t rows, size_t channels, const float* x, const float* slope, float* y) {
  for (size_t r = 0; r < rows; r++) {
    for (size_t c = 0; c < channels; c++) {
      const float v = x[c];
      y[c] = v >= 0.0f ? v : slope[c] * v;
    }
    x += channels;
    y += channels;
  }
}
