/* f32 stem convolution (NCHW in, NHWC out): every compiled variant against the scalar reference,
 * and the reference against a direct formula on the unpacked ONNX weights. Exact-size buffers
 * (the sanitizer build catches any read or write past them); pixels outside the requested range
 * must keep their sentinel bit for bit.
 *   f32-conv-stem-tester [seed]      correctness on random shapes
 *   f32-conv-stem-tester --bench     single-thread GMAC/s on CNN stems vs NCHW im2col + GEMM
 */
#include "tester.h"

#include "edgert/f32-conv.h"
#include "edgert/f32-conv-stem.h"
#include "edgert/f32-gemm.h"

typedef struct {
  const char* name;
  edgert_f32_conv_stem_fn fn;
} variant;

static const variant variants[] = {
#if EDGERT_ARCH_X86_64
    {"avx2", edgert_f32_conv_stem__avx2},
#endif
#if EDGERT_ARCH_ARM64
    {"neon", edgert_f32_conv_stem__neon},
#endif
    {NULL, NULL}};

/* Direct ONNX formula on unpacked weights [C_out][C_in][KH][KW], double accumulation. */
static void naive(const edgert_f32_conv_stem_args* a, const float* weights, const float* bias,
                  float* out, size_t p0, size_t p1) {
  for (size_t p = p0; p < p1; p++) {
    const size_t oy = p / a->OW, ox = p % a->OW;
    for (size_t co = 0; co < a->C_out; co++) {
      double acc = bias ? bias[co] : 0.0;
      for (size_t c = 0; c < a->C_in; c++)
        for (size_t ky = 0; ky < a->KH; ky++)
          for (size_t kx = 0; kx < a->KW; kx++) {
            const long iy = (long)(oy * a->SH + ky * a->DH) - (long)a->pad_top;
            const long ix = (long)(ox * a->SW + kx * a->DW) - (long)a->pad_left;
            if (iy < 0 || ix < 0 || iy >= (long)a->H || ix >= (long)a->W) continue;
            acc += (double)a->input[(c * a->H + (size_t)iy) * a->W + (size_t)ix] *
                   weights[((co * a->C_in + c) * a->KH + ky) * a->KW + kx];
          }
      out[p * a->C_out + co] = tester_clamp((float)acc, a->min, a->max);
    }
  }
}

/* Pixels outside [p0, p1) must still hold the sentinel, bit for bit. */
static int untouched(const char* what, const float* out, size_t C_out, size_t pixels, size_t p0,
                     size_t p1) {
  for (size_t i = 0; i < pixels * C_out; i++) {
    const size_t p = i / C_out;
    if (p >= p0 && p < p1) continue;
    if (!tester_is_sentinel(&out[i])) {
      printf("FAIL %s: pixel %zu channel %zu outside [%zu, %zu) was written (%g)\n", what, p,
             i % C_out, p0, p1, out[i]);
      return 1;
    }
  }
  return 0;
}

/* Below, equal to, above and multiples of the 16-channel block (and of 4 / 8 vector lanes). */
static const size_t cout_choices[] = {1,  2,  3,  4,  5,  7,  8,  9,  12, 15, 16, 17,
                                      24, 31, 32, 33, 40, 47, 48, 49, 63, 64, 65, 70};
#define N_COUT_CHOICES (sizeof(cout_choices) / sizeof(cout_choices[0]))

/* One random case. stem != 0 forces C_in = 3, KxK = stem, stride 2, dilation 1 (the specialised
 * SIMD bodies). Returns non-zero on failure. */
