/* qs8 pooling: the scalar references against direct formulas, and every compiled variant against
 * them, bit for bit (random windows, strides, dilations, padding, count_include_pad, extreme zero
 * points and scales, clamps, row sub-ranges, channel sub-ranges for the global average, guarded
 * outputs).
 *   qs8-pool-tester [seed]
 */
#include "tester.h"

#include "edgert/qs8-pool.h"

typedef struct {
  const char* name;
  edgert_qs8_pool_fn maxpool, avgpool;
  edgert_qs8_global_avgpool_fn global_avgpool;
} variant;

static const variant variants[] = {
    {"scalar", edgert_qs8_maxpool__scalar, edgert_qs8_avgpool__scalar,
     edgert_qs8_global_avgpool__scalar},
#if EDGERT_ARCH_X86_64
    {"avx2", edgert_qs8_maxpool__avx2, edgert_qs8_avgpool__avx2, edgert_qs8_global_avgpool__avx2},
#endif
#if EDGERT_ARCH_ARM64
    {"neon", edgert_qs8_maxpool__neon, edgert_qs8_avgpool__neon, edgert_qs8_global_avgpool__neon},
#endif
};

/* Direct formulas: max of the in-bounds taps clamped; average = (sum of q - zp_in) times
 * scale / count, requantized. */
static void naive(const edgert_qs8_pool_args* a, int avg, int8_t* out, size_t oy0, size_t oy1) {
  for (size_t oy = oy0; oy < oy1; oy++)
    for (size_t ox = 0; ox < a->OW; ox++)
      for (size_t c = 0; c < a->C; c++) {
        int32_t m = -1000, sum = 0;
        size_t valid = 0;
        for (size_t ky = 0; ky < a->KH; ky++)
          for (size_t kx = 0; kx < a->KW; kx++) {
            const long iy = tester_tap(oy, a->SH, ky, a->DH, a->pad_top, a->H);
            const long ix = tester_tap(ox, a->SW, kx, a->DW, a->pad_left, a->W);
            if (iy < 0 || ix < 0) continue;
            const int32_t x = a->input[((size_t)iy * a->W + (size_t)ix) * a->C + c];
            m = x > m ? x : m;
            sum += x - a->input_zero_point;
            valid++;
          }
        int8_t y;
        if (avg) {
          const size_t count = a->count_include_pad ? a->KH * a->KW : valid;
          const float f = count ? (float)sum * (a->scale / (float)count) : 0.0f;
          y = edgert_qs8_output(f, &a->out);
        } else {
          if (valid == 0) m = -128;
          y = (int8_t)(m < a->out.qmin ? a->out.qmin : m > a->out.qmax ? a->out.qmax : m);
        }
        out[(oy * a->OW + ox) * a->C + c] = y;
      }
}

