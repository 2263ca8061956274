#include "edgert/qs8-vcvt.h"

void edgert_qs8_quantize__scalar(size_t n, const float* x, int8_t* y, float scale,
                                 int32_t zero_point) {
  for (size_t i = 0; i < n; i++) y[i] = edgert_qs8_quantize(x[i], scale, zero_point);
}

void edgert_qs8_quantize_nchw__scalar(size_t C, size_t HW, size_t p0, size_t p1, const float* x,
                                      int8_t* y, float scale, int32_t zero_point) {
  for (size_t p = p0; p < p1; p++)
    for (size_t c = 0; c < C; c++) y[p * C + c] = edgert_qs8_quantize(x[c * HW + p], scale, zero_point);
}

void edgert_qs8_dequantize__scalar(size_t n, const int8_t* x, float* y, float scale,
                                   int32_t zero_point) {
  for (size_t i = 0; i < n; i++) y[i] = edgert_qs8_dequantize(x[i], scale, zero_point);
}
