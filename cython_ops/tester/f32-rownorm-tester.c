/* f32-rownorm tester: the scalar spec against a plain double-precision formula, every compiled
 * variant against the spec, and the threaded operators against the spec (edgert/f32-rownorm.h).
 *
 *   f32-rownorm-tester [seed]
 *
 * Shapes: every n up to 40 (each SIMD tail), long rows (up to 300,000: a GroupNorm group) with a
 * mean 30 times the spread (where a float accumulator would lose the variance), scale/bias
 * NULL or given, in place or not; softmax rows with -inf entries and a NaN row.
 */
#include "edgert/f32-rownorm.h"
#include "tester.h"

typedef struct {
  const char* name;
  int (*available)(void);
  edgert_f32_instnorm_fn instnorm;
  edgert_f32_softmax_fn softmax;
} variant;

#define VARIANT(isa, avail) {#isa, avail, edgert_f32_instnorm__##isa, edgert_f32_softmax__##isa}

static const variant variants[] = {VARIANT(scalar, tester_always), TESTER_SIMD_VARIANTS(VARIANT)};
#define NV TESTER_ARRAY_SIZE(variants)

static void naive_instnorm(size_t rows, size_t n, const float* x, const float* scale, const float* bias,
                           float eps, float* y) {
  for (size_t r = 0; r < rows; r++) {
    double mean = 0.0, var = 0.0;
    for (size_t i = 0; i < n; i++) mean += x[r * n + i];
    mean /= (double)n;
    for (size_t i = 0; i < n; i++) var += (x[r * n + i] - mean) * (x[r * n + i] - mean);
    var /= (double)n;
    const double inv = 1.0 / sqrt(var + eps);
    for (size_t i = 0; i < n; i++)
      y[r * n + i] = (float)((x[r * n + i] - mean) * inv * (scale ? scale[r] : 1.0) + (bias ? bias[r] : 0.0));
  }
}

static void naive_softmax(size_t rows, size_t n, const float* x, float* y) {
  for (size_t r = 0; r < rows; r++) {
    double m = -INFINITY, sum = 0.0;
    for (size_t i = 0; i < n; i++) m = x[r * n + i] > m ? x[r * n + i] : m;
    for (size_t i = 0; i < n; i++) sum += exp(x[r * n + i] - m);
    for (size_t i = 0; i < n; i++) y[r * n + i] = (float)(exp(x[r * n + i] - m) / sum);
  }
}

/* One random case: rows x n of values mean + spread * U(-1, 1); some softmax entries -inf. */
static void fill_case(float* x, size_t count, float mean, float spread, int with_neg_inf) {
  for (size_t i = 0; i < count; i++) x[i] = mean + spread * tester_uniform(-1.0f, 1.0f);
  if (with_neg_inf)
    for (size_t i = 0; i < count; i += 7) x[i] = -INFINITY;
}

static int check_case(const variant* v, size_t rows, size_t n, float mean, float spread, int in_place,
                      int affine) {
  int fails = 0;
  char what[160];
  const size_t count = rows * n;
  float* x = tester_alloc_floats(count);
  float* ref = tester_alloc_floats(count);
  float* got = tester_alloc_floats(count);
  float* scale = tester_alloc_floats(rows);
  float* bias = tester_alloc_floats(rows);
  tester_fill(scale, rows, 0.5f, 2.0f);
  tester_fill(bias, rows, -1.0f, 1.0f);
  const float* s = affine ? scale : NULL;
  const float* b = affine ? bias : NULL;

  fill_case(x, count, mean, spread, 0);
  snprintf(what, sizeof what, "instnorm rows=%zu n=%zu mean=%g spread=%g affine=%d in_place=%d", rows, n,
           mean, spread, affine, in_place);
  if (v == &variants[0]) {  /* the spec against the formula */
    naive_instnorm(rows, n, x, s, b, 1e-5f, got);
    edgert_f32_instnorm__scalar(rows, n, x, s, b, 1e-5f, ref);
    fails += tester_check_case("scalar vs double formula", what, got, ref, count, 1e-5f);
  }
  edgert_f32_instnorm__scalar(rows, n, x, s, b, 1e-5f, ref);
  if (in_place) {
    memcpy(got, x, count * sizeof(float));
    v->instnorm(rows, n, got, s, b, 1e-5f, got);
  } else {
    v->instnorm(rows, n, x, s, b, 1e-5f, got);
  }
  fails += tester_check_case(v->name, what, ref, got, count, 1e-5f);

  fill_case(x, count, mean * 0.01f, spread, n > 1 && rows % 2);
  snprintf(what, sizeof what, "softmax rows=%zu n=%zu spread=%g in_place=%d", rows, n, spread, in_place);
  if (v == &variants[0]) {
    naive_softmax(rows, n, x, got);
    edgert_f32_softmax__scalar(rows, n, x, ref);
    fails += tester_check_case("scalar vs double formula", what, got, ref, count, 2e-6f);
  }
  edgert_f32_softmax__scalar(rows, n, x, ref);
  if (in_place) {
    memcpy(got, x, count * sizeof(float));
    v->softmax(rows, n, got, got);
  } else {
    v->softmax(rows, n, x, got);
  }
  fails += tester_check_case(v->name, what, ref, got, count, 2e-5f);
  free(x); free(ref); free(got); free(scale); free(bias);
  return fails;
}

