#include <string.h>

#include "edgert/f32-gemm.h"

size_t edgert_f32_gemm_packed_floats(size_t K, size_t N, size_t nr) {
  return edgert_divide_round_up(N, nr) * nr * (K + 1);
}

void edgert_f32_gemm_pack(size_t K, size_t N, size_t nr, const float* B, size_t b_k_stride,
                          size_t b_n_stride, const float* bias, float* packed) {
  for (size_t n0 = 0; n0 < N; n0 += nr) {
    const size_t nc = edgert_min_sz(nr, N - n0);
    /* Zero padding lets kernels load whole panels and multiply the unused lanes by 0. */
    memset(packed, 0, nr * (K + 1) * sizeof(float));
    if (bias != NULL) memcpy(packed, bias + n0, nc * sizeof(float));
    packed += nr;
    for (size_t k = 0; k < K; k++) {
      for (size_t j = 0; j < nc; j++) packed[j] = B[k * b_k_stride + (n0 + j) * b_n_stride];
      packed += nr;
    }
  }
}
