#include "edgert/qs8-operators.h"

#include <stdlib.h>
#include <string.h>

#include "edgert/qs8-conv.h"

/* Tiles per thread for dynamic load balancing: enough to even out uneven tiles, few enough that
 * per-tile overhead stays negligible. */
#define TILES_PER_THREAD 6

static const edgert_qs8_dispatch_table* qs8(void) { return &edgert_dispatch()->qs8; }

/* ---------------------------------------------------------------- GEMM */

size_t edgert_qs8_gemm_nr(void) { return qs8()->gemm_layout.nr; }

size_t edgert_qs8_gemm_packed_size(size_t K, size_t N) {
  return edgert_qs8_gemm_packed_bytes(K, N, &qs8()->gemm_layout);
}

void edgert_qs8_gemm_pack_weights(size_t K, size_t N, const int8_t* W, size_t k_stride,
                                  size_t n_stride, const int32_t* bias, int32_t input_zero_point,
                                  void* packed) {
  edgert_qs8_gemm_pack(K, N, &qs8()->gemm_layout, W, k_stride, n_stride, bias, input_zero_point,
                       packed);
}

typedef struct {
  edgert_qs8_gemm_fn fn;
  size_t M, N, K, lda, ldc, nr, panel_bytes, m_tile, n_tile, m_tiles;
  const int8_t* A;
  const uint8_t* packed;
  const float* scales;
  int8_t* C;
  const edgert_qs8_output_params* params;
} gemm_task;

static void gemm_tiles(void* ctx, size_t start, size_t end) {
  const gemm_task* t = (const gemm_task*)ctx;
  for (size_t i = start; i < end; i++) {
    size_t m0 = (i % t->m_tiles) * t->m_tile;
    size_t n0 = (i / t->m_tiles) * t->n_tile;
    size_t m = edgert_min_sz(t->m_tile, t->M - m0);
    size_t n = edgert_min_sz(t->n_tile, t->N - n0);
    t->fn(m, n, t->K, t->A + m0 * t->lda, t->lda, t->packed + (n0 / t->nr) * t->panel_bytes,
          t->scales + n0, t->C + m0 * t->ldc + n0, t->ldc, t->params);
  }
}

void edgert_op_qs8_gemm(edgert_threadpool* pool, size_t M, size_t N, size_t K, const int8_t* A,
                        size_t lda, const void* packed, const float* scales, int8_t* C, size_t ldc,
                        const edgert_qs8_output_params* params) {
  const edgert_qs8_dispatch_table* d = qs8();
  if (M == 0 || N == 0) return;
  gemm_task t = {.fn = d->gemm, .M = M, .N = N, .K = K, .lda = lda, .ldc = ldc,
                 .nr = d->gemm_layout.nr,
                 .panel_bytes = edgert_qs8_gemm_panel_bytes(K, &d->gemm_layout), .A = A,
                 .packed = (const uint8_t*)packed, .scales = scales, .C = C, .params = params};
  size_t threads = edgert_threadpool_threads(pool);
  if (threads == 1) {
    t.fn(M, N, K, A, lda, packed, scales, C, ldc, params);
    return;
  }
  /* Integer accumulation is exact, so any split gives the same bytes; this one only balances. */
  size_t target = threads * TILES_PER_THREAD;
  size_t m_blocks = edgert_divide_round_up(M, d->gemm_mr);
  size_t n_panels = edgert_divide_round_up(N, t.nr);
  size_t m_splits = edgert_min_sz(m_blocks, target);
  size_t n_splits = edgert_min_sz(n_panels, edgert_divide_round_up(target, m_splits));
  t.m_tile = edgert_divide_round_up(m_blocks, m_splits) * d->gemm_mr;
  t.n_tile = edgert_divide_round_up(n_panels, n_splits) * t.nr;
  t.m_tiles = edgert_divide_round_up(M, t.m_tile);
  size_t tiles = t.m_tiles * edgert_divide_round_up(N, t.n_tile);
  edgert_threadpool_parallelize(pool, gemm_tiles, &t, tiles, 1);
}

