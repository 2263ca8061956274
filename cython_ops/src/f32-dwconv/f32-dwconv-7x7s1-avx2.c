#include "dwconv-impl.h"

void edgert_f32_dwconv_7x7s1__avx2(const edgert_f32_dwconv_args* args, size_t oy0, size_t oy1) {
  /* 8 accumulators + 7 weights + 1 input (one spill) measured fastest. */
  dw_rows(args, oy0, oy1, /*fixed=*/1, /*K=*/7, /*S=*/1, /*T=*/8, /*TW=*/8);
}
