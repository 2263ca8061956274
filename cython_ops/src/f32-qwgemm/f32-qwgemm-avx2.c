/* AVX2 + FMA quantized-weight GEMM (edgert/f32-qwgemm.h): 8 k at a time, weights widened
 * int8 -> int32 -> float exactly, FMA into 8 partial sums; scalar tails. */
#include <immintrin.h>
#include <string.h>

#include "edgert/f32-qwgemm.h"

static inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

void edgert_f32_qs8w_gemm__avx2(size_t M, size_t N, size_t K, const float* x, const int8_t* w,
                                const float* scale, const float* bias, float* y) {
  for (size_t m = 0; m < M; m++) {
    const float* xm = x + m * K;
    for (size_t n = 0; n < N; n++) {
      const int8_t* wn = w + n * K;
      __m256 acc = _mm256_setzero_ps();
      size_t k = 0;
      for (; k + 8 <= K; k += 8) {
        int64_t b;
        memcpy(&b, wn + k, 8);
        const __m256 wf = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_cvtsi64_si128(b)));
        acc = _mm256_fmadd_ps(_mm256_loadu_ps(xm + k), wf, acc);
      }
      float s = hsum8(acc);
      for (; k < K; k++) s += xm[k] * (float)wn[k];
      s *= scale[n];
      y[m * N + n] = bias ? s + bias[n] : s;
    }
  }
}

void edgert_f32_q4w_gemm__avx2(size_t M, size_t N, size_t K, size_t group, const float* x,
                               const uint8_t* w, const float* scale, const float* bias, float* y) {
  const size_t groups = K / group;
  const __m128i mask = _mm_set1_epi8(0x0F), eight = _mm_set1_epi8(8);
  for (size_t m = 0; m < M; m++) {
    const float* xm = x + m * K;
    for (size_t n = 0; n < N; n++) {
      const uint8_t* wn = w + n * (K / 2);
      float acc = 0.0f;
      for (size_t g = 0; g < groups; g++) {
        const size_t k0 = g * group, k1 = k0 + group;
        __m256 part = _mm256_setzero_ps();
        size_t k = k0;
        for (; k + 8 <= k1; k += 8) {  /* k even: bytes k/2 .. k/2+3 hold k .. k+7 */
          int32_t b;
          memcpy(&b, wn + k / 2, 4);
          const __m128i bytes = _mm_cvtsi32_si128(b);
          const __m128i lo = _mm_and_si128(bytes, mask);
          const __m128i hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), mask);
          const __m128i q = _mm_sub_epi8(_mm_unpacklo_epi8(lo, hi), eight);
          const __m256 wf = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q));
          part = _mm256_fmadd_ps(_mm256_loadu_ps(xm + k), wf, part);
        }
        float s = hsum8(part);
        for (; k < k1; k++) {
          const uint8_t b = wn[k / 2];
          s += xm[k] * (float)((int)((k & 1) ? (b >> 4) : (b & 0x0F)) - 8);
        }
        acc += s * scale[n * groups + g];
      }
      y[m * N + n] = bias ? acc + bias[n] : acc;
    }
  }
}
