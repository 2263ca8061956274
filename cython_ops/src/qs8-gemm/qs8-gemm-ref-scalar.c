#include <string.h>

#include "edgert/qs8-gemm.h"

/* Weight (k, j) of a panel: group k / kr, column j, position k % kr. */
static int32_t packed_weight(const uint8_t* weights, const edgert_qs8_gemm_layout* l, size_t k,
                             size_t j) {
  const size_t at = (k / l->kr) * l->nr * l->kr + j * l->kr + k % l->kr;
  if (l->wbytes == 2) {
    int16_t w;
    memcpy(&w, weights + at * 2, sizeof(w));
    return w;
  }
  return (int8_t)weights[at];
}

void edgert_qs8_gemm_ref(const edgert_qs8_gemm_layout* l, size_t M, size_t N, size_t K,
                         const int8_t* A, size_t lda, const void* packed, const float* scales,
                         int8_t* C, size_t ldc, const edgert_qs8_output_params* params) {
  const size_t panel_bytes = edgert_qs8_gemm_panel_bytes(K, l);
  for (size_t m = 0; m < M; m++) {
    for (size_t n = 0; n < N; n++) {
      const uint8_t* panel = (const uint8_t*)packed + (n / l->nr) * panel_bytes;
      const size_t j = n % l->nr;
      int32_t acc;
      memcpy(&acc, panel + j * sizeof(int32_t), sizeof(acc));
      const uint8_t* weights = panel + l->nr * sizeof(int32_t);
      /* Unsigned sums: wrap-around is defined (and never happens for K < 2^17). */
      uint32_t sum = (uint32_t)acc;
      for (size_t k = 0; k < K; k++)
        sum += (uint32_t)(((int32_t)A[m * lda + k] + l->a_offset) * packed_weight(weights, l, k, j));
      C[m * ldc + n] = edgert_qs8_requantize((int32_t)sum, scales[n], params);
    }
  }
}
