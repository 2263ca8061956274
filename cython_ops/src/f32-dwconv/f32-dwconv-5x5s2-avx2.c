#include "dwconv-impl.h"

void edgert_f32_dwconv_5x5s2__avx2(const edgert_f32_dwconv_args* args, size_t oy0, size_t oy1) {
  /* Stride 2 loads two input columns per output: tiles of 4 measured fastest. */
  dw_rows(args, oy0, oy1, /*fixed=*/1, /*K=*/5, /*S=*/2, /*T=*/4, /*TW=*/8);
}
