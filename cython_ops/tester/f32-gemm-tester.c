/* f32-gemm tester: pack + reference against a direct triple loop, then every variant compiled
 * for this architecture against the reference on random shapes (tile edges, odd sizes, padded
 * strides, sub-range calls, clamping on/off) with exact-size inputs and guarded outputs.
 *   f32-gemm-tester [seed]       correctness
 *   f32-gemm-tester --bench      single-thread GFLOP/s per variant on MobileNetV2 pointwise shapes
 */
#include "tester.h"

#include "edgert/f32-gemm.h"

typedef struct {
  const char* name;
  edgert_f32_gemm_fn fn;
  size_t mr, nr;
  int (*available)(void);
} variant;

static const variant variants[] = {
    {"4x8__scalar", edgert_f32_gemm_4x8__scalar, EDGERT_F32_GEMM_4X8__SCALAR_MR,
     EDGERT_F32_GEMM_4X8__SCALAR_NR, tester_always},
#if EDGERT_ARCH_X86_64
    {"6x16__avx2", edgert_f32_gemm_6x16__avx2, EDGERT_F32_GEMM_6X16__AVX2_MR,
     EDGERT_F32_GEMM_6X16__AVX2_NR, tester_simd_available},
    {"8x32__avx512vnni", edgert_f32_gemm_8x32__avx512vnni, EDGERT_F32_GEMM_8X32__AVX512_MR,
     EDGERT_F32_GEMM_8X32__AVX512_NR, tester_has_avx512_vnni},
#endif
#if EDGERT_ARCH_ARM64
    {"8x8__neon", edgert_f32_gemm_8x8__neon, EDGERT_F32_GEMM_8X8__NEON_MR,
     EDGERT_F32_GEMM_8X8__NEON_NR, tester_simd_available},
#endif
};
#define NUM_VARIANTS TESTER_ARRAY_SIZE(variants)

typedef struct {
  size_t M, N, K, lda, ldc;
  int transposed_b, has_bias, clamp, split;
} gemm_case;

static void describe(const gemm_case* t, const char* who) {
  printf("  %s: M=%zu N=%zu K=%zu lda=%zu ldc=%zu B%s bias=%d clamp=%d split=%d\n", who, t->M, t->N,
         t->K, t->lda, t->ldc, t->transposed_b ? "[N][K]" : "[K][N]", t->has_bias, t->clamp,
         t->split);
}

/* Copies the M x N live part of a strided C into a compact array for tester_check_f32 and
 * reports any sentinel overwritten in the row gaps or the guard after the last row (the
 * sentinels are written around and after C: any change means a kernel wrote outside its
 * rows/columns). */
static int gather_and_check_guards(const float* C, size_t M, size_t N, size_t ldc, size_t c_floats,
                                   float* compact) {
  for (size_t m = 0; m < M; m++) memcpy(compact + m * N, C + m * ldc, N * sizeof(float));
  for (size_t i = 0; i < c_floats + TESTER_GUARD_FLOATS; i++) {
    const int live = i < c_floats && i % ldc < N;
    if (!live && !tester_is_sentinel(&C[i])) {
      printf("FAIL: write outside C at float %zu (row %zu col %zu)\n", i, i / ldc, i % ldc);
      return 1;
    }
  }
  return 0;
}

/* Runs the variant on the whole problem or as four sub-range calls split at a row and a panel
 * boundary, the way the thread pool calls it. */
static void call_variant(const variant* v, const gemm_case* t, const float* A, const float* packed,
                         float* C, const edgert_f32_minmax_params* params) {
  if (!t->split) {
    v->fn(t->M, t->N, t->K, A, t->lda, packed, C, t->ldc, params);
    return;
  }
  const size_t panels = edgert_divide_round_up(t->N, v->nr);
  const size_t panel_floats = v->nr * (t->K + 1);
  const size_t m_split = tester_range(0, t->M);
  const size_t n_split = edgert_min_sz(tester_range(0, panels) * v->nr, t->N);
  const size_t rows[3] = {0, m_split, t->M};
  const size_t cols[3] = {0, n_split, t->N};
  for (int i = 0; i < 2; i++) {
    for (int j = 0; j < 2; j++) {
      const size_t m = rows[i + 1] - rows[i], n = cols[j + 1] - cols[j];
      if (m == 0 || n == 0) continue;
      v->fn(m, n, t->K, A + rows[i] * t->lda, t->lda, packed + cols[j] / v->nr * panel_floats,
            C + rows[i] * t->ldc + cols[j], t->ldc, params);
    }
  }
}

