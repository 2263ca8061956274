/* Body shared by the SIMD depthwise convolutions (*-avx2.c, *-neon.c): the row/tile loops
 * written once on the vector layer of ../common/f32-vec.h.
 *
 * Work order: for each output row, tiles of T consecutive output pixels; for each tile every
 * channel block of F32V_WIDTH channels. The whole window of a tile is loaded channel-block by
 * channel-block, so input pixels (C contiguous floats) are read sequentially.
 * Vertical padding costs nothing: rows whose taps fall outside the image are skipped.
 * Horizontal padding: tiles whose input columns all lie inside the image run without checks;
 * border tiles (and the partial tile at a row end) skip the taps that fall outside.
 */
#ifndef EDGERT_F32_DWCONV_IMPL_H
#define EDGERT_F32_DWCONV_IMPL_H

#include "edgert/f32-dwconv.h"

#include "../common/f32-vec.h"
#include "../common/window.h"

#define DW_CB EDGERT_F32_DWCONV_CBLOCK
#define DW_KMAX 7 /* largest fixed kernel (7x7) */
#define DW_TMAX 8 /* largest output tile */

#if defined(__AVX2__) && !defined(__FMA__)
#error "dwconv-impl.h needs AVX2+FMA or aarch64 NEON"
#endif

/* One output tile: T consecutive outputs of one row, all channels. */
typedef struct {
  const float* in; /* input row of the first valid tap row, at channel 0 */
  size_t rows;     /* valid tap rows */
  size_t row_step; /* floats between consecutive tap rows (DH*W*C) */
  size_t ky0;      /* first valid tap row */
  ptrdiff_t ix0;   /* input column of tap 0 of the first output; may be negative */
  size_t W, C;
  float* out; /* output of the first output, at channel 0 */
  size_t n;   /* outputs to store (<= T): border tiles may store fewer */
  f32v vmin, vmax;
} dw_tile;

/* Clamps and stores outputs [0, n) of one channel block (tail: its first `lanes` channels). */
EDGERT_INLINE void dw_store_outputs(const f32v* acc, float* out, size_t C, size_t n, f32v vmin,
                                    f32v vmax, f32v_tail lanes, const size_t T, const int partial,
                                    const int tail) {
#pragma GCC unroll 8
  for (size_t o = 0; o < T; o++) {
    if (partial && o >= n) break;
    const f32v y = f32v_clamp(acc[o], vmin, vmax);
    if (tail) {
      f32v_store_tail(out + o * C, y, lanes);
    } else {
      f32v_store(out + o * C, y);
    }
  }
}

/* Fixed K x K kernel, stride S, dilation 1, one channel block, every input column in bounds:
 * tap row r, column j is at in + r*row_step + j*col_step. Each input column is loaded once and
 * feeds every output whose window covers it; the K weights of a tap row stay in registers. */
EDGERT_INLINE void dw_fixed_block(f32v* acc, const float* in, size_t rows, size_t row_step,
                                  size_t col_step, const float* w, f32v_tail lanes, const size_t K,
                                  const size_t S, const size_t T, const int tail) {
  for (size_t r = 0; r < rows; r++) {
    f32v wk[DW_KMAX];
#pragma GCC unroll 8
    for (size_t kx = 0; kx < K; kx++) wk[kx] = f32v_load(w + kx * DW_CB);
    const float* p = in;
#pragma GCC unroll 32
    for (size_t j = 0; j < (T - 1) * S + K; j++, p += col_step) {
      const f32v v = tail ? f32v_load_tail(p, lanes) : f32v_load(p);
#pragma GCC unroll 8
      for (size_t o = 0; o < T; o++) {
        if (j >= o * S && j - o * S < K) acc[o] = f32v_fma(acc[o], v, wk[j - o * S]);
      }
    }
    in += row_step;
    w += K * DW_CB;
  }
}

/* Fixed-kernel interior tile: every input column lies inside the image. */
EDGERT_INLINE void dw_fixed_tile(const dw_tile* t, const float* packed, const size_t K,
                                 const size_t S, const size_t T) {
  const size_t C = t->C;
  const size_t block_floats = (1 + K * K) * DW_CB, w_offset = (1 + t->ky0 * K) * DW_CB;
  for (size_t c = 0; c < C; c += F32V_WIDTH) {
    const int tail = c + F32V_WIDTH > C;
    const f32v_tail lanes = f32v_make_tail(C - c);
    const float* block = packed + c / DW_CB * block_floats + c % DW_CB;
    const float* in = t->in + t->ix0 * (ptrdiff_t)C + c;
    f32v acc[DW_TMAX];
    const f32v bias = f32v_load(block);
#pragma GCC unroll 8
    for (size_t o = 0; o < T; o++) acc[o] = bias;
    if (tail) {
      dw_fixed_block(acc, in, t->rows, t->row_step, C, block + w_offset, lanes, K, S, T, 1);
      dw_store_outputs(acc, t->out + c, C, T, t->vmin, t->vmax, lanes, T, 0, 1);
    } else {
      dw_fixed_block(acc, in, t->rows, t->row_step, C, block + w_offset, lanes, K, S, T, 0);
      dw_store_outputs(acc, t->out + c, C, T, t->vmin, t->vmax, lanes, T, 0, 0);
    }
  }
}

/* Any kernel, stride and dilation: each weight is loaded once per tap and applied to the T
 * outputs of the tile; border tiles skip columns outside the image. */
