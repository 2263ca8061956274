/* Conversions between float32 and qs8 (edgert/qs8-requant.h):
 *   quantize:       y[i] = edgert_qs8_quantize(x[i], scale, zp)   ONNX QuantizeLinear, x / scale
 *   quantize_nchw:  the same, reading x as [C][HW] planes and writing y as [HW][C] pixels: the
 *                   network's first layer quantizes a float NCHW image straight into NHWC int8.
 *   dequantize:     y[i] = (q[i] - zp) * scale                      ONNX DequantizeLinear
 */
#ifndef EDGERT_QS8_VCVT_H
#define EDGERT_QS8_VCVT_H

#include "edgert/common.h"
#include "edgert/qs8-requant.h"

typedef void (*edgert_qs8_quantize_fn)(size_t n, const float* x, int8_t* y, float scale,
                                       int32_t zero_point);
/* Pixels [p0, p1) of one image: x[c*HW + p] -> y[p*C + c]. */
typedef void (*edgert_qs8_quantize_nchw_fn)(size_t C, size_t HW, size_t p0, size_t p1,
                                            const float* x, int8_t* y, float scale,
                                            int32_t zero_point);
typedef void (*edgert_qs8_dequantize_fn)(size_t n, const int8_t* x, float* y, float scale,
                                         int32_t zero_point);

#define EDGERT_QS8_VCVT_DECLARE(isa)                                                           \
  void edgert_qs8_quantize__##isa(size_t n, const float* x, int8_t* y, float scale,             \
                                  int32_t zero_point);                                         \
  void edgert_qs8_quantize_nchw__##isa(size_t C, size_t HW, size_t p0, size_t p1,               \
                                       const float* x, int8_t* y, float scale,                 \
                                       int32_t zero_point);                                    \
  void edgert_qs8_dequantize__##isa(size_t n, const int8_t* x, float* y, float scale,           \
                                    int32_t zero_point);

EDGERT_QS8_VCVT_DECLARE(scalar)
#if EDGERT_ARCH_X86_64
EDGERT_QS8_VCVT_DECLARE(avx2)
#endif
#if EDGERT_ARCH_ARM64
EDGERT_QS8_VCVT_DECLARE(neon)
#endif

#endif /* EDGERT_QS8_VCVT_H */
