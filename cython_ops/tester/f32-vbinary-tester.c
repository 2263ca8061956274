/* f32-vbinary tester: every compiled variant against the scalar spec, bit for bit (NaN payloads
 * aside; div may differ by 1 ulp, though correctly rounded IEEE division gives 0).
 *
 *   f32-vbinary-tester [seed] [--bench]
 *
 * For n = 0..70 plus large random n: random operands with special values mixed in (+-0, +-inf,
 * NaN, FLT_MAX, denormals, ...), random fused clamps (none, Relu, Relu6, random), and every
 * placement: aligned, each pointer offset by one float, y aliasing a, y aliasing b, a == b == y.
 * Buffers are exact-size heap blocks (run under EDGERT_SANITIZE=1 to catch any access past the end).
 */
#include <float.h>

#include "edgert/f32-vbinary.h"
#include "tester.h"

enum form { VV, VS };  /* VV: a[i] op b[i]; VS: b is one scalar */

enum { ADD, SUB, MUL, DIV, MAX, MIN, ADDC, SUBC, MULC, DIVC, MAXC, MINC, RSUBC, RDIVC, NUM_OPS };

typedef struct {
  const char* name;
  enum form form;
  uint32_t max_ulps;
} op_info;

static const op_info ops[NUM_OPS] = {
    [ADD] = {"vadd", VV, 0},     [SUB] = {"vsub", VV, 0},     [MUL] = {"vmul", VV, 0},
    [DIV] = {"vdiv", VV, 1},     [MAX] = {"vmax", VV, 0},     [MIN] = {"vmin", VV, 0},
    [ADDC] = {"vaddc", VS, 0},   [SUBC] = {"vsubc", VS, 0},   [MULC] = {"vmulc", VS, 0},
    [DIVC] = {"vdivc", VS, 1},   [MAXC] = {"vmaxc", VS, 0},   [MINC] = {"vminc", VS, 0},
    [RSUBC] = {"vrsubc", VS, 0}, [RDIVC] = {"vrdivc", VS, 1},
};

typedef struct {
  const char* name;
  int (*available)(void); /* whether it runs here */
  edgert_f32_vbinary_fn fn[NUM_OPS];
} variant;

#define VARIANT(arch, is_available)                                                                \
  {                                                                                                \
    #arch, is_available,                                                                           \
    {                                                                                              \
      edgert_f32_vadd__##arch, edgert_f32_vsub__##arch, edgert_f32_vmul__##arch,                   \
          edgert_f32_vdiv__##arch, edgert_f32_vmax__##arch, edgert_f32_vmin__##arch,               \
          edgert_f32_vaddc__##arch, edgert_f32_vsubc__##arch, edgert_f32_vmulc__##arch,            \
          edgert_f32_vdivc__##arch, edgert_f32_vmaxc__##arch, edgert_f32_vminc__##arch,            \
          edgert_f32_vrsubc__##arch, edgert_f32_vrdivc__##arch                                     \
    }                                                                                              \
  }

static const variant variants[] = {VARIANT(scalar, tester_always), TESTER_SIMD_VARIANTS(VARIANT)};
#define NUM_VARIANTS TESTER_ARRAY_SIZE(variants)

/* At the start of the checks and of the benchmark. */
static void report_variants(void) {
  for (size_t v = 0; v < NUM_VARIANTS; v++) {
    tester_report_variant(variants[v].name, variants[v].available);
  }
}

/* Distance in ulps along the float line (+0 and -0 coincide). */
static uint64_t ulp_distance(float x, float y) {
  const uint32_t bx = tester_bits_of(x), by = tester_bits_of(y);
  const int64_t ox = (bx & 0x80000000u) ? -(int64_t)(bx & 0x7FFFFFFFu) : (int64_t)bx;
  const int64_t oy = (by & 0x80000000u) ? -(int64_t)(by & 0x7FFFFFFFu) : (int64_t)by;
  return (uint64_t)(ox > oy ? ox - oy : oy - ox);
}