static int run_case(size_t stem, size_t* checked) {
  edgert_f32_conv_stem_args a;
  memset(&a, 0, sizeof(a));
  a.C_in = stem ? 3 : tester_range(1, 5);
  a.C_out = cout_choices[tester_range(0, N_COUT_CHOICES - 1)];
  a.KH = stem ? stem : tester_range(1, 7);
  a.KW = stem ? stem : tester_range(1, 7);
  a.SH = stem ? 2 : tester_range(1, 3);
  a.SW = stem ? 2 : tester_range(1, 3);
  a.DH = stem ? 1 : tester_range(1, 2);
  a.DW = stem ? 1 : tester_range(1, 2);
  const int big = tester_range(0, 2) == 0; /* wide rows exercise the interior tiles */
  a.H = tester_range(1, big ? 40 : 12);
  a.W = tester_range(1, big ? 40 : 12);
  /* Mostly 'same'-like pads; sometimes larger than the kernel (all-padding border outputs). */
  const size_t pad_max = tester_range(0, 3) == 0 ? a.KW + 3 : a.KW / 2 + 1;
  a.pad_top = tester_range(0, pad_max);
  a.pad_left = tester_range(0, pad_max);
  const size_t pad_bottom = tester_range(0, pad_max), pad_right = tester_range(0, pad_max);
  a.OH = tester_out_size(a.H, a.pad_top + pad_bottom, a.KH, a.SH, a.DH);
  a.OW = tester_out_size(a.W, a.pad_left + pad_right, a.KW, a.SW, a.DW);
  if (a.OH == 0 || a.OW == 0) return 0;
  const int clamp = tester_range(0, 1);
  a.min = clamp ? -0.5f : -INFINITY;
  a.max = clamp ? 0.75f : INFINITY;
  const int with_bias = tester_range(0, 3) != 0;

  const size_t pixels = a.OH * a.OW;
  const size_t n_in = a.C_in * a.H * a.W, n_out = pixels * a.C_out;
  const size_t n_w = a.C_out * a.C_in * a.KH * a.KW;
  const size_t n_packed = edgert_f32_conv_stem_packed_floats(a.C_in, a.C_out, a.KH, a.KW);
  float* input = tester_alloc_floats(n_in);
  float* weights = tester_alloc_floats(n_w);
  float* bias = with_bias ? tester_alloc_floats(a.C_out) : NULL;
  float* packed = tester_alloc_floats(n_packed);
  float* ref = tester_alloc_floats(n_out);
  float* got = tester_alloc_floats(n_out);
  tester_fill(input, n_in, -1.0f, 1.0f);
  tester_fill(weights, n_w, -1.0f, 1.0f);
  if (bias) tester_fill(bias, a.C_out, -1.0f, 1.0f);
  edgert_f32_conv_stem_pack(a.C_in, a.C_out, a.KH, a.KW, weights, bias, packed);
  a.input = input;
  a.packed = packed;

  /* Often a partial pixel range (the caller threads over pixel ranges, rows cut anywhere). */
  size_t p0 = 0, p1 = pixels;
  if (tester_range(0, 1) == 0) {
    p0 = tester_range(0, pixels - 1);
    p1 = tester_range(p0 + 1, pixels);
  }
  char what[360];
  snprintf(what, sizeof(what),
           "H=%zu W=%zu C_in=%zu C_out=%zu K=%zux%zu S=%zux%zu D=%zux%zu pad_tl=%zu,%zu "
           "pad_br=%zu,%zu OH=%zu OW=%zu clamp=%d bias=%d pixels=[%zu,%zu)",
           a.H, a.W, a.C_in, a.C_out, a.KH, a.KW, a.SH, a.SW, a.DH, a.DW, a.pad_top, a.pad_left,
           pad_bottom, pad_right, a.OH, a.OW, clamp, with_bias, p0, p1);

  int fail = 0;
  char label[480];
  tester_set_sentinel(ref, n_out);
  tester_set_sentinel(got, n_out);
  naive(&a, weights, bias, ref, p0, p1);
  a.output = got;
  edgert_f32_conv_stem__scalar(&a, p0, p1);
  snprintf(label, sizeof(label), "scalar vs naive [%s]", what);
  fail |= tester_check_f32(label, ref, got, n_out, 1e-5f);
  fail |= untouched(label, got, a.C_out, pixels, p0, p1);
  memcpy(ref, got, n_out * sizeof(float));
  (*checked)++;

  for (const variant* v = variants; v->name && !fail && tester_simd_available(); v++) {
    tester_set_sentinel(got, n_out);
    v->fn(&a, p0, p1);
    snprintf(label, sizeof(label), "%s vs scalar [%s]", v->name, what);
    fail |= tester_check_f32(label, ref, got, n_out, 1e-5f);
    fail |= untouched(label, got, a.C_out, pixels, p0, p1);
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

/* ------------------------------------------------------------------------------------ bench */

typedef struct {
  const char* name;
  size_t HW, C_in, C_out, K, S, pad;
} bench_shape;

static const bench_shape bench_shapes[] = {
    {"MobileNetV2 3x3s2 3->32", 224, 3, 32, 3, 2, 1},
    {"MobileNetV3 3x3s2 3->16", 224, 3, 16, 3, 2, 1},
    {"ResNet 7x7s2 3->64", 224, 3, 64, 7, 2, 3},
};

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Activation buffers of the runtime are 64-byte aligned. */
static float* alloc_aligned(size_t floats) {
  return aligned_alloc(64, edgert_round_up(floats * sizeof(float), 64));
}

/* The baseline the stem kernel replaced: im2col rows (ordered ky, kx, c) gathered from NCHW in
 * pixel blocks whose scratch stays near 64K floats, each followed by the GEMM. */
static void gather_nchw_rows(const edgert_f32_conv_stem_args* a, size_t p0, size_t p1, float* cols) {
  const size_t plane = a->H * a->W;
  for (size_t p = p0; p < p1; p++) {
    const size_t oy = p / a->OW, ox = p % a->OW;
    for (size_t ky = 0; ky < a->KH; ky++) {
      const ptrdiff_t iy = (ptrdiff_t)(oy * a->SH + ky * a->DH) - (ptrdiff_t)a->pad_top;
      for (size_t kx = 0; kx < a->KW; kx++, cols += a->C_in) {
        const ptrdiff_t ix = (ptrdiff_t)(ox * a->SW + kx * a->DW) - (ptrdiff_t)a->pad_left;
        const int inside = iy >= 0 && iy < (ptrdiff_t)a->H && ix >= 0 && ix < (ptrdiff_t)a->W;
        for (size_t c = 0; c < a->C_in; c++)
          cols[c] = inside ? a->input[c * plane + (size_t)iy * a->W + (size_t)ix] : 0.0f;
      }
    }
  }
}

typedef struct {
  const edgert_f32_conv_stem_args* a;
  edgert_f32_gemm_fn gemm;
  size_t mr, K, block;
  const float* packed;
  float* cols;
} im2col_path;

static void run_im2col(const im2col_path* t) {
  const edgert_f32_conv_stem_args* a = t->a;
  const edgert_f32_minmax_params params = {a->min, a->max};
  const size_t pixels = a->OH * a->OW;
  for (size_t p0 = 0; p0 < pixels; p0 += t->block) {
    const size_t p1 = edgert_min_sz(p0 + t->block, pixels);
    gather_nchw_rows(a, p0, p1, t->cols);
    t->gemm(p1 - p0, a->C_out, t->K, t->cols, t->K, t->packed, a->output + p0 * a->C_out,
            a->C_out, &params);
  }
}

#define BENCH_PATHS 3 /* scalar stem, SIMD stem, im2col + GEMM */

static void bench(void) {
  printf("single thread GMAC/s (best single call, paths interleaved); fused clamp [0, 6];\n"
         "64-byte aligned buffers; im2col+gemm = NCHW im2col gather + %s in pixel blocks\n"
         "of ~64K scratch floats, as edgert_op_conv2d runs it\n",
         EDGERT_ARCH_X86_64 ? "edgert_f32_gemm_6x16__avx2" : "edgert_f32_gemm_8x8__neon");
  printf("%-26s %8s %10s %10s %14s %8s\n", "shape (224x224 in)", "MMAC", "scalar", "stem",
         "im2col+gemm", "speedup");
  for (size_t i = 0; i < sizeof(bench_shapes) / sizeof(bench_shapes[0]); i++) {
    const bench_shape* s = &bench_shapes[i];
    edgert_f32_conv_stem_args a;
    memset(&a, 0, sizeof(a));
    a.H = a.W = s->HW;
    a.C_in = s->C_in;
    a.C_out = s->C_out;
    a.KH = a.KW = s->K;
    a.SH = a.SW = s->S;
    a.DH = a.DW = 1;
    a.pad_top = a.pad_left = s->pad;
    a.OH = a.OW = tester_out_size(s->HW, 2 * s->pad, s->K, s->S, 1);
    a.min = 0.0f;
    a.max = 6.0f;
    const size_t K = s->K * s->K * s->C_in, pixels = a.OH * a.OW;
    float* input = alloc_aligned(s->C_in * a.H * a.W);
    float* weights = tester_alloc_floats(s->C_out * K);
    float* bias = tester_alloc_floats(s->C_out);
    float* packed = alloc_aligned(edgert_f32_conv_stem_packed_floats(a.C_in, a.C_out, a.KH, a.KW));
    float* output = alloc_aligned(pixels * a.C_out);
    tester_fill(input, s->C_in * a.H * a.W, -1.0f, 1.0f);
    tester_fill(weights, s->C_out * K, -1.0f, 1.0f);
    tester_fill(bias, s->C_out, -1.0f, 1.0f);
    edgert_f32_conv_stem_pack(a.C_in, a.C_out, a.KH, a.KW, weights, bias, packed);
    a.input = input;
    a.output = output;
    a.packed = packed;

    /* GEMM weights: B[k][n] with k ordered (ky, kx, c) from ONNX [n][c][ky][kx]. */
#if EDGERT_ARCH_X86_64
    im2col_path t = {&a, edgert_f32_gemm_6x16__avx2, EDGERT_F32_GEMM_6X16__AVX2_MR, K, 0, 0, 0};
    const size_t nr = EDGERT_F32_GEMM_6X16__AVX2_NR;
#else
    im2col_path t = {&a, edgert_f32_gemm_8x8__neon, EDGERT_F32_GEMM_8X8__NEON_MR, K, 0, 0, 0};
    const size_t nr = EDGERT_F32_GEMM_8X8__NEON_NR;
#endif
    float* b = tester_alloc_floats(K * s->C_out);
    for (size_t n = 0; n < s->C_out; n++)
      for (size_t c = 0; c < s->C_in; c++)
        for (size_t ky = 0; ky < s->K; ky++)
          for (size_t kx = 0; kx < s->K; kx++)
            b[((ky * s->K + kx) * s->C_in + c) * s->C_out + n] =
                weights[((n * s->C_in + c) * s->K + ky) * s->K + kx];
    float* gemm_packed = alloc_aligned(edgert_f32_gemm_packed_floats(K, s->C_out, nr));
    edgert_f32_gemm_pack(K, s->C_out, nr, b, s->C_out, 1, bias, gemm_packed);
    t.packed = gemm_packed;
    t.block = edgert_max_sz(t.mr, 64 * 1024 / K);
    t.block = edgert_min_sz(t.block, edgert_divide_round_up(pixels, 16));
    t.block = edgert_round_up(t.block, t.mr);
    t.cols = alloc_aligned(t.block * K);

    /* Sanity: both paths agree before timing them. */
    float* check = alloc_aligned(pixels * a.C_out);
    edgert_f32_conv_stem__scalar(&a, 0, pixels);
    memcpy(check, output, pixels * a.C_out * sizeof(float));
    run_im2col(&t);
    int bad = tester_check_f32("im2col+gemm vs stem scalar", check, output, pixels * a.C_out, 1e-4f);
    for (const variant* v = variants; v->name && tester_simd_available(); v++) {
      v->fn(&a, 0, pixels);
      bad |= tester_check_f32(v->name, check, output, pixels * a.C_out, 1e-4f);
    }
    free(check);
    if (bad) exit(1);

    double best[BENCH_PATHS] = {1e30, 1e30, 1e30};
    /* The scalar reference: a few calls only. */
    for (int r = 0; r < 2; r++) {
      const double t0 = now_s();
      edgert_f32_conv_stem__scalar(&a, 0, pixels);
      const double dt = now_s() - t0;
      if (dt < best[0]) best[0] = dt;
    }
    const int simd = tester_simd_available() && variants[0].fn != NULL;
    const double end = now_s() + 0.6;
    for (int round = 0; round < 10 || (now_s() < end && round < 2000); round++) {
      if (simd) {
        const double t0 = now_s();
        variants[0].fn(&a, 0, pixels);
        const double dt = now_s() - t0;
        if (dt < best[1]) best[1] = dt;
      }
      const double t0 = now_s();
      run_im2col(&t);
      const double dt = now_s() - t0;
      if (dt < best[2]) best[2] = dt;
    }
    const double mmac = (double)(pixels * s->C_out * K) * 1e-6;
    double g[BENCH_PATHS];
    for (int k = 0; k < BENCH_PATHS; k++) g[k] = best[k] < 1e29 ? mmac / best[k] * 1e-3 : 0.0;
    printf("%-26s %8.2f %10.2f %10.2f %14.2f %7.2fx\n", s->name, mmac, g[0], g[1], g[2],
           g[2] > 0 ? g[1] / g[2] : 0.0);
    fflush(stdout);
    free(input);
    free(weights);
    free(bias);
    free(packed);
    free(output);
    free(b);
    free(gemm_packed);
    free(t.cols);
  }
}

int main(int argc, char** argv) {
  const int bench_mode = argc > 1 && strcmp(argv[1], "--bench") == 0;
  if (bench_mode) {
    argv[1] = argv[0];
    tester_init(argc - 1, argv + 1, "f32-conv-stem");
    bench();
    return 0;
  }
  tester_init(argc, argv, "f32-conv-stem");
  if (!tester_simd_available()) printf("no SIMD variant runs here: checking the scalar reference only\n");
  size_t checked = 0;
  for (int iter = 0; iter < 400; iter++) {
    /* The specialised geometries (3x3 s2 and 7x7 s2, C_in 3), then anything. */
    if (run_case(3, &checked)) return 1;
    if (run_case(7, &checked)) return 1;
    if (run_case(0, &checked)) return 1;
    if (run_case(0, &checked)) return 1;
  }
  printf("[f32-conv-stem] OK: %zu checks\n", checked);
  return 0;
}