EDGERT_INLINE void dw_any_block(f32v* acc, const dw_tile* t, const float* in, const float* w,
                                size_t KW, size_t SW, size_t DW, f32v_tail lanes, const size_t T,
                                const int border, const int tail) {
  const ptrdiff_t C = (ptrdiff_t)t->C;
  for (size_t r = 0; r < t->rows; r++) {
    for (size_t kx = 0; kx < KW; kx++) {
      const f32v wv = f32v_load(w + kx * DW_CB);
      const ptrdiff_t ix = t->ix0 + (ptrdiff_t)(kx * DW);
#pragma GCC unroll 8
      for (size_t o = 0; o < T; o++) {
        const ptrdiff_t x = ix + (ptrdiff_t)(o * SW);
        if (border && (size_t)x >= t->W) continue; /* zero padding */
        const float* p = in + x * C;
        acc[o] = f32v_fma(acc[o], tail ? f32v_load_tail(p, lanes) : f32v_load(p), wv);
      }
    }
    in += t->row_step;
    w += KW * DW_CB;
  }
}

EDGERT_INLINE void dw_any_tile(const dw_tile* t, const float* packed, size_t KW, size_t taps,
                               size_t SW, size_t DW, const size_t T, const int border) {
  const size_t C = t->C;
  const size_t block_floats = (1 + taps) * DW_CB, w_offset = (1 + t->ky0 * KW) * DW_CB;
  for (size_t c = 0; c < C; c += F32V_WIDTH) {
    const int tail = c + F32V_WIDTH > C;
    const f32v_tail lanes = f32v_make_tail(C - c);
    const float* block = packed + c / DW_CB * block_floats + c % DW_CB;
    f32v acc[DW_TMAX];
    const f32v bias = f32v_load(block);
#pragma GCC unroll 8
    for (size_t o = 0; o < T; o++) acc[o] = bias;
    if (tail) {
      dw_any_block(acc, t, t->in + c, block + w_offset, KW, SW, DW, lanes, T, border, 1);
      dw_store_outputs(acc, t->out + c, C, t->n, t->vmin, t->vmax, lanes, T, border, 1);
    } else {
      dw_any_block(acc, t, t->in + c, block + w_offset, KW, SW, DW, lanes, T, border, 0);
      dw_store_outputs(acc, t->out + c, C, t->n, t->vmin, t->vmax, lanes, T, border, 0);
    }
  }
}

/* Rows [oy0, oy1). fixed=1: K x K kernel, stride S, dilation 1, all compile-time constants:
 * interior tiles run the input-reuse body, border tiles the weight-reuse body (with constant
 * K and S it beat copying the window into a zero-padded buffer by 20-50% on 7x7 and 14x14 maps).
 * fixed=0: everything from args, the weight-reuse body throughout. Outputs come in
 * tiles of T; the last r < T outputs of a row run as one tile of T (r > T/2) or of T/2, so a
 * row never needs more than one partial tile and at most half of one is wasted. Rows of at most
 * TW (>= T) outputs, as in 7x7 feature maps, run as a single tile of TW. */
EDGERT_INLINE void dw_rows(const edgert_f32_dwconv_args* a, size_t oy0, size_t oy1, const int fixed,
                           const size_t K, const size_t S, const size_t T, const size_t TW) {
  const size_t KH = fixed ? K : a->KH, KW = fixed ? K : a->KW;
  const size_t SH = fixed ? S : a->SH, SW = fixed ? S : a->SW;
  const size_t DH = fixed ? 1 : a->DH, DW = fixed ? 1 : a->DW;
  const size_t W = a->W, C = a->C, OW = a->OW;
  const size_t span = (T - 1) * SW + (KW - 1) * DW + 1; /* input columns of a full tile */
  dw_tile t;
  t.row_step = DH * W * C;
  t.W = W;
  t.C = C;
  t.vmin = f32v_dup(a->min);
  t.vmax = f32v_dup(a->max);
  for (size_t oy = oy0; oy < oy1; oy++) {
    size_t ky1;
    edgert_tap_range(oy, SH, DH, a->pad_top, KH, a->H, &t.ky0, &ky1);
    t.rows = ky1 - t.ky0;
    t.in = a->input + (t.rows ? (oy * SH + t.ky0 * DH - a->pad_top) * W * C : 0);
    float* out_row = a->output + oy * OW * C;
    if (OW > T && OW <= TW) {
      t.ix0 = -(ptrdiff_t)a->pad_left;
      t.out = out_row;
      t.n = OW;
      dw_any_tile(&t, a->packed, KW, KH * KW, SW, DW, TW, 1);
      continue;
    }
    for (size_t ox = 0; ox < OW; ox += t.n) {
      const size_t left = OW - ox;
      t.ix0 = (ptrdiff_t)(ox * SW) - (ptrdiff_t)a->pad_left;
      t.out = out_row + ox * C;
      const int inside = left >= T && t.ix0 >= 0 && (size_t)t.ix0 + span <= W;
      if (inside || 2 * left > T) {
        t.n = edgert_min_sz(left, T);
        if (fixed && inside) dw_fixed_tile(&t, a->packed, K, S, T);
        if (!fixed && inside) dw_any_tile(&t, a->packed, KW, KH * KW, SW, DW, T, 0);
        if (!inside) dw_any_tile(&t, a->packed, KW, KH * KW, SW, DW, T, 1);
      } else {
        t.n = left;
        dw_any_tile(&t, a->packed, KW, KH * KW, SW, DW, T / 2, 1);
      }
    }
  }
}

#endif /* EDGERT_F32_DWCONV_IMPL_H */
