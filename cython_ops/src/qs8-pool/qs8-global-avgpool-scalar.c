#include "edgert/qs8-pool.h"

void edgert_qs8_global_avgpool__scalar(size_t pixels, size_t C, size_t pixel_stride,
                                       const int8_t* input, int8_t* output,
                                       const edgert_qs8_global_avgpool_params* p) {
  for (size_t c = 0; c < C; c++) {
    int32_t acc = 0;
    for (size_t i = 0; i < pixels; i++) acc += input[i * pixel_stride + c] - p->input_zero_point;
    output[c] = edgert_qs8_average(acc, pixels, p->scale, &p->out);
  }
}
