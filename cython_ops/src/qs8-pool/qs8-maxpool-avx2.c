#include <immintrin.h>
#include <string.h>

#include "edgert/qs8-pool.h"

#include "../common/window.h"

/* Per output pixel, 32 channels at a time: vpmaxsb over the in-bounds taps (no padding reads),
 * then the [qmin, qmax] clamp. The last partial block goes through a 32-byte copy. */
void edgert_qs8_maxpool__avx2(const edgert_qs8_pool_args* a, size_t oy0, size_t oy1) {
  const size_t C = a->C;
  const __m256i qmin = _mm256_set1_epi8((char)a->out.qmin);
  const __m256i qmax = _mm256_set1_epi8((char)a->out.qmax);
  for (size_t oy = oy0; oy < oy1; oy++) {
    size_t ky0, ky1;
    edgert_tap_range(oy, a->SH, a->DH, a->pad_top, a->KH, a->H, &ky0, &ky1);
    for (size_t ox = 0; ox < a->OW; ox++) {
      size_t kx0, kx1;
      edgert_tap_range(ox, a->SW, a->DW, a->pad_left, a->KW, a->W, &kx0, &kx1);
      int8_t* out = a->output + (oy * a->OW + ox) * C;
      for (size_t c = 0; c < C; c += 32) {
        const size_t lanes = edgert_min_sz(32, C - c);
        __m256i m = _mm256_set1_epi8(-128);
        for (size_t ky = ky0; ky < ky1; ky++) {
          const int8_t* row = a->input + (oy * a->SH + ky * a->DH - a->pad_top) * a->W * C + c;
          for (size_t kx = kx0; kx < kx1; kx++) {
            const int8_t* p = row + (ox * a->SW + kx * a->DW - a->pad_left) * C;
            __m256i x;
            if (lanes == 32) {
              x = _mm256_loadu_si256((const __m256i*)p);
            } else {
              int8_t tmp[32] = {0};
              memcpy(tmp, p, lanes);
              x = _mm256_loadu_si256((const __m256i*)tmp);
            }
            m = _mm256_max_epi8(m, x);
          }
        }
        m = _mm256_min_epi8(_mm256_max_epi8(m, qmin), qmax);
        if (lanes == 32) {
          _mm256_storeu_si256((__m256i*)(out + c), m);
        } else {
          int8_t tmp[32];
          _mm256_storeu_si256((__m256i*)tmp, m);
          memcpy(out + c, tmp, lanes);
        }
      }
    }
  }
}
