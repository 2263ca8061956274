#include "edgert/operators.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "edgert/f32-conv.h"

/* Tiles per thread for dynamic load balancing: enough to even out uneven tiles,
 * few enough that per-tile overhead stays negligible. */
#define TILES_PER_THREAD 6

static size_t threads_of(edgert_threadpool* pool) { return edgert_threadpool_threads(pool); }

/* ---------------------------------------------------------------- GEMM */

size_t edgert_gemm_nr(void) { return edgert_dispatch()->gemm_nr; }

size_t edgert_gemm_packed_floats(size_t K, size_t N) {
  return edgert_f32_gemm_packed_floats(K, N, edgert_gemm_nr());
}

void edgert_gemm_pack(size_t K, size_t N, const float* B, size_t k_stride, size_t n_stride,
                      const float* bias, float* packed) {
  edgert_f32_gemm_pack(K, N, edgert_gemm_nr(), B, k_stride, n_stride, bias, packed);
}

typedef struct {
  edgert_f32_gemm_fn fn;
  size_t M, N, K, lda, ldc, mr, nr, m_tile, n_tile, m_tiles;
  const float* A;
  const float* packed;
  float* C;
  edgert_f32_minmax_params params;
} gemm_task;

static void gemm_tiles(void* ctx, size_t start, size_t end) {
  const gemm_task* t = (const gemm_task*)ctx;
  for (size_t i = start; i < end; i++) {
    size_t m0 = (i % t->m_tiles) * t->m_tile;
    size_t n0 = (i / t->m_tiles) * t->n_tile;
    size_t m = edgert_min_sz(t->m_tile, t->M - m0);
    size_t n = edgert_min_sz(t->n_tile, t->N - n0);
    const float* panel = t->packed + (n0 / t->nr) * (t->nr + t->K * t->nr);
    t->fn(m, n, t->K, t->A + m0 * t->lda, t->lda, panel, t->C + m0 * t->ldc + n0, t->ldc,
          &t->params);
  }
}

void edgert_op_gemm(edgert_threadpool* pool, size_t M, size_t N, size_t K, const float* A,
                    size_t lda, const float* packed, float* C, size_t ldc, float min, float max) {
  const edgert_dispatch_table* d = edgert_dispatch();
  gemm_task t = {.fn = d->gemm, .M = M, .N = N, .K = K, .lda = lda, .ldc = ldc, .mr = d->gemm_mr,
                 .nr = d->gemm_nr, .A = A, .packed = packed, .C = C, .params = {min, max}};
  size_t threads = threads_of(pool);
  if (threads == 1 || M == 0 || N == 0) {
    if (M != 0 && N != 0) t.fn(M, N, K, A, lda, packed, C, ldc, &t.params);
    return;
  }
  size_t target = threads * TILES_PER_THREAD;
  size_t m_blocks = edgert_divide_round_up(M, t.mr);
  size_t n_panels = edgert_divide_round_up(N, t.nr);
  size_t m_splits = edgert_min_sz(m_blocks, target);
  size_t n_splits = edgert_min_sz(n_panels, edgert_divide_round_up(target, m_splits));
  t.m_tile = edgert_divide_round_up(m_blocks, m_splits) * t.mr;
  t.n_tile = edgert_divide_round_up(n_panels, n_splits) * t.nr;
  t.m_tiles = edgert_divide_round_up(M, t.m_tile);
  size_t tiles = t.m_tiles * edgert_divide_round_up(N, t.n_tile);
  edgert_threadpool_parallelize(pool, gemm_tiles, &t, tiles, 1);
}

/* ---------------------------------------------------------------- Conv (im2col + GEMM) */

/* Images whose whole im2col matrix fits in this many floats (4 MiB) are lowered at once and
 * handed to the threaded GEMM, which then reads the weights once; larger ones go in pixel
 * blocks whose im2col stays near IM2COL_BLOCK_FLOATS (L2). */
#define IM2COL_WHOLE_IMAGE_FLOATS (1u << 20)
#define IM2COL_BLOCK_FLOATS (64 * 1024)
#define IM2COL_MIN_BLOCK_ROWS 8 /* GEMM row tiles per block, at the least */

