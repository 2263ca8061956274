#include <string.h>

#include "edgert/qs8-gemm.h"

size_t edgert_qs8_gemm_panel_bytes(size_t K, const edgert_qs8_gemm_layout* l) {
  return l->nr * sizeof(int32_t) + edgert_round_up(K, l->kr) * l->nr * l->wbytes;
}

size_t edgert_qs8_gemm_packed_bytes(size_t K, size_t N, const edgert_qs8_gemm_layout* l) {
  return edgert_divide_round_up(N, l->nr) * edgert_qs8_gemm_panel_bytes(K, l);
}

void edgert_qs8_gemm_pack(size_t K, size_t N, const edgert_qs8_gemm_layout* l, const int8_t* W,
                          size_t w_k_stride, size_t w_n_stride, const int32_t* bias,
                          int32_t input_zero_point, void* packed) {
  const size_t nr = l->nr, kr = l->kr, panel_bytes = edgert_qs8_gemm_panel_bytes(K, l);
  uint8_t* panel = (uint8_t*)packed;
  for (size_t n0 = 0; n0 < N; n0 += nr, panel += panel_bytes) {
    const size_t nc = edgert_min_sz(nr, N - n0);
    /* Zero padding: unused columns and k >= K multiply by 0 and add nothing. */
    memset(panel, 0, panel_bytes);
    int32_t* panel_bias = (int32_t*)panel;
    uint8_t* weights = panel + nr * sizeof(int32_t);
    for (size_t j = 0; j < nc; j++) {
      int32_t sum = 0;
      for (size_t k = 0; k < K; k++) {
        const int8_t w = W[k * w_k_stride + (n0 + j) * w_n_stride];
        sum += w;
        const size_t at = (k / kr) * nr * kr + j * kr + k % kr;
        if (l->wbytes == 2) {
          const int16_t w16 = w;
          memcpy(weights + at * 2, &w16, sizeof(w16));
        } else {
          weights[at] = (uint8_t)w;
        }
      }
      /* Fold the input zero point (and the variant's A offset): padded A entries read zp_in,
       * which cancels it. Wraps like
       * the int32 accumulators themselves would. */
      const uint32_t folded = (uint32_t)(bias != NULL ? bias[n0 + j] : 0) -
                              (uint32_t)(input_zero_point + l->a_offset) * (uint32_t)sum;
      panel_bias[j] = (int32_t)folded;
    }
  }
}
