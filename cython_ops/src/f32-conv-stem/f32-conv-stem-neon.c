#include "conv-stem-impl.h"

void edgert_f32_conv_stem__neon(const edgert_f32_conv_stem_args* a, size_t p0, size_t p1) {
  /* Tiles of 5 pixels x 16 channels: 20 accumulators + 4 weight vectors + 5 input scalars (GCC
   * multiplies by element) of the 32 q registers; 6 pixels spilled accumulators to the stack. */
  cs_pixels(a, p0, p1, /*T=*/5);
}
