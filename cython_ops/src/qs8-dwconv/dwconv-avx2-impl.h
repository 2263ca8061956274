/* Body shared by the AVX2 qs8 depthwise convolutions (qs8-dwconv-*-avx2.c), ROWPAIRS packing
 * (edgert/qs8-dwconv.h).
 *
 * Arithmetic: 16 channels of two vertically neighbouring taps (rows ky, ky+1, same kx) are
 * sign-extended to int16 and interleaved per channel (vpunpck{l,h}wd), so one vpmaddwd adds both
 * taps' exact products into int32 lanes; the packed weights hold the matching (w_ky, w_ky+1)
 * pairs. The two accumulators of a 16-channel block hold channels 0-3, 8-11 | 4-7, 12-15, the
 * lane order of the unpacks, which vpackssdw turns back into channel order for free.
 *
 * Work order: for each output row and 16-channel block, the input columns the row needs are
 * sign-extended and interleaved ONCE into a small L1 buffer (one 64-byte entry per row pair and
 * padded input column; columns and rows in the padding hold the input zero point, which the
 * packed bias expects). Every output then sums buffer entries times weight pairs without a
 * single bounds check or shuffle: widening is the expensive part of int8 on AVX2 (two shuffle
 * ports), and each column is widened once however many outputs read it. Long rows (or tall
 * generic kernels) go in column chunks that keep the buffer within DW_BUFFER_BYTES. */
#ifndef EDGERT_QS8_DWCONV_AVX2_IMPL_H
#define EDGERT_QS8_DWCONV_AVX2_IMPL_H

#include <immintrin.h>
#include <string.h>

#include "edgert/qs8-dwconv.h"

#define CB EDGERT_QS8_DWCONV_CBLOCK
#define DW_BUFFER_BYTES (24 * 1024)

/* One interleaved column of a row pair: lo = channels 0-3, 8-11, hi = 4-7, 12-15, as
 * (row ky, row ky+1) int16 pairs. */
typedef struct {
  __m256i lo, hi;
} dw_column;

/* 16 channels at p as int16 (channels 0-7 | 8-15); a tail block reads only `lanes` bytes. */
EDGERT_INLINE __m256i dw_load(const int8_t* p, size_t lanes, const int tail) {
  if (tail) {
    int8_t tmp[CB] = {0};
    memcpy(tmp, p, lanes);
    return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i*)tmp));
  }
  return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i*)p));
}

/* Interleaved columns [j0, j1) of a row pair (rows row0, row1 at channel c; NULL = padding row)
 * into buf[0 .. j1-j0); column j is input column j - pad_left, zp outside [0, W). */
EDGERT_INLINE void dw_fill(dw_column* buf, const int8_t* row0, const int8_t* row1, ptrdiff_t j0,
                           ptrdiff_t j1, size_t W, size_t C, __m256i zp, size_t lanes,
                           const int tail) {
  const __m256i zz_lo = _mm256_unpacklo_epi16(zp, zp), zz_hi = _mm256_unpackhi_epi16(zp, zp);
  if (row0 == NULL && row1 == NULL) {
    for (ptrdiff_t j = j0; j < j1; j++) buf[j - j0] = (dw_column){zz_lo, zz_hi};
    return;
  }
  /* Columns in the image: [lo, hi) of [j0, j1). */
  const ptrdiff_t in_lo = j0 < 0 ? 0 : j0;
  const ptrdiff_t in_hi = j1 > (ptrdiff_t)W ? (ptrdiff_t)W : j1;
  ptrdiff_t j = j0;
  for (; j < in_lo && j < j1; j++) buf[j - j0] = (dw_column){zz_lo, zz_hi};
  for (; j < in_hi; j++) {
    const __m256i x0 = row0 ? dw_load(row0 + j * (ptrdiff_t)C, lanes, tail) : zp;
    const __m256i x1 = row1 ? dw_load(row1 + j * (ptrdiff_t)C, lanes, tail) : zp;
    buf[j - j0].lo = _mm256_unpacklo_epi16(x0, x1);
    buf[j - j0].hi = _mm256_unpackhi_epi16(x0, x1);
  }
  for (; j < j1; j++) buf[j - j0] = (dw_column){zz_lo, zz_hi};
}

