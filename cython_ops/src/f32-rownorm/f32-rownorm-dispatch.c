/* Variant choice of the row reductions (edgert/f32-rownorm.h) and their threaded operators. */
#include "edgert/cpu.h"
#include "edgert/f32-rownorm.h"

static const edgert_f32_rownorm_kernels rownorm_scalar = {"scalar", edgert_f32_instnorm__scalar,
                                                          edgert_f32_softmax__scalar};
#if EDGERT_ARCH_X86_64
static const edgert_f32_rownorm_kernels rownorm_simd = {"avx2", edgert_f32_instnorm__avx2,
                                                        edgert_f32_softmax__avx2};
#elif EDGERT_ARCH_ARM64
static const edgert_f32_rownorm_kernels rownorm_simd = {"neon", edgert_f32_instnorm__neon,
                                                        edgert_f32_softmax__neon};
#endif

const edgert_f32_rownorm_kernels* edgert_f32_rownorm(void) {
#if EDGERT_ARCH_X86_64
  if (edgert_cpu()->avx2_fma) return &rownorm_simd;
#elif EDGERT_ARCH_ARM64
  if (edgert_cpu()->neon) return &rownorm_simd;
#endif
  return &rownorm_scalar;
}

typedef struct {
  const edgert_f32_rownorm_kernels* k;
  size_t n;
  const float* x;
  const float* scale;
  const float* bias;
  float eps;
  float* y;
} rownorm_task;

static void instnorm_rows(void* ctx, size_t start, size_t end) {
  const rownorm_task* t = ctx;
  t->k->instnorm(end - start, t->n, t->x + start * t->n, t->scale ? t->scale + start : NULL,
                 t->bias ? t->bias + start : NULL, t->eps, t->y + start * t->n);
}

static void softmax_rows(void* ctx, size_t start, size_t end) {
  const rownorm_task* t = ctx;
  t->k->softmax(end - start, t->n, t->x + start * t->n, t->y + start * t->n);
}

/* Tiles of about 16K elements: enough work per task to amortise the hand-off. */
static size_t row_tile(size_t n) { return n >= 16384 ? 1 : 16384 / (n ? n : 1); }

void edgert_op_f32_instnorm(edgert_threadpool* pool, size_t rows, size_t n, const float* x,
                            const float* scale, const float* bias, float eps, float* y) {
  rownorm_task t = {edgert_f32_rownorm(), n, x, scale, bias, eps, y};
  edgert_threadpool_parallelize(pool, instnorm_rows, &t, rows, row_tile(n));
}

void edgert_op_f32_softmax(edgert_threadpool* pool, size_t rows, size_t n, const float* x, float* y) {
  rownorm_task t = {edgert_f32_rownorm(), n, x, NULL, NULL, 0.0f, y};
  edgert_threadpool_parallelize(pool, softmax_rows, &t, rows, row_tile(n));
}