static int run_case(const variant* v, const gemm_case* t) {
  const size_t M = t->M, N = t->N, K = t->K;
  /* Exact sizes: ASan flags any read past the last row of A or the packed panels. */
  const size_t a_floats = (M - 1) * t->lda + K, c_floats = (M - 1) * t->ldc + N;
  float* A = tester_alloc_floats(a_floats);
  float* B = tester_alloc_floats(K * N);
  float* bias = tester_alloc_floats(N);
  tester_fill(A, a_floats, -1.0f, 1.0f);
  tester_fill(B, K * N, -1.0f, 1.0f);
  tester_fill(bias, N, -1.0f, 1.0f);
  const size_t packed_floats = edgert_f32_gemm_packed_floats(K, N, v->nr);
  float* packed = tester_alloc_floats(packed_floats);
  edgert_f32_gemm_pack(K, N, v->nr, B, t->transposed_b ? 1 : N, t->transposed_b ? K : 1,
                       t->has_bias ? bias : NULL, packed);

  edgert_f32_minmax_params params = {-INFINITY, INFINITY};
  if (t->clamp) {
    /* Outputs spread about sqrt(K)/3: clamp a good share of them at both ends. */
    const float spread = sqrtf((float)K) / 3.0f;
    params.min = -tester_uniform(0.0f, 1.0f) * spread;
    params.max = tester_uniform(0.0f, 1.0f) * spread;
  }

  float* direct = tester_alloc_floats(M * N);
  float* ref = tester_alloc_floats(M * N);
  float* got = tester_alloc_floats(M * N);
  float* C = tester_alloc_floats(c_floats + TESTER_GUARD_FLOATS);
  int fail = 0;

  /* The spec, straight from the unpacked B: checks pack + reference together. */
  double max_unclamped = 1.0, max_clamped = 1.0;
  for (size_t m = 0; m < M; m++) {
    for (size_t n = 0; n < N; n++) {
      double acc = t->has_bias ? bias[n] : 0.0;
      for (size_t k = 0; k < K; k++) {
        acc += (double)A[m * t->lda + k] * (t->transposed_b ? B[n * K + k] : B[k * N + n]);
      }
      max_unclamped = fmax(max_unclamped, fabs(acc));
      acc = acc < params.min ? params.min : acc;
      acc = acc > params.max ? params.max : acc;
      max_clamped = fmax(max_clamped, fabs(acc));
      direct[m * N + n] = (float)acc;
    }
  }
  /* Rounding happens at the scale of the sums before the clamp: 1e-5 of that scale (the
   * checker multiplies tol by the largest clamped output). */
  const float tol = (float)(1e-5 * max_unclamped / max_clamped);
  tester_set_sentinel(C, c_floats + TESTER_GUARD_FLOATS);
  edgert_f32_gemm_ref(v->nr, M, N, K, A, t->lda, packed, C, t->ldc, &params);
  if (gather_and_check_guards(C, M, N, t->ldc, c_floats, ref) ||
      tester_check_f32("ref vs direct", direct, ref, M * N, tol)) {
    describe(t, "edgert_f32_gemm_ref");
    fail = 1;
  }

  tester_set_sentinel(C, c_floats + TESTER_GUARD_FLOATS);
  call_variant(v, t, A, packed, C, &params);
  if (!fail && (gather_and_check_guards(C, M, N, t->ldc, c_floats, got) ||
                tester_check_f32(v->name, ref, got, M * N, tol))) {
    describe(t, v->name);
    fail = 1;
  }

  free(A);
  free(B);
  free(bias);
  free(packed);
  free(direct);
  free(ref);
  free(got);
  free(C);
  return fail;
}

static gemm_case random_case(size_t M, size_t N, size_t K) {
  gemm_case t;
  t.M = M;
  t.N = N;
  t.K = K;
  t.lda = K + (tester_range(0, 2) == 0 ? tester_range(1, 9) : 0);
  t.ldc = N + (tester_range(0, 2) == 0 ? tester_range(1, 9) : 0);
  t.transposed_b = (int)tester_range(0, 1);
  t.has_bias = tester_range(0, 3) != 0;
  t.clamp = (int)tester_range(0, 1);
  t.split = (int)tester_range(0, 1);
  return t;
}

