#include <string.h>

#include "edgert/qs8-conv.h"

/* Taps kx in [lo, hi) read input column ix0 + kx*DW inside [0, W); lo <= hi <= KW. */
static void valid_taps(ptrdiff_t ix0, size_t DW, size_t W, size_t KW, size_t* lo, size_t* hi) {
  const ptrdiff_t dw = (ptrdiff_t)DW, w = (ptrdiff_t)W;
  const size_t first = ix0 >= 0 ? 0 : (size_t)((-ix0 + dw - 1) / dw);
  const size_t end = ix0 >= w ? 0 : (size_t)((w - 1 - ix0) / dw + 1);
  *lo = edgert_min_sz(first, KW);
  *hi = edgert_max_sz(*lo, edgert_min_sz(end, KW));
}

void edgert_qs8_im2col_nhwc(const int8_t* input, size_t H, size_t W, size_t C, size_t pixel_stride,
                            size_t KH, size_t KW, size_t SH, size_t SW, size_t DH, size_t DW,
                            size_t pad_top, size_t pad_left, size_t OW, size_t p0, size_t p1,
                            int8_t pad_value, int8_t* cols) {
  const size_t tap_row = KW * C;
  /* Neighbouring taps are neighbouring pixels: a whole run of kx is one copy (helps small C). */
  const int contiguous_taps = DW == 1 && pixel_stride == C;
  int8_t* dst = cols;
  for (size_t p = p0; p < p1; p++) {
    const size_t oy = p / OW, ox = p % OW;
    const ptrdiff_t ix0 = (ptrdiff_t)(ox * SW) - (ptrdiff_t)pad_left;
    size_t kx_lo, kx_hi;
    valid_taps(ix0, DW, W, KW, &kx_lo, &kx_hi);
    for (size_t ky = 0; ky < KH; ky++, dst += tap_row) {
      const ptrdiff_t iy = (ptrdiff_t)(oy * SH + ky * DH) - (ptrdiff_t)pad_top;
      if (iy < 0 || iy >= (ptrdiff_t)H || kx_lo == kx_hi) {
        memset(dst, pad_value, tap_row);
        continue;
      }
      const int8_t* src_row = input + (size_t)iy * W * pixel_stride;
      memset(dst, pad_value, kx_lo * C);
      if (contiguous_taps) {
        memcpy(dst + kx_lo * C, src_row + (size_t)(ix0 + (ptrdiff_t)kx_lo) * C, (kx_hi - kx_lo) * C);
      } else {
        for (size_t kx = kx_lo; kx < kx_hi; kx++) {
          const size_t ix = (size_t)(ix0 + (ptrdiff_t)(kx * DW));
          memcpy(dst + kx * C, src_row + ix * pixel_stride, C);
        }
      }
      memset(dst + kx_hi * C, pad_value, (KW - kx_hi) * C);
    }
  }
}
