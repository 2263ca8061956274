/* int8 SKA (LSNet's per-pixel dynamic convolution) as onnxruntime computes the QDQ-quantized
 * portable chain (edgert/passes/ska.py), NHWC int8 in and out:
 *
 *   for each output (h, w, c), group g = c % G, taps t = i*k + j in order, inside the image only:
 *     f   = (float)((x[h+i-p, w+j-p, c] - x_zp) * (wt[h, w, g*k*k + t] - w_zp)) * mult[t]
 *     f   = min(max(f, lo[t]), hi[t]);  r = round_half_to_even(f)        (QLinearMul's requantization,
 *     sum += r * dq_scale[t]                                              less its zero point, dequantized)
 *   y = edgert_qs8_quantize(sum, y_scale, y_zp)                          (float32 sum from 0, no FMA)
 *
 * Taps outside the image are skipped: the chain pads with x_zp, whose product requantizes to the
 * tap's zero point and dequantizes to +0.0 (the pass checks that the tap's requantization and
 * dequantization share that zero point and that it lies in [qmin, qmax]). lo/hi are the clamp
 * bounds qmin - zp, qmax - zp. The scalar variant is the spec; SIMD variants compute every channel
 * in the same order with the same float operations, so they are bit-exact. They need G to be a
 * multiple of 8 and otherwise run the spec.
 */
#ifndef EDGERT_QS8_SKA_H
#define EDGERT_QS8_SKA_H

#include <stdint.h>

#include "edgert/common.h"
#include "edgert/threadpool.h"

#define EDGERT_QS8_SKA_MAX_TAPS 49 /* k <= 7 */

typedef struct {
  int32_t x_zero_point, w_zero_point, y_zero_point;
  float y_scale;
  float mult[EDGERT_QS8_SKA_MAX_TAPS], lo[EDGERT_QS8_SKA_MAX_TAPS], hi[EDGERT_QS8_SKA_MAX_TAPS];
  float dq_scale[EDGERT_QS8_SKA_MAX_TAPS];
} edgert_qs8_ska_params;

/* Output rows [row_begin, row_end) of one image: x, y (H, W, C), wt (H, W, G*k*k). k odd, <= 7. */
typedef void (*edgert_qs8_ska_fn)(size_t H, size_t W, size_t C, size_t G, size_t k, const int8_t* x,
                                  const int8_t* wt, int8_t* y, size_t row_begin, size_t row_end,
                                  const edgert_qs8_ska_params* params);

void edgert_qs8_ska__scalar(size_t H, size_t W, size_t C, size_t G, size_t k, const int8_t* x,
                            const int8_t* wt, int8_t* y, size_t row_begin, size_t row_end,
                            const edgert_qs8_ska_params* params);
#if EDGERT_ARCH_X86_64
void edgert_qs8_ska__avx2(size_t H, size_t W, size_t C, size_t G, size_t k, const int8_t* x,
                          const int8_t* wt, int8_t* y, size_t row_begin, size_t row_end,
                          const edgert_qs8_ska_params* params);
#endif
#if EDGERT_ARCH_ARM64
void edgert_qs8_ska__neon(size_t H, size_t W, size_t C, size_t G, size_t k, const int8_t* x,
                          const int8_t* wt, int8_t* y, size_t row_begin, size_t row_end,
                          const edgert_qs8_ska_params* params);
#endif

/* The variant this CPU runs (EDGERT_KERNELS=scalar forces the spec). */
edgert_qs8_ska_fn edgert_qs8_ska(void);

/* For the SIMD variants: the centred weights of 8 consecutive groups g..g+7 for each of the n taps
 * (a group's taps lie contiguously in a pixel's kernel `kern`, so one tap across groups is strided). */
static inline void edgert_qs8_ska_group_taps(const int8_t* kern, size_t g, size_t kk, size_t n, const size_t* tap,
                                             int32_t w_zero_point, int32_t (*out)[8]) {
  for (size_t q = 0; q < n; q++)
    for (size_t l = 0; l < 8; l++) out[q][l] = (int32_t)kern[(g + l) * kk + tap[q]] - w_zero_point;
}

/* Operator: `batch` images, output rows split over the pool (NULL runs inline). */
void edgert_op_qs8_ska(edgert_threadpool* pool, size_t batch, size_t H, size_t W, size_t C, size_t G,
                       size_t k, const int8_t* x, const int8_t* wt, int8_t* y,
                       const edgert_qs8_ska_params* params);

#endif
