/* f32-conv tester: im2col and col2im (NHWC) checked through whole convolutions against naive
 * direct loops: Conv = im2col + matmul vs direct sum over taps; ConvTranspose = matmul + col2im
 * vs a gather over the input pixels that reach each output pixel. Random odd sizes, strides,
 * dilations, padding (including padding wider than the kernel), grouped inputs (pixel stride
 * > C) and pixel sub-ranges; inputs are exact-size and outputs guarded.
 *   f32-conv-tester [seed]
 */
#include "tester.h"

#include "edgert/f32-conv.h"

typedef struct {
  size_t H, W, C, KH, KW, SH, SW, DH, DW, pad_top, pad_left;
} geometry;

static geometry random_geometry(void) {
  geometry g;
  g.H = tester_range(1, 9);
  g.W = tester_range(1, 9);
  g.C = tester_range(0, 3) == 0 ? tester_range(8, 20) : tester_range(1, 7);
  g.KH = tester_range(1, 4);
  g.KW = tester_range(1, 4);
  g.SH = tester_range(1, 3);
  g.SW = tester_range(1, 3);
  g.DH = tester_range(0, 2) == 0 ? tester_range(2, 3) : 1;
  g.DW = tester_range(0, 2) == 0 ? tester_range(2, 3) : 1;
  g.pad_top = tester_range(0, 4);
  g.pad_left = tester_range(0, 4);
  return g;
}

static void describe(const char* what, const geometry* g) {
  printf("  %s: " TESTER_WINDOW_FMT "\n", what, TESTER_WINDOW_ARGS(*g));
}

/* Conv (one group of a grouped conv) through im2col on output pixels [p0, p1). */
static int test_im2col(void) {
  geometry g;
  ptrdiff_t span_h, span_w;
  do { /* redraw until the dilated kernel fits in the padded input */
    g = random_geometry();
    const size_t pad_bottom = tester_range(0, 4), pad_right = tester_range(0, 4);
    span_h = (ptrdiff_t)(g.H + g.pad_top + pad_bottom) - (ptrdiff_t)(g.DH * (g.KH - 1) + 1);
    span_w = (ptrdiff_t)(g.W + g.pad_left + pad_right) - (ptrdiff_t)(g.DW * (g.KW - 1) + 1);
  } while (span_h < 0 || span_w < 0);
  const size_t OH = (size_t)span_h / g.SH + 1, OW = (size_t)span_w / g.SW + 1;
  /* Any range of output pixels, not only whole rows. */
  const size_t p0 = tester_range(0, OH * OW - 1), p1 = tester_range(p0 + 1, OH * OW);

  /* Grouped input: this group's channels sit at group_offset inside wider pixels. */
  const size_t pixel_stride = g.C + (tester_range(0, 1) ? tester_range(1, 5) : 0);
  const size_t group_offset = tester_range(0, pixel_stride - g.C);
  const size_t in_floats = (g.H * g.W - 1) * pixel_stride + group_offset + g.C; /* exact */
  float* input_buf = tester_alloc_floats(in_floats);
  tester_fill(input_buf, in_floats, -1.0f, 1.0f);
  const float* input = input_buf + group_offset;

  const size_t K = g.KH * g.KW * g.C, OC = tester_range(1, 4);
  const size_t rows = p1 - p0;
  float* weights = tester_alloc_floats(K * OC); /* [(ky, kx, c)][oc] */
  tester_fill(weights, K * OC, -1.0f, 1.0f);
  float* cols = tester_alloc_floats(rows * K + TESTER_GUARD_FLOATS);
  tester_set_sentinel(cols, rows * K + TESTER_GUARD_FLOATS);

  edgert_f32_im2col_nhwc(input, g.H, g.W, g.C, pixel_stride, g.KH, g.KW, g.SH, g.SW, g.DH, g.DW,
                         g.pad_top, g.pad_left, OW, p0, p1, cols);

  float* direct = tester_alloc_floats(rows * OC);
  float* via_cols = tester_alloc_floats(rows * OC);
  for (size_t p = p0; p < p1; p++) {
    {
      const size_t oy = p / OW, ox = p % OW, row = p - p0;
      for (size_t oc = 0; oc < OC; oc++) {
        double acc = 0.0, acc_cols = 0.0;
        for (size_t ky = 0; ky < g.KH; ky++) {
          for (size_t kx = 0; kx < g.KW; kx++) {
            const ptrdiff_t iy = (ptrdiff_t)(oy * g.SH + ky * g.DH) - (ptrdiff_t)g.pad_top;
            const ptrdiff_t ix = (ptrdiff_t)(ox * g.SW + kx * g.DW) - (ptrdiff_t)g.pad_left;
            for (size_t c = 0; c < g.C; c++) {
              const double w = weights[((ky * g.KW + kx) * g.C + c) * OC + oc];
              if (iy >= 0 && iy < (ptrdiff_t)g.H && ix >= 0 && ix < (ptrdiff_t)g.W) {
                acc += w * input[((size_t)iy * g.W + (size_t)ix) * pixel_stride + c];
              }
            }
          }
        }
        for (size_t k = 0; k < K; k++) acc_cols += (double)cols[row * K + k] * weights[k * OC + oc];
        direct[row * OC + oc] = (float)acc;
        via_cols[row * OC + oc] = (float)acc_cols;
      }
    }
  }
  int fail = !tester_guard_intact(cols + rows * K) ||
             tester_check_f32("im2col conv", direct, via_cols, rows * OC, 1e-5f);
  if (fail) {
    describe("im2col", &g);
    printf("    pixel_stride=%zu group_offset=%zu OH=%zu OW=%zu pixels=[%zu,%zu)\n", pixel_stride,
           group_offset, OH, OW, p0, p1);
  }
  free(input_buf);
  free(weights);
  free(cols);
  free(direct);
  free(via_cols);
  return fail;
}

