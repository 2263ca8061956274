/* qs8 depthwise convolution: the scalar reference against a direct formula on the unpacked ONNX
 * weights, and every compiled variant against it, bit for bit (random shapes, strides, dilations,
 * padding wider than the kernel, extreme zero points and scales, clamps, row sub-ranges, guarded
 * outputs).
 *   qs8-dwconv-tester [seed]      correctness
 *   qs8-dwconv-tester --bench     single-thread GMAC/s per variant on MobileNetV2-like shapes
 */
#include "tester.h"

#include "edgert/qs8-dwconv.h"

typedef struct {
  const char* name;
  edgert_qs8_dwconv_fn fn;
  edgert_qs8_dwconv_layout layout;
  size_t K, S;           /* fixed kernel and stride (dilation 1); 0 = any */
  int (*available)(void); /* whether this CPU runs it */
} variant;


static const variant variants[] = {
#if EDGERT_ARCH_X86_64
#define ROWPAIRS EDGERT_QS8_DWCONV_ROWPAIRS
    {"avx2", edgert_qs8_dwconv__avx2, ROWPAIRS, 0, 0, tester_simd_available},
    {"3x3s1_avx2", edgert_qs8_dwconv_3x3s1__avx2, ROWPAIRS, 3, 1, tester_simd_available},
    {"3x3s2_avx2", edgert_qs8_dwconv_3x3s2__avx2, ROWPAIRS, 3, 2, tester_simd_available},
    {"5x5s1_avx2", edgert_qs8_dwconv_5x5s1__avx2, ROWPAIRS, 5, 1, tester_simd_available},
    {"5x5s2_avx2", edgert_qs8_dwconv_5x5s2__avx2, ROWPAIRS, 5, 2, tester_simd_available},
    {"7x7s1_avx2", edgert_qs8_dwconv_7x7s1__avx2, ROWPAIRS, 7, 1, tester_simd_available},
    {"7x7s2_avx2", edgert_qs8_dwconv_7x7s2__avx2, ROWPAIRS, 7, 2, tester_simd_available},
#define ROWQUADS EDGERT_QS8_DWCONV_ROWQUADS
    {"avx512vnni", edgert_qs8_dwconv__avx512vnni, ROWQUADS, 0, 0, tester_has_avx512_vnni},
    {"3x3s1_avx512vnni", edgert_qs8_dwconv_3x3s1__avx512vnni, ROWQUADS, 3, 1, tester_has_avx512_vnni},
    {"3x3s2_avx512vnni", edgert_qs8_dwconv_3x3s2__avx512vnni, ROWQUADS, 3, 2, tester_has_avx512_vnni},
    {"5x5s1_avx512vnni", edgert_qs8_dwconv_5x5s1__avx512vnni, ROWQUADS, 5, 1, tester_has_avx512_vnni},
    {"5x5s2_avx512vnni", edgert_qs8_dwconv_5x5s2__avx512vnni, ROWQUADS, 5, 2, tester_has_avx512_vnni},
    {"7x7s1_avx512vnni", edgert_qs8_dwconv_7x7s1__avx512vnni, ROWQUADS, 7, 1, tester_has_avx512_vnni},
    {"7x7s2_avx512vnni", edgert_qs8_dwconv_7x7s2__avx512vnni, ROWQUADS, 7, 2, tester_has_avx512_vnni},
#endif
#if EDGERT_ARCH_ARM64
#define TAPS EDGERT_QS8_DWCONV_TAPS
    {"neon", edgert_qs8_dwconv__neon, TAPS, 0, 0, tester_simd_available},
    {"3x3s1_neon", edgert_qs8_dwconv_3x3s1__neon, TAPS, 3, 1, tester_simd_available},
    {"3x3s2_neon", edgert_qs8_dwconv_3x3s2__neon, TAPS, 3, 2, tester_simd_available},
    {"5x5s1_neon", edgert_qs8_dwconv_5x5s1__neon, TAPS, 5, 1, tester_simd_available},
    {"5x5s2_neon", edgert_qs8_dwconv_5x5s2__neon, TAPS, 5, 2, tester_simd_available},
    {"7x7s1_neon", edgert_qs8_dwconv_7x7s1__neon, TAPS, 7, 1, tester_simd_available},
    {"7x7s2_neon", edgert_qs8_dwconv_7x7s2__neon, TAPS, 7, 2, tester_simd_available},
#endif
    {NULL, NULL, 0, 0, 0, NULL}};

