#include "dwconv-impl.h"

void edgert_f32_dwconv_7x7s2__neon(const edgert_f32_dwconv_args* args, size_t oy0, size_t oy1) {
  /* 6 accumulators: at 8, 7 weights and 21 input columns made GCC spill. */
  dw_rows(args, oy0, oy1, /*fixed=*/1, /*K=*/7, /*S=*/2, /*T=*/6, /*TW=*/8);
}
