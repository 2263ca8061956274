#include "edgert/threadpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

/* Spin iterations before sleeping on a condition variable (~tens of microseconds): back-to-back
 * operators find workers awake, an idle session costs no CPU. */
#define EDGERT_SPIN_ROUNDS 20000

/* Tiles are dealt in contiguous blocks, one per thread (up to AFFINITY_BLOCKS): thread i runs
 * its own block from the front first, then takes what is left of the others'. Consecutive
 * operators split their rows alike, so a thread mostly reads what it wrote itself, from its own
 * cache (a single shared counter interleaves the tiles across threads). */
#define AFFINITY_BLOCKS 16

typedef struct {
  _Alignas(64) atomic_size_t next; /* next tile of the block, counted from its first */
} block_counter;

/* One parallelize() call. Lives on the caller's stack; the caller only returns once no worker
 * can still reach it (see `joining`). */
typedef struct {
  edgert_task_fn fn;
  void* ctx;
  size_t range, tile, tiles, blocks, block_tiles;
  block_counter next[AFFINITY_BLOCKS];
  _Alignas(64) atomic_size_t completed; /* tiles finished */
} job;

typedef struct {
  edgert_threadpool* pool;
  size_t id; /* 1.. threads-1; the calling thread is 0 */
} worker_arg;

struct edgert_threadpool {
  size_t threads;
  pthread_t* workers;
  worker_arg* args;
  pthread_mutex_t mutex;
  pthread_cond_t wake;       /* workers sleep here between jobs */
  pthread_cond_t done;       /* the caller sleeps here for the last tile */
  atomic_uint generation;    /* bumped for every new job: wakes workers */
  _Atomic(job*) current;     /* the job workers may join, NULL between jobs */
  atomic_int joining;        /* workers between "about to read current" and "done with it" */
  atomic_int stop;
};