/* ---------------------------------------------------------------- Conv (im2col + GEMM) */

size_t edgert_qs8_conv_packed_size(size_t C_out, size_t cin_g, size_t KH, size_t KW,
                                   size_t groups) {
  return groups * edgert_qs8_gemm_packed_size(KH * KW * cin_g, C_out / groups);
}

int edgert_qs8_conv_pack_weights(size_t C_out, size_t cin_g, size_t KH, size_t KW, size_t groups,
                                 const int8_t* weights, const int32_t* bias,
                                 int32_t input_zero_point, void* packed) {
  const edgert_qs8_gemm_layout* l = &qs8()->gemm_layout;
  const size_t cout_g = C_out / groups, taps = KH * KW, K = taps * cin_g;
  const size_t group_bytes = edgert_qs8_gemm_packed_size(K, cout_g);
  /* ONNX [n][c][ky][kx] becomes GEMM rows k = (ky*KW + kx)*cin_g + c, which no (k, n) stride
   * pair describes when taps > 1: reorder one group into [n][k] first. */
  int8_t* reordered = taps > 1 ? malloc(K * cout_g) : NULL;
  if (taps > 1 && reordered == NULL) return -1;
  for (size_t g = 0; g < groups; g++) {
    const int8_t* wg = weights + g * cout_g * cin_g * taps;
    const int32_t* bg = bias != NULL ? bias + g * cout_g : NULL;
    uint8_t* dst = (uint8_t*)packed + g * group_bytes;
    if (taps == 1) {
      edgert_qs8_gemm_pack(K, cout_g, l, wg, 1, cin_g, bg, input_zero_point, dst);
      continue;
    }
    for (size_t n = 0; n < cout_g; n++)
      for (size_t t = 0; t < taps; t++)
        for (size_t c = 0; c < cin_g; c++)
          reordered[n * K + t * cin_g + c] = wg[(n * cin_g + c) * taps + t];
    edgert_qs8_gemm_pack(K, cout_g, l, reordered, 1, K, bg, input_zero_point, dst);
  }
  free(reordered);
  return 0;
}

/* Images whose whole im2col matrix fits in this many bytes are lowered at once and handed to
 * the threaded GEMM, which then reads the weights once; larger ones go in pixel blocks whose
 * im2col stays near IM2COL_BLOCK_BYTES (L2). */
#define IM2COL_WHOLE_IMAGE_BYTES (4u << 20)
#define IM2COL_BLOCK_BYTES (128 * 1024)
#define IM2COL_MIN_BLOCK_ROWS 8 /* GEMM row tiles per block, at the least */

typedef struct {
  const edgert_qs8_conv_shape* s;
  const int8_t* input;
  const uint8_t* packed;
  const float* scales;
  int8_t* output;
  size_t block_pixels, blocks_per_image, k_group, cin_g, cout_g, group_bytes;
  size_t image, group; /* whole-image path: which image and group is being lowered */
  int8_t* cols;        /* whole-image path: the image's im2col matrix */
  edgert_qs8_gemm_fn fn;
  int failed;
} conv_task;

static void im2col_pixels(const conv_task* t, size_t b, size_t g, size_t p0, size_t p1,
                          int8_t* cols) {
  const edgert_qs8_conv_shape* s = t->s;
  const int8_t* image = t->input + b * s->H * s->W * s->C_in;
  edgert_qs8_im2col_nhwc(image + g * t->cin_g, s->H, s->W, t->cin_g, s->C_in, s->KH, s->KW, s->SH,
                         s->SW, s->DH, s->DW, s->pad_top, s->pad_left, s->OW, p0, p1,
                         (int8_t)s->input_zero_point, cols);
}

static void conv_blocks(void* ctx, size_t start, size_t end) {
  conv_task* t = (conv_task*)ctx;
  const edgert_qs8_conv_shape* s = t->s;
  int8_t* cols = malloc(t->block_pixels * t->k_group);
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
    int8_t* out = t->output + (b * pixels + p0) * s->C_out + g * t->cout_g;
    t->fn(p1 - p0, t->cout_g, t->k_group, cols, t->k_group, t->packed + g * t->group_bytes,
          t->scales + g * t->cout_g, out, s->C_out, &s->out);
  }
  free(cols);
}

