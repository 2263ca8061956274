#include <string.h>

#include "edgert/qs8-dwconv.h"

#define CB EDGERT_QS8_DWCONV_CBLOCK

/* Weight bytes of one channel block after its int32 bias. */
static size_t block_weight_bytes(edgert_qs8_dwconv_layout layout, size_t KH, size_t KW) {
  if (layout == EDGERT_QS8_DWCONV_ROWPAIRS) return (KH + 1) / 2 * KW * 2 * CB * sizeof(int16_t);
  if (layout == EDGERT_QS8_DWCONV_ROWQUADS) return (KH + 3) / 4 * KW * 4 * CB;
  return KH * KW * CB;
}

size_t edgert_qs8_dwconv_packed_bytes(edgert_qs8_dwconv_layout layout, size_t C, size_t KH,
                                      size_t KW) {
  return edgert_divide_round_up(C, CB) * (CB * sizeof(int32_t) + block_weight_bytes(layout, KH, KW));
}

void edgert_qs8_dwconv_pack(edgert_qs8_dwconv_layout layout, size_t C, size_t KH, size_t KW,
                            const int8_t* weights, const int32_t* bias, int32_t input_zero_point,
                            void* packed) {
  const size_t taps = KH * KW;
  const size_t block_bytes = CB * sizeof(int32_t) + block_weight_bytes(layout, KH, KW);
  /* Zero first: padded channels and the zero row of an odd KH contribute exactly nothing. */
  memset(packed, 0, edgert_qs8_dwconv_packed_bytes(layout, C, KH, KW));
  for (size_t c = 0; c < C; c++) {
    uint8_t* block = (uint8_t*)packed + (c / CB) * block_bytes;
    const size_t j = c % CB;
    const int8_t* w = weights + c * taps;
    int32_t sum = 0;
    for (size_t t = 0; t < taps; t++) sum += w[t];
    /* ROWQUADS kernels read x + 128: their bias also removes 128 * sum(w). */
    const uint32_t offset = layout == EDGERT_QS8_DWCONV_ROWQUADS ? 128u : 0u;
    const int32_t folded = (int32_t)((uint32_t)(bias != NULL ? bias[c] : 0) -
                                     ((uint32_t)input_zero_point + offset) * (uint32_t)sum);
    memcpy(block + j * sizeof(int32_t), &folded, sizeof(folded));
    if (layout == EDGERT_QS8_DWCONV_ROWPAIRS) {
      /* Pair slot 2*j + (ky % 2) of entry (ky / 2, kx). */
      int16_t* pairs = (int16_t*)(block + CB * sizeof(int32_t));
      for (size_t ky = 0; ky < KH; ky++)
        for (size_t kx = 0; kx < KW; kx++)
          pairs[((ky / 2) * KW + kx) * 2 * CB + 2 * j + ky % 2] = w[ky * KW + kx];
    } else if (layout == EDGERT_QS8_DWCONV_ROWQUADS) {
      /* Quad slot 4*j + (ky % 4) of entry (ky / 4, kx). */
      int8_t* quads = (int8_t*)(block + CB * sizeof(int32_t));
      for (size_t ky = 0; ky < KH; ky++)
        for (size_t kx = 0; kx < KW; kx++)
          quads[((ky / 4) * KW + kx) * 4 * CB + 4 * j + ky % 4] = w[ky * KW + kx];
    } else {
      int8_t* taps_w = (int8_t*)(block + CB * sizeof(int32_t));
      for (size_t t = 0; t < taps; t++) taps_w[t * CB + j] = w[t];
    }
  }
}
