/* f32 depthwise convolution: every compiled variant against the scalar reference, and the
 * reference against a direct formula on the unpacked ONNX weights.
 *   f32-dwconv-tester [seed]      correctness on random shapes
 *   f32-dwconv-tester --bench     single-thread GMAC/s per variant on MobileNetV2/LSNet shapes
 */
#include "tester.h"

#include "edgert/f32-dwconv.h"

typedef struct {
  const char* name;
  edgert_f32_dwconv_fn fn;
  size_t K, S; /* fixed kernel and stride (dilation 1); 0 = any */
} variant;

static const variant variants[] = {
#if EDGERT_ARCH_X86_64
    {"avx2", edgert_f32_dwconv__avx2, 0, 0},
    {"3x3s1_avx2", edgert_f32_dwconv_3x3s1__avx2, 3, 1},
    {"3x3s2_avx2", edgert_f32_dwconv_3x3s2__avx2, 3, 2},
    {"5x5s1_avx2", edgert_f32_dwconv_5x5s1__avx2, 5, 1},
    {"5x5s2_avx2", edgert_f32_dwconv_5x5s2__avx2, 5, 2},
    {"7x7s1_avx2", edgert_f32_dwconv_7x7s1__avx2, 7, 1},
    {"7x7s2_avx2", edgert_f32_dwconv_7x7s2__avx2, 7, 2},
#endif
#if EDGERT_ARCH_ARM64
    {"neon", edgert_f32_dwconv__neon, 0, 0},
    {"3x3s1_neon", edgert_f32_dwconv_3x3s1__neon, 3, 1},
    {"3x3s2_neon", edgert_f32_dwconv_3x3s2__neon, 3, 2},
    {"5x5s1_neon", edgert_f32_dwconv_5x5s1__neon, 5, 1},
    {"5x5s2_neon", edgert_f32_dwconv_5x5s2__neon, 5, 2},
    {"7x7s1_neon", edgert_f32_dwconv_7x7s1__neon, 7, 1},
    {"7x7s2_neon", edgert_f32_dwconv_7x7s2__neon, 7, 2},
#endif
    {NULL, NULL, 0, 0}};

static int variant_fits(const variant* v, const edgert_f32_dwconv_args* a) {
  if (v->K == 0) return 1;
  return a->KH == v->K && a->KW == v->K && a->SH == v->S && a->SW == v->S && a->DH == 1 &&
         a->DW == 1;
}

/* Direct ONNX formula on unpacked weights, double accumulation. */
static void naive(const edgert_f32_dwconv_args* a, const float* weights, const float* bias,
                  float* out, size_t oy0, size_t oy1) {
  for (size_t oy = oy0; oy < oy1; oy++)
    for (size_t ox = 0; ox < a->OW; ox++)
      for (size_t c = 0; c < a->C; c++) {
        double acc = bias ? bias[c] : 0.0;
        for (size_t ky = 0; ky < a->KH; ky++)
          for (size_t kx = 0; kx < a->KW; kx++) {
            const long iy = tester_tap(oy, a->SH, ky, a->DH, a->pad_top, a->H);
            const long ix = tester_tap(ox, a->SW, kx, a->DW, a->pad_left, a->W);
            if (iy < 0 || ix < 0) continue;
            acc += (double)a->input[((size_t)iy * a->W + (size_t)ix) * a->C + c] *
                   weights[(c * a->KH + ky) * a->KW + kx];
          }
        out[(oy * a->OW + ox) * a->C + c] = tester_clamp((float)acc, a->min, a->max);
      }
}

