/* qs8 stem convolution: the scalar spec against a direct formula on the unpacked ONNX weights,
 * and every compiled variant against it, bit for bit (random C_in 1..4, C_out across block
 * tails, kernels 1..7, strides, vertical dilation, padding wider than the kernel, extreme zero
 * points and scales, clamps, row sub-ranges, guarded outputs).
 *   qs8-conv-stem-tester [seed]      correctness
 *   qs8-conv-stem-tester --bench     single-thread GMAC/s per variant on stem shapes
 */
#include "tester.h"

#include "edgert/qs8-conv-stem.h"

#define VARIANT(arch, available) {#arch, edgert_qs8_conv_stem__##arch, EDGERT_QS8_CONV_STEM_PAIRS, available}
static const struct {
  const char* name;
  edgert_qs8_conv_stem_fn fn;
  edgert_qs8_conv_stem_layout layout;
  int (*available)(void);
} variants[] = {
    VARIANT(scalar, tester_always), TESTER_SIMD_VARIANTS(VARIANT)
#if EDGERT_ARCH_X86_64
    {"avx512vnni", edgert_qs8_conv_stem__avx512vnni, EDGERT_QS8_CONV_STEM_QUADS, tester_has_avx512_vnni},
#endif
};
#undef VARIANT

/* Weights packed in a variant's layout (aligned; free() them). */
static void* pack_for(edgert_qs8_conv_stem_layout layout, const edgert_qs8_conv_stem_args* a,
                      const int8_t* weights, const int32_t* bias) {
  void* packed = tester_alloc_aligned_bytes(
      edgert_qs8_conv_stem_packed_bytes(layout, a->C_in, a->C_out, a->KH, a->KW));
  edgert_qs8_conv_stem_pack(layout, a->C_in, a->C_out, a->KH, a->KW, weights, bias,
                            a->input_zero_point, packed);
  return packed;
}

/* int64 sum of (x - zp_in) * w over the in-image taps plus the bias, requantized. */
static void naive(const edgert_qs8_conv_stem_args* a, const int8_t* weights, const int32_t* bias,
                  int8_t* out, size_t oy0, size_t oy1) {
  for (size_t oy = oy0; oy < oy1; oy++)
    for (size_t ox = 0; ox < a->OW; ox++)
      for (size_t n = 0; n < a->C_out; n++) {
        int64_t acc = bias ? bias[n] : 0;
        for (size_t ky = 0; ky < a->KH; ky++)
          for (size_t kx = 0; kx < a->KW; kx++) {
            const long iy = tester_tap(oy, a->SH, ky, a->DH, a->pad_top, a->H);
            const long ix = tester_tap(ox, a->SW, kx, 1, a->pad_left, a->W);
            if (iy < 0 || ix < 0) continue;
            for (size_t c = 0; c < a->C_in; c++) {
              const int32_t x = a->input[((size_t)iy * a->W + (size_t)ix) * a->C_in + c];
              acc += (int64_t)(x - a->input_zero_point) *
                     weights[((n * a->C_in + c) * a->KH + ky) * a->KW + kx];
            }
          }
        out[(oy * a->OW + ox) * a->C_out + n] = edgert_qs8_requantize((int32_t)acc, a->scales[n], &a->out);
      }
}

