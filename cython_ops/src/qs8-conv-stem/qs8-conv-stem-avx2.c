/* AVX2 qs8 stem convolution (edgert/qs8-conv-stem.h): tiles of 4 output pixels x 16 output
 * channels (two blocks of 8), one int32 accumulator vector per pixel and block. Per tap pair:
 * a weight-pair load per block, then per pixel a 32-bit broadcast of its two int16 inputs (a
 * load-port op, no shuffle) and a vpmaddwd per block, which adds both taps' exact products
 * into each channel's lane. */
#include <immintrin.h>
#include <string.h>

#include "stem-rows.h"

#define CB EDGERT_QS8_CONV_STEM_COUT_BLOCK
#define TILE 4

EDGERT_INLINE __m256i broadcast_pair(const int16_t* p) {
  int32_t v;
  memcpy(&v, p, sizeof(v));
  return _mm256_set1_epi32(v);
}

typedef struct {
  __m256 lo, hi; /* clamp bounds, minus the output zero point */
  __m256i out_zp;
} stem_consts;

/* Pixels [ox, ox + n), n <= TILE, of nb (1 or 2) consecutive channel blocks: a second block
 * reuses every broadcast. Pixels past n repeat pixel n - 1. */
EDGERT_INLINE void stem_tile(const edgert_qs8_conv_stem_args* a, size_t stride, const int16_t* const* w,
                             const __m256i* bias, const __m256* scale, const stem_consts* k, size_t P,
                             size_t ox, size_t n, int8_t* out, const size_t* nc, const size_t nb) {
  const size_t step = a->SW * a->C_in;
  size_t off[TILE];
  for (size_t t = 0; t < TILE; t++) off[t] = (ox + (t < n ? t : n - 1)) * step;
  __m256i acc[2][TILE];
  for (size_t b = 0; b < nb; b++)
    for (size_t t = 0; t < TILE; t++) acc[b][t] = bias[b];
  for (size_t ky = 0; ky < a->KH; ky++) {
    const int16_t* row = a->scratch + ky * stride;
    for (size_t j = 0; j < P; j++) {
      __m256i wv[2];
      for (size_t b = 0; b < nb; b++) wv[b] = _mm256_loadu_si256((const __m256i*)(w[b] + (ky * P + j) * CB * 2));
#pragma GCC unroll 4
      for (size_t t = 0; t < TILE; t++) {
        const __m256i x = broadcast_pair(row + off[t] + 2 * j);
        for (size_t b = 0; b < nb; b++) acc[b][t] = _mm256_add_epi32(acc[b][t], _mm256_madd_epi16(x, wv[b]));
      }
    }
  }
  for (size_t b = 0; b < nb; b++)
    for (size_t t = 0; t < n; t++) {
      __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(acc[b][t]), scale[b]);
      f = _mm256_min_ps(_mm256_max_ps(f, k->lo), k->hi);
      const __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(f), k->out_zp);
      /* Values already lie in [qmin, qmax]: the saturating packs change nothing. */
      const __m128i w16 = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
      const __m128i b8 = _mm_packs_epi16(w16, w16);
      int8_t* dst = out + (ox + t) * a->C_out + b * CB;
      if (nc[b] == CB) {
        _mm_storel_epi64((__m128i*)dst, b8);
      } else {
        int8_t tmp[16];
        _mm_storeu_si128((__m128i*)tmp, b8);
        memcpy(dst, tmp, nc[b]);
      }
    }
}

void edgert_qs8_conv_stem__avx2(const edgert_qs8_conv_stem_args* a, size_t oy0, size_t oy1) {
  const size_t P = (a->KW * a->C_in + 1) / 2, stride = stem_row_stride(a);
  const size_t block_bytes = CB * sizeof(int32_t) + a->KH * P * CB * 2 * sizeof(int16_t);
  stem_consts k;
  k.lo = _mm256_set1_ps((float)(a->out.qmin - a->out.zero_point));
  k.hi = _mm256_set1_ps((float)(a->out.qmax - a->out.zero_point));
  k.out_zp = _mm256_set1_epi32(a->out.zero_point);
  for (size_t oy = oy0; oy < oy1; oy++) {
    stem_fill_rows(a, oy);
    int8_t* out_row = a->output + oy * a->OW * a->C_out;
    /* Channel blocks two at a time (the last one alone when their count is odd). */
    for (size_t c = 0; c < a->C_out; c += 2 * CB) {
      const size_t nb = a->C_out - c > CB ? 2 : 1;
      const int16_t* w[2];
      __m256i bias[2];
      __m256 scale[2];
      size_t nc[2];
      for (size_t b = 0; b < nb; b++) {
        const size_t cb = c + b * CB;
        nc[b] = edgert_min_sz(CB, a->C_out - cb);
        const uint8_t* block = (const uint8_t*)a->packed + cb / CB * block_bytes;
        bias[b] = _mm256_loadu_si256((const __m256i*)block);
        float s[CB] = {0};
        memcpy(s, a->scales + cb, nc[b] * sizeof(float));
        scale[b] = _mm256_loadu_ps(s);
        w[b] = (const int16_t*)(block + CB * sizeof(int32_t));
      }
      for (size_t ox = 0; ox < a->OW; ox += TILE) {
        const size_t n = edgert_min_sz(TILE, a->OW - ox);
        if (nb == 2) stem_tile(a, stride, w, bias, scale, &k, P, ox, n, out_row + c, nc, 2);
        else stem_tile(a, stride, w, bias, scale, &k, P, ox, n, out_row + c, nc, 1);
      }
    }
  }
}