static int test_variant(const variant* v) {
  const size_t mr = v->mr, nr = v->nr;
  /* Tile edges: 1, below, equal, above and multiples of MR / NR, half a panel, odd sizes. */
  const size_t ms[] = {1, 2, mr - 1, mr, mr + 1, 2 * mr, 2 * mr + 1, 3 * mr - 1, 7 * mr + 3, 49};
  const size_t ns[] = {1,      3,  nr / 2,          nr / 2 + 1, nr - 1,
                       nr,     nr + 1, nr + nr / 2, 2 * nr,     3 * nr + 5};
  const size_t ks[] = {1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 64, 129};
  int fails = 0, cases = 0;
  for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
    for (size_t j = 0; j < sizeof(ns) / sizeof(ns[0]); j++) {
      for (int rep = 0; rep < 3; rep++) {
        const size_t K = rep == 0 ? ks[tester_range(0, sizeof(ks) / sizeof(ks[0]) - 1)]
                                  : tester_range(1, 80);
        gemm_case t = random_case(ms[i], ns[j], K);
        fails += run_case(v, &t);
        cases++;
      }
    }
  }
  for (int rep = 0; rep < 150; rep++) {
    gemm_case t = random_case(tester_range(1, 40), tester_range(1, 5 * nr), tester_range(1, 200));
    fails += run_case(v, &t);
    cases++;
  }
  /* Large K and several L2 blocks of panels. */
  const size_t big[][3] = {{13, 1000, 1280}, {1, 333, 1280}, {49, 320, 960}, {20, 200, 2000}};
  for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
    gemm_case t = random_case(big[i][0], big[i][1], big[i][2]);
    fails += run_case(v, &t);
    cases++;
  }
  printf("  %-14s %d cases, %d failed\n", v->name, cases, fails);
  return fails;
}

#if EDGERT_ARCH_X86_64
#include <immintrin.h>

/* This core's AVX2 FMA peak right now (clock and machine load vary): 12 independent FMA chains
 * keep both FMA ports busy, 2 x 8 lanes x 2 flops per cycle. */
__attribute__((target("avx2,fma"))) static double avx2_peak_gflops(void) {
  const __m256 b = _mm256_set1_ps(0.999f), c = _mm256_set1_ps(1e-3f);
  /* Distinct starting values, or the compiler merges identical chains. */
  __m256 a0 = _mm256_set1_ps(0.0f), a1 = _mm256_set1_ps(1.0f), a2 = _mm256_set1_ps(2.0f),
         a3 = _mm256_set1_ps(3.0f), a4 = _mm256_set1_ps(4.0f), a5 = _mm256_set1_ps(5.0f),
         a6 = _mm256_set1_ps(6.0f), a7 = _mm256_set1_ps(7.0f), a8 = _mm256_set1_ps(8.0f),
         a9 = _mm256_set1_ps(9.0f), a10 = _mm256_set1_ps(10.0f), a11 = _mm256_set1_ps(11.0f);
  const size_t iterations = 200000;
  const double t0 = tester_now();
  for (size_t i = 0; i < iterations; i++) {
    a0 = _mm256_fmadd_ps(a0, b, c); a1 = _mm256_fmadd_ps(a1, b, c);
    a2 = _mm256_fmadd_ps(a2, b, c); a3 = _mm256_fmadd_ps(a3, b, c);
    a4 = _mm256_fmadd_ps(a4, b, c); a5 = _mm256_fmadd_ps(a5, b, c);
    a6 = _mm256_fmadd_ps(a6, b, c); a7 = _mm256_fmadd_ps(a7, b, c);
    a8 = _mm256_fmadd_ps(a8, b, c); a9 = _mm256_fmadd_ps(a9, b, c);
    a10 = _mm256_fmadd_ps(a10, b, c); a11 = _mm256_fmadd_ps(a11, b, c);
  }
  const double dt = tester_now() - t0;
  const __m256 sum = _mm256_add_ps(
      _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                    _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7))),
      _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
  volatile float sink = _mm256_cvtss_f32(sum); /* keeps the chains alive */
  (void)sink;
  return 12.0 * 16.0 * (double)iterations / dt * 1e-9;
}
#endif