static void im2col_chunks(void* ctx, size_t start, size_t end) {
  const conv_task* t = (const conv_task*)ctx;
  im2col_pixels(t, t->image, t->group, start, end, t->cols + start * t->k_group);
}

int edgert_op_qs8_conv2d(edgert_threadpool* pool, const edgert_qs8_conv_shape* s,
                         const int8_t* input, const void* packed, const float* scales,
                         int8_t* output) {
  const size_t cin_g = s->C_in / s->groups, cout_g = s->C_out / s->groups;
  const size_t k_group = s->KH * s->KW * cin_g;
  const size_t group_bytes = edgert_qs8_gemm_packed_size(k_group, cout_g);
  const uint8_t* pk = (const uint8_t*)packed;
  int pointwise = s->KH == 1 && s->KW == 1 && s->SH == 1 && s->SW == 1 && s->pad_top == 0 &&
                  s->pad_left == 0 && s->OH == s->H && s->OW == s->W;
  if (pointwise) { /* NHWC 1x1 conv is a GEMM over all pixels; groups index channel slices */
    for (size_t g = 0; g < s->groups; g++)
      edgert_op_qs8_gemm(pool, s->batch * s->H * s->W, cout_g, cin_g, input + g * cin_g, s->C_in,
                         pk + g * group_bytes, scales + g * cout_g, output + g * cout_g, s->C_out,
                         &s->out);
    return 0;
  }
  const edgert_qs8_dispatch_table* d = qs8();
  const size_t pixels = s->OH * s->OW;
  conv_task t = {.s = s, .input = input, .packed = pk, .scales = scales, .output = output,
                 .k_group = k_group, .cin_g = cin_g, .cout_g = cout_g, .group_bytes = group_bytes,
                 .fn = d->gemm};
  if (pixels * k_group <= IM2COL_WHOLE_IMAGE_BYTES) {
    t.cols = malloc(pixels * k_group + 1);
    if (t.cols == NULL) return -1;
    for (t.image = 0; t.image < s->batch; t.image++) {
      for (t.group = 0; t.group < s->groups; t.group++) {
        edgert_threadpool_parallelize(pool, im2col_chunks, &t, pixels, 64);
        edgert_op_qs8_gemm(pool, pixels, cout_g, k_group, t.cols, k_group,
                           pk + t.group * group_bytes, scales + t.group * cout_g,
                           output + t.image * pixels * s->C_out + t.group * cout_g, s->C_out,
                           &s->out);
      }
    }
    free(t.cols);
    return 0;
  }
  size_t block = edgert_max_sz(IM2COL_MIN_BLOCK_ROWS * d->gemm_mr, IM2COL_BLOCK_BYTES / k_group);
  t.block_pixels = edgert_round_up(edgert_min_sz(block, pixels), d->gemm_mr);
  t.blocks_per_image = edgert_divide_round_up(pixels, t.block_pixels);
  edgert_threadpool_parallelize(pool, conv_blocks, &t, s->batch * t.blocks_per_image * s->groups,
                                1);
  return t.failed ? -1 : 0;
}

/* ---------------------------------------------------------------- Depthwise conv and pools */

size_t edgert_qs8_dwconv_packed_size(size_t C, size_t KH, size_t KW) {
  return edgert_qs8_dwconv_packed_bytes(qs8()->dwconv_layout, C, KH, KW);
}

void edgert_qs8_dwconv_pack_weights(size_t C, size_t KH, size_t KW, const int8_t* weights,
                                    const int32_t* bias, int32_t input_zero_point, void* packed) {
  edgert_qs8_dwconv_pack(qs8()->dwconv_layout, C, KH, KW, weights, bias, input_zero_point, packed);
}

typedef struct {
  const edgert_qs8_conv_shape* s;
  const int8_t* input;
  int8_t* output;
  size_t in_image, out_image, rows_per_tile, tiles_per_image;
  /* depthwise, stem */
  edgert_qs8_dwconv_fn dw;
  edgert_qs8_conv_stem_fn stem;
  int failed;
  const void* packed;
  const float* scales;
  /* pools */
  edgert_qs8_pool_fn pool_fn;
  int count_include_pad;
  float avg_scale;
} window_task;

