/* f32-seq tester: every compiled variant of the sequence-model kernels against the scalar spec,
 * plus two properties of the spec itself:
 *   - a chunked prefill over T tokens equals T single-token steps (outputs and final state);
 *   - the gated conv equals the plain conv of B * X, times Cg.
 *
 *   f32-seq-tester [seed]
 *
 * Random shapes cover SIMD tails (sizes not a multiple of 8/4) and K in 1..5.  Tolerance 1e-5
 * of max(|ref|, 1) (edgert/f32-seq.h): SIMD reorders sums of at most ~300 products of O(1) values
 * here, whose float32 reassociation error stays well under that.
 */
#include "edgert/f32-seq.h"
#include "tester.h"

typedef struct {
  const char* name;
  int (*available)(void);
  edgert_f32_rmsnorm_fn rmsnorm;
  edgert_f32_swiglu_fn swiglu;
  edgert_f32_causal_conv_fn conv;
  edgert_f32_causal_conv_gated_fn conv_gated;
  edgert_f32_linear_attention_fn la;
} variant;

#define VARIANT(isa, avail)                                                                 \
  {#isa, avail, edgert_f32_rmsnorm__##isa, edgert_f32_swiglu__##isa,                       \
   edgert_f32_causal_conv__##isa, edgert_f32_causal_conv_gated__##isa,                     \
   edgert_f32_linear_attention__##isa}

static const variant variants[] = {VARIANT(scalar, tester_always), TESTER_SIMD_VARIANTS(VARIANT)};
#define NV TESTER_ARRAY_SIZE(variants)
static const float TOL = 1e-5f;

static int check_norm_swiglu(const variant* v) {
  int fails = 0;
  char what[128];
  for (int it = 0; it < 200; it++) {
    const size_t rows = tester_range(1, 4), n = tester_range(1, 300);
    float* x = tester_alloc_floats(rows * n);
    float* w = tester_alloc_floats(n);
    float* up = tester_alloc_floats(rows * n);
    float* ref = tester_alloc_floats(rows * n);
    float* got = tester_alloc_floats(rows * n);
    tester_fill(x, rows * n, -3.0f, 3.0f);
    tester_fill(w, n, -2.0f, 2.0f);
    tester_fill(up, rows * n, -2.0f, 2.0f);
    const float eps = it % 2 ? 1e-6f : 1e-5f;
    snprintf(what, sizeof what, "rmsnorm rows=%zu n=%zu", rows, n);
    edgert_f32_rmsnorm__scalar(rows, n, x, w, eps, ref);
    v->rmsnorm(rows, n, x, w, eps, got);
    fails += tester_check_case(v->name, what, ref, got, rows * n, TOL);
    /* in place */
    float* xi = tester_copy_floats(x, rows * n);
    v->rmsnorm(rows, n, xi, w, eps, xi);
    fails += tester_check_case(v->name, "rmsnorm in place", ref, xi, rows * n, TOL);
    snprintf(what, sizeof what, "swiglu n=%zu", rows * n);
    tester_fill(x, rows * n, -20.0f, 20.0f);
    edgert_f32_swiglu__scalar(rows * n, x, up, ref);
    v->swiglu(rows * n, x, up, got);
    fails += tester_check_case(v->name, what, ref, got, rows * n, TOL);
    v->swiglu(rows * n, x, up, x); /* y aliases gate */
    fails += tester_check_case(v->name, "swiglu in place", ref, x, rows * n, TOL);
    free(x); free(w); free(up); free(ref); free(got); free(xi);
  }
  return fails;
}

static int check_conv(const variant* v) {
  int fails = 0;
  char what[160];
  for (int it = 0; it < 200; it++) {
    const size_t T = tester_range(1, 12), C = tester_range(1, 70), K = tester_range(1, 5);
    const size_t ns = (K - 1) * C;
    float* in = tester_alloc_floats(T * 3 * C);
    float* x = tester_alloc_floats(T * C);
    float* w = tester_alloc_floats(K * C);
    float* bias = tester_alloc_floats(C);
    float* s0 = tester_alloc_floats(ns + 1);
    float* sr = tester_alloc_floats(ns + 1);
    float* sg = tester_alloc_floats(ns + 1);
    float* ref = tester_alloc_floats(T * C);
    float* got = tester_alloc_floats(T * C);
    tester_fill(in, T * 3 * C, -2.0f, 2.0f);
    tester_fill(x, T * C, -2.0f, 2.0f);
    tester_fill(w, K * C, -1.0f, 1.0f);
    tester_fill(bias, C, -1.0f, 1.0f);
    tester_fill(s0, ns, -2.0f, 2.0f);
    const float* b = it % 3 == 0 ? NULL : bias;
    snprintf(what, sizeof what, "conv T=%zu C=%zu K=%zu bias=%d", T, C, K, b != NULL);
    memcpy(sr, s0, ns * sizeof(float));
    memcpy(sg, s0, ns * sizeof(float));
    edgert_f32_causal_conv__scalar(T, C, K, x, w, b, sr, ref);
    v->conv(T, C, K, x, w, b, sg, got);
    fails += tester_check_case(v->name, what, ref, got, T * C, TOL);
    fails += tester_check_case(v->name, "conv state", sr, sg, ns, 0.0f);
    /* prefill == steps */
    memcpy(sg, s0, ns * sizeof(float));
    for (size_t t = 0; t < T; t++) v->conv(1, C, K, x + t * C, w, b, sg, got + t * C);
    fails += tester_check_case(v->name, "conv steps vs prefill", ref, got, T * C, TOL);
    fails += tester_check_case(v->name, "conv steps state", sr, sg, ns, 0.0f);
    /* gated == conv(B*X) * Cg, on the scalar spec and on this variant */
    for (size_t t = 0; t < T; t++)
      for (size_t c = 0; c < C; c++) x[t * C + c] = in[t * 3 * C + c] * in[t * 3 * C + 2 * C + c];
    memcpy(sr, s0, ns * sizeof(float));
    edgert_f32_causal_conv__scalar(T, C, K, x, w, b, sr, ref);
    for (size_t t = 0; t < T; t++)
      for (size_t c = 0; c < C; c++) ref[t * C + c] *= in[t * 3 * C + C + c];
    memcpy(sg, s0, ns * sizeof(float));
    v->conv_gated(T, C, K, in, w, b, sg, got);
    snprintf(what, sizeof what, "gated conv T=%zu C=%zu K=%zu", T, C, K);
    fails += tester_check_case(v->name, what, ref, got, T * C, TOL);
    fails += tester_check_case(v->name, "gated conv state", sr, sg, ns, 0.0f);
    memcpy(sg, s0, ns * sizeof(float));
    for (size_t t = 0; t < T; t++) v->conv_gated(1, C, K, in + t * 3 * C, w, b, sg, got + t * C);
    fails += tester_check_case(v->name, "gated conv steps", ref, got, T * C, TOL);
    fails += tester_check_case(v->name, "gated conv steps state", sr, sg, ns, 0.0f);
    free(in); free(x); free(w); free(bias); free(s0); free(sr); free(sg); free(ref); free(got);
  }
  return fails;
}

static int check_la(const variant* v) {
  int fails = 0;
  char what[160];
  static const char* const modes[] = {"linear", "gated", "delta", "gated_delta"};
  for (int it = 0; it < 200; it++) {
    const int mode = it % 4, per_key = (it / 4) % 2;
    const size_t T = tester_range(1, 10), dk = tester_range(1, 40), dv = tester_range(1, 40);
    const size_t group = tester_range(1, 3);
    const size_t ldq = group * dk, ldy = group * dv;
    const size_t ldd = per_key ? dk : 1;
    float* q = tester_alloc_floats(T * ldq);
    float* k = tester_alloc_floats(T * dk);
    float* val = tester_alloc_floats(T * dv);
    float* decay = tester_alloc_floats(T * ldd);
    float* beta = tester_alloc_floats(T);
    float* s0 = tester_alloc_floats(dk * dv);
    float* sr = tester_alloc_floats(dk * dv);
    float* sg = tester_alloc_floats(dk * dv);
    float* ref = tester_alloc_floats(T * ldy);
    float* got = tester_alloc_floats(T * ldy);
    tester_fill(q, T * ldq, -1.0f, 1.0f);
    /* delta rules: keep |k|^2 * beta < 2 so the recurrence stays bounded (as with L2-normed keys) */
    const float kr = mode >= 2 ? 1.0f / sqrtf((float)dk) : 1.0f;
    tester_fill(k, T * dk, -kr, kr);
    tester_fill(val, T * dv, -1.0f, 1.0f);
    tester_fill(decay, T * ldd, -1.0f, 0.0f);
    tester_fill(beta, T, 0.0f, 1.0f);
    tester_fill(s0, dk * dv, -1.0f, 1.0f);
    const float scale = 1.0f / sqrtf((float)dk);
    snprintf(what, sizeof what, "%s T=%zu dk=%zu dv=%zu group=%zu per_key=%d", modes[mode], T, dk, dv,
             group, per_key);
    memcpy(sr, s0, dk * dv * sizeof(float));
    edgert_f32_linear_attention__scalar(T, dk, dv, group, mode, scale, q, ldq, k, dk, val, dv, decay,
                                        ldd, per_key, beta, 1, sr, ref, ldy);
    memcpy(sg, s0, dk * dv * sizeof(float));
    v->la(T, dk, dv, group, mode, scale, q, ldq, k, dk, val, dv, decay, ldd, per_key, beta, 1, sg, got,
          ldy);
    fails += tester_check_case(v->name, what, ref, got, T * ldy, TOL);
    fails += tester_check_case(v->name, "linear attention state", sr, sg, dk * dv, TOL);
    memcpy(sg, s0, dk * dv * sizeof(float));
    for (size_t t = 0; t < T; t++) {
      v->la(1, dk, dv, group, mode, scale, q + t * ldq, ldq, k + t * dk, dk, val + t * dv, dv,
            decay + t * ldd, ldd, per_key, beta + t, 1, sg, got + t * ldy, ldy);
    }
    fails += tester_check_case(v->name, "linear attention steps vs prefill", ref, got, T * ldy, TOL);
    fails += tester_check_case(v->name, "linear attention steps state", sr, sg, dk * dv, TOL);
    free(q); free(k); free(val); free(decay); free(beta); free(s0); free(sr); free(sg); free(ref);
    free(got);
  }
  return fails;
}

int main(int argc, char** argv) {
  tester_init(argc, argv, "f32-seq");
  int fails = 0;
  for (size_t i = 0; i < NV; i++) {
    if (!tester_report_variant(variants[i].name, variants[i].available)) continue;
    const int f = check_norm_swiglu(&variants[i]) + check_conv(&variants[i]) + check_la(&variants[i]);
    printf("%-7s rmsnorm/swiglu/conv/gated conv/linear attention: %s (%d failures)\n",
           variants[i].name, f ? "FAIL" : "ok", f);
    fails += f;
  }
  printf("[f32-seq] %s\n", fails ? "FAILED" : "passed");
  return fails ? 1 : 0;
}