static int run_case(size_t* checked) {
  edgert_qs8_conv_stem_args a;
  memset(&a, 0, sizeof(a));
  a.C_in = tester_range(1, EDGERT_QS8_CONV_STEM_MAX_CHANNELS);
  a.C_out = tester_range(0, 2) ? tester_random_channels() : tester_range(1, 40);
  a.KH = tester_range(1, 7);
  a.KW = tester_range(1, 7);
  a.SH = tester_range(1, 3);
  a.SW = tester_range(1, 3);
  a.DH = tester_range(1, 2);
  const int big = tester_range(0, 4) == 0;
  a.H = tester_range(1, big ? 24 : 9);
  a.W = tester_range(1, big ? 60 : 13);
  const size_t pad_max = tester_range(0, 3) == 0 ? a.KW + 3 : a.KW / 2 + 1;
  size_t pad_bottom, pad_right;
  tester_random_pads(pad_max, pad_max, &a.pad_top, &a.pad_left, &pad_bottom, &pad_right);
  a.OH = tester_out_size(a.H, a.pad_top + pad_bottom, a.KH, a.SH, a.DH);
  a.OW = tester_out_size(a.W, a.pad_left + pad_right, a.KW, a.SW, 1);
  if (a.OH == 0 || a.OW == 0) return 0;
  a.input_zero_point = tester_random_zero_point();
  a.out = tester_random_output_params();
  const int with_bias = tester_range(0, 3) != 0;
  const size_t K = a.KH * a.KW * a.C_in;
  float s_lo, s_hi;
  tester_random_scale_range(K, &s_lo, &s_hi);

  const size_t n_in = a.H * a.W * a.C_in, n_out = a.OH * a.OW * a.C_out, n_w = a.C_out * K;
  int8_t* input = tester_alloc_i8(n_in);
  int8_t* weights = tester_alloc_i8(n_w);
  int32_t* bias = with_bias ? malloc(a.C_out * sizeof(int32_t)) : NULL;
  float* scales = tester_alloc_floats(a.C_out);
  int8_t* ref = tester_alloc_i8(n_out);
  int8_t* guard = tester_alloc_i8(n_out + TESTER_GUARD_BYTES);
  int8_t* got = tester_alloc_i8(n_out + TESTER_GUARD_BYTES);
  int16_t* scratch = malloc(edgert_qs8_conv_stem_scratch_elems(a.C_in, a.KH, a.KW, a.SW, a.OW) * sizeof(int16_t));
  tester_fill_i8(input, n_in, -128, 127);
  tester_fill_i8(weights, n_w, -128, 127);
  if (tester_range(0, 9) == 0) { /* the largest sums */
    memset(input, tester_range(0, 1) ? 0x80 : 0x7f, n_in);
    memset(weights, tester_range(0, 1) ? 0x80 : 0x7f, n_w);
  }
  for (size_t n = 0; n < a.C_out; n++) {
    if (bias) bias[n] = (int32_t)tester_range(0, 100000) - 50000;
    scales[n] = tester_log_uniform(s_lo, s_hi);
  }
  tester_fill_i8(guard, n_out + TESTER_GUARD_BYTES, -128, 127);
  a.input = input;
  a.scales = scales;
  a.scratch = scratch;

  size_t oy0, oy1;
  tester_random_rows(a.OH, &oy0, &oy1);
  const tester_rows live = {a.OW * a.C_out, oy0, oy1};
  char what[320];
  snprintf(what, sizeof(what),
           "H=%zu W=%zu C_in=%zu C_out=%zu K=%zux%zu S=%zux%zu DH=%zu pad_tl=%zu,%zu pad_br=%zu,%zu "
           "zp_in=%d " TESTER_OUTPUT_FMT " bias=%d rows=[%zu,%zu)",
           a.H, a.W, a.C_in, a.C_out, a.KH, a.KW, a.SH, a.SW, a.DH, a.pad_top, a.pad_left,
           pad_bottom, pad_right, a.input_zero_point, TESTER_OUTPUT_ARGS(a.out), with_bias, oy0, oy1);

  int fail = 0;
  memcpy(ref, guard, n_out);
  naive(&a, weights, bias, ref, oy0, oy1);
  for (size_t v = 0; v < TESTER_ARRAY_SIZE(variants) && !fail; v++) {
    if (!variants[v].available()) continue;
    a.output = got;
    memcpy(got, guard, n_out + TESTER_GUARD_BYTES);
    void* packed = pack_for(variants[v].layout, &a, weights, bias);
    a.packed = packed;
    variants[v].fn(&a, oy0, oy1);
    free(packed);
    const char* who = variants[v].name;
    if (!tester_untouched_i8(who, guard, got, n_out, tester_row_live, &live) ||
        !tester_untouched_i8(who, guard + n_out, got + n_out, TESTER_GUARD_BYTES, NULL, NULL) ||
        tester_check_i8(who, ref, got, n_out)) {
      printf("  %s\n", what);
      fail = 1;
    }
    (*checked)++;
  }
  free(input);
  free(weights);
  free(bias);
  free(scales);
  free(ref);
  free(guard);
  free(got);
  free(scratch);
  return fail;
}

