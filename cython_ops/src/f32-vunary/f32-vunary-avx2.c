/* AVX2 + FMA3 fp32 activations.
 *
 * Every transcendental reduces to one polynomial: x = n ln2 + r with |r| <= ln2/2, and
 * e^r - 1 = r + r^2 q(r) with q a degree-4 minimax fit (relative error 8e-8 on expm1(r), so
 * exp and expm1 both come out within ~1 ulp). erf uses a rational minimax fit instead. */
#include <immintrin.h>

#include "edgert/f32-vunary.h"

/* Parameters broadcast once per call, so the loop body never reloads p (y may alias it). */
typedef struct {
  __m256 alpha, beta, min, max;
} vparams;

typedef __m256 (*op_avx2)(__m256 x, const vparams* vp);

static const int32_t tail_mask_table[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

/* Lanes [0, count) on, for count in [1, 7]. */
EDGERT_INLINE __m256i tail_mask(size_t count) {
  return _mm256_loadu_si256((const __m256i*)&tail_mask_table[8 - count]);
}

/* Whole vectors, then one masked vector: nothing past x[n-1] / y[n-1] is touched. */
EDGERT_INLINE void map_avx2(size_t n, const float* x, float* y, const vparams* vp, op_avx2 op) {
  for (; n >= 8; n -= 8) {
    _mm256_storeu_ps(y, op(_mm256_loadu_ps(x), vp));
    x += 8;
    y += 8;
  }
  if (n != 0) {
    const __m256i mask = tail_mask(n);
    _mm256_maskstore_ps(y, mask, op(_mm256_maskload_ps(x, mask), vp));
  }
}

/* maxps/minps return their second operand when either is NaN or on ties, so v goes second:
 * NaN passes and the result is bit for bit the scalar compare-select. */
EDGERT_INLINE __m256 clamp_avx2(__m256 v, __m256 lo, __m256 hi) {
  return _mm256_min_ps(hi, _mm256_max_ps(lo, v));
}

EDGERT_INLINE __m256 copysign_avx2(__m256 magnitude, __m256 sign_source) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  return _mm256_or_ps(_mm256_andnot_ps(sign, magnitude), _mm256_and_ps(sign, sign_source));
}

/* e^r - 1 for |r| <= ln2/2. */
EDGERT_INLINE __m256 expm1_reduced_avx2(__m256 r) {
  __m256 q = _mm256_fmadd_ps(_mm256_set1_ps(0x1.6bec08p-10f), r, _mm256_set1_ps(0x1.122768p-7f));
  q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(0x1.555674p-5f));
  q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(0x1.5554b0p-3f));
  q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(0x1.fffffep-2f));
  return _mm256_fmadd_ps(_mm256_mul_ps(r, r), q, r);
}

typedef struct {
  __m256 r;   /* x - n ln2 */
  __m256i n;  /* round(x / ln2) */
} reduced_avx2;

/* Adding 1.5 * 2^23 rounds x/ln2 to an integer held in the low mantissa bits, which gives n
 * both as float and as int32 (valid for |n| < 2^22). ln2 is split in two (Cody-Waite) so that
 * n * ln2_hi is exact for |n| < 2^8. */
EDGERT_INLINE reduced_avx2 reduce_ln2_avx2(__m256 x) {
  const __m256 magic = _mm256_set1_ps(0x1.8p23f);
  const __m256 shifted = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), magic);
  const __m256 n = _mm256_sub_ps(shifted, magic);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f), r);
  const reduced_avx2 out = {r, _mm256_sub_epi32(_mm256_castps_si256(shifted), _mm256_castps_si256(magic))};
  return out;
}

/* 2^n for n in [-126, 127]. */
EDGERT_INLINE __m256 pow2i_avx2(__m256i n) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n, _mm256_set1_epi32(127)), 23));
}

/* exp over the whole float range. 2^n is applied as 2^(n/2) * 2^(n - n/2), so n up to 129
 * overflows to inf and n down to -150 rounds once into denormals or 0, as expf does.
 * Clamping x to [-104, 89] keeps n in that range without changing the result. */
EDGERT_INLINE __m256 exp_avx2(__m256 x) {
  x = clamp_avx2(x, _mm256_set1_ps(-104.0f), _mm256_set1_ps(89.0f));
  const reduced_avx2 red = reduce_ln2_avx2(x);
  const __m256i n_half = _mm256_srai_epi32(red.n, 1);
  const __m256 s1 = pow2i_avx2(n_half);
  const __m256 s2 = pow2i_avx2(_mm256_sub_epi32(red.n, n_half));
  return _mm256_mul_ps(_mm256_fmadd_ps(expm1_reduced_avx2(red.r), s1, s1), s2);
}

/* e^z - 1 for z <= 0 as s (e^r - 1) + (s - 1), s = 2^n: s - 1 is exact, so no cancellation
 * near 0. Below -18 the result rounds to exactly -1, hence the clamp (it keeps n >= -26). */
