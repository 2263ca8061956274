/* Thread pool: every index of every job runs exactly once, for pools created and used at
 * once (workers not yet scheduled), back-to-back jobs, and tiles that do not divide the range. */
#include <stdatomic.h>

#include "edgert/threadpool.h"
#include "tester.h"

typedef struct {
  atomic_int* hits;
} job;

static void mark(void* ctx, size_t start, size_t end) {
  job* j = (job*)ctx;
  for (size_t i = start; i < end; i++) atomic_fetch_add(&j->hits[i], 1);
}

int main(int argc, char** argv) {
  tester_init(argc, argv, "threadpool");
  enum { MAX_RANGE = 5000 };
  static atomic_int hits[MAX_RANGE];
  int failures = 0;
  for (int round = 0; round < 300; round++) {
    size_t threads = tester_range(1, 4);
    edgert_threadpool* pool = edgert_threadpool_create(threads);
    if (pool == NULL) {
      printf("FAIL: cannot create a pool of %zu threads\n", threads);
      return 1;
    }
    int jobs = (int)tester_range(1, 20);
    for (int k = 0; k < jobs; k++) {
      size_t range = tester_range(0, MAX_RANGE);
      size_t tile = tester_range(1, 300);
      for (size_t i = 0; i < range; i++) atomic_store(&hits[i], 0);
      job j = {hits};
      edgert_threadpool_parallelize(pool, mark, &j, range, tile);
      for (size_t i = 0; i < range; i++) {
        if (atomic_load(&hits[i]) != 1) {
          printf("FAIL: threads=%zu range=%zu tile=%zu index %zu ran %d times\n", threads, range, tile,
                 i, atomic_load(&hits[i]));
          failures++;
          break;
        }
      }
    }
    edgert_threadpool_destroy(pool);
  }
  printf("[threadpool] %s\n", failures ? "FAILED" : "all passed");
  return failures != 0;
}