static int variant_fits(const variant* v, const edgert_qs8_dwconv_args* a) {
  if (!v->available()) return 0;
  if (v->K == 0) return 1;
  return a->KH == v->K && a->KW == v->K && a->SH == v->S && a->SW == v->S && a->DH == 1 &&
         a->DW == 1;
}

/* Direct formula on unpacked weights: int64 sum of (x - zp_in) * w over the in-bounds taps
 * (padded taps hold the real value 0), plus the bias, requantized. */
static void naive(const edgert_qs8_dwconv_args* a, const int8_t* weights, const int32_t* bias,
                  int8_t* out, size_t oy0, size_t oy1) {
  for (size_t oy = oy0; oy < oy1; oy++)
    for (size_t ox = 0; ox < a->OW; ox++)
      for (size_t c = 0; c < a->C; c++) {
        int64_t acc = bias ? bias[c] : 0;
        for (size_t ky = 0; ky < a->KH; ky++)
          for (size_t kx = 0; kx < a->KW; kx++) {
            const long iy = tester_tap(oy, a->SH, ky, a->DH, a->pad_top, a->H);
            const long ix = tester_tap(ox, a->SW, kx, a->DW, a->pad_left, a->W);
            if (iy < 0 || ix < 0) continue;
            const int32_t x = a->input[((size_t)iy * a->W + (size_t)ix) * a->C + c];
            acc += (int64_t)(x - a->input_zero_point) * weights[(c * a->KH + ky) * a->KW + kx];
          }
        out[(oy * a->OW + ox) * a->C + c] = edgert_qs8_requantize((int32_t)acc, a->scales[c], &a->out);
      }
}

