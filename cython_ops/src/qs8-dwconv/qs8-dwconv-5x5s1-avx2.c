#include "dwconv-avx2-impl.h"

void edgert_qs8_dwconv_5x5s1__avx2(const edgert_qs8_dwconv_args* args, size_t oy0, size_t oy1) {
  dw_rows(args, oy0, oy1, /*fixed=*/1, /*K=*/5, /*S=*/1);
}
