/* aarch64 NEON fp32 activations; the same algorithms and constants as f32-vunary-avx2.c.
 *
 * Every transcendental reduces to one polynomial: x = n ln2 + r with |r| <= ln2/2, and
 * e^r - 1 = r + r^2 q(r) with q a degree-4 minimax fit (relative error 8e-8 on expm1(r), so
 * exp and expm1 both come out within ~1 ulp). erf uses a rational minimax fit instead. */
#include <arm_neon.h>
#include <string.h>

#include "edgert/f32-vunary.h"

/* Parameters broadcast once per call, so the loop body never reloads p (y may alias it). */
typedef struct {
  float32x4_t alpha, beta, min, max;
} vparams;

typedef float32x4_t (*op_neon)(float32x4_t x, const vparams* vp);

/* Two independent vectors per iteration so in-order cores (Cortex-A53/A55) can overlap the long
 * dependency chains; the 1..3 element tail goes through a stack buffer, so nothing past
 * x[n-1] / y[n-1] is touched. */
EDGERT_INLINE void map_neon(size_t n, const float* x, float* y, const vparams* vp, op_neon op) {
  for (; n >= 8; n -= 8) {
    const float32x4_t y0 = op(vld1q_f32(x), vp);
    const float32x4_t y1 = op(vld1q_f32(x + 4), vp);
    vst1q_f32(y, y0);
    vst1q_f32(y + 4, y1);
    x += 8;
    y += 8;
  }
  if (n >= 4) {
    vst1q_f32(y, op(vld1q_f32(x), vp));
    x += 4;
    y += 4;
    n -= 4;
  }
  if (n != 0) {
    float buffer[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    memcpy(buffer, x, n * sizeof(float));
    vst1q_f32(buffer, op(vld1q_f32(buffer), vp));
    memcpy(y, buffer, n * sizeof(float));
  }
}

/* Compare-select rather than FMAX/FMIN: those turn max(-0, +0) into +0, the scalar spec keeps v. */
EDGERT_INLINE float32x4_t clamp_exact_neon(float32x4_t v, float32x4_t lo, float32x4_t hi) {
  v = vbslq_f32(vcltq_f32(v, lo), lo, v);
  return vbslq_f32(vcgtq_f32(v, hi), hi, v);
}

/* FMAX/FMIN propagate NaN: good enough where the sign of zero cannot matter. */
EDGERT_INLINE float32x4_t clamp_neon(float32x4_t v, float lo, float hi) {
  return vminq_f32(vmaxq_f32(v, vdupq_n_f32(lo)), vdupq_n_f32(hi));
}

EDGERT_INLINE float32x4_t copysign_neon(float32x4_t magnitude, float32x4_t sign_source) {
  return vbslq_f32(vdupq_n_u32(0x80000000u), sign_source, magnitude);
}

/* e^r - 1 for |r| <= ln2/2. */
EDGERT_INLINE float32x4_t expm1_reduced_neon(float32x4_t r) {
  float32x4_t q = vfmaq_f32(vdupq_n_f32(0x1.122768p-7f), vdupq_n_f32(0x1.6bec08p-10f), r);
  q = vfmaq_f32(vdupq_n_f32(0x1.555674p-5f), q, r);
  q = vfmaq_f32(vdupq_n_f32(0x1.5554b0p-3f), q, r);
  q = vfmaq_f32(vdupq_n_f32(0x1.fffffep-2f), q, r);
  return vfmaq_f32(r, vmulq_f32(r, r), q);
}

typedef struct {
  float32x4_t r; /* x - n ln2 */
  int32x4_t n;   /* round(x / ln2) */
} reduced_neon;

/* Adding 1.5 * 2^23 rounds x/ln2 to an integer held in the low mantissa bits, which gives n
 * both as float and as int32 (valid for |n| < 2^22). ln2 is split in two (Cody-Waite) so that
 * n * ln2_hi is exact for |n| < 2^8. */
EDGERT_INLINE reduced_neon reduce_ln2_neon(float32x4_t x) {
  const float32x4_t magic = vdupq_n_f32(0x1.8p23f);
  const float32x4_t shifted = vfmaq_f32(magic, x, vdupq_n_f32(0x1.715476p+0f));
  const float32x4_t n = vsubq_f32(shifted, magic);
  float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0x1.62e4p-1f));
  r = vfmsq_f32(r, n, vdupq_n_f32(0x1.7f7d1cp-20f));
  const reduced_neon out = {r, vsubq_s32(vreinterpretq_s32_f32(shifted), vreinterpretq_s32_f32(magic))};
  return out;
}

