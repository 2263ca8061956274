/* NEON quantized-weight GEMM (edgert/f32-qwgemm.h): 8 k at a time, weights widened
 * int8 -> int16 -> int32 -> float exactly, FMA into two 4-lane partial sums; scalar tails.
 * qs8w and f32w run four output rows at a time (x loaded once per 8 k, eight independent FMA
 * chains); rows N % 4 run one at a time. */
#include <arm_neon.h>

#include "edgert/f32-qwgemm.h"

static inline float32x4_t fma8(float32x4_t acc, const float* x, int8x8_t q8, float32x4_t* acc_hi) {
  const int16x8_t q16 = vmovl_s8(q8);
  *acc_hi = vfmaq_f32(*acc_hi, vld1q_f32(x + 4), vcvtq_f32_s32(vmovl_s16(vget_high_s16(q16))));
  return vfmaq_f32(acc, vld1q_f32(x), vcvtq_f32_s32(vmovl_s16(vget_low_s16(q16))));
}

void edgert_f32_qs8w_gemm__neon(size_t M, size_t N, size_t K, const float* x, const int8_t* w,
                                const float* scale, const float* bias, float* y) {
  for (size_t m = 0; m < M; m++) {
    const float* xm = x + m * K;
    size_t n = 0;
    for (; n + 4 <= N; n += 4) {
      const int8_t* wr[4] = {w + n * K, w + (n + 1) * K, w + (n + 2) * K, w + (n + 3) * K};
      float32x4_t lo[4], hi[4];
      for (int r = 0; r < 4; r++) lo[r] = hi[r] = vdupq_n_f32(0.0f);
      size_t k = 0;
      for (; k + 8 <= K; k += 8) {
        for (int r = 0; r < 4; r++) lo[r] = fma8(lo[r], xm + k, vld1_s8(wr[r] + k), &hi[r]);
      }
      for (int r = 0; r < 4; r++) {
        float s = vaddvq_f32(vaddq_f32(lo[r], hi[r]));
        for (size_t kk = k; kk < K; kk++) s += xm[kk] * (float)wr[r][kk];
        s *= scale[n + r];
        y[m * N + n + r] = bias ? s + bias[n + r] : s;
      }
    }
    for (; n < N; n++) {
      const int8_t* wn = w + n * K;
      float32x4_t a0 = vdupq_n_f32(0.0f), a1 = vdupq_n_f32(0.0f);
      size_t k = 0;
      for (; k + 8 <= K; k += 8) a0 = fma8(a0, xm + k, vld1_s8(wn + k), &a1);
      float s = vaddvq_f32(vaddq_f32(a0, a1));
      for (; k < K; k++) s += xm[k] * (float)wn[k];
      s *= scale[n];
      y[m * N + n] = bias ? s + bias[n] : s;
    }
  }
}

void edgert_f32_q4w_gemm__neon(size_t M, size_t N, size_t K, size_t group, const float* x,
                               const uint8_t* w, const float* scale, const float* bias, float* y) {
  const size_t groups = K / group;
  const uint8x8_t mask = vdup_n_u8(0x0F);
  const int8x8_t eight = vdup_n_s8(8);
  for (size_t m = 0; m < M; m++) {
    const float* xm = x + m * K;
    for (size_t n = 0; n < N; n++) {
      const uint8_t* wn = w + n * (K / 2);
      float acc = 0.0f;
      for (size_t g = 0; g < groups; g++) {
        const size_t k0 = g * group, k1 = k0 + group;
        float32x4_t a0 = vdupq_n_f32(0.0f), a1 = vdupq_n_f32(0.0f);
        size_t k = k0;
        for (; k + 8 <= k1; k += 8) {  /* 4 bytes at k/2 hold k .. k+7 */
          const uint8_t* p = wn + k / 2;
          const uint8x8_t bytes = vcreate_u8((uint64_t)p[0] | (uint64_t)p[1] << 8 |
                                             (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24);
          const uint8x8_t lo = vand_u8(bytes, mask), hi = vshr_n_u8(bytes, 4);
          const int8x8_t q = vsub_s8(vreinterpret_s8_u8(vzip1_u8(lo, hi)), eight);
          a0 = fma8(a0, xm + k, q, &a1);
        }
        float s = vaddvq_f32(vaddq_f32(a0, a1));
        for (; k < k1; k++) {
          const uint8_t b = wn[k / 2];
          s += xm[k] * (float)((int)((k & 1) ? (b >> 4) : (b & 0x0F)) - 8);
        }
        acc += s * scale[n * groups + g];
      }
      y[m * N + n] = bias ? acc + bias[n] : acc;
    }
  }
}

void edgert_f32_f32w_gemm__neon(size_t M, size_t N, size_t K, const float* x, const float* w,
                                const float* bias, float* y) {
  for (size_t m = 0; m < M; m++) {
    const float* xm = x + m * K;
    size_t n = 0;
    for (; n + 4 <= N; n += 4) {
      const float* wr[4] = {w + n * K, w + (n + 1) * K, w + (n + 2) * K, w + (n + 3) * K};
      float32x4_t lo[4], hi[4];
      for (int r = 0; r < 4; r++) lo[r] = hi[r] = vdupq_n_f32(0.0f);
      size_t k = 0;
      for (; k + 8 <= K; k += 8) {
        const float32x4_t x0 = vld1q_f32(xm + k), x1 = vld1q_f32(xm + k + 4);
        for (int r = 0; r < 4; r++) {
          lo[r] = vfmaq_f32(lo[r], x0, vld1q_f32(wr[r] + k));
          hi[r] = vfmaq_f32(hi[r], x1, vld1q_f32(wr[r] + k + 4));
        }
      }
      for (int r = 0; r < 4; r++) {
        float s = vaddvq_f32(vaddq_f32(lo[r], hi[r]));
        for (size_t kk = k; kk < K; kk++) s += xm[kk] * wr[r][kk];
        y[m * N + n + r] = bias ? s + bias[n + r] : s;
      }
    }
    for (; n < N; n++) {
      const float* wn = w + n * K;
      float32x4_t a0 = vdupq_n_f32(0.0f), a1 = vdupq_n_f32(0.0f);
      size_t k = 0;
      for (; k + 8 <= K; k += 8) {
        a0 = vfmaq_f32(a0, vld1q_f32(xm + k), vld1q_f32(wn + k));
        a1 = vfmaq_f32(a1, vld1q_f32(xm + k + 4), vld1q_f32(wn + k + 4));
      }
      float s = vaddvq_f32(vaddq_f32(a0, a1));
      for (; k < K; k++) s += xm[k] * wn[k];
      y[m * N + n] = bias ? s + bias[n] : s;
    }
  }
}