/* Exact bits, or any NaN for a NaN, or within max_ulps (which never excuses a sign-of-zero flip). */
static int matches(float ref, float got, uint32_t max_ulps) {
  if (isnan(ref) || isnan(got)) return isnan(ref) && isnan(got);
  if (tester_bits_of(ref) == tester_bits_of(got)) return 1;
  return max_ulps > 0 && ref != 0.0f && ulp_distance(ref, got) <= max_ulps;
}

static const float specials[] = {
    0.0f, -0.0f, INFINITY, -INFINITY, NAN, -NAN, FLT_MAX, -FLT_MAX, FLT_MIN, -FLT_MIN,
    1e-40f, -1e-40f, FLT_TRUE_MIN, -FLT_TRUE_MIN, 1e30f, -1e30f, 1e-30f, -1e-30f, 1.0f, -1.0f,
};
#define NUM_SPECIALS (sizeof(specials) / sizeof(specials[0]))

static float random_operand(void) {
  switch (tester_next() % 8) {
    case 0: return specials[tester_next() % NUM_SPECIALS];
    case 1: return ldexpf(tester_uniform(-1.0f, 1.0f), (int)tester_range(0, 120) - 60);
    default: return tester_uniform(-10.0f, 10.0f);
  }
}

static edgert_f32_minmax_params random_clamp(void) {
  edgert_f32_minmax_params p = {-INFINITY, INFINITY};
  switch (tester_next() % 4) {
    case 0: break;
    case 1: p.min = 0.0f; break;
    case 2: p.min = 0.0f; p.max = 6.0f; break;
    default: p.min = tester_uniform(-5.0f, 0.0f); p.max = tester_uniform(0.0f, 5.0f);
  }
  return p;
}

static int compare(const char* what, const variant* v, int op, size_t n, const float* a,
                   const float* b, const edgert_f32_minmax_params* p, const float* ref, const float* got) {
  for (size_t i = 0; i < n; i++) {
    if (!matches(ref[i], got[i], ops[op].max_ulps)) {
      const float bi = ops[op].form == VV ? b[i] : b[0];
      printf("FAIL %s %s (%s) n=%zu i=%zu: a=%.9g b=%.9g clamp=[%g, %g] ref=%.9g (0x%08x) got=%.9g "
             "(0x%08x)\n", ops[op].name, v->name, what, n, i, a[i], bi, p->min, p->max, ref[i],
             tester_bits_of(ref[i]), got[i], tester_bits_of(got[i]));
      return 1;
    }
  }
  return 0;
}