static void dwconv_tiles(void* ctx, size_t start, size_t end) {
  const window_task* t = (const window_task*)ctx;
  const edgert_qs8_conv_shape* s = t->s;
  for (size_t i = start; i < end; i++) {
    size_t b = i / t->tiles_per_image;
    size_t oy0 = (i % t->tiles_per_image) * t->rows_per_tile;
    edgert_qs8_dwconv_args a = {
        .input = t->input + b * t->in_image, .output = t->output + b * t->out_image,
        .packed = t->packed, .scales = t->scales, .H = s->H, .W = s->W, .C = s->C_in,
        .OH = s->OH, .OW = s->OW, .KH = s->KH, .KW = s->KW, .SH = s->SH, .SW = s->SW,
        .DH = s->DH, .DW = s->DW, .pad_top = s->pad_top, .pad_left = s->pad_left,
        .input_zero_point = s->input_zero_point, .out = s->out};
    t->dw(&a, oy0, edgert_min_sz(oy0 + t->rows_per_tile, s->OH));
  }
}

static void conv_stem_tiles(void* ctx, size_t start, size_t end) {
  window_task* t = (window_task*)ctx;
  const edgert_qs8_conv_shape* s = t->s;
  int16_t* scratch =
      malloc(edgert_qs8_conv_stem_scratch_elems(s->C_in, s->KH, s->KW, s->SW, s->OW) * sizeof(int16_t));
  if (scratch == NULL) {
    t->failed = 1;
    return;
  }
  for (size_t i = start; i < end; i++) {
    size_t b = i / t->tiles_per_image;
    size_t oy0 = (i % t->tiles_per_image) * t->rows_per_tile;
    edgert_qs8_conv_stem_args a = {
        .input = t->input + b * t->in_image, .output = t->output + b * t->out_image,
        .packed = t->packed, .scales = t->scales, .scratch = scratch, .H = s->H, .W = s->W,
        .C_in = s->C_in, .C_out = s->C_out, .OH = s->OH, .OW = s->OW, .KH = s->KH, .KW = s->KW,
        .SH = s->SH, .SW = s->SW, .DH = s->DH, .pad_top = s->pad_top, .pad_left = s->pad_left,
        .input_zero_point = s->input_zero_point, .out = s->out};
    t->stem(&a, oy0, edgert_min_sz(oy0 + t->rows_per_tile, s->OH));
  }
  free(scratch);
}

static void pool_tiles(void* ctx, size_t start, size_t end) {
  const window_task* t = (const window_task*)ctx;
  const edgert_qs8_conv_shape* s = t->s;
  for (size_t i = start; i < end; i++) {
    size_t b = i / t->tiles_per_image;
    size_t oy0 = (i % t->tiles_per_image) * t->rows_per_tile;
    edgert_qs8_pool_args a = {
        .input = t->input + b * t->in_image, .output = t->output + b * t->out_image,
        .H = s->H, .W = s->W, .C = s->C_in, .OH = s->OH, .OW = s->OW, .KH = s->KH, .KW = s->KW,
        .SH = s->SH, .SW = s->SW, .DH = s->DH, .DW = s->DW, .pad_top = s->pad_top,
        .pad_left = s->pad_left, .count_include_pad = t->count_include_pad,
        .input_zero_point = s->input_zero_point, .scale = t->avg_scale, .out = s->out};
    t->pool_fn(&a, oy0, edgert_min_sz(oy0 + t->rows_per_tile, s->OH));
  }
}

/* rows: output rows per tile when threaded (whole images otherwise: no per-call overhead). */
static void run_rows(edgert_threadpool* pool, window_task* t, edgert_task_fn fn, size_t rows) {
  const edgert_qs8_conv_shape* s = t->s;
  t->in_image = s->H * s->W * s->C_in;
  t->out_image = s->OH * s->OW * s->C_out;
  size_t threads = edgert_threadpool_threads(pool);
  t->rows_per_tile = threads == 1 ? s->OH : rows;
  t->tiles_per_image = edgert_divide_round_up(s->OH, t->rows_per_tile);
  if (s->OH == 0) return;
  edgert_threadpool_parallelize(pool, fn, t, s->batch * t->tiles_per_image, 1);
}

