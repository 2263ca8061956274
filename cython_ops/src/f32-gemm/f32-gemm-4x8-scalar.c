#include "edgert/f32-gemm.h"

#define MR EDGERT_F32_GEMM_4X8__SCALAR_MR
#define NR EDGERT_F32_GEMM_4X8__SCALAR_NR

/* One mr x NR tile. Always computes all NR columns (the packed panel is zero-padded) so the
 * column loops have a constant trip count the compiler can unroll/vectorise; only nc are stored.
 * Inlined with mr == MR for full tiles so the row loops are constant too. */
EDGERT_INLINE void tile(size_t mr, size_t nc, size_t K, const float* EDGERT_RESTRICT a, size_t lda,
                        const float* EDGERT_RESTRICT w, float* EDGERT_RESTRICT c, size_t ldc,
                        float lo, float hi) {
  float acc[MR][NR];
  for (size_t r = 0; r < mr; r++) {
    for (size_t j = 0; j < NR; j++) acc[r][j] = w[j];
  }
  w += NR;
  for (size_t k = 0; k < K; k++) {
    for (size_t r = 0; r < mr; r++) {
      const float ak = a[r * lda + k];
      for (size_t j = 0; j < NR; j++) acc[r][j] += ak * w[j];
    }
    w += NR;
  }
  for (size_t r = 0; r < mr; r++) {
    for (size_t j = 0; j < nc; j++) {
      float v = acc[r][j] < lo ? lo : acc[r][j];
      c[r * ldc + j] = v > hi ? hi : v;
    }
  }
}

void edgert_f32_gemm_4x8__scalar(size_t M, size_t N, size_t K, const float* A, size_t lda,
                                 const float* packed, float* C, size_t ldc,
                                 const edgert_f32_minmax_params* params) {
  const size_t panel_floats = NR + K * NR;
  for (size_t n0 = 0; n0 < N; n0 += NR, packed += panel_floats) {
    const size_t nc = edgert_min_sz(NR, N - n0);
    size_t m0 = 0;
    for (; m0 + MR <= M; m0 += MR) {
      tile(MR, nc, K, A + m0 * lda, lda, packed, C + m0 * ldc + n0, ldc, params->min, params->max);
    }
    if (m0 < M) {
      tile(M - m0, nc, K, A + m0 * lda, lda, packed, C + m0 * ldc + n0, ldc, params->min,
           params->max);
    }
  }
}
