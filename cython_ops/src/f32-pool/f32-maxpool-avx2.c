#include "pool-impl.h"

void edgert_f32_maxpool__avx2(const edgert_f32_pool_args* args, size_t oy0, size_t oy1) {
  pl_rows(args, oy0, oy1, /*is_max=*/1);
}