/* One op, variant vi, one size, every placement; variant 0 (the scalar spec) is the reference. */
static int check_shape(size_t vi, int op, size_t n) {
  const variant *ref_variant = &variants[0], *v = &variants[vi];
  if (n == 0) {
    const edgert_f32_minmax_params p = random_clamp();
    v->fn[op](0, NULL, NULL, NULL, &p);  /* n == 0 must touch no operand */
  }
  const size_t b_len = ops[op].form == VV ? n : 1;
  const edgert_f32_minmax_params p = random_clamp();
  float* a = tester_alloc_floats(n);
  float* b = tester_alloc_floats(b_len);
  for (size_t i = 0; i < n; i++) a[i] = random_operand();
  for (size_t i = 0; i < b_len; i++) b[i] = random_operand();
  float* ref = tester_alloc_floats(n);
  ref_variant->fn[op](n, a, b, ref, &p);
  int failures = 0;

  float* y = tester_alloc_floats(n);
  v->fn[op](n, a, b, y, &p);
  failures += compare("aligned", v, op, n, a, b, &p, ref, y);

  /* Each pointer in turn offset by one float (end still exact). */
  for (int which = 0; which < 3; which++) {
    float* a_base = tester_alloc_floats(n + (which == 0));
    float* b_base = tester_alloc_floats(b_len + (which == 1));
    float* y_base = tester_alloc_floats(n + (which == 2));
    float* a_off = a_base + (which == 0);
    float* b_off = b_base + (which == 1);
    float* y_off = y_base + (which == 2);
    if (n) memcpy(a_off, a, n * sizeof(float));
    memcpy(b_off, b, b_len * sizeof(float));
    v->fn[op](n, a_off, b_off, y_off, &p);
    static const char* const what[] = {"a offset by 1", "b offset by 1", "y offset by 1"};
    failures += compare(what[which], v, op, n, a, b, &p, ref, y_off);
    free(a_base);
    free(b_base);
    free(y_base);
  }

  float* in_place = tester_copy_floats(a, n);
  v->fn[op](n, in_place, b, in_place, &p);
  failures += compare("y aliases a", v, op, n, a, b, &p, ref, in_place);
  free(in_place);

  /* y aliases b: for the scalar forms y[0] holds the scalar and is overwritten while in use. */
  if (n > 0) {
    float* yb = tester_alloc_floats(n);
    if (ops[op].form == VV) {
      memcpy(yb, b, n * sizeof(float));
    } else {
      for (size_t i = 0; i < n; i++) yb[i] = b[0];
    }
    v->fn[op](n, a, yb, yb, &p);
    failures += compare("y aliases b", v, op, n, a, b, &p, ref, yb);
    free(yb);
  }

  if (ops[op].form == VV) {
    float* ref_same = tester_alloc_floats(n);
    ref_variant->fn[op](n, a, a, ref_same, &p);
    float* same = tester_copy_floats(a, n);
    v->fn[op](n, same, same, same, &p);
    failures += compare("a == b == y", v, op, n, a, a, &p, ref_same, same);
    free(ref_same);
    free(same);
  }

  free(a);
  free(b);
  free(ref);
  free(y);
  return failures;
}

/* L1-resident single-thread throughput, ~20 ms per op and variant. */
static int bench(void) {
  report_variants();
  const size_t n = 4096;
  float* a = tester_alloc_floats(n);
  float* b = tester_alloc_floats(n);
  float* y = tester_alloc_floats(n);
  tester_fill(a, n, 1.0f, 8.0f);
  tester_fill(b, n, 1.0f, 8.0f);
  const edgert_f32_minmax_params p = {0.0f, INFINITY};
  printf("bench: n=%zu, single thread, Relu fused, Gelem/s (GB/s at 12 or 8 bytes/elem)\n", n);
  for (int op = 0; op < NUM_OPS; op++) {
    printf("  %-7s", ops[op].name);
    const double bytes = ops[op].form == VV ? 12.0 : 8.0;
    for (size_t v = 0; v < NUM_VARIANTS; v++) {
      if (!variants[v].available()) continue;
      tester_timer timer = tester_timer_start();
      do {
        for (int k = 0; k < 16; k++) variants[v].fn[op](n, a, b, y, &p);
      } while (tester_timer_more(&timer, 16, 0.02));
      const double gelem = tester_timer_rate(&timer) * n * 1e-9;
      printf("  %s %7.3f (%6.2f)", variants[v].name, gelem, gelem * bytes);
    }
    printf("\n");
  }
  free(a);
  free(b);
  free(y);
  return 0;
}

static int test(void) {
  report_variants();
  int failures = 0;
  size_t shapes = 0;
  for (size_t v = 0; v < NUM_VARIANTS; v++) {
    if (!variants[v].available()) continue;
    failures += tester_elementwise_shapes(check_shape, v, NUM_OPS, &shapes);
  }
  printf("[f32-vbinary] %zu shapes x up to 7 placements, %d failures: %s\n", shapes, failures,
         failures ? "FAIL" : "PASS");
  return failures ? 1 : 0;
}

int main(int argc, char** argv) {
  return tester_init_bench(argc, argv, "f32-vbinary") ? bench() : test();
}
