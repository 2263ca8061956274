/* qs8 depthwise convolution, NHWC, one image, channel multiplier 1:
 *     acc[c]  = bias'[c] + sum over taps of x_q * w_q          (int32, exact)
 *     out[c]  = requantize(acc[c], scales[c])                   (edgert/qs8-requant.h)
 * with bias' = bias - zp_in * sum(w) folded in at packing; padded taps read zp_in, so they add
 * exactly what the fold removed (the scalar reference adds zp_in * w for them).
 *
 * Packed weights come in one of three layouts, chosen by the dispatch table per ISA; channels are
 * grouped in blocks of EDGERT_QS8_DWCONV_CBLOCK (16), channels past C are zero:
 *   EDGERT_QS8_DWCONV_TAPS (scalar, NEON): per block
 *       int32 bias'[16], then int8 w[KH*KW][16]                       (taps row-major)
 *   EDGERT_QS8_DWCONV_ROWPAIRS (AVX2): per block
 *       int32 bias'[16], then for each pair of tap rows (ky, ky+1), ky = 0, 2, ...
 *       (the last row of an odd KH pairs with a zero row) and each kx:
 *       int16 w[32] = per channel c = 0..15 the pair (w_ky[c], w_ky+1[c])
 *   Vertically paired taps let vpmaddwd add two taps per int16 multiply, and stride-1 kernels
 *   reuse one interleaved input column for every output whose window covers it.
 *   EDGERT_QS8_DWCONV_ROWQUADS (AVX512-VNNI): per block
 *       int32 bias'' = bias' - 128 * sum(w) [16] (the kernel offsets inputs by 128 for the
 *       unsigned operand of vpdpbusd), then for each quad of tap rows (ky = 0, 4, ...; rows past
 *       KH are zero) and each kx: int8 w[64] = per channel c the taps w_ky..w_ky+3 [c]
 * Variants (all take any padding, H, W, C):
 *   edgert_qs8_dwconv__scalar / __avx2 / __avx512vnni / __neon    any kernel, stride, dilation
 *   edgert_qs8_dwconv_{3x3,5x5,7x7}{s1,s2}__avx2 / ... (same ISAs) only that kernel and stride (both
 *                                                           axes), dilation 1
 * Output row oy reads input rows oy*SH - pad_top + ky*DH; bottom/right padding is implied by
 * OH/OW.
 */
#ifndef EDGERT_QS8_DWCONV_H
#define EDGERT_QS8_DWCONV_H

#include "edgert/common.h"
#include "edgert/qs8-requant.h"

#define EDGERT_QS8_DWCONV_CBLOCK 16

typedef enum {
  EDGERT_QS8_DWCONV_TAPS = 0,
  EDGERT_QS8_DWCONV_ROWPAIRS = 1,
  EDGERT_QS8_DWCONV_ROWQUADS = 2
} edgert_qs8_dwconv_layout;

typedef struct {
  const int8_t* input;  /* [H][W][C], contiguous */
  int8_t* output;       /* [OH][OW][C], contiguous */
  const void* packed;   /* from edgert_qs8_dwconv_pack, in the variant's layout */
  const float* scales;  /* [C]: s_in * s_w[c] / s_out */
  size_t H, W, C, OH, OW;
  size_t KH, KW, SH, SW, DH, DW, pad_top, pad_left;
  int32_t input_zero_point;
  edgert_qs8_output_params out;
} edgert_qs8_dwconv_args;

/* Computes output rows [oy0, oy1). The caller threads by splitting rows. */
typedef void (*edgert_qs8_dwconv_fn)(const edgert_qs8_dwconv_args* args, size_t oy0, size_t oy1);

size_t edgert_qs8_dwconv_packed_bytes(edgert_qs8_dwconv_layout layout, size_t C, size_t KH,
                                      size_t KW);
/* weights in ONNX order [C][1][KH][KW]; bias [C] or NULL (zeros). packed 4-byte aligned. */
void edgert_qs8_dwconv_pack(edgert_qs8_dwconv_layout layout, size_t C, size_t KH, size_t KW,
                            const int8_t* weights, const int32_t* bias, int32_t input_zero_point,
                            void* packed);

void edgert_qs8_dwconv__scalar(const edgert_qs8_dwconv_args* args, size_t oy0, size_t oy1);

#if EDGERT_ARCH_X86_64
void edgert_qs8_dwconv__avx2(const edgert_qs8_dwconv_args* args, size_t oy0, size_t oy1);
void edgert_qs8_dwconv_3x3s1__avx2(const edgert_qs8_dwconv_args* args, size_t oy0, size_t oy1);
void edgert_qs8_dwconv_3x3s2__avx2(const edgert_qs8_dwconv_args* args, size_t oy0, size_t oy1);
void edgert_qs8_dwconv_5x5s1__avx2(const edgert_qs8_dwconv_args* args, size_t oy0, size_t oy1);
void edgert_qs8_dwconv_5x5s2__avx2(const edgert_qs8_dwconv_args* args, size_t oy0, size_t oy1);
void edgert_qs8_dwconv_7x7s1__avx2(const edgert_qs8_dwconv_args* args, size_t oy0, size_t oy1);
void edgert_qs8_dwconv_7x7s2__avx2(const edgert_qs8_dwconv_args* args, size_t oy0, size_t oy1);
/* Need AVX512-VNNI with AVX512VL/BW (edgert_cpu()->avx512_vnni). */
void edgert_qs8_dwconv__avx512vnni(const edgert_qs8_dwconv_args* args, size_t oy0, size_t oy1);
void edgert_qs8_dwconv_3x3s1__avx512vnni(const edgert_qs8_dwconv_args* args, size_t oy0, size_t oy1);
void edgert_qs8_dwconv_3x3s2__avx512vnni(const edgert_qs8_dwconv_args* args, size_t oy0, size_t oy1);
void edgert_qs8_dwconv_5x5s1__avx512vnni(const edgert_qs8_dwconv_args* args, size_t oy0, size_t oy1);
void edgert_qs8_dwconv_5x5s2__avx512vnni(const edgert_qs8_dwconv_args* args, size_t oy0, size_t oy1);
void edgert_qs8_dwconv_7x7s1__avx512vnni(const edgert_qs8_dwconv_args* args, size_t oy0, size_t oy1);
void edgert_qs8_dwconv_7x7s2__avx512vnni(const edgert_qs8_dwconv_args* args, size_t oy0, size_t oy1);
#endif

#if EDGERT_ARCH_ARM64
void edgert_qs8_dwconv__neon(const edgert_qs8_dwconv_args* args, size_t oy0, size_t oy1);
void edgert_qs8_dwconv_3x3s1__neon(const edgert_qs8_dwconv_args* args, size_t oy0, size_t oy1);
void edgert_qs8_dwconv_3x3s2__neon(const edgert_qs8_dwconv_args* args, size_t oy0, size_t oy1);
void edgert_qs8_dwconv_5x5s1__neon(const edgert_qs8_dwconv_args* args, size_t oy0, size_t oy1);
void edgert_qs8_dwconv_5x5s2__neon(const edgert_qs8_dwconv_args* args, size_t oy0, size_t oy1);
void edgert_qs8_dwconv_7x7s1__neon(const edgert_qs8_dwconv_args* args, size_t oy0, size_t oy1);
void edgert_qs8_dwconv_7x7s2__neon(const edgert_qs8_dwconv_args* args, size_t oy0, size_t oy1);
#endif

#endif /* EDGERT_QS8_DWCONV_H */
