/* qs8 GEMM with fused requantization (edgert/qs8-requant.h):
 *     C[m, n] = requantize(bias'[n] + sum_k A[m, k] * W[k, n], scales[n])
 * A: int8 activations (one row per pixel for a 1x1 convolution, im2col rows otherwise);
 * W: int8 per-output-channel weights; bias' the int32 bias with the input zero point folded in,
 * so A is used as stored (no zero-point subtraction in the inner loop).
 *
 * A and C are row-major int8 with row strides lda / ldc (>= K / >= N); scales[n] is the float
 * multiplier s_in * s_w[n] / s_out of column n.
 *
 * Packed weights depend on the variant: panels of NR output columns, each
 *     int32 bias'[NR], then round_up(K, KR)/KR groups of [NR][KR] weights
 * stored as int8 (wbytes 1) or already sign-extended to int16 (wbytes 2; AVX2 multiplies int16
 * pairs with vpmaddwd, which exists for int16 only). Columns >= N and k >= K are zero.
 * The dispatch table records the layout of the variant it hands out.
 *
 * Threading: a variant computes every row and column it is given, so the caller splits the work
 * by calling it on sub-ranges:
 *   rows    m0..m1 -> A + m0*lda, C + m0*ldc, M = m1 - m0
 *   panels  p0..p1 -> packed + p0*panel_bytes, scales + p0*NR, C + p0*NR, N = their columns
 */
#ifndef EDGERT_QS8_GEMM_H
#define EDGERT_QS8_GEMM_H

#include "edgert/common.h"
#include "edgert/qs8-requant.h"

/* Packing of one variant (NR columns per panel, K padded to KR, weight element bytes) and the
 * offset a_offset the variant adds to every A value (128 where the multiply takes unsigned
 * bytes: AVX512-VNNI's u8 x s8 vpdpbusd); the packed bias has -a_offset * sum(w) folded in, so
 * the sums equal the signed ones exactly. */
typedef struct {
  size_t nr, kr, wbytes;
  int32_t a_offset;
} edgert_qs8_gemm_layout;

/* Tiles (MR rows) and packings {NR, KR, wbytes} per variant (brace initializers). */
#define EDGERT_QS8_GEMM_4X4__SCALAR_MR 4
#define EDGERT_QS8_GEMM_4X4__SCALAR_LAYOUT {4, 1, 1, 0}
#define EDGERT_QS8_GEMM_6X16C2__AVX2_MR 6
#define EDGERT_QS8_GEMM_6X16C2__AVX2_LAYOUT {16, 2, 2, 0}
#define EDGERT_QS8_GEMM_8X32C4__AVX512VNNI_MR 8
#define EDGERT_QS8_GEMM_8X32C4__AVX512VNNI_LAYOUT {16, 4, 1, 128}
#define EDGERT_QS8_GEMM_2X8C8__NEON_MR 2
#define EDGERT_QS8_GEMM_2X8C8__NEON_LAYOUT {8, 8, 1, 0}
#define EDGERT_QS8_GEMM_4X16C4__NEONDOT_MR 4
#define EDGERT_QS8_GEMM_4X16C4__NEONDOT_LAYOUT {16, 4, 1, 0}

size_t edgert_qs8_gemm_panel_bytes(size_t K, const edgert_qs8_gemm_layout* layout);
size_t edgert_qs8_gemm_packed_bytes(size_t K, size_t N, const edgert_qs8_gemm_layout* layout);

/* W element (k, n) is W[k*w_k_stride + n*w_n_stride]; bias [N] or NULL (zeros); input_zero_point
 * is folded into the packed bias. ONNX Conv weights W[N][K] pack with w_k_stride = 1,
 * w_n_stride = K. packed must be 4-byte aligned (64 for speed). */
void edgert_qs8_gemm_pack(size_t K, size_t N, const edgert_qs8_gemm_layout* layout,
                          const int8_t* W, size_t w_k_stride, size_t w_n_stride,
                          const int32_t* bias, int32_t input_zero_point, void* packed);

/* Uniform signature of every variant (dispatch table type). Computes all M rows and N columns
 * (M, N, K >= 1); packed points at the first panel to compute, scales at its first column. */
typedef void (*edgert_qs8_gemm_fn)(size_t M, size_t N, size_t K, const int8_t* A, size_t lda,
                                   const void* packed, const float* scales, int8_t* C, size_t ldc,
                                   const edgert_qs8_output_params* params);

/* The spec, for any layout: plain loops over the packed weights. */
void edgert_qs8_gemm_ref(const edgert_qs8_gemm_layout* layout, size_t M, size_t N, size_t K,
                         const int8_t* A, size_t lda, const void* packed, const float* scales,
                         int8_t* C, size_t ldc, const edgert_qs8_output_params* params);

/* Portable fallback, built everywhere. */
void edgert_qs8_gemm_4x4__scalar(size_t M, size_t N, size_t K, const int8_t* A, size_t lda,
                                 const void* packed, const float* scales, int8_t* C, size_t ldc,
                                 const edgert_qs8_output_params* params);

#if EDGERT_ARCH_X86_64
/* Needs AVX2 (edgert_cpu()->avx2_fma). */
void edgert_qs8_gemm_6x16c2__avx2(size_t M, size_t N, size_t K, const int8_t* A, size_t lda,
                                  const void* packed, const float* scales, int8_t* C, size_t ldc,
                                  const edgert_qs8_output_params* params);
/* Needs AVX512-VNNI with AVX512VL/BW (edgert_cpu()->avx512_vnni). */
void edgert_qs8_gemm_8x32c4__avx512vnni(size_t M, size_t N, size_t K, const int8_t* A, size_t lda,
                                        const void* packed, const float* scales, int8_t* C,
                                        size_t ldc, const edgert_qs8_output_params* params);
#endif

#if EDGERT_ARCH_ARM64
void edgert_qs8_gemm_2x8c8__neon(size_t M, size_t N, size_t K, const int8_t* A, size_t lda,
                                 const void* packed, const float* scales, int8_t* C, size_t ldc,
                                 const edgert_qs8_output_params* params);
/* Needs the dot-product extension (edgert_cpu()->neon_dot). */
void edgert_qs8_gemm_4x16c4__neondot(size_t M, size_t N, size_t K, const int8_t* A, size_t lda,
                                     const void* packed, const float* scales, int8_t* C,
                                     size_t ldc, const edgert_qs8_output_params* params);
#endif

#endif /* EDGERT_QS8_GEMM_H */
