/* Body shared by the AVX2 qs8 depthwise convolutions (qs8-dwconv-*-avx2.c), ROWPAIRS packing
 * (edgert/qs8-dwconv.h).
 *
 * Arithmetic: the bytes of two vertically neighbouring taps (rows ky, ky+1, same kx) are
 * interleaved per channel, sign-extended to int16 (vpmovsxbw) and multiplied with the packed
 * (w_ky, w_ky+1) pairs by vpmaddwd, which adds both taps' exact products into int32 lanes. Each
 * 16-channel block is computed as two halves of 8 channels with one accumulator per output,
 * which leaves registers for the input columns neighbouring outputs share.
 *
 * Work order: for each output row and 16-channel block, the input columns the row needs are
 * interleaved ONCE into a small L1 buffer of int8 pairs (32 bytes per row pair and padded input
 * column; columns and rows in the padding hold the input zero point, which the packed bias
 * expects). Every output then sums buffer entries times weight pairs without a bounds check.
 * 3x3 stride 1 (MobileNet's depthwise) goes two output rows per pass, sharing four input rows.
 * Bytes, not int16, go to the buffer: the buffer's stores were the limit (one 256-bit store per
 * cycle), and the sign extension folds into the load that reads the column back. Long rows (or
 * tall generic kernels) go in column chunks that keep the buffer within DW_BUFFER_BYTES. */
#ifndef EDGERT_QS8_DWCONV_AVX2_IMPL_H
#define EDGERT_QS8_DWCONV_AVX2_IMPL_H

#include <immintrin.h>
#include <string.h>

#include "edgert/qs8-dwconv.h"

#define CB EDGERT_QS8_DWCONV_CBLOCK
#define DW_BUFFER_BYTES (16 * 1024)

/* One interleaved column of a row pair: half[h] holds channels 8h..8h+7 as (row ky, row ky+1)
 * byte pairs. */
typedef struct {
  __m128i half[2];
} dw_column;

/* Block kinds: a full block of 16 channels, a half block of exactly 8 (channel counts such as
 * 8 or 24, common in stems: one 8-channel half, no copies), or a partial tail of any other
 * width. */
enum { DW_FULL = 0, DW_TAIL = 1, DW_HALF = 2 };

EDGERT_INLINE int dw_block_kind(size_t lanes) {
  return lanes >= CB ? DW_FULL : lanes == CB / 2 ? DW_HALF : DW_TAIL;
}

/* 16 channels at p; a tail block reads only `lanes` bytes, a half block 8. */
EDGERT_INLINE __m128i dw_load(const int8_t* p, size_t lanes, const int tail) {
  if (tail == DW_HALF) return _mm_loadl_epi64((const __m128i*)p);
  if (tail) {
    int8_t tmp[CB] = {0};
    memcpy(tmp, p, lanes);
    return _mm_loadu_si128((const __m128i*)tmp);
  }
  return _mm_loadu_si128((const __m128i*)p);
}

/* Interleaved columns [j0, j1) of a row pair (rows row0, row1 at channel c; NULL = padding row)
 * into buf[0 .. j1-j0); column j is input column j, zp outside [0, W). */
EDGERT_INLINE void dw_fill(dw_column* buf, const int8_t* row0, const int8_t* row1, ptrdiff_t j0,
                           ptrdiff_t j1, size_t W, size_t C, __m128i zp, size_t lanes,
                           const int tail) {
  const dw_column pad = {{zp, zp}};
  if (row0 == NULL && row1 == NULL) {
    for (ptrdiff_t j = j0; j < j1; j++) buf[j - j0] = pad;
    return;
  }
  /* Columns in the image: [in_lo, in_hi) of [j0, j1). */
  const ptrdiff_t in_lo = j0 < 0 ? 0 : j0;
  const ptrdiff_t in_hi = j1 > (ptrdiff_t)W ? (ptrdiff_t)W : j1;
  ptrdiff_t j = j0;
  for (; j < in_lo && j < j1; j++) buf[j - j0] = pad;
  for (; j < in_hi; j++) {
    const __m128i x0 = row0 ? dw_load(row0 + j * (ptrdiff_t)C, lanes, tail) : zp;
    const __m128i x1 = row1 ? dw_load(row1 + j * (ptrdiff_t)C, lanes, tail) : zp;
    buf[j - j0].half[0] = _mm_unpacklo_epi8(x0, x1);
    buf[j - j0].half[1] = _mm_unpackhi_epi8(x0, x1);
  }
  for (; j < j1; j++) buf[j - j0] = pad;
}

