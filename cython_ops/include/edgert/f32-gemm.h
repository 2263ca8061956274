/* f32 GEMM with fused bias and clamp: C[M,N] = clamp(A[M,K] * B[K,N] + bias[N], min, max).
 *
 * This is the pointwise (1x1) convolution of NHWC networks (A = activations, one row per
 * pixel) and the matmul behind im2col convolutions and fully connected layers.
 *
 * A and C are row-major with row strides lda / ldc (in floats, >= K / >= N).
 * B is packed once at model load into panels of nr output columns; nr must equal the
 * NR of the variant that will consume it (the dispatch table records MR/NR per variant).
 * Allocate packed 64-byte aligned: a 16-float AVX2 panel row is then exactly one cache line
 * (misaligned panels cost the AVX2 kernel up to a third of its speed on large K).
 *
 * Threading: a variant computes every row and column it is given, so the caller splits
 * the work by calling it on sub-ranges:
 *   rows    m0..m1      -> A + m0*lda, C + m0*ldc, M = m1 - m0
 *   panels  p0..p1      -> packed + p0*(nr + K*nr), C + p0*nr, N = columns in those panels
 */
#ifndef EDGERT_F32_GEMM_H
#define EDGERT_F32_GEMM_H

#include "edgert/common.h"

/* Tile sizes: rows of A per micro-tile (MR) and packed panel width (NR). */
#define EDGERT_F32_GEMM_4X8__SCALAR_MR 4
#define EDGERT_F32_GEMM_4X8__SCALAR_NR 8
#define EDGERT_F32_GEMM_6X16__AVX2_MR 6
#define EDGERT_F32_GEMM_6X16__AVX2_NR 16
#define EDGERT_F32_GEMM_8X32__AVX512_MR 8
#define EDGERT_F32_GEMM_8X32__AVX512_NR 16 /* the AVX2 packing; a tile spans two panels */
#define EDGERT_F32_GEMM_8X8__NEON_MR 8
#define EDGERT_F32_GEMM_8X8__NEON_NR 8

/* Packed layout: for each panel of nr output columns (panels in order): nr bias values,
 * then K rows of nr weights; columns >= N zero-padded. */
size_t edgert_f32_gemm_packed_floats(size_t K, size_t N, size_t nr);

/* B element (k, n) is B[k*b_k_stride + n*b_n_stride]; bias may be NULL (zeros).
 * ONNX Conv/Gemm weights W[N][K] pack with b_k_stride = 1, b_n_stride = K. */
void edgert_f32_gemm_pack(size_t K, size_t N, size_t nr, const float* B, size_t b_k_stride,
                          size_t b_n_stride, const float* bias, float* packed);

/* Uniform signature of every variant (dispatch table type). Computes all M rows and N
 * columns (any M, N, K >= 1); packed points at the first panel to compute. */
typedef void (*edgert_f32_gemm_fn)(size_t M, size_t N, size_t K, const float* A, size_t lda,
                                   const float* packed, float* C, size_t ldc,
                                   const edgert_f32_minmax_params* params);

/* Scalar reference (the spec), for any panel width nr. */
void edgert_f32_gemm_ref(size_t nr, size_t M, size_t N, size_t K, const float* A, size_t lda,
                         const float* packed, float* C, size_t ldc,
                         const edgert_f32_minmax_params* params);

/* Portable fallback, built everywhere. */
void edgert_f32_gemm_4x8__scalar(size_t M, size_t N, size_t K, const float* A, size_t lda,
                                 const float* packed, float* C, size_t ldc,
                                 const edgert_f32_minmax_params* params);

#if EDGERT_ARCH_X86_64
/* Needs AVX2 + FMA (edgert_cpu()->avx2_fma). */
void edgert_f32_gemm_6x16__avx2(size_t M, size_t N, size_t K, const float* A, size_t lda,
                                const float* packed, float* C, size_t ldc,
                                const edgert_f32_minmax_params* params);
/* Needs AVX512F (dispatched where edgert_cpu()->avx512_vnni). */
void edgert_f32_gemm_8x32__avx512vnni(size_t M, size_t N, size_t K, const float* A, size_t lda,
                                      const float* packed, float* C, size_t ldc,
                                      const edgert_f32_minmax_params* params);
#endif

#if EDGERT_ARCH_ARM64
void edgert_f32_gemm_8x8__neon(size_t M, size_t N, size_t K, const float* A, size_t lda,
                               const float* packed, float* C, size_t ldc,
                               const edgert_f32_minmax_params* params);
#endif

#endif /* EDGERT_F32_GEMM_H */