/* ConvTranspose through col2im, on an output of any size near the natural one (taps falling
 * outside it are dropped, uncovered pixels keep the bias). */
static int test_col2im(void) {
  const geometry g = random_geometry();
  const size_t natural_h = (g.H - 1) * g.SH + g.DH * (g.KH - 1) + 1;
  const size_t natural_w = (g.W - 1) * g.SW + g.DW * (g.KW - 1) + 1;
  const size_t OH = tester_range(1, natural_h + 2), OW = tester_range(1, natural_w + 2);
  const size_t CI = tester_range(1, 4), C = g.C, taps = g.KH * g.KW;

  float* input = tester_alloc_floats(g.H * g.W * CI);
  float* weights = tester_alloc_floats(CI * taps * C); /* [ci][(ky, kx, c)] */
  float* bias = tester_alloc_floats(C);
  tester_fill(input, g.H * g.W * CI, -1.0f, 1.0f);
  tester_fill(weights, CI * taps * C, -1.0f, 1.0f);
  tester_fill(bias, C, -1.0f, 1.0f);

  const size_t cols_floats = g.H * g.W * taps * C;
  float* cols = tester_alloc_floats(cols_floats); /* exact */
  for (size_t p = 0; p < g.H * g.W; p++) {
    for (size_t n = 0; n < taps * C; n++) {
      double acc = 0.0;
      for (size_t ci = 0; ci < CI; ci++) {
        acc += (double)input[p * CI + ci] * weights[ci * taps * C + n];
      }
      cols[p * taps * C + n] = (float)acc;
    }
  }
  const size_t out_floats = OH * OW * C;
  float* output = tester_alloc_floats(out_floats + TESTER_GUARD_FLOATS);
  for (size_t i = 0; i < out_floats; i++) output[i] = bias[i % C];
  tester_set_sentinel(output + out_floats, TESTER_GUARD_FLOATS);

  edgert_f32_col2im_nhwc(cols, g.H, g.W, C, g.KH, g.KW, g.SH, g.SW, g.DH, g.DW, g.pad_top,
                         g.pad_left, OH, OW, output);

  float* direct = tester_alloc_floats(out_floats);
  for (size_t oy = 0; oy < OH; oy++) {
    for (size_t ox = 0; ox < OW; ox++) {
      for (size_t c = 0; c < C; c++) {
        double acc = bias[c];
        for (size_t ky = 0; ky < g.KH; ky++) {
          for (size_t kx = 0; kx < g.KW; kx++) {
            /* Input pixel whose tap (ky, kx) lands here, if any. */
            const ptrdiff_t ty = (ptrdiff_t)(oy + g.pad_top) - (ptrdiff_t)(ky * g.DH);
            const ptrdiff_t tx = (ptrdiff_t)(ox + g.pad_left) - (ptrdiff_t)(kx * g.DW);
            if (ty < 0 || tx < 0 || ty % (ptrdiff_t)g.SH || tx % (ptrdiff_t)g.SW) continue;
            const size_t iy = (size_t)ty / g.SH, ix = (size_t)tx / g.SW;
            if (iy >= g.H || ix >= g.W) continue;
            for (size_t ci = 0; ci < CI; ci++) {
              acc += (double)input[(iy * g.W + ix) * CI + ci] *
                     weights[ci * taps * C + (ky * g.KW + kx) * C + c];
            }
          }
        }
        direct[(oy * OW + ox) * C + c] = (float)acc;
      }
    }
  }
  int fail = !tester_guard_intact(output + out_floats) ||
             tester_check_f32("col2im conv-transpose", direct, output, out_floats, 1e-5f);
  if (fail) {
    describe("col2im", &g);
    printf("    CI=%zu OH=%zu OW=%zu\n", CI, OH, OW);
  }
  free(input);
  free(weights);
  free(bias);
  free(cols);
  free(output);
  free(direct);
  return fail;
}

int main(int argc, char** argv) {
  if (tester_take_flag(&argc, argv, "--bench")) {
    printf("[f32-conv] no benchmark (layout copies; timed with the convolutions that use them)\n");
    return 0;
  }
  tester_init(argc, argv, "f32-conv");
  const int cases = 2000;
  int im2col_fails = 0, col2im_fails = 0;
  for (int i = 0; i < cases; i++) im2col_fails += test_im2col();
  for (int i = 0; i < cases; i++) col2im_fails += test_col2im();
  printf("  im2col_nhwc    %d cases, %d failed\n", cases, im2col_fails);
  printf("  col2im_nhwc    %d cases, %d failed\n", cases, col2im_fails);
  const int fails = im2col_fails + col2im_fails;
  printf("[f32-conv] %s\n", fails ? "FAILED" : "all passed");
  return fails ? 1 : 0;
}