/* One random case; K/S/D of 0 means random. Returns non-zero on failure. */
static int run_case(size_t K, size_t S, size_t D, size_t* checked) {
  edgert_f32_dwconv_args a;
  memset(&a, 0, sizeof(a));
  a.C = tester_random_channels();
  a.KH = K ? K : tester_range(1, 5);
  a.KW = K ? K : tester_range(1, 5);
  a.SH = S ? S : tester_range(1, 3);
  a.SW = S ? S : tester_range(1, 3);
  a.DH = D ? D : tester_range(1, 3);
  a.DW = D ? D : tester_range(1, 3);
  const int big = tester_range(0, 4) == 0; /* wide rows exercise the unchecked interior tiles */
  a.H = tester_range(1, big ? 20 : 9);
  a.W = tester_range(1, big ? 40 : 12);
  /* Mostly pads within the kernel; sometimes larger than it (zero-only border outputs). */
  const size_t pad_max = tester_range(0, 3) == 0 ? a.KW + 3 : a.KW / 2 + 1;
  size_t pad_bottom, pad_right;
  tester_random_pads(pad_max, pad_max, &a.pad_top, &a.pad_left, &pad_bottom, &pad_right);
  a.OH = tester_out_size(a.H, a.pad_top + pad_bottom, a.KH, a.SH, a.DH);
  a.OW = tester_out_size(a.W, a.pad_left + pad_right, a.KW, a.SW, a.DW);
  if (a.OH == 0 || a.OW == 0) return 0;
  const int clamp = tester_range(0, 1);
  a.min = clamp ? -0.5f : -INFINITY;
  a.max = clamp ? 0.75f : INFINITY;
  const int with_bias = tester_range(0, 3) != 0;

  const size_t n_in = a.H * a.W * a.C, n_out = a.OH * a.OW * a.C, taps = a.KH * a.KW;
  float* input = tester_alloc_floats(n_in);
  float* weights = tester_alloc_floats(a.C * taps);
  float* bias = with_bias ? tester_alloc_floats(a.C) : NULL;
  float* packed = tester_alloc_floats(edgert_f32_dwconv_packed_floats(a.C, a.KH, a.KW));
  float* ref = tester_alloc_floats(n_out);
  float* got = tester_alloc_floats(n_out);
  tester_fill(input, n_in, -1.0f, 1.0f);
  tester_fill(weights, a.C * taps, -1.0f, 1.0f);
  if (bias) tester_fill(bias, a.C, -1.0f, 1.0f);
  edgert_f32_dwconv_pack(a.C, a.KH, a.KW, weights, bias, packed);
  a.input = input;
  a.packed = packed;

  /* Sometimes a partial row range: rows outside it must stay untouched. */
  size_t oy0, oy1;
  tester_random_rows(a.OH, &oy0, &oy1);
  char what[320];
  snprintf(what, sizeof(what),
           TESTER_WINDOW_FMT " pad_br=%zu,%zu clamp=%d bias=%d rows=[%zu,%zu)",
           TESTER_WINDOW_ARGS(a), pad_bottom, pad_right, clamp, with_bias, oy0, oy1);

  int fail = 0;
  tester_set(ref, n_out, 42.0f);
  tester_set(got, n_out, 42.0f);
  naive(&a, weights, bias, ref, oy0, oy1);
  a.output = got;
  edgert_f32_dwconv__scalar(&a, oy0, oy1);
  fail |= tester_check_case("scalar vs naive", what, ref, got, n_out, 1e-5f);
  memcpy(ref, got, n_out * sizeof(float));
  (*checked)++;

  for (const variant* v = variants; v->name && !fail && tester_simd_available(); v++) {
    if (!variant_fits(v, &a)) continue;
    tester_set(got, n_out, 42.0f);
    v->fn(&a, oy0, oy1);
    fail |= tester_check_case(v->name, what, ref, got, n_out, 1e-5f);
    (*checked)++;
  }
  free(input);
  free(weights);
  free(bias);
  free(packed);
  free(ref);
  free(got);
  return fail;
}

typedef struct {
  size_t HW, C, K, S;
} bench_shape;

static const bench_shape bench_shapes[] = {
    {112, 32, 3, 1}, {112, 96, 3, 2}, {56, 144, 3, 1}, {56, 144, 3, 2}, {28, 192, 3, 1},
    {14, 384, 3, 1}, {14, 576, 3, 1}, {7, 960, 3, 1},  {56, 64, 7, 1},  {28, 128, 7, 1},
    {14, 256, 5, 1}, {28, 64, 5, 2},  {7, 512, 7, 1}};

#define BENCH_MAX 3

/* Minimum over single calls, variants interleaved: robust to other processes sharing the cores,
 * and every variant sees the same machine state. */
static void bench_shape_gmacs(const edgert_f32_dwconv_fn* fns, size_t n,
                              const edgert_f32_dwconv_args* a, int min_rounds, double seconds,
                              double* gmacs) {
  double best[BENCH_MAX];
  for (size_t i = 0; i < n; i++) {
    fns[i](a, 0, a->OH); /* warm caches */
    best[i] = 1e30;
  }
  const double end = tester_now() + seconds;
  for (int round = 0; round < min_rounds || (tester_now() < end && round < 5000); round++) {
    for (size_t i = 0; i < n; i++) {
      const double t0 = tester_now();
      fns[i](a, 0, a->OH);
      const double t = tester_now() - t0;
      if (t < best[i]) best[i] = t;
    }
  }
  const double macs = (double)(a->OH * a->OW * a->C * a->KH * a->KW);
  for (size_t i = 0; i < n; i++) gmacs[i] = macs / best[i] * 1e-9;
}

