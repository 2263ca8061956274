#include <string.h>

#include "edgert/qs8-conv-stem.h"

#define CB EDGERT_QS8_CONV_STEM_COUT_BLOCK
#define QUAD_LANES 16

/* Per layout: taps per group (a pair or a quad), lanes per block, weight bytes. */
typedef struct {
  size_t group, lanes, wbytes;
} stem_packing;

static stem_packing packing(edgert_qs8_conv_stem_layout layout) {
  return layout == EDGERT_QS8_CONV_STEM_QUADS ? (stem_packing){4, QUAD_LANES, 1}
                                              : (stem_packing){2, CB, 2};
}

static size_t groups_per_row(stem_packing p, size_t C_in, size_t KW) {
  return edgert_divide_round_up(KW * C_in, p.group);
}

static size_t block_bytes(stem_packing p, size_t C_in, size_t KH, size_t KW) {
  return p.lanes * sizeof(int32_t) + KH * groups_per_row(p, C_in, KW) * p.lanes * p.group * p.wbytes;
}

/* QUADS with C_out <= 8: one block, both halves carrying channels 0..7. */
static int dual(edgert_qs8_conv_stem_layout layout, size_t C_out) {
  return layout == EDGERT_QS8_CONV_STEM_QUADS && C_out <= QUAD_LANES / 2;
}

size_t edgert_qs8_conv_stem_packed_bytes(edgert_qs8_conv_stem_layout layout, size_t C_in,
                                         size_t C_out, size_t KH, size_t KW) {
  const stem_packing p = packing(layout);
  const size_t blocks = dual(layout, C_out) ? 1 : edgert_divide_round_up(C_out, p.lanes);
  return blocks * block_bytes(p, C_in, KH, KW);
}

size_t edgert_qs8_conv_stem_scratch_elems(size_t C_in, size_t KH, size_t KW, size_t SW, size_t OW) {
  /* Per tap row: the span of input columns the output row reads, plus the odd-R pair's extra
   * element (multiplied by a zero weight); as bytes, room for a quad's three extra ones. */
  return KH * (((OW - 1) * SW + KW) * C_in + 2);
}

void edgert_qs8_conv_stem_pack(edgert_qs8_conv_stem_layout layout, size_t C_in, size_t C_out,
                               size_t KH, size_t KW, const int8_t* weights, const int32_t* bias,
                               int32_t input_zero_point, void* packed) {
  const stem_packing p = packing(layout);
  const size_t R = KW * C_in, G = groups_per_row(p, C_in, KW), bytes = block_bytes(p, C_in, KH, KW);
  /* The unsigned-input offset of the VNNI kernel, folded into the bias. */
  const int32_t a_offset = layout == EDGERT_QS8_CONV_STEM_QUADS ? 128 : 0;
  const int twice = dual(layout, C_out);
  memset(packed, 0, edgert_qs8_conv_stem_packed_bytes(layout, C_in, C_out, KH, KW));
  for (size_t n = 0; n < C_out; n++) {
    int32_t sum = 0;
    for (size_t ky = 0; ky < KH; ky++)
      for (size_t k = 0; k < R; k++) sum += weights[((n * C_in + k % C_in) * KH + ky) * KW + k / C_in];
    for (size_t copy = 0; copy <= (size_t)twice; copy++) {
      const size_t lane_of = n + copy * (QUAD_LANES / 2); /* channel n's lane, counted over blocks */
      uint8_t* block = (uint8_t*)packed + lane_of / p.lanes * bytes;
      const size_t lane = lane_of % p.lanes;
      ((int32_t*)block)[lane] = (bias ? bias[n] : 0) - (input_zero_point + a_offset) * sum;
      uint8_t* w = block + p.lanes * sizeof(int32_t);
      for (size_t ky = 0; ky < KH; ky++)
        for (size_t k = 0; k < R; k++) {
          const int8_t v = weights[((n * C_in + k % C_in) * KH + ky) * KW + k / C_in];
          const size_t at = ((ky * G + k / p.group) * p.lanes + lane) * p.group + k % p.group;
          if (p.wbytes == 2) {
            const int16_t v16 = v;
            memcpy(w + at * 2, &v16, sizeof(v16));
          } else {
            w[at] = (uint8_t)v;
          }
        }
    }
  }
}
