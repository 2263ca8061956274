/* AVX2 + FMA variants of the sequence-model kernels (edgert/f32-seq.h): 8 lanes along the
 * contiguous axis (features, channels, value dim), scalar tails in the spec's order. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "edgert/f32-seq.h"
#include "edgert/f32-vunary.h"

void edgert_f32_vswish__avx2(size_t n, const float* x, float* y, const edgert_f32_unary_params* p);

static inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

void edgert_f32_rmsnorm__avx2(size_t rows, size_t n, const float* x, const float* w, float eps,
                              float* y) {
  for (size_t r = 0; r < rows; r++) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    __m256 acc = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      const __m256 v = _mm256_loadu_ps(xr + i);
      acc = _mm256_fmadd_ps(v, v, acc);
    }
    float ss = hsum8(acc);
    for (; i < n; i++) ss += xr[i] * xr[i];
    const float inv = 1.0f / sqrtf(ss / (float)n + eps);
    const __m256 vinv = _mm256_set1_ps(inv);
    i = 0;
    for (; i + 8 <= n; i += 8) {
      _mm256_storeu_ps(yr + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(xr + i), vinv),
                                             _mm256_loadu_ps(w + i)));
    }
    for (; i < n; i++) yr[i] = xr[i] * inv * w[i];
  }
}

/* silu via the tested swish kernel, block by block through a stack buffer, then * up. */
void edgert_f32_swiglu__avx2(size_t n, const float* gate, const float* up, float* y) {
  float buf[256];
  for (size_t i0 = 0; i0 < n; i0 += 256) {
    const size_t m = n - i0 < 256 ? n - i0 : 256;
    edgert_f32_vswish__avx2(m, gate + i0, buf, NULL);
    size_t i = 0;
    for (; i + 8 <= m; i += 8) {
      _mm256_storeu_ps(y + i0 + i, _mm256_mul_ps(_mm256_loadu_ps(buf + i),
                                                 _mm256_loadu_ps(up + i0 + i)));
    }
    for (; i < m; i++) y[i0 + i] = buf[i] * up[i0 + i];
  }
}

static inline const float* xp_row(size_t p, size_t C, size_t K, const float* state, const float* x) {
  return p < K - 1 ? state + p * C : x + (p - (K - 1)) * C;
}

void edgert_f32_causal_conv__avx2(size_t T, size_t C, size_t K, const float* x, const float* w,
                                  const float* bias, float* state, float* y) {
  for (size_t t = 0; t < T; t++) {
    float* yt = y + t * C;
    size_t c = 0;
    for (; c + 8 <= C; c += 8) {
      __m256 acc = bias ? _mm256_loadu_ps(bias + c) : _mm256_setzero_ps();
      for (size_t j = 0; j < K; j++) {
        acc = _mm256_fmadd_ps(_mm256_loadu_ps(w + j * C + c),
                              _mm256_loadu_ps(xp_row(t + j, C, K, state, x) + c), acc);
      }
      _mm256_storeu_ps(yt + c, acc);
    }
    for (; c < C; c++) {
      float acc = bias ? bias[c] : 0.0f;
      for (size_t j = 0; j < K; j++) acc += w[j * C + c] * xp_row(t + j, C, K, state, x)[c];
      yt[c] = acc;
    }
  }
  for (size_t i = 0; i + 1 < K; i++) {
    const float* src = xp_row(T + i, C, K, state, x);
    if (src != state + i * C) memmove(state + i * C, src, C * sizeof(float));
  }
}

