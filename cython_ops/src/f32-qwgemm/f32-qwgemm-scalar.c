/* Scalar spec of the quantized-weight GEMM (edgert/f32-qwgemm.h), and the variant choice. */
#include "edgert/cpu.h"
#include "edgert/f32-qwgemm.h"

void edgert_f32_qs8w_gemm__scalar(size_t M, size_t N, size_t K, const float* x, const int8_t* w,
                                  const float* scale, const float* bias, float* y) {
  for (size_t m = 0; m < M; m++) {
    const float* xm = x + m * K;
    for (size_t n = 0; n < N; n++) {
      const int8_t* wn = w + n * K;
      float acc = 0.0f;
      for (size_t k = 0; k < K; k++) acc += xm[k] * (float)wn[k];
      acc *= scale[n];
      y[m * N + n] = bias ? acc + bias[n] : acc;
    }
  }
}

void edgert_f32_q4w_gemm__scalar(size_t M, size_t N, size_t K, size_t group, const float* x,
                                 const uint8_t* w, const float* scale, const float* bias, float* y) {
  const size_t groups = K / group;
  for (size_t m = 0; m < M; m++) {
    const float* xm = x + m * K;
    for (size_t n = 0; n < N; n++) {
      const uint8_t* wn = w + n * (K / 2);
      float acc = 0.0f;
      for (size_t g = 0; g < groups; g++) {
        float part = 0.0f;
        for (size_t k = g * group; k < (g + 1) * group; k++) {
          const uint8_t b = wn[k / 2];
          const int q = (int)((k & 1) ? (b >> 4) : (b & 0x0F)) - 8;
          part += xm[k] * (float)q;
        }
        acc += part * scale[n * groups + g];
      }
      y[m * N + n] = bias ? acc + bias[n] : acc;
    }
  }
}

void edgert_f32_f32w_gemm__scalar(size_t M, size_t N, size_t K, const float* x, const float* w,
                                  const float* bias, float* y) {
  for (size_t m = 0; m < M; m++) {
    const float* xm = x + m * K;
    for (size_t n = 0; n < N; n++) {
      const float* wn = w + n * K;
      float acc = 0.0f;
      for (size_t k = 0; k < K; k++) acc += xm[k] * wn[k];
      y[m * N + n] = bias ? acc + bias[n] : acc;
    }
  }
}

static const edgert_f32_qwgemm_kernels qw_scalar = {"scalar", edgert_f32_qs8w_gemm__scalar,
                                                    edgert_f32_q4w_gemm__scalar, edgert_f32_f32w_gemm__scalar};
#if EDGERT_ARCH_X86_64
static const edgert_f32_qwgemm_kernels qw_simd = {"avx2", edgert_f32_qs8w_gemm__avx2, edgert_f32_q4w_gemm__avx2,
                                                  edgert_f32_f32w_gemm__avx2};
static const edgert_f32_qwgemm_kernels qw_avx512 = {"avx512", edgert_f32_qs8w_gemm__avx512vnni,
                                                    edgert_f32_q4w_gemm__avx2, edgert_f32_f32w_gemm__avx2};
#elif EDGERT_ARCH_ARM64
static const edgert_f32_qwgemm_kernels qw_simd = {"neon", edgert_f32_qs8w_gemm__neon, edgert_f32_q4w_gemm__neon,
                                                  edgert_f32_f32w_gemm__neon};
#endif

const edgert_f32_qwgemm_kernels* edgert_f32_qwgemm(void) {
#if EDGERT_ARCH_X86_64
  if (edgert_cpu()->avx512_vnni) return &qw_avx512; /* implies AVX2 + FMA (edgert/cpu.h) */
  if (edgert_cpu()->avx2_fma) return &qw_simd;
#elif EDGERT_ARCH_ARM64
  if (edgert_cpu()->neon) return &qw_simd;
#endif
  return &qw_scalar;
}
