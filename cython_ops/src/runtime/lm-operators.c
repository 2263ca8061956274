/* Threaded f32-qwgemm (edgert/lm-operators.h). */
#include "edgert/lm-operators.h"

#include <stdint.h>

#include "edgert/f32-qwgemm.h"

typedef struct {
  const edgert_f32_qwgemm_kernels* k;
  int kind;
  size_t M, N, K, group;
  const float* x;
  const void* w;
  const float* scale;
  const float* bias;
  float* y;
} qw_task;

/* Output rows [n0, n1) of a single x row (M == 1: y is then contiguous over n). */
static void qw_rows(void* ctx, size_t n0, size_t n1) {
  const qw_task* t = ctx;
  const size_t n = n1 - n0;
  const float* b = t->bias ? t->bias + n0 : NULL;
  switch (t->kind) {
    case EDGERT_QW_F32:
      t->k->f32w(1, n, t->K, t->x, (const float*)t->w + n0 * t->K, b, t->y + n0);
      break;
    case EDGERT_QW_QS8:
      t->k->qs8w(1, n, t->K, t->x, (const int8_t*)t->w + n0 * t->K, t->scale + n0, b, t->y + n0);
      break;
    default:
      t->k->q4w(1, n, t->K, t->group, t->x, (const uint8_t*)t->w + n0 * (t->K / 2),
                t->scale + n0 * (t->K / t->group), b, t->y + n0);
  }
}

/* x rows [m0, m1), all N outputs. */
static void qw_batch(void* ctx, size_t m0, size_t m1) {
  const qw_task* t = ctx;
  const size_t m = m1 - m0;
  const float* x = t->x + m0 * t->K;
  float* y = t->y + m0 * t->N;
  switch (t->kind) {
    case EDGERT_QW_F32:
      t->k->f32w(m, t->N, t->K, x, t->w, t->bias, y);
      break;
    case EDGERT_QW_QS8:
      t->k->qs8w(m, t->N, t->K, x, t->w, t->scale, t->bias, y);
      break;
    default:
      t->k->q4w(m, t->N, t->K, t->group, x, t->w, t->scale, t->bias, y);
  }
}

void edgert_op_qwgemm(edgert_threadpool* pool, int kind, size_t M, size_t N, size_t K, size_t group,
                      const float* x, const void* w, const float* scale, const float* bias, float* y) {
  if (M == 0 || N == 0) return;
  qw_task t = {.k = edgert_f32_qwgemm(), .kind = kind, .M = M, .N = N, .K = K, .group = group,
               .x = x, .w = w, .scale = scale, .bias = bias, .y = y};
  const size_t threads = pool ? edgert_threadpool_threads(pool) : 1;
  if (M == 1) {
    /* Two blocks per thread (some slack when a core is busy), whole 4-row tiles, >= 16 rows. */
    size_t tile = (N + 2 * threads - 1) / (2 * threads);
    tile = (tile + 3) / 4 * 4;
    if (tile < 16) tile = 16;
    edgert_threadpool_parallelize(threads > 1 ? pool : NULL, qw_rows, &t, N, tile);
  } else {
    /* even tiles (the kernels pair x rows; pairs then do not depend on the thread count) */
    size_t tile = (M + 2 * threads - 1) / (2 * threads);
    tile += tile & 1;
    edgert_threadpool_parallelize(threads > 1 ? pool : NULL, qw_batch, &t, M, tile);
  }
}

const char* edgert_qwgemm_variant(void) { return edgert_f32_qwgemm()->name; }
