/* Tiny shared helpers for the kernel testers (one executable per kernel family).
 *
 * Every tester: takes an optional seed as argv[1] (else time-based), PRINTS the seed,
 * runs each compiled variant against the scalar reference on random shapes and exits
 * non-zero on the first mismatch with the shape and seed needed to reproduce it.
 */
#ifndef EDGERT_TESTER_H
#define EDGERT_TESTER_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "edgert/common.h"
#include "edgert/cpu.h"

static uint64_t tester_rng_state = 0x9E3779B97F4A7C15ull;

static inline uint64_t tester_next(void) {  /* splitmix64 */
  uint64_t z = (tester_rng_state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* Uniform integer in [lo, hi]. */
static inline size_t tester_range(size_t lo, size_t hi) {
  return lo + (size_t)(tester_next() % (uint64_t)(hi - lo + 1));
}

/* Uniform float in [lo, hi). */
static inline float tester_uniform(float lo, float hi) {
  return lo + (hi - lo) * (float)((tester_next() >> 40) * (1.0 / 16777216.0));
}

static inline void tester_fill(float* p, size_t n, float lo, float hi) {
  for (size_t i = 0; i < n; i++) p[i] = tester_uniform(lo, hi);
}

static inline uint64_t tester_init(int argc, char** argv, const char* family) {
  uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 0) : (uint64_t)time(NULL);
  tester_rng_state = seed;
  printf("[%s] seed=%llu (rerun with: %s %llu)\n", family, (unsigned long long)seed, argv[0],
         (unsigned long long)seed);
  return seed;
}

/* Max |a-b| relative to max(|ref|, 1). Returns 1 and prints when above tol. */
static inline int tester_check_f32(const char* what, const float* ref, const float* got, size_t n,
                                   float tol) {
  float max_ref = 1.0f, max_err = 0.0f;
  size_t worst = 0;
  for (size_t i = 0; i < n; i++) {
    if (fabsf(ref[i]) > max_ref) max_ref = fabsf(ref[i]);
  }
  for (size_t i = 0; i < n; i++) {
    float e = fabsf(ref[i] - got[i]);
    if (!(e <= max_err)) { max_err = e; worst = i; }  /* NaN counts as worst */
  }
  if (!(max_err <= tol * max_ref)) {
    printf("FAIL %s: max err %g at %zu (ref %g got %g), tol %g x %g\n", what, max_err, worst,
           ref[worst], got[worst], tol, max_ref);
    return 1;
  }
  return 0;
}

#endif /* EDGERT_TESTER_H */