static int check_nan_row(const variant* v) {
  float x[19], y[19];
  tester_fill(x, 19, -3.0f, 3.0f);
  x[11] = NAN;
  v->softmax(1, 19, x, y);
  for (int i = 0; i < 19; i++) {
    if (!isnan(y[i])) {
      printf("FAIL %s [softmax of a row holding NaN]: y[%d] = %g, not NaN\n", v->name, i, y[i]);
      return 1;
    }
  }
  return 0;
}

static int check_variant(const variant* v) {
  int fails = check_nan_row(v);
  for (size_t n = 1; n <= 40; n++)
    fails += check_case(v, tester_range(1, 4), n, tester_uniform(-2.0f, 2.0f), 3.0f, n % 2, n % 3 != 0);
  for (int it = 0; it < 12; it++) {
    const size_t n = tester_range(1000, 300000);
    fails += check_case(v, tester_range(1, 3), n, it % 2 ? 30.0f : 0.0f, it % 2 ? 1.0f : 4.0f, it % 3 == 0, 1);
  }
  return fails;
}

/* The operators (dispatched variant, rows split over 3 threads) equal the spec. */
static int check_operators(void) {
  int fails = 0;
  char what[160];
  edgert_threadpool* pool = edgert_threadpool_create(3);
  for (int it = 0; it < 40; it++) {
    const size_t rows = tester_range(1, 64), n = tester_range(1, 3000), count = rows * n;
    float* x = tester_alloc_floats(count);
    float* ref = tester_alloc_floats(count);
    float* got = tester_alloc_floats(count);
    float* scale = tester_alloc_floats(rows);
    float* bias = tester_alloc_floats(rows);
    tester_fill(x, count, -4.0f, 4.0f);
    tester_fill(scale, rows, 0.5f, 2.0f);
    tester_fill(bias, rows, -1.0f, 1.0f);
    const char* who = edgert_f32_rownorm()->name;
    snprintf(what, sizeof what, "operator instnorm rows=%zu n=%zu", rows, n);
    edgert_f32_instnorm__scalar(rows, n, x, scale, bias, 1e-5f, ref);
    edgert_op_f32_instnorm(pool, rows, n, x, scale, bias, 1e-5f, got);
    fails += tester_check_case(who, what, ref, got, count, 1e-5f);
    snprintf(what, sizeof what, "operator softmax rows=%zu n=%zu", rows, n);
    edgert_f32_softmax__scalar(rows, n, x, ref);
    edgert_op_f32_softmax(pool, rows, n, x, got);
    fails += tester_check_case(who, what, ref, got, count, 2e-5f);
    free(x); free(ref); free(got); free(scale); free(bias);
  }
  edgert_threadpool_destroy(pool);
  return fails;
}

int main(int argc, char** argv) {
  tester_init(argc, argv, "f32-rownorm");
  int fails = 0;
  for (size_t i = 0; i < NV; i++) {
    if (!tester_report_variant(variants[i].name, variants[i].available)) continue;
    const int f = check_variant(&variants[i]);
    printf("%-7s instnorm, softmax: %s (%d failures)\n", variants[i].name, f ? "FAIL" : "ok", f);
    fails += f;
  }
  const int f = check_operators();
  printf("operators (3 threads): %s (%d failures)\n", f ? "FAIL" : "ok", f);
  fails += f;
  printf("[f32-rownorm] %s\n", fails ? "FAILED" : "passed");
  return fails ? 1 : 0;
}
