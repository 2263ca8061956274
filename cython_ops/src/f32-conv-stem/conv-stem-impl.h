/* Body shared by the SIMD stem convolutions (f32-conv-stem-avx2.c, f32-conv-stem-neon.c), written
 * once on the vector layer of ../common/f32-vec.h. One output-channel block (16 channels) is
 * CS_V vectors: 2 on AVX2, 4 on NEON.
 *
 * Work order: the pixel range is cut into row segments; for each segment, each output-channel
 * block, tiles of T consecutive output pixels. An interior tile (every horizontal tap of every
 * pixel inside the image) keeps T x CS_V accumulators in registers and, per tap (ky, kx, c),
 * loads the CS_V weight vectors once and broadcasts the T input values straight from the NCHW
 * plane: 2*T FMAs (AVX2) per 2 + T loads. Vertical padding costs nothing (a row only visits its
 * valid tap rows). The last, partial interior tile of a segment runs as a full tile whose extra
 * pixels repeat its last pixel (same loads, nothing extra stored), so it never reads outside the
 * image. The few border pixels (left/right padding) run through a per-pixel tap-range body.
 */
#ifndef EDGERT_F32_CONV_STEM_IMPL_H
#define EDGERT_F32_CONV_STEM_IMPL_H

#include "edgert/f32-conv-stem.h"

#include "../common/f32-vec.h"
#include "../common/window.h"

#if defined(__AVX2__) && !defined(__FMA__)
#error "conv-stem-impl.h needs AVX2+FMA or aarch64 NEON"
#endif

#define CS_B EDGERT_F32_CONV_STEM_COUT_BLOCK
#define CS_V (CS_B / F32V_WIDTH) /* vectors per output-channel block */
#define CS_TMAX 8                /* largest pixel tile */

/* What every tile of one row segment and one output-channel block shares. */
typedef struct {
  const float* in;   /* input plane 0 at the first valid tap row, column 0 */
  const float* w;    /* the block's taps at the first valid tap row ky0 */
  const float* bias; /* the block's bias[16] */
  size_t rows;       /* valid tap rows */
  size_t row_step;   /* floats between consecutive tap rows (DH*W) */
  size_t plane;      /* floats between input channels (H*W) */
  size_t W, C_in, KW, SW, DW, pad_left;
  size_t C_out, nc; /* output pixel stride; channels of this block (1..16) */
  f32v vmin, vmax;
} cs_seg;

EDGERT_INLINE void cs_init(f32v (*acc)[CS_V], const float* bias, const size_t T) {
  f32v b[CS_V];
#pragma GCC unroll 4
  for (size_t v = 0; v < CS_V; v++) b[v] = f32v_load(bias + v * F32V_WIDTH);
#pragma GCC unroll 8
  for (size_t o = 0; o < T; o++) {
#pragma GCC unroll 4
    for (size_t v = 0; v < CS_V; v++) acc[o][v] = b[v];
  }
}

/* Clamps and stores pixels [0, n) (n <= T) of the block: nc channels each, pixels C_out apart. */
EDGERT_INLINE void cs_store(f32v (*acc)[CS_V], const cs_seg* s, float* out, size_t n,
                            const size_t T) {
  const size_t nc = s->nc;
#pragma GCC unroll 8
  for (size_t o = 0; o < T; o++) {
    if (o >= n) break;
    float* dst = out + o * s->C_out;
#pragma GCC unroll 4
    for (size_t v = 0; v < CS_V; v++) {
      const f32v y = f32v_clamp(acc[o][v], s->vmin, s->vmax);
      if (nc >= (v + 1) * F32V_WIDTH) {
        f32v_store(dst + v * F32V_WIDTH, y);
      } else if (nc > v * F32V_WIDTH) {
        f32v_store_tail(dst + v * F32V_WIDTH, y, f32v_make_tail(nc - v * F32V_WIDTH));
      }
    }
  }
}

/* Interior tile of n <= T pixels starting at input column ix (tap kx = 0 of the first pixel).
 * partial: n < T, pixels past n repeat pixel n-1.
 * The geometry stays run-time on purpose: with C_in, KW and SW as compile-time constants GCC
 * fully unrolls the taps, shares the broadcasts of input columns that neighbouring pixels have
 * in common (stride 2, kx = 2 of pixel o is kx = 0 of pixel o+1), keeps them live and spills
 * the accumulators: 3x3s2 and 7x7s2 bodies specialised that way ran at 16-19 GMAC/s against
 * 38-40 for this loop (AVX2, Zen 3). */
EDGERT_INLINE void cs_tile_inside(const cs_seg* s, size_t ix, float* out, size_t n, const size_t T,
                                  const int partial) {
  const size_t C_in = s->C_in, KW = s->KW, SW = s->SW, DW = s->DW, plane = s->plane;
  size_t off[CS_TMAX];
#pragma GCC unroll 8
  for (size_t o = 0; o < T; o++) off[o] = (partial && o >= n ? n - 1 : o) * SW;
  f32v acc[CS_TMAX][CS_V];
  cs_init(acc, s->bias, T);
  const float* x = s->in + ix;
  const float* w = s->w;
  for (size_t r = 0; r < s->rows; r++) {
    for (size_t kx = 0; kx < KW; kx++) {
      for (size_t c = 0; c < C_in; c++) {
        const float* xp = x + kx * DW + c * plane;
        f32v wv[CS_V];
#pragma GCC unroll 4
        for (size_t v = 0; v < CS_V; v++) wv[v] = f32v_load(w + v * F32V_WIDTH);
        w += CS_B;
#pragma GCC unroll 8
        for (size_t o = 0; o < T; o++) {
          const f32v xo = f32v_dup(xp[off[o]]);
#pragma GCC unroll 4
          for (size_t v = 0; v < CS_V; v++) acc[o][v] = f32v_fma(acc[o][v], xo, wv[v]);
        }
      }
    }
    x += s->row_step;
  }
  cs_store(acc, s, out, n, T);
}

