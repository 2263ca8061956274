/* fp32 kernels of sequence models (LFM2-style decoders): RMSNorm, SwiGLU, depthwise causal
 * conv1d with a rolling state (plain and LFM2-gated), ONNX LinearAttention recurrences.
 *
 * Layouts are token-major and unbatched: activations (T, C) row-major.
 *
 *   rmsnorm      y[r, i] = x[r, i] / sqrt(mean_i(x[r, :]^2) + eps) * w[i]   (rows x n; y may alias x)
 *   swiglu       y[i] = silu(gate[i]) * up[i]      (y may alias gate or up exactly)
 *   causal_conv  xp = concat(state (K-1, C), x (T, C)) along tokens;
 *                y[t, c] = bias[c] + sum_{j<K} w[j, c] * xp[t + j, c]   (w is (K, C); bias may be NULL)
 *                afterwards state = the last K-1 rows of xp.  y must not overlap x or state.
 *   causal_conv_gated  in (T, 3C) holds [B | Cg | X] per token (LFM2 in_proj output):
 *                u = B * X; y = Cg * causal_conv(u); the state holds past u rows.
 *   linear_attention   one head block of ONNX LinearAttention (opset 27), see f32-seq-scalar.c.
 *
 * The scalar variant is the spec.  SIMD variants reorder the sums (8/4 lanes, FMA), so they
 * match it within a relative error of 1e-5 of max(|y|, 1) for RMSNorm/conv/attention (sums of
 * <= a few thousand products of O(1) values: float32 reassociation error ~ n * 2^-24 * |terms|)
 * and of 1e-5 relative for SwiGLU (the bound of edgert_f32_vswish, which SIMD SwiGLU reuses).
 */
#ifndef EDGERT_F32_SEQ_H
#define EDGERT_F32_SEQ_H

#include "edgert/common.h"

typedef void (*edgert_f32_rmsnorm_fn)(size_t rows, size_t n, const float* x, const float* w,
                                      float eps, float* y);
typedef void (*edgert_f32_swiglu_fn)(size_t n, const float* gate, const float* up, float* y);
typedef void (*edgert_f32_causal_conv_fn)(size_t T, size_t C, size_t K, const float* x,
                                          const float* w, const float* bias, float* state,
                                          float* y);
typedef void (*edgert_f32_causal_conv_gated_fn)(size_t T, size_t C, size_t K, const float* in,
                                                const float* w, const float* bias, float* state,
                                                float* y);

/* Linear attention, one kv head and its `group` query heads over T tokens, state S (dk, dv) in place.
 * mode: 0 linear, 1 gated, 2 delta, 3 gated_delta.  q, k: (T, dk) with row strides ldq, ldk;
 * v, y: (T, dv) strides ldv, ldy; decay: (T) per-token log-decay for gated modes, stride lddecay
 * (its values g give the factor exp(g)); decay_per_key: decay holds dk values per token (row d of S
 * decays by exp(g[d])) instead of one; beta (T) stride ldbeta for delta modes.
 * Per token t:
 *   gated modes:  S[d, :] *= exp(g_t[d or 0])
 *   linear/gated: S += k_t^T v_t
 *   delta modes:  r = v_t - k_t S;  S += k_t^T (beta_t r)
 *   y_t = scale * q_t S for each query head g < group, read at q + g * dk, written at y + g * dv
 */
typedef void (*edgert_f32_linear_attention_fn)(size_t T, size_t dk, size_t dv, size_t group, int mode, float scale,
                                               const float* q, size_t ldq, const float* k, size_t ldk,
                                               const float* v, size_t ldv, const float* decay,
                                               size_t lddecay, int decay_per_key, const float* beta, size_t ldbeta,
                                               float* S, float* y, size_t ldy);

#define EDGERT_F32_SEQ_DECLARE(isa)                                                              \
  void edgert_f32_rmsnorm__##isa(size_t rows, size_t n, const float* x, const float* w, float eps, \
                                 float* y);                                                      \
  void edgert_f32_swiglu__##isa(size_t n, const float* gate, const float* up, float* y);         \
  void edgert_f32_causal_conv__##isa(size_t T, size_t C, size_t K, const float* x, const float* w, \
                                     const float* bias, float* state, float* y);                 \
  void edgert_f32_causal_conv_gated__##isa(size_t T, size_t C, size_t K, const float* in,        \
                                           const float* w, const float* bias, float* state,      \
                                           float* y);                                            \
  void edgert_f32_linear_attention__##isa(size_t T, size_t dk, size_t dv, size_t group, int mode, float scale, \
                                          const float* q, size_t ldq, const float* k, size_t ldk, \
                                          const float* v, size_t ldv, const float* decay,        \
                                          size_t lddecay, int decay_per_key, const float* beta, size_t ldbeta,      \
                                          float* S, float* y, size_t ldy);

EDGERT_F32_SEQ_DECLARE(scalar)
#if EDGERT_ARCH_X86_64
EDGERT_F32_SEQ_DECLARE(avx2)
#endif
#if EDGERT_ARCH_ARM64
EDGERT_F32_SEQ_DECLARE(neon)
#endif

/* The variant set this CPU runs (AVX2+FMA on x86-64, NEON on aarch64, else scalar; EDGERT_KERNELS=
 * scalar forces the spec), chosen once from edgert_cpu(). */
typedef struct {
  const char* name;
  edgert_f32_rmsnorm_fn rmsnorm;
  edgert_f32_swiglu_fn swiglu;
  edgert_f32_causal_conv_fn causal_conv;
  edgert_f32_causal_conv_gated_fn causal_conv_gated;
  edgert_f32_linear_attention_fn linear_attention;
} edgert_f32_seq_kernels;

const edgert_f32_seq_kernels* edgert_f32_seq(void);

#endif