/* 2^n for n in [-126, 127]. */
EDGERT_INLINE float32x4_t pow2i_neon(int32x4_t n) {
  return vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n, vdupq_n_s32(127)), 23));
}

/* exp over the whole float range. 2^n is applied as 2^(n/2) * 2^(n - n/2), so n up to 129
 * overflows to inf and n down to -150 rounds once into denormals or 0, as expf does.
 * Clamping x to [-104, 89] keeps n in that range without changing the result. */
EDGERT_INLINE float32x4_t exp_neon(float32x4_t x) {
  x = clamp_neon(x, -104.0f, 89.0f);
  const reduced_neon red = reduce_ln2_neon(x);
  const int32x4_t n_half = vshrq_n_s32(red.n, 1);
  const float32x4_t s1 = pow2i_neon(n_half);
  const float32x4_t s2 = pow2i_neon(vsubq_s32(red.n, n_half));
  return vmulq_f32(vfmaq_f32(s1, expm1_reduced_neon(red.r), s1), s2);
}

/* e^z - 1 for z <= 0 as s (e^r - 1) + (s - 1), s = 2^n: s - 1 is exact, so no cancellation
 * near 0. Below -18 the result rounds to exactly -1, hence the clamp (it keeps n >= -26). */
EDGERT_INLINE float32x4_t expm1_nonpositive_neon(float32x4_t z) {
  z = vmaxq_f32(z, vdupq_n_f32(-18.0f));
  const reduced_neon red = reduce_ln2_neon(z);
  const float32x4_t s = pow2i_neon(red.n);
  return vfmaq_f32(vsubq_f32(s, vdupq_n_f32(1.0f)), s, expm1_reduced_neon(red.r));
}

/* (x > 0 ? 1 : e) / (1 + e) with e = exp(-|x|) <= 1: no cancellation in either tail. */
EDGERT_INLINE float32x4_t sigmoid_neon(float32x4_t x) {
  const float32x4_t one = vdupq_n_f32(1.0f);
  const float32x4_t e = exp_neon(vnegq_f32(vabsq_f32(x)));
  return vdivq_f32(vbslq_f32(vcgtzq_f32(x), one, e), vaddq_f32(one, e));
}

static inline float32x4_t clamp_op(float32x4_t x, const vparams* vp) {
  return clamp_exact_neon(x, vp->min, vp->max);
}

static inline float32x4_t sigmoid_op(float32x4_t x, const vparams* vp) { return sigmoid_neon(x); }

/* tanh|x| = -expm1(-2|x|) / (2 + expm1(-2|x|)), then x's sign. */
static inline float32x4_t tanh_op(float32x4_t x, const vparams* vp) {
  const float32x4_t em1 = expm1_nonpositive_neon(vmulq_n_f32(vabsq_f32(x), -2.0f));
  const float32x4_t t = vdivq_f32(em1, vsubq_f32(vdupq_n_f32(-2.0f), em1));
  return copysign_neon(t, x);
}

static inline float32x4_t hardsigmoid_op(float32x4_t x, const vparams* vp) {
  return clamp_neon(vfmaq_f32(vp->beta, x, vp->alpha), 0.0f, 1.0f);
}

