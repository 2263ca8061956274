/* qs8 Add / Mul: the scalar spec and every compiled variant against a direct formula written out
 * from the header, bit for bit, for every length 0..70 (all tails) and long runs, vector-vector
 * and vector-scalar, extreme zero points and multipliers, clamps, guarded outputs.
 *   qs8-vbinary-tester [seed]
 */
#include "tester.h"

#include "edgert/qs8-vbinary.h"

typedef struct {
  const char* name;
  edgert_qs8_vbinary_fn fn[4]; /* vadd, vaddc, vmul, vmulc */
} variant;

#define VARIANT(isa)                                                                        \
  {#isa, {edgert_qs8_vadd__##isa, edgert_qs8_vaddc__##isa, edgert_qs8_vmul__##isa,           \
          edgert_qs8_vmulc__##isa}},
static const variant variants[] = {
    VARIANT(scalar)
#if EDGERT_ARCH_X86_64
    VARIANT(avx2)
#endif
#if EDGERT_ARCH_ARM64
    VARIANT(neon)
#endif
};
static const char* const op_names[4] = {"vadd", "vaddc", "vmul", "vmulc"};

static edgert_qs8_binary_params params;

/* Direct formula, written out again from the header's description. */
static int8_t direct(int op, int32_t a, int32_t b) {
  float f;
  if (op < 2) {
    const float fa = (float)(a - params.a_zero_point) * params.a_mult;
    const float fb = (float)(b - params.b_zero_point) * params.b_mult;
    f = fa + fb;
  } else {
    f = (float)((a - params.a_zero_point) * (b - params.b_zero_point)) * params.a_mult;
  }
  const float lo = (float)(params.out.qmin - params.out.zero_point);
  const float hi = (float)(params.out.qmax - params.out.zero_point);
  f = f < lo ? lo : f > hi ? hi : f;
  return (int8_t)((int32_t)lrintf(f) + params.out.zero_point);
}

static int check(size_t v, int op, size_t n) {
  params.a_zero_point = tester_random_zero_point();
  params.b_zero_point = tester_random_zero_point();
  params.a_mult = tester_log_uniform(op < 2 ? 1e-3f : 1e-6f, op < 2 ? 30.0f : 0.5f);
  params.b_mult = tester_log_uniform(1e-3f, 30.0f);
  params.out = tester_random_output_params();
  const int scalar_b = op % 2;
  int8_t* a = tester_alloc_i8(n);
  int8_t* b = tester_alloc_i8(scalar_b ? 1 : n);
  int8_t* ref = tester_alloc_i8(n);
  int8_t* guard = tester_alloc_i8(n + TESTER_GUARD_BYTES);
  int8_t* got = tester_alloc_i8(n + TESTER_GUARD_BYTES);
  tester_fill_i8(a, n, -128, 127);
  tester_fill_i8(b, scalar_b ? 1 : n, -128, 127);
  tester_fill_i8(guard, n + TESTER_GUARD_BYTES, -128, 127);
  for (size_t i = 0; i < n; i++) ref[i] = direct(op, a[i], b[scalar_b ? 0 : i]);
  memcpy(got, guard, n + TESTER_GUARD_BYTES);
  variants[v].fn[op](n, a, b, got, &params);
  int fail = 0;
  if (!tester_untouched_i8(variants[v].name, guard + n, got + n, TESTER_GUARD_BYTES, NULL, NULL) ||
      tester_check_i8(variants[v].name, ref, got, n)) {
    printf("  %s n=%zu za=%d zb=%d am=%g bm=%g " TESTER_OUTPUT_FMT "\n", op_names[op], n,
           params.a_zero_point, params.b_zero_point, params.a_mult, params.b_mult,
           TESTER_OUTPUT_ARGS(params.out));
    fail = 1;
  }
  free(a);
  free(b);
  free(ref);
  free(guard);
  free(got);
  return fail;
}

int main(int argc, char** argv) {
  tester_init(argc, argv, "qs8-vbinary");
  size_t shapes = 0;
  int failures = 0;
  for (size_t v = 0; v < TESTER_ARRAY_SIZE(variants); v++) {
    if (!tester_report_variant(variants[v].name, v == 0 ? tester_always : tester_simd_available)) continue;
    for (int rep = 0; rep < 3; rep++) failures += tester_elementwise_shapes(check, v, 4, &shapes);
  }
  printf("[qs8-vbinary] %s: %zu shapes\n", failures ? "FAILED" : "OK", shapes);
  return failures ? 1 : 0;
}
