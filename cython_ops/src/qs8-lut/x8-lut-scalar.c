#include "edgert/qs8-lut.h"

void edgert_x8_lut__scalar(size_t n, const int8_t* x, int8_t* y, const int8_t* table) {
  for (size_t i = 0; i < n; i++) y[i] = table[(uint8_t)x[i]];
}
