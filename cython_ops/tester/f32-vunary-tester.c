/* f32-vunary tester: every compiled variant against the scalar spec.
 *
 *   f32-vunary-tester [seed] [--bench]
 *
 * 1. accuracy sweep: every op over a dense grid of [-20, 20] (step 2^-14), all binades from
 *    denormals up, random floats and special values; prints the max error per op per variant
 *    and requires saturated outputs (|x| >= 20) to hit their limit exactly;
 * 2. shapes: n = 0..70 plus large random n, aligned / offset by one float / in place, exact-size
 *    heap buffers (run under EDGERT_SANITIZE=1 to catch any access past the end);
 * 3. prelu: random rows x channels, the same three placements.
 * Tolerances follow edgert/f32-vunary.h.
 */
#include <float.h>

#include "edgert/f32-vunary.h"
#include "tester.h"

enum check { EXACT, ABSOLUTE, RELATIVE, MIXED };

static const char* const check_names[] = {"exact", "abs", "rel", "rel|abs"};

/* RELATIVE: |d| / max(|ref|, 1e-30) -- below that the denormal tails have few bits anyway.
 * MIXED: |d| / max(|ref|, 1). */
static const double check_tolerance[] = {0.0, 2e-6, 1e-5, 1e-5};
static const double check_floor[] = {0.0, 0.0, 1e-30, 1.0};

enum { CLAMP, SIGMOID, TANH, HARDSIGMOID, HARDSWISH, SWISH, GELU, GELU_TANH, LEAKYRELU, ELU, EXP, NUM_OPS };

typedef struct {
  const char* name;
  enum check check;
  int uses_params;
} op_info;

static const op_info ops[NUM_OPS] = {
    [CLAMP] = {"clamp", EXACT, 1},         [SIGMOID] = {"sigmoid", ABSOLUTE, 0},
    [TANH] = {"tanh", ABSOLUTE, 0},        [HARDSIGMOID] = {"hardsigmoid", ABSOLUTE, 1},
    [HARDSWISH] = {"hardswish", MIXED, 0}, [SWISH] = {"swish", RELATIVE, 0},
    [GELU] = {"gelu", MIXED, 0},           [GELU_TANH] = {"gelu_tanh", MIXED, 0},
    [LEAKYRELU] = {"leakyrelu", EXACT, 1}, [ELU] = {"elu", RELATIVE, 1},
    [EXP] = {"exp", RELATIVE, 0},
};

typedef struct {
  const char* name;
  int (*available)(void); /* whether it runs here */
  edgert_f32_vunary_fn fn[NUM_OPS];
  edgert_f32_vprelu_fn prelu;
} variant;

