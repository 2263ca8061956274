/* x8 table lookup: y[i] = table[(uint8_t)x[i]] with a 256-entry table indexed by the byte's
 * unsigned value (int8 -128..-1 -> entries 128..255). Every requantizing int8 unary op
 * (sigmoid, tanh, hardswish, leaky relu, ...) runs as one, its table built by the runtime. */
#ifndef EDGERT_QS8_LUT_H
#define EDGERT_QS8_LUT_H

#include "edgert/common.h"

typedef void (*edgert_x8_lut_fn)(size_t n, const int8_t* x, int8_t* y, const int8_t* table);

void edgert_x8_lut__scalar(size_t n, const int8_t* x, int8_t* y, const int8_t* table);
#if EDGERT_ARCH_X86_64
void edgert_x8_lut__avx2(size_t n, const int8_t* x, int8_t* y, const int8_t* table);
#endif
#if EDGERT_ARCH_ARM64
void edgert_x8_lut__neon(size_t n, const int8_t* x, int8_t* y, const int8_t* table);
#endif

#endif /* EDGERT_QS8_LUT_H */
