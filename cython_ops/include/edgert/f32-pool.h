/* f32 pooling, NHWC, one image.
 *
 * MaxPool: padded taps are ignored (ONNX: -inf padding). AveragePool: count_include_pad=1 divides
 * by KH*KW, 0 by the number of in-bounds taps. A window without any in-bounds tap (impossible
 * with valid ONNX parameters) gives clamp(-inf) for max and clamp(0) for average.
 * Output row oy reads input rows oy*SH - pad_top + ky*DH; bottom/right padding is implied by OH/OW.
 * Global average: output[c] = sum over pixels of input[p][c], times 1/pixels.
 */
#ifndef EDGERT_F32_POOL_H
#define EDGERT_F32_POOL_H

#include "edgert/common.h"

typedef struct {
  const float* input; /* [H][W][C], contiguous */
  float* output;      /* [OH][OW][C], contiguous */
  size_t H, W, C, OH, OW, KH, KW, SH, SW, DH, DW, pad_top, pad_left;
  int count_include_pad; /* AveragePool only: divide by KH*KW (1) or by the in-bounds taps (0) */
  float min, max;        /* fused clamp; -INF/+INF for none */
} edgert_f32_pool_args;

/* Computes output rows [oy0, oy1). The caller threads by splitting rows. */
typedef void (*edgert_f32_pool_fn)(const edgert_f32_pool_args* args, size_t oy0, size_t oy1);
typedef void (*edgert_f32_global_avgpool_fn)(size_t pixels, size_t C, const float* input,
                                             float* output);

void edgert_f32_maxpool__scalar(const edgert_f32_pool_args* args, size_t oy0, size_t oy1);
void edgert_f32_avgpool__scalar(const edgert_f32_pool_args* args, size_t oy0, size_t oy1);
void edgert_f32_global_avgpool__scalar(size_t pixels, size_t C, const float* input, float* output);

#if EDGERT_ARCH_X86_64
void edgert_f32_maxpool__avx2(const edgert_f32_pool_args* args, size_t oy0, size_t oy1);
void edgert_f32_avgpool__avx2(const edgert_f32_pool_args* args, size_t oy0, size_t oy1);
void edgert_f32_global_avgpool__avx2(size_t pixels, size_t C, const float* input, float* output);
#endif

#if EDGERT_ARCH_ARM64
void edgert_f32_maxpool__neon(const edgert_f32_pool_args* args, size_t oy0, size_t oy1);
void edgert_f32_avgpool__neon(const edgert_f32_pool_args* args, size_t oy0, size_t oy1);
void edgert_f32_global_avgpool__neon(size_t pixels, size_t C, const float* input, float* output);
#endif

#endif /* EDGERT_F32_POOL_H */