void edgert_f32_causal_conv_gated__avx2(size_t T, size_t C, size_t K, const float* in,
                                        const float* w, const float* bias, float* state,
                                        float* y) {
  for (size_t t = 0; t < T; t++) {
    float* yt = y + t * C;
    const float* g = in + t * 3 * C + C;
    size_t c = 0;
    for (; c + 8 <= C; c += 8) {
      __m256 acc = bias ? _mm256_loadu_ps(bias + c) : _mm256_setzero_ps();
      for (size_t j = 0; j < K; j++) {
        const size_t p = t + j;
        __m256 u;
        if (p < K - 1) {
          u = _mm256_loadu_ps(state + p * C + c);
        } else {
          const float* b = in + (p - (K - 1)) * 3 * C;
          u = _mm256_mul_ps(_mm256_loadu_ps(b + c), _mm256_loadu_ps(b + 2 * C + c));
        }
        acc = _mm256_fmadd_ps(_mm256_loadu_ps(w + j * C + c), u, acc);
      }
      _mm256_storeu_ps(yt + c, _mm256_mul_ps(acc, _mm256_loadu_ps(g + c)));
    }
    for (; c < C; c++) {
      float acc = bias ? bias[c] : 0.0f;
      for (size_t j = 0; j < K; j++) {
        const size_t p = t + j;
        const float* b = in + (p - (K - 1)) * 3 * C;
        const float u = p < K - 1 ? state[p * C + c] : b[c] * b[2 * C + c];
        acc += w[j * C + c] * u;
      }
      yt[c] = acc * g[c];
    }
  }
  for (size_t i = 0; i + 1 < K; i++) {
    const size_t p = T + i;
    if (p < K - 1) {
      memmove(state + i * C, state + p * C, C * sizeof(float));
    } else {
      const float* b = in + (p - (K - 1)) * 3 * C;
      for (size_t c = 0; c < C; c++) state[i * C + c] = b[c] * b[2 * C + c];
    }
  }
}

/* acc[e] += a * row[e] for e < dv */
static inline void axpy(size_t dv, float a, const float* row, float* acc) {
  const __m256 va = _mm256_set1_ps(a);
  size_t e = 0;
  for (; e + 8 <= dv; e += 8) {
    _mm256_storeu_ps(acc + e, _mm256_fmadd_ps(va, _mm256_loadu_ps(row + e), _mm256_loadu_ps(acc + e)));
  }
  for (; e < dv; e++) acc[e] += a * row[e];
}

void edgert_f32_linear_attention__avx2(size_t T, size_t dk, size_t dv, size_t group, int mode, float scale,
                                       const float* q, size_t ldq, const float* k, size_t ldk,
                                       const float* v, size_t ldv, const float* decay,
                                       size_t lddecay, int decay_per_key, const float* beta, size_t ldbeta,
                                       float* S, float* y, size_t ldy) {
  const int gated = mode == 1 || mode == 3;
  const int delta = mode == 2 || mode == 3;
  float r[dv > 0 ? dv : 1];
  for (size_t t = 0; t < T; t++) {
    const float* qt = q + t * ldq;
    const float* kt = k + t * ldk;
    const float* vt = v + t * ldv;
    if (gated) {
      for (size_t d = 0; d < dk; d++) {
        const float f = expf(decay[t * lddecay + (decay_per_key ? d : 0)]);
        float* Sd = S + d * dv;
        size_t e = 0;
        for (; e + 8 <= dv; e += 8) _mm256_storeu_ps(Sd + e, _mm256_mul_ps(_mm256_loadu_ps(Sd + e), _mm256_set1_ps(f)));
        for (; e < dv; e++) Sd[e] *= f;
      }
    }
    if (delta) {
      const float b = beta[t * ldbeta];
      memset(r, 0, dv * sizeof(float));
      for (size_t d = 0; d < dk; d++) axpy(dv, kt[d], S + d * dv, r);
      for (size_t e = 0; e < dv; e++) r[e] = b * (vt[e] - r[e]);
    } else {
      memcpy(r, vt, dv * sizeof(float));
    }
    for (size_t d = 0; d < dk; d++) axpy(dv, kt[d], r, S + d * dv);
    for (size_t g = 0; g < group; g++) {
      float* yt = y + t * ldy + g * dv;
      memset(yt, 0, dv * sizeof(float));
      for (size_t d = 0; d < dk; d++) axpy(dv, qt[g * dk + d] * scale, S + d * dv, yt);
    }
  }
}