typedef struct {
  __m256 lo, hi; /* clamp bounds, minus the output zero point */
  __m256i out_zp;
} dw_consts;

/* Scales of a channel block in accumulator lane order. A tail block reads only live scales. */
EDGERT_INLINE void dw_scales(const float* scales, size_t lanes, __m256* s0, __m256* s1,
                             const int tail) {
  __m256 a, b;
  if (tail) {
    float tmp[CB] = {0};
    memcpy(tmp, scales, lanes * sizeof(float));
    a = _mm256_loadu_ps(tmp);
    b = _mm256_loadu_ps(tmp + 8);
  } else {
    a = _mm256_loadu_ps(scales);
    b = _mm256_loadu_ps(scales + 8);
  }
  *s0 = _mm256_permute2f128_ps(a, b, 0x20);
  *s1 = _mm256_permute2f128_ps(a, b, 0x31);
}

/* Requantizes one half-block accumulator (channels 0-3, 8-11 or 4-7, 12-15 of the block) and
 * stores its two groups of four channels at out (+0 and +8); a tail block stores only channels
 * below `lanes`. */
EDGERT_INLINE void dw_store_half(int8_t* out, __m256i acc, __m256 s, const dw_consts* k,
                                 size_t lanes, const int tail) {
  __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(acc), s);
  f = _mm256_min_ps(_mm256_max_ps(f, k->lo), k->hi);
  const __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(f), k->out_zp);
  /* Values already lie in [qmin, qmax]: the saturating packs change nothing. */
  const __m128i w16 = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
  const __m128i b8 = _mm_packs_epi16(w16, w16);
  if (tail) {
    int8_t tmp[16];
    _mm_storeu_si128((__m128i*)tmp, b8);
    memcpy(out, tmp, edgert_min_sz(lanes, 4));
    if (lanes > 8) memcpy(out + 8, tmp + 4, edgert_min_sz(lanes - 8, 4));
  } else {
    const int32_t lo4 = _mm_cvtsi128_si32(b8), hi4 = _mm_extract_epi32(b8, 1);
    memcpy(out, &lo4, 4);
    memcpy(out + 8, &hi4, 4);
  }
}

/* Outputs [0, n) of one row chunk and one half of a channel block (half 0: channels 0-3, 8-11;
 * half 1: 4-7, 12-15) from the buffer: buf[r*span + j] is row pair r at buffer column j, the
 * first output's tap 0 being column 0. One accumulator per output leaves registers for the
 * weights of a 3x3 kernel and the columns its neighbouring outputs share. */
EDGERT_INLINE void dw_outputs(const dw_column* buf, size_t span, const int16_t* w, __m256i bias,
                              size_t n, size_t npairs, size_t KW, size_t SW, size_t DW, __m256 s,
                              const dw_consts* k, int8_t* out, size_t C, size_t lanes,
                              const int half, const int tail) {
#pragma GCC unroll 2
  for (size_t o = 0; o < n; o++) {
    __m256i acc = bias;
#pragma GCC unroll 4
    for (size_t r = 0; r < npairs; r++) {
      const dw_column* col = buf + r * span + o * SW;
      const int16_t* wr = w + r * KW * 2 * CB + half * CB;
#pragma GCC unroll 7
      for (size_t kx = 0; kx < KW; kx++) {
        const __m256i x = half ? col[kx * DW].hi : col[kx * DW].lo;
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(x, _mm256_loadu_si256((const __m256i*)(wr + kx * 2 * CB))));
      }
    }
    dw_store_half(out + o * C, acc, s, k, lanes, tail);
  }
}

/* Rows [oy0, oy1). fixed=1: K x K kernel, stride S, dilation 1, compile-time constants (the
 * output loop unrolls over the taps); fixed=0: everything from args. */
