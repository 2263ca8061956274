#include "conv-stem-impl.h"

void edgert_f32_conv_stem__avx2(const edgert_f32_conv_stem_args* a, size_t p0, size_t p1) {
  /* Tiles of 6 pixels x 16 channels: 12 accumulators + 2 weight vectors + 1 broadcast of the 16
   * ymm registers (7 spills and ran ~40% slower; 5 was no faster). */
  cs_pixels(a, p0, p1, /*T=*/6);
}