EDGERT_INLINE __m256 expm1_nonpositive_avx2(__m256 z) {
  z = _mm256_max_ps(_mm256_set1_ps(-18.0f), z);
  const reduced_avx2 red = reduce_ln2_avx2(z);
  const __m256 s = pow2i_avx2(red.n);
  return _mm256_fmadd_ps(s, expm1_reduced_avx2(red.r), _mm256_sub_ps(s, _mm256_set1_ps(1.0f)));
}

/* (x > 0 ? 1 : e) / (1 + e) with e = exp(-|x|) <= 1: no cancellation in either tail. */
EDGERT_INLINE __m256 sigmoid_avx2(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 e = exp_avx2(_mm256_or_ps(x, _mm256_set1_ps(-0.0f)));
  const __m256 positive = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GT_OQ);
  return _mm256_div_ps(_mm256_blendv_ps(e, one, positive), _mm256_add_ps(one, e));
}

static inline __m256 clamp_op(__m256 x, const vparams* vp) { return clamp_avx2(x, vp->min, vp->max); }

static inline __m256 sigmoid_op(__m256 x, const vparams* vp) { return sigmoid_avx2(x); }

/* tanh|x| = -expm1(-2|x|) / (2 + expm1(-2|x|)), then x's sign. */
static inline __m256 tanh_op(__m256 x, const vparams* vp) {
  const __m256 abs_x = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
  const __m256 em1 = expm1_nonpositive_avx2(_mm256_mul_ps(abs_x, _mm256_set1_ps(-2.0f)));
  const __m256 t = _mm256_div_ps(em1, _mm256_sub_ps(_mm256_set1_ps(-2.0f), em1));
  return copysign_avx2(t, x);
}

static inline __m256 hardsigmoid_op(__m256 x, const vparams* vp) {
  return clamp_avx2(_mm256_fmadd_ps(x, vp->alpha, vp->beta), _mm256_setzero_ps(), _mm256_set1_ps(1.0f));
}

static inline __m256 hardswish_op(__m256 x, const vparams* vp) {
  const __m256 t = _mm256_fmadd_ps(x, _mm256_set1_ps(1.0f / 6.0f), _mm256_set1_ps(0.5f));
  return _mm256_mul_ps(x, clamp_avx2(t, _mm256_setzero_ps(), _mm256_set1_ps(1.0f)));
}

/* x (x > 0 ? 1 : e) / (1 + e), e = exp(-|x|): sigmoid's form with x folded into the numerator. */
static inline __m256 swish_op(__m256 x, const vparams* vp) {
  const __m256 e = exp_avx2(_mm256_or_ps(x, _mm256_set1_ps(-0.0f)));
  const __m256 positive = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GT_OQ);
  const __m256 numerator = _mm256_blendv_ps(_mm256_mul_ps(x, e), x, positive);
  return _mm256_div_ps(numerator, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

/* erf(x/sqrt2) = x P(x^2) / Q(x^2), a (5,5) rational minimax fit on |x| <= 5.5515 (absolute
 * error 2e-7 in float); beyond that erf rounds to +-1. Odd by construction. */
static inline __m256 gelu_op(__m256 x, const vparams* vp) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 u = _mm256_mul_ps(x, x);
  __m256 num = _mm256_fmadd_ps(_mm256_set1_ps(0x1.8167f4p-25f), u, _mm256_set1_ps(0x1.aa54d4p-17f));
  num = _mm256_fmadd_ps(num, u, _mm256_set1_ps(0x1.675a16p-12f));
  num = _mm256_fmadd_ps(num, u, _mm256_set1_ps(0x1.33837cp-7f));
  num = _mm256_fmadd_ps(num, u, _mm256_set1_ps(0x1.177d24p-4f));
  num = _mm256_fmadd_ps(num, u, _mm256_set1_ps(0x1.98845p-1f));
  __m256 den = _mm256_fmadd_ps(_mm256_set1_ps(0x1.3eff3ep-20f), u, _mm256_set1_ps(0x1.37efecp-14f));
  den = _mm256_fmadd_ps(den, u, _mm256_set1_ps(0x1.f1c0dcp-10f));
  den = _mm256_fmadd_ps(den, u, _mm256_set1_ps(0x1.d7c3dep-6f));
  den = _mm256_fmadd_ps(den, u, _mm256_set1_ps(0x1.023cd4p-2f));
  den = _mm256_fmadd_ps(den, u, one);
  const __m256 erf = _mm256_div_ps(_mm256_mul_ps(x, num), den);
  /* Past the cap P/Q also overflows (inf/inf), so the saturated lanes are replaced, not fixed up. */
  const __m256 abs_x = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
  const __m256 saturated = _mm256_cmp_ps(abs_x, _mm256_set1_ps(0x1.634bc6p+2f), _CMP_GE_OQ);
  const __m256 erf_sat = _mm256_blendv_ps(erf, copysign_avx2(one, x), saturated);
  const __m256 half_x = _mm256_mul_ps(x, _mm256_set1_ps(0.5f));
  return _mm256_fmadd_ps(half_x, erf_sat, half_x);
}