typedef struct {
  __m256 lo, hi; /* clamp bounds, minus the output zero point */
  __m256i out_zp;
} dw_consts;

/* Requantizes one half-block accumulator (8 channels) and stores them (a tail block only its
 * channels below `lanes`). */
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
    memcpy(out, tmp, lanes < 8 ? lanes : 8);
  } else {
    _mm_storel_epi64((__m128i*)out, b8);
  }
}

/* Outputs [0, n) of one row chunk and one half h of a channel block from the buffer:
 * buf[r*span + j] is row pair r at buffer column j, the first output's tap 0 being column 0. */
EDGERT_INLINE void dw_outputs(const dw_column* buf, size_t span, const int16_t* w, __m256i bias,
                              size_t n, size_t npairs, size_t KW, size_t SW, size_t DW, __m256 s,
                              const dw_consts* k, int8_t* out, size_t C, size_t lanes,
                              const int h, const int tail) {
#pragma GCC unroll 2
  for (size_t o = 0; o < n; o++) {
    __m256i acc = bias;
#pragma GCC unroll 4
    for (size_t r = 0; r < npairs; r++) {
      const dw_column* col = buf + r * span + o * SW;
      const int16_t* wr = w + r * KW * 2 * CB + h * CB;
#pragma GCC unroll 7
      for (size_t kx = 0; kx < KW; kx++) {
        const __m256i x = _mm256_cvtepi8_epi16(col[kx * DW].half[h]);
        const __m256i wv = _mm256_loadu_si256((const __m256i*)(wr + kx * 2 * CB));
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(x, wv));
      }
    }
    dw_store_half(out + o * C, acc, s, k, lanes, tail);
  }
}

/* dw_outputs for a fixed K x K kernel at stride 1 (K, NP = (K+1)/2 constants): the sign-extended
 * columns slide along in registers, so each is extended once instead of K times. Used up to
 * 5x5: the 28 columns of a 7x7 window no longer fit the 16 registers. */
EDGERT_INLINE void dw_outputs_s1(const dw_column* buf, size_t span, const int16_t* w,
                                 __m256i bias, size_t n, __m256 s, const dw_consts* k, int8_t* out,
                                 size_t C, size_t lanes, const int h, const size_t K,
                                 const size_t NP, const int tail) {
  __m256i x[4][7]; /* [row pair][kx]: the current output's columns */
#pragma GCC unroll 4
  for (size_t r = 0; r < NP; r++)
#pragma GCC unroll 7
    for (size_t kx = 0; kx + 1 < K; kx++) x[r][kx] = _mm256_cvtepi8_epi16(buf[r * span + kx].half[h]);
  for (size_t o = 0; o < n; o++) {
    __m256i acc = bias;
#pragma GCC unroll 4
    for (size_t r = 0; r < NP; r++) {
      x[r][K - 1] = _mm256_cvtepi8_epi16(buf[r * span + o + K - 1].half[h]);
      const int16_t* wr = w + r * K * 2 * CB + h * CB;
#pragma GCC unroll 7
      for (size_t kx = 0; kx < K; kx++)
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(x[r][kx], _mm256_loadu_si256((const __m256i*)(wr + kx * 2 * CB))));
#pragma GCC unroll 7
      for (size_t kx = 0; kx + 1 < K; kx++) x[r][kx] = x[r][kx + 1];
    }
    dw_store_half(out + o * C, acc, s, k, lanes, tail);
  }
}

