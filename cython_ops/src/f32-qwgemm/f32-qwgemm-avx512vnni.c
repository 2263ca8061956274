/* qs8w (int8 weights, fp32 activations; edgert/f32-qwgemm.h) with 512-bit registers, for CPUs
 * with AVX-512 (built and dispatched with the AVX512-VNNI group; no VNNI instruction is used:
 * activations stay fp32). The decode GEMV is bound by widening the weights (int8 -> int32 ->
 * float, then an FMA: three vector ops per 8 products with AVX2, whose two FMA ports are the
 * limit); 16 lanes do the same per 16 products.
 *
 * Each output's sum runs in one fixed order (two 16-lane accumulators over k in steps of 32, a
 * masked tail, then one reduction) whichever rows and columns a call computes, so results do not
 * depend on how the operator splits the work across threads or on M. */
#include <immintrin.h>

#include "edgert/f32-qwgemm.h"

#if !defined(__AVX512F__) || !defined(__AVX512BW__)
#error "f32-qwgemm-avx512vnni.c needs -mavx512f -mavx512bw"
#endif

static inline __m512 widen16(const int8_t* p, __mmask16 live) {
  return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(live, p)));
}

/* out[r][j] = sum_k x[r][k] * w[j * K + k] for R (1 or 2) x rows and NB (1..4) weight rows. */
EDGERT_INLINE void dot_block(size_t R, size_t NB, size_t K, const float* const x[2], const int8_t* w,
                             float out[2][4]) {
  __m512 a[2][4], b[2][4]; /* all zeroed (the unused ones vanish when R and NB are constants) */
#pragma GCC unroll 2
  for (size_t r = 0; r < 2; r++)
#pragma GCC unroll 4
    for (size_t j = 0; j < 4; j++) a[r][j] = b[r][j] = _mm512_setzero_ps();
  size_t k = 0;
  for (; k + 32 <= K; k += 32) {
    __m512 xv[2], xu[2];
#pragma GCC unroll 2
    for (size_t r = 0; r < R; r++) {
      xv[r] = _mm512_loadu_ps(x[r] + k);
      xu[r] = _mm512_loadu_ps(x[r] + k + 16);
    }
#pragma GCC unroll 4
    for (size_t j = 0; j < NB; j++) {
      const __m512 q0 = widen16(w + j * K + k, 0xFFFF), q1 = widen16(w + j * K + k + 16, 0xFFFF);
#pragma GCC unroll 2
      for (size_t r = 0; r < R; r++) {
        a[r][j] = _mm512_fmadd_ps(xv[r], q0, a[r][j]);
        b[r][j] = _mm512_fmadd_ps(xu[r], q1, b[r][j]);
      }
    }
  }
  for (; k < K; k += 16) {
    const size_t left = K - k;
    const __mmask16 live = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
    __m512 xv[2];
#pragma GCC unroll 2
    for (size_t r = 0; r < R; r++) xv[r] = _mm512_maskz_loadu_ps(live, x[r] + k);
#pragma GCC unroll 4
    for (size_t j = 0; j < NB; j++) {
      const __m512 q = widen16(w + j * K + k, live);
#pragma GCC unroll 2
      for (size_t r = 0; r < R; r++) a[r][j] = _mm512_fmadd_ps(xv[r], q, a[r][j]);
    }
  }
#pragma GCC unroll 2
  for (size_t r = 0; r < R; r++)
#pragma GCC unroll 4
    for (size_t j = 0; j < NB; j++) out[r][j] = _mm512_reduce_add_ps(_mm512_add_ps(a[r][j], b[r][j]));
}

void edgert_f32_qs8w_gemm__avx512vnni(size_t M, size_t N, size_t K, const float* x, const int8_t* w,
                                      const float* scale, const float* bias, float* y) {
  for (size_t m = 0; m < M; m += 2) {
    const size_t R = edgert_min_sz(2, M - m);
    const float* xr[2] = {x + m * K, x + (m + R - 1) * K};
    for (size_t n = 0; n < N; n += 4) {
      const size_t NB = edgert_min_sz(4, N - n);
      float out[2][4];
      if (R == 2 && NB == 4) dot_block(2, 4, K, xr, w + n * K, out);
      else if (NB == 4) dot_block(1, 4, K, xr, w + n * K, out);
      else dot_block(R, NB, K, xr, w + n * K, out);
      for (size_t r = 0; r < R; r++)
        for (size_t j = 0; j < NB; j++) {
          const float s = out[r][j] * scale[n + j];
          y[(m + r) * N + n + j] = bias ? s + bias[n + j] : s;
        }
    }
  }
}