void edgert_op_qs8_dwconv2d(edgert_threadpool* pool, const edgert_qs8_conv_shape* s,
                            const int8_t* input, const void* packed, const float* scales,
                            int8_t* output) {
  window_task t = {.s = s, .input = input, .output = output, .packed = packed, .scales = scales,
                   .dw = edgert_pick_qs8_dwconv(s->KH, s->KW, s->SH, s->SW, s->DH, s->DW)};
  /* Two rows per tile: the AVX2 3x3 stride-1 kernel computes output rows in pairs. */
  run_rows(pool, &t, dwconv_tiles, 2);
}

size_t edgert_qs8_conv_stem_packed_size(size_t C_in, size_t C_out, size_t KH, size_t KW) {
  return edgert_qs8_conv_stem_packed_bytes(qs8()->conv_stem_layout, C_in, C_out, KH, KW);
}

void edgert_qs8_conv_stem_pack_weights(size_t C_in, size_t C_out, size_t KH, size_t KW,
                                       const int8_t* weights, const int32_t* bias,
                                       int32_t input_zero_point, void* packed) {
  edgert_qs8_conv_stem_pack(qs8()->conv_stem_layout, C_in, C_out, KH, KW, weights, bias,
                            input_zero_point, packed);
}

int edgert_op_qs8_conv_stem(edgert_threadpool* pool, const edgert_qs8_conv_shape* s,
                            const int8_t* input, const void* packed, const float* scales,
                            int8_t* output) {
  window_task t = {.s = s, .input = input, .output = output, .packed = packed, .scales = scales,
                   .stem = qs8()->conv_stem};
  run_rows(pool, &t, conv_stem_tiles, 4);
  return t.failed ? -1 : 0;
}

void edgert_op_qs8_pool2d(edgert_threadpool* pool, int kind, const edgert_qs8_conv_shape* s,
                          int count_include_pad, float avg_scale, const int8_t* input,
                          int8_t* output) {
  const edgert_qs8_dispatch_table* d = qs8();
  window_task t = {.s = s, .input = input, .output = output,
                   .pool_fn = kind == 0 ? d->maxpool : d->avgpool,
                   .count_include_pad = count_include_pad, .avg_scale = avg_scale};
  run_rows(pool, &t, pool_tiles, 1);
}

/* Channels per global-average tile: a batch-1 image still spreads over the threads. */
#define GAP_CHANNEL_TILE 64

typedef struct {
  edgert_qs8_global_avgpool_fn fn;
  size_t pixels, C, chunks;
  const int8_t* input;
  int8_t* output;
  const edgert_qs8_global_avgpool_params* params;
} gap_task;

static void gap_tiles(void* ctx, size_t start, size_t end) {
  const gap_task* t = (const gap_task*)ctx;
  for (size_t i = start; i < end; i++) {
    size_t b = i / t->chunks;
    size_t c0 = (i % t->chunks) * GAP_CHANNEL_TILE;
    size_t n = edgert_min_sz(GAP_CHANNEL_TILE, t->C - c0);
    t->fn(t->pixels, n, t->C, t->input + b * t->pixels * t->C + c0, t->output + b * t->C + c0,
          t->params);
  }
}

void edgert_op_qs8_global_avgpool(edgert_threadpool* pool, size_t batch, size_t pixels, size_t C,
                                  const int8_t* input, int8_t* output,
                                  const edgert_qs8_global_avgpool_params* params) {
  gap_task t = {qs8()->global_avgpool, pixels, C, edgert_divide_round_up(C, GAP_CHANNEL_TILE),
                input, output, params};
  edgert_threadpool_parallelize(pool, gap_tiles, &t, batch * t.chunks, 1);
}

/* ---------------------------------------------------------------- Elementwise */

