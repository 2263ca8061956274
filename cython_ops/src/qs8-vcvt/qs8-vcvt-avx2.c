#include <immintrin.h>
#include <string.h>

#include "edgert/qs8-vcvt.h"

/* 8 floats -> 8 int32 in [-128, 127] per the spec: true division, NaN -> 0 (then + zp), clamp
 * in float, round half to even (vcvtps2dq in the default rounding mode), + zp. */
EDGERT_INLINE __m256i quantize8(__m256 x, __m256 scale, __m256 lo, __m256 hi, __m256i zp) {
  __m256 f = _mm256_div_ps(x, scale);
  f = _mm256_and_ps(f, _mm256_cmp_ps(f, f, _CMP_ORD_Q)); /* NaN -> +0 */
  f = _mm256_min_ps(_mm256_max_ps(f, lo), hi);
  return _mm256_add_epi32(_mm256_cvtps_epi32(f), zp);
}

/* Two int32 vectors (elements 0-7, 8-15) in int8 range -> 16 int8 in order. */
EDGERT_INLINE __m128i pack16(__m256i q0, __m256i q1) {
  const __m256i w16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(q0, q1), 0xD8);
  return _mm_packs_epi16(_mm256_castsi256_si128(w16), _mm256_extracti128_si256(w16, 1));
}

void edgert_qs8_quantize__avx2(size_t n, const float* x, int8_t* y, float scale,
                               int32_t zero_point) {
  const __m256 vs = _mm256_set1_ps(scale);
  const __m256 lo = _mm256_set1_ps((float)(-128 - zero_point));
  const __m256 hi = _mm256_set1_ps((float)(127 - zero_point));
  const __m256i zp = _mm256_set1_epi32(zero_point);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i q0 = quantize8(_mm256_loadu_ps(x + i), vs, lo, hi, zp);
    const __m256i q1 = quantize8(_mm256_loadu_ps(x + i + 8), vs, lo, hi, zp);
    _mm_storeu_si128((__m128i*)(y + i), pack16(q0, q1));
  }
  for (; i < n; i++) y[i] = edgert_qs8_quantize(x[i], scale, zero_point);
}

void edgert_qs8_quantize_nchw__avx2(size_t C, size_t HW, size_t p0, size_t p1, const float* x,
                                    int8_t* y, float scale, int32_t zero_point) {
  const __m256 vs = _mm256_set1_ps(scale);
  const __m256 lo = _mm256_set1_ps((float)(-128 - zero_point));
  const __m256 hi = _mm256_set1_ps((float)(127 - zero_point));
  const __m256i zp = _mm256_set1_epi32(zero_point);
  size_t p = p0;
  if (C == 3) { /* RGB images: interleave three 16-pixel runs with byte shuffles */
    __m128i masks[3][3]; /* [output register k][plane c]: output byte j of k takes pixel (16k+j)/3 */
    for (size_t k = 0; k < 3; k++)
      for (size_t c = 0; c < 3; c++) {
        int8_t m[16];
        for (size_t j = 0; j < 16; j++) m[j] = (16 * k + j) % 3 == c ? (int8_t)((16 * k + j) / 3) : (int8_t)0x80;
        masks[k][c] = _mm_loadu_si128((const __m128i*)m);
      }
    for (; p + 16 <= p1; p += 16) {
      __m128i planes[3];
      for (size_t c = 0; c < 3; c++) {
        const float* src = x + c * HW + p;
        planes[c] = pack16(quantize8(_mm256_loadu_ps(src), vs, lo, hi, zp),
                           quantize8(_mm256_loadu_ps(src + 8), vs, lo, hi, zp));
      }
      for (size_t k = 0; k < 3; k++) {
        const __m128i out = _mm_or_si128(_mm_or_si128(_mm_shuffle_epi8(planes[0], masks[k][0]),
                                                      _mm_shuffle_epi8(planes[1], masks[k][1])),
                                         _mm_shuffle_epi8(planes[2], masks[k][2]));
        _mm_storeu_si128((__m128i*)(y + p * 3 + 16 * k), out);
      }
    }
  }
  /* 16 pixels at a time: quantize each plane's run, then interleave the C planes. */
  if (C <= 16) {
    for (; p + 16 <= p1; p += 16) {
      int8_t planes[16][16];
      for (size_t c = 0; c < C; c++) {
        const float* src = x + c * HW + p;
        const __m256i q0 = quantize8(_mm256_loadu_ps(src), vs, lo, hi, zp);
        const __m256i q1 = quantize8(_mm256_loadu_ps(src + 8), vs, lo, hi, zp);
        _mm_storeu_si128((__m128i*)planes[c], pack16(q0, q1));
      }
      for (size_t i = 0; i < 16; i++)
        for (size_t c = 0; c < C; c++) y[(p + i) * C + c] = planes[c][i];
    }
  }
  for (; p < p1; p++)
    for (size_t c = 0; c < C; c++) y[p * C + c] = edgert_qs8_quantize(x[c * HW + p], scale, zero_point);
}

void edgert_qs8_dequantize__avx2(size_t n, const int8_t* x, float* y, float scale,
                                 int32_t zero_point) {
  const __m256 vs = _mm256_set1_ps(scale);
  const __m256i zp = _mm256_set1_epi32(zero_point);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i*)(x + i)));
    _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(q, zp)), vs));
  }
  for (; i < n; i++) y[i] = edgert_qs8_dequantize(x[i], scale, zero_point);
}