/* 3x3 stride 1, two output rows per pass (out0 = row oy, out1 = row oy + 1): their four input
 * rows form exactly two row pairs P0 = (r0, r1), P1 = (r2, r3), interleaved once for both rows:
 *   out0 = P0 . (w0, w1) + P1 . (w2, 0)      (the packed pairs)
 *   out1 = P0 . (0, w0)  + P1 . (w1, w2)     (derived here from the packed pairs)
 * which halves the buffer work per output and shares every sign extension between the rows.
 * w1x[2][3]: out1's weight pairs for this half, [pair][kx]. */
EDGERT_INLINE void dw_outputs_3x3s1_2rows(const dw_column* buf, size_t span, const int16_t* w,
                                          const __m256i* w1x, __m256i bias, size_t n, __m256 s,
                                          const dw_consts* k, int8_t* out0, int8_t* out1,
                                          size_t C, size_t lanes, const int h) {
  const int16_t* wh = w + h * CB;
  __m256i x[2][3];
#pragma GCC unroll 2
  for (size_t r = 0; r < 2; r++)
#pragma GCC unroll 2
    for (size_t kx = 0; kx < 2; kx++) x[r][kx] = _mm256_cvtepi8_epi16(buf[r * span + kx].half[h]);
  for (size_t o = 0; o < n; o++) {
    __m256i acc0 = bias, acc1 = bias;
#pragma GCC unroll 2
    for (size_t r = 0; r < 2; r++) {
      x[r][2] = _mm256_cvtepi8_epi16(buf[r * span + o + 2].half[h]);
#pragma GCC unroll 3
      for (size_t kx = 0; kx < 3; kx++) {
        const __m256i w0 = _mm256_loadu_si256((const __m256i*)(wh + (r * 3 + kx) * 2 * CB));
        acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(x[r][kx], w0));
        acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(x[r][kx], w1x[r * 3 + kx]));
      }
      x[r][0] = x[r][1];
      x[r][1] = x[r][2];
    }
    dw_store_half(out0 + o * C, acc0, s, k, lanes, 0);
    dw_store_half(out1 + o * C, acc1, s, k, lanes, 0);
  }
}

/* out1's weight pairs of a 3x3 block half from the packed (w0, w1) and (w2, 0) pairs: as int16
 * lanes within each int32 lane, (0, w0) = (w0, w1) << 16 and (w1, w2) = (w0, w1) >> 16 |
 * (w2, 0) << 16. */
EDGERT_INLINE void dw_3x3_second_row_weights(const int16_t* w, int h, __m256i* w1x) {
  for (size_t kx = 0; kx < 3; kx++) {
    const __m256i p0 = _mm256_loadu_si256((const __m256i*)(w + kx * 2 * CB + h * CB));
    const __m256i p1 = _mm256_loadu_si256((const __m256i*)(w + (3 + kx) * 2 * CB + h * CB));
    w1x[kx] = _mm256_slli_epi32(p0, 16);
    w1x[3 + kx] = _mm256_or_si256(_mm256_srli_epi32(p0, 16), _mm256_slli_epi32(p1, 16));
  }
}

/* Scales of 8 channels at p (a tail block: only `lanes` of them are read). */
EDGERT_INLINE __m256 dw_scales(const float* p, size_t lanes, const int tail) {
  if (tail) {
    float tmp[8] = {0};
    memcpy(tmp, p, (lanes < 8 ? lanes : 8) * sizeof(float));
    return _mm256_loadu_ps(tmp);
  }
  return _mm256_loadu_ps(p);
}

