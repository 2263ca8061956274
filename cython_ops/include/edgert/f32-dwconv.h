/* f32 depthwise convolution, NHWC, one image, channel multiplier 1.
 *
 * Packed weights (edgert_f32_dwconv_pack, identical for every variant): channels are grouped
 * in blocks of EDGERT_F32_DWCONV_CBLOCK (8); block g holds
 *     bias[8], then taps [KH][KW][8]
 * so everything one SIMD channel block needs is contiguous. Channels past C are zero.
 * Size: edgert_f32_dwconv_packed_floats(C, KH, KW) = round_up(C, 8) * (1 + KH*KW).
 *
 * Variants:
 *   edgert_f32_dwconv__scalar              the spec: any kernel, stride, dilation, padding
 *   edgert_f32_dwconv__avx2 / __neon       any kernel, stride, dilation, padding
 *   edgert_f32_dwconv_{3x3,5x5,7x7}{s1,s2}__avx2 / __neon
 *                                          only that kernel and stride (both axes), dilation 1;
 *                                          any padding, H, W, C
 * Pick a specialised variant when KH == KW and SH == SW match it and DH == DW == 1, else the
 * generic SIMD one. Output row oy reads input rows oy*SH - pad_top + ky*DH (out-of-range rows
 * are zero padding); bottom/right padding is implied by OH/OW.
 * Speed: give input/output 64-byte alignment; AVX2 loads from 16-byte aligned rows split cache
 * lines and ran up to 1.5x slower.
 */
#ifndef EDGERT_F32_DWCONV_H
#define EDGERT_F32_DWCONV_H

#include "edgert/common.h"

#define EDGERT_F32_DWCONV_CBLOCK 8

typedef struct {
  const float* input;  /* [H][W][C], contiguous */
  float* output;       /* [OH][OW][C], contiguous */
  const float* packed; /* from edgert_f32_dwconv_pack */
  size_t H, W, C, OH, OW;
  size_t KH, KW, SH, SW, DH, DW, pad_top, pad_left;
  float min, max; /* fused output clamp (Relu/Relu6/Clip); -INF/+INF for none */
} edgert_f32_dwconv_args;

/* Computes output rows [oy0, oy1). The caller threads by splitting rows. */
typedef void (*edgert_f32_dwconv_fn)(const edgert_f32_dwconv_args* args, size_t oy0, size_t oy1);

size_t edgert_f32_dwconv_packed_floats(size_t C, size_t KH, size_t KW);
/* weights in ONNX order [C][1][KH][KW]; bias [C] or NULL (zeros). */
void edgert_f32_dwconv_pack(size_t C, size_t KH, size_t KW, const float* weights, const float* bias,
                            float* packed);

void edgert_f32_dwconv__scalar(const edgert_f32_dwconv_args* args, size_t oy0, size_t oy1);

#if EDGERT_ARCH_X86_64
void edgert_f32_dwconv__avx2(const edgert_f32_dwconv_args* args, size_t oy0, size_t oy1);
void edgert_f32_dwconv_3x3s1__avx2(const edgert_f32_dwconv_args* args, size_t oy0, size_t oy1);
void edgert_f32_dwconv_3x3s2__avx2(const edgert_f32_dwconv_args* args, size_t oy0, size_t oy1);
void edgert_f32_dwconv_5x5s1__avx2(const edgert_f32_dwconv_args* args, size_t oy0, size_t oy1);
void edgert_f32_dwconv_5x5s2__avx2(const edgert_f32_dwconv_args* args, size_t oy0, size_t oy1);
void edgert_f32_dwconv_7x7s1__avx2(const edgert_f32_dwconv_args* args, size_t oy0, size_t oy1);
void edgert_f32_dwconv_7x7s2__avx2(const edgert_f32_dwconv_args* args, size_t oy0, size_t oy1);
#endif

#if EDGERT_ARCH_ARM64
void edgert_f32_dwconv__neon(const edgert_f32_dwconv_args* args, size_t oy0, size_t oy1);
void edgert_f32_dwconv_3x3s1__neon(const edgert_f32_dwconv_args* args, size_t oy0, size_t oy1);
void edgert_f32_dwconv_3x3s2__neon(const edgert_f32_dwconv_args* args, size_t oy0, size_t oy1);
void edgert_f32_dwconv_5x5s1__neon(const edgert_f32_dwconv_args* args, size_t oy0, size_t oy1);
void edgert_f32_dwconv_5x5s2__neon(const edgert_f32_dwconv_args* args, size_t oy0, size_t oy1);
void edgert_f32_dwconv_7x7s1__neon(const edgert_f32_dwconv_args* args, size_t oy0, size_t oy1);
void edgert_f32_dwconv_7x7s2__neon(const edgert_f32_dwconv_args* args, size_t oy0, size_t oy1);
#endif

#endif /* EDGERT_F32_DWCONV_H */
