/* Row buffers shared by the SIMD qs8 stem convolutions (edgert/qs8-conv-stem.h): tap row ky of
 * output row oy is input row oy*SH - pad_top + ky*DH over the columns the row's pixels read,
 * sign-extended to int16, zp_in outside the image. */
#ifndef EDGERT_QS8_CONV_STEM_ROWS_H
#define EDGERT_QS8_CONV_STEM_ROWS_H

#include "edgert/qs8-conv-stem.h"

/* int16 elements between the row buffers of consecutive tap rows. */
EDGERT_INLINE size_t stem_row_stride(const edgert_qs8_conv_stem_args* a) {
  return ((a->OW - 1) * a->SW + a->KW) * a->C_in + 2;
}

EDGERT_INLINE void stem_fill_rows(const edgert_qs8_conv_stem_args* a, size_t oy) {
  const size_t C = a->C_in, stride = stem_row_stride(a), span = stride - 2;
  const int16_t zp = (int16_t)a->input_zero_point;
  /* Columns x of the span in the image: [lo, hi) of elements. */
  const size_t lo = edgert_min_sz(a->pad_left * C, span);
  const size_t hi = edgert_max_sz(lo, edgert_min_sz((a->pad_left + a->W) * C, span));
  for (size_t ky = 0; ky < a->KH; ky++) {
    int16_t* dst = a->scratch + ky * stride;
    const size_t iy = oy * a->SH + ky * a->DH - a->pad_top; /* wraps when above the image */
    if (iy >= a->H) {
      for (size_t i = 0; i < stride; i++) dst[i] = zp;
      continue;
    }
    /* Element lo is column 0 whenever the loop below runs (lo < hi means lo = pad_left*C). */
    const int8_t* src = a->input + iy * a->W * C;
    for (size_t i = 0; i < lo; i++) dst[i] = zp;
    for (size_t i = lo; i < hi; i++) dst[i] = src[i - lo];
    for (size_t i = hi; i < stride; i++) dst[i] = zp;
  }
}

#endif /* EDGERT_QS8_CONV_STEM_ROWS_H */