/* Best of many ~2 ms batches, single thread: on a shared machine some batch runs unpreempted. */
static double bench_gflops(const variant* v, size_t M, size_t N, size_t K) {
  /* 64-byte aligned: a 16-float panel row is then exactly one cache line (misaligned packed B
   * costs the AVX2 kernel up to a third). */
  float* A = tester_alloc_aligned_floats(M * K);
  float* B = tester_alloc_floats(K * N);
  float* C = tester_alloc_aligned_floats(M * N);
  float* packed = tester_alloc_aligned_floats(edgert_f32_gemm_packed_floats(K, N, v->nr));
  tester_fill(A, M * K, -1.0f, 1.0f);
  tester_fill(B, K * N, -1.0f, 1.0f);
  edgert_f32_gemm_pack(K, N, v->nr, B, 1, K, NULL, packed);
  const edgert_f32_minmax_params params = {0.0f, 6.0f};

  double t0 = tester_now();
  v->fn(M, N, K, A, K, packed, C, N, &params);
  const double once = tester_now() - t0 + 1e-7;
  const size_t reps = (size_t)(0.002 / once) + 1;
  const int batches = (int)fmax(5.0, fmin(30.0, 0.1 / (once * (double)reps)));
  double best = 1e30;
  for (int batch = 0; batch < batches; batch++) {
    t0 = tester_now();
    for (size_t r = 0; r < reps; r++) v->fn(M, N, K, A, K, packed, C, N, &params);
    const double dt = (tester_now() - t0) / (double)reps;
    if (dt < best) best = dt;
  }
  free(A);
  free(B);
  free(C);
  free(packed);
  return 2.0 * (double)M * (double)N * (double)K / best * 1e-9;
}

static void bench(void) {
  /* MobileNetV2 pointwise convolutions at 224x224 (M = pixels, K = in, N = out channels). */
  static const size_t shapes[][3] = {
      {12544, 32, 16}, {12544, 16, 96}, {3136, 24, 144}, {3136, 144, 24}, {784, 32, 192},
      {784, 192, 32},  {196, 64, 384},  {196, 384, 64},  {196, 576, 96},  {49, 160, 960},
      {49, 960, 320},  {49, 320, 1280}, {1, 1280, 1000}};
#if EDGERT_ARCH_X86_64
  double peak = 0.0;
  if (edgert_cpu()->avx2_fma) {
    for (int i = 0; i < 50; i++) peak = fmax(peak, avx2_peak_gflops());
    printf("AVX2 FMA peak measured on this core: %.1f GFLOP/s\n", peak);
  }
#endif
  printf("%-16s", "M,K,N");
  for (size_t i = 0; i < NUM_VARIANTS; i++) {
    if (variants[i].available()) printf(" %14s", variants[i].name);
  }
  printf("   (GFLOP/s, 1 thread)\n");
  for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
    char label[64];
    snprintf(label, sizeof(label), "%zu,%zu,%zu", shapes[s][0], shapes[s][1], shapes[s][2]);
    printf("%-16s", label);
    double last = 0.0;
    for (size_t i = 0; i < NUM_VARIANTS; i++) {
      if (!variants[i].available()) continue;
      last = bench_gflops(&variants[i], shapes[s][0], shapes[s][2], shapes[s][1]);
      printf(" %14.1f", last);
      fflush(stdout);
    }
#if EDGERT_ARCH_X86_64
    if (peak > 0.0) printf("   %3.0f%% of peak", 100.0 * last / peak);
#endif
    printf("\n");
  }
}

int main(int argc, char** argv) {
  if (tester_init_bench(argc, argv, "f32-gemm")) {
    bench();
    return 0;
  }
  int fails = 0;
  for (size_t i = 0; i < NUM_VARIANTS; i++) {
    if (variants[i].available()) fails += test_variant(&variants[i]);
    else printf("  %-14s skipped (CPU lacks it)\n", variants[i].name);
  }
  printf("[f32-gemm] %s\n", fails ? "FAILED" : "all passed");
  return fails ? 1 : 0;
}