static inline float32x4_t hardswish_op(float32x4_t x, const vparams* vp) {
  const float32x4_t t = vfmaq_f32(vdupq_n_f32(0.5f), x, vdupq_n_f32(1.0f / 6.0f));
  return vmulq_f32(x, clamp_neon(t, 0.0f, 1.0f));
}

/* x (x > 0 ? 1 : e) / (1 + e), e = exp(-|x|): sigmoid's form with x folded into the numerator. */
static inline float32x4_t swish_op(float32x4_t x, const vparams* vp) {
  const float32x4_t e = exp_neon(vnegq_f32(vabsq_f32(x)));
  const float32x4_t numerator = vbslq_f32(vcgtzq_f32(x), x, vmulq_f32(x, e));
  return vdivq_f32(numerator, vaddq_f32(vdupq_n_f32(1.0f), e));
}

/* erf(x/sqrt2) = x P(x^2) / Q(x^2), a (5,5) rational minimax fit on |x| <= 5.5515 (absolute
 * error 2e-7 in float); beyond that erf rounds to +-1. Odd by construction. */
static inline float32x4_t gelu_op(float32x4_t x, const vparams* vp) {
  const float32x4_t one = vdupq_n_f32(1.0f);
  const float32x4_t u = vmulq_f32(x, x);
  float32x4_t num = vfmaq_f32(vdupq_n_f32(0x1.aa54d4p-17f), vdupq_n_f32(0x1.8167f4p-25f), u);
  num = vfmaq_f32(vdupq_n_f32(0x1.675a16p-12f), num, u);
  num = vfmaq_f32(vdupq_n_f32(0x1.33837cp-7f), num, u);
  num = vfmaq_f32(vdupq_n_f32(0x1.177d24p-4f), num, u);
  num = vfmaq_f32(vdupq_n_f32(0x1.98845p-1f), num, u);
  float32x4_t den = vfmaq_f32(vdupq_n_f32(0x1.37efecp-14f), vdupq_n_f32(0x1.3eff3ep-20f), u);
  den = vfmaq_f32(vdupq_n_f32(0x1.f1c0dcp-10f), den, u);
  den = vfmaq_f32(vdupq_n_f32(0x1.d7c3dep-6f), den, u);
  den = vfmaq_f32(vdupq_n_f32(0x1.023cd4p-2f), den, u);
  den = vfmaq_f32(one, den, u);
  const float32x4_t erf = vdivq_f32(vmulq_f32(x, num), den);
  /* Past the cap P/Q also overflows (inf/inf), so the saturated lanes are replaced, not fixed up. */
  const uint32x4_t saturated = vcageq_f32(x, vdupq_n_f32(0x1.634bc6p+2f));
  const float32x4_t erf_sat = vbslq_f32(saturated, copysign_neon(one, x), erf);
  const float32x4_t half_x = vmulq_n_f32(x, 0.5f);
  return vfmaq_f32(half_x, half_x, erf_sat);
}

/* 0.5 (1 + tanh(u)) = sigmoid(2u): one exp, and no cancellation for x << 0. */
static inline float32x4_t gelu_tanh_op(float32x4_t x, const vparams* vp) {
  /* 2u = x (c1 + c2 x^2), c1 = 2 sqrt(2/pi), c2 = 0.044715 c1 */
  const float32x4_t x2 = vmulq_f32(x, x);
  const float32x4_t c2x2_plus_c1 = vfmaq_f32(vdupq_n_f32(0x1.988454p+0f), x2, vdupq_n_f32(0x1.2444f2p-4f));
  const float32x4_t two_u = vmulq_f32(x, c2x2_plus_c1);
  return vmulq_f32(x, sigmoid_neon(two_u));
}

static inline float32x4_t leakyrelu_op(float32x4_t x, const vparams* vp) {
  return vbslq_f32(vcltzq_f32(x), vmulq_f32(x, vp->alpha), x);
}

static inline float32x4_t elu_op(float32x4_t x, const vparams* vp) {
  const float32x4_t em1 = expm1_nonpositive_neon(vminq_f32(x, vdupq_n_f32(0.0f)));
  return vbslq_f32(vcgezq_f32(x), x, vmulq_f32(vp->alpha, em1));
}

