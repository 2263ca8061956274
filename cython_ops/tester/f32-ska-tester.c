/* f32-ska tester: every compiled SKA variant against the scalar spec (edgert/f32-ska.h), plus the
 * threaded operator against the spec image by image.
 *
 *   f32-ska-tester [seed]
 *
 * Random shapes: k in {1, 3, 5, 7}, images smaller and larger than the kernel (every border case),
 * G both a multiple of the SIMD width (the vector path) and not (the scalar fallback), C = G * r,
 * row ranges that start and end mid-image. Tolerance 1e-5 of max(|ref|, 1).
 */
#include "edgert/f32-ska.h"
#include "tester.h"

typedef struct {
  const char* name;
  int (*available)(void);
  edgert_f32_ska_fn ska;
} variant;

#define VARIANT(isa, avail) {#isa, avail, edgert_f32_ska__##isa}

static const variant variants[] = {VARIANT(scalar, tester_always), TESTER_SIMD_VARIANTS(VARIANT)};
#define NV TESTER_ARRAY_SIZE(variants)
static const float TOL = 1e-5f;
static const size_t GROUPS[] = {1, 3, 4, 8, 12, 16, 24, 40, 48};

static int check_variant(const variant* v) {
  int fails = 0;
  char what[160];
  for (int it = 0; it < 300; it++) {
    const size_t k = 2 * tester_range(0, 3) + 1, H = tester_range(1, 9), W = tester_range(1, 9);
    const size_t G = GROUPS[tester_range(0, TESTER_ARRAY_SIZE(GROUPS) - 1)], C = G * tester_range(1, 5);
    const size_t r0 = tester_range(0, H - 1), r1 = tester_range(r0 + 1, H);
    float* x = tester_alloc_floats(H * W * C);
    float* wt = tester_alloc_floats(H * W * G * k * k);
    float* ref = tester_alloc_floats(H * W * C);
    float* got = tester_alloc_floats(H * W * C);
    tester_fill(x, H * W * C, -2.0f, 2.0f);
    tester_fill(wt, H * W * G * k * k, -1.0f, 1.0f);
    for (size_t i = 0; i < H * W * C; i++) ref[i] = got[i] = 1234.5f;  /* rows outside the range stay */
    snprintf(what, sizeof what, "ska H=%zu W=%zu C=%zu G=%zu k=%zu rows %zu..%zu", H, W, C, G, k, r0, r1);
    edgert_f32_ska__scalar(H, W, C, G, k, x, wt, ref, r0, r1);
    v->ska(H, W, C, G, k, x, wt, got, r0, r1);
    fails += tester_check_case(v->name, what, ref, got, H * W * C, TOL);
    free(x); free(wt); free(ref); free(got);
  }
  return fails;
}

/* The operator (dispatched variant, rows split over 3 threads) equals the spec per image. */
static int check_operator(void) {
  int fails = 0;
  char what[160];
  edgert_threadpool* pool = edgert_threadpool_create(3);
  for (int it = 0; it < 60; it++) {
    const size_t k = 2 * tester_range(0, 2) + 1, H = tester_range(1, 11), W = tester_range(1, 7);
    const size_t N = tester_range(1, 3), G = GROUPS[tester_range(0, TESTER_ARRAY_SIZE(GROUPS) - 1)];
    const size_t C = G * tester_range(1, 3), image = H * W;
    float* x = tester_alloc_floats(N * image * C);
    float* wt = tester_alloc_floats(N * image * G * k * k);
    float* ref = tester_alloc_floats(N * image * C);
    float* got = tester_alloc_floats(N * image * C);
    tester_fill(x, N * image * C, -2.0f, 2.0f);
    tester_fill(wt, N * image * G * k * k, -1.0f, 1.0f);
    for (size_t n = 0; n < N; n++)
      edgert_f32_ska__scalar(H, W, C, G, k, x + n * image * C, wt + n * image * G * k * k, ref + n * image * C, 0, H);
    edgert_op_f32_ska(pool, N, H, W, C, G, k, x, wt, got);
    snprintf(what, sizeof what, "operator N=%zu H=%zu W=%zu C=%zu G=%zu k=%zu", N, H, W, C, G, k);
    fails += tester_check_case(edgert_f32_ska() == edgert_f32_ska__scalar ? "scalar" : "simd", what, ref, got,
                               N * image * C, TOL);
    free(x); free(wt); free(ref); free(got);
  }
  edgert_threadpool_destroy(pool);
  return fails;
}

int main(int argc, char** argv) {
  tester_init(argc, argv, "f32-ska");
  int fails = 0;
  for (size_t i = 0; i < NV; i++) {
    if (!tester_report_variant(variants[i].name, variants[i].available)) continue;
    const int f = check_variant(&variants[i]);
    printf("%-7s ska: %s (%d failures)\n", variants[i].name, f ? "FAIL" : "ok", f);
    fails += f;
  }
  const int f = check_operator();
  printf("operator (3 threads): %s (%d failures)\n", f ? "FAIL" : "ok", f);
  fails += f;
  printf("[f32-ska] %s\n", fails ? "FAILED" : "passed");
  return fails ? 1 : 0;
}
