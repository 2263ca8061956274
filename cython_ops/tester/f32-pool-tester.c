/* f32 max/average/global-average pooling: every compiled variant against the scalar reference,
 * and the reference against a direct formula written here.
 *   f32-pool-tester [seed]
 */
#include "tester.h"

#include <float.h>

#include "edgert/f32-pool.h"

typedef struct {
  const char* name;
  edgert_f32_pool_fn maxpool, avgpool;
  edgert_f32_global_avgpool_fn global_avgpool;
} variant;

static const variant variants[] = {
#if EDGERT_ARCH_X86_64
    {"avx2", edgert_f32_maxpool__avx2, edgert_f32_avgpool__avx2, edgert_f32_global_avgpool__avx2},
#endif
#if EDGERT_ARCH_ARM64
    {"neon", edgert_f32_maxpool__neon, edgert_f32_avgpool__neon, edgert_f32_global_avgpool__neon},
#endif
    {NULL, NULL, NULL, NULL}};

/* Direct ONNX formula; average in double. */
static void naive(const edgert_f32_pool_args* a, int is_max, float* out, size_t oy0, size_t oy1) {
  for (size_t oy = oy0; oy < oy1; oy++)
    for (size_t ox = 0; ox < a->OW; ox++)
      for (size_t c = 0; c < a->C; c++) {
        double sum = 0.0;
        float m = -INFINITY;
        size_t count = 0;
        for (size_t ky = 0; ky < a->KH; ky++)
          for (size_t kx = 0; kx < a->KW; kx++) {
            const long iy = tester_tap(oy, a->SH, ky, a->DH, a->pad_top, a->H);
            const long ix = tester_tap(ox, a->SW, kx, a->DW, a->pad_left, a->W);
            if (iy < 0 || ix < 0) continue;
            const float v = a->input[((size_t)iy * a->W + (size_t)ix) * a->C + c];
            sum += v;
            m = fmaxf(m, v);
            count++;
          }
        const size_t divisor = a->count_include_pad ? a->KH * a->KW : count;
        const float y = is_max ? m : (divisor ? (float)(sum / (double)divisor) : 0.0f);
        out[(oy * a->OW + ox) * a->C + c] = tester_clamp(y, a->min, a->max);
      }
}

static int run_case(int is_max, size_t* checked) {
  edgert_f32_pool_args a;
  memset(&a, 0, sizeof(a));
  a.C = tester_random_channels();
  a.KH = tester_range(1, 4);
  a.KW = tester_range(1, 4);
  a.SH = tester_range(1, 3);
  a.SW = tester_range(1, 3);
  a.DH = tester_range(0, 3) == 0 ? 2 : 1;
  a.DW = tester_range(0, 3) == 0 ? 2 : 1;
  a.H = tester_range(1, 11);
  a.W = tester_range(1, 11);
  /* Valid ONNX pads are below the kernel; sometimes larger to make windows with no tap. */
  const int wide_pads = tester_range(0, 5) == 0;
  const size_t pad_max_h = wide_pads ? a.KH + 2 : a.KH - 1;
  const size_t pad_max_w = wide_pads ? a.KW + 2 : a.KW - 1;
  size_t pad_bottom, pad_right;
  tester_random_pads(pad_max_h, pad_max_w, &a.pad_top, &a.pad_left, &pad_bottom, &pad_right);
  a.OH = tester_out_size(a.H, a.pad_top + pad_bottom, a.KH, a.SH, a.DH);
  a.OW = tester_out_size(a.W, a.pad_left + pad_right, a.KW, a.SW, a.DW);
  if (a.OH == 0 || a.OW == 0) return 0;
  a.count_include_pad = (int)tester_range(0, 1);
  const int clamp = (int)tester_range(0, 1);
  a.min = clamp ? -0.5f : -INFINITY;
  a.max = clamp ? 0.75f : INFINITY;
  /* A window without taps (wide pads, or dilation skipping the image) gives max = -inf, which
   * the tolerance check cannot compare; -FLT_MAX clamps nothing else. */
  if (is_max && !clamp) a.min = -FLT_MAX;

  const size_t n_in = a.H * a.W * a.C, n_out = a.OH * a.OW * a.C;
  float* input = tester_alloc_floats(n_in);
  float* ref = tester_alloc_floats(n_out);
  float* got = tester_alloc_floats(n_out);
  tester_fill(input, n_in, -1.0f, 1.0f);
  a.input = input;
  size_t oy0, oy1;
  tester_random_rows(a.OH, &oy0, &oy1);
  char what[320];
  snprintf(what, sizeof(what),
           "%s " TESTER_WINDOW_FMT " pad_br=%zu,%zu include_pad=%d clamp=%d rows=[%zu,%zu)",
           is_max ? "max" : "avg", TESTER_WINDOW_ARGS(a), pad_bottom, pad_right,
           a.count_include_pad, clamp, oy0, oy1);

  int fail = 0;
  tester_set(ref, n_out, 42.0f);
  tester_set(got, n_out, 42.0f);
  naive(&a, is_max, ref, oy0, oy1);
  a.output = got;
  (is_max ? edgert_f32_maxpool__scalar : edgert_f32_avgpool__scalar)(&a, oy0, oy1);
  fail |= tester_check_case("scalar vs naive", what, ref, got, n_out, 1e-5f);
  memcpy(ref, got, n_out * sizeof(float));
  (*checked)++;
  for (const variant* v = variants; v->name && !fail && tester_simd_available(); v++) {
    tester_set(got, n_out, 42.0f);
    (is_max ? v->maxpool : v->avgpool)(&a, oy0, oy1);
    fail |= tester_check_case(v->name, what, ref, got, n_out, 1e-5f);
    (*checked)++;
  }
  free(input);
  free(ref);
  free(got);
  return fail;
}

static int run_global_case(size_t* checked) {
  const size_t C = tester_random_channels();
  const size_t pixels = tester_range(0, 3) == 0 ? tester_range(1, 4) : tester_range(1, 300);
  float* input = tester_alloc_floats(pixels * C);
  float* ref = tester_alloc_floats(C);
  float* got = tester_alloc_floats(C);
  tester_fill(input, pixels * C, -1.0f, 1.0f);
  for (size_t c = 0; c < C; c++) {
    double sum = 0.0;
    for (size_t p = 0; p < pixels; p++) sum += input[p * C + c];
    ref[c] = (float)(sum / (double)pixels);
  }
  char what[64];
  snprintf(what, sizeof(what), "global pixels=%zu C=%zu", pixels, C);
  edgert_f32_global_avgpool__scalar(pixels, C, input, got);
  int fail = tester_check_case("scalar vs naive", what, ref, got, C, 1e-5f);
  memcpy(ref, got, C * sizeof(float));
  (*checked)++;
  for (const variant* v = variants; v->name && !fail && tester_simd_available(); v++) {
    tester_set(got, C, 42.0f);
    v->global_avgpool(pixels, C, input, got);
    fail |= tester_check_case(v->name, what, ref, got, C, 1e-5f);
    (*checked)++;
  }
  free(input);
  free(ref);
  free(got);
  return fail;
}

int main(int argc, char** argv) {
  tester_init(argc, argv, "f32-pool");
  if (!tester_simd_available()) {
    printf("no SIMD variant runs here: checking the scalar reference only\n");
  }
  size_t checked = 0;
  for (int iter = 0; iter < 1500; iter++) {
    if (run_case(1, &checked) || run_case(0, &checked) || run_global_case(&checked)) return 1;
  }
  printf("[f32-pool] OK: %zu checks\n", checked);
  return 0;
}