#define ELEMENTWISE_TILE 16384

typedef struct {
  edgert_qs8_vbinary_fn vv, vc;
  size_t cols, col_chunk, chunks_per_row;
  const int8_t* a;
  size_t a_rs, a_cs;
  const int8_t* b;
  size_t b_rs, b_cs;
  int8_t* y;
  edgert_qs8_binary_params params, swapped; /* swapped: b's parameters as a's, for b[0] op a[i] */
} binary_task;

static void binary_chunks(void* ctx, size_t start, size_t end) {
  const binary_task* t = (const binary_task*)ctx;
  for (size_t i = start; i < end; i++) {
    size_t r = i / t->chunks_per_row;
    size_t c0 = (i % t->chunks_per_row) * t->col_chunk;
    size_t n = edgert_min_sz(t->col_chunk, t->cols - c0);
    const int8_t* a = t->a + r * t->a_rs + c0 * t->a_cs;
    const int8_t* b = t->b + r * t->b_rs + c0 * t->b_cs;
    int8_t* y = t->y + r * t->cols + c0;
    if (t->a_cs && t->b_cs) t->vv(n, a, b, y, &t->params);
    else if (t->a_cs) t->vc(n, a, b, y, &t->params);
    else t->vc(n, b, a, y, &t->swapped);
  }
}

void edgert_op_qs8_binary(edgert_threadpool* pool, edgert_qs8_binary_op op, size_t rows,
                          size_t cols, const int8_t* a, size_t a_rs, size_t a_cs, const int8_t* b,
                          size_t b_rs, size_t b_cs, int8_t* y,
                          const edgert_qs8_binary_params* params) {
  const edgert_qs8_dispatch_table* d = qs8();
  binary_task t = {.vv = op == EDGERT_QS8_BINARY_ADD ? d->vadd : d->vmul,
                   .vc = op == EDGERT_QS8_BINARY_ADD ? d->vaddc : d->vmulc, .cols = cols, .a = a,
                   .a_rs = a_rs, .a_cs = a_cs, .b = b, .b_rs = b_rs, .b_cs = b_cs, .y = y,
                   .params = *params, .swapped = *params};
  t.swapped.a_zero_point = params->b_zero_point;
  t.swapped.b_zero_point = params->a_zero_point;
  if (op == EDGERT_QS8_BINARY_ADD) { /* mul keeps its one multiplier in a_mult */
    t.swapped.a_mult = params->b_mult;
    t.swapped.b_mult = params->a_mult;
  }
  t.col_chunk = edgert_min_sz(cols, ELEMENTWISE_TILE);
  if (t.col_chunk == 0 || rows == 0) return;
  t.chunks_per_row = edgert_divide_round_up(cols, t.col_chunk);
  size_t rows_per_task = edgert_max_sz(1, ELEMENTWISE_TILE / cols);
  edgert_threadpool_parallelize(pool, binary_chunks, &t, rows * t.chunks_per_row,
                                t.chunks_per_row == 1 ? rows_per_task : 1);
}

typedef struct {
  edgert_x8_lut_fn fn;
  const int8_t* x;
  int8_t* y;
  const int8_t* table;
} lut_task;

static void lut_chunks(void* ctx, size_t start, size_t end) {
  const lut_task* t = (const lut_task*)ctx;
  t->fn(end - start, t->x + start, t->y + start, t->table);
}

void edgert_op_x8_lut(edgert_threadpool* pool, size_t n, const int8_t* x, int8_t* y,
                      const int8_t* table) {
  lut_task t = {qs8()->lut, x, y, table};
  edgert_threadpool_parallelize(pool, lut_chunks, &t, n, ELEMENTWISE_TILE);
}

typedef struct {
  const float* fx;
  int8_t* qy;
  const int8_t* qx;
  float* fy;
  float scale;
  int32_t zero_point;
  size_t C, HW, tiles_per_image;
} cvt_task;

static void quantize_chunks(void* ctx, size_t start, size_t end) {
  const cvt_task* t = (const cvt_task*)ctx;
  qs8()->quantize(end - start, t->fx + start, t->qy + start, t->scale, t->zero_point);
}

