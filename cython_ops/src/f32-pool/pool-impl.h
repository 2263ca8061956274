/* Body shared by the SIMD pooling kernels (*-avx2.c, *-neon.c), written once on the vector
 * layer of ../common/f32-vec.h. Per output pixel the in-bounds tap rectangle is
 * computed once, so the channel loops run without bounds checks; channels go 4 vectors at a
 * time so 4 independent max/add chains hide the instruction latency. */
#ifndef EDGERT_F32_POOL_IMPL_H
#define EDGERT_F32_POOL_IMPL_H

#include <math.h>

#include "edgert/f32-pool.h"

#include "../common/f32-vec.h"
#include "../common/window.h"

/* The in-bounds taps of one output pixel: rows x cols, row_step/col_step floats apart. */
typedef struct {
  const float* in; /* first in-bounds tap, channel 0 */
  size_t rows, cols, row_step, col_step;
  float* out;
  f32v scale; /* average: 1/divisor */
  f32v vmin, vmax;
} pl_window;

/* U vectors of channels starting at c (the last one partial when tail). */
EDGERT_INLINE void pl_block(const pl_window* w, size_t c, f32v_tail lanes, const size_t U,
                            const int is_max, const int tail) {
  f32v acc[4];
#pragma GCC unroll 4
  for (size_t u = 0; u < U; u++) acc[u] = f32v_dup(is_max ? -INFINITY : 0.0f);
  const float* row = w->in + c;
  for (size_t r = 0; r < w->rows; r++, row += w->row_step) {
    const float* p = row;
    for (size_t k = 0; k < w->cols; k++, p += w->col_step) {
#pragma GCC unroll 4
      for (size_t u = 0; u < U; u++) {
        const float* q = p + u * F32V_WIDTH;
        const f32v v = tail ? f32v_load_tail(q, lanes) : f32v_load(q);
        acc[u] = is_max ? f32v_max(acc[u], v) : f32v_add(acc[u], v);
      }
    }
  }
#pragma GCC unroll 4
  for (size_t u = 0; u < U; u++) {
    const f32v y = f32v_clamp(is_max ? acc[u] : f32v_mul(acc[u], w->scale), w->vmin, w->vmax);
    if (tail) {
      f32v_store_tail(w->out + c + u * F32V_WIDTH, y, lanes);
    } else {
      f32v_store(w->out + c + u * F32V_WIDTH, y);
    }
  }
}

EDGERT_INLINE void pl_rows(const edgert_f32_pool_args* a, size_t oy0, size_t oy1,
                           const int is_max) {
  const size_t C = a->C;
  pl_window w;
  w.row_step = a->DH * a->W * C;
  w.col_step = a->DW * C;
  w.vmin = f32v_dup(a->min);
  w.vmax = f32v_dup(a->max);
  for (size_t oy = oy0; oy < oy1; oy++) {
    size_t ky0, ky1;
    edgert_tap_range(oy, a->SH, a->DH, a->pad_top, a->KH, a->H, &ky0, &ky1);
    for (size_t ox = 0; ox < a->OW; ox++) {
      size_t kx0, kx1;
      edgert_tap_range(ox, a->SW, a->DW, a->pad_left, a->KW, a->W, &kx0, &kx1);
      w.rows = ky1 - ky0;
      w.cols = kx1 - kx0;
      const size_t count = w.rows * w.cols;
      const size_t divisor = a->count_include_pad ? a->KH * a->KW : count;
      w.scale = f32v_dup(divisor ? 1.0f / (float)divisor : 0.0f);
      w.in = a->input;
      if (count) {
        const size_t iy = oy * a->SH + ky0 * a->DH - a->pad_top;
        const size_t ix = ox * a->SW + kx0 * a->DW - a->pad_left;
        w.in += (iy * a->W + ix) * C;
      }
      w.out = a->output + (oy * a->OW + ox) * C;
      size_t c = 0;
      for (; c + 4 * F32V_WIDTH <= C; c += 4 * F32V_WIDTH) {
        pl_block(&w, c, f32v_make_tail(F32V_WIDTH), 4, is_max, 0);
      }
      for (; c + F32V_WIDTH <= C; c += F32V_WIDTH) {
        pl_block(&w, c, f32v_make_tail(F32V_WIDTH), 1, is_max, 0);
      }
      if (c < C) pl_block(&w, c, f32v_make_tail(C - c), 1, is_max, 1);
    }
  }
}

/* Global average: 4 vectors of channels at a time, summing pixels in order like the reference. */
EDGERT_INLINE void pl_global_block(size_t pixels, size_t C, const float* in, float* out,
                                   f32v scale, f32v_tail lanes, const size_t U, const int tail) {
  f32v acc[4];
#pragma GCC unroll 4
  for (size_t u = 0; u < U; u++) acc[u] = f32v_dup(0.0f);
  for (size_t p = 0; p < pixels; p++, in += C) {
#pragma GCC unroll 4
    for (size_t u = 0; u < U; u++) {
      const float* q = in + u * F32V_WIDTH;
      acc[u] = f32v_add(acc[u], tail ? f32v_load_tail(q, lanes) : f32v_load(q));
    }
  }
#pragma GCC unroll 4
  for (size_t u = 0; u < U; u++) {
    if (tail) {
      f32v_store_tail(out + u * F32V_WIDTH, f32v_mul(acc[u], scale), lanes);
    } else {
      f32v_store(out + u * F32V_WIDTH, f32v_mul(acc[u], scale));
    }
  }
}

EDGERT_INLINE void pl_global_avg(size_t pixels, size_t C, const float* in, float* out) {
  const f32v scale = f32v_dup(pixels ? 1.0f / (float)pixels : 0.0f);
  size_t c = 0;
  for (; c + 4 * F32V_WIDTH <= C; c += 4 * F32V_WIDTH) {
    pl_global_block(pixels, C, in + c, out + c, scale, f32v_make_tail(F32V_WIDTH), 4, 0);
  }
  for (; c + F32V_WIDTH <= C; c += F32V_WIDTH) {
    pl_global_block(pixels, C, in + c, out + c, scale, f32v_make_tail(F32V_WIDTH), 1, 0);
  }
  if (c < C) pl_global_block(pixels, C, in + c, out + c, scale, f32v_make_tail(C - c), 1, 1);
}

#endif /* EDGERT_F32_POOL_IMPL_H */
