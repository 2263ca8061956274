/* qs8-gemm tester: pack + reference against a direct formula on the unpacked weights, then every
 * variant compiled for this architecture against it, bit for bit, on random shapes (tile edges,
 * odd sizes, strided rows, sub-range calls, extreme zero points and scales, clamps) with
 * exact-size inputs and guarded outputs. Also the int8 im2col (padding with the zero point).
 *   qs8-gemm-tester [seed]       correctness
 *   qs8-gemm-tester --bench      single-thread GMAC/s per variant on MobileNetV2 pointwise shapes
 */
#include "tester.h"

#include "edgert/qs8-conv.h"
#include "edgert/qs8-gemm.h"

typedef struct {
  const char* name;
  edgert_qs8_gemm_fn fn;
  size_t mr;
  edgert_qs8_gemm_layout layout;
  int (*available)(void);
} variant;

#if EDGERT_ARCH_ARM64
static int has_dot(void) { return edgert_cpu()->neon_dot; }
#endif
#if EDGERT_ARCH_X86_64
#endif

static const variant variants[] = {
    {"4x4__scalar", edgert_qs8_gemm_4x4__scalar, EDGERT_QS8_GEMM_4X4__SCALAR_MR,
     EDGERT_QS8_GEMM_4X4__SCALAR_LAYOUT, tester_always},
#if EDGERT_ARCH_X86_64
    {"6x16c2__avx2", edgert_qs8_gemm_6x16c2__avx2, EDGERT_QS8_GEMM_6X16C2__AVX2_MR,
     EDGERT_QS8_GEMM_6X16C2__AVX2_LAYOUT, tester_simd_available},
    {"8x32c4__avx512vnni", edgert_qs8_gemm_8x32c4__avx512vnni, EDGERT_QS8_GEMM_8X32C4__AVX512VNNI_MR,
     EDGERT_QS8_GEMM_8X32C4__AVX512VNNI_LAYOUT, tester_has_avx512_vnni},
#endif
#if EDGERT_ARCH_ARM64
    {"2x8c8__neon", edgert_qs8_gemm_2x8c8__neon, EDGERT_QS8_GEMM_2X8C8__NEON_MR,
     EDGERT_QS8_GEMM_2X8C8__NEON_LAYOUT, tester_simd_available},
    {"4x16c4__neondot", edgert_qs8_gemm_4x16c4__neondot, EDGERT_QS8_GEMM_4X16C4__NEONDOT_MR,
     EDGERT_QS8_GEMM_4X16C4__NEONDOT_LAYOUT, has_dot},
#endif
};
#define NUM_VARIANTS TESTER_ARRAY_SIZE(variants)

typedef struct {
  size_t M, N, K, lda, ldc;
  int transposed_w, has_bias, split;
  int32_t zp_in;
  float scale_lo, scale_hi;
  edgert_qs8_output_params out;
} gemm_case;

static void describe(const gemm_case* t, const char* who) {
  printf("  %s: M=%zu N=%zu K=%zu lda=%zu ldc=%zu W%s bias=%d split=%d zp_in=%d scales=[%g,%g] "
         TESTER_OUTPUT_FMT "\n",
         who, t->M, t->N, t->K, t->lda, t->ldc, t->transposed_w ? "[N][K]" : "[K][N]",
         t->has_bias, t->split, t->zp_in, t->scale_lo, t->scale_hi, TESTER_OUTPUT_ARGS(t->out));
}

typedef struct {
  size_t N, ldc;
} c_shape;

static int c_live(size_t i, const void* ctx) {
  const c_shape* c = (const c_shape*)ctx;
  return i % c->ldc < c->N;
}

/* Live M x N part of a strided C, compacted. */
static void gather(const int8_t* C, size_t M, size_t N, size_t ldc, int8_t* compact) {
  for (size_t m = 0; m < M; m++) memcpy(compact + m * N, C + m * ldc, N);
}

