/* qs8 quantize / dequantize: every compiled variant against the scalar spec and the spec against
 * a direct formula, bit for bit: every length 0..70 and long runs, exact ties (k + 1/2) * scale
 * and inputs a few ulps from them (where x * (1 / scale) and x / scale can round apart),
 * saturation, +-inf, NaN, -0; the NCHW -> NHWC quantize on random planes and pixel ranges.
 *   qs8-vcvt-tester [seed]
 */
#include "tester.h"

#include "edgert/qs8-vcvt.h"

typedef struct {
  const char* name;
  edgert_qs8_quantize_fn quantize;
  edgert_qs8_quantize_nchw_fn quantize_nchw;
  edgert_qs8_dequantize_fn dequantize;
} variant;

#define VARIANT(isa)                                                                          \
  {#isa, edgert_qs8_quantize__##isa, edgert_qs8_quantize_nchw__##isa, edgert_qs8_dequantize__##isa},
static const variant variants[] = {
    VARIANT(scalar)
#if EDGERT_ARCH_X86_64
    VARIANT(avx2)
#endif
#if EDGERT_ARCH_ARM64
    VARIANT(neon)
#endif
};

/* ONNX QuantizeLinear with the documented NaN rule, written out directly. */
static int8_t direct_quantize(float x, float scale, int32_t zp) {
  const float f = x / scale;
  if (isnan(f)) return (int8_t)zp;
  const float r = nearbyintf(f) + (float)zp; /* saturate after rounding, as ONNX states it */
  return (int8_t)(r < -128.0f ? -128 : r > 127.0f ? 127 : (int32_t)r);
}

static float random_input(float scale) {
  switch (tester_range(0, 11)) {
    case 0: return ((float)((int)tester_range(0, 600) - 300) + 0.5f) * scale; /* exact ties */
    case 1: return tester_uniform(-1e6f, 1e6f);
    case 2: {
      static const float special[] = {INFINITY, -INFINITY, NAN, -0.0f, 0.0f, 3.4e38f, -3.4e38f};
      return special[tester_range(0, TESTER_ARRAY_SIZE(special) - 1)];
    }
    case 3:
    case 4: { /* a few ulps from a tie, where x * (1 / scale) and x / scale may round apart */
      float t = ((float)((int)tester_range(0, 600) - 300) + 0.5f) * scale;
      const float toward = tester_range(0, 1) ? INFINITY : -INFINITY;
      for (size_t steps = tester_range(0, 6); steps > 0; steps--) t = nextafterf(t, toward);
      return t;
    }
    default: return tester_uniform(-200.0f, 200.0f) * scale;
  }
}

static int check(size_t v, int op, size_t n) {
  /* Power-of-two scales make (k + 1/2) * scale exact ties; others exercise the division. */
  const float scale = tester_range(0, 1) ? ldexpf(1.0f, (int)tester_range(0, 12) - 8)
                                         : tester_log_uniform(1e-3f, 10.0f);
  const int32_t zp = tester_random_zero_point();
  int fail = 0;
  if (op == 0) {
    float* x = tester_alloc_floats(n);
    for (size_t i = 0; i < n; i++) x[i] = random_input(scale);
    int8_t* ref = tester_alloc_i8(n);
    int8_t* guard = tester_alloc_i8(n + TESTER_GUARD_BYTES);
    int8_t* got = tester_alloc_i8(n + TESTER_GUARD_BYTES);
    for (size_t i = 0; i < n; i++) ref[i] = direct_quantize(x[i], scale, zp);
    tester_fill_i8(guard, n + TESTER_GUARD_BYTES, -128, 127);
    memcpy(got, guard, n + TESTER_GUARD_BYTES);
    variants[v].quantize(n, x, got, scale, zp);
    if (!tester_untouched_i8(variants[v].name, guard + n, got + n, TESTER_GUARD_BYTES, NULL, NULL) ||
        tester_check_i8(variants[v].name, ref, got, n)) {
      printf("  quantize n=%zu scale=%g zp=%d\n", n, scale, zp);
      fail = 1;
    }
    free(x);
    free(ref);
    free(guard);
    free(got);
  } else if (op == 1) {
    int8_t* x = tester_alloc_i8(n);
    float* ref = tester_alloc_floats(n);
    float* got = tester_alloc_floats(n + TESTER_GUARD_FLOATS);
    tester_fill_i8(x, n, -128, 127);
    for (size_t i = 0; i < n; i++) ref[i] = (float)(x[i] - zp) * scale;
    tester_set_sentinel(got, n + TESTER_GUARD_FLOATS);
    variants[v].dequantize(n, x, got, scale, zp);
    if (!tester_guard_intact(got + n) || memcmp(ref, got, n * sizeof(float)) != 0) {
      printf("FAIL %s dequantize n=%zu scale=%g zp=%d\n", variants[v].name, n, scale, zp);
      fail = 1;
    }
    free(x);
    free(ref);
    free(got);
  } else {
    /* NCHW planes: C channels of HW = n + 1 pixels, a random pixel range. */
    const size_t C = tester_range(1, 20), HW = n + 1;
    size_t p0, p1;
    tester_random_rows(HW, &p0, &p1);
    float* x = tester_alloc_floats(C * HW);
    for (size_t i = 0; i < C * HW; i++) x[i] = random_input(scale);
    int8_t* ref = tester_alloc_i8(C * HW);
    int8_t* guard = tester_alloc_i8(C * HW + TESTER_GUARD_BYTES);
    int8_t* got = tester_alloc_i8(C * HW + TESTER_GUARD_BYTES);
    tester_fill_i8(guard, C * HW + TESTER_GUARD_BYTES, -128, 127);
    memcpy(ref, guard, C * HW);
    for (size_t p = p0; p < p1; p++)
      for (size_t c = 0; c < C; c++) ref[p * C + c] = direct_quantize(x[c * HW + p], scale, zp);
    memcpy(got, guard, C * HW + TESTER_GUARD_BYTES);
    variants[v].quantize_nchw(C, HW, p0, p1, x, got, scale, zp);
    if (!tester_untouched_i8(variants[v].name, guard + C * HW, got + C * HW, TESTER_GUARD_BYTES, NULL, NULL) ||
        tester_check_i8(variants[v].name, ref, got, C * HW)) {
      printf("  quantize_nchw C=%zu HW=%zu pixels=[%zu,%zu) scale=%g zp=%d\n", C, HW, p0, p1, scale, zp);
      fail = 1;
    }
    free(x);
    free(ref);
    free(guard);
    free(got);
  }
  return fail;
}

int main(int argc, char** argv) {
  tester_init(argc, argv, "qs8-vcvt");
  size_t shapes = 0;
  int failures = 0;
  for (size_t v = 0; v < TESTER_ARRAY_SIZE(variants); v++) {
    if (!tester_report_variant(variants[v].name, v == 0 ? tester_always : tester_simd_available)) continue;
    for (int rep = 0; rep < 4; rep++) failures += tester_elementwise_shapes(check, v, 3, &shapes);
  }
  printf("[qs8-vcvt] %s: %zu shapes\n", failures ? "FAILED" : "OK", shapes);
  return failures ? 1 : 0;
}