typedef struct {
  const edgert_conv_shape* s;
  const float* input;
  const float* packed;
  float* output;
  size_t block_pixels, blocks_per_image, k_group, cin_g, cout_g, group_stride;
  size_t image, group;  /* whole-image path: which image and group is being lowered */
  float* cols;          /* whole-image path: the image's im2col matrix */
  edgert_f32_gemm_fn fn;
  int failed;
} conv_task;

static void im2col_pixels(const conv_task* t, size_t b, size_t g, size_t p0, size_t p1, float* cols) {
  const edgert_conv_shape* s = t->s;
  const float* image = t->input + b * s->H * s->W * s->C_in;
  edgert_f32_im2col_nhwc(image + g * t->cin_g, s->H, s->W, t->cin_g, s->C_in, s->KH, s->KW, s->SH,
                         s->SW, s->DH, s->DW, s->pad_top, s->pad_left, s->OW, p0, p1, cols);
}

static void conv_blocks(void* ctx, size_t start, size_t end) {
  conv_task* t = (conv_task*)ctx;
  const edgert_conv_shape* s = t->s;
  const edgert_f32_minmax_params params = {s->min, s->max};
  float* cols = malloc(t->block_pixels * t->k_group * sizeof(float));
  if (cols == NULL) {
    t->failed = 1;
    return;
  }
  const size_t pixels = s->OH * s->OW;
  for (size_t i = start; i < end; i++) {
    size_t g = i % s->groups;
    size_t block = i / s->groups;
    size_t b = block / t->blocks_per_image;
    size_t p0 = (block % t->blocks_per_image) * t->block_pixels;
    size_t p1 = edgert_min_sz(p0 + t->block_pixels, pixels);
    im2col_pixels(t, b, g, p0, p1, cols);
    float* out = t->output + (b * pixels + p0) * s->C_out + g * t->cout_g;
    t->fn(p1 - p0, t->cout_g, t->k_group, cols, t->k_group, t->packed + g * t->group_stride, out,
          s->C_out, &params);
  }
  free(cols);
}

static void im2col_chunks(void* ctx, size_t start, size_t end) {
  const conv_task* t = (const conv_task*)ctx;
  im2col_pixels(t, t->image, t->group, start, end, t->cols + start * t->k_group);
}

int edgert_op_conv2d(edgert_threadpool* pool, const edgert_conv_shape* s, const float* input,
                     const float* packed, float* output) {
  size_t cin_g = s->C_in / s->groups, cout_g = s->C_out / s->groups;
  size_t k_group = s->KH * s->KW * cin_g;
  size_t group_stride = edgert_gemm_packed_floats(k_group, cout_g);
  int pointwise = s->KH == 1 && s->KW == 1 && s->SH == 1 && s->SW == 1 && s->pad_top == 0 &&
                  s->pad_left == 0 && s->OH == s->H && s->OW == s->W;
  if (pointwise) { /* NHWC 1x1 conv is a GEMM over all pixels; groups index channel slices */
    for (size_t g = 0; g < s->groups; g++)
      edgert_op_gemm(pool, s->batch * s->H * s->W, cout_g, cin_g, input + g * cin_g, s->C_in,
                     packed + g * group_stride, output + g * cout_g, s->C_out, s->min, s->max);
    return 0;
  }
  const edgert_dispatch_table* d = edgert_dispatch();
  const size_t pixels = s->OH * s->OW;
  conv_task t = {.s = s, .input = input, .packed = packed, .output = output, .k_group = k_group,
                 .cin_g = cin_g, .cout_g = cout_g, .group_stride = group_stride, .fn = d->gemm};
  if (pixels * k_group <= IM2COL_WHOLE_IMAGE_FLOATS) {
    t.cols = malloc(pixels * k_group * sizeof(float));
    if (t.cols == NULL) return -1;
    for (t.image = 0; t.image < s->batch; t.image++) {
      for (t.group = 0; t.group < s->groups; t.group++) {
        edgert_threadpool_parallelize(pool, im2col_chunks, &t, pixels, 64);
        edgert_op_gemm(pool, pixels, cout_g, k_group, t.cols, k_group, packed + t.group * group_stride,
                       output + t.image * pixels * s->C_out + t.group * cout_g, s->C_out, s->min,
                       s->max);
      }
    }
    free(t.cols);
    return 0;
  }
  /* Pixel blocks depend on the shape only, never on the thread count, and are whole GEMM row
   * tiles: every output is summed in the same order however many threads run. */
  size_t block = edgert_max_sz(IM2COL_MIN_BLOCK_ROWS * d->gemm_mr, IM2COL_BLOCK_FLOATS / k_group);
  t.block_pixels = edgert_round_up(edgert_min_sz(block, pixels), d->gemm_mr);
  t.blocks_per_image = edgert_divide_round_up(pixels, t.block_pixels);
  edgert_threadpool_parallelize(pool, conv_blocks, &t, s->batch * t.blocks_per_image * s->groups, 1);
  return t.failed ? -1 : 0;
}