/* Runs the variant on the whole problem or as four sub-range calls split at a row and a panel
 * boundary, the way the thread pool calls it. */
static void call_variant(const variant* v, const gemm_case* t, const int8_t* A, const void* packed,
                         const float* scales, int8_t* C) {
  if (!t->split) {
    v->fn(t->M, t->N, t->K, A, t->lda, packed, scales, C, t->ldc, &t->out);
    return;
  }
  const size_t nr = v->layout.nr;
  const size_t panels = edgert_divide_round_up(t->N, nr);
  const size_t panel_bytes = edgert_qs8_gemm_panel_bytes(t->K, &v->layout);
  const size_t m_split = tester_range(0, t->M);
  const size_t n_split = edgert_min_sz(tester_range(0, panels) * nr, t->N);
  const size_t rows[3] = {0, m_split, t->M};
  const size_t cols[3] = {0, n_split, t->N};
  for (int i = 0; i < 2; i++) {
    for (int j = 0; j < 2; j++) {
      const size_t m = rows[i + 1] - rows[i], n = cols[j + 1] - cols[j];
      if (m == 0 || n == 0) continue;
      v->fn(m, n, t->K, A + rows[i] * t->lda, t->lda,
            (const uint8_t*)packed + cols[j] / nr * panel_bytes, scales + cols[j],
            C + rows[i] * t->ldc + cols[j], t->ldc, &t->out);
    }
  }
}

static int run_case(const variant* v, const gemm_case* t) {
  const size_t M = t->M, N = t->N, K = t->K;
  /* Exact sizes: ASan flags any read past the last row of A or the packed panels. */
  const size_t a_bytes = (M - 1) * t->lda + K, c_bytes = (M - 1) * t->ldc + N;
  int8_t* A = tester_alloc_i8(a_bytes);
  int8_t* W = tester_alloc_i8(K * N);
  int32_t* bias = malloc(N * sizeof(int32_t));
  float* scales = tester_alloc_floats(N);
  tester_fill_i8(A, a_bytes, -128, 127);
  tester_fill_i8(W, K * N, -128, 127);
  /* Sometimes all-extreme operands: the largest sums int32 must hold exactly. */
  if (tester_range(0, 9) == 0) {
    memset(A, tester_range(0, 1) ? 0x80 : 0x7f, a_bytes);
    memset(W, tester_range(0, 1) ? 0x80 : 0x7f, K * N);
  }
  for (size_t n = 0; n < N; n++) {
    bias[n] = (int32_t)tester_range(0, 200000) - 100000;
    scales[n] = tester_log_uniform(t->scale_lo, t->scale_hi);
  }
  uint8_t* packed = malloc(edgert_qs8_gemm_packed_bytes(K, N, &v->layout));
  const size_t wk = t->transposed_w ? 1 : N, wn = t->transposed_w ? K : 1;
  edgert_qs8_gemm_pack(K, N, &v->layout, W, wk, wn, t->has_bias ? bias : NULL, t->zp_in, packed);

  /* The spec straight from the unpacked weights (int64 sums, centred input). */
  int8_t* direct = tester_alloc_i8(M * N);
  for (size_t m = 0; m < M; m++) {
    for (size_t n = 0; n < N; n++) {
      int64_t acc = t->has_bias ? bias[n] : 0;
      for (size_t k = 0; k < K; k++)
        acc += (int64_t)(A[m * t->lda + k] - t->zp_in) * W[k * wk + n * wn];
      direct[m * N + n] = edgert_qs8_requantize((int32_t)acc, scales[n], &t->out);
    }
  }

  int8_t* guard = tester_alloc_i8(c_bytes + TESTER_GUARD_BYTES);
  int8_t* C = tester_alloc_i8(c_bytes + TESTER_GUARD_BYTES);
  int8_t* got = tester_alloc_i8(M * N);
  tester_fill_i8(guard, c_bytes + TESTER_GUARD_BYTES, -128, 127);
  const c_shape cs = {N, t->ldc};
  int fail = 0;

  memcpy(C, guard, c_bytes + TESTER_GUARD_BYTES);
  edgert_qs8_gemm_ref(&v->layout, M, N, K, A, t->lda, packed, scales, C, t->ldc, &t->out);
  gather(C, M, N, t->ldc, got);
  if (!tester_untouched_i8("ref", guard, C, c_bytes, c_live, &cs) ||
      !tester_untouched_i8("ref guard", guard + c_bytes, C + c_bytes, TESTER_GUARD_BYTES, NULL, NULL) ||
      tester_check_i8("ref vs direct", direct, got, M * N)) {
    describe(t, "edgert_qs8_gemm_ref");
    fail = 1;
  }

  memcpy(C, guard, c_bytes + TESTER_GUARD_BYTES);
  call_variant(v, t, A, packed, scales, C);
  gather(C, M, N, t->ldc, got);
  if (!fail && (!tester_untouched_i8(v->name, guard, C, c_bytes, c_live, &cs) ||
                !tester_untouched_i8(v->name, guard + c_bytes, C + c_bytes, TESTER_GUARD_BYTES,
                                     NULL, NULL) ||
                tester_check_i8(v->name, direct, got, M * N))) {
    describe(t, v->name);
    fail = 1;
  }

  free(A);
  free(W);
  free(bias);
  free(scales);
  free(packed);
  free(direct);
  free(guard);
  free(C);
  free(got);
  return fail;
}

