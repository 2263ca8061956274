/* fp32-activation GEMM/GEMV with quantized weights (language-model projections), y = x W^T:
 *
 *   qs8w: W (N, K) int8, symmetric per output channel:  y[m, n] = scale[n] * sum_k x[m, k] q[n, k]
 *   q4w:  W (N, K) 4-bit, symmetric groups of `group` consecutive k:  two values per byte, low
 *         nibble = even k, stored offset by +8 (q = nibble - 8);  scale (N, K / group):
 *         y[m, n] = sum_g scale[n, g] * sum_{k in g} x[m, k] q[n, k]
 *   f32w: W (N, K) float32 rows (the unquantized case, same row-dot form):
 *         y[m, n] = sum_k x[m, k] w[n, k]
 *   then y += bias[n] when bias != NULL.  x (M, K), y (M, N) row-major; M == 1 is the decode GEMV.
 *   q4w needs K % group == 0 and group even.
 *
 * Activations stay fp32, so the dot products are float sums (no integer accumulation to match
 * bit for bit): the scalar variant is the spec and SIMD variants (8/4 lanes, FMA) reorder each
 * sum, matching it within 1e-5 * max(|y|, 1) for the tester's K <= 1024 and O(1) data (float32
 * reassociation error is bounded by ~K * 2^-24 * sum|x q|, with partial sums much smaller than
 * that worst case in practice).  The weight dequantization (int8/nibble -> float) is exact.
 */
#ifndef EDGERT_F32_QWGEMM_H
#define EDGERT_F32_QWGEMM_H

#include <stdint.h>

#include "edgert/common.h"

typedef void (*edgert_f32_qs8w_gemm_fn)(size_t M, size_t N, size_t K, const float* x, const int8_t* w,
                                        const float* scale, const float* bias, float* y);
typedef void (*edgert_f32_f32w_gemm_fn)(size_t M, size_t N, size_t K, const float* x, const float* w,
                                        const float* bias, float* y);
typedef void (*edgert_f32_q4w_gemm_fn)(size_t M, size_t N, size_t K, size_t group, const float* x,
                                       const uint8_t* w, const float* scale, const float* bias, float* y);

#define EDGERT_F32_QWGEMM_DECLARE(isa)                                                             \
  void edgert_f32_qs8w_gemm__##isa(size_t M, size_t N, size_t K, const float* x, const int8_t* w,  \
                                   const float* scale, const float* bias, float* y);               \
  void edgert_f32_q4w_gemm__##isa(size_t M, size_t N, size_t K, size_t group, const float* x,      \
                                  const uint8_t* w, const float* scale, const float* bias, float* y); \
  void edgert_f32_f32w_gemm__##isa(size_t M, size_t N, size_t K, const float* x, const float* w,   \
                                   const float* bias, float* y);

EDGERT_F32_QWGEMM_DECLARE(scalar)
#if EDGERT_ARCH_X86_64
EDGERT_F32_QWGEMM_DECLARE(avx2)
/* 512-bit qs8w only (AVX512F/BW, dispatched where edgert_cpu()->avx512_vnni); q4w and f32w stay
 * AVX2 there. */
void edgert_f32_qs8w_gemm__avx512vnni(size_t M, size_t N, size_t K, const float* x, const int8_t* w,
                                      const float* scale, const float* bias, float* y);
#endif
#if EDGERT_ARCH_ARM64
EDGERT_F32_QWGEMM_DECLARE(neon)
#endif

typedef struct {
  const char* name;
  edgert_f32_qs8w_gemm_fn qs8w;
  edgert_f32_q4w_gemm_fn q4w;
  edgert_f32_f32w_gemm_fn f32w;
} edgert_f32_qwgemm_kernels;

/* The variant this CPU runs (AVX-512 qs8w with AVX2 q4w / f32w, AVX2+FMA, NEON, else scalar),
 * from edgert_cpu(). */
const edgert_f32_qwgemm_kernels* edgert_f32_qwgemm(void);

#endif
