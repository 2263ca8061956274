/* Sliding windows over an NHWC image, shared by the depthwise convolution and pooling kernels.
 * Output coordinate o along an axis with stride S, dilation D, padding pad, K taps and N input
 * positions reads input o*S - pad + k*D for tap k; taps outside [0, N) fall in the padding.
 * Private to src/. */
#ifndef EDGERT_SRC_COMMON_WINDOW_H
#define EDGERT_SRC_COMMON_WINDOW_H

#include "edgert/common.h"

/* Valid taps [*k0, *k1) of output coordinate o along one axis: 0 <= o*S - pad + k*D < N.
 * For the SIMD bodies, so their inner loops need no bounds checks. */
EDGERT_INLINE void edgert_tap_range(size_t o, size_t S, size_t D, size_t pad, size_t K, size_t N,
                                    size_t* k0, size_t* k1) {
  const ptrdiff_t first = (ptrdiff_t)(o * S) - (ptrdiff_t)pad;
  const size_t lo = first >= 0 ? 0 : ((size_t)-first + D - 1) / D;
  const size_t hi =
      first >= (ptrdiff_t)N ? 0 : edgert_min_sz(K, (size_t)((ptrdiff_t)N - 1 - first) / D + 1);
  *k0 = edgert_min_sz(lo, hi);
  *k1 = hi;
}

/* The geometry the scalar references walk. */
typedef struct {
  size_t H, W, C, KH, KW, SH, SW, DH, DW, pad_top, pad_left;
} edgert_window;

/* The window of any kernel args struct with these fields (edgert_f32_dwconv_args,
 * edgert_f32_pool_args). */
#define EDGERT_WINDOW_OF(args)                                                                   \
  ((edgert_window){(args)->H, (args)->W, (args)->C, (args)->KH, (args)->KW, (args)->SH,          \
                   (args)->SW, (args)->DH, (args)->DW, (args)->pad_top, (args)->pad_left})

/* How edgert_window_reduce combines the in-bounds taps x into acc. */
enum {
  EDGERT_WINDOW_MAX, /* acc = x > acc ? x : acc */
  EDGERT_WINDOW_SUM, /* acc += x */
  EDGERT_WINDOW_DOT  /* acc += x * w[(ky*KW + kx) * w_stride] */
};

/* The scalar spec of one window: output pixel (oy, ox), channel c, starting from acc. Every tap is
 * bounds-checked, in row-major order; taps in the padding are skipped. *taps (unless NULL) gets
 * the number of in-bounds taps. op is one of EDGERT_WINDOW_*, a compile-time constant. */
EDGERT_INLINE float edgert_window_reduce(const edgert_window* g, const float* input, size_t oy,
                                         size_t ox, size_t c, float acc, const float* w,
                                         size_t w_stride, size_t* taps, const int op) {
  size_t count = 0;
  for (size_t ky = 0; ky < g->KH; ky++) {
    /* Unsigned wrap-around makes negative coordinates fail the < H test too. */
    const size_t iy = oy * g->SH + ky * g->DH - g->pad_top;
    if (iy >= g->H) continue;
    for (size_t kx = 0; kx < g->KW; kx++) {
      const size_t ix = ox * g->SW + kx * g->DW - g->pad_left;
      if (ix >= g->W) continue;
      const float x = input[(iy * g->W + ix) * g->C + c];
      if (op == EDGERT_WINDOW_MAX) acc = x > acc ? x : acc;
      if (op == EDGERT_WINDOW_SUM) acc += x;
      if (op == EDGERT_WINDOW_DOT) acc += x * w[(ky * g->KW + kx) * w_stride];
      count++;
    }
  }
  if (taps) *taps = count;
  return acc;
}

/* The fused output clamp of the scalar references. */
EDGERT_INLINE float edgert_clamp_f32(float y, float min, float max) {
  y = y < min ? min : y;
  return y > max ? max : y;
}

#endif /* EDGERT_SRC_COMMON_WINDOW_H */
