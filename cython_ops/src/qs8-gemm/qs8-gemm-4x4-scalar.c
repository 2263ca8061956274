#include <string.h>

#include "edgert/qs8-gemm.h"

#define MR EDGERT_QS8_GEMM_4X4__SCALAR_MR
#define NR 4 /* EDGERT_QS8_GEMM_4X4__SCALAR_LAYOUT: kr 1, int8 weights */

/* Portable tile loop: an MR x NR block of int32 accumulators over weights [K][NR] per panel.
 * A block with fewer than MR rows repeats its last row (computed, never stored), so every loop
 * has constant bounds and the compiler keeps the accumulators in registers. */
void edgert_qs8_gemm_4x4__scalar(size_t M, size_t N, size_t K, const int8_t* A, size_t lda,
                                 const void* packed, const float* scales, int8_t* C, size_t ldc,
                                 const edgert_qs8_output_params* params) {
  const size_t panel_bytes = NR * sizeof(int32_t) + K * NR;
  for (size_t n0 = 0; n0 < N; n0 += NR) {
    const uint8_t* panel = (const uint8_t*)packed + (n0 / NR) * panel_bytes;
    const int8_t* w = (const int8_t*)(panel + NR * sizeof(int32_t));
    const size_t nc = edgert_min_sz(NR, N - n0);
    int32_t bias[NR];
    memcpy(bias, panel, sizeof(bias));
    for (size_t m0 = 0; m0 < M; m0 += MR) {
      const size_t mr = edgert_min_sz(MR, M - m0);
      const int8_t* a[MR];
      for (size_t r = 0; r < MR; r++) a[r] = A + (m0 + (r < mr ? r : mr - 1)) * lda;
      /* Unsigned sums: wrap-around is defined (and never happens for K < 2^17). */
      uint32_t acc[MR][NR];
#pragma GCC unroll 4
      for (size_t r = 0; r < MR; r++)
#pragma GCC unroll 4
        for (size_t j = 0; j < NR; j++) acc[r][j] = (uint32_t)bias[j];
      for (size_t k = 0; k < K; k++) {
        const int8_t* wk = w + k * NR;
#pragma GCC unroll 4
        for (size_t r = 0; r < MR; r++) {
          const int32_t ar = a[r][k];
#pragma GCC unroll 4
          for (size_t j = 0; j < NR; j++) acc[r][j] += (uint32_t)(ar * wk[j]);
        }
      }
      for (size_t r = 0; r < mr; r++)
        for (size_t j = 0; j < nc; j++)
          C[(m0 + r) * ldc + n0 + j] =
              edgert_qs8_requantize((int32_t)acc[r][j], scales[n0 + j], params);
    }
  }
}