EDGERT_INLINE void dw_rows(const edgert_qs8_dwconv_args* a, size_t oy0, size_t oy1,
                           const int fixed, const size_t K, const size_t S) {
  const size_t KH = fixed ? K : a->KH, KW = fixed ? K : a->KW;
  const size_t SH = fixed ? S : a->SH, SW = fixed ? S : a->SW;
  const size_t DH = fixed ? 1 : a->DH, DW = fixed ? 1 : a->DW;
  const size_t W = a->W, C = a->C, OW = a->OW;
  const size_t npairs = (KH + 1) / 2;
  const size_t block_bytes = CB * sizeof(int32_t) + npairs * KW * 2 * CB * sizeof(int16_t);
  const __m256i zp = _mm256_set1_epi16((short)a->input_zero_point);
  dw_consts k;
  k.lo = _mm256_set1_ps((float)(a->out.qmin - a->out.zero_point));
  k.hi = _mm256_set1_ps((float)(a->out.qmax - a->out.zero_point));
  k.out_zp = _mm256_set1_epi32(a->out.zero_point);
  /* Outputs per chunk: their columns for every row pair fit the buffer. Only a kernel whose
   * single window exceeds it (wider than ~20x20) gets a larger buffer, of one window. */
  const size_t reach = (KW - 1) * DW + 1;
  const size_t capacity = edgert_max_sz(DW_BUFFER_BYTES / sizeof(dw_column), npairs * reach);
  dw_column buf[capacity];
  const size_t columns = capacity / npairs;
  const size_t chunk = (columns - reach) / SW + 1;
  for (size_t oy = oy0; oy < oy1; oy++) {
    const ptrdiff_t iy0 = (ptrdiff_t)(oy * SH) - (ptrdiff_t)a->pad_top;
    int8_t* out_row = a->output + oy * OW * C;
    for (size_t c = 0; c < C; c += CB) {
      const int tail = c + CB > C;
      const size_t lanes = C - c;
      const uint8_t* block = (const uint8_t*)a->packed + c / CB * block_bytes;
      const int16_t* w = (const int16_t*)(block + CB * sizeof(int32_t));
      const __m256i bias0 = _mm256_loadu_si256((const __m256i*)block);
      const __m256i bias1 = _mm256_loadu_si256((const __m256i*)(block + 8 * sizeof(int32_t)));
      __m256 s0, s1;
      dw_scales(a->scales + c, lanes, &s0, &s1, tail);
      for (size_t ox0 = 0; ox0 < OW; ox0 += chunk) {
        const size_t n = edgert_min_sz(chunk, OW - ox0);
        const size_t span = (n - 1) * SW + reach;
        const ptrdiff_t j0 = (ptrdiff_t)(ox0 * SW) - (ptrdiff_t)a->pad_left;
        for (size_t r = 0; r < npairs; r++) {
          const int8_t* rows[2];
          for (size_t h = 0; h < 2; h++) {
            const size_t ky = 2 * r + h;
            const ptrdiff_t iy = iy0 + (ptrdiff_t)(ky * DH);
            rows[h] = ky < KH && iy >= 0 && iy < (ptrdiff_t)a->H
                          ? a->input + (size_t)iy * W * C + c : NULL;
          }
          if (tail) dw_fill(buf + r * span, rows[0], rows[1], j0, j0 + (ptrdiff_t)span, W, C, zp, lanes, 1);
          else dw_fill(buf + r * span, rows[0], rows[1], j0, j0 + (ptrdiff_t)span, W, C, zp, lanes, 0);
        }
        int8_t* out = out_row + ox0 * C + c;
        if (tail) {
          dw_outputs(buf, span, w, bias0, n, npairs, KW, SW, DW, s0, &k, out, C, lanes, 0, 1);
          if (lanes > 4) dw_outputs(buf, span, w, bias1, n, npairs, KW, SW, DW, s1, &k, out + 4, C, lanes - 4, 1, 1);
        } else {
          dw_outputs(buf, span, w, bias0, n, npairs, KW, SW, DW, s0, &k, out, C, lanes, 0, 0);
          dw_outputs(buf, span, w, bias1, n, npairs, KW, SW, DW, s1, &k, out + 4, C, lanes, 1, 0);
        }
      }
    }
  }
}

#endif /* EDGERT_QS8_DWCONV_AVX2_IMPL_H */
