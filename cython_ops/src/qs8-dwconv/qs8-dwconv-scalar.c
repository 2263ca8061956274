#include <string.h>

#include "edgert/qs8-dwconv.h"

#define CB EDGERT_QS8_DWCONV_CBLOCK

/* The spec (TAPS layout): every tap is bounds-checked; a tap in the padding reads zp_in. */
void edgert_qs8_dwconv__scalar(const edgert_qs8_dwconv_args* a, size_t oy0, size_t oy1) {
  const size_t taps = a->KH * a->KW;
  const size_t block_bytes = CB * sizeof(int32_t) + taps * CB;
  for (size_t oy = oy0; oy < oy1; oy++) {
    for (size_t ox = 0; ox < a->OW; ox++) {
      for (size_t c = 0; c < a->C; c++) {
        const uint8_t* block = (const uint8_t*)a->packed + (c / CB) * block_bytes;
        const int8_t* w = (const int8_t*)(block + CB * sizeof(int32_t)) + c % CB;
        int32_t bias;
        memcpy(&bias, block + (c % CB) * sizeof(int32_t), sizeof(bias));
        uint32_t acc = (uint32_t)bias; /* unsigned: wrap-around is defined */
        for (size_t ky = 0; ky < a->KH; ky++) {
          /* Unsigned wrap-around makes negative coordinates fail the < H test too. */
          const size_t iy = oy * a->SH + ky * a->DH - a->pad_top;
          for (size_t kx = 0; kx < a->KW; kx++) {
            const size_t ix = ox * a->SW + kx * a->DW - a->pad_left;
            const int32_t x = iy < a->H && ix < a->W ? a->input[(iy * a->W + ix) * a->C + c]
                                                      : a->input_zero_point;
            acc += (uint32_t)(x * w[(ky * a->KW + kx) * CB]);
          }
        }
        a->output[(oy * a->OW + ox) * a->C + c] =
            edgert_qs8_requantize((int32_t)acc, a->scales[c], &a->out);
      }
    }
  }
}
