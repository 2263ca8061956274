/* The int8 operator layer: whole-tensor qs8 operators on NHWC data, threaded over a pool, the
 * counterpart of edgert/operators.h. Each picks its kernel variant from the dispatch table's qs8
 * part and splits the work into ranges by shape only: every output is computed by the same
 * kernel code whatever the thread count, so results are identical bytes for any `threads`.
 * Batch is the leading dimension of every NHWC tensor. Functions returning int give 0 on
 * success, -1 when scratch memory could not be allocated.
 *
 * Arithmetic: edgert/qs8-requant.h. Packed weights come from the pack functions here, which
 * use the layout of the variant this CPU dispatches to (pack and run in the same process).
 */
#ifndef EDGERT_QS8_OPERATORS_H
#define EDGERT_QS8_OPERATORS_H

#include "edgert/dispatch.h"
#include "edgert/threadpool.h"

/* ---- GEMM / Conv ---- */

size_t edgert_qs8_gemm_nr(void);
size_t edgert_qs8_gemm_packed_size(size_t K, size_t N);
/* W(k, n) = W[k*k_stride + n*n_stride] int8; bias int32 [N] or NULL; input_zero_point folded in. */
void edgert_qs8_gemm_pack_weights(size_t K, size_t N, const int8_t* W, size_t k_stride,
                                  size_t n_stride, const int32_t* bias, int32_t input_zero_point,
                                  void* packed);

/* C[M,N] = requantize(A[M,K] * W + bias', scales[n]); A, C int8 with row strides lda, ldc. */
void edgert_op_qs8_gemm(edgert_threadpool* pool, size_t M, size_t N, size_t K, const int8_t* A,
                        size_t lda, const void* packed, const float* scales, int8_t* C, size_t ldc,
                        const edgert_qs8_output_params* params);

typedef struct {
  size_t batch, H, W, C_in, OH, OW, C_out, groups;
  size_t KH, KW, SH, SW, DH, DW, pad_top, pad_left;
  int32_t input_zero_point;
  edgert_qs8_output_params out;
} edgert_qs8_conv_shape;

/* Conv weights [C_out][C_in/groups][KH][KW] (ONNX order) packed as `groups` GEMM packings back to
 * back, each for K = KH*KW*C_in/groups ordered (ky, kx, c) and N = C_out/groups. */
size_t edgert_qs8_conv_packed_size(size_t C_out, size_t cin_g, size_t KH, size_t KW,
                                   size_t groups);
int edgert_qs8_conv_pack_weights(size_t C_out, size_t cin_g, size_t KH, size_t KW, size_t groups,
                                 const int8_t* weights, const int32_t* bias,
                                 int32_t input_zero_point, void* packed);

/* General grouped conv (im2col padding with zp_in + GEMM; 1x1 stride-1 goes straight to the
 * GEMM); scales [C_out]. */
int edgert_op_qs8_conv2d(edgert_threadpool* pool, const edgert_qs8_conv_shape* s,
                         const int8_t* input, const void* packed, const float* scales,
                         int8_t* output);

/* ---- Stem conv (groups 1, C_in <= EDGERT_QS8_CONV_STEM_MAX_CHANNELS, DW 1; any C_out) ----
 * Direct convolution of the quantized image (edgert/qs8-conv-stem.h); weights packed in the
 * layout of the variant this CPU dispatches to, by edgert_qs8_conv_stem_pack_weights. */
size_t edgert_qs8_conv_stem_packed_size(size_t C_in, size_t C_out, size_t KH, size_t KW);
void edgert_qs8_conv_stem_pack_weights(size_t C_in, size_t C_out, size_t KH, size_t KW,
                                       const int8_t* weights, const int32_t* bias,
                                       int32_t input_zero_point, void* packed);
int edgert_op_qs8_conv_stem(edgert_threadpool* pool, const edgert_qs8_conv_shape* s,
                            const int8_t* input, const void* packed, const float* scales,
                            int8_t* output);

/* ---- Depthwise conv (groups == C_in == C_out) ---- */

size_t edgert_qs8_dwconv_packed_size(size_t C, size_t KH, size_t KW);
/* weights [C][1][KH][KW]; bias [C] or NULL. */
void edgert_qs8_dwconv_pack_weights(size_t C, size_t KH, size_t KW, const int8_t* weights,
                                    const int32_t* bias, int32_t input_zero_point, void* packed);
void edgert_op_qs8_dwconv2d(edgert_threadpool* pool, const edgert_qs8_conv_shape* s,
                            const int8_t* input, const void* packed, const float* scales,
                            int8_t* output);

/* ---- Pooling ---- */

/* kind: EDGERT_POOL_MAX / EDGERT_POOL_AVG (edgert/operators.h values 0 / 1). s->C_out == C_in;
 * avg_scale = s_in / s_out (AveragePool only; MaxPool reads s->out.qmin/qmax only). */
void edgert_op_qs8_pool2d(edgert_threadpool* pool, int kind, const edgert_qs8_conv_shape* s,
                          int count_include_pad, float avg_scale, const int8_t* input,
                          int8_t* output);
void edgert_op_qs8_global_avgpool(edgert_threadpool* pool, size_t batch, size_t pixels, size_t C,
                                  const int8_t* input, int8_t* output,
                                  const edgert_qs8_global_avgpool_params* params);

/* ---- Elementwise ---- */

typedef enum { EDGERT_QS8_BINARY_ADD = 0, EDGERT_QS8_BINARY_MUL = 1 } edgert_qs8_binary_op;

/* y[r, c] = a[r*a_rs + c*a_cs] op b[r*b_rs + c*b_cs] for r < rows, c < cols, y contiguous.
 * Column strides are 0 (broadcast) or 1, not both 0; row strides are anything. */
void edgert_op_qs8_binary(edgert_threadpool* pool, edgert_qs8_binary_op op, size_t rows,
                          size_t cols, const int8_t* a, size_t a_rs, size_t a_cs, const int8_t* b,
                          size_t b_rs, size_t b_cs, int8_t* y,
                          const edgert_qs8_binary_params* params);

/* y[i] = table[(uint8_t)x[i]]; y may be x. */
void edgert_op_x8_lut(edgert_threadpool* pool, size_t n, const int8_t* x, int8_t* y,
                      const int8_t* table);

void edgert_op_qs8_quantize(edgert_threadpool* pool, size_t n, const float* x, int8_t* y,
                            float scale, int32_t zero_point);
/* x [batch][C][HW] float -> y [batch][HW][C] int8. */
void edgert_op_qs8_quantize_nchw(edgert_threadpool* pool, size_t batch, size_t C, size_t HW,
                                 const float* x, int8_t* y, float scale, int32_t zero_point);
void edgert_op_qs8_dequantize(edgert_threadpool* pool, size_t n, const int8_t* x, float* y,
                              float scale, int32_t zero_point);

/* ---- Layout conversion ---- */

/* Per batch, x[rows][cols] -> y[cols][rows] for 1-byte elements (int8 NCHW <-> NHWC). */
void edgert_op_transpose2d_x8(edgert_threadpool* pool, size_t batch, size_t rows, size_t cols,
                              const uint8_t* x, uint8_t* y);

#endif /* EDGERT_QS8_OPERATORS_H */
