/* SKA, NEON: 4 channels per vector, four vectors (16 channels) per pass (edgert/f32-ska.h). */
#include <arm_neon.h>
#include <stdlib.h>

#include "edgert/f32-ska.h"

void edgert_f32_ska__neon(size_t H, size_t W, size_t C, size_t G, size_t k, const float* x,
                          const float* wt, float* y, size_t row_begin, size_t row_end) {
  const size_t kk = k * k;
  /* Per pixel the weights are transposed to tap-major wbuf[t][g], so the weights of 4 consecutive
   * channels (8 consecutive groups, as G is a multiple of 8) are one contiguous load. */
  float* wbuf = (G % 4 == 0) ? malloc(kk * G * sizeof(float)) : NULL;
  size_t* xoff = wbuf ? malloc(kk * sizeof(size_t)) : NULL;
  size_t* tap = wbuf ? malloc(kk * sizeof(size_t)) : NULL;
  if (wbuf == NULL || xoff == NULL || tap == NULL) {
    free(wbuf); free(xoff); free(tap);
    edgert_f32_ska__scalar(H, W, C, G, k, x, wt, y, row_begin, row_end);
    return;
  }
  for (size_t h = row_begin; h < row_end; h++) {
    for (size_t w = 0; w < W; w++) {
      const float* kern = wt + (h * W + w) * G * kk;
      for (size_t g = 0; g < G; g++)
        for (size_t t = 0; t < kk; t++) wbuf[t * G + g] = kern[g * kk + t];
      const size_t n = edgert_f32_ska_inner_taps(H, W, C, k, h, w, G, xoff, tap);
      float* out = y + (h * W + w) * C;
      size_t c = 0;
      for (; c + 16 <= C; c += 16) {
        const size_t o0 = c % G, o1 = (c + 4) % G, o2 = (c + 8) % G, o3 = (c + 12) % G;
        float32x4_t a0 = vdupq_n_f32(0.0f), a1 = vdupq_n_f32(0.0f);
        float32x4_t a2 = vdupq_n_f32(0.0f), a3 = vdupq_n_f32(0.0f);
        for (size_t q = 0; q < n; q++) {
          const float* xp = x + xoff[q] + c;
          const float* wp = wbuf + tap[q];
          a0 = vfmaq_f32(a0, vld1q_f32(xp), vld1q_f32(wp + o0));
          a1 = vfmaq_f32(a1, vld1q_f32(xp + 4), vld1q_f32(wp + o1));
          a2 = vfmaq_f32(a2, vld1q_f32(xp + 8), vld1q_f32(wp + o2));
          a3 = vfmaq_f32(a3, vld1q_f32(xp + 12), vld1q_f32(wp + o3));
        }
        vst1q_f32(out + c, a0);
        vst1q_f32(out + c + 4, a1);
        vst1q_f32(out + c + 8, a2);
        vst1q_f32(out + c + 12, a3);
      }
      for (; c < C; c += 4) {  /* C is a multiple of G, hence of 4 */
        const size_t o = c % G;
        float32x4_t a = vdupq_n_f32(0.0f);
        for (size_t q = 0; q < n; q++)
          a = vfmaq_f32(a, vld1q_f32(x + xoff[q] + c), vld1q_f32(wbuf + tap[q] + o));
        vst1q_f32(out + c, a);
      }
    }
  }
  free(wbuf); free(xoff); free(tap);
}