/* One random case; K/S/D of 0 means random. Returns non-zero on failure. */
static int run_case(size_t K, size_t S, size_t D, size_t* checked) {
  edgert_qs8_dwconv_args a;
  memset(&a, 0, sizeof(a));
  a.C = tester_range(0, 2) ? tester_random_channels() : tester_range(1, 100);
  a.KH = K ? K : tester_range(1, 5);
  a.KW = K ? K : tester_range(1, 5);
  a.SH = S ? S : tester_range(1, 3);
  a.SW = S ? S : tester_range(1, 3);
  a.DH = D ? D : tester_range(1, 3);
  a.DW = D ? D : tester_range(1, 3);
  const int big = tester_range(0, 4) == 0; /* wide rows exercise the unchecked interior tiles */
  a.H = tester_range(1, big ? 20 : 9);
  a.W = tester_range(1, big ? 40 : 12);
  /* Mostly pads within the kernel; sometimes larger than it (zero-point-only border outputs). */
  const size_t pad_max = tester_range(0, 3) == 0 ? a.KW + 3 : a.KW / 2 + 1;
  size_t pad_bottom, pad_right;
  tester_random_pads(pad_max, pad_max, &a.pad_top, &a.pad_left, &pad_bottom, &pad_right);
  a.OH = tester_out_size(a.H, a.pad_top + pad_bottom, a.KH, a.SH, a.DH);
  a.OW = tester_out_size(a.W, a.pad_left + pad_right, a.KW, a.SW, a.DW);
  if (a.OH == 0 || a.OW == 0) return 0;
  a.input_zero_point = tester_random_zero_point();
  a.out = tester_random_output_params();
  const int with_bias = tester_range(0, 3) != 0;
  const size_t taps = a.KH * a.KW;
  float s_lo, s_hi;
  tester_random_scale_range(taps, &s_lo, &s_hi);

  const size_t n_in = a.H * a.W * a.C, n_out = a.OH * a.OW * a.C;
  int8_t* input = tester_alloc_i8(n_in);
  int8_t* weights = tester_alloc_i8(a.C * taps);
  int32_t* bias = with_bias ? malloc(a.C * sizeof(int32_t)) : NULL;
  float* scales = tester_alloc_floats(a.C);
  int8_t* ref = tester_alloc_i8(n_out);
  int8_t* guard = tester_alloc_i8(n_out + TESTER_GUARD_BYTES);
  int8_t* got = tester_alloc_i8(n_out + TESTER_GUARD_BYTES);
  tester_fill_i8(input, n_in, -128, 127);
  tester_fill_i8(weights, a.C * taps, -128, 127);
  if (tester_range(0, 9) == 0) { /* the largest sums */
    memset(input, tester_range(0, 1) ? 0x80 : 0x7f, n_in);
    memset(weights, tester_range(0, 1) ? 0x80 : 0x7f, a.C * taps);
  }
  for (size_t c = 0; c < a.C; c++) {
    if (bias) bias[c] = (int32_t)tester_range(0, 100000) - 50000;
    scales[c] = tester_log_uniform(s_lo, s_hi);
  }
  tester_fill_i8(guard, n_out + TESTER_GUARD_BYTES, -128, 127);
  a.input = input;
  a.scales = scales;

  /* Sometimes a partial row range: rows outside it must stay untouched. */
  size_t oy0, oy1;
  tester_random_rows(a.OH, &oy0, &oy1);
  const tester_rows live = {a.OW * a.C, oy0, oy1};
  char what[320];
  snprintf(what, sizeof(what),
           TESTER_WINDOW_FMT " pad_br=%zu,%zu zp_in=%d " TESTER_OUTPUT_FMT " bias=%d rows=[%zu,%zu)",
           TESTER_WINDOW_ARGS(a), pad_bottom, pad_right, a.input_zero_point,
           TESTER_OUTPUT_ARGS(a.out), with_bias, oy0, oy1);

  int fail = 0;
  memcpy(ref, guard, n_out);
  naive(&a, weights, bias, ref, oy0, oy1);
  /* The reference and every variant, each on its own packing. */
  for (size_t i = 0; !fail; i++) {
    const int is_ref = i == 0;
    const variant* v = is_ref ? NULL : &variants[i - 1];
    if (!is_ref && (v->name == NULL || !tester_simd_available())) break;
    if (!is_ref && !variant_fits(v, &a)) continue;
    const edgert_qs8_dwconv_layout layout = is_ref ? EDGERT_QS8_DWCONV_TAPS : v->layout;
    void* packed = malloc(edgert_qs8_dwconv_packed_bytes(layout, a.C, a.KH, a.KW));
    edgert_qs8_dwconv_pack(layout, a.C, a.KH, a.KW, weights, bias, a.input_zero_point, packed);
    a.packed = packed;
    a.output = got;
    memcpy(got, guard, n_out + TESTER_GUARD_BYTES);
    if (is_ref) edgert_qs8_dwconv__scalar(&a, oy0, oy1);
    else v->fn(&a, oy0, oy1);
    const char* who = is_ref ? "scalar vs naive" : v->name;
    if (!tester_untouched_i8(who, guard, got, n_out, tester_row_live, &live) ||
        !tester_untouched_i8(who, guard + n_out, got + n_out, TESTER_GUARD_BYTES, NULL, NULL) ||
        tester_check_i8(who, ref, got, n_out)) {
      printf("  %s\n", what);
      fail = 1;
    }
    free(packed);
    (*checked)++;
  }
  free(input);
  free(weights);
  free(bias);
  free(scales);
  free(ref);
  free(guard);
  free(got);
  return fail;
}

