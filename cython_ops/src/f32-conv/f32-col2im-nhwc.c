#include "edgert/f32-conv.h"

/* dst[c] += src[c]. Blocks of 8 have a constant trip count, which gcc -O2's cheap vectoriser
 * accepts (no runtime alias or epilogue checks needed thanks to restrict). */
static void add_channels(float* EDGERT_RESTRICT dst, const float* EDGERT_RESTRICT src, size_t C) {
  size_t c = 0;
  for (; c + 8 <= C; c += 8) {
    for (size_t j = 0; j < 8; j++) dst[c + j] += src[c + j];
  }
  for (; c < C; c++) dst[c] += src[c];
}

void edgert_f32_col2im_nhwc(const float* cols, size_t H, size_t W, size_t C, size_t KH, size_t KW,
                            size_t SH, size_t SW, size_t DH, size_t DW, size_t pad_top,
                            size_t pad_left, size_t OH, size_t OW, float* output) {
  const size_t tap_row = KW * C;
  for (size_t iy = 0; iy < H; iy++) {
    for (size_t ix = 0; ix < W; ix++) {
      const float* src = cols + (iy * W + ix) * KH * tap_row;
      for (size_t ky = 0; ky < KH; ky++, src += tap_row) {
        const ptrdiff_t oy = (ptrdiff_t)(iy * SH + ky * DH) - (ptrdiff_t)pad_top;
        if (oy < 0 || oy >= (ptrdiff_t)OH) continue;
        float* out_row = output + (size_t)oy * OW * C;
        for (size_t kx = 0; kx < KW; kx++) {
          const ptrdiff_t ox = (ptrdiff_t)(ix * SW + kx * DW) - (ptrdiff_t)pad_left;
          if (ox < 0 || ox >= (ptrdiff_t)OW) continue;
          add_channels(out_row + (size_t)ox * C, src + kx * C, C);
        }
      }
    }
  }
}