static inline float32x4_t exp_op(float32x4_t x, const vparams* vp) { return exp_neon(x); }

void edgert_f32_vclamp__neon(size_t n, const float* x, float* y, const edgert_f32_unary_params* p) {
  const vparams vp = {.min = vdupq_n_f32(p->min), .max = vdupq_n_f32(p->max)};
  map_neon(n, x, y, &vp, clamp_op);
}

void edgert_f32_vsigmoid__neon(size_t n, const float* x, float* y, const edgert_f32_unary_params* p) {
  map_neon(n, x, y, NULL, sigmoid_op);
}

void edgert_f32_vtanh__neon(size_t n, const float* x, float* y, const edgert_f32_unary_params* p) {
  map_neon(n, x, y, NULL, tanh_op);
}

void edgert_f32_vhardsigmoid__neon(size_t n, const float* x, float* y, const edgert_f32_unary_params* p) {
  const vparams vp = {.alpha = vdupq_n_f32(p->alpha), .beta = vdupq_n_f32(p->beta)};
  map_neon(n, x, y, &vp, hardsigmoid_op);
}

void edgert_f32_vhardswish__neon(size_t n, const float* x, float* y, const edgert_f32_unary_params* p) {
  map_neon(n, x, y, NULL, hardswish_op);
}

void edgert_f32_vswish__neon(size_t n, const float* x, float* y, const edgert_f32_unary_params* p) {
  map_neon(n, x, y, NULL, swish_op);
}

void edgert_f32_vgelu__neon(size_t n, const float* x, float* y, const edgert_f32_unary_params* p) {
  map_neon(n, x, y, NULL, gelu_op);
}

void edgert_f32_vgelu_tanh__neon(size_t n, const float* x, float* y, const edgert_f32_unary_params* p) {
  map_neon(n, x, y, NULL, gelu_tanh_op);
}

void edgert_f32_vleakyrelu__neon(size_t n, const float* x, float* y, const edgert_f32_unary_params* p) {
  const vparams vp = {.alpha = vdupq_n_f32(p->alpha)};
  map_neon(n, x, y, &vp, leakyrelu_op);
}

void edgert_f32_velu__neon(size_t n, const float* x, float* y, const edgert_f32_unary_params* p) {
  const vparams vp = {.alpha = vdupq_n_f32(p->alpha)};
  map_neon(n, x, y, &vp, elu_op);
}

void edgert_f32_vexp__neon(size_t n, const float* x, float* y, const edgert_f32_unary_params* p) {
  map_neon(n, x, y, NULL, exp_op);
}

void edgert_f32_vprelu__neon(size_t rows, size_t channels, const float* x, const float* slope, float* y) {
  const size_t channels_tail = channels % 4;
  for (size_t r = 0; r < rows; r++) {
    size_t c = 0;
    for (; c + 4 <= channels; c += 4) {
      const float32x4_t v = vld1q_f32(x + c);
      vst1q_f32(y + c, vbslq_f32(vcltzq_f32(v), vmulq_f32(v, vld1q_f32(slope + c)), v));
    }
    if (channels_tail != 0) {
      float v_buffer[4] = {0.0f, 0.0f, 0.0f, 0.0f}, slope_buffer[4] = {0.0f, 0.0f, 0.0f, 0.0f};
      memcpy(v_buffer, x + c, channels_tail * sizeof(float));
      memcpy(slope_buffer, slope + c, channels_tail * sizeof(float));
      const float32x4_t v = vld1q_f32(v_buffer);
      vst1q_f32(v_buffer, vbslq_f32(vcltzq_f32(v), vmulq_f32(v, vld1q_f32(slope_buffer)), v));
      memcpy(y + c, v_buffer, channels_tail * sizeof(float));
    }
    x += channels;
    y += channels;
  }
}
