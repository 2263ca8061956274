/* SKA, AVX2 + FMA (edgert/f32-ska.h). Per pixel and block of 8 weight groups, the 8-group weight
 * vector of every tap is gathered once (the kernel tensor holds a group's taps contiguously, so a
 * tap's weights across groups lie k*k floats apart) and then serves all C/G channel blocks that use
 * those groups (channels r*G + g), four accumulators at a time. Needs G % 8 == 0; else the spec. */
#include <immintrin.h>

#include "edgert/f32-ska.h"

#define MAX_TAPS 121  /* k <= 11 on this path */

void edgert_f32_ska__avx2(size_t H, size_t W, size_t C, size_t G, size_t k, const float* x,
                          const float* wt, float* y, size_t row_begin, size_t row_end) {
  const size_t kk = k * k, reps = C / G;
  if (G % 8 != 0 || kk > MAX_TAPS) {
    edgert_f32_ska__scalar(H, W, C, G, k, x, wt, y, row_begin, row_end);
    return;
  }
  const int s = (int)kk;
  const __m256i stride = _mm256_setr_epi32(0, s, 2 * s, 3 * s, 4 * s, 5 * s, 6 * s, 7 * s);
  size_t xoff[MAX_TAPS], tap[MAX_TAPS];
  __m256 wv[MAX_TAPS];
  for (size_t h = row_begin; h < row_end; h++) {
    for (size_t w = 0; w < W; w++) {
      const size_t n = edgert_f32_ska_inner_taps(H, W, C, k, h, w, 1, xoff, tap);
      const float* kern = wt + (h * W + w) * G * kk;
      float* out = y + (h * W + w) * C;
      for (size_t g = 0; g < G; g += 8) {
        for (size_t q = 0; q < n; q++) wv[q] = _mm256_i32gather_ps(kern + g * kk + tap[q], stride, 4);
        size_t r = 0;
        for (; r + 4 <= reps; r += 4) {
          const size_t c0 = r * G + g, c1 = c0 + G, c2 = c1 + G, c3 = c2 + G;
          __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
          __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
          for (size_t q = 0; q < n; q++) {
            const float* xp = x + xoff[q];
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(xp + c0), wv[q], a0);
            a1 = _mm256_fmadd_ps(_mm256_loadu_ps(xp + c1), wv[q], a1);
            a2 = _mm256_fmadd_ps(_mm256_loadu_ps(xp + c2), wv[q], a2);
            a3 = _mm256_fmadd_ps(_mm256_loadu_ps(xp + c3), wv[q], a3);
          }
          _mm256_storeu_ps(out + c0, a0);
          _mm256_storeu_ps(out + c1, a1);
          _mm256_storeu_ps(out + c2, a2);
          _mm256_storeu_ps(out + c3, a3);
        }
        for (; r < reps; r++) {
          const size_t c0 = r * G + g;
          __m256 a0 = _mm256_setzero_ps();
          for (size_t q = 0; q < n; q++) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + xoff[q] + c0), wv[q], a0);
          _mm256_storeu_ps(out + c0, a0);
        }
      }
    }
  }
}
