#include "edgert/threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

/* Spin iterations a worker polls for the next job before sleeping (~tens of microseconds). */
#define EDGERT_SPIN_ROUNDS 20000

struct edgert_threadpool {
  size_t threads;
  pthread_t* workers;
  pthread_mutex_t mutex;
  pthread_cond_t wake;   /* workers wait here for a new generation */
  pthread_cond_t done;   /* the caller waits here for the last worker */
  atomic_uint generation;
  atomic_size_t next_tile;
  atomic_size_t active;  /* workers still inside the current job */
  int stop;
  /* current job */
  edgert_task_fn fn;
  void* ctx;
  size_t range, tile, tiles;
};

static void run_tiles(edgert_threadpool* pool) {
  for (;;) {
    size_t t = atomic_fetch_add_explicit(&pool->next_tile, 1, memory_order_relaxed);
    if (t >= pool->tiles) break;
    size_t start = t * pool->tile;
    size_t end = start + pool->tile < pool->range ? start + pool->tile : pool->range;
    pool->fn(pool->ctx, start, end);
  }
}

static inline void cpu_relax(void) {
#if defined(__x86_64__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

static void* worker_main(void* arg) {
  edgert_threadpool* pool = (edgert_threadpool*)arg;
  /* Generation 0 is "no job yet". Reading the counter here instead would race with a job
   * published before this thread got scheduled, and the worker would sleep through it. */
  unsigned seen = 0;
  for (;;) {
    int spins = 0;
    while (atomic_load_explicit(&pool->generation, memory_order_acquire) == seen &&
           spins < EDGERT_SPIN_ROUNDS) {
      cpu_relax();
      spins++;
    }
    if (atomic_load_explicit(&pool->generation, memory_order_acquire) == seen) {
      pthread_mutex_lock(&pool->mutex);
      while (atomic_load(&pool->generation) == seen && !pool->stop)
        pthread_cond_wait(&pool->wake, &pool->mutex);
      pthread_mutex_unlock(&pool->mutex);
    }
    if (pool->stop) return NULL;
    seen = atomic_load(&pool->generation);
    run_tiles(pool);
    if (atomic_fetch_sub_explicit(&pool->active, 1, memory_order_acq_rel) == 1) {
      pthread_mutex_lock(&pool->mutex);
      pthread_cond_signal(&pool->done);
      pthread_mutex_unlock(&pool->mutex);
    }
  }
}

edgert_threadpool* edgert_threadpool_create(size_t threads) {
  if (threads < 1) threads = 1;
  edgert_threadpool* pool = calloc(1, sizeof(*pool));
  if (pool == NULL) return NULL;
  pool->threads = threads;
  pthread_mutex_init(&pool->mutex, NULL);
  pthread_cond_init(&pool->wake, NULL);
  pthread_cond_init(&pool->done, NULL);
  atomic_init(&pool->generation, 0);
  atomic_init(&pool->next_tile, 0);
  atomic_init(&pool->active, 0);
  if (threads > 1) {
    pool->workers = calloc(threads - 1, sizeof(pthread_t));
    if (pool->workers == NULL) {
      edgert_threadpool_destroy(pool);
      return NULL;
    }
    for (size_t i = 0; i + 1 < threads; i++) {
      if (pthread_create(&pool->workers[i], NULL, worker_main, pool) != 0) {
        pool->threads = i + 1; /* keep the ones that started so destroy joins them */
        edgert_threadpool_destroy(pool);
        return NULL;
      }
    }
  }
  return pool;
}

void edgert_threadpool_destroy(edgert_threadpool* pool) {
  if (pool == NULL) return;
  if (pool->workers != NULL) {
    pthread_mutex_lock(&pool->mutex);
    pool->stop = 1;
    atomic_fetch_add(&pool->generation, 1);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->mutex);
    for (size_t i = 0; i + 1 < pool->threads; i++) pthread_join(pool->workers[i], NULL);
    free(pool->workers);
  }
  pthread_mutex_destroy(&pool->mutex);
  pthread_cond_destroy(&pool->wake);
  pthread_cond_destroy(&pool->done);
  free(pool);
}

size_t edgert_threadpool_threads(const edgert_threadpool* pool) {
  return pool == NULL ? 1 : pool->threads;
}

void edgert_threadpool_parallelize(edgert_threadpool* pool, edgert_task_fn fn, void* ctx,
                                   size_t range, size_t tile) {
  if (range == 0) return;
  if (tile < 1) tile = 1;
  size_t tiles = (range + tile - 1) / tile;
  if (pool == NULL || pool->threads == 1 || tiles == 1) {
    fn(ctx, 0, range);
    return;
  }
  pool->fn = fn;
  pool->ctx = ctx;
  pool->range = range;
  pool->tile = tile;
  pool->tiles = tiles;
  atomic_store(&pool->next_tile, 0);
  atomic_store(&pool->active, pool->threads - 1);
  pthread_mutex_lock(&pool->mutex);
  atomic_fetch_add_explicit(&pool->generation, 1, memory_order_release);
  pthread_cond_broadcast(&pool->wake);
  pthread_mutex_unlock(&pool->mutex);

  run_tiles(pool);

  int spins = 0;
  while (atomic_load_explicit(&pool->active, memory_order_acquire) != 0 &&
         spins < EDGERT_SPIN_ROUNDS) {
    cpu_relax();
    spins++;
  }
  if (atomic_load_explicit(&pool->active, memory_order_acquire) != 0) {
    pthread_mutex_lock(&pool->mutex);
    while (atomic_load(&pool->active) != 0) pthread_cond_wait(&pool->done, &pool->mutex);
    pthread_mutex_unlock(&pool->mutex);
  }
}
