/* Layout helper that turns a general NHWC int8 convolution into the qs8 GEMM
 * (edgert/qs8-gemm.h): im2col(input) -> cols[pixels, KH*KW*C] ; GEMM(cols, packed) -> output.
 * Weights for the GEMM are therefore ordered (ky, kx, c) along K. One image per call.
 */
#ifndef EDGERT_QS8_CONV_H
#define EDGERT_QS8_CONV_H

#include "edgert/common.h"

/* cols has one row per output pixel p = oy*OW + ox for p in [p0, p1), row length KH*KW*C ordered
 * (ky, kx, c); padded taps write pad_value, the input zero point (the GEMM bias has
 * -zp_in * sum(w) folded in, which the padding then cancels). Input pixel (iy, ix) =
 * (oy*SH - pad_top + ky*DH, ox*SW - pad_left + kx*DW). input points at the first channel of this
 * group; pixel_stride = bytes between neighbouring pixels (>= C, for grouped conv). Threads split
 * the work by output pixel ranges. */
void edgert_qs8_im2col_nhwc(const int8_t* input, size_t H, size_t W, size_t C, size_t pixel_stride,
                            size_t KH, size_t KW, size_t SH, size_t SW, size_t DH, size_t DW,
                            size_t pad_top, size_t pad_left, size_t OW, size_t p0, size_t p1,
                            int8_t pad_value, int8_t* cols);

#endif /* EDGERT_QS8_CONV_H */
