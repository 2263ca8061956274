/* The int8 (qs8) arithmetic of edgert, written once. Every qs8 kernel variant (scalar, AVX2,
 * NEON, NEON dot-product) matches these functions bit for bit; the testers check that.
 *
 * Quantization scheme:
 *   - activations: int8, asymmetric per tensor:       real = scale * (q - zero_point)
 *   - weights:     int8, symmetric per output channel: real = scale[c] * q   (zero point 0)
 *   - bias:        int32:                              real = bias * s_in * s_w[c]
 *
 * Requantization (XNNPACK's "fp32" scheme, also what onnxruntime's MLAS does) turns an exact
 * int32 accumulator into the int8 output:
 *     f   = (float)acc * scale                        one float32 multiply
 *     f   = min(max(f, qmin - zp), qmax - zp)         clamp in float: no int overflow later
 *     out = round_half_to_even(f) + zp                lrintf / cvtps2dq / vcvtnq_s32_f32
 * qmin/qmax are the int8 output range, narrowed by a fused ReLU/ReLU6/Clip. Every bound is an
 * integer, so clamping before rounding equals clamping after. Kernels are built with
 * -ffp-contract=off: a multiply and an add are never fused into an FMA, which would round once
 * instead of twice and differ between ISAs.
 *
 * Zero-point folding (Conv, GEMM, depthwise): acc = bias' + sum_k x_q[k] * w_q[k] with
 * bias' = bias - zp_in * sum_k w_q[k], done once when packing. Padded input taps must therefore
 * read as zp_in (they then contribute zp_in * w, cancelling the folded term), never as 0.
 */
#ifndef EDGERT_QS8_REQUANT_H
#define EDGERT_QS8_REQUANT_H

#include <stdint.h>

#include "edgert/common.h"

/* Output quantization shared by every requantizing kernel: zero point and clamp bounds, all
 * within [-128, 127] and qmin <= qmax. */
typedef struct {
  int32_t zero_point;
  int32_t qmin, qmax;
} edgert_qs8_output_params;

/* lrintf(f) (round half to even in the default rounding mode) for |f| <= 2^22, which every
 * caller guarantees by clamping first: adding 1.5 * 2^23 leaves no fraction bits, so the float
 * addition itself rounds. Inline everywhere, where lrintf is a library call on x86-64. Needs
 * IEEE float arithmetic as written (no -ffast-math, no x87 excess precision). */
EDGERT_INLINE int32_t edgert_qs8_round(float f) {
  const float magic = 12582912.0f; /* 1.5 * 2^23 */
  return (int32_t)((f + magic) - magic);
}

/* f already scaled: clamp to [qmin - zp, qmax - zp], round half to even, add zp. */
EDGERT_INLINE int8_t edgert_qs8_output(float f, const edgert_qs8_output_params* p) {
  const float lo = (float)(p->qmin - p->zero_point);
  const float hi = (float)(p->qmax - p->zero_point);
  f = f < lo ? lo : f;
  f = f > hi ? hi : f;
  return (int8_t)(edgert_qs8_round(f) + p->zero_point);
}

/* The requantization of an int32 accumulator with a float32 scale. */
EDGERT_INLINE int8_t edgert_qs8_requantize(int32_t acc, float scale,
                                           const edgert_qs8_output_params* p) {
  return edgert_qs8_output((float)acc * scale, p);
}

/* Add: two float multiplies, then one float add (no FMA). */
EDGERT_INLINE int8_t edgert_qs8_add(int32_t a, int32_t a_zero_point, float a_mult, int32_t b,
                                    int32_t b_zero_point, float b_mult,
                                    const edgert_qs8_output_params* p) {
  const float fa = (float)(a - a_zero_point) * a_mult;
  const float fb = (float)(b - b_zero_point) * b_mult;
  return edgert_qs8_output(fa + fb, p);
}

/* Mul: the exact int32 product of the centred inputs, then one float multiply
 * (mult = s_a * s_b / s_y). */
EDGERT_INLINE int8_t edgert_qs8_mul(int32_t a, int32_t a_zero_point, int32_t b,
                                    int32_t b_zero_point, float mult,
                                    const edgert_qs8_output_params* p) {
  return edgert_qs8_output((float)((a - a_zero_point) * (b - b_zero_point)) * mult, p);
}

/* Average of `count` centred int8 values summed in acc, scale = s_in / s_out:
 * f = (float)acc * (scale / (float)count). count 0 (a window with no tap) averages to 0. */
EDGERT_INLINE int8_t edgert_qs8_average(int32_t acc, size_t count, float scale,
                                        const edgert_qs8_output_params* p) {
  return edgert_qs8_output(count ? (float)acc * (scale / (float)count) : 0.0f, p);
}

/* ONNX QuantizeLinear to int8: q = saturate(round_half_to_even(x / scale) + zp), with a true
 * float division as ONNX and onnxruntime do. +-inf and out-of-range values saturate to
 * -128 / 127; NaN quantizes to the zero point (real value 0). */
EDGERT_INLINE int8_t edgert_qs8_quantize(float x, float scale, int32_t zero_point) {
  float f = x / scale;
  if (f != f) f = 0.0f; /* NaN */
  const edgert_qs8_output_params p = {zero_point, -128, 127};
  return edgert_qs8_output(f, &p);
}

/* ONNX DequantizeLinear from int8. */
EDGERT_INLINE float edgert_qs8_dequantize(int8_t q, float scale, int32_t zero_point) {
  return (float)((int32_t)q - zero_point) * scale;
}

#endif /* EDGERT_QS8_REQUANT_H */