/* ---------------------------------------------------------------- Stem conv (NCHW input) */

#define STEM_TILE_PIXELS 64

typedef struct {
  const edgert_conv_shape* s;
  const float* input;
  const float* packed;
  float* output;
  size_t tiles_per_image;
  edgert_f32_conv_stem_fn fn;
} stem_task;

static void stem_tiles(void* ctx, size_t start, size_t end) {
  const stem_task* t = (const stem_task*)ctx;
  const edgert_conv_shape* s = t->s;
  const size_t pixels = s->OH * s->OW;
  for (size_t i = start; i < end; i++) {
    size_t b = i / t->tiles_per_image;
    size_t p0 = (i % t->tiles_per_image) * STEM_TILE_PIXELS;
    edgert_f32_conv_stem_args a = {
        .input = t->input + b * s->C_in * s->H * s->W, .output = t->output + b * pixels * s->C_out,
        .packed = t->packed, .H = s->H, .W = s->W, .C_in = s->C_in, .C_out = s->C_out,
        .OH = s->OH, .OW = s->OW, .KH = s->KH, .KW = s->KW, .SH = s->SH, .SW = s->SW,
        .DH = s->DH, .DW = s->DW, .pad_top = s->pad_top, .pad_left = s->pad_left, .min = s->min,
        .max = s->max};
    t->fn(&a, p0, edgert_min_sz(p0 + STEM_TILE_PIXELS, pixels));
  }
}

void edgert_op_conv_stem(edgert_threadpool* pool, const edgert_conv_shape* s, const float* input,
                         const float* packed, float* output) {
  stem_task t = {.s = s, .input = input, .packed = packed, .output = output,
                 .tiles_per_image = edgert_divide_round_up(s->OH * s->OW, STEM_TILE_PIXELS),
                 .fn = edgert_dispatch()->conv_stem};
  edgert_threadpool_parallelize(pool, stem_tiles, &t, s->batch * t.tiles_per_image, 1);
}

/* ---------------------------------------------------------------- Depthwise conv and pools */

typedef struct {
  const edgert_conv_shape* s;
  const float* input;
  float* output;
  size_t in_image, out_image, rows_per_tile, tiles_per_image;
  /* depthwise */
  edgert_f32_dwconv_fn dw;
  const float* packed;
  /* pools */
  edgert_f32_pool_fn pool_fn;
  int count_include_pad;
} window_task;

static void dwconv_tiles(void* ctx, size_t start, size_t end) {
  const window_task* t = (const window_task*)ctx;
  const edgert_conv_shape* s = t->s;
  for (size_t i = start; i < end; i++) {
    size_t b = i / t->tiles_per_image;
    size_t oy0 = (i % t->tiles_per_image) * t->rows_per_tile;
    edgert_f32_dwconv_args a = {
        .input = t->input + b * t->in_image, .output = t->output + b * t->out_image,
        .packed = t->packed, .H = s->H, .W = s->W, .C = s->C_in, .OH = s->OH, .OW = s->OW,
        .KH = s->KH, .KW = s->KW, .SH = s->SH, .SW = s->SW, .DH = s->DH, .DW = s->DW,
        .pad_top = s->pad_top, .pad_left = s->pad_left, .min = s->min, .max = s->max};
    t->dw(&a, oy0, edgert_min_sz(oy0 + t->rows_per_tile, s->OH));
  }
}

