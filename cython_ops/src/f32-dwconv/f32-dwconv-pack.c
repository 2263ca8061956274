#include <string.h>

#include "edgert/f32-dwconv.h"

size_t edgert_f32_dwconv_packed_floats(size_t C, size_t KH, size_t KW) {
  return edgert_round_up(C, EDGERT_F32_DWCONV_CBLOCK) * (1 + KH * KW);
}

void edgert_f32_dwconv_pack(size_t C, size_t KH, size_t KW, const float* weights, const float* bias,
                            float* packed) {
  const size_t B = EDGERT_F32_DWCONV_CBLOCK;
  const size_t taps = KH * KW;
  /* Zero first: padded channels must contribute exactly nothing. */
  memset(packed, 0, edgert_f32_dwconv_packed_floats(C, KH, KW) * sizeof(float));
  for (size_t c = 0; c < C; c++) {
    float* block = packed + (c / B) * (1 + taps) * B + c % B;
    block[0] = bias != NULL ? bias[c] : 0.0f;
    for (size_t k = 0; k < taps; k++) block[(1 + k) * B] = weights[c * taps + k];
  }
}
