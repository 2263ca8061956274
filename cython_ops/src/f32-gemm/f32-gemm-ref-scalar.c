#include "edgert/f32-gemm.h"

void edgert_f32_gemm_ref(size_t nr, size_t M, size_t N, size_t K, const float* A, size_t lda,
                         const float* packed, float* C, size_t ldc,
                         const edgert_f32_minmax_params* params) {
  for (size_t m = 0; m < M; m++) {
    for (size_t n = 0; n < N; n++) {
      const float* panel = packed + (n / nr) * (nr + K * nr);
      const size_t j = n % nr;
      float acc = panel[j];
      for (size_t k = 0; k < K; k++) acc += A[m * lda + k] * panel[nr + k * nr + j];
      acc = acc < params->min ? params->min : acc;
      acc = acc > params->max ? params->max : acc;
      C[m * ldc + n] = acc;
    }
  }
}
