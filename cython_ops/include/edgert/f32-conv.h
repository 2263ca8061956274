/* Layout helpers that turn a general NHWC convolution into the f32 GEMM (edgert/f32-gemm.h):
 *   Conv:          im2col(input) -> cols[pixels, KH*KW*C] ; GEMM(cols, packed weights) -> output
 *   ConvTranspose: GEMM(input, packed weights) -> cols[H*W, KH*KW*C] ; col2im(cols) -> output
 * Weights for the GEMM are therefore ordered (ky, kx, c) along K (Conv) or N (ConvTranspose).
 * One image per call; portable C (memcpy / fixed-width inner loops the compiler vectorises).
 */
#ifndef EDGERT_F32_CONV_H
#define EDGERT_F32_CONV_H

#include "edgert/common.h"

/* cols has one row per output pixel p = oy*OW + ox for p in [p0, p1), row length KH*KW*C ordered
 * (ky, kx, c); padded taps write 0. Input pixel (iy, ix) = (oy*SH - pad_top + ky*DH,
 * ox*SW - pad_left + kx*DW).
 * input points at the first channel of this group; pixel_stride = floats between neighbouring
 * pixels (>= C, for grouped conv). Threads split the work by output pixel ranges. */
void edgert_f32_im2col_nhwc(const float* input, size_t H, size_t W, size_t C, size_t pixel_stride,
                            size_t KH, size_t KW, size_t SH, size_t SW, size_t DH, size_t DW,
                            size_t pad_top, size_t pad_left, size_t OW, size_t p0, size_t p1,
                            float* cols);

/* ConvTranspose: cols[H*W, KH*KW*C] (ordered ky,kx,c) scatter-added into output [OH, OW, C]
 * (output already holds the bias): output pixel
 * (iy*SH - pad_top + ky*DH, ix*SW - pad_left + kx*DW); taps outside the output are dropped. */
void edgert_f32_col2im_nhwc(const float* cols, size_t H, size_t W, size_t C, size_t KH, size_t KW,
                            size_t SH, size_t SW, size_t DH, size_t DW, size_t pad_top,
                            size_t pad_left, size_t OH, size_t OW, float* output);

#endif /* EDGERT_F32_CONV_H */