static void dequantize_chunks(void* ctx, size_t start, size_t end) {
  const cvt_task* t = (const cvt_task*)ctx;
  qs8()->dequantize(end - start, t->qx + start, t->fy + start, t->scale, t->zero_point);
}

/* Pixels per NCHW quantize tile: each tile reads C short runs of the planes. */
#define QUANTIZE_NCHW_PIXELS 1024

static void quantize_nchw_tiles(void* ctx, size_t start, size_t end) {
  const cvt_task* t = (const cvt_task*)ctx;
  const size_t image = t->C * t->HW;
  for (size_t i = start; i < end; i++) {
    size_t b = i / t->tiles_per_image;
    size_t p0 = (i % t->tiles_per_image) * QUANTIZE_NCHW_PIXELS;
    qs8()->quantize_nchw(t->C, t->HW, p0, edgert_min_sz(p0 + QUANTIZE_NCHW_PIXELS, t->HW),
                         t->fx + b * image, t->qy + b * image, t->scale, t->zero_point);
  }
}

void edgert_op_qs8_quantize(edgert_threadpool* pool, size_t n, const float* x, int8_t* y,
                            float scale, int32_t zero_point) {
  cvt_task t = {.fx = x, .qy = y, .scale = scale, .zero_point = zero_point};
  edgert_threadpool_parallelize(pool, quantize_chunks, &t, n, ELEMENTWISE_TILE);
}

void edgert_op_qs8_quantize_nchw(edgert_threadpool* pool, size_t batch, size_t C, size_t HW,
                                 const float* x, int8_t* y, float scale, int32_t zero_point) {
  cvt_task t = {.fx = x, .qy = y, .scale = scale, .zero_point = zero_point, .C = C, .HW = HW,
                .tiles_per_image = edgert_divide_round_up(HW, QUANTIZE_NCHW_PIXELS)};
  edgert_threadpool_parallelize(pool, quantize_nchw_tiles, &t, batch * t.tiles_per_image, 1);
}

void edgert_op_qs8_dequantize(edgert_threadpool* pool, size_t n, const int8_t* x, float* y,
                              float scale, int32_t zero_point) {
  cvt_task t = {.qx = x, .fy = y, .scale = scale, .zero_point = zero_point};
  edgert_threadpool_parallelize(pool, dequantize_chunks, &t, n, ELEMENTWISE_TILE);
}

/* ---------------------------------------------------------------- Layout conversion */

/* Square blocks keep both the reads and the writes within a few cache lines. */
#define TRANSPOSE_BLOCK 64

typedef struct {
  size_t rows, cols, col_blocks;
  const uint8_t* x;
  uint8_t* y;
} transpose_task;

static void transpose_blocks(void* ctx, size_t start, size_t end) {
  const transpose_task* t = (const transpose_task*)ctx;
  for (size_t i = start; i < end; i++) {
    size_t b = i / t->col_blocks;
    size_t c0 = (i % t->col_blocks) * TRANSPOSE_BLOCK;
    size_t c1 = edgert_min_sz(c0 + TRANSPOSE_BLOCK, t->cols);
    const uint8_t* x = t->x + b * t->rows * t->cols;
    uint8_t* y = t->y + b * t->rows * t->cols;
    for (size_t r0 = 0; r0 < t->rows; r0 += TRANSPOSE_BLOCK) {
      size_t r1 = edgert_min_sz(r0 + TRANSPOSE_BLOCK, t->rows);
      for (size_t c = c0; c < c1; c++)
        for (size_t r = r0; r < r1; r++) y[c * t->rows + r] = x[r * t->cols + c];
    }
  }
}

void edgert_op_transpose2d_x8(edgert_threadpool* pool, size_t batch, size_t rows, size_t cols,
                              const uint8_t* x, uint8_t* y) {
  transpose_task t = {rows, cols, edgert_divide_round_up(cols, TRANSPOSE_BLOCK), x, y};
  edgert_threadpool_parallelize(pool, transpose_blocks, &t, batch * t.col_blocks, 1);
}