static void pool_tiles(void* ctx, size_t start, size_t end) {
  const window_task* t = (const window_task*)ctx;
  const edgert_conv_shape* s = t->s;
  for (size_t i = start; i < end; i++) {
    size_t b = i / t->tiles_per_image;
    size_t oy0 = (i % t->tiles_per_image) * t->rows_per_tile;
    edgert_f32_pool_args a = {
        .input = t->input + b * t->in_image, .output = t->output + b * t->out_image,
        .H = s->H, .W = s->W, .C = s->C_in, .OH = s->OH, .OW = s->OW, .KH = s->KH, .KW = s->KW,
        .SH = s->SH, .SW = s->SW, .DH = s->DH, .DW = s->DW, .pad_top = s->pad_top,
        .pad_left = s->pad_left, .count_include_pad = t->count_include_pad, .min = s->min,
        .max = s->max};
    t->pool_fn(&a, oy0, edgert_min_sz(oy0 + t->rows_per_tile, s->OH));
  }
}

static void run_rows(edgert_threadpool* pool, window_task* t, edgert_task_fn fn) {
  const edgert_conv_shape* s = t->s;
  t->in_image = s->H * s->W * s->C_in;
  t->out_image = s->OH * s->OW * s->C_out;
  size_t threads = threads_of(pool);
  /* one row per tile when threaded, whole images otherwise (no per-call overhead) */
  t->rows_per_tile = threads == 1 ? s->OH : 1;
  t->tiles_per_image = edgert_divide_round_up(s->OH, t->rows_per_tile);
  edgert_threadpool_parallelize(pool, fn, t, s->batch * t->tiles_per_image, 1);
}

void edgert_op_dwconv2d(edgert_threadpool* pool, const edgert_conv_shape* s, const float* input,
                        const float* packed, float* output) {
  window_task t = {.s = s, .input = input, .output = output, .packed = packed,
                   .dw = edgert_pick_dwconv(s->KH, s->KW, s->SH, s->SW, s->DH, s->DW)};
  run_rows(pool, &t, dwconv_tiles);
}

void edgert_op_pool2d(edgert_threadpool* pool, edgert_pool_kind kind, const edgert_conv_shape* s,
                      int count_include_pad, const float* input, float* output) {
  const edgert_dispatch_table* d = edgert_dispatch();
  window_task t = {.s = s, .input = input, .output = output,
                   .pool_fn = kind == EDGERT_POOL_MAX ? d->maxpool : d->avgpool,
                   .count_include_pad = count_include_pad};
  run_rows(pool, &t, pool_tiles);
}

typedef struct {
  edgert_f32_global_avgpool_fn fn;
  size_t pixels, C;
  const float* input;
  float* output;
} gap_task;

static void gap_images(void* ctx, size_t start, size_t end) {
  const gap_task* t = (const gap_task*)ctx;
  for (size_t b = start; b < end; b++)
    t->fn(t->pixels, t->C, t->input + b * t->pixels * t->C, t->output + b * t->C);
}

void edgert_op_global_avgpool(edgert_threadpool* pool, size_t batch, size_t pixels, size_t C,
                              const float* input, float* output) {
  gap_task t = {edgert_dispatch()->global_avgpool, pixels, C, input, output};
  edgert_threadpool_parallelize(pool, gap_images, &t, batch, 1);
}

/* ---------------------------------------------------------------- Depthwise -> 1x1 fused */

/* Depthwise rows per block: the block's output stays in L2 until the GEMM reads it. */
#define DWPW_BLOCK_FLOATS (16 * 1024)

typedef struct {
  const edgert_conv_shape* dw;
  const float* input;
  const float* dw_packed;
  const float* pw_packed;
  float* output;
  size_t pw_cout, rows_per_block, blocks_per_image;
  edgert_f32_minmax_params pw_params;
  edgert_f32_dwconv_fn dw_fn;
  edgert_f32_gemm_fn gemm;
  int failed;
} dwpw_task;

