#include <string.h>

#include "edgert/qs8-conv-stem.h"

#define CB EDGERT_QS8_CONV_STEM_COUT_BLOCK

static size_t pairs_per_row(size_t C_in, size_t KW) { return (KW * C_in + 1) / 2; }

static size_t block_bytes(size_t C_in, size_t KH, size_t KW) {
  return CB * sizeof(int32_t) + KH * pairs_per_row(C_in, KW) * CB * 2 * sizeof(int16_t);
}

size_t edgert_qs8_conv_stem_packed_bytes(size_t C_in, size_t C_out, size_t KH, size_t KW) {
  return edgert_divide_round_up(C_out, CB) * block_bytes(C_in, KH, KW);
}

size_t edgert_qs8_conv_stem_scratch_elems(size_t C_in, size_t KH, size_t KW, size_t SW, size_t OW) {
  /* Per tap row: the span of input columns the output row reads, plus the odd-R pair's extra
   * element (multiplied by a zero weight). */
  return KH * (((OW - 1) * SW + KW) * C_in + 2);
}

void edgert_qs8_conv_stem_pack(size_t C_in, size_t C_out, size_t KH, size_t KW,
                               const int8_t* weights, const int32_t* bias,
                               int32_t input_zero_point, void* packed) {
  const size_t R = KW * C_in, P = pairs_per_row(C_in, KW), bytes = block_bytes(C_in, KH, KW);
  memset(packed, 0, edgert_qs8_conv_stem_packed_bytes(C_in, C_out, KH, KW));
  for (size_t n = 0; n < C_out; n++) {
    uint8_t* block = (uint8_t*)packed + n / CB * bytes;
    int32_t* b = (int32_t*)block;
    int16_t* w = (int16_t*)(block + CB * sizeof(int32_t));
    int32_t sum = 0;
    for (size_t ky = 0; ky < KH; ky++)
      for (size_t k = 0; k < R; k++) {
        const size_t kx = k / C_in, c = k % C_in;
        const int8_t v = weights[((n * C_in + c) * KH + ky) * KW + kx];
        w[((ky * P + k / 2) * CB + n % CB) * 2 + k % 2] = v;
        sum += v;
      }
    b[n % CB] = (bias ? bias[n] : 0) - input_zero_point * sum;
  }
}
