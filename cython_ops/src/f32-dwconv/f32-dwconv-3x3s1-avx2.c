#include "dwconv-impl.h"

void edgert_f32_dwconv_3x3s1__avx2(const edgert_f32_dwconv_args* args, size_t oy0, size_t oy1) {
  /* Tiles of 4 measured as fast as 8 on 56..14 maps, 8 only at 112; 7-wide rows: one tile. */
  dw_rows(args, oy0, oy1, /*fixed=*/1, /*K=*/3, /*S=*/1, /*T=*/4, /*TW=*/8);
}