static void dwpw_blocks(void* ctx, size_t start, size_t end) {
  dwpw_task* t = (dwpw_task*)ctx;
  const edgert_conv_shape* s = t->dw;
  float* scratch = malloc(t->rows_per_block * s->OW * s->C_in * sizeof(float));
  if (scratch == NULL) {
    t->failed = 1;
    return;
  }
  for (size_t i = start; i < end; i++) {
    size_t b = i / t->blocks_per_image;
    size_t oy0 = (i % t->blocks_per_image) * t->rows_per_block;
    size_t oy1 = edgert_min_sz(oy0 + t->rows_per_block, s->OH);
    /* The block's depthwise output rows, computed from the input rows they need: a sub-image
     * starting at row iy_lo whose top padding is what remains of the real one. */
    ptrdiff_t first = (ptrdiff_t)(oy0 * s->SH) - (ptrdiff_t)s->pad_top;
    size_t iy_lo = first > 0 ? (size_t)first : 0;
    size_t iy_hi = edgert_min_sz(s->H, (oy1 - 1) * s->SH + (s->KH - 1) * s->DH + 1 > s->pad_top
                                           ? (oy1 - 1) * s->SH + (s->KH - 1) * s->DH + 1 - s->pad_top
                                           : 0);
    if (iy_hi < iy_lo) iy_hi = iy_lo;
    edgert_f32_dwconv_args a = {
        .input = t->input + (b * s->H + iy_lo) * s->W * s->C_in, .output = scratch,
        .packed = t->dw_packed, .H = iy_hi - iy_lo, .W = s->W, .C = s->C_in, .OH = oy1 - oy0,
        .OW = s->OW, .KH = s->KH, .KW = s->KW, .SH = s->SH, .SW = s->SW, .DH = s->DH,
        .DW = s->DW, .pad_top = (size_t)((ptrdiff_t)iy_lo - first), .pad_left = s->pad_left,
        .min = s->min, .max = s->max};
    t->dw_fn(&a, 0, oy1 - oy0);
    size_t pixels = (oy1 - oy0) * s->OW;
    t->gemm(pixels, t->pw_cout, s->C_in, scratch, s->C_in, t->pw_packed,
            t->output + (b * s->OH + oy0) * s->OW * t->pw_cout, t->pw_cout, &t->pw_params);
  }
  free(scratch);
}

int edgert_op_dwconv_pw(edgert_threadpool* pool, const edgert_conv_shape* dw, const float* input,
                        const float* dw_packed, const float* pw_packed, size_t pw_cout,
                        float pw_min, float pw_max, float* output) {
  const edgert_dispatch_table* d = edgert_dispatch();
  dwpw_task t = {.dw = dw, .input = input, .dw_packed = dw_packed, .pw_packed = pw_packed,
                 .output = output, .pw_cout = pw_cout, .pw_params = {pw_min, pw_max},
                 .dw_fn = edgert_pick_dwconv(dw->KH, dw->KW, dw->SH, dw->SW, dw->DH, dw->DW),
                 .gemm = d->gemm};
  /* Block rows depend on the shape only (results never depend on the thread count). */
  t.rows_per_block = edgert_max_sz(1, DWPW_BLOCK_FLOATS / edgert_max_sz(1, dw->OW * dw->C_in));
  t.rows_per_block = edgert_min_sz(t.rows_per_block, dw->OH);
  t.blocks_per_image = edgert_divide_round_up(dw->OH, t.rows_per_block);
  edgert_threadpool_parallelize(pool, dwpw_blocks, &t, dw->batch * t.blocks_per_image, 1);
  return t.failed ? -1 : 0;
}

/* ---------------------------------------------------------------- gnConv */

/* Pixels per block of the gating chain: two ping-pong buffers of `dim` floats per pixel stay in L2. */
#define GNCONV_BLOCK_FLOATS (32 * 1024)

typedef struct {
  const edgert_gnconv_shape* s;
  const float *pwa, *gates;
  const float* const* pws;
  const float* out;
  float* output;
  size_t pixels, block, gate_channels;
  edgert_f32_gemm_fn gemm;
  edgert_f32_vbinary_fn mul;
  int failed;
} gnconv_task;

