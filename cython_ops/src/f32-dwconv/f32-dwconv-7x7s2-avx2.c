#include "dwconv-impl.h"

void edgert_f32_dwconv_7x7s2__avx2(const edgert_f32_dwconv_args* args, size_t oy0, size_t oy1) {
  /* 8 accumulators + 7 weights + 1 input (some spills) measured fastest. */
  dw_rows(args, oy0, oy1, /*fixed=*/1, /*K=*/7, /*S=*/2, /*T=*/8, /*TW=*/8);
}
