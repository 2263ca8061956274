#include <immintrin.h>
#include <string.h>

#include "edgert/qs8-pool.h"

#include "../common/window.h"

/* Per output pixel, 16 channels at a time in two int32 vectors: sum of the in-bounds taps, minus
 * zp_in per tap (the spec's sum of q - zp_in), times scale / count computed once per pixel in
 * float exactly as the spec does, then clamp, round, + zp_out. */
void edgert_qs8_avgpool__avx2(const edgert_qs8_pool_args* a, size_t oy0, size_t oy1) {
  const size_t C = a->C;
  const __m256 lo = _mm256_set1_ps((float)(a->out.qmin - a->out.zero_point));
  const __m256 hi = _mm256_set1_ps((float)(a->out.qmax - a->out.zero_point));
  const __m256i zp_out = _mm256_set1_epi32(a->out.zero_point);
  for (size_t oy = oy0; oy < oy1; oy++) {
    size_t ky0, ky1;
    edgert_tap_range(oy, a->SH, a->DH, a->pad_top, a->KH, a->H, &ky0, &ky1);
    for (size_t ox = 0; ox < a->OW; ox++) {
      size_t kx0, kx1;
      edgert_tap_range(ox, a->SW, a->DW, a->pad_left, a->KW, a->W, &kx0, &kx1);
      const size_t valid = (ky1 - ky0) * (kx1 - kx0);
      const size_t count = a->count_include_pad ? a->KH * a->KW : valid;
      const __m256 mult = _mm256_set1_ps(count ? a->scale / (float)count : 0.0f);
      const __m256i offset = _mm256_set1_epi32(-(int32_t)valid * a->input_zero_point);
      int8_t* out = a->output + (oy * a->OW + ox) * C;
      for (size_t c = 0; c < C; c += 16) {
        const size_t lanes = edgert_min_sz(16, C - c);
        __m256i s0 = offset, s1 = offset;
        for (size_t ky = ky0; ky < ky1; ky++) {
          const int8_t* row = a->input + (oy * a->SH + ky * a->DH - a->pad_top) * a->W * C + c;
          for (size_t kx = kx0; kx < kx1; kx++) {
            const int8_t* p = row + (ox * a->SW + kx * a->DW - a->pad_left) * C;
            __m128i x;
            if (lanes == 16) {
              x = _mm_loadu_si128((const __m128i*)p);
            } else {
              int8_t tmp[16] = {0};
              memcpy(tmp, p, lanes);
              x = _mm_loadu_si128((const __m128i*)tmp);
            }
            s0 = _mm256_add_epi32(s0, _mm256_cvtepi8_epi32(x));
            s1 = _mm256_add_epi32(s1, _mm256_cvtepi8_epi32(_mm_srli_si128(x, 8)));
          }
        }
        __m256 f0 = _mm256_mul_ps(_mm256_cvtepi32_ps(s0), mult);
        __m256 f1 = _mm256_mul_ps(_mm256_cvtepi32_ps(s1), mult);
        f0 = _mm256_min_ps(_mm256_max_ps(f0, lo), hi);
        f1 = _mm256_min_ps(_mm256_max_ps(f1, lo), hi);
        const __m256i q0 = _mm256_add_epi32(_mm256_cvtps_epi32(f0), zp_out);
        const __m256i q1 = _mm256_add_epi32(_mm256_cvtps_epi32(f1), zp_out);
        const __m256i w16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(q0, q1), 0xD8);
        const __m128i b8 = _mm_packs_epi16(_mm256_castsi256_si128(w16), _mm256_extracti128_si256(w16, 1));
        if (lanes == 16) {
          _mm_storeu_si128((__m128i*)(out + c), b8);
        } else {
          int8_t tmp[16];
          _mm_storeu_si128((__m128i*)tmp, b8);
          memcpy(out + c, tmp, lanes);
        }
      }
    }
  }
}
