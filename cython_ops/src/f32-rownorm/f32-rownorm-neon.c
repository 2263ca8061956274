/* NEON row reductions (edgert/f32-rownorm.h): 4 lanes, sums widened to double 2 lanes at a time,
 * exp from the vexp kernel. */
#include <arm_neon.h>
#include <math.h>

#include "edgert/f32-rownorm.h"
#include "edgert/f32-vunary.h"

static inline float64x2_t add_widened(float64x2_t acc, float32x4_t v) {
  acc = vaddq_f64(acc, vcvt_f64_f32(vget_low_f32(v)));
  return vaddq_f64(acc, vcvt_high_f64_f32(v));
}

void edgert_f32_instnorm__neon(size_t rows, size_t n, const float* x, const float* scale,
                               const float* bias, float eps, float* y) {
  for (size_t r = 0; r < rows; r++) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    float64x2_t acc0 = vdupq_n_f64(0.0), acc1 = vdupq_n_f64(0.0);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      acc0 = add_widened(acc0, vld1q_f32(xr + i));
      acc1 = add_widened(acc1, vld1q_f32(xr + i + 4));
    }
    for (; i + 4 <= n; i += 4) acc0 = add_widened(acc0, vld1q_f32(xr + i));
    double sum = vaddvq_f64(vaddq_f64(acc0, acc1));
    for (; i < n; i++) sum += xr[i];
    const float mean = n ? (float)(sum / (double)n) : 0.0f;
    const float32x4_t vmean = vdupq_n_f32(mean);
    acc0 = acc1 = vdupq_n_f64(0.0);
    for (i = 0; i + 8 <= n; i += 8) {
      const float32x4_t d0 = vsubq_f32(vld1q_f32(xr + i), vmean);
      const float32x4_t d1 = vsubq_f32(vld1q_f32(xr + i + 4), vmean);
      acc0 = add_widened(acc0, vmulq_f32(d0, d0));
      acc1 = add_widened(acc1, vmulq_f32(d1, d1));
    }
    for (; i + 4 <= n; i += 4) {
      const float32x4_t d = vsubq_f32(vld1q_f32(xr + i), vmean);
      acc0 = add_widened(acc0, vmulq_f32(d, d));
    }
    double ss = vaddvq_f64(vaddq_f64(acc0, acc1));
    for (; i < n; i++) {
      const float d = xr[i] - mean;
      ss += (double)(d * d);
    }
    const float var = n ? (float)(ss / (double)n) : 0.0f;
    const float a = (scale ? scale[r] : 1.0f) / sqrtf(var + eps);
    const float b = bias ? bias[r] : 0.0f;
    const float32x4_t va = vdupq_n_f32(a), vb = vdupq_n_f32(b);
    for (i = 0; i + 4 <= n; i += 4) vst1q_f32(yr + i, vfmaq_f32(vb, vsubq_f32(vld1q_f32(xr + i), vmean), va));
    for (; i < n; i++) yr[i] = (xr[i] - mean) * a + b;
  }
}

void edgert_f32_softmax__neon(size_t rows, size_t n, const float* x, float* y) {
  for (size_t r = 0; r < rows; r++) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    float32x4_t vmax = vdupq_n_f32(-INFINITY);
    uint32x4_t vnan = vdupq_n_u32(0);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
      const float32x4_t v = vld1q_f32(xr + i);
      vnan = vorrq_u32(vnan, vmvnq_u32(vceqq_f32(v, v)));
      vmax = vmaxnmq_f32(vmax, v);
    }
    float m = vmaxvq_f32(vmax);
    int nan = vmaxvq_u32(vnan) != 0;
    for (; i < n; i++) {
      nan |= isnan(xr[i]);
      if (xr[i] > m) m = xr[i];
    }
    if (nan) m = NAN;
    const float32x4_t vm = vdupq_n_f32(m);
    for (i = 0; i + 4 <= n; i += 4) vst1q_f32(yr + i, vsubq_f32(vld1q_f32(xr + i), vm));
    for (; i < n; i++) yr[i] = xr[i] - m;
    edgert_f32_vexp__neon(n, yr, yr, NULL);
    float64x2_t acc = vdupq_n_f64(0.0);
    for (i = 0; i + 4 <= n; i += 4) acc = add_widened(acc, vld1q_f32(yr + i));
    double sum = vaddvq_f64(acc);
    for (; i < n; i++) sum += yr[i];
    const float inv = (float)(1.0 / sum);
    const float32x4_t vinv = vdupq_n_f32(inv);
    for (i = 0; i + 4 <= n; i += 4) vst1q_f32(yr + i, vmulq_f32(vld1q_f32(yr + i), vinv));
    for (; i < n; i++) yr[i] *= inv;
  }
}