static inline void cpu_relax(void) {
#if defined(__x86_64__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

/* Runs tiles until none are left, its own block first (thread `id`); returns 1 if this call
 * finished the job's last tile. */
static int run_tiles(job* j, size_t id) {
  int finished_last = 0;
  const size_t home = id % j->blocks;
  for (size_t k = 0; k < j->blocks; k++) {
    const size_t b = (home + k) % j->blocks;
    /* Block b: tiles [first, last); the last blocks may be short or empty. */
    const size_t first = b * j->block_tiles;
    const size_t last = first + j->block_tiles < j->tiles ? first + j->block_tiles : j->tiles;
    const size_t count = first < last ? last - first : 0;
    for (;;) {
      size_t t = atomic_fetch_add_explicit(&j->next[b].next, 1, memory_order_relaxed);
      if (t >= count) break;
      size_t start = (first + t) * j->tile;
      size_t end = start + j->tile < j->range ? start + j->tile : j->range;
      j->fn(j->ctx, start, end);
      if (atomic_fetch_add_explicit(&j->completed, 1, memory_order_acq_rel) + 1 == j->tiles)
        finished_last = 1;
    }
  }
  return finished_last;
}

static void* worker_main(void* arg) {
  edgert_threadpool* pool = ((worker_arg*)arg)->pool;
  const size_t id = ((worker_arg*)arg)->id;
  unsigned seen = 0; /* generation 0: no job published yet */
  for (;;) {
    int spins = 0;
    while (atomic_load(&pool->generation) == seen && spins < EDGERT_SPIN_ROUNDS) {
      cpu_relax();
      spins++;
    }
    if (atomic_load(&pool->generation) == seen) {
      pthread_mutex_lock(&pool->mutex);
      while (atomic_load(&pool->generation) == seen && !atomic_load(&pool->stop))
        pthread_cond_wait(&pool->wake, &pool->mutex);
      pthread_mutex_unlock(&pool->mutex);
    }
    if (atomic_load(&pool->stop)) return NULL;
    seen = atomic_load(&pool->generation);
    /* Announce before looking, so the caller cannot retire the job between our load and use.
     * A worker that was descheduled through a whole job simply finds current == NULL or a
     * newer job: the caller never waits for workers that did not join. */
    atomic_fetch_add(&pool->joining, 1);
    job* j = atomic_load(&pool->current);
    if (j != NULL && run_tiles(j, id)) {
      pthread_mutex_lock(&pool->mutex);
      pthread_cond_signal(&pool->done);
      pthread_mutex_unlock(&pool->mutex);
    }
    atomic_fetch_sub(&pool->joining, 1);
  }
}

edgert_threadpool* edgert_threadpool_create(size_t threads) {
  if (threads < 1) threads = 1;
  edgert_threadpool* pool = calloc(1, sizeof(*pool));
  if (pool == NULL) return NULL;
  pool->threads = 1;
  pthread_mutex_init(&pool->mutex, NULL);
  pthread_cond_init(&pool->wake, NULL);
  pthread_cond_init(&pool->done, NULL);
  atomic_init(&pool->generation, 0);
  atomic_init(&pool->current, NULL);
  atomic_init(&pool->joining, 0);
  atomic_init(&pool->stop, 0);
  if (threads > 1) {
    pool->workers = calloc(threads - 1, sizeof(pthread_t));
    pool->args = calloc(threads - 1, sizeof(worker_arg));
    if (pool->workers == NULL || pool->args == NULL) {
      edgert_threadpool_destroy(pool);
      return NULL;
    }
    for (size_t i = 0; i + 1 < threads; i++) {
      pool->args[i] = (worker_arg){pool, i + 1};
      if (pthread_create(&pool->workers[i], NULL, worker_main, &pool->args[i]) != 0) {
        edgert_threadpool_destroy(pool); /* joins the ones already started */
        return NULL;
      }
      pool->threads = i + 2;
    }
  }
  return pool;
}

void edgert_threadpool_destroy(edgert_threadpool* pool) {
  if (pool == NULL) return;
  if (pool->workers != NULL) {
    pthread_mutex_lock(&pool->mutex);
    atomic_store(&pool->stop, 1);
    atomic_fetch_add(&pool->generation, 1);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->mutex);
    for (size_t i = 0; i + 1 < pool->threads; i++) pthread_join(pool->workers[i], NULL);
    free(pool->workers);
  }
  free(pool->args);
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
  job j = {.fn = fn, .ctx = ctx, .range = range, .tile = tile, .tiles = tiles};
  j.blocks = pool->threads < AFFINITY_BLOCKS ? pool->threads : AFFINITY_BLOCKS;
  if (j.blocks > tiles) j.blocks = tiles;
  j.block_tiles = (tiles + j.blocks - 1) / j.blocks;
  for (size_t b = 0; b < j.blocks; b++) atomic_init(&j.next[b].next, 0);
  atomic_init(&j.completed, 0);
  atomic_store(&pool->current, &j);
  pthread_mutex_lock(&pool->mutex);
  atomic_fetch_add(&pool->generation, 1);
  pthread_cond_broadcast(&pool->wake);
  pthread_mutex_unlock(&pool->mutex);

  run_tiles(&j, 0);

  /* Wait for tiles other threads are still running (never for threads that did not join). */
  int spins = 0;
  while (atomic_load(&j.completed) != tiles && spins < EDGERT_SPIN_ROUNDS) {
    cpu_relax();
    spins++;
  }
  if (atomic_load(&j.completed) != tiles) {
    pthread_mutex_lock(&pool->mutex);
    while (atomic_load(&j.completed) != tiles) pthread_cond_wait(&pool->done, &pool->mutex);
    pthread_mutex_unlock(&pool->mutex);
  }
  /* Retire the job: after this no worker can newly reach it; wait out those that did. */
  atomic_store(&pool->current, NULL);
  while (atomic_load(&pool->joining) != 0) cpu_relax();
}