static size_t gnconv_gate_channels(const edgert_gnconv_shape* s) {
  size_t c = 0;
  for (size_t i = 0; i < s->order; i++) c += s->dims[i];
  return c;
}

size_t edgert_gnconv_scratch_floats(const edgert_gnconv_shape* s) {
  const size_t pixels = s->batch * s->H * s->W;
  return pixels * (s->dims[0] + 2 * gnconv_gate_channels(s)); /* pwa, abc, gates */
}

/* y[p, c] = a[p, c] * gate[p, c] for `pixels` rows of `channels` (row strides ld_a, ld_gate;
 * y dense), on the dispatched vector multiply. */
static void gate_rows(edgert_f32_vbinary_fn mul, size_t pixels, size_t channels, const float* a, size_t ld_a,
                      const float* gate, size_t ld_gate, float* y) {
  const edgert_f32_minmax_params none = {-INFINITY, INFINITY};
  for (size_t p = 0; p < pixels; p++) mul(channels, a + p * ld_a, gate + p * ld_gate, y + p * channels, &none);
}

static void gnconv_blocks(void* ctx, size_t start, size_t end) {
  gnconv_task* t = (gnconv_task*)ctx;
  const edgert_gnconv_shape* s = t->s;
  float* buf = malloc(2 * t->block * s->dim * sizeof(float));
  if (buf == NULL) {
    t->failed = 1;
    return;
  }
  const edgert_f32_minmax_params none = {-INFINITY, INFINITY}, out = {s->out_min, s->out_max};
  for (size_t i = start; i < end; i++) {
    const size_t p0 = i * t->block, n = edgert_min_sz(t->block, t->pixels - p0);
    const float* gate = t->gates + p0 * t->gate_channels;
    float *y = buf, *next = buf + t->block * s->dim;
    const size_t d0 = s->dims[0];
    gate_rows(t->mul, n, d0, t->pwa + p0 * d0, d0, gate, t->gate_channels, y);
    size_t offset = d0;
    for (size_t k = 0; k + 1 < s->order; k++) {
      const size_t cin = s->dims[k], cout = s->dims[k + 1];
      t->gemm(n, cout, cin, y, cin, t->pws[k], next, cout, &none);
      gate_rows(t->mul, n, cout, next, cout, gate + offset, t->gate_channels, next);
      offset += cout;
      float* swap = y;
      y = next;
      next = swap;
    }
    t->gemm(n, s->dim, s->dim, y, s->dim, t->out, t->output + p0 * s->dim, s->dim, &out);
  }
  free(buf);
}

int edgert_op_gnconv(edgert_threadpool* pool, const edgert_gnconv_shape* s, const float* input,
                     const float* in_pwa, const float* in_abc, const float* dw,
                     const float* const* pws, const float* out, float* scratch, float* output) {
  const size_t pixels = s->batch * s->H * s->W, d0 = s->dims[0], gc = gnconv_gate_channels(s);
  float* pwa = scratch;
  float* abc = pwa + pixels * d0;
  float* gates = abc + pixels * gc;
  edgert_op_gemm(pool, pixels, d0, s->dim, input, s->dim, in_pwa, pwa, d0, -INFINITY, INFINITY);
  edgert_op_gemm(pool, pixels, gc, s->dim, input, s->dim, in_abc, abc, gc, -INFINITY, INFINITY);
  const size_t pad = s->kernel / 2;
  const edgert_conv_shape cs = {.batch = s->batch, .H = s->H, .W = s->W, .C_in = gc, .OH = s->H, .OW = s->W,
                                .C_out = gc, .groups = gc, .KH = s->kernel, .KW = s->kernel, .SH = 1, .SW = 1,
                                .DH = 1, .DW = 1, .pad_top = pad, .pad_left = pad, .min = -INFINITY,
                                .max = INFINITY};
  edgert_op_dwconv2d(pool, &cs, abc, dw, gates);
  gnconv_task t = {.s = s, .pwa = pwa, .gates = gates, .pws = pws, .out = out, .output = output,
                   .pixels = pixels, .gate_channels = gc, .gemm = edgert_dispatch()->gemm,
                   .mul = edgert_dispatch()->binary[EDGERT_BINARY_MUL].vv};
  /* Block size from the shape only: results never depend on the thread count. */
  t.block = edgert_max_sz(1, GNCONV_BLOCK_FLOATS / (2 * s->dim));
  edgert_threadpool_parallelize(pool, gnconv_blocks, &t, edgert_divide_round_up(pixels, t.block), 1);
  return t.failed ? -1 : 0;
}

