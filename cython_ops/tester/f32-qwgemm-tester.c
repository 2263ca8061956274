/* f32-qwgemm tester: every compiled variant of the quantized-weight GEMM/GEMV against the scalar
 * spec, and the spec against a naive double-precision product with the weights dequantized
 * element by element (checks the int8 / nibble order and offset, the group scales, the bias).
 *
 *   f32-qwgemm-tester [seed]
 *
 * Tolerance 1e-5 of max(|y|, 1) (see edgert/f32-qwgemm.h): the SIMD variants only reorder fp32
 * sums of K <= 1024 products of values in [-1, 1] x [-127, 127] * scale ~ 1/127; the spec vs the
 * double-precision product allows 1e-4 (the spec's own sequential fp32 rounding over K terms).
 */
#include <stdint.h>
#include <string.h>

#include "edgert/f32-qwgemm.h"
#include "tester.h"

typedef struct {
  const char* name;
  int (*available)(void);
  edgert_f32_qs8w_gemm_fn qs8w;
  edgert_f32_q4w_gemm_fn q4w;
  edgert_f32_f32w_gemm_fn f32w;
  int fixed_order; /* qs8w promises each output's bits whatever rows / columns a call covers */
} variant;

#define VARIANT(isa, avail) {#isa, avail, edgert_f32_qs8w_gemm__##isa, edgert_f32_q4w_gemm__##isa, \
                               edgert_f32_f32w_gemm__##isa}
static const variant variants[] = {
    VARIANT(scalar, tester_always), TESTER_SIMD_VARIANTS(VARIANT)
#if EDGERT_ARCH_X86_64
    /* the 512-bit qs8w; q4w and f32w are the AVX2 ones it is dispatched with */
    {"avx512", tester_has_avx512_vnni, edgert_f32_qs8w_gemm__avx512vnni, edgert_f32_q4w_gemm__avx2,
     edgert_f32_f32w_gemm__avx2, 1},
#endif
};
#define NV TESTER_ARRAY_SIZE(variants)

/* kind: 0 qs8w, 1 q4w, 2 f32w (float weights in [-1, 1]). */
static int run_case(size_t M, size_t N, size_t K, size_t group, int kind, int with_bias) {
  const int q4 = kind == 1, f32 = kind == 2;
  int fails = 0;
  char what[160];
  snprintf(what, sizeof what, "%s M=%zu N=%zu K=%zu group=%zu bias=%d", q4 ? "q4w" : f32 ? "f32w" : "qs8w", M, N, K,
           group, with_bias);
  float* x = tester_alloc_floats(M * K);
  float* bias = tester_alloc_floats(N);
  const size_t groups = q4 ? K / group : 1;
  float* scale = tester_alloc_floats(N * groups);
  uint8_t* w = malloc(q4 ? N * K / 2 + 1 : N * K + 1);
  float* wf = tester_alloc_floats(N * K);
  float* ref = tester_alloc_floats(M * N);
  float* got = tester_alloc_floats(M * N);
  float* naive = tester_alloc_floats(M * N);
  tester_fill(x, M * K, -1.0f, 1.0f);
  tester_fill(bias, N, -1.0f, 1.0f);
  tester_fill(scale, N * groups, 0.1f / 127.0f, 2.0f / 127.0f);
  tester_fill(wf, N * K, -1.0f, 1.0f);
  if (q4) {
    for (size_t i = 0; i < N * K / 2; i++) w[i] = (uint8_t)tester_range(0, 255);
  } else {
    for (size_t i = 0; i < N * K; i++) w[i] = (uint8_t)(int8_t)((int)tester_range(0, 254) - 127);
  }
  const float* b = with_bias ? bias : NULL;
  for (size_t m = 0; m < M; m++) {
    for (size_t n = 0; n < N; n++) {
      double acc = 0.0;
      for (size_t k = 0; k < K; k++) {
        double wq;
        if (f32) {
          wq = (double)wf[n * K + k];
        } else if (q4) {
          const uint8_t byte = w[n * (K / 2) + k / 2];
          wq = (double)((int)((k & 1) ? byte >> 4 : byte & 0x0F) - 8) * scale[n * groups + k / group];
        } else {
          wq = (double)(int8_t)w[n * K + k] * scale[n];
        }
        acc += (double)x[m * K + k] * wq;
      }
      naive[m * N + n] = (float)(acc + (b ? b[n] : 0.0));
    }
  }
  if (f32) {
    edgert_f32_f32w_gemm__scalar(M, N, K, x, wf, b, ref);
  } else if (q4) {
    edgert_f32_q4w_gemm__scalar(M, N, K, group, x, w, scale, b, ref);
  } else {
    edgert_f32_qs8w_gemm__scalar(M, N, K, x, (const int8_t*)w, scale, b, ref);
  }
  fails += tester_check_case("scalar vs naive", what, naive, ref, M * N, 1e-4f);
  for (size_t v = 1; v < NV; v++) {
    if (!variants[v].available()) continue;
    tester_set_sentinel(got, M * N);
    if (f32) {
      variants[v].f32w(M, N, K, x, wf, b, got);
    } else if (q4) {
      variants[v].q4w(M, N, K, group, x, w, scale, b, got);
    } else {
      variants[v].qs8w(M, N, K, x, (const int8_t*)w, scale, b, got);
    }
    fails += tester_check_case(variants[v].name, what, ref, got, M * N, 1e-5f);
    if (kind == 0 && variants[v].fixed_order) {
      /* promised split-independence: each x row alone, and its outputs in two column ranges,
       * give the same bits as the whole call */
      float* part = tester_alloc_floats(N);
      const size_t n0 = tester_range(0, N);
      for (size_t m = 0; m < M; m++) {
        if (n0) variants[v].qs8w(1, n0, K, x + m * K, (const int8_t*)w, scale, b, part);
        if (n0 < N)
          variants[v].qs8w(1, N - n0, K, x + m * K, (const int8_t*)w + n0 * K, scale + n0, b ? b + n0 : NULL,
                           part + n0);
        if (memcmp(part, got + m * N, N * sizeof(float)) != 0) {
          printf("  %s %s: row %zu split at %zu differs from the whole call\n", variants[v].name, what, m, n0);
          fails++;
        }
      }
      free(part);
    }
  }
  free(x); free(bias); free(scale); free(w); free(ref); free(got); free(naive); free(wf);
  return fails;
}

int main(int argc, char** argv) {
  tester_init(argc, argv, "f32-qwgemm");
  for (size_t v = 0; v < NV; v++) tester_report_variant(variants[v].name, variants[v].available);
  int fails = 0, cases = 0;
  static const size_t groups[] = {2, 8, 16, 32, 64};
  for (int it = 0; it < 450; it++) {
    const size_t M = it % 3 == 0 ? 1 : tester_range(1, 5), N = tester_range(1, 40);
    const int kind = it % 3 == 1 ? 1 : (it / 3) % 2 ? 2 : 0;  /* qs8w, q4w, f32w mixed over M */
    const int q4 = kind == 1;
    const size_t group = groups[tester_range(0, 4)];
    const size_t K = q4 ? group * tester_range(1, 1024 / group > 16 ? 16 : 1024 / group)
                        : tester_range(1, 1024);
    fails += run_case(M, N, K, group, kind, it % 4 != 1);
    cases++;
  }
  printf("[f32-qwgemm] %d cases, %d failures: %s\n", cases, fails, fails ? "FAIL" : "PASS");
  return fails ? 1 : 0;
}
