/* AVX512-VNNI qs8 stem convolution (edgert/qs8-conv-stem.h, layout QUADS). Each tap row of an
 * output row is copied once into a byte row buffer plus 128 (vpdpbusd's first operand is
 * unsigned; the packing folds -128 * sum(w) into the bias), so four consecutive taps of a pixel
 * are one 32-bit broadcast and one vpdpbusd adds their exact products into 16 channels: a 3x3
 * stem over 3 channels is 9 vpdpbusd per pixel and 16 channels, where AVX2 needs 15 vpmaddwd and
 * 15 vpaddd per 8. Tiles: 4 pixels x 2 blocks of 16 channels; with C_out <= 8 a register holds
 * two pixels (lanes 0..7 and 8..15, the packing repeats the weights in both halves), 8 pixels per
 * tile, so no lane is idle and one requantization serves two pixels. */
#include <immintrin.h>
#include <string.h>

#include "../qs8-common/qs8-avx512.h"
#include "edgert/qs8-conv-stem.h"

#if !defined(__AVX512VNNI__) || !defined(__AVX512BW__) || !defined(__AVX512VL__)
#error "qs8-conv-stem-avx512vnni.c needs -mavx512vnni -mavx512bw -mavx512vl"
#endif

#define LANES 16
#define TILE 4 /* accumulators per block of 16 lanes */

typedef struct {
  __m512 lo, hi; /* clamp bounds, minus the output zero point */
  __m512i out_zp;
} stem_consts;

/* Bytes between the row buffers of consecutive tap rows: the span the output row reads, plus
 * room for the last quad's three extra bytes (multiplied by zero weights). */
static size_t row_stride(const edgert_qs8_conv_stem_args* a) {
  return ((a->OW - 1) * a->SW + a->KW) * a->C_in + 4;
}

/* Tap row ky of output row oy, plus 128; zp_in + 128 outside the image. */
static void fill_rows(const edgert_qs8_conv_stem_args* a, size_t oy, uint8_t* rows, size_t stride) {
  const size_t C = a->C_in, span = stride - 4;
  const uint8_t pad = (uint8_t)((uint8_t)(int8_t)a->input_zero_point ^ 0x80);
  const size_t lo = edgert_min_sz(a->pad_left * C, span);
  const size_t hi = edgert_max_sz(lo, edgert_min_sz((a->pad_left + a->W) * C, span));
  const __m256i flip = _mm256_set1_epi8((char)0x80);
  for (size_t ky = 0; ky < a->KH; ky++) {
    uint8_t* dst = rows + ky * stride;
    const size_t iy = oy * a->SH + ky * a->DH - a->pad_top; /* wraps when above the image */
    if (iy >= a->H) {
      memset(dst, pad, stride);
      continue;
    }
    /* Element lo is column 0 whenever the copy runs (lo < hi means lo = pad_left * C). */
    const int8_t* src = a->input + iy * a->W * C;
    uint8_t* to = dst + lo;
    const size_t count = hi - lo;
    memset(dst, pad, lo);
    size_t i = 0;
    for (; i + 32 <= count; i += 32)
      _mm256_storeu_si256((__m256i*)(to + i),
                          _mm256_xor_si256(_mm256_loadu_si256((const __m256i*)(src + i)), flip));
    for (; i < count; i++) to[i] = (uint8_t)src[i] ^ 0x80;
    memset(dst + hi, pad, stride - hi);
  }
}

EDGERT_INLINE __m512i broadcast_quad(const uint8_t* p) {
  int32_t v;
  memcpy(&v, p, sizeof(v));
  return _mm512_set1_epi32(v);
}

/* Lanes 0..7 from p's quad, lanes 8..15 from q's. */
EDGERT_INLINE __m512i broadcast_quad_pair(const uint8_t* p, const uint8_t* q) {
  int32_t u, v;
  memcpy(&u, p, sizeof(u));
  memcpy(&v, q, sizeof(v));
  return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi32(u)), _mm256_set1_epi32(v), 1);
}

EDGERT_INLINE __m128i requantize(__m512i acc, __m512 scale, const stem_consts* k) {
  return qs8_avx512_requantize16(acc, scale, k->lo, k->hi, k->out_zp);
}

/* The first n bytes of q. */
EDGERT_INLINE void store_lanes(int8_t* dst, __m128i q, size_t n) {
  qs8_avx512_store16(dst, q, (__mmask16)((1u << n) - 1));
}

/* Pixels [ox, ox + n), n <= TILE, of nb (1 or 2) blocks of 16 channels; pixels past n repeat
 * pixel n - 1. */
EDGERT_INLINE void tile16(const edgert_qs8_conv_stem_args* a, const uint8_t* rows, size_t stride,
                          const int8_t* const* w, const __m512i* bias, const __m512* scale,
                          const stem_consts* k, size_t Q, size_t ox, size_t n, int8_t* out,
                          const size_t* nc, const size_t nb) {
  const size_t step = a->SW * a->C_in;
  size_t off[TILE];
  for (size_t t = 0; t < TILE; t++) off[t] = (ox + (t < n ? t : n - 1)) * step;
  __m512i acc[2][TILE];
  for (size_t b = 0; b < nb; b++)
    for (size_t t = 0; t < TILE; t++) acc[b][t] = bias[b];
  for (size_t ky = 0; ky < a->KH; ky++) {
    const uint8_t* row = rows + ky * stride;
    for (size_t j = 0; j < Q; j++) {
      __m512i wv[2];
      for (size_t b = 0; b < nb; b++) wv[b] = _mm512_loadu_si512((const void*)(w[b] + (ky * Q + j) * LANES * 4));
#pragma GCC unroll 4
      for (size_t t = 0; t < TILE; t++) {
        const __m512i x = broadcast_quad(row + off[t] + 4 * j);
        for (size_t b = 0; b < nb; b++) acc[b][t] = _mm512_dpbusd_epi32(acc[b][t], x, wv[b]);
      }
    }
  }
  for (size_t b = 0; b < nb; b++)
    for (size_t t = 0; t < n; t++)
      store_lanes(out + (ox + t) * a->C_out + b * LANES, requantize(acc[b][t], scale[b], k), nc[b]);
}

