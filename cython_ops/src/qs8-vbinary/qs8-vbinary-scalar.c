#include "edgert/qs8-vbinary.h"

void edgert_qs8_vadd__scalar(size_t n, const int8_t* a, const int8_t* b, int8_t* y,
                             const edgert_qs8_binary_params* p) {
  for (size_t i = 0; i < n; i++)
    y[i] = edgert_qs8_add(a[i], p->a_zero_point, p->a_mult, b[i], p->b_zero_point, p->b_mult, &p->out);
}

void edgert_qs8_vaddc__scalar(size_t n, const int8_t* a, const int8_t* b, int8_t* y,
                              const edgert_qs8_binary_params* p) {
  const int32_t b0 = b[0];
  for (size_t i = 0; i < n; i++)
    y[i] = edgert_qs8_add(a[i], p->a_zero_point, p->a_mult, b0, p->b_zero_point, p->b_mult, &p->out);
}

void edgert_qs8_vmul__scalar(size_t n, const int8_t* a, const int8_t* b, int8_t* y,
                             const edgert_qs8_binary_params* p) {
  for (size_t i = 0; i < n; i++)
    y[i] = edgert_qs8_mul(a[i], p->a_zero_point, b[i], p->b_zero_point, p->a_mult, &p->out);
}

void edgert_qs8_vmulc__scalar(size_t n, const int8_t* a, const int8_t* b, int8_t* y,
                              const edgert_qs8_binary_params* p) {
  const int32_t b0 = b[0];
  for (size_t i = 0; i < n; i++)
    y[i] = edgert_qs8_mul(a[i], p->a_zero_point, b0, p->b_zero_point, p->a_mult, &p->out);
}
