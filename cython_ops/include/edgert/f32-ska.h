/* fp32 SKA (small-kernel aggregation, LSNet's per-pixel dynamic convolution), NHWC.
 *
 *   y[h, w, c] = sum_{i,j < k} x[h + i - p, w + j - p, c] * wt[h, w, (c % G) * k*k + i*k + j]
 *
 * with p = (k - 1) / 2 and x read as 0 outside the image: every pixel has its own k x k kernel per
 * weight group, and channel c uses group c % G (C is a multiple of G). x and y are (H, W, C), wt
 * is (H, W, G*k*k), all row-major; a call computes output rows [row_begin, row_end) of one image.
 *
 * The scalar variant is the spec (taps summed in (i, j) order). SIMD variants sum the same taps in
 * the same order with FMA, so they match it within 1e-5 of max(|y|, 1) (k*k <= 49 products of O(1)
 * values). They need G to be a multiple of their vector width (LSNet's G = C/8 is a multiple of 8
 * whenever C is a multiple of 64) and otherwise run the scalar code.
 */
#ifndef EDGERT_F32_SKA_H
#define EDGERT_F32_SKA_H

#include "edgert/common.h"
#include "edgert/threadpool.h"

typedef void (*edgert_f32_ska_fn)(size_t H, size_t W, size_t C, size_t G, size_t k, const float* x,
                                  const float* wt, float* y, size_t row_begin, size_t row_end);

void edgert_f32_ska__scalar(size_t H, size_t W, size_t C, size_t G, size_t k, const float* x,
                            const float* wt, float* y, size_t row_begin, size_t row_end);
#if EDGERT_ARCH_X86_64
void edgert_f32_ska__avx2(size_t H, size_t W, size_t C, size_t G, size_t k, const float* x,
                          const float* wt, float* y, size_t row_begin, size_t row_end);
#endif
#if EDGERT_ARCH_ARM64
void edgert_f32_ska__neon(size_t H, size_t W, size_t C, size_t G, size_t k, const float* x,
                          const float* wt, float* y, size_t row_begin, size_t row_end);
#endif

/* The variant this CPU runs (EDGERT_KERNELS=scalar forces the spec). */
edgert_f32_ska_fn edgert_f32_ska(void);

/* The taps of pixel (h, w) that fall inside the image, in (i, j) order, for the SIMD variants:
 * xoff[n] = offset of the input pixel it reads (in floats), tap[n] = (i*k + j) * tap_scale.
 * Returns how many there are (k*k away from the border). */
static inline size_t edgert_f32_ska_inner_taps(size_t H, size_t W, size_t C, size_t k, size_t h, size_t w,
                                               size_t tap_scale, size_t* xoff, size_t* tap) {
  const size_t p = (k - 1) / 2;
  size_t n = 0;
  for (size_t i = 0; i < k; i++) {
    if (h + i < p || h + i - p >= H) continue;
    for (size_t j = 0; j < k; j++) {
      if (w + j < p || w + j - p >= W) continue;
      xoff[n] = ((h + i - p) * W + (w + j - p)) * C;
      tap[n++] = (i * k + j) * tap_scale;
    }
  }
  return n;
}

/* Operator: `batch` images, output rows split over the pool (NULL runs inline). */
void edgert_op_f32_ska(edgert_threadpool* pool, size_t batch, size_t H, size_t W, size_t C, size_t G,
                       size_t k, const float* x, const float* wt, float* y);

#endif