/* Output rows oy and oy + 1 of a 3x3 stride-1 kernel (dilation 1): see dw_outputs_3x3s1_2rows. */
EDGERT_INLINE void dw_3x3s1_row_pair(const edgert_qs8_dwconv_args* a, size_t oy, ptrdiff_t iy0,
                                     dw_column* buf, size_t capacity, const dw_consts* k) {
  const size_t W = a->W, C = a->C, OW = a->OW;
  const size_t block_bytes = CB * sizeof(int32_t) + 2 * 3 * 2 * CB * sizeof(int16_t);
  const __m128i zp = _mm_set1_epi8((char)a->input_zero_point);
  const size_t chunk = capacity / 2 - 2;
  int8_t* out_row0 = a->output + oy * OW * C;
  int8_t* out_row1 = out_row0 + OW * C;
  for (size_t c = 0; c < C; c += CB) {
    const size_t lanes = C - c;
    const int kind = dw_block_kind(lanes), tail = kind == DW_TAIL;
    const uint8_t* block = (const uint8_t*)a->packed + c / CB * block_bytes;
    const int16_t* w = (const int16_t*)(block + CB * sizeof(int32_t));
    const __m256i bias0 = _mm256_loadu_si256((const __m256i*)block);
    const __m256i bias1 = _mm256_loadu_si256((const __m256i*)(block + 8 * sizeof(int32_t)));
    const __m256 s0 = dw_scales(a->scales + c, lanes, tail);
    const __m256 s1 = lanes > 8 ? dw_scales(a->scales + c + 8, lanes - 8, tail) : s0;
    __m256i w1x[2][6];
    dw_3x3_second_row_weights(w, 0, w1x[0]);
    dw_3x3_second_row_weights(w, 1, w1x[1]);
    for (size_t ox0 = 0; ox0 < OW; ox0 += chunk) {
      const size_t n = edgert_min_sz(chunk, OW - ox0);
      const size_t span = n + 2;
      const ptrdiff_t j0 = (ptrdiff_t)ox0 - (ptrdiff_t)a->pad_left;
      for (size_t r = 0; r < 2; r++) {
        const int8_t* rows[2];
        for (size_t h = 0; h < 2; h++) {
          const ptrdiff_t iy = iy0 + (ptrdiff_t)(2 * r + h);
          rows[h] = iy >= 0 && iy < (ptrdiff_t)a->H ? a->input + (size_t)iy * W * C + c : NULL;
        }
        if (tail) dw_fill(buf + r * span, rows[0], rows[1], j0, j0 + (ptrdiff_t)span, W, C, zp, lanes, DW_TAIL);
        else if (kind == DW_HALF) dw_fill(buf + r * span, rows[0], rows[1], j0, j0 + (ptrdiff_t)span, W, C, zp, lanes, DW_HALF);
        else dw_fill(buf + r * span, rows[0], rows[1], j0, j0 + (ptrdiff_t)span, W, C, zp, lanes, DW_FULL);
      }
      int8_t* o0 = out_row0 + ox0 * C + c;
      int8_t* o1 = out_row1 + ox0 * C + c;
      if (tail) {
        /* A partial block: the single-row bodies, each row from its own pairs (the second
         * row's pairs start one row lower, so refill). */
        dw_outputs(buf, span, w, bias0, n, 2, 3, 1, 1, s0, k, o0, C, lanes, 0, 1);
        if (lanes > 8) dw_outputs(buf, span, w, bias1, n, 2, 3, 1, 1, s1, k, o0 + 8, C, lanes - 8, 1, 1);
        for (size_t r = 0; r < 2; r++) {
          const int8_t* rows[2];
          for (size_t h = 0; h < 2; h++) {
            const ptrdiff_t iy = iy0 + 1 + (ptrdiff_t)(2 * r + h);
            rows[h] = 2 * r + h < 3 && iy >= 0 && iy < (ptrdiff_t)a->H ? a->input + (size_t)iy * W * C + c : NULL;
          }
          dw_fill(buf + r * span, rows[0], rows[1], j0, j0 + (ptrdiff_t)span, W, C, zp, lanes, 1);
        }
        dw_outputs(buf, span, w, bias0, n, 2, 3, 1, 1, s0, k, o1, C, lanes, 0, 1);
        if (lanes > 8) dw_outputs(buf, span, w, bias1, n, 2, 3, 1, 1, s1, k, o1 + 8, C, lanes - 8, 1, 1);
      } else {
        dw_outputs_3x3s1_2rows(buf, span, w, w1x[0], bias0, n, s0, k, o0, o1, C, lanes, 0);
        if (kind == DW_FULL)
          dw_outputs_3x3s1_2rows(buf, span, w, w1x[1], bias1, n, s1, k, o0 + 8, o1 + 8, C, lanes, 1);
      }
    }
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
  const __m128i zp = _mm_set1_epi8((char)a->input_zero_point);
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
  const int two_rows = fixed && K == 3 && S == 1;
  for (size_t oy = oy0; oy < oy1; oy++) {
    const ptrdiff_t iy0 = (ptrdiff_t)(oy * SH) - (ptrdiff_t)a->pad_top;
    int8_t* out_row = a->output + oy * OW * C;
    if (two_rows && oy + 1 < oy1) {
      dw_3x3s1_row_pair(a, oy, iy0, buf, capacity, &k);
      oy++;
      continue;
    }
    for (size_t c = 0; c < C; c += CB) {
      const size_t lanes = C - c;
      const int kind = dw_block_kind(lanes), tail = kind == DW_TAIL;
      const uint8_t* block = (const uint8_t*)a->packed + c / CB * block_bytes;
      const int16_t* w = (const int16_t*)(block + CB * sizeof(int32_t));
      const __m256i bias0 = _mm256_loadu_si256((const __m256i*)block);
      const __m256i bias1 = _mm256_loadu_si256((const __m256i*)(block + 8 * sizeof(int32_t)));
      const __m256 s0 = dw_scales(a->scales + c, lanes, tail);
      const __m256 s1 = lanes > 8 ? dw_scales(a->scales + c + 8, lanes - 8, tail) : s0;
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
          if (tail) dw_fill(buf + r * span, rows[0], rows[1], j0, j0 + (ptrdiff_t)span, W, C, zp, lanes, DW_TAIL);
          else if (kind == DW_HALF) dw_fill(buf + r * span, rows[0], rows[1], j0, j0 + (ptrdiff_t)span, W, C, zp, lanes, DW_HALF);
          else dw_fill(buf + r * span, rows[0], rows[1], j0, j0 + (ptrdiff_t)span, W, C, zp, lanes, DW_FULL);
        }
        int8_t* out = out_row + ox0 * C + c;
        /* A half block is the full block's first half: its 8 channels use the same bodies. */
        if (fixed && S == 1 && K <= 5 && !tail) {
          dw_outputs_s1(buf, span, w, bias0, n, s0, &k, out, C, lanes, 0, K, (K + 1) / 2, 0);
          if (kind == DW_FULL)
            dw_outputs_s1(buf, span, w, bias1, n, s1, &k, out + 8, C, lanes, 1, K, (K + 1) / 2, 0);
        } else if (tail) {
          dw_outputs(buf, span, w, bias0, n, npairs, KW, SW, DW, s0, &k, out, C, lanes, 0, 1);
          if (lanes > 8) dw_outputs(buf, span, w, bias1, n, npairs, KW, SW, DW, s1, &k, out + 8, C, lanes - 8, 1, 1);
        } else {
          dw_outputs(buf, span, w, bias0, n, npairs, KW, SW, DW, s0, &k, out, C, lanes, 0, 0);
          if (kind == DW_FULL)
            dw_outputs(buf, span, w, bias1, n, npairs, KW, SW, DW, s1, &k, out + 8, C, lanes, 1, 0);
        }
      }
    }
  }
}

#endif /* EDGERT_QS8_DWCONV_AVX2_IMPL_H */
