/* The operator layer: whole-tensor fp32 operators on NHWC data, threaded over a pool.
 * Each picks its kernel variant from the dispatch table and splits the work into
 * ranges; kernels themselves never allocate or spawn threads. Batch is the leading
 * dimension of every NHWC tensor. Return 0 on success, -1 when scratch memory
 * could not be allocated. */
#ifndef EDGERT_OPERATORS_H
#define EDGERT_OPERATORS_H

#include "edgert/dispatch.h"
#include "edgert/threadpool.h"

size_t edgert_gemm_nr(void);
size_t edgert_gemm_packed_floats(size_t K, size_t N);
/* B(k, n) = B[k*k_stride + n*n_stride]; bias may be NULL. */
void edgert_gemm_pack(size_t K, size_t N, const float* B, size_t k_stride, size_t n_stride,
                      const float* bias, float* packed);

/* C[M,N] = clamp(A[M,K] * B + bias). */
void edgert_op_gemm(edgert_threadpool* pool, size_t M, size_t N, size_t K, const float* A,
                    size_t lda, const float* packed, float* C, size_t ldc, float min, float max);

typedef struct {
  size_t batch, H, W, C_in, OH, OW, C_out, groups;
  size_t KH, KW, SH, SW, DH, DW, pad_top, pad_left;
  float min, max;
} edgert_conv_shape;

/* General grouped conv (im2col + GEMM, 1x1 stride-1 goes straight to GEMM).
 * packed holds `groups` GEMM packings back to back, each for K = KH*KW*C_in/groups ordered
 * (ky, kx, c) and N = C_out/groups; stride between groups = edgert_gemm_packed_floats(K, N). */
int edgert_op_conv2d(edgert_threadpool* pool, const edgert_conv_shape* s, const float* input,
                     const float* packed, float* output);

/* Stem conv (groups == 1, few input channels) reading an NCHW input [batch, C_in, H, W]
 * directly, packed by edgert_f32_conv_stem_pack; output NHWC. */
void edgert_op_conv_stem(edgert_threadpool* pool, const edgert_conv_shape* s, const float* input,
                         const float* packed, float* output);

/* Depthwise conv (groups == C_in == C_out), packed by edgert_f32_dwconv_pack. */
void edgert_op_dwconv2d(edgert_threadpool* pool, const edgert_conv_shape* s, const float* input,
                        const float* packed, float* output);

/* Depthwise conv followed by a 1x1 conv (MobileNet's dw -> project): the depthwise output is
 * produced a few rows at a time into a cache-sized scratch and consumed by the GEMM at once,
 * never written to memory. dw: depthwise geometry (C_out == C_in); the 1x1 conv maps C_in ->
 * pw_cout with its own packing and clamp. output is [batch, OH, OW, pw_cout]. */
int edgert_op_dwconv_pw(edgert_threadpool* pool, const edgert_conv_shape* dw, const float* input,
                        const float* dw_packed, const float* pw_packed, size_t pw_cout,
                        float pw_min, float pw_max, float* output);

/* HorNet's recursive gated convolution (gnConv) of order n on x [batch, H, W, dim], as one
 * operator: proj_in (1x1, dim -> 2 dim) split into pwa (dims[0] channels) and abc (sum(dims)),
 * a KxK depthwise conv of abc (stride 1, 'same' pads; HorNet's `* s` folded into its weights)
 * giving the gates, then y = pwa * gate_0, y = pws_i(y) * gate_(i+1) for i < n - 1, and
 * proj_out (1x1, dim -> dim). dims[i] = dim / 2^(n-1-i). The two 1x1 convs of proj_in write pwa
 * and abc where they are used (no Split copies), and the gating chain with proj_out runs a block
 * of pixels at a time in an L2-sized scratch, so its n intermediates never go to memory.
 * scratch: edgert_gnconv_scratch_floats(s). Packings: edgert_gemm_pack for every 1x1 (in_pwa:
 * dim -> dims[0], in_abc: dim -> sum(dims), pws[i]: dims[i] -> dims[i+1], out: dim -> dim, with
 * their biases), edgert_f32_dwconv_pack for the depthwise. out_min / out_max clamp the result. */
#define EDGERT_GNCONV_MAX_ORDER 8
typedef struct {
  size_t batch, H, W, dim, order, kernel;
  size_t dims[EDGERT_GNCONV_MAX_ORDER];
  float out_min, out_max;
} edgert_gnconv_shape;

size_t edgert_gnconv_scratch_floats(const edgert_gnconv_shape* s);
int edgert_op_gnconv(edgert_threadpool* pool, const edgert_gnconv_shape* s, const float* input,
                     const float* in_pwa, const float* in_abc, const float* dw,
                     const float* const* pws, const float* out, float* scratch, float* output);

/* ConvTranspose: input [batch,H,W,C_in] -> output [batch,OH,OW,C_out]. packed holds one GEMM
 * packing per group with K = C_in/groups, N = KH*KW*C_out/groups ordered (ky, kx, c);
 * bias [C_out] or NULL. Pads/strides/dilations as in edgert_conv_shape (OH/OW precomputed). */
int edgert_op_conv_transpose2d(edgert_threadpool* pool, const edgert_conv_shape* s,
                               const float* input, const float* packed, const float* bias,
                               float* output);

typedef enum { EDGERT_POOL_MAX = 0, EDGERT_POOL_AVG = 1 } edgert_pool_kind;
void edgert_op_pool2d(edgert_threadpool* pool, edgert_pool_kind kind, const edgert_conv_shape* s,
                      int count_include_pad, const float* input, float* output);
void edgert_op_global_avgpool(edgert_threadpool* pool, size_t batch, size_t pixels, size_t C,
                              const float* input, float* output);

void edgert_op_unary(edgert_threadpool* pool, edgert_unary_op op, size_t n, const float* x,
                     float* y, const edgert_f32_unary_params* params);
void edgert_op_prelu(edgert_threadpool* pool, size_t rows, size_t channels, const float* x,
                     const float* slope, float* y);

/* y[r, c] = clamp(a[r*a_rs + c*a_cs] op b[r*b_rs + c*b_cs]) for r < rows, c < cols, y contiguous.
 * Column strides are 0 (broadcast) or 1, not both 0; row strides are anything. */
void edgert_op_binary(edgert_threadpool* pool, edgert_binary_op op, size_t rows, size_t cols,
                      const float* a, size_t a_rs, size_t a_cs, const float* b, size_t b_rs,
                      size_t b_cs, float* y, float min, float max);

/* Layout conversion: per batch, x[rows][cols] -> y[cols][rows] (NCHW -> NHWC is rows = C,
 * cols = H*W; NHWC -> NCHW the reverse). Any 4-byte element type. */
void edgert_op_transpose2d_x32(edgert_threadpool* pool, size_t batch, size_t rows, size_t cols,
                               const uint32_t* x, uint32_t* y);

#endif /* EDGERT_OPERATORS_H */
