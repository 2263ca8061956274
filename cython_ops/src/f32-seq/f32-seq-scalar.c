/* Scalar spec of the sequence-model kernels (edgert/f32-seq.h): plain C + libm, the reference
 * the SIMD variants are tested against and the fallback where none runs. */
#include <math.h>
#include <string.h>

#include "edgert/f32-seq.h"

static inline float sigmoid_scalar(float x) {
  if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
  const float e = expf(x);
  return e / (1.0f + e);
}

void edgert_f32_rmsnorm__scalar(size_t rows, size_t n, const float* x, const float* w, float eps,
                                float* y) {
  for (size_t r = 0; r < rows; r++) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    float ss = 0.0f;
    for (size_t i = 0; i < n; i++) ss += xr[i] * xr[i];
    const float inv = 1.0f / sqrtf(ss / (float)n + eps);
    for (size_t i = 0; i < n; i++) yr[i] = xr[i] * inv * w[i];
  }
}

void edgert_f32_swiglu__scalar(size_t n, const float* gate, const float* up, float* y) {
  for (size_t i = 0; i < n; i++) {
    const float g = gate[i];
    y[i] = g * sigmoid_scalar(g) * up[i];
  }
}

/* Row p of xp = concat(state, x): state rows first. */
static inline const float* xp_row(size_t p, size_t C, size_t K, const float* state, const float* x) {
  return p < K - 1 ? state + p * C : x + (p - (K - 1)) * C;
}

/* state <- rows T .. T+K-2 of xp; ascending copy is safe as each source row lies at or after
 * its destination. */
static void roll_state(size_t T, size_t C, size_t K, float* state, const float* x) {
  for (size_t i = 0; i + 1 < K; i++) {
    const size_t p = T + i;
    const float* src = p < K - 1 ? state + p * C : x + (p - (K - 1)) * C;
    if (src != state + i * C) memmove(state + i * C, src, C * sizeof(float));
  }
}

void edgert_f32_causal_conv__scalar(size_t T, size_t C, size_t K, const float* x, const float* w,
                                    const float* bias, float* state, float* y) {
  for (size_t t = 0; t < T; t++) {
    float* yt = y + t * C;
    for (size_t c = 0; c < C; c++) yt[c] = bias ? bias[c] : 0.0f;
    for (size_t j = 0; j < K; j++) {
      const float* row = xp_row(t + j, C, K, state, x);
      const float* wj = w + j * C;
      for (size_t c = 0; c < C; c++) yt[c] += wj[c] * row[c];
    }
  }
  roll_state(T, C, K, state, x);
}

void edgert_f32_causal_conv_gated__scalar(size_t T, size_t C, size_t K, const float* in,
                                          const float* w, const float* bias, float* state,
                                          float* y) {
  for (size_t t = 0; t < T; t++) {
    float* yt = y + t * C;
    for (size_t c = 0; c < C; c++) yt[c] = bias ? bias[c] : 0.0f;
    for (size_t j = 0; j < K; j++) {
      const size_t p = t + j;
      const float* wj = w + j * C;
      if (p < K - 1) {
        const float* row = state + p * C;
        for (size_t c = 0; c < C; c++) yt[c] += wj[c] * row[c];
      } else {
        const float* b = in + (p - (K - 1)) * 3 * C;
        for (size_t c = 0; c < C; c++) yt[c] += wj[c] * (b[c] * b[2 * C + c]);
      }
    }
    const float* g = in + t * 3 * C + C;
    for (size_t c = 0; c < C; c++) yt[c] *= g[c];
  }
  /* roll: the new state rows are past u = B * X rows */
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

void edgert_f32_linear_attention__scalar(size_t T, size_t dk, size_t dv, size_t group, int mode, float scale,
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
        for (size_t e = 0; e < dv; e++) S[d * dv + e] *= f;
      }
    }
    if (delta) {
      const float b = beta[t * ldbeta];
      for (size_t e = 0; e < dv; e++) r[e] = 0.0f;
      for (size_t d = 0; d < dk; d++) {
        const float kd = kt[d];
        const float* Sd = S + d * dv;
        for (size_t e = 0; e < dv; e++) r[e] += kd * Sd[e];
      }
      for (size_t e = 0; e < dv; e++) r[e] = b * (vt[e] - r[e]);
    } else {
      for (size_t e = 0; e < dv; e++) r[e] = vt[e];
    }
    for (size_t d = 0; d < dk; d++) {
      const float kd = kt[d];
      float* Sd = S + d * dv;
      for (size_t e = 0; e < dv; e++) Sd[e] += kd * r[e];
    }
    for (size_t g = 0; g < group; g++) {
      float* yt = y + t * ldy + g * dv;
      const float* qg = qt + g * dk;
      for (size_t e = 0; e < dv; e++) yt[e] = 0.0f;
      for (size_t d = 0; d < dk; d++) {
        const float qd = qg[d] * scale;
        const float* Sd = S + d * dv;
        for (size_t e = 0; e < dv; e++) yt[e] += qd * Sd[e];
      }
    }
  }
}
