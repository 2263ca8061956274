/* Elementwise fp32 activations with ONNX semantics.
 *
 * Every op maps y[i] = f(x[i]) for i < n; y may alias x exactly (in place), no partial overlap.
 * The scalar variant is the spec (plain C + libm); SIMD variants match it within:
 *   - clamp, leakyrelu, prelu: bit for bit (NaN payloads aside);
 *   - sigmoid, tanh, hardsigmoid (outputs in [-1, 1]): absolute error <= 2e-6;
 *   - exp, elu, swish: relative error <= 1e-5 (for |y| >= 1e-30, i.e. outside the denormal tails);
 *   - gelu, gelu_tanh, hardswish: error <= 1e-5 * max(|y|, 1) (their reference formulas cancel
 *     for x << 0, so relative error there is meaningless).
 * NaN in gives NaN out; +-inf give what the ONNX formula gives with libm (e.g. swish(-inf) and
 * gelu(-inf) are NaN, as -inf * 0 is); large |x| saturates to the exact limit.
 */
#ifndef EDGERT_F32_VUNARY_H
#define EDGERT_F32_VUNARY_H

#include "edgert/common.h"

/* Only the fields an op names are read; ops without parameters accept p == NULL. */
typedef struct {
  float alpha;
  float beta;
  float min;
  float max;
} edgert_f32_unary_params;

typedef void (*edgert_f32_vunary_fn)(size_t n, const float* x, float* y,
                                     const edgert_f32_unary_params* p);

/* NHWC rows: y[r][c] = x[r][c] >= 0 ? x[r][c] : slope[c] * x[r][c], rows * channels contiguous. */
typedef void (*edgert_f32_vprelu_fn)(size_t rows, size_t channels, const float* x,
                                     const float* slope, float* y);

/* Op semantics (scalar spec):
 *   vclamp       y = x < min ? min : x > max ? max : x   (Relu: [0, inf], Relu6: [0, 6], Clip)
 *   vsigmoid     y = 1 / (1 + exp(-x))
 *   vtanh        y = tanh(x)
 *   vhardsigmoid y = max(0, min(1, alpha * x + beta))
 *   vhardswish   y = x * max(0, min(1, x / 6 + 0.5))
 *   vswish       y = x * sigmoid(x)                        (SiLU)
 *   vgelu        y = 0.5 x (1 + erf(x / sqrt(2)))
 *   vgelu_tanh   y = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
 *   vleakyrelu   y = x >= 0 ? x : alpha * x
 *   velu         y = x >= 0 ? x : alpha * (exp(x) - 1)
 *   vexp         y = exp(x)
 */
void edgert_f32_vclamp__scalar(size_t n, const float* x, float* y, const edgert_f32_unary_params* p);
void edgert_f32_vsigmoid__scalar(size_t n, const float* x, float* y, const edgert_f32_unary_params* p);
void edgert_f32_vtanh__scalar(size_t n, const float* x, float* y, const edgert_f32_unary_params* p);
void edgert_f32_vhardsigmoid__scalar(size_t n, const float* x, float* y, const edgert_f32_unary_params* p);
void edgert_f32_vhardswish__scalar(size_t n, const float* x, float* y, const edgert_f32_unary_params* p);
void edgert_f32_vswish__scalar(size_t n, const float* x, float* y, const edgert_f32_unary_params* p);
void edgert_f32_vgelu__scalar(size_t n, const float* x, float* y, const edgert_f32_unary_params* p);
void edgert_f32_vgelu_tanh__scalar(size_t n, const float* x, float* y, const edgert_f32_unary_params* p);
void edgert_f32_vleakyrelu__scalar(size_t n, const float* x, float* y, const edgert_f32_unary_params* p);
void edgert_f32_velu__scalar(size_t n, const float* x, float* y, const edgert_f32_unary_params* p);
void edgert_f32_vexp__scalar(size_t n, const float* x, float* y, const edgert_f32_unary_params* p);
void edgert_f32_vprelu__scalar(size_t rows, size_t channels, const float* x, const float* slope, float* y);

#if EDGERT_ARCH_X86_64
/* Requires AVX2 + FMA3 (edgert_cpu()->avx2_fma). */
void edgert_f32_vclamp__avx2(size_t n, const float* x, float* y, const edgert_f32_unary_params* p);
void edgert_f32_vsigmoid__avx2(size_t n, const float* x, float* y, const edgert_f32_unary_params* p);
void edgert_f32_vtanh__avx2(size_t n, const float* x, float* y, const edgert_f32_unary_params* p);
void edgert_f32_vhardsigmoid__avx2(size_t n, const float* x, float* y, const edgert_f32_unary_params* p);
void edgert_f32_vhardswish__avx2(size_t n, const float* x, float* y, const edgert_f32_unary_params* p);
void edgert_f32_vswish__avx2(size_t n, const float* x, float* y, const edgert_f32_unary_params* p);
void edgert_f32_vgelu__avx2(size_t n, const float* x, float* y, const edgert_f32_unary_params* p);
void edgert_f32_vgelu_tanh__avx2(size_t n, const float* x, float* y, const edgert_f32_unary_params* p);
void edgert_f32_vleakyrelu__avx2(size_t n, const float* x, float* y, const edgert_f32_unary_params* p);
void edgert_f32_velu__avx2(size_t n, const float* x, float* y, const edgert_f32_unary_params* p);
void edgert_f32_vexp__avx2(size_t n, const float* x, float* y, const edgert_f32_unary_params* p);
void edgert_f32_vprelu__avx2(size_t rows, size_t channels, const float* x, const float* slope, float* y);
#endif

#if EDGERT_ARCH_ARM64
void edgert_f32_vclamp__neon(size_t n, const float* x, float* y, const edgert_f32_unary_params* p);
void edgert_f32_vsigmoid__neon(size_t n, const float* x, float* y, const edgert_f32_unary_params* p);
void edgert_f32_vtanh__neon(size_t n, const float* x, float* y, const edgert_f32_unary_params* p);
void edgert_f32_vhardsigmoid__neon(size_t n, const float* x, float* y, const edgert_f32_unary_params* p);
void edgert_f32_vhardswish__neon(size_t n, const float* x, float* y, const edgert_f32_unary_params* p);
void edgert_f32_vswish__neon(size_t n, const float* x, float* y, const edgert_f32_unary_params* p);
void edgert_f32_vgelu__neon(size_t n, const float* x, float* y, const edgert_f32_unary_params* p);
void edgert_f32_vgelu_tanh__neon(size_t n, const float* x, float* y, const edgert_f32_unary_params* p);
void edgert_f32_vleakyrelu__neon(size_t n, const float* x, float* y, const edgert_f32_unary_params* p);
void edgert_f32_velu__neon(size_t n, const float* x, float* y, const edgert_f32_unary_params* p);
void edgert_f32_vexp__neon(size_t n, const float* x, float* y, const edgert_f32_unary_params* p);
void edgert_f32_vprelu__neon(size_t rows, size_t channels, const float* x, const float* slope, float* y);
#endif

#endif /* EDGERT_F32_VUNARY_H */
