#include <arm_neon.h>
#include <string.h>

#include "edgert/qs8-gemm.h"

#include "gemm-neon-requant.h"

/* 2 rows x 8 columns, K in groups of 8 ("c8"): vmull_s8 multiplies 8 k of a row with 8 k of a
 * column into exact int16 products, vpadalq_s16 adds neighbouring products pairwise into int32
 * lanes (exact: no saturating instruction anywhere). 16 int32x4 accumulators, one per
 * (row, column), are reduced horizontally once at the end of K. */

#define MR EDGERT_QS8_GEMM_2X8C8__NEON_MR
#define NR 8
#define KR 8

/* 8 bytes of A at p, of which n (< 8 for the last group) are in the row; the rest read as 0
 * (their packed weights are 0 anyway). */
EDGERT_INLINE int8x8_t load_a(const int8_t* p, size_t n) {
  if (n >= 8) return vld1_s8(p);
  int8_t tmp[8] = {0};
  memcpy(tmp, p, n);
  return vld1_s8(tmp);
}

/* Sums the 4 lanes of each of four accumulators into one vector (columns j..j+3). */
EDGERT_INLINE int32x4_t reduce4(int32x4_t a, int32x4_t b, int32x4_t c, int32x4_t d) {
  return vpaddq_s32(vpaddq_s32(a, b), vpaddq_s32(c, d));
}

EDGERT_INLINE void tile(size_t mr, size_t K, const int8_t* a, size_t lda, const uint8_t* panel,
                        const float* scales, int8_t* c, size_t ldc, size_t nc,
                        const qs8_neon_out* o) {
  int32x4_t acc[MR][NR];
#pragma GCC unroll 2
  for (size_t r = 0; r < MR; r++)
#pragma GCC unroll 8
    for (size_t j = 0; j < NR; j++) acc[r][j] = vdupq_n_s32(0);
  const int8_t* w = (const int8_t*)(panel + NR * sizeof(int32_t));
  for (size_t k = 0; k < K; k += KR) {
    const size_t kn = K - k;
    int8x8_t av[MR];
#pragma GCC unroll 2
    for (size_t r = 0; r < mr; r++) av[r] = load_a(a + r * lda + k, kn);
#pragma GCC unroll 8
    for (size_t j = 0; j < NR; j++) {
      const int8x8_t wj = vld1_s8(w + j * KR);
#pragma GCC unroll 2
      for (size_t r = 0; r < mr; r++) acc[r][j] = vpadalq_s16(acc[r][j], vmull_s8(av[r], wj));
    }
    w += NR * KR;
  }
  const int32x4_t bias0 = vld1q_s32((const int32_t*)panel);
  const int32x4_t bias1 = vld1q_s32((const int32_t*)panel + 4);
  float32x4_t s0, s1;
  qs8_neon_scales8(scales, nc, &s0, &s1);
#pragma GCC unroll 2
  for (size_t r = 0; r < mr; r++) {
    const int32x4_t t0 = vaddq_s32(bias0, reduce4(acc[r][0], acc[r][1], acc[r][2], acc[r][3]));
    const int32x4_t t1 = vaddq_s32(bias1, reduce4(acc[r][4], acc[r][5], acc[r][6], acc[r][7]));
    const int8x8_t y = qs8_neon_narrow8(qs8_neon_requant4(t0, s0, o), qs8_neon_requant4(t1, s1, o));
    qs8_neon_store8(c + r * ldc, y, nc);
  }
}

void edgert_qs8_gemm_2x8c8__neon(size_t M, size_t N, size_t K, const int8_t* A, size_t lda,
                                 const void* packed, const float* scales, int8_t* C, size_t ldc,
                                 const edgert_qs8_output_params* params) {
  const qs8_neon_out o = qs8_neon_out_make(params);
  const size_t panel_bytes = NR * sizeof(int32_t) + edgert_round_up(K, KR) * NR;
  for (size_t n0 = 0; n0 < N; n0 += NR) {
    const uint8_t* panel = (const uint8_t*)packed + n0 / NR * panel_bytes;
    const size_t nc = edgert_min_sz(NR, N - n0);
    for (size_t m0 = 0; m0 < M; m0 += MR) {
      const size_t mr = edgert_min_sz(MR, M - m0);
      if (mr == MR) tile(MR, K, A + m0 * lda, lda, panel, scales + n0, C + m0 * ldc + n0, ldc, nc, &o);
      else tile(1, K, A + m0 * lda, lda, panel, scales + n0, C + m0 * ldc + n0, ldc, nc, &o);
    }
  }
}
