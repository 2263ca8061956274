/* fp32 row reductions: InstanceNormalization (also GroupNorm's core) and Softmax.
 *
 * x and y are `rows` contiguous rows of n floats; y may alias x exactly. Per row r:
 *   instnorm  mean = sum(x) / n;  var = sum((x - mean)^2) / n   (two passes, as onnxruntime)
 *             y = (x - mean) * (scale[r] / sqrt(var + eps)) + bias[r]
 *             (scale or bias NULL: 1 or 0; rows of InstanceNormalization are (n, c) pairs, so the
 *             caller passes scale/bias indexed by row)
 *   softmax   m = max(x);  e = exp(x - m);  y = e / sum(e)   (NaN anywhere in a row: a NaN row)
 *
 * Sums accumulate in double: rows run to millions of elements (a GroupNorm group is C/G channels
 * times H*W), where a float accumulator would lose digits. The mean is rounded to float, so
 * rows whose |mean| is thousands of times their deviation lose the digits float32 inputs lack. The scalar variant is the spec; SIMD
 * variants sum in another order (lanes), use FMA and the vexp kernel (relative error 1e-5), so
 * they match it within 1e-5 of max(|y|, 1) for instnorm and 2e-5 absolute for softmax (outputs in
 * [0, 1]).
 */
#ifndef EDGERT_F32_ROWNORM_H
#define EDGERT_F32_ROWNORM_H

#include "edgert/common.h"
#include "edgert/threadpool.h"

typedef void (*edgert_f32_instnorm_fn)(size_t rows, size_t n, const float* x, const float* scale,
                                       const float* bias, float eps, float* y);
typedef void (*edgert_f32_softmax_fn)(size_t rows, size_t n, const float* x, float* y);

#define EDGERT_F32_ROWNORM_DECLARE(isa)                                                           \
  void edgert_f32_instnorm__##isa(size_t rows, size_t n, const float* x, const float* scale,      \
                                  const float* bias, float eps, float* y);                        \
  void edgert_f32_softmax__##isa(size_t rows, size_t n, const float* x, float* y);

EDGERT_F32_ROWNORM_DECLARE(scalar)
#if EDGERT_ARCH_X86_64
EDGERT_F32_ROWNORM_DECLARE(avx2)
#endif
#if EDGERT_ARCH_ARM64
EDGERT_F32_ROWNORM_DECLARE(neon)
#endif

typedef struct {
  const char* name;
  edgert_f32_instnorm_fn instnorm;
  edgert_f32_softmax_fn softmax;
} edgert_f32_rownorm_kernels;

/* The variant set this CPU runs (EDGERT_KERNELS=scalar forces the spec). */
const edgert_f32_rownorm_kernels* edgert_f32_rownorm(void);

/* Operators: rows split over the pool (NULL runs inline). */
void edgert_op_f32_instnorm(edgert_threadpool* pool, size_t rows, size_t n, const float* x,
                            const float* scale, const float* bias, float eps, float* y);
void edgert_op_f32_softmax(edgert_threadpool* pool, size_t rows, size_t n, const float* x, float* y);

#endif