typedef struct {
  size_t HW, C, K, S;
} bench_shape;

static const bench_shape bench_shapes[] = {
    {112, 32, 3, 1}, {112, 96, 3, 2}, {56, 144, 3, 1}, {56, 144, 3, 2}, {28, 192, 3, 1},
    {28, 192, 3, 2}, {14, 384, 3, 1}, {14, 576, 3, 1}, {14, 576, 3, 2}, {7, 960, 3, 1},
    {56, 64, 7, 1},  {28, 128, 7, 1}, {14, 256, 5, 1}, {28, 64, 5, 2}};

#define BENCH_MAX 5

/* Minimum over single calls, variants interleaved: robust to other processes sharing the cores,
 * and every variant sees the same machine state. */
static void bench_shape_gmacs(const edgert_qs8_dwconv_fn* fns, edgert_qs8_dwconv_args* const* args,
                              size_t n, int min_rounds, double seconds, double* gmacs) {
  double best[BENCH_MAX];
  for (size_t i = 0; i < n; i++) {
    fns[i](args[i], 0, args[i]->OH); /* warm caches */
    best[i] = 1e30;
  }
  const double end = tester_now() + seconds;
  for (int round = 0; round < min_rounds || (tester_now() < end && round < 5000); round++) {
    for (size_t i = 0; i < n; i++) {
      const double t0 = tester_now();
      fns[i](args[i], 0, args[i]->OH);
      const double t = tester_now() - t0;
      if (t < best[i]) best[i] = t;
    }
  }
  for (size_t i = 0; i < n; i++) {
    const edgert_qs8_dwconv_args* a = args[i];
    gmacs[i] = (double)(a->OH * a->OW * a->C * a->KH * a->KW) / best[i] * 1e-9;
  }
}