/* Stem shapes: FemtoDet 3->8 3x3 s2 at 256, MobileNet 3->32 3x3 s2 at 224, ResNet 3->64 7x7 s2. */
static const struct {
  size_t HW, C_in, C_out, K, S;
} bench_shapes[] = {{256, 3, 8, 3, 2}, {224, 3, 16, 3, 2}, {224, 3, 32, 3, 2}, {224, 3, 64, 7, 2}};

static void bench(void) {
  printf("single thread GMAC/s (best of many calls); 'same' padding (k-1)/2\n");
  printf("%-18s", "H=W,Cin,Cout,k,s");
  for (size_t v = 0; v < TESTER_ARRAY_SIZE(variants); v++) printf(" %10s", variants[v].name);
  printf("\n");
  for (size_t i = 0; i < TESTER_ARRAY_SIZE(bench_shapes); i++) {
    edgert_qs8_conv_stem_args a;
    memset(&a, 0, sizeof(a));
    a.H = a.W = bench_shapes[i].HW;
    a.C_in = bench_shapes[i].C_in;
    a.C_out = bench_shapes[i].C_out;
    a.KH = a.KW = bench_shapes[i].K;
    a.SH = a.SW = bench_shapes[i].S;
    a.DH = 1;
    a.pad_top = a.pad_left = (a.KH - 1) / 2;
    a.OH = a.OW = tester_out_size(a.H, 2 * a.pad_top, a.KH, a.SH, 1);
    a.input_zero_point = -3;
    a.out = (edgert_qs8_output_params){-128, -128, 100};
    const size_t n_w = a.C_out * a.C_in * a.KH * a.KW;
    int8_t* input = tester_alloc_aligned_bytes(a.H * a.W * a.C_in);
    int8_t* weights = tester_alloc_i8(n_w);
    float* scales = tester_alloc_floats(a.C_out);
    tester_fill_i8(input, a.H * a.W * a.C_in, -128, 127);
    tester_fill_i8(weights, n_w, -128, 127);
    for (size_t n = 0; n < a.C_out; n++) scales[n] = 1e-3f;
    a.input = input;
    a.output = tester_alloc_aligned_bytes(a.OH * a.OW * a.C_out);
    a.scales = scales;
    a.scratch = malloc(edgert_qs8_conv_stem_scratch_elems(a.C_in, a.KH, a.KW, a.SW, a.OW) * sizeof(int16_t));
    printf("%3zu,%zu,%2zu,%zu,%zu       ", a.H, a.C_in, a.C_out, a.KH, a.SH);
    for (size_t v = 0; v < TESTER_ARRAY_SIZE(variants); v++) {
      if (!variants[v].available()) {
        printf(" %10s", "-");
        continue;
      }
      void* packed = pack_for(variants[v].layout, &a, weights, NULL);
      a.packed = packed;
      double best = 1e30;
      const double end = tester_now() + 0.3;
      for (int r = 0; r < 3 || (tester_now() < end && r < 2000); r++) {
        const double t0 = tester_now();
        variants[v].fn(&a, 0, a.OH);
        const double t = tester_now() - t0;
        if (t < best) best = t;
      }
      printf(" %10.1f", (double)(a.OH * a.OW * n_w) / best * 1e-9);
      free(packed);
    }
    printf("\n");
    free(input);
    free(weights);
    free(scales);
    free(a.output);
    free(a.scratch);
  }
}

int main(int argc, char** argv) {
  if (tester_init_bench(argc, argv, "qs8-conv-stem")) {
    bench();
    return 0;
  }
  if (!tester_simd_available()) printf("no SIMD variant runs here: checking the scalar spec only\n");
  size_t checked = 0;
  for (int iter = 0; iter < 1500; iter++)
    if (run_case(&checked)) return 1;
  printf("[qs8-conv-stem] OK: %zu checks\n", checked);
  return 0;
}
