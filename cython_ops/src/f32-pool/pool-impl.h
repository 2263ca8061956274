/* Body shared by the SIMD pooling kernels (*-avx2.c, *-neon.c): a thin vector shim per
 * architecture, then the loops written once. Per output pixel the in-bounds tap rectangle is
 * computed once, so the channel loops run without bounds checks; channels go 4 vectors at a
 * time so 4 independent max/add chains hide the instruction latency. */
#ifndef EDGERT_F32_POOL_IMPL_H
#define EDGERT_F32_POOL_IMPL_H

#include <math.h>

#include "edgert/f32-pool.h"

#if defined(__AVX2__)
#include <immintrin.h>
#define PL_VW 8
typedef __m256 pl_vec;
typedef __m256i pl_tail; /* lane mask of the last, partial channel block */
EDGERT_INLINE pl_vec pl_load(const float* p) { return _mm256_loadu_ps(p); }
EDGERT_INLINE pl_vec pl_load_tail(const float* p, pl_tail m) { return _mm256_maskload_ps(p, m); }
EDGERT_INLINE void pl_store(float* p, pl_vec v) { _mm256_storeu_ps(p, v); }
EDGERT_INLINE void pl_store_tail(float* p, pl_vec v, pl_tail m) { _mm256_maskstore_ps(p, m, v); }
EDGERT_INLINE pl_vec pl_max(pl_vec a, pl_vec b) { return _mm256_max_ps(a, b); }
EDGERT_INLINE pl_vec pl_add(pl_vec a, pl_vec b) { return _mm256_add_ps(a, b); }
EDGERT_INLINE pl_vec pl_mul(pl_vec a, pl_vec b) { return _mm256_mul_ps(a, b); }
EDGERT_INLINE pl_vec pl_dup(float x) { return _mm256_set1_ps(x); }
EDGERT_INLINE pl_vec pl_clamp(pl_vec v, pl_vec lo, pl_vec hi) {
  return _mm256_min_ps(_mm256_max_ps(v, lo), hi);
}
EDGERT_INLINE pl_tail pl_make_tail(size_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
#elif defined(__aarch64__)
#include <arm_neon.h>
#define PL_VW 4
typedef float32x4_t pl_vec;
typedef size_t pl_tail; /* number of valid lanes (1..3) of the last channel block */
EDGERT_INLINE pl_vec pl_load(const float* p) { return vld1q_f32(p); }
EDGERT_INLINE pl_vec pl_load_tail(const float* p, pl_tail n) {
  pl_vec v = vld1q_lane_f32(p, vdupq_n_f32(0.0f), 0);
  if (n > 1) v = vld1q_lane_f32(p + 1, v, 1);
  if (n > 2) v = vld1q_lane_f32(p + 2, v, 2);
  return v;
}
EDGERT_INLINE void pl_store(float* p, pl_vec v) { vst1q_f32(p, v); }
EDGERT_INLINE void pl_store_tail(float* p, pl_vec v, pl_tail n) {
  if (n & 2) {
    vst1_f32(p, vget_low_f32(v));
    p += 2;
    v = vextq_f32(v, v, 2);
  }
  if (n & 1) vst1q_lane_f32(p, v, 0);
}
EDGERT_INLINE pl_vec pl_max(pl_vec a, pl_vec b) { return vmaxq_f32(a, b); }
EDGERT_INLINE pl_vec pl_add(pl_vec a, pl_vec b) { return vaddq_f32(a, b); }
EDGERT_INLINE pl_vec pl_mul(pl_vec a, pl_vec b) { return vmulq_f32(a, b); }
EDGERT_INLINE pl_vec pl_dup(float x) { return vdupq_n_f32(x); }
EDGERT_INLINE pl_vec pl_clamp(pl_vec v, pl_vec lo, pl_vec hi) {
  return vminq_f32(vmaxq_f32(v, lo), hi);
}
EDGERT_INLINE pl_tail pl_make_tail(size_t n) { return n; }
#else
#error "pool-impl.h needs AVX2 or aarch64 NEON"
#endif

/* Valid taps [*k0, *k1) of output coordinate o along one axis: 0 <= o*S - pad + k*D < N. */
EDGERT_INLINE void pl_tap_range(size_t o, size_t S, size_t D, size_t pad, size_t K, size_t N,
                                size_t* k0, size_t* k1) {
  const ptrdiff_t first = (ptrdiff_t)(o * S) - (ptrdiff_t)pad;
  const size_t lo = first >= 0 ? 0 : ((size_t)-first + D - 1) / D;
  const size_t hi =
      first >= (ptrdiff_t)N ? 0 : edgert_min_sz(K, (size_t)((ptrdiff_t)N - 1 - first) / D + 1);
  *k0 = edgert_min_sz(lo, hi);
  *k1 = hi;
}

/* The in-bounds taps of one output pixel: rows x cols, row_step/col_step floats apart. */
typedef struct {
  const float* in; /* first in-bounds tap, channel 0 */
  size_t rows, cols, row_step, col_step;
  float* out;
  pl_vec scale; /* average: 1/divisor */
  pl_vec vmin, vmax;
} pl_window;

/* U vectors of channels starting at c (the last one partial when tail). */
EDGERT_INLINE void pl_block(const pl_window* w, size_t c, pl_tail lanes, const size_t U,
                            const int is_max, const int tail) {
  pl_vec acc[4];
#pragma GCC unroll 4
  for (size_t u = 0; u < U; u++) acc[u] = pl_dup(is_max ? -INFINITY : 0.0f);
  const float* row = w->in + c;
  for (size_t r = 0; r < w->rows; r++, row += w->row_step) {
    const float* p = row;
    for (size_t k = 0; k < w->cols; k++, p += w->col_step) {
#pragma GCC unroll 4
      for (size_t u = 0; u < U; u++) {
        const pl_vec v = tail ? pl_load_tail(p + u * PL_VW, lanes) : pl_load(p + u * PL_VW);
        acc[u] = is_max ? pl_max(acc[u], v) : pl_add(acc[u], v);
      }
    }
  }
#pragma GCC unroll 4
  for (size_t u = 0; u < U; u++) {
    const pl_vec y = pl_clamp(is_max ? acc[u] : pl_mul(acc[u], w->scale), w->vmin, w->vmax);
    if (tail) {
      pl_store_tail(w->out + c + u * PL_VW, y, lanes);
    } else {
      pl_store(w->out + c + u * PL_VW, y);
    }
  }
}

EDGERT_INLINE void pl_rows(const edgert_f32_pool_args* a, size_t oy0, size_t oy1,
                           const int is_max) {
  const size_t C = a->C;
  pl_window w;
  w.row_step = a->DH * a->W * C;
  w.col_step = a->DW * C;
  w.vmin = pl_dup(a->min);
  w.vmax = pl_dup(a->max);
  for (size_t oy = oy0; oy < oy1; oy++) {
    size_t ky0, ky1;
    pl_tap_range(oy, a->SH, a->DH, a->pad_top, a->KH, a->H, &ky0, &ky1);
    for (size_t ox = 0; ox < a->OW; ox++) {
      size_t kx0, kx1;
      pl_tap_range(ox, a->SW, a->DW, a->pad_left, a->KW, a->W, &kx0, &kx1);
      w.rows = ky1 - ky0;
      w.cols = kx1 - kx0;
      const size_t count = w.rows * w.cols;
      const size_t divisor = a->count_include_pad ? a->KH * a->KW : count;
      w.scale = pl_dup(divisor ? 1.0f / (float)divisor : 0.0f);
      w.in = a->input;
      if (count) {
        const size_t iy = oy * a->SH + ky0 * a->DH - a->pad_top;
        const size_t ix = ox * a->SW + kx0 * a->DW - a->pad_left;
        w.in += (iy * a->W + ix) * C;
      }
      w.out = a->output + (oy * a->OW + ox) * C;
      size_t c = 0;
      for (; c + 4 * PL_VW <= C; c += 4 * PL_VW) {
        pl_block(&w, c, pl_make_tail(PL_VW), 4, is_max, 0);
      }
      for (; c + PL_VW <= C; c += PL_VW) pl_block(&w, c, pl_make_tail(PL_VW), 1, is_max, 0);
      if (c < C) pl_block(&w, c, pl_make_tail(C - c), 1, is_max, 1);
    }
  }
}

/* Global average: 4 vectors of channels at a time, summing pixels in order like the reference. */
EDGERT_INLINE void pl_global_block(size_t pixels, size_t C, const float* in, float* out,
                                   pl_vec scale, pl_tail lanes, const size_t U, const int tail) {
  pl_vec acc[4];
#pragma GCC unroll 4
  for (size_t u = 0; u < U; u++) acc[u] = pl_dup(0.0f);
  for (size_t p = 0; p < pixels; p++, in += C) {
#pragma GCC unroll 4
    for (size_t u = 0; u < U; u++) {
      acc[u] = pl_add(acc[u], tail ? pl_load_tail(in + u * PL_VW, lanes) : pl_load(in + u * PL_VW));
    }
  }
#pragma GCC unroll 4
  for (size_t u = 0; u < U; u++) {
    if (tail) {
      pl_store_tail(out + u * PL_VW, pl_mul(acc[u], scale), lanes);
    } else {
      pl_store(out + u * PL_VW, pl_mul(acc[u], scale));
    }
  }
}

EDGERT_INLINE void pl_global_avg(size_t pixels, size_t C, const float* in, float* out) {
  const pl_vec scale = pl_dup(pixels ? 1.0f / (float)pixels : 0.0f);
  size_t c = 0;
  for (; c + 4 * PL_VW <= C; c += 4 * PL_VW) {
    pl_global_block(pixels, C, in + c, out + c, scale, pl_make_tail(PL_VW), 4, 0);
  }
  for (; c + PL_VW <= C; c += PL_VW) {
    pl_global_block(pixels, C, in + c, out + c, scale, pl_make_tail(PL_VW), 1, 0);
  }
  if (c < C) pl_global_block(pixels, C, in + c, out + c, scale, pl_make_tail(C - c), 1, 1);
}

#endif /* EDGERT_F32_POOL_IMPL_H */