/* C_out <= 8: pixels [ox, ox + n), n <= 2 * TILE, two per register. */
static void tile8x2(const edgert_qs8_conv_stem_args* a, const uint8_t* rows, size_t stride,
                    const int8_t* w, __m512i bias, __m512 scale, const stem_consts* k, size_t Q,
                    size_t ox, size_t n, int8_t* out) {
  const size_t step = a->SW * a->C_in, C = a->C_out;
  size_t off[2 * TILE];
  for (size_t t = 0; t < 2 * TILE; t++) off[t] = (ox + (t < n ? t : n - 1)) * step;
  __m512i acc[TILE];
  for (size_t t = 0; t < TILE; t++) acc[t] = bias;
  for (size_t ky = 0; ky < a->KH; ky++) {
    const uint8_t* row = rows + ky * stride;
    for (size_t j = 0; j < Q; j++) {
      const __m512i wv = _mm512_loadu_si512((const void*)(w + (ky * Q + j) * LANES * 4));
#pragma GCC unroll 4
      for (size_t t = 0; t < TILE; t++)
        acc[t] = _mm512_dpbusd_epi32(acc[t], broadcast_quad_pair(row + off[2 * t] + 4 * j,
                                                                 row + off[2 * t + 1] + 4 * j), wv);
    }
  }
  for (size_t t = 0; 2 * t < n; t++) {
    const __m128i q = requantize(acc[t], scale, k);
    int8_t* dst = out + (ox + 2 * t) * C;
    if (C == 8 && 2 * t + 1 < n) { /* the two pixels are 16 contiguous bytes */
      _mm_storeu_si128((__m128i*)dst, q);
      continue;
    }
    store_lanes(dst, q, C);
    if (2 * t + 1 < n) store_lanes(dst + C, _mm_srli_si128(q, 8), C);
  }
}

void edgert_qs8_conv_stem__avx512vnni(const edgert_qs8_conv_stem_args* a, size_t oy0, size_t oy1) {
  const size_t Q = (a->KW * a->C_in + 3) / 4, stride = row_stride(a);
  const size_t block_bytes = LANES * sizeof(int32_t) + a->KH * Q * LANES * 4;
  uint8_t* rows = (uint8_t*)a->scratch;
  stem_consts k;
  k.lo = _mm512_set1_ps((float)(a->out.qmin - a->out.zero_point));
  k.hi = _mm512_set1_ps((float)(a->out.qmax - a->out.zero_point));
  k.out_zp = _mm512_set1_epi32(a->out.zero_point);
  if (a->C_out <= LANES / 2) {
    const __m512i bias = _mm512_loadu_si512(a->packed);
    const __m256 s8 = _mm256_maskz_loadu_ps((__mmask8)((1u << a->C_out) - 1), a->scales);
    const __m512 scale = _mm512_shuffle_f32x4(_mm512_castps256_ps512(s8), _mm512_castps256_ps512(s8), 0x44);
    const int8_t* w = (const int8_t*)a->packed + LANES * sizeof(int32_t);
    for (size_t oy = oy0; oy < oy1; oy++) {
      fill_rows(a, oy, rows, stride);
      int8_t* out_row = a->output + oy * a->OW * a->C_out;
      for (size_t ox = 0; ox < a->OW; ox += 2 * TILE)
        tile8x2(a, rows, stride, w, bias, scale, &k, Q, ox, edgert_min_sz(2 * TILE, a->OW - ox), out_row);
    }
    return;
  }
  for (size_t oy = oy0; oy < oy1; oy++) {
    fill_rows(a, oy, rows, stride);
    int8_t* out_row = a->output + oy * a->OW * a->C_out;
    /* Blocks two at a time (the last one alone when their count is odd). */
    for (size_t c = 0; c < a->C_out; c += 2 * LANES) {
      const size_t nb = a->C_out - c > LANES ? 2 : 1;
      const int8_t* w[2];
      __m512i bias[2];
      __m512 scale[2];
      size_t nc[2];
      for (size_t b = 0; b < nb; b++) {
        const size_t cb = c + b * LANES;
        nc[b] = edgert_min_sz(LANES, a->C_out - cb);
        const uint8_t* block = (const uint8_t*)a->packed + cb / LANES * block_bytes;
        bias[b] = _mm512_loadu_si512((const void*)block);
        scale[b] = _mm512_maskz_loadu_ps((__mmask16)((1u << nc[b]) - 1), a->scales + cb);
        w[b] = (const int8_t*)(block + LANES * sizeof(int32_t));
      }
      for (size_t ox = 0; ox < a->OW; ox += TILE) {
        const size_t n = edgert_min_sz(TILE, a->OW - ox);
        if (nb == 2) tile16(a, rows, stride, w, bias, scale, &k, Q, ox, n, out_row + c, nc, 2);
        else tile16(a, rows, stride, w, bias, scale, &k, Q, ox, n, out_row + c, nc, 1);
      }
    }
  }
}
