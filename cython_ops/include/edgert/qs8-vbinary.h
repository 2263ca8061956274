/* qs8 elementwise Add and Mul (edgert/qs8-requant.h):
 *   add:  y = output((a - za) * a_mult + (b - zb) * b_mult)   a_mult = s_a/s_y, b_mult = s_b/s_y
 *   mul:  y = output((a - za) * (b - zb) * a_mult)             a_mult = s_a*s_b/s_y (b_mult unused)
 * vadd/vmul: y[i] = a[i] op b[i]; vaddc/vmulc: y[i] = a[i] op b[0]. Both ops are symmetric in a
 * and b once their zero points and multipliers are swapped too, so b[0] op a[i] is vaddc with the
 * operands' parameters swapped.
 */
#ifndef EDGERT_QS8_VBINARY_H
#define EDGERT_QS8_VBINARY_H

#include "edgert/common.h"
#include "edgert/qs8-requant.h"

typedef struct {
  int32_t a_zero_point, b_zero_point;
  float a_mult, b_mult;
  edgert_qs8_output_params out;
} edgert_qs8_binary_params;

typedef void (*edgert_qs8_vbinary_fn)(size_t n, const int8_t* a, const int8_t* b, int8_t* y,
                                      const edgert_qs8_binary_params* params);

#define EDGERT_QS8_VBINARY_DECLARE(isa)                                                         \
  void edgert_qs8_vadd__##isa(size_t n, const int8_t* a, const int8_t* b, int8_t* y,            \
                              const edgert_qs8_binary_params* params);                          \
  void edgert_qs8_vaddc__##isa(size_t n, const int8_t* a, const int8_t* b, int8_t* y,           \
                               const edgert_qs8_binary_params* params);                         \
  void edgert_qs8_vmul__##isa(size_t n, const int8_t* a, const int8_t* b, int8_t* y,            \
                              const edgert_qs8_binary_params* params);                          \
  void edgert_qs8_vmulc__##isa(size_t n, const int8_t* a, const int8_t* b, int8_t* y,           \
                               const edgert_qs8_binary_params* params);

EDGERT_QS8_VBINARY_DECLARE(scalar)
#if EDGERT_ARCH_X86_64
EDGERT_QS8_VBINARY_DECLARE(avx2)
#endif
#if EDGERT_ARCH_ARM64
EDGERT_QS8_VBINARY_DECLARE(neon)
#endif

#endif /* EDGERT_QS8_VBINARY_H */
