/* int8 SKA, AVX2 (edgert/qs8-ska.h): 8 channels per vector. Per pixel and block of 8 weight groups
 * the centred tap weights are collected once (edgert_qs8_ska_group_taps) and serve all C/G channel
 * blocks using those groups. The float operations are
 * the spec's, in its order: bit-exact. Needs G % 8 == 0; else the spec. */
#include <immintrin.h>

#include "edgert/f32-ska.h"
#include "edgert/qs8-ska.h"

void edgert_qs8_ska__avx2(size_t H, size_t W, size_t C, size_t G, size_t k, const int8_t* x,
                          const int8_t* wt, int8_t* y, size_t row_begin, size_t row_end,
                          const edgert_qs8_ska_params* prm) {
  const size_t kk = k * k, reps = C / G;
  if (G % 8 != 0 || kk > EDGERT_QS8_SKA_MAX_TAPS) {
    edgert_qs8_ska__scalar(H, W, C, G, k, x, wt, y, row_begin, row_end, prm);
    return;
  }
  const __m256i xzp = _mm256_set1_epi32(prm->x_zero_point);
  const __m256 magic = _mm256_set1_ps(12582912.0f);
  const __m256 yscale = _mm256_set1_ps(prm->y_scale);
  const __m256 ylo = _mm256_set1_ps((float)(-128 - prm->y_zero_point));
  const __m256 yhi = _mm256_set1_ps((float)(127 - prm->y_zero_point));
  const __m256i yzp = _mm256_set1_epi32(prm->y_zero_point);
  size_t xoff[EDGERT_QS8_SKA_MAX_TAPS], tap[EDGERT_QS8_SKA_MAX_TAPS];
  int32_t wv[EDGERT_QS8_SKA_MAX_TAPS][8];
  __m256 mult[EDGERT_QS8_SKA_MAX_TAPS], lo[EDGERT_QS8_SKA_MAX_TAPS], hi[EDGERT_QS8_SKA_MAX_TAPS];
  __m256 dqs[EDGERT_QS8_SKA_MAX_TAPS];
  for (size_t t = 0; t < kk; t++) {
    mult[t] = _mm256_set1_ps(prm->mult[t]);
    lo[t] = _mm256_set1_ps(prm->lo[t]);
    hi[t] = _mm256_set1_ps(prm->hi[t]);
    dqs[t] = _mm256_set1_ps(prm->dq_scale[t]);
  }
  for (size_t h = row_begin; h < row_end; h++) {
    for (size_t w = 0; w < W; w++) {
      const size_t n = edgert_f32_ska_inner_taps(H, W, C, k, h, w, 1, xoff, tap);
      const int8_t* kern = wt + (h * W + w) * G * kk;
      int8_t* out = y + (h * W + w) * C;
      for (size_t g = 0; g < G; g += 8) {
        edgert_qs8_ska_group_taps(kern, g, kk, n, tap, prm->w_zero_point, wv);
        for (size_t r = 0; r < reps; r++) {
          const size_t c0 = r * G + g;
          __m256 sum = _mm256_setzero_ps();
          for (size_t q = 0; q < n; q++) {
            const size_t t = tap[q];
            const __m256i xv = _mm256_sub_epi32(
                _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i*)(x + xoff[q] + c0))), xzp);
            const __m256i prod = _mm256_mullo_epi32(xv, _mm256_loadu_si256((const __m256i*)wv[q]));
            __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(prod), mult[t]);
            f = _mm256_min_ps(_mm256_max_ps(f, lo[t]), hi[t]);
            f = _mm256_sub_ps(_mm256_add_ps(f, magic), magic);
            sum = _mm256_add_ps(sum, _mm256_mul_ps(f, dqs[t]));
          }
          __m256 v = _mm256_div_ps(sum, yscale);
          v = _mm256_min_ps(_mm256_max_ps(v, ylo), yhi);
          v = _mm256_sub_ps(_mm256_add_ps(v, magic), magic);
          const __m256i qi = _mm256_add_epi32(_mm256_cvtps_epi32(v), yzp);
          const __m128i q16 = _mm_packs_epi32(_mm256_castsi256_si128(qi), _mm256_extracti128_si256(qi, 1));
          _mm_storel_epi64((__m128i*)(out + c0), _mm_packs_epi16(q16, q16));
        }
      }
    }
  }
}
