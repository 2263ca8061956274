#include <immintrin.h>
#include <string.h>

#include "edgert/qs8-pool.h"

/* 16 channels at a time: int32 sums over the pixels, minus pixels * zp_in, times
 * scale / pixels (one float division, as the spec), clamp, round, + zp_out. */
void edgert_qs8_global_avgpool__avx2(size_t pixels, size_t C, size_t pixel_stride,
                                     const int8_t* input, int8_t* output,
                                     const edgert_qs8_global_avgpool_params* p) {
  const __m256 mult = _mm256_set1_ps(pixels ? p->scale / (float)pixels : 0.0f);
  const __m256 lo = _mm256_set1_ps((float)(p->out.qmin - p->out.zero_point));
  const __m256 hi = _mm256_set1_ps((float)(p->out.qmax - p->out.zero_point));
  const __m256i zp_out = _mm256_set1_epi32(p->out.zero_point);
  const __m256i offset = _mm256_set1_epi32(-(int32_t)pixels * p->input_zero_point);
  for (size_t c = 0; c < C; c += 16) {
    const size_t lanes = edgert_min_sz(16, C - c);
    __m256i s0 = offset, s1 = offset;
    for (size_t i = 0; i < pixels; i++) {
      const int8_t* src = input + i * pixel_stride + c;
      __m128i x;
      if (lanes == 16) {
        x = _mm_loadu_si128((const __m128i*)src);
      } else {
        int8_t tmp[16] = {0};
        memcpy(tmp, src, lanes);
        x = _mm_loadu_si128((const __m128i*)tmp);
      }
      s0 = _mm256_add_epi32(s0, _mm256_cvtepi8_epi32(x));
      s1 = _mm256_add_epi32(s1, _mm256_cvtepi8_epi32(_mm_srli_si128(x, 8)));
    }
    __m256 f0 = _mm256_mul_ps(_mm256_cvtepi32_ps(s0), mult);
    __m256 f1 = _mm256_mul_ps(_mm256_cvtepi32_ps(s1), mult);
    f0 = _mm256_min_ps(_mm256_max_ps(f0, lo), hi);
    f1 = _mm256_min_ps(_mm256_max_ps(f1, lo), hi);
    const __m256i q0 = _mm256_add_epi32(_mm256_cvtps_epi32(f0), zp_out);
    const __m256i q1 = _mm256_add_epi32(_mm256_cvtps_epi32(f1), zp_out);
    const __m256i w16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(q0, q1), 0xD8);
    const __m128i b8 = _mm_packs_epi16(_mm256_castsi256_si128(w16), _mm256_extracti128_si256(w16, 1));
    int8_t tmp[16];
    _mm_storeu_si128((__m128i*)tmp, b8);
    memcpy(output + c, tmp, lanes);
  }
}
