/* qs8 pooling, NHWC, one image.
 *
 * MaxPool: the largest in-bounds tap (padding is ignored, as ONNX's -inf padding), clamped to
 * [qmin, qmax]; input and output share scale and zero point. A window without any in-bounds
 * tap gives qmin.
 * AveragePool: acc = sum of (q - zp_in) over the in-bounds taps (int32), then
 *     out = average(acc, count, scale)      scale = s_in / s_out   (edgert/qs8-requant.h)
 * with count = KH*KW when count_include_pad (padded taps add 0 after the zero-point
 * subtraction), else the number of in-bounds taps.
 * Output row oy reads input rows oy*SH - pad_top + ky*DH; bottom/right padding is implied by
 * OH/OW.
 * Global average: out[c] = average(sum over pixels of (x[p][c] - zp_in), pixels, scale).
 */
#ifndef EDGERT_QS8_POOL_H
#define EDGERT_QS8_POOL_H

#include "edgert/common.h"
#include "edgert/qs8-requant.h"

typedef struct {
  const int8_t* input; /* [H][W][C], contiguous */
  int8_t* output;      /* [OH][OW][C], contiguous */
  size_t H, W, C, OH, OW, KH, KW, SH, SW, DH, DW, pad_top, pad_left;
  int count_include_pad;    /* AveragePool only */
  int32_t input_zero_point; /* AveragePool only */
  float scale;              /* AveragePool only: s_in / s_out */
  edgert_qs8_output_params out; /* MaxPool reads qmin/qmax only */
} edgert_qs8_pool_args;

typedef struct {
  int32_t input_zero_point;
  float scale; /* s_in / s_out */
  edgert_qs8_output_params out;
} edgert_qs8_global_avgpool_params;

/* Computes output rows [oy0, oy1). The caller threads by splitting rows. */
typedef void (*edgert_qs8_pool_fn)(const edgert_qs8_pool_args* args, size_t oy0, size_t oy1);
/* C channels of `pixels` pixels, pixel_stride bytes apart (>= C): the caller may split channels. */
typedef void (*edgert_qs8_global_avgpool_fn)(size_t pixels, size_t C, size_t pixel_stride,
                                             const int8_t* input, int8_t* output,
                                             const edgert_qs8_global_avgpool_params* params);

void edgert_qs8_maxpool__scalar(const edgert_qs8_pool_args* args, size_t oy0, size_t oy1);
void edgert_qs8_avgpool__scalar(const edgert_qs8_pool_args* args, size_t oy0, size_t oy1);
void edgert_qs8_global_avgpool__scalar(size_t pixels, size_t C, size_t pixel_stride,
                                       const int8_t* input, int8_t* output,
                                       const edgert_qs8_global_avgpool_params* params);

#if EDGERT_ARCH_X86_64
void edgert_qs8_maxpool__avx2(const edgert_qs8_pool_args* args, size_t oy0, size_t oy1);
void edgert_qs8_avgpool__avx2(const edgert_qs8_pool_args* args, size_t oy0, size_t oy1);
void edgert_qs8_global_avgpool__avx2(size_t pixels, size_t C, size_t pixel_stride,
                                     const int8_t* input, int8_t* output,
                                     const edgert_qs8_global_avgpool_params* params);
#endif

#if EDGERT_ARCH_ARM64
void edgert_qs8_maxpool__neon(const edgert_qs8_pool_args* args, size_t oy0, size_t oy1);
void edgert_qs8_avgpool__neon(const edgert_qs8_pool_args* args, size_t oy0, size_t oy1);
void edgert_qs8_global_avgpool__neon(size_t pixels, size_t C, size_t pixel_stride,
                                     const int8_t* input, int8_t* output,
                                     const edgert_qs8_global_avgpool_params* params);
#endif

#endif /* EDGERT_QS8_POOL_H */
