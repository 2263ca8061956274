#include "edgert/f32-conv.h"

/* The stem conv of most CNNs reads the user's NCHW image (C = 1..4). Gathering its taps
 * straight from NCHW replaces a layout conversion plus an NHWC im2col made of tiny copies. */
void edgert_f32_im2col_nchw(const float* input, size_t H, size_t W, size_t C, size_t KH,
                            size_t KW, size_t SH, size_t SW, size_t DH, size_t DW, size_t pad_top,
                            size_t pad_left, size_t OW, size_t p0, size_t p1, float* cols) {
  const size_t plane = H * W;
  float* dst = cols;
  for (size_t p = p0; p < p1; p++) {
    const size_t oy = p / OW, ox = p % OW;
    for (size_t ky = 0; ky < KH; ky++) {
      const ptrdiff_t iy = (ptrdiff_t)(oy * SH + ky * DH) - (ptrdiff_t)pad_top;
      const int row_inside = iy >= 0 && iy < (ptrdiff_t)H;
      for (size_t kx = 0; kx < KW; kx++, dst += C) {
        const ptrdiff_t ix = (ptrdiff_t)(ox * SW + kx * DW) - (ptrdiff_t)pad_left;
        if (!row_inside || ix < 0 || ix >= (ptrdiff_t)W) {
          for (size_t c = 0; c < C; c++) dst[c] = 0.0f;
          continue;
        }
        const float* src = input + (size_t)iy * W + (size_t)ix;
        for (size_t c = 0; c < C; c++) dst[c] = src[c * plane];
      }
    }
  }
}