static int run_window_case(int avg) {
  edgert_qs8_pool_args a;
  memset(&a, 0, sizeof(a));
  a.C = tester_range(0, 2) ? tester_random_channels() : tester_range(1, 100);
  a.KH = tester_range(1, 4);
  a.KW = tester_range(1, 4);
  a.SH = tester_range(1, 3);
  a.SW = tester_range(1, 3);
  a.DH = tester_range(0, 3) ? 1 : 2;
  a.DW = tester_range(0, 3) ? 1 : 2;
  a.H = tester_range(1, 12);
  a.W = tester_range(1, 12);
  size_t pb, pr;
  tester_random_pads(a.KH, a.KW, &a.pad_top, &a.pad_left, &pb, &pr);
  a.OH = tester_out_size(a.H, a.pad_top + pb, a.KH, a.SH, a.DH);
  a.OW = tester_out_size(a.W, a.pad_left + pr, a.KW, a.SW, a.DW);
  if (a.OH == 0 || a.OW == 0) return 0;
  a.count_include_pad = (int)tester_range(0, 1);
  a.input_zero_point = tester_random_zero_point();
  a.scale = tester_log_uniform(0.01f, 50.0f);
  a.out = tester_random_output_params();
  const size_t n_in = a.H * a.W * a.C, n_out = a.OH * a.OW * a.C;
  int8_t* input = tester_alloc_i8(n_in);
  int8_t* ref = tester_alloc_i8(n_out);
  int8_t* guard = tester_alloc_i8(n_out + TESTER_GUARD_BYTES);
  int8_t* got = tester_alloc_i8(n_out + TESTER_GUARD_BYTES);
  tester_fill_i8(input, n_in, -128, 127);
  tester_fill_i8(guard, n_out + TESTER_GUARD_BYTES, -128, 127);
  a.input = input;
  size_t oy0, oy1;
  tester_random_rows(a.OH, &oy0, &oy1);
  const tester_rows live = {a.OW * a.C, oy0, oy1};
  memcpy(ref, guard, n_out);
  naive(&a, avg, ref, oy0, oy1);
  int fail = 0;
  for (size_t v = 0; v < TESTER_ARRAY_SIZE(variants) && !fail; v++) {
    if (v > 0 && !tester_simd_available()) break;
    memcpy(got, guard, n_out + TESTER_GUARD_BYTES);
    a.output = got;
    (avg ? variants[v].avgpool : variants[v].maxpool)(&a, oy0, oy1);
    if (!tester_untouched_i8(variants[v].name, guard, got, n_out, tester_row_live, &live) ||
        !tester_untouched_i8(variants[v].name, guard + n_out, got + n_out, TESTER_GUARD_BYTES, NULL, NULL) ||
        tester_check_i8(variants[v].name, ref, got, n_out)) {
      printf("  %s " TESTER_WINDOW_FMT " pad_br=%zu,%zu include_pad=%d zp_in=%d scale=%g "
             TESTER_OUTPUT_FMT " rows=[%zu,%zu)\n", avg ? "avgpool" : "maxpool",
             TESTER_WINDOW_ARGS(a), pb, pr, a.count_include_pad, a.input_zero_point, a.scale,
             TESTER_OUTPUT_ARGS(a.out), oy0, oy1);
      fail = 1;
    }
  }
  free(input);
  free(ref);
  free(guard);
  free(got);
  return fail;
}

static int run_global_case(void) {
  const size_t pixels = tester_range(0, 3) ? tester_range(1, 60) : tester_range(100, 3200);
  const size_t stride = tester_random_channels() + tester_range(0, 40);
  const size_t c0 = tester_range(0, stride - 1), C = tester_range(1, stride - c0);
  edgert_qs8_global_avgpool_params p;
  p.input_zero_point = tester_random_zero_point();
  p.scale = tester_log_uniform(0.01f, 50.0f);
  p.out = tester_random_output_params();
  int8_t* input = tester_alloc_i8(pixels * stride);
  int8_t* ref = tester_alloc_i8(C);
  int8_t* guard = tester_alloc_i8(C + TESTER_GUARD_BYTES);
  int8_t* got = tester_alloc_i8(C + TESTER_GUARD_BYTES);
  tester_fill_i8(input, pixels * stride, -128, 127);
  tester_fill_i8(guard, C + TESTER_GUARD_BYTES, -128, 127);
  for (size_t c = 0; c < C; c++) {
    int32_t sum = 0;
    for (size_t i = 0; i < pixels; i++) sum += input[i * stride + c0 + c] - p.input_zero_point;
    ref[c] = edgert_qs8_output((float)sum * (p.scale / (float)pixels), &p.out);
  }
  int fail = 0;
  for (size_t v = 0; v < TESTER_ARRAY_SIZE(variants) && !fail; v++) {
    if (v > 0 && !tester_simd_available()) break;
    memcpy(got, guard, C + TESTER_GUARD_BYTES);
    variants[v].global_avgpool(pixels, C, stride, input + c0, got, &p);
    if (!tester_untouched_i8(variants[v].name, guard + C, got + C, TESTER_GUARD_BYTES, NULL, NULL) ||
        tester_check_i8(variants[v].name, ref, got, C)) {
      printf("  global_avgpool pixels=%zu C=%zu stride=%zu zp_in=%d scale=%g " TESTER_OUTPUT_FMT "\n",
             pixels, C, stride, p.input_zero_point, p.scale, TESTER_OUTPUT_ARGS(p.out));
      fail = 1;
    }
  }
  free(input);
  free(ref);
  free(guard);
  free(got);
  return fail;
}

int main(int argc, char** argv) {
  tester_init(argc, argv, "qs8-pool");
  for (size_t v = 0; v < TESTER_ARRAY_SIZE(variants); v++)
    tester_report_variant(variants[v].name, v == 0 ? tester_always : tester_simd_available);
  for (int i = 0; i < 1500; i++) {
    if (run_window_case(0) || run_window_case(1) || run_global_case()) return 1;
  }
  printf("[qs8-pool] OK\n");
  return 0;
}
