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

static int simd_available(void) {
  const edgert_cpu_features* f = edgert_cpu();
  return EDGERT_ARCH_X86_64 ? f->avx2_fma : f->neon;
}

static size_t out_size(size_t n, size_t pad_sum, size_t k, size_t s, size_t d) {
  const size_t eff = d * (k - 1) + 1;
  return n + pad_sum < eff ? 0 : (n + pad_sum - eff) / s + 1;
}

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
            const long iy = (long)(oy * a->SH + ky * a->DH) - (long)a->pad_top;
            const long ix = (long)(ox * a->SW + kx * a->DW) - (long)a->pad_left;
            if (iy < 0 || ix < 0 || iy >= (long)a->H || ix >= (long)a->W) continue;
            const float v = a->input[((size_t)iy * a->W + (size_t)ix) * a->C + c];
            sum += v;
            m = fmaxf(m, v);
            count++;
          }
        const size_t divisor = a->count_include_pad ? a->KH * a->KW : count;
        float y = is_max ? m : (divisor ? (float)(sum / (double)divisor) : 0.0f);
        y = y < a->min ? a->min : y;
        y = y > a->max ? a->max : y;
        out[(oy * a->OW + ox) * a->C + c] = y;
      }
}

/* Below, equal to, above and multiples of the vector widths (4 NEON, 8 AVX2, 16/32 unrolled). */
static const size_t channel_choices[] = {1,  2,  3,  4,  5,  7,  8,  9,  12, 15,
                                         16, 17, 24, 31, 32, 33, 40, 64, 65};
#define N_CHANNEL_CHOICES (sizeof(channel_choices) / sizeof(channel_choices[0]))

static int run_case(int is_max, size_t* checked) {
  edgert_f32_pool_args a;
  memset(&a, 0, sizeof(a));
  a.C = channel_choices[tester_range(0, N_CHANNEL_CHOICES - 1)];
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
  a.pad_top = tester_range(0, pad_max_h);
  a.pad_left = tester_range(0, pad_max_w);
  const size_t pad_bottom = tester_range(0, pad_max_h), pad_right = tester_range(0, pad_max_w);
  a.OH = out_size(a.H, a.pad_top + pad_bottom, a.KH, a.SH, a.DH);
  a.OW = out_size(a.W, a.pad_left + pad_right, a.KW, a.SW, a.DW);
  if (a.OH == 0 || a.OW == 0) return 0;
  a.count_include_pad = (int)tester_range(0, 1);
  const int clamp = (int)tester_range(0, 1);
  a.min = clamp ? -0.5f : -INFINITY;
  a.max = clamp ? 0.75f : INFINITY;
  /* A window without taps (wide pads, or dilation skipping the image) gives max = -inf, which
   * the tolerance check cannot compare; -FLT_MAX clamps nothing else. */
  if (is_max && !clamp) a.min = -FLT_MAX;

  const size_t n_in = a.H * a.W * a.C, n_out = a.OH * a.OW * a.C;
  float* input = malloc(n_in * sizeof(float));
  float* ref = malloc(n_out * sizeof(float));
  float* got = malloc(n_out * sizeof(float));
  tester_fill(input, n_in, -1.0f, 1.0f);
  a.input = input;
  size_t oy0 = 0, oy1 = a.OH;
  if (tester_range(0, 2) == 0) {
    oy0 = tester_range(0, a.OH - 1);
    oy1 = tester_range(oy0 + 1, a.OH);
  }
  char what[320], label[400];
  snprintf(what, sizeof(what),
           "%s H=%zu W=%zu C=%zu K=%zux%zu S=%zux%zu D=%zux%zu pad_tl=%zu,%zu pad_br=%zu,%zu "
           "include_pad=%d clamp=%d rows=[%zu,%zu)",
           is_max ? "max" : "avg", a.H, a.W, a.C, a.KH, a.KW, a.SH, a.SW, a.DH, a.DW, a.pad_top,
           a.pad_left, pad_bottom, pad_right, a.count_include_pad, clamp, oy0, oy1);

  int fail = 0;
  for (size_t i = 0; i < n_out; i++) ref[i] = got[i] = 42.0f;
  naive(&a, is_max, ref, oy0, oy1);
  a.output = got;
  (is_max ? edgert_f32_maxpool__scalar : edgert_f32_avgpool__scalar)(&a, oy0, oy1);
  snprintf(label, sizeof(label), "scalar vs naive [%s]", what);
  fail |= tester_check_f32(label, ref, got, n_out, 1e-5f);
  memcpy(ref, got, n_out * sizeof(float));
  (*checked)++;
  for (const variant* v = variants; v->name && !fail && simd_available(); v++) {
    for (size_t i = 0; i < n_out; i++) got[i] = 42.0f;
    (is_max ? v->maxpool : v->avgpool)(&a, oy0, oy1);
    snprintf(label, sizeof(label), "%s [%s]", v->name, what);
    fail |= tester_check_f32(label, ref, got, n_out, 1e-5f);
    (*checked)++;
  }
  free(input);
  free(ref);
  free(got);
  return fail;
}

static int run_global_case(size_t* checked) {
  const size_t C = channel_choices[tester_range(0, N_CHANNEL_CHOICES - 1)];
  const size_t pixels = tester_range(0, 3) == 0 ? tester_range(1, 4) : tester_range(1, 300);
  float* input = malloc(pixels * C * sizeof(float));
  float* ref = malloc(C * sizeof(float));
  float* got = malloc(C * sizeof(float));
  tester_fill(input, pixels * C, -1.0f, 1.0f);
  for (size_t c = 0; c < C; c++) {
    double sum = 0.0;
    for (size_t p = 0; p < pixels; p++) sum += input[p * C + c];
    ref[c] = (float)(sum / (double)pixels);
  }
  char label[128];
  snprintf(label, sizeof(label), "global scalar vs naive [pixels=%zu C=%zu]", pixels, C);
  edgert_f32_global_avgpool__scalar(pixels, C, input, got);
  int fail = tester_check_f32(label, ref, got, C, 1e-5f);
  memcpy(ref, got, C * sizeof(float));
  (*checked)++;
  for (const variant* v = variants; v->name && !fail && simd_available(); v++) {
    for (size_t c = 0; c < C; c++) got[c] = 42.0f;
    v->global_avgpool(pixels, C, input, got);
    snprintf(label, sizeof(label), "global %s [pixels=%zu C=%zu]", v->name, pixels, C);
    fail |= tester_check_f32(label, ref, got, C, 1e-5f);
    (*checked)++;
  }
  free(input);
  free(ref);
  free(got);
  return fail;
}

int main(int argc, char** argv) {
  tester_init(argc, argv, "f32-pool");
  if (!simd_available()) printf("no SIMD variant runs here: checking the scalar reference only\n");
  size_t checked = 0;
  for (int iter = 0; iter < 1500; iter++) {
    if (run_case(1, &checked) || run_case(0, &checked) || run_global_case(&checked)) return 1;
  }
  printf("[f32-pool] OK: %zu checks\n", checked);
  return 0;
}