/* ---------------------------------------------------------------- ConvTranspose */

int edgert_op_conv_transpose2d(edgert_threadpool* pool, const edgert_conv_shape* s,
                               const float* input, const float* packed, const float* bias,
                               float* output) {
  size_t cin_g = s->C_in / s->groups, cout_g = s->C_out / s->groups;
  size_t n_group = s->KH * s->KW * cout_g;
  size_t group_stride = edgert_gemm_packed_floats(cin_g, n_group);
  size_t pixels = s->H * s->W, out_pixels = s->OH * s->OW;
  float* cols = malloc(pixels * n_group * sizeof(float));
  float* slice = s->groups > 1 ? malloc(out_pixels * cout_g * sizeof(float)) : NULL;
  if (cols == NULL || (s->groups > 1 && slice == NULL)) {
    free(cols);
    free(slice);
    return -1;
  }
  for (size_t b = 0; b < s->batch; b++) {
    const float* image = input + b * pixels * s->C_in;
    float* out = output + b * out_pixels * s->C_out;
    for (size_t g = 0; g < s->groups; g++) {
      edgert_op_gemm(pool, pixels, n_group, cin_g, image + g * cin_g, s->C_in,
                     packed + g * group_stride, cols, n_group, -INFINITY, INFINITY);
      /* col2im scatter-adds into a dense [OH, OW, cout_g] block that starts at the bias */
      float* dst = s->groups > 1 ? slice : out;
      for (size_t p = 0; p < out_pixels; p++)
        for (size_t c = 0; c < cout_g; c++)
          dst[p * cout_g + c] = bias != NULL ? bias[g * cout_g + c] : 0.0f;
      edgert_f32_col2im_nhwc(cols, s->H, s->W, cout_g, s->KH, s->KW, s->SH, s->SW, s->DH, s->DW,
                             s->pad_top, s->pad_left, s->OH, s->OW, dst);
      if (s->groups > 1)
        for (size_t p = 0; p < out_pixels; p++)
          memcpy(out + p * s->C_out + g * cout_g, slice + p * cout_g, cout_g * sizeof(float));
    }
    if (s->min > -INFINITY || s->max < INFINITY) {
      edgert_f32_unary_params clamp = {.min = s->min, .max = s->max};
      edgert_op_unary(pool, EDGERT_UNARY_CLAMP, out_pixels * s->C_out, out, out, &clamp);
    }
  }
  free(cols);
  free(slice);
  return 0;
}

/* ---------------------------------------------------------------- Elementwise */

#define ELEMENTWISE_TILE 16384

typedef struct {
  edgert_f32_vunary_fn fn;
  const float* x;
  float* y;
  const edgert_f32_unary_params* params;
} unary_task;

static void unary_chunks(void* ctx, size_t start, size_t end) {
  const unary_task* t = (const unary_task*)ctx;
  t->fn(end - start, t->x + start, t->y + start, t->params);
}

void edgert_op_unary(edgert_threadpool* pool, edgert_unary_op op, size_t n, const float* x,
                     float* y, const edgert_f32_unary_params* params) {
  unary_task t = {edgert_dispatch()->unary[op], x, y, params};
  edgert_threadpool_parallelize(pool, unary_chunks, &t, n, ELEMENTWISE_TILE);
}

typedef struct {
  void (*fn)(size_t rows, size_t channels, const float* x, const float* slope, float* y);
  size_t channels;
  const float* x;
  const float* slope;
  float* y;
} prelu_task;

static void prelu_rows(void* ctx, size_t start, size_t end) {
  const prelu_task* t = (const prelu_task*)ctx;
  t->fn(end - start, t->channels, t->x + start * t->channels, t->slope,
        t->y + start * t->channels);
}