static gemm_case random_case(size_t M, size_t N, size_t K) {
  gemm_case t;
  t.M = M;
  t.N = N;
  t.K = K;
  t.lda = K + (tester_range(0, 2) == 0 ? tester_range(1, 9) : 0);
  t.ldc = N + (tester_range(0, 2) == 0 ? tester_range(1, 9) : 0);
  t.transposed_w = (int)tester_range(0, 1);
  t.has_bias = tester_range(0, 3) != 0;
  t.split = (int)tester_range(0, 1);
  t.zp_in = tester_random_zero_point();
  tester_random_scale_range(K, &t.scale_lo, &t.scale_hi);
  t.out = tester_random_output_params();
  return t;
}

static int test_variant(const variant* v) {
  const size_t mr = v->mr, nr = v->layout.nr, kr = v->layout.kr;
  /* Tile edges: 1, below, equal, above and multiples of MR / NR / KR, odd sizes. */
  const size_t ms[] = {1, 2, mr - 1, mr, mr + 1, 2 * mr, 2 * mr + 1, 3 * mr - 1, 7 * mr + 3, 49};
  const size_t ns[] = {1,  3,      nr / 2,      nr / 2 + 1, nr - 1,
                       nr, nr + 1, nr + nr / 2, 2 * nr,     3 * nr + 5};
  const size_t ks[] = {1, 2, 3, kr - 1 ? kr - 1 : 1, kr, kr + 1, 7, 8, 9, 16, 17, 31, 64, 129};
  int fails = 0, cases = 0;
  for (size_t i = 0; i < TESTER_ARRAY_SIZE(ms); i++) {
    for (size_t j = 0; j < TESTER_ARRAY_SIZE(ns); j++) {
      for (int rep = 0; rep < 3; rep++) {
        const size_t K = rep == 0 ? ks[tester_range(0, TESTER_ARRAY_SIZE(ks) - 1)] : tester_range(1, 80);
        gemm_case t = random_case(ms[i] ? ms[i] : 1, ns[j] ? ns[j] : 1, K);
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
  /* Large K (chunked A conversion in some variants) and several L2 blocks of panels. */
  const size_t big[][3] = {{13, 1000, 1280}, {1, 333, 1280}, {49, 320, 960}, {7, 40, 5000},
                           {20, 200, 2000},  {3, 17, 4099}};
  for (size_t i = 0; i < TESTER_ARRAY_SIZE(big); i++) {
    gemm_case t = random_case(big[i][0], big[i][1], big[i][2]);
    fails += run_case(v, &t);
    cases++;
  }
  printf("  %-16s %d cases, %d failed\n", v->name, cases, fails);
  return fails;
}

/* im2col against a direct gather: every padded tap must read the zero point. */
static int test_im2col(void) {
  int fails = 0;
  for (int rep = 0; rep < 300 && !fails; rep++) {
    const size_t C = tester_random_channels(), groups = tester_range(1, 3);
    const size_t H = tester_range(1, 9), W = tester_range(1, 9);
    const size_t KH = tester_range(1, 4), KW = tester_range(1, 4), SH = tester_range(1, 3),
                 SW = tester_range(1, 3), DH = tester_range(1, 2), DW = tester_range(1, 2);
    size_t pt, pl, pb, pr;
    tester_random_pads(KH, KW, &pt, &pl, &pb, &pr);
    const size_t OH = tester_out_size(H, pt + pb, KH, SH, DH), OW = tester_out_size(W, pl + pr, KW, SW, DW);
    if (OH == 0 || OW == 0) continue;
    const size_t stride = C * groups, row = KH * KW * C, pixels = OH * OW;
    const int8_t zp = (int8_t)tester_random_zero_point();
    int8_t* input = tester_alloc_i8(H * W * stride);
    int8_t* cols = tester_alloc_i8(pixels * row);
    int8_t* want = tester_alloc_i8(pixels * row);
    tester_fill_i8(input, H * W * stride, -128, 127);
    const size_t g = tester_range(0, groups - 1);
    size_t p0, p1;
    tester_random_rows(pixels, &p0, &p1);
    for (size_t p = p0; p < p1; p++)
      for (size_t ky = 0; ky < KH; ky++)
        for (size_t kx = 0; kx < KW; kx++)
          for (size_t c = 0; c < C; c++) {
            const long iy = tester_tap(p / OW, SH, ky, DH, pt, H);
            const long ix = tester_tap(p % OW, SW, kx, DW, pl, W);
            want[(p - p0) * row + (ky * KW + kx) * C + c] =
                iy < 0 || ix < 0 ? zp : input[((size_t)iy * W + (size_t)ix) * stride + g * C + c];
          }
    edgert_qs8_im2col_nhwc(input + g * C, H, W, C, stride, KH, KW, SH, SW, DH, DW, pt, pl, OW, p0,
                           p1, zp, cols);
    if (tester_check_i8("im2col", want, cols, (p1 - p0) * row)) {
      printf("  C=%zu groups=%zu H=%zu W=%zu K=%zux%zu S=%zux%zu D=%zux%zu pads=%zu,%zu,%zu,%zu\n",
             C, groups, H, W, KH, KW, SH, SW, DH, DW, pt, pl, pb, pr);
      fails++;
    }
    free(input);
    free(cols);
    free(want);
  }
  printf("  %-16s %s\n", "im2col", fails ? "FAILED" : "passed");
  return fails;
}

/* Best of many ~2 ms batches, single thread: on a shared machine some batch runs unpreempted. */
static double bench_gmacs(const variant* v, size_t M, size_t N, size_t K) {
  /* 64-byte aligned, as the runtime's arena and packed weights. */
  int8_t* A = tester_alloc_aligned_bytes(M * K);
  int8_t* W = tester_alloc_i8(K * N);
  int8_t* C = tester_alloc_aligned_bytes(M * N);
  float* scales = tester_alloc_floats(N);
  void* packed = tester_alloc_aligned_bytes(edgert_qs8_gemm_packed_bytes(K, N, &v->layout));
  tester_fill_i8(A, M * K, -128, 127);
  tester_fill_i8(W, K * N, -128, 127);
  for (size_t n = 0; n < N; n++) scales[n] = 1e-4f;
  edgert_qs8_gemm_pack(K, N, &v->layout, W, 1, K, NULL, 3, packed);
  const edgert_qs8_output_params params = {-5, -5, 127}; /* fused ReLU */

  double t0 = tester_now();
  v->fn(M, N, K, A, K, packed, scales, C, N, &params);
  const double once = tester_now() - t0 + 1e-7;
  const size_t reps = (size_t)(0.002 / once) + 1;
  const int batches = (int)fmax(5.0, fmin(30.0, 0.1 / (once * (double)reps)));
  double best = 1e30;
  for (int batch = 0; batch < batches; batch++) {
    t0 = tester_now();
    for (size_t r = 0; r < reps; r++) v->fn(M, N, K, A, K, packed, scales, C, N, &params);
    const double dt = (tester_now() - t0) / (double)reps;
    if (dt < best) best = dt;
  }
  free(A);
  free(W);
  free(C);
  free(scales);
  free(packed);
  return (double)M * (double)N * (double)K / best * 1e-9;
}

static void bench(void) {
  /* MobileNetV2 pointwise convolutions at 224x224 (M = pixels, K = in, N = out channels), then
   * FemtoDet's 8-channel ones at 256x256. */
  static const size_t shapes[][3] = {
      {12544, 32, 16}, {12544, 16, 96}, {3136, 96, 24}, {3136, 24, 144}, {3136, 144, 24},
      {784, 144, 32},  {784, 32, 192},  {784, 192, 32}, {196, 192, 64},  {196, 64, 384},
      {196, 384, 64},  {196, 384, 96},  {196, 96, 576}, {196, 576, 96},  {49, 576, 160},
      {49, 160, 960},  {49, 960, 160},  {49, 960, 320}, {49, 320, 1280}, {1, 1280, 1000},
      {16384, 8, 8},   {16384, 8, 32}};
  double peak = 0.0;
#if EDGERT_ARCH_X86_64
  peak = tester_x86_int8_peak();
#endif
  printf("%-16s", "M,K,N");
  for (size_t i = 0; i < NUM_VARIANTS; i++)
    if (variants[i].available()) printf(" %16s", variants[i].name);
  printf("   (GMAC/s, 1 thread)\n");
  double total_macs = 0.0, total_time[NUM_VARIANTS];
  memset(total_time, 0, sizeof(total_time));
  for (size_t s = 0; s < TESTER_ARRAY_SIZE(shapes); s++) {
    char label[64];
    snprintf(label, sizeof(label), "%zu,%zu,%zu", shapes[s][0], shapes[s][1], shapes[s][2]);
    printf("%-16s", label);
    const double macs = (double)shapes[s][0] * (double)shapes[s][1] * (double)shapes[s][2];
    total_macs += macs;
    double last = 0.0;
    for (size_t i = 0; i < NUM_VARIANTS; i++) {
      if (!variants[i].available()) continue;
      last = bench_gmacs(&variants[i], shapes[s][0], shapes[s][2], shapes[s][1]);
      total_time[i] += macs / (last * 1e9);
      printf(" %16.1f", last);
      fflush(stdout);
    }
    if (peak > 0.0) printf("   %3.0f%% of peak", 100.0 * last / peak);
    printf("\n");
  }
  printf("%-16s", "all shapes");
  for (size_t i = 0; i < NUM_VARIANTS; i++)
    if (variants[i].available()) printf(" %16.1f", total_macs / total_time[i] * 1e-9);
  printf("   (total MACs / total time)\n");
}

int main(int argc, char** argv) {
  if (tester_init_bench(argc, argv, "qs8-gemm")) {
    bench();
    return 0;
  }
  int fails = test_im2col();
  for (size_t i = 0; i < NUM_VARIANTS; i++) {
    if (tester_report_variant(variants[i].name, variants[i].available)) fails += test_variant(&variants[i]);
  }
  printf("[qs8-gemm] %s\n", fails ? "FAILED" : "all passed");
  return fails ? 1 : 0;
}