static void bench(void) {
  printf("single thread GMAC/s (best of many calls); 'same' padding (k-1)/2; fused clamp [0, 6];\n"
         "64-byte aligned buffers; fixed = the specialised KxK sS variant\n");
  printf("%-18s %10s %10s %10s\n", "H=W,C,k,s", "scalar", "generic", "fixed");
  for (size_t i = 0; i < sizeof(bench_shapes) / sizeof(bench_shapes[0]); i++) {
    const bench_shape* s = &bench_shapes[i];
    edgert_f32_dwconv_args a;
    memset(&a, 0, sizeof(a));
    a.H = a.W = s->HW;
    a.C = s->C;
    a.KH = a.KW = s->K;
    a.SH = a.SW = s->S;
    a.DH = a.DW = 1;
    a.pad_top = a.pad_left = (s->K - 1) / 2;
    a.OH = a.OW = tester_out_size(s->HW, 2 * a.pad_top, s->K, s->S, 1);
    a.min = 0.0f;
    a.max = 6.0f;
    /* Activation buffers of the runtime are 64-byte aligned. */
    float* input = tester_alloc_aligned_floats(a.H * a.W * a.C);
    float* weights = tester_alloc_floats(a.C * s->K * s->K);
    float* bias = tester_alloc_floats(a.C);
    float* packed = tester_alloc_aligned_floats(edgert_f32_dwconv_packed_floats(a.C, s->K, s->K));
    float* output = tester_alloc_aligned_floats(a.OH * a.OW * a.C);
    tester_fill(input, a.H * a.W * a.C, -1.0f, 1.0f);
    tester_fill(weights, a.C * s->K * s->K, -1.0f, 1.0f);
    tester_fill(bias, a.C, -1.0f, 1.0f);
    edgert_f32_dwconv_pack(a.C, s->K, s->K, weights, bias, packed);
    a.input = input;
    a.output = output;
    a.packed = packed;
    /* Columns: scalar, generic SIMD, fixed SIMD (0 where none runs). The slow scalar reference
     * is timed on its own so it does not starve the SIMD variants of rounds. */
    double row[BENCH_MAX] = {0.0, 0.0, 0.0}, gmacs[BENCH_MAX];
    const edgert_f32_dwconv_fn reference = edgert_f32_dwconv__scalar;
    bench_shape_gmacs(&reference, 1, &a, 3, 0.1, row);
    edgert_f32_dwconv_fn fns[BENCH_MAX];
    size_t column[BENCH_MAX], n = 0;
    for (const variant* v = variants; v->name && tester_simd_available(); v++) {
      if (!variant_fits(v, &a)) continue;
      fns[n] = v->fn;
      column[n++] = v->K ? 2 : 1;
    }
    bench_shape_gmacs(fns, n, &a, 20, 0.5, gmacs);
    for (size_t k = 0; k < n; k++) row[column[k]] = gmacs[k];
    char shape[32];
    snprintf(shape, sizeof(shape), "%zu,%zu,%zu,%zu", s->HW, s->C, s->K, s->S);
    printf("%-18s %10.2f %10.2f %10.2f\n", shape, row[0], row[1], row[2]);
    fflush(stdout);
    free(input);
    free(weights);
    free(bias);
    free(packed);
    free(output);
  }
}

int main(int argc, char** argv) {
  if (tester_init_bench(argc, argv, "f32-dwconv")) {
    bench();
    return 0;
  }
  if (!tester_simd_available()) {
    printf("no SIMD variant runs here: checking the scalar reference only\n");
  }
  size_t checked = 0;
  /* Fixed kernels/strides with dilation 1 reach the specialised variants; then anything. */
  static const size_t fixed[][2] = {{3, 1}, {3, 2}, {5, 1}, {5, 2}, {7, 1}, {7, 2}};
  for (int iter = 0; iter < 300; iter++) {
    for (size_t f = 0; f < 6; f++) {
      if (run_case(fixed[f][0], fixed[f][1], 1, &checked)) return 1;
    }
    if (run_case(0, 0, 0, &checked)) return 1;
    if (run_case(0, 0, 1, &checked)) return 1;
  }
  printf("[f32-dwconv] OK: %zu checks\n", checked);
  return 0;
}
