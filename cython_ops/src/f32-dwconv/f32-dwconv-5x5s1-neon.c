#include "dwconv-impl.h"

void edgert_f32_dwconv_5x5s1__neon(const edgert_f32_dwconv_args* args, size_t oy0, size_t oy1) {
  /* 32 q registers hold 8 accumulators, 5 weights and the input column. */
  dw_rows(args, oy0, oy1, /*fixed=*/1, /*K=*/5, /*S=*/1, /*T=*/8, /*TW=*/8);
}
