/* f32 stem convolution: NCHW input (the user's image, C_in small: 1..4) -> NHWC output, one image.
 *
 * The first conv of a CNN (MobileNet 3x3 s2 p1 3->32, ResNet 7x7 s2 p3 3->64) has K = KH*KW*C_in
 * of only 27..147, so im2col + GEMM spends as long gathering as multiplying. These kernels
 * convolve directly: for a tile of consecutive output pixels of one row they keep accumulators
 * for a block of output channels, broadcast each input tap straight from the NCHW planes and
 * FMA it with the packed weight row of that tap (XNNPACK conv-hwc2chw / ncnn stem kernels,
 * transposed: channels-last out).
 *
 * Packed weights (edgert_f32_conv_stem_pack, identical for every variant, so dispatch can switch
 * variants without repacking): output channels in blocks of EDGERT_F32_CONV_STEM_COUT_BLOCK (16);
 * block b holds
 *     bias[16], then taps [KH][KW][C_in][16]
 * Channels past C_out are zero. Size: edgert_f32_conv_stem_packed_floats() =
 * round_up(C_out, 16) * (1 + KH*KW*C_in). Allocate it 64-byte aligned (a tap row is then one line).
 *
 * Geometry: output pixel (oy, ox), tap (ky, kx) reads input (oy*SH - pad_top + ky*DH,
 * ox*SW - pad_left + kx*DW); taps outside [0,H) x [0,W) are zero padding (bottom/right padding is
 * implied by OH/OW). Any C_in, C_out, KH, KW, SH, SW, DH, DW >= 1 and any padding.
 *
 * Variants (all take any geometry; one layout, so any can replace any other):
 *   edgert_f32_conv_stem__scalar      the spec
 *   edgert_f32_conv_stem__avx2        AVX2+FMA: tiles of 6 pixels x 16 channels
 *   edgert_f32_conv_stem__neon        aarch64 NEON: tiles of 6 pixels x 16 channels
 * Threading: split [0, OH*OW) into pixel ranges (any cut, rows may be split); every output is
 * summed in the same order whatever the cut, so results do not depend on the thread count.
 */
#ifndef EDGERT_F32_CONV_STEM_H
#define EDGERT_F32_CONV_STEM_H

#include "edgert/common.h"

#define EDGERT_F32_CONV_STEM_COUT_BLOCK 16

size_t edgert_f32_conv_stem_packed_floats(size_t C_in, size_t C_out, size_t KH, size_t KW);
/* weights in ONNX order [C_out][C_in][KH][KW]; bias [C_out] or NULL (zeros). */
void edgert_f32_conv_stem_pack(size_t C_in, size_t C_out, size_t KH, size_t KW,
                               const float* weights, const float* bias, float* packed);

typedef struct {
  const float* input;  /* one image [C_in][H][W] */
  float* output;       /* one image [OH][OW][C_out] */
  const float* packed; /* from edgert_f32_conv_stem_pack */
  size_t H, W, C_in, C_out, OH, OW, KH, KW, SH, SW, DH, DW, pad_top, pad_left;
  float min, max; /* fused output clamp (Relu/Relu6/Clip); -INF/+INF for none */
} edgert_f32_conv_stem_args;

/* Computes output pixels p = oy*OW + ox in [p0, p1) (the caller threads over pixel ranges);
 * nothing outside that range is written. */
typedef void (*edgert_f32_conv_stem_fn)(const edgert_f32_conv_stem_args* a, size_t p0, size_t p1);

void edgert_f32_conv_stem__scalar(const edgert_f32_conv_stem_args* a, size_t p0, size_t p1);

#if EDGERT_ARCH_X86_64
/* Needs AVX2 + FMA (edgert_cpu()->avx2_fma). */
void edgert_f32_conv_stem__avx2(const edgert_f32_conv_stem_args* a, size_t p0, size_t p1);
#endif

#if EDGERT_ARCH_ARM64
void edgert_f32_conv_stem__neon(const edgert_f32_conv_stem_args* a, size_t p0, size_t p1);
#endif

#endif /* EDGERT_F32_CONV_STEM_H */
