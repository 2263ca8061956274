#include "edgert/qs8-conv-stem.h"

#define CB EDGERT_QS8_CONV_STEM_COUT_BLOCK

void edgert_qs8_conv_stem__scalar(const edgert_qs8_conv_stem_args* a, size_t oy0, size_t oy1) {
  const size_t C_in = a->C_in, R = a->KW * C_in, P = (R + 1) / 2;
  const size_t bytes = CB * sizeof(int32_t) + a->KH * P * CB * 2 * sizeof(int16_t);
  for (size_t oy = oy0; oy < oy1; oy++)
    for (size_t ox = 0; ox < a->OW; ox++)
      for (size_t n = 0; n < a->C_out; n++) {
        const uint8_t* block = (const uint8_t*)a->packed + n / CB * bytes;
        const int16_t* w = (const int16_t*)(block + CB * sizeof(int32_t));
        int32_t acc = ((const int32_t*)block)[n % CB];
        for (size_t ky = 0; ky < a->KH; ky++) {
          /* Unsigned wrap-around sends negative coordinates past H and W too. */
          const size_t iy = oy * a->SH + ky * a->DH - a->pad_top;
          for (size_t k = 0; k < R; k++) {
            const size_t ix = ox * a->SW + k / C_in - a->pad_left;
            const int32_t x = iy < a->H && ix < a->W ? a->input[(iy * a->W + ix) * C_in + k % C_in]
                                                     : a->input_zero_point;
            acc += x * w[((ky * P + k / 2) * CB + n % CB) * 2 + k % 2];
          }
        }
        a->output[(oy * a->OW + ox) * a->C_out + n] = edgert_qs8_requantize(acc, a->scales[n], &a->out);
      }
}
