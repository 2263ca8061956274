#include <string.h>

#include "edgert/f32-conv-stem.h"

size_t edgert_f32_conv_stem_packed_floats(size_t C_in, size_t C_out, size_t KH, size_t KW) {
  return edgert_round_up(C_out, EDGERT_F32_CONV_STEM_COUT_BLOCK) * (1 + KH * KW * C_in);
}

void edgert_f32_conv_stem_pack(size_t C_in, size_t C_out, size_t KH, size_t KW,
                               const float* weights, const float* bias, float* packed) {
  const size_t B = EDGERT_F32_CONV_STEM_COUT_BLOCK;
  const size_t taps = KH * KW * C_in;
  /* Zero first: padded output channels must contribute exactly nothing. */
  memset(packed, 0, edgert_f32_conv_stem_packed_floats(C_in, C_out, KH, KW) * sizeof(float));
  for (size_t co = 0; co < C_out; co++) {
    float* block = packed + (co / B) * (1 + taps) * B + co % B;
    block[0] = bias != NULL ? bias[co] : 0.0f;
    /* ONNX [co][c][ky][kx] -> packed tap ((ky*KW + kx)*C_in + c). */
    for (size_t c = 0; c < C_in; c++)
      for (size_t ky = 0; ky < KH; ky++)
        for (size_t kx = 0; kx < KW; kx++)
          block[(1 + (ky * KW + kx) * C_in + c) * B] =
              weights[((co * C_in + c) * KH + ky) * KW + kx];
  }
}