/* 0.5 (1 + tanh(u)) = sigmoid(2u): one exp, and no cancellation for x << 0. */
static inline __m256 gelu_tanh_op(__m256 x, const vparams* vp) {
  /* 2u = x (c1 + c2 x^2), c1 = 2 sqrt(2/pi), c2 = 0.044715 c1 */
  const __m256 x2 = _mm256_mul_ps(x, x);
  const __m256 c2x2_plus_c1 =
      _mm256_fmadd_ps(x2, _mm256_set1_ps(0x1.2444f2p-4f), _mm256_set1_ps(0x1.988454p+0f));
  const __m256 two_u = _mm256_mul_ps(x, c2x2_plus_c1);
  return _mm256_mul_ps(x, sigmoid_avx2(two_u));
}

static inline __m256 leakyrelu_op(__m256 x, const vparams* vp) {
  const __m256 negative = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
  return _mm256_blendv_ps(x, _mm256_mul_ps(x, vp->alpha), negative);
}

static inline __m256 elu_op(__m256 x, const vparams* vp) {
  const __m256 zero = _mm256_setzero_ps();
  const __m256 em1 = expm1_nonpositive_avx2(_mm256_min_ps(zero, x));
  const __m256 nonnegative = _mm256_cmp_ps(x, zero, _CMP_GE_OQ);
  return _mm256_blendv_ps(_mm256_mul_ps(vp->alpha, em1), x, nonnegative);
}

static inline __m256 exp_op(__m256 x, const vparams* vp) { return exp_avx2(x); }

void edgert_f32_vclamp__avx2(size_t n, const float* x, float* y, const edgert_f32_unary_params* p) {
  const vparams vp = {.min = _mm256_set1_ps(p->min), .max = _mm256_set1_ps(p->max)};
  map_avx2(n, x, y, &vp, clamp_op);
}

void edgert_f32_vsigmoid__avx2(size_t n, const float* x, float* y, const edgert_f32_unary_params* p) {
  map_avx2(n, x, y, NULL, sigmoid_op);
}

void edgert_f32_vtanh__avx2(size_t n, const float* x, float* y, const edgert_f32_unary_params* p) {
  map_avx2(n, x, y, NULL, tanh_op);
}

void edgert_f32_vhardsigmoid__avx2(size_t n, const float* x, float* y, const edgert_f32_unary_params* p) {
  const vparams vp = {.alpha = _mm256_set1_ps(p->alpha), .beta = _mm256_set1_ps(p->beta)};
  map_avx2(n, x, y, &vp, hardsigmoid_op);
}

void edgert_f32_vhardswish__avx2(size_t n, const float* x, float* y, const edgert_f32_unary_params* p) {
  map_avx2(n, x, y, NULL, hardswish_op);
}

void edgert_f32_vswish__avx2(size_t n, const float* x, float* y, const edgert_f32_unary_params* p) {
  map_avx2(n, x, y, NULL, swish_op);
}

void edgert_f32_vgelu__avx2(size_t n, const float* x, float* y, const edgert_f32_unary_params* p) {
  map_avx2(n, x, y, NULL, gelu_op);
}

void edgert_f32_vgelu_tanh__avx2(size_t n, const float* x, float* y, const edgert_f32_unary_params* p) {
  map_avx2(n, x, y, NULL, gelu_tanh_op);
}

void edgert_f32_vleakyrelu__avx2(size_t n, const float* x, float* y, const edgert_f32_unary_params* p) {
  const vparams vp = {.alpha = _mm256_set1_ps(p->alpha)};
  map_avx2(n, x, y, &vp, leakyrelu_op);
}

void edgert_f32_velu__avx2(size_t n, const float* x, float* y, const edgert_f32_unary_params* p) {
  const vparams vp = {.alpha = _mm256_set1_ps(p->alpha)};
  map_avx2(n, x, y, &vp, elu_op);
}

void edgert_f32_vexp__avx2(size_t n, const float* x, float* y, const edgert_f32_unary_params* p) {
  map_avx2(n, x, y, NULL, exp_op);
}

void edgert_f32_vprelu__avx2(size_t rows, size_t channels, const float* x, const float* slope, float* y) {
  const __m256 zero = _mm256_setzero_ps();
  const size_t channels_tail = channels % 8;
  for (size_t r = 0; r < rows; r++) {
    size_t c = 0;
    for (; c + 8 <= channels; c += 8) {
      const __m256 v = _mm256_loadu_ps(x + c);
      const __m256 negative = _mm256_cmp_ps(v, zero, _CMP_LT_OQ);
      _mm256_storeu_ps(y + c, _mm256_blendv_ps(v, _mm256_mul_ps(v, _mm256_loadu_ps(slope + c)), negative));
    }
    if (channels_tail != 0) {
      const __m256i mask = tail_mask(channels_tail);
      const __m256 v = _mm256_maskload_ps(x + c, mask);
      const __m256 negative = _mm256_cmp_ps(v, zero, _CMP_LT_OQ);
      const __m256 scaled = _mm256_mul_ps(v, _mm256_maskload_ps(slope + c, mask));
      _mm256_maskstore_ps(y + c, mask, _mm256_blendv_ps(v, scaled, negative));
    }
    x += channels;
    y += channels;
  }
}
