/* x8 table lookup: every compiled variant against the scalar spec and a direct index, bit for
 * bit, with random tables, every length 0..70 and long runs, in place too, guarded outputs.
 *   qs8-lut-tester [seed]
 */
#include "tester.h"

#include "edgert/qs8-lut.h"

typedef struct {
  const char* name;
  edgert_x8_lut_fn fn;
} variant;

static const variant variants[] = {
    {"scalar", edgert_x8_lut__scalar},
#if EDGERT_ARCH_X86_64
    {"avx2", edgert_x8_lut__avx2},
#endif
#if EDGERT_ARCH_ARM64
    {"neon", edgert_x8_lut__neon},
#endif
};

static int check(size_t v, int op, size_t n) {
  int8_t table[256];
  tester_fill_i8(table, 256, -128, 127);
  int8_t* x = tester_alloc_i8(n);
  int8_t* ref = tester_alloc_i8(n);
  int8_t* guard = tester_alloc_i8(n + TESTER_GUARD_BYTES);
  int8_t* got = tester_alloc_i8(n + TESTER_GUARD_BYTES);
  tester_fill_i8(x, n, -128, 127);
  for (size_t i = 0; i < n && i < 256; i++) x[i] = (int8_t)(i - 128); /* every index early */
  tester_fill_i8(guard, n + TESTER_GUARD_BYTES, -128, 127);
  for (size_t i = 0; i < n; i++) ref[i] = table[(uint8_t)x[i]];
  memcpy(got, guard, n + TESTER_GUARD_BYTES);
  int fail = 0;
  if (op == 1) { /* in place */
    memcpy(got, x, n);
    variants[v].fn(n, got, got, table);
  } else {
    variants[v].fn(n, x, got, table);
  }
  if (!tester_untouched_i8(variants[v].name, guard + n, got + n, TESTER_GUARD_BYTES, NULL, NULL) ||
      tester_check_i8(variants[v].name, ref, got, n)) {
    printf("  n=%zu in_place=%d\n", n, op);
    fail = 1;
  }
  free(x);
  free(ref);
  free(guard);
  free(got);
  return fail;
}

int main(int argc, char** argv) {
  tester_init(argc, argv, "x8-lut");
  size_t shapes = 0;
  int failures = 0;
  for (size_t v = 0; v < TESTER_ARRAY_SIZE(variants); v++) {
    if (!tester_report_variant(variants[v].name, v == 0 ? tester_always : tester_simd_available)) continue;
    for (int rep = 0; rep < 4; rep++) failures += tester_elementwise_shapes(check, v, 2, &shapes);
  }
  printf("[x8-lut] %s: %zu shapes\n", failures ? "FAILED" : "OK", shapes);
  return failures ? 1 : 0;
}
