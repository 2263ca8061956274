/* qs8 stem convolution: the first conv of a quantized CNN, NHWC int8 input with few channels
 * (the quantized image, C_in 1..4), groups 1, horizontal dilation 1.
 *
 * im2col + GEMM is a poor fit there: K = KH*KW*C_in is only 9..147 and C_out often 8..32, so the
 * gather and the GEMM's fixed costs dominate (FemtoDet's 3->8 3x3 s2 stem ran at 4-7 GMAC/s that
 * way). These kernels convolve directly. Per output row they sign-extend the KH input rows it
 * reads into int16 row buffers (zp_in in the padding), so a tap row of any output pixel is
 * R = KW*C_in consecutive int16 values; taps go in pairs (k, k+1) along that row and each pair is
 * one 32-bit broadcast multiplied against 8 output channels' weight pairs (AVX2 vpmaddwd, NEON
 * vmlal_s16), exactly, in int32.
 *
 * Arithmetic: edgert/qs8-requant.h (acc = bias' + sum x_q * w_q, bias' = bias - zp_in * sum w,
 * padded taps read zp_in; the fp32 requantization).
 *
 * Packed weights (edgert_qs8_conv_stem_pack, one layout for every variant): output channels in
 * blocks of EDGERT_QS8_CONV_STEM_COUT_BLOCK (8); per block
 *     int32 bias'[8], then int16 w[KH][P][8][2]
 * with P = ceil(R / 2) pairs per tap row: w[ky][j][n] = (w(ky, k=2j), w(ky, k=2j+1)) for tap
 * k = kx*C_in + c of output channel n; taps k >= R and channels past C_out are zero.
 *
 * Geometry: output (oy, ox), tap (ky, kx) reads input (oy*SH - pad_top + ky*DH, ox*SW - pad_left
 * + kx); bottom/right padding is implied by OH/OW.
 *
 * Variants (same layout, any geometry within the limits above):
 *   edgert_qs8_conv_stem__scalar    the spec (reads the input directly, no row buffers)
 *   edgert_qs8_conv_stem__avx2      tiles of 4 pixels x 16 channels
 *   edgert_qs8_conv_stem__neon      tiles of 4 pixels x 8 channels
 * Threading: split output rows; every output is the same exact integer sum whatever the split.
 */
#ifndef EDGERT_QS8_CONV_STEM_H
#define EDGERT_QS8_CONV_STEM_H

#include "edgert/common.h"
#include "edgert/qs8-requant.h"

#define EDGERT_QS8_CONV_STEM_COUT_BLOCK 8
#define EDGERT_QS8_CONV_STEM_MAX_CHANNELS 4 /* largest C_in the lowering sends here */

size_t edgert_qs8_conv_stem_packed_bytes(size_t C_in, size_t C_out, size_t KH, size_t KW);
/* weights in ONNX order [C_out][C_in][KH][KW]; bias [C_out] or NULL (zeros). packed 4-byte
 * aligned (32 for the fastest loads). */
void edgert_qs8_conv_stem_pack(size_t C_in, size_t C_out, size_t KH, size_t KW,
                               const int8_t* weights, const int32_t* bias,
                               int32_t input_zero_point, void* packed);

typedef struct {
  const int8_t* input;  /* one image [H][W][C_in] */
  int8_t* output;       /* one image [OH][OW][C_out] */
  const void* packed;   /* from edgert_qs8_conv_stem_pack */
  const float* scales;  /* [C_out]: s_in * s_w[n] / s_out */
  int16_t* scratch;     /* edgert_qs8_conv_stem_scratch_elems() int16, private to the call */
  size_t H, W, C_in, C_out, OH, OW, KH, KW, SH, SW, DH, pad_top, pad_left;
  int32_t input_zero_point;
  edgert_qs8_output_params out;
} edgert_qs8_conv_stem_args;

/* int16 elements of scratch one call needs (the KH row buffers; the scalar variant needs none). */
size_t edgert_qs8_conv_stem_scratch_elems(size_t C_in, size_t KH, size_t KW, size_t SW, size_t OW);

/* Computes output rows [oy0, oy1); nothing else is written. */
typedef void (*edgert_qs8_conv_stem_fn)(const edgert_qs8_conv_stem_args* a, size_t oy0, size_t oy1);

void edgert_qs8_conv_stem__scalar(const edgert_qs8_conv_stem_args* a, size_t oy0, size_t oy1);

#if EDGERT_ARCH_X86_64
void edgert_qs8_conv_stem__avx2(const edgert_qs8_conv_stem_args* a, size_t oy0, size_t oy1);
#endif

#if EDGERT_ARCH_ARM64
void edgert_qs8_conv_stem__neon(const edgert_qs8_conv_stem_args* a, size_t oy0, size_t oy1);
#endif

#endif /* EDGERT_QS8_CONV_STEM_H */
