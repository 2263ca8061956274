/* qs8 stem convolution: the first conv of a quantized CNN, NHWC int8 input with few channels
 * (the quantized image, C_in 1..4), groups 1, horizontal dilation 1.
 *
 * im2col + GEMM is a poor fit there: K = KH*KW*C_in is only 9..147 and C_out often 8..32, so the
 * gather and the GEMM's fixed costs dominate (FemtoDet's 3->8 3x3 s2 stem ran at 4-7 GMAC/s that
 * way). These kernels convolve directly. Per output row they sign-extend the KH input rows it
 * reads into int16 row buffers (zp_in in the padding), so a tap row of any output pixel is
 * R = KW*C_in consecutive int16 values; taps go in pairs (k, k+1) along that row and each pair is
 * one 32-bit broadcast multiplied against 8 output channels' weight pairs (AVX2 vpmaddwd, NEON
 * vmlal_s16), exactly, in int32. The AVX512-VNNI variant keeps bytes instead (plus 128) and
 * takes taps in quads, one vpdpbusd per quad and 16 channels.
 *
 * Arithmetic: edgert/qs8-requant.h (acc = bias' + sum x_q * w_q, bias' = bias - zp_in * sum w,
 * padded taps read zp_in; the fp32 requantization).
 *
 * Packed weights (edgert_qs8_conv_stem_pack) come in one of two layouts, chosen by the dispatch
 * table per ISA:
 *   EDGERT_QS8_CONV_STEM_PAIRS  (scalar, AVX2, NEON) output channels in blocks of
 *       EDGERT_QS8_CONV_STEM_COUT_BLOCK (8); per block
 *           int32 bias'[8], then int16 w[KH][P][8][2]
 *       with P = ceil(R / 2) pairs per tap row: w[ky][j][n] = (w(ky, k=2j), w(ky, k=2j+1)) for
 *       tap k = kx*C_in + c of output channel n.
 *   EDGERT_QS8_CONV_STEM_QUADS  (AVX512-VNNI) blocks of 16 lanes; per block
 *           int32 bias''[16], then int8 w[KH][Q][16][4]
 *       with Q = ceil(R / 4) quads per tap row. vpdpbusd multiplies unsigned bytes, so the kernel
 *       reads the input plus 128 and bias'' = bias' - 128 * sum(w): the sums are the signed ones
 *       exactly. Lane l is channel 16*block + l; with C_out <= 8 there is one block whose lanes
 *       8..15 repeat channels 0..7 (the kernel then computes two pixels per register).
 * Taps k >= R and channels past C_out are zero in both.
 *
 * Geometry: output (oy, ox), tap (ky, kx) reads input (oy*SH - pad_top + ky*DH, ox*SW - pad_left
 * + kx); bottom/right padding is implied by OH/OW.
 *
 * Variants (any geometry within the limits above):
 *   edgert_qs8_conv_stem__scalar      the spec (PAIRS; reads the input directly, no row buffers)
 *   edgert_qs8_conv_stem__avx2        PAIRS, tiles of 4 pixels x 16 channels
 *   edgert_qs8_conv_stem__neon        PAIRS, tiles of 4 pixels x 8 channels
 *   edgert_qs8_conv_stem__avx512vnni  QUADS, tiles of 4 pixels x 32 channels, or 8 pixels x 8
 *                                     channels when C_out <= 8
 * Threading: split output rows; every output is the same exact integer sum whatever the split.
 */
#ifndef EDGERT_QS8_CONV_STEM_H
#define EDGERT_QS8_CONV_STEM_H

#include "edgert/common.h"
#include "edgert/qs8-requant.h"

#define EDGERT_QS8_CONV_STEM_COUT_BLOCK 8
#define EDGERT_QS8_CONV_STEM_MAX_CHANNELS 4 /* largest C_in the lowering sends here */

typedef enum {
  EDGERT_QS8_CONV_STEM_PAIRS = 0,
  EDGERT_QS8_CONV_STEM_QUADS = 1,
} edgert_qs8_conv_stem_layout;

size_t edgert_qs8_conv_stem_packed_bytes(edgert_qs8_conv_stem_layout layout, size_t C_in,
                                         size_t C_out, size_t KH, size_t KW);
/* weights in ONNX order [C_out][C_in][KH][KW]; bias [C_out] or NULL (zeros). packed 4-byte
 * aligned (64 for the fastest loads). */
void edgert_qs8_conv_stem_pack(edgert_qs8_conv_stem_layout layout, size_t C_in, size_t C_out,
                               size_t KH, size_t KW,
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

/* int16 elements of scratch one call needs (the KH row buffers, int16 or bytes by variant; the
 * scalar variant needs none). */
size_t edgert_qs8_conv_stem_scratch_elems(size_t C_in, size_t KH, size_t KW, size_t SW, size_t OW);

/* Computes output rows [oy0, oy1); nothing else is written. */
typedef void (*edgert_qs8_conv_stem_fn)(const edgert_qs8_conv_stem_args* a, size_t oy0, size_t oy1);

void edgert_qs8_conv_stem__scalar(const edgert_qs8_conv_stem_args* a, size_t oy0, size_t oy1);

#if EDGERT_ARCH_X86_64
void edgert_qs8_conv_stem__avx2(const edgert_qs8_conv_stem_args* a, size_t oy0, size_t oy1);
/* Needs AVX512-VNNI with AVX512VL/BW (edgert_cpu()->avx512_vnni). */
void edgert_qs8_conv_stem__avx512vnni(const edgert_qs8_conv_stem_args* a, size_t oy0, size_t oy1);
#endif

#if EDGERT_ARCH_ARM64
void edgert_qs8_conv_stem__neon(const edgert_qs8_conv_stem_args* a, size_t oy0, size_t oy1);
#endif

#endif /* EDGERT_QS8_CONV_STEM_H */
