/* int8 SKA variant choice (from edgert_cpu()) and the threaded operator (edgert/qs8-ska.h). */
#include "edgert/cpu.h"
#include "edgert/qs8-ska.h"

edgert_qs8_ska_fn edgert_qs8_ska(void) {
#if EDGERT_ARCH_X86_64
  if (edgert_cpu()->avx2_fma) return edgert_qs8_ska__avx2;
#elif EDGERT_ARCH_ARM64
  if (edgert_cpu()->neon) return edgert_qs8_ska__neon;
#endif
  return edgert_qs8_ska__scalar;
}

typedef struct {
  edgert_qs8_ska_fn fn;
  size_t H, W, C, G, k;
  const int8_t* x;
  const int8_t* wt;
  int8_t* y;
  const edgert_qs8_ska_params* params;
} qska_task;

static void qska_image(void* ctx, size_t n, size_t r0, size_t r1) {
  const qska_task* t = ctx;
  const size_t image = t->H * t->W;
  t->fn(t->H, t->W, t->C, t->G, t->k, t->x + n * image * t->C, t->wt + n * image * t->G * t->k * t->k,
        t->y + n * image * t->C, r0, r1, t->params);
}

static void qska_rows(void* ctx, size_t start, size_t end) {
  edgert_image_rows(start, end, ((qska_task*)ctx)->H, qska_image, ctx);
}

void edgert_op_qs8_ska(edgert_threadpool* pool, size_t batch, size_t H, size_t W, size_t C, size_t G,
                       size_t k, const int8_t* x, const int8_t* wt, int8_t* y,
                       const edgert_qs8_ska_params* params) {
  qska_task t = {edgert_qs8_ska(), H, W, C, G, k, x, wt, y, params};
  edgert_threadpool_parallelize(pool, qska_rows, &t, batch * H, 1);
}