#define VARIANT(arch, is_available)                                                              \
  {                                                                                              \
    #arch, is_available,                                                                         \
        {edgert_f32_vclamp__##arch, edgert_f32_vsigmoid__##arch, edgert_f32_vtanh__##arch,       \
         edgert_f32_vhardsigmoid__##arch, edgert_f32_vhardswish__##arch, edgert_f32_vswish__##arch, \
         edgert_f32_vgelu__##arch, edgert_f32_vgelu_tanh__##arch, edgert_f32_vleakyrelu__##arch, \
         edgert_f32_velu__##arch, edgert_f32_vexp__##arch},                                      \
        edgert_f32_vprelu__##arch                                                                \
  }

static const variant variants[] = {VARIANT(scalar, tester_always), TESTER_SIMD_VARIANTS(VARIANT)};
#define NUM_VARIANTS TESTER_ARRAY_SIZE(variants)

/* At the start of the checks and of the benchmark. */
static void report_variants(void) {
  for (size_t v = 0; v < NUM_VARIANTS; v++) {
    tester_report_variant(variants[v].name, variants[v].available);
  }
}

/* Error of one output under a check; NaN/inf mismatches are infinite. */
static double error_of(enum check check, float ref, float got) {
  if (isnan(ref) || isnan(got)) return isnan(ref) && isnan(got) ? 0.0 : INFINITY;
  if (check == EXACT) return tester_bits_of(ref) == tester_bits_of(got) ? 0.0 : INFINITY;
  if (ref == got) return 0.0;
  if (isinf(ref) || isinf(got)) return INFINITY;
  const double d = fabs((double)got - (double)ref);
  return check == ABSOLUTE ? d : d / fmax(fabs((double)ref), check_floor[check]);
}

static const float specials[] = {
    0.0f, -0.0f, INFINITY, -INFINITY, NAN, -NAN, 1e30f, -1e30f, FLT_MAX, -FLT_MAX,
    FLT_MIN, -FLT_MIN, 1e-40f, -1e-40f, FLT_TRUE_MIN, -FLT_TRUE_MIN, 1e-7f, -1e-7f,
    100.0f, -100.0f, 88.72f, 88.73f, 89.0f, -87.3f, -87.4f, -103.9f, -104.0f, -110.0f,
    5.5515f, -5.5515f, 9.0f, -9.0f, 18.0f, -18.0f, 3.0f, -3.0f, 0.5f, -0.5f, 1.0f, -1.0f,
};
#define NUM_SPECIALS (sizeof(specials) / sizeof(specials[0]))

static float random_input(void) {
  if (tester_next() % 16 == 0) return specials[tester_next() % NUM_SPECIALS];
  return tester_uniform(-12.0f, 12.0f);
}

static edgert_f32_unary_params random_params(int op) {
  edgert_f32_unary_params p = {0.0f, 0.0f, -INFINITY, INFINITY};
  switch (op) {
    case CLAMP:
      switch (tester_next() % 4) {
        case 0: p.min = 0.0f; break;                  /* Relu */
        case 1: p.min = 0.0f; p.max = 6.0f; break;    /* Relu6 */
        case 2: break;                                /* no-op Clip */
        default: p.min = tester_uniform(-3.0f, 0.0f); p.max = tester_uniform(0.0f, 3.0f);
      }
      break;
    case HARDSIGMOID: p.alpha = tester_uniform(0.05f, 0.5f); p.beta = tester_uniform(0.0f, 1.0f); break;
    case LEAKYRELU: p.alpha = tester_uniform(-0.5f, 0.5f); break;
    case ELU: p.alpha = tester_uniform(0.1f, 2.0f); break;
  }
  return p;
}

/* Dense grid + every binade + random bit patterns + specials. */
static float* make_sweep(size_t* count) {
  const size_t grid = 40 * 16384 + 1, binades = 2 * 157 * 64, random_bits = 1 << 16, random_wide = 1 << 16;
  const size_t n = grid + binades + random_bits + random_wide + NUM_SPECIALS;
  float* x = tester_alloc_floats(n);
  size_t k = 0;
  for (size_t i = 0; i < grid; i++) x[k++] = -20.0f + (float)i / 16384.0f;
  for (int e = -149; e <= 7; e++) {
    for (int j = 0; j < 64; j++) {
      const float v = ldexpf(1.0f + j / 64.0f, e);
      x[k++] = v;
      x[k++] = -v;
    }
  }
  for (size_t i = 0; i < random_bits; i++) x[k++] = tester_float_of((uint32_t)tester_next());
  for (size_t i = 0; i < random_wide; i++) x[k++] = tester_uniform(-120.0f, 120.0f);
  for (size_t i = 0; i < NUM_SPECIALS; i++) x[k++] = specials[i];
  *count = k;
  return x;
}

static const edgert_f32_unary_params sweep_params = {.alpha = 0.2f, .beta = 0.5f, .min = 0.0f, .max = 6.0f};

/* Large |x| must reach the exact limit (0, +-1, x itself, or -alpha for elu), not a float
 * next to it, even where that would be within tolerance. */
static int is_limit(float x, float ref) {
  return ref == 0.0f || fabsf(ref) == 1.0f || ref == x || ref == -sweep_params.alpha;
}

static int sweep(void) {
  size_t n;
  float* x = make_sweep(&n);
  float* ref = tester_alloc_floats(n);
  float* got = tester_alloc_floats(n);
  int failures = 0;
  printf("accuracy sweep over %zu inputs (alpha=0.2 beta=0.5 min=0 max=6):\n", n);
  printf("  %-12s %-8s %-8s %12s %8s %12s  %s\n", "op", "variant", "check", "max err", "tol",
         "max abs err", "worst x");
  for (int op = 0; op < NUM_OPS; op++) {
    variants[0].fn[op](n, x, ref, &sweep_params);
    for (size_t v = 0; v < NUM_VARIANTS; v++) {
      if (!variants[v].available()) continue;
      variants[v].fn[op](n, x, got, &sweep_params);
      const enum check check = ops[op].check;
      double max_err = 0.0, max_abs = 0.0;
      size_t worst = 0, saturation_misses = 0;
      for (size_t i = 0; i < n; i++) {
        const double e = error_of(check, ref[i], got[i]);
        if (!(e <= max_err)) { max_err = e; worst = i; }
        if (isfinite(ref[i]) && isfinite(got[i])) max_abs = fmax(max_abs, fabs((double)got[i] - ref[i]));
        if (fabsf(x[i]) >= 20.0f && is_limit(x[i], ref[i]) && got[i] != ref[i]) {
          if (saturation_misses++ == 0) {
            printf("  saturation: %s(%.9g) ref %.9g got %.9g\n", ops[op].name, x[i], ref[i], got[i]);
          }
        }
      }
      const int ok = max_err <= check_tolerance[check] && saturation_misses == 0;
      printf("  %-12s %-8s %-8s %12.3g %8.0e %12.3g  %.9g -> ref %.9g got %.9g%s\n", ops[op].name,
             variants[v].name, check_names[check], max_err, check_tolerance[check], max_abs, x[worst],
             ref[worst], got[worst], ok ? "" : "  FAIL");
      failures += !ok;
    }
  }
  free(x);
  free(ref);
  free(got);
  return failures;
}

static int compare(const char* what, const char* variant_name, const char* op_name, enum check check,
                   size_t n, const float* x, const float* ref, const float* got) {
  for (size_t i = 0; i < n; i++) {
    if (!(error_of(check, ref[i], got[i]) <= check_tolerance[check])) {
      printf("FAIL %s %s (%s) n=%zu i=%zu: x=%.9g ref=%.9g got=%.9g\n", op_name, variant_name, what, n,
             i, x[i], ref[i], got[i]);
      return 1;
    }
  }
  return 0;
}

/* One op, variant vi, one size: aligned, offset by one float, and in place; variant 0 (the
 * scalar spec) is the reference. */
static int check_shape(size_t vi, int op, size_t n) {
  const variant *ref_variant = &variants[0], *v = &variants[vi];
  const edgert_f32_unary_params params = random_params(op);
  const edgert_f32_unary_params* p = ops[op].uses_params ? &params : NULL;
  if (n == 0) v->fn[op](0, NULL, NULL, p);  /* n == 0 must touch no element */
  float* x = tester_alloc_floats(n);
  float* x_copy = tester_alloc_floats(n);
  float* ref = tester_alloc_floats(n);
  float* y = tester_alloc_floats(n);
  float* x_offset_base = tester_alloc_floats(n + 1);
  float* y_offset_base = tester_alloc_floats(n + 1);
  for (size_t i = 0; i < n; i++) x[i] = random_input();
  if (n) memcpy(x_copy, x, n * sizeof(float));
  ref_variant->fn[op](n, x, ref, p);
  int failures = 0;

  v->fn[op](n, x, y, p);
  failures += compare("aligned", v->name, ops[op].name, ops[op].check, n, x, ref, y);
  if (n && memcmp(x, x_copy, n * sizeof(float)) != 0) {
    printf("FAIL %s %s n=%zu: input modified\n", ops[op].name, v->name, n);
    failures++;
  }

  float* x_offset = x_offset_base + 1;
  float* y_offset = y_offset_base + 1;
  if (n) memcpy(x_offset, x, n * sizeof(float));
  v->fn[op](n, x_offset, y_offset, p);
  failures += compare("offset by 1", v->name, ops[op].name, ops[op].check, n, x, ref, y_offset);

  if (n) memcpy(y, x, n * sizeof(float));
  v->fn[op](n, y, y, p);
  failures += compare("in place", v->name, ops[op].name, ops[op].check, n, x, ref, y);

  free(x);
  free(x_copy);
  free(ref);
  free(y);
  free(x_offset_base);
  free(y_offset_base);
  return failures;
}

static int check_prelu(const variant* ref_variant, const variant* v, size_t rows, size_t channels) {
  if (channels == 1) v->prelu(0, 1, NULL, NULL, NULL);  /* rows == 0 must touch nothing */
  const size_t n = rows * channels;
  float* x = tester_alloc_floats(n);
  float* slope = tester_alloc_floats(channels);
  float* ref = tester_alloc_floats(n);
  float* y = tester_alloc_floats(n);
  float* x_offset_base = tester_alloc_floats(n + 1);
  float* slope_offset_base = tester_alloc_floats(channels + 1);
  float* y_offset_base = tester_alloc_floats(n + 1);
  for (size_t i = 0; i < n; i++) x[i] = random_input();
  tester_fill(slope, channels, -1.0f, 1.0f);
  ref_variant->prelu(rows, channels, x, slope, ref);
  char name[64];
  snprintf(name, sizeof(name), "prelu %zux%zu", rows, channels);
  int failures = 0;

  v->prelu(rows, channels, x, slope, y);
  failures += compare("aligned", v->name, name, EXACT, n, x, ref, y);

  if (n) memcpy(x_offset_base + 1, x, n * sizeof(float));
  memcpy(slope_offset_base + 1, slope, channels * sizeof(float));
  v->prelu(rows, channels, x_offset_base + 1, slope_offset_base + 1, y_offset_base + 1);
  failures += compare("offset by 1", v->name, name, EXACT, n, x, ref, y_offset_base + 1);

  if (n) memcpy(y, x, n * sizeof(float));
  v->prelu(rows, channels, y, slope, y);
  failures += compare("in place", v->name, name, EXACT, n, x, ref, y);

  free(x);
  free(slope);
  free(ref);
  free(y);
  free(x_offset_base);
  free(slope_offset_base);
  free(y_offset_base);
  return failures;
}

/* L1-resident single-thread throughput, ~20 ms per op and variant. */
static int bench(void) {
  report_variants();
  const size_t n = 4096;
  float* x = tester_alloc_floats(n);
  float* y = tester_alloc_floats(n);
  tester_fill(x, n, -8.0f, 8.0f);
  printf("bench: n=%zu, single thread, Gelem/s (GB/s at 8 bytes/elem)\n", n);
  for (int op = 0; op < NUM_OPS; op++) {
    printf("  %-12s", ops[op].name);
    for (size_t v = 0; v < NUM_VARIANTS; v++) {
      if (!variants[v].available()) continue;
      tester_timer timer = tester_timer_start();
      do {
        for (int k = 0; k < 16; k++) variants[v].fn[op](n, x, y, &sweep_params);
      } while (tester_timer_more(&timer, 16, 0.02));
      const double gelem = tester_timer_rate(&timer) * n * 1e-9;
      printf("  %s %7.3f (%6.2f)", variants[v].name, gelem, gelem * 8);
    }
    printf("\n");
  }
  free(x);
  free(y);
  return 0;
}

static int test(void) {
  report_variants();
  int failures = sweep();
  size_t shapes = 0;
  for (size_t v = 0; v < NUM_VARIANTS; v++) {
    if (!variants[v].available()) continue;
    failures += tester_elementwise_shapes(check_shape, v, NUM_OPS, &shapes);
    for (size_t rows = 1; rows <= 3; rows++) {
      for (size_t channels = 1; channels <= 40; channels++, shapes++) {
        failures += check_prelu(&variants[0], &variants[v], rows, channels);
      }
    }
    for (int k = 0; k < 8; k++, shapes++) {
      failures += check_prelu(&variants[0], &variants[v], tester_range(1, 9), tester_range(41, 600));
    }
  }
  printf("[f32-vunary] %zu shapes x 3 placements, %d failures: %s\n", shapes, failures,
         failures ? "FAIL" : "PASS");
  return failures ? 1 : 0;
}

int main(int argc, char** argv) {
  return tester_init_bench(argc, argv, "f32-vunary") ? bench() : test();
}