static void bench(void) {
  double peak = 0.0;
#if EDGERT_ARCH_X86_64
  peak = tester_x86_int8_peak();
#endif
  printf("single thread GMAC/s (best of many calls); 'same' padding (k-1)/2; fused ReLU6-like\n"
         "clamp; 64-byte aligned buffers; fixed = the specialised KxK sS variant\n");
  printf("%-18s %10s %10s %10s %10s %10s\n", "H=W,C,k,s", "scalar", "generic", "fixed",
         "vnni-gen", "vnni-fixed");
  for (size_t i = 0; i < TESTER_ARRAY_SIZE(bench_shapes); i++) {
    const bench_shape* s = &bench_shapes[i];
    edgert_qs8_dwconv_args a;
    memset(&a, 0, sizeof(a));
    a.H = a.W = s->HW;
    a.C = s->C;
    a.KH = a.KW = s->K;
    a.SH = a.SW = s->S;
    a.DH = a.DW = 1;
    a.pad_top = a.pad_left = (s->K - 1) / 2;
    a.OH = a.OW = tester_out_size(s->HW, 2 * a.pad_top, s->K, s->S, 1);
    a.input_zero_point = -3;
    a.out = (edgert_qs8_output_params){-128, -128, 100};
    int8_t* input = tester_alloc_aligned_bytes(a.H * a.W * a.C);
    int8_t* weights = tester_alloc_i8(a.C * s->K * s->K);
    float* scales = tester_alloc_floats(a.C);
    int8_t* output = tester_alloc_aligned_bytes(a.OH * a.OW * a.C);
    tester_fill_i8(input, a.H * a.W * a.C, -128, 127);
    tester_fill_i8(weights, a.C * s->K * s->K, -128, 127);
    for (size_t c = 0; c < a.C; c++) scales[c] = 1e-3f;
    a.input = input;
    a.output = output;
    a.scales = scales;
    /* Columns: scalar, then generic and fixed SIMD per ISA (0 where none runs). The slow
     * scalar reference is timed on its own so it does not starve the SIMD variants of rounds. */
    double row[BENCH_MAX] = {0.0}, gmacs[BENCH_MAX];
    edgert_qs8_dwconv_args ref_args = a, simd_args[BENCH_MAX];
    void* packed[BENCH_MAX] = {NULL};
    packed[0] = tester_alloc_aligned_bytes(
        edgert_qs8_dwconv_packed_bytes(EDGERT_QS8_DWCONV_TAPS, a.C, s->K, s->K));
    edgert_qs8_dwconv_pack(EDGERT_QS8_DWCONV_TAPS, a.C, s->K, s->K, weights, NULL, -3, packed[0]);
    ref_args.packed = packed[0];
    const edgert_qs8_dwconv_fn reference = edgert_qs8_dwconv__scalar;
    edgert_qs8_dwconv_args* ref_list[1] = {&ref_args};
    bench_shape_gmacs(&reference, ref_list, 1, 3, 0.1, row);
    edgert_qs8_dwconv_fn fns[BENCH_MAX];
    edgert_qs8_dwconv_args* list[BENCH_MAX];
    size_t column[BENCH_MAX], n = 0;
    for (const variant* v = variants; v->name && tester_simd_available(); v++) {
      if (!variant_fits(v, &a)) continue;
      const size_t col = (v->layout == EDGERT_QS8_DWCONV_ROWQUADS ? 3 : 1) + (v->K ? 1 : 0);
      simd_args[n] = a;
      packed[n + 1] = tester_alloc_aligned_bytes(edgert_qs8_dwconv_packed_bytes(v->layout, a.C, s->K, s->K));
      edgert_qs8_dwconv_pack(v->layout, a.C, s->K, s->K, weights, NULL, -3, packed[n + 1]);
      simd_args[n].packed = packed[n + 1];
      fns[n] = v->fn;
      list[n] = &simd_args[n];
      column[n++] = col;
    }
    bench_shape_gmacs(fns, list, n, 20, 0.5, gmacs);
    for (size_t k = 0; k < n; k++) row[column[k]] = gmacs[k];
    char shape[32];
    snprintf(shape, sizeof(shape), "%zu,%zu,%zu,%zu", s->HW, s->C, s->K, s->S);
    printf("%-18s %10.2f %10.2f %10.2f %10.2f %10.2f", shape, row[0], row[1], row[2], row[3], row[4]);
    double fastest = 0.0;
    for (size_t k = 1; k < BENCH_MAX; k++) fastest = fmax(fastest, row[k]);
    if (peak > 0.0) printf("   %3.0f%% of peak", 100.0 * fastest / peak);
    printf("\n");
    fflush(stdout);
    free(input);
    free(weights);
    free(scales);
    free(output);
    for (size_t k = 0; k <= n; k++) free(packed[k]);
  }
}

int main(int argc, char** argv) {
  if (tester_init_bench(argc, argv, "qs8-dwconv")) {
    bench();
    return 0;
  }
  if (!tester_simd_available()) printf("no SIMD variant runs here: checking the scalar reference only\n");
  size_t checked = 0;
  /* Fixed kernels/strides with dilation 1 reach the specialised variants; then anything. */
  static const size_t fixed[][2] = {{3, 1}, {3, 2}, {5, 1}, {5, 2}, {7, 1}, {7, 2}};
  for (int iter = 0; iter < 200; iter++) {
    for (size_t f = 0; f < 6; f++) {
      if (run_case(fixed[f][0], fixed[f][1], 1, &checked)) return 1;
    }
    if (run_case(0, 0, 0, &checked)) return 1;
    if (run_case(0, 0, 1, &checked)) return 1;
  }
  for (const variant* v = variants; v->name; v++)
    if (tester_simd_available() && !v->available()) printf("  %-16s skipped (this CPU lacks it)\n", v->name);
  printf("[qs8-dwconv] OK: %zu checks\n", checked);
  return 0;
}
