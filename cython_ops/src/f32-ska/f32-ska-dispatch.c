/* SKA variant choice (from edgert_cpu()) and the threaded operator (edgert/f32-ska.h). */
#include "edgert/cpu.h"
#include "edgert/f32-ska.h"

edgert_f32_ska_fn edgert_f32_ska(void) {
#if EDGERT_ARCH_X86_64
  if (edgert_cpu()->avx2_fma) return edgert_f32_ska__avx2;
#elif EDGERT_ARCH_ARM64
  if (edgert_cpu()->neon) return edgert_f32_ska__neon;
#endif
  return edgert_f32_ska__scalar;
}

typedef struct {
  edgert_f32_ska_fn fn;
  size_t H, W, C, G, k;
  const float* x;
  const float* wt;
  float* y;
} ska_task;

static void ska_image(void* ctx, size_t n, size_t r0, size_t r1) {
  const ska_task* t = ctx;
  const size_t image = t->H * t->W;
  t->fn(t->H, t->W, t->C, t->G, t->k, t->x + n * image * t->C, t->wt + n * image * t->G * t->k * t->k,
        t->y + n * image * t->C, r0, r1);
}

static void ska_rows(void* ctx, size_t start, size_t end) {
  edgert_image_rows(start, end, ((ska_task*)ctx)->H, ska_image, ctx);
}

void edgert_op_f32_ska(edgert_threadpool* pool, size_t batch, size_t H, size_t W, size_t C, size_t G,
                       size_t k, const float* x, const float* wt, float* y) {
  ska_task t = {edgert_f32_ska(), H, W, C, G, k, x, wt, y};
  edgert_threadpool_parallelize(pool, ska_rows, &t, batch * H, 1);
}