/* Border tile: pixels [ox, ox + n), n <= T, each visiting only its horizontal taps inside the
 * image (weights reloaded per pixel; only the few padded columns come here). */
EDGERT_INLINE void cs_tile_border(const cs_seg* s, size_t ox, float* out, size_t n,
                                  const size_t T) {
  const size_t C_in = s->C_in, KW = s->KW, SW = s->SW, DW = s->DW, plane = s->plane;
  size_t k0[CS_TMAX], k1[CS_TMAX];
  for (size_t o = 0; o < n; o++)
    edgert_tap_range(ox + o, SW, DW, s->pad_left, KW, s->W, &k0[o], &k1[o]);
  f32v acc[CS_TMAX][CS_V];
  cs_init(acc, s->bias, T);
  for (size_t r = 0; r < s->rows; r++) {
    const float* x = s->in + r * s->row_step;
    const float* w = s->w + r * KW * C_in * CS_B;
#pragma GCC unroll 8
    for (size_t o = 0; o < T; o++) {
      if (o >= n) break;
      for (size_t kx = k0[o]; kx < k1[o]; kx++) {
        const float* xp = x + ((ox + o) * SW + kx * DW - s->pad_left);
        const float* wp = w + kx * C_in * CS_B;
        for (size_t c = 0; c < C_in; c++, wp += CS_B) {
          const f32v xo = f32v_dup(xp[c * plane]);
#pragma GCC unroll 4
          for (size_t v = 0; v < CS_V; v++)
            acc[o][v] = f32v_fma(acc[o][v], xo, f32v_load(wp + v * F32V_WIDTH));
        }
      }
    }
  }
  cs_store(acc, s, out, n, T);
}

/* Output pixels [p0, p1) in tiles of T pixels. */
EDGERT_INLINE void cs_pixels(const edgert_f32_conv_stem_args* a, size_t p0, size_t p1,
                             const size_t T) {
  const size_t OW = a->OW, W = a->W, KW = a->KW, SW = a->SW, DW = a->DW;
  const size_t taps = a->KH * KW * a->C_in, block_floats = (1 + taps) * CS_B;
  /* Interior columns [lo, hi): ox*SW - pad_left >= 0 and ox*SW - pad_left + (KW-1)*DW < W. */
  const size_t lo = edgert_min_sz(edgert_divide_round_up(a->pad_left, SW), OW);
  const size_t reach = W - 1 + a->pad_left, span = (KW - 1) * DW;
  const size_t hi = edgert_max_sz(lo, reach >= span ? edgert_min_sz((reach - span) / SW + 1, OW) : 0);
  cs_seg s;
  s.row_step = a->DH * W;
  s.plane = a->H * W;
  s.W = W;
  s.C_in = a->C_in;
  s.KW = KW;
  s.SW = SW;
  s.DW = DW;
  s.pad_left = a->pad_left;
  s.C_out = a->C_out;
  s.vmin = f32v_dup(a->min);
  s.vmax = f32v_dup(a->max);
  for (size_t p = p0; p < p1;) {
    const size_t oy = p / OW, ox0 = p % OW, ox1 = edgert_min_sz(OW, ox0 + (p1 - p));
    p += ox1 - ox0;
    size_t ky0, ky1;
    edgert_tap_range(oy, a->SH, a->DH, a->pad_top, a->KH, a->H, &ky0, &ky1);
    s.rows = ky1 - ky0;
    s.in = a->input + (s.rows ? (oy * a->SH + ky0 * a->DH - a->pad_top) * W : 0);
    /* Border columns before and after the interior ones, clipped to the segment. */
    const size_t b0 = edgert_min_sz(lo, ox1), i0 = edgert_max_sz(lo, ox0);
    const size_t i1 = edgert_min_sz(hi, ox1), b1 = edgert_max_sz(hi, ox0);
    for (size_t co = 0; co < a->C_out; co += CS_B) {
      const float* block = a->packed + co / CS_B * block_floats;
      s.bias = block;
      s.w = block + CS_B + ky0 * KW * a->C_in * CS_B;
      s.nc = edgert_min_sz(CS_B, a->C_out - co);
      float* out_row = a->output + oy * OW * a->C_out + co;
      for (size_t ox = ox0; ox < b0; ox += T)
        cs_tile_border(&s, ox, out_row + ox * a->C_out, edgert_min_sz(T, b0 - ox), T);
      size_t ox = i0;
      for (; ox + T <= i1; ox += T)
        cs_tile_inside(&s, ox * SW - a->pad_left, out_row + ox * a->C_out, T, T, 0);
      if (ox < i1)
        cs_tile_inside(&s, ox * SW - a->pad_left, out_row + ox * a->C_out, i1 - ox, T, 1);
      for (ox = b1; ox < ox1; ox += T)
        cs_tile_border(&s, ox, out_row + ox * a->C_out, edgert_min_sz(T, ox1 - ox), T);
    }
  }
}

#endif /* EDGERT_F32_CONV_STEM_IMPL_H */
