/* AVX2 + FMA row reductions (edgert/f32-rownorm.h): 8 lanes, sums widened to double 4 lanes at
 * a time, exp from the vexp kernel. */
#include <immintrin.h>
#include <math.h>

#include "edgert/f32-rownorm.h"
#include "edgert/f32-vunary.h"

static inline double hsum4d(__m256d v) {
  __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

static inline __m256d add_widened(__m256d acc, __m256 v) {
  acc = _mm256_add_pd(acc, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
  return _mm256_add_pd(acc, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
}

void edgert_f32_instnorm__avx2(size_t rows, size_t n, const float* x, const float* scale,
                               const float* bias, float eps, float* y) {
  for (size_t r = 0; r < rows; r++) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    __m256d acc0 = _mm256_setzero_pd(), acc1 = _mm256_setzero_pd();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
      acc0 = add_widened(acc0, _mm256_loadu_ps(xr + i));
      acc1 = add_widened(acc1, _mm256_loadu_ps(xr + i + 8));
    }
    for (; i + 8 <= n; i += 8) acc0 = add_widened(acc0, _mm256_loadu_ps(xr + i));
    double sum = hsum4d(_mm256_add_pd(acc0, acc1));
    for (; i < n; i++) sum += xr[i];
    const float mean = n ? (float)(sum / (double)n) : 0.0f;
    const __m256 vmean = _mm256_set1_ps(mean);
    acc0 = acc1 = _mm256_setzero_pd();
    for (i = 0; i + 16 <= n; i += 16) {
      const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(xr + i), vmean);
      const __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(xr + i + 8), vmean);
      acc0 = add_widened(acc0, _mm256_mul_ps(d0, d0));
      acc1 = add_widened(acc1, _mm256_mul_ps(d1, d1));
    }
    for (; i + 8 <= n; i += 8) {
      const __m256 d = _mm256_sub_ps(_mm256_loadu_ps(xr + i), vmean);
      acc0 = add_widened(acc0, _mm256_mul_ps(d, d));
    }
    double ss = hsum4d(_mm256_add_pd(acc0, acc1));
    for (; i < n; i++) {
      const float d = xr[i] - mean;
      ss += (double)(d * d);
    }
    const float var = n ? (float)(ss / (double)n) : 0.0f;
    const float a = (scale ? scale[r] : 1.0f) / sqrtf(var + eps);
    const float b = bias ? bias[r] : 0.0f;
    const __m256 va = _mm256_set1_ps(a), vb = _mm256_set1_ps(b);
    for (i = 0; i + 8 <= n; i += 8)
      _mm256_storeu_ps(yr + i, _mm256_fmadd_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + i), vmean), va, vb));
    for (; i < n; i++) yr[i] = (xr[i] - mean) * a + b;
  }
}

void edgert_f32_softmax__avx2(size_t rows, size_t n, const float* x, float* y) {
  for (size_t r = 0; r < rows; r++) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    __m256 vmax = _mm256_set1_ps(-INFINITY), vnan = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      const __m256 v = _mm256_loadu_ps(xr + i);
      vnan = _mm256_or_ps(vnan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
      vmax = _mm256_max_ps(vmax, v);
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, vmax);
    float m = -INFINITY;
    for (int l = 0; l < 8; l++) m = lanes[l] > m ? lanes[l] : m;
    int nan = _mm256_movemask_ps(vnan) != 0;
    for (; i < n; i++) {
      nan |= isnan(xr[i]);
      if (xr[i] > m) m = xr[i];
    }
    if (nan) m = NAN;
    const __m256 vm = _mm256_set1_ps(m);
    for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(yr + i, _mm256_sub_ps(_mm256_loadu_ps(xr + i), vm));
    for (; i < n; i++) yr[i] = xr[i] - m;
    edgert_f32_vexp__avx2(n, yr, yr, NULL);
    __m256d acc = _mm256_setzero_pd();
    for (i = 0; i + 8 <= n; i += 8) acc = add_widened(acc, _mm256_loadu_ps(yr + i));
    double sum = hsum4d(acc);
    for (; i < n; i++) sum += yr[i];
    const float inv = (float)(1.0 / sum);
    const __m256 vinv = _mm256_set1_ps(inv);
    for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(yr + i, _mm256_mul_ps(_mm256_loadu_ps(yr + i), vinv));
    for (; i < n; i++) yr[i] *= inv;
  }
}