void edgert_op_prelu(edgert_threadpool* pool, size_t rows, size_t channels, const float* x,
                     const float* slope, float* y) {
  prelu_task t = {edgert_dispatch()->prelu, channels, x, slope, y};
  edgert_threadpool_parallelize(pool, prelu_rows, &t, rows,
                                edgert_max_sz(1, ELEMENTWISE_TILE / edgert_max_sz(channels, 1)));
}

typedef struct {
  const edgert_f32_binary_variants* v;
  size_t cols, col_chunk, chunks_per_row;
  const float* a;
  size_t a_rs, a_cs;
  const float* b;
  size_t b_rs, b_cs;
  float* y;
  edgert_f32_minmax_params params;
} binary_task;

static void binary_chunks(void* ctx, size_t start, size_t end) {
  const binary_task* t = (const binary_task*)ctx;
  for (size_t i = start; i < end; i++) {
    size_t r = i / t->chunks_per_row;
    size_t c0 = (i % t->chunks_per_row) * t->col_chunk;
    size_t n = edgert_min_sz(t->col_chunk, t->cols - c0);
    const float* a = t->a + r * t->a_rs + c0 * t->a_cs;
    const float* b = t->b + r * t->b_rs + c0 * t->b_cs;
    float* y = t->y + r * t->cols + c0;
    if (t->a_cs && t->b_cs) t->v->vv(n, a, b, y, &t->params);
    else if (t->a_cs) t->v->vc(n, a, b, y, &t->params);
    else t->v->rvc(n, b, a, y, &t->params);
  }
}

void edgert_op_binary(edgert_threadpool* pool, edgert_binary_op op, size_t rows, size_t cols,
                      const float* a, size_t a_rs, size_t a_cs, const float* b, size_t b_rs,
                      size_t b_cs, float* y, float min, float max) {
  binary_task t = {.v = &edgert_dispatch()->binary[op], .cols = cols, .a = a, .a_rs = a_rs,
                   .a_cs = a_cs, .b = b, .b_rs = b_rs, .b_cs = b_cs, .y = y,
                   .params = {min, max}};
  t.col_chunk = edgert_min_sz(cols, ELEMENTWISE_TILE);
  if (t.col_chunk == 0) return;
  t.chunks_per_row = edgert_divide_round_up(cols, t.col_chunk);
  size_t rows_per_task = edgert_max_sz(1, ELEMENTWISE_TILE / cols);
  edgert_threadpool_parallelize(pool, binary_chunks, &t, rows * t.chunks_per_row,
                                t.chunks_per_row == 1 ? rows_per_task : 1);
}

/* ---------------------------------------------------------------- Layout conversion */

/* Square blocks keep both the reads and the writes within a few cache lines. */
#define TRANSPOSE_BLOCK 32

typedef struct {
  size_t rows, cols, col_blocks;
  const uint32_t* x;
  uint32_t* y;
} transpose_task;

static void transpose_blocks(void* ctx, size_t start, size_t end) {
  const transpose_task* t = (const transpose_task*)ctx;
  for (size_t i = start; i < end; i++) {
    size_t b = i / t->col_blocks;
    size_t c0 = (i % t->col_blocks) * TRANSPOSE_BLOCK;
    size_t c1 = edgert_min_sz(c0 + TRANSPOSE_BLOCK, t->cols);
    const uint32_t* x = t->x + b * t->rows * t->cols;
    uint32_t* y = t->y + b * t->rows * t->cols;
    for (size_t r0 = 0; r0 < t->rows; r0 += TRANSPOSE_BLOCK) {
      size_t r1 = edgert_min_sz(r0 + TRANSPOSE_BLOCK, t->rows);
      for (size_t c = c0; c < c1; c++)
        for (size_t r = r0; r < r1; r++) y[c * t->rows + r] = x[r * t->cols + c];
    }
  }
}

void edgert_op_transpose2d_x32(edgert_threadpool* pool, size_t batch, size_t rows, size_t cols,
                               const uint32_t* x, uint32_t* y) {
  transpose_task t = {rows, cols, edgert_divide_round_up(cols, TRANSPOSE_BLOCK), x, y};
  edgert_threadpool_parallelize(pool, transpose_blocks, &t, batch * t.col_blocks, 1);
}
