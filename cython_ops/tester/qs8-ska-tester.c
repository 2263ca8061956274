/* qs8-ska tester: every compiled int8 SKA variant against the scalar spec, bit for bit
 * (edgert/qs8-ska.h), plus the threaded operator against the spec image by image.
 *
 *   qs8-ska-tester [seed]
 *
 * Random shapes as the f32-ska tester (k in {1, 3, 5, 7}, images smaller and larger than the
 * kernel, G a multiple of 8 and not, row ranges starting and ending mid-image) and random
 * quantization parameters: zero points anywhere in int8, per-tap multipliers, clamp ranges
 * (narrowed ones as a fused ReLU gives) and dequantization scales, output scales that saturate.
 */
#include "edgert/qs8-ska.h"
#include "tester.h"

typedef struct {
  const char* name;
  int (*available)(void);
  edgert_qs8_ska_fn ska;
} variant;

#define VARIANT(isa, avail) {#isa, avail, edgert_qs8_ska__##isa}

static const variant variants[] = {VARIANT(scalar, tester_always), TESTER_SIMD_VARIANTS(VARIANT)};
#define NV TESTER_ARRAY_SIZE(variants)
static const size_t GROUPS[] = {1, 3, 8, 12, 16, 24, 40, 48};

static void fill_i8(int8_t* p, size_t n) {
  for (size_t i = 0; i < n; i++) p[i] = (int8_t)((int)tester_range(0, 255) - 128);
}

static void random_params(edgert_qs8_ska_params* prm, size_t kk) {
  prm->x_zero_point = (int32_t)tester_range(0, 255) - 128;
  prm->w_zero_point = (int32_t)tester_range(0, 255) - 128;
  prm->y_zero_point = (int32_t)tester_range(0, 255) - 128;
  prm->y_scale = tester_uniform(0.002f, 0.2f);
  for (size_t t = 0; t < kk; t++) {
    const int32_t zp = (int32_t)tester_range(0, 255) - 128;
    const int32_t qmin = tester_range(0, 3) == 0 ? zp : -128;  /* a fused ReLU clamps at the zero point */
    prm->mult[t] = tester_uniform(1e-5f, 4e-3f);
    prm->lo[t] = (float)(qmin - zp);
    prm->hi[t] = (float)(127 - zp);
    prm->dq_scale[t] = tester_uniform(0.001f, 0.05f);
  }
}

typedef struct {
  int8_t *x, *wt, *ref, *got;
} qcase;

/* Random x and wt for `images` images, the parameters, and ref/got buffers preset alike. */
static qcase new_case(size_t images, size_t H, size_t W, size_t C, size_t G, size_t k, edgert_qs8_ska_params* prm) {
  const size_t n = images * H * W;
  qcase q = {malloc(n * C), malloc(n * G * k * k), malloc(n * C), malloc(n * C)};
  fill_i8(q.x, n * C);
  fill_i8(q.wt, n * G * k * k);
  random_params(prm, k * k);
  memset(q.ref, 0x5a, n * C);  /* rows outside a computed range stay */
  memset(q.got, 0x5a, n * C);
  return q;
}

static void free_case(qcase* q) {
  free(q->x); free(q->wt); free(q->ref); free(q->got);
}

static int check_bytes(const char* who, const char* what, const int8_t* ref, const int8_t* got, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (ref[i] != got[i]) {
      printf("FAIL %s [%s]: at %zu ref %d got %d\n", who, what, i, ref[i], got[i]);
      return 1;
    }
  }
  return 0;
}

static int check_variant(const variant* v) {
  int fails = 0;
  char what[200];
  edgert_qs8_ska_params prm;
  for (int it = 0; it < 300; it++) {
    const size_t k = 2 * tester_range(0, 3) + 1, H = tester_range(1, 9), W = tester_range(1, 9);
    const size_t G = GROUPS[tester_range(0, TESTER_ARRAY_SIZE(GROUPS) - 1)], C = G * tester_range(1, 5);
    const size_t r0 = tester_range(0, H - 1), r1 = tester_range(r0 + 1, H);
    qcase q = new_case(1, H, W, C, G, k, &prm);
    snprintf(what, sizeof what, "qska H=%zu W=%zu C=%zu G=%zu k=%zu rows %zu..%zu", H, W, C, G, k, r0, r1);
    edgert_qs8_ska__scalar(H, W, C, G, k, q.x, q.wt, q.ref, r0, r1, &prm);
    v->ska(H, W, C, G, k, q.x, q.wt, q.got, r0, r1, &prm);
    fails += check_bytes(v->name, what, q.ref, q.got, H * W * C);
    free_case(&q);
  }
  return fails;
}

/* The operator (dispatched variant, rows split over 3 threads) equals the spec per image. */
static int check_operator(void) {
  int fails = 0;
  char what[160];
  edgert_qs8_ska_params prm;
  edgert_threadpool* pool = edgert_threadpool_create(3);
  for (int it = 0; it < 60; it++) {
    const size_t k = 2 * tester_range(0, 2) + 1, H = tester_range(1, 11), W = tester_range(1, 7);
    const size_t N = tester_range(1, 3), G = GROUPS[tester_range(0, TESTER_ARRAY_SIZE(GROUPS) - 1)];
    const size_t C = G * tester_range(1, 3), image = H * W;
    qcase q = new_case(N, H, W, C, G, k, &prm);
    for (size_t n = 0; n < N; n++)
      edgert_qs8_ska__scalar(H, W, C, G, k, q.x + n * image * C, q.wt + n * image * G * k * k, q.ref + n * image * C,
                             0, H, &prm);
    edgert_op_qs8_ska(pool, N, H, W, C, G, k, q.x, q.wt, q.got, &prm);
    snprintf(what, sizeof what, "operator N=%zu H=%zu W=%zu C=%zu G=%zu k=%zu", N, H, W, C, G, k);
    fails += check_bytes(edgert_qs8_ska() == edgert_qs8_ska__scalar ? "scalar" : "simd", what, q.ref, q.got,
                         N * image * C);
    free_case(&q);
  }
  edgert_threadpool_destroy(pool);
  return fails;
}

int main(int argc, char** argv) {
  tester_init(argc, argv, "qs8-ska");
  int fails = 0;
  for (size_t i = 0; i < NV; i++) {
    if (!tester_report_variant(variants[i].name, variants[i].available)) continue;
    const int f = check_variant(&variants[i]);
    printf("%-7s qska: %s (%d failures)\n", variants[i].name, f ? "FAIL" : "ok", f);
    fails += f;
  }
  const int f = check_operator();
  printf("operator (3 threads): %s (%d failures)\n", f ? "FAIL" : "ok", f);
  fails += f;
  printf("[qs8-ska] %s\n", fails ? "FAILED" : "passed");
  return fails ? 1 : 0;
}
