#include "dwconv-impl.h"

void edgert_f32_dwconv__neon(const edgert_f32_dwconv_args* args, size_t oy0, size_t oy1) {
  /* K and S are unused by the generic body; 8 accumulators stay in registers. */
  dw_rows(args, oy0, oy1, /*fixed=*/0, /*K=*/0, /*S=*/0, /*T=*/8, /*TW=*/8);
}
