/* A small fixed-size thread pool for the operator layer.
 *
 * parallelize() splits [0, range) into tiles and runs fn(ctx, start, end) on the
 * calling thread plus the workers; it returns when every tile is done. Each thread starts on
 * its own contiguous block of tiles (thread 0 = the caller, the first block) and then helps
 * with the others', so consecutive jobs over the same rows keep them on the same core. Workers spin
 * briefly after a job (back-to-back operators are common) and then sleep on a
 * condition variable, so an idle session costs no CPU.
 */
#ifndef EDGERT_THREADPOOL_H
#define EDGERT_THREADPOOL_H

#include <stddef.h>

typedef struct edgert_threadpool edgert_threadpool;
typedef void (*edgert_task_fn)(void* ctx, size_t start, size_t end);

/* threads counts the calling thread: 1 creates no workers. NULL on failure. */
edgert_threadpool* edgert_threadpool_create(size_t threads);
void edgert_threadpool_destroy(edgert_threadpool* pool);
size_t edgert_threadpool_threads(const edgert_threadpool* pool);

/* pool may be NULL (runs inline). tile >= 1. Not reentrant: one parallelize() at a time per pool. */
void edgert_threadpool_parallelize(edgert_threadpool* pool, edgert_task_fn fn, void* ctx,
                                   size_t range, size_t tile);

/* For operators parallelised over the output rows of a batch of images: splits the flat rows
 * [start, end) of `batch * H` rows into per-image pieces, calling rows(ctx, image, r0, r1). */
static inline void edgert_image_rows(size_t start, size_t end, size_t H,
                                     void (*rows)(void* ctx, size_t image, size_t r0, size_t r1), void* ctx) {
  while (start < end) {
    const size_t n = start / H, r0 = start % H;
    const size_t r1 = (end - n * H) < H ? end - n * H : H;
    rows(ctx, n, r0, r1);
    start = n * H + r1;
  }
}

#endif /* EDGERT_THREADPOOL_H */
