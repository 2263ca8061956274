/* Body shared by the SIMD row reductions (f32-rownorm-avx2.c, f32-rownorm-neon.c,
 * edgert/f32-rownorm.h), written once on the vector layer of ../common/f32-vec.h: sums widened
 * to double (two accumulators over pairs of vectors, then one vector, then scalars), exp from
 * the ISA's vexp kernel. The including file defines ROWNORM_INSTNORM, ROWNORM_SOFTMAX (the
 * function names) and ROWNORM_VEXP. */
#ifndef EDGERT_F32_ROWNORM_IMPL_H
#define EDGERT_F32_ROWNORM_IMPL_H

#include <math.h>

#include "edgert/f32-rownorm.h"
#include "edgert/f32-vunary.h"

#include "../common/f32-vec.h"

#define W F32V_WIDTH

void ROWNORM_INSTNORM(size_t rows, size_t n, const float* x, const float* scale, const float* bias,
                      float eps, float* y) {
  for (size_t r = 0; r < rows; r++) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    f64v acc0 = f64v_zero(), acc1 = f64v_zero();
    size_t i = 0;
    for (; i + 2 * W <= n; i += 2 * W) {
      acc0 = f32v_add_widened(acc0, f32v_load(xr + i));
      acc1 = f32v_add_widened(acc1, f32v_load(xr + i + W));
    }
    for (; i + W <= n; i += W) acc0 = f32v_add_widened(acc0, f32v_load(xr + i));
    double sum = f64v_sum(f64v_add(acc0, acc1));
    for (; i < n; i++) sum += xr[i];
    const float mean = n ? (float)(sum / (double)n) : 0.0f;
    const f32v vmean = f32v_dup(mean);
    acc0 = acc1 = f64v_zero();
    for (i = 0; i + 2 * W <= n; i += 2 * W) {
      const f32v d0 = f32v_sub(f32v_load(xr + i), vmean);
      const f32v d1 = f32v_sub(f32v_load(xr + i + W), vmean);
      acc0 = f32v_add_widened(acc0, f32v_mul(d0, d0));
      acc1 = f32v_add_widened(acc1, f32v_mul(d1, d1));
    }
    for (; i + W <= n; i += W) {
      const f32v d = f32v_sub(f32v_load(xr + i), vmean);
      acc0 = f32v_add_widened(acc0, f32v_mul(d, d));
    }
    double ss = f64v_sum(f64v_add(acc0, acc1));
    for (; i < n; i++) {
      const float d = xr[i] - mean;
      ss += (double)(d * d);
    }
    const float var = n ? (float)(ss / (double)n) : 0.0f;
    const float a = (scale ? scale[r] : 1.0f) / sqrtf(var + eps);
    const float b = bias ? bias[r] : 0.0f;
    const f32v va = f32v_dup(a), vb = f32v_dup(b);
    for (i = 0; i + W <= n; i += W) f32v_store(yr + i, f32v_fma(vb, f32v_sub(f32v_load(xr + i), vmean), va));
    for (; i < n; i++) yr[i] = (xr[i] - mean) * a + b;
  }
}

void ROWNORM_SOFTMAX(size_t rows, size_t n, const float* x, float* y) {
  for (size_t r = 0; r < rows; r++) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    f32v vmax = f32v_dup(-INFINITY), vnan = f32v_dup(0.0f);
    size_t i = 0;
    for (; i + W <= n; i += W) {
      const f32v v = f32v_load(xr + i);
      vnan = f32v_or_isnan(vnan, v);
      vmax = f32v_max(vmax, v);
    }
    /* The lanes' maximum only counts without a NaN, which makes the row NaN. */
    float m = f32v_reduce_max(vmax);
    int nan = f32v_any(vnan);
    for (; i < n; i++) {
      nan |= isnan(xr[i]);
      if (xr[i] > m) m = xr[i];
    }
    if (nan) m = NAN;
    const f32v vm = f32v_dup(m);
    for (i = 0; i + W <= n; i += W) f32v_store(yr + i, f32v_sub(f32v_load(xr + i), vm));
    for (; i < n; i++) yr[i] = xr[i] - m;
    ROWNORM_VEXP(n, yr, yr, NULL);
    f64v acc = f64v_zero();
    for (i = 0; i + W <= n; i += W) acc = f32v_add_widened(acc, f32v_load(yr + i));
    double sum = f64v_sum(acc);
    for (; i < n; i++) sum += yr[i];
    const float inv = (float)(1.0 / sum);
    const f32v vinv = f32v_dup(inv);
    for (i = 0; i + W <= n; i += W) f32v_store(yr + i, f32v_mul(f32v_load(yr + i), vinv));
    for (; i < n; i++) yr[i] *= inv;
  }
}

#undef W

#endif /* EDGERT_F32_ROWNORM_IMPL_H */
