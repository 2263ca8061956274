/* The per-architecture fp32 vector layer under the SIMD kernel bodies written once for both
 * ISAs (f32-dwconv/dwconv-impl.h, f32-pool/pool-impl.h, f32-rownorm/rownorm-impl.h): one vector
 * of F32V_WIDTH floats, the last, partial channel block of a row handled through an f32v_tail,
 * and f64v, double accumulators that f32v_add_widened adds a whole f32v to (F32V_WIDTH / 2
 * lanes; row sums that must not lose digits). Private to src/.
 *
 * AVX2 (f32v_fma needs FMA too) or aarch64 NEON; anything else is an error. */
#ifndef EDGERT_SRC_COMMON_F32_VEC_H
#define EDGERT_SRC_COMMON_F32_VEC_H

#include "edgert/common.h"

#if defined(__AVX2__)
#include <immintrin.h>
#define F32V_WIDTH 8
typedef __m256 f32v;
typedef __m256i f32v_tail; /* lane mask of the last, partial channel block */
EDGERT_INLINE f32v f32v_load(const float* p) { return _mm256_loadu_ps(p); }
EDGERT_INLINE f32v f32v_load_tail(const float* p, f32v_tail m) { return _mm256_maskload_ps(p, m); }
EDGERT_INLINE void f32v_store(float* p, f32v v) { _mm256_storeu_ps(p, v); }
EDGERT_INLINE void f32v_store_tail(float* p, f32v v, f32v_tail m) { _mm256_maskstore_ps(p, m, v); }
#if defined(__FMA__)
EDGERT_INLINE f32v f32v_fma(f32v acc, f32v a, f32v b) { return _mm256_fmadd_ps(a, b, acc); }
#endif
EDGERT_INLINE f32v f32v_max(f32v a, f32v b) { return _mm256_max_ps(a, b); }
EDGERT_INLINE f32v f32v_add(f32v a, f32v b) { return _mm256_add_ps(a, b); }
EDGERT_INLINE f32v f32v_mul(f32v a, f32v b) { return _mm256_mul_ps(a, b); }
EDGERT_INLINE f32v f32v_dup(float x) { return _mm256_set1_ps(x); }
EDGERT_INLINE f32v f32v_clamp(f32v v, f32v lo, f32v hi) {
  return _mm256_min_ps(_mm256_max_ps(v, lo), hi);
}
EDGERT_INLINE f32v_tail f32v_make_tail(size_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
EDGERT_INLINE f32v f32v_sub(f32v a, f32v b) { return _mm256_sub_ps(a, b); }
EDGERT_INLINE float f32v_reduce_max(f32v v) {
  float lanes[8];
  _mm256_storeu_ps(lanes, v);
  float m = lanes[0];
  for (int l = 1; l < 8; l++) m = lanes[l] > m ? lanes[l] : m;
  return m;
}
/* nan |= isnan(v) lane-wise (all-ones lanes), and whether any lane is set. */
EDGERT_INLINE f32v f32v_or_isnan(f32v nan, f32v v) { return _mm256_or_ps(nan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q)); }
EDGERT_INLINE int f32v_any(f32v mask) { return _mm256_movemask_ps(mask) != 0; }
typedef __m256d f64v;
EDGERT_INLINE f64v f64v_zero(void) { return _mm256_setzero_pd(); }
EDGERT_INLINE f64v f64v_add(f64v a, f64v b) { return _mm256_add_pd(a, b); }
EDGERT_INLINE f64v f32v_add_widened(f64v acc, f32v v) {
  acc = _mm256_add_pd(acc, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
  return _mm256_add_pd(acc, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
}
EDGERT_INLINE double f64v_sum(f64v v) {
  __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}
#elif defined(__aarch64__)
#include <arm_neon.h>
#define F32V_WIDTH 4
typedef float32x4_t f32v;
typedef size_t f32v_tail; /* number of valid lanes (1..3) of the last channel block */
EDGERT_INLINE f32v f32v_load(const float* p) { return vld1q_f32(p); }
EDGERT_INLINE f32v f32v_load_tail(const float* p, f32v_tail n) {
  f32v v = vld1q_lane_f32(p, vdupq_n_f32(0.0f), 0);
  if (n > 1) v = vld1q_lane_f32(p + 1, v, 1);
  if (n > 2) v = vld1q_lane_f32(p + 2, v, 2);
  return v;
}
EDGERT_INLINE void f32v_store(float* p, f32v v) { vst1q_f32(p, v); }
EDGERT_INLINE void f32v_store_tail(float* p, f32v v, f32v_tail n) {
  if (n & 2) {
    vst1_f32(p, vget_low_f32(v));
    p += 2;
    v = vextq_f32(v, v, 2);
  }
  if (n & 1) vst1q_lane_f32(p, v, 0);
}
EDGERT_INLINE f32v f32v_fma(f32v acc, f32v a, f32v b) { return vfmaq_f32(acc, a, b); }
EDGERT_INLINE f32v f32v_max(f32v a, f32v b) { return vmaxq_f32(a, b); }
EDGERT_INLINE f32v f32v_add(f32v a, f32v b) { return vaddq_f32(a, b); }
EDGERT_INLINE f32v f32v_mul(f32v a, f32v b) { return vmulq_f32(a, b); }
EDGERT_INLINE f32v f32v_dup(float x) { return vdupq_n_f32(x); }
EDGERT_INLINE f32v f32v_clamp(f32v v, f32v lo, f32v hi) { return vminq_f32(vmaxq_f32(v, lo), hi); }
EDGERT_INLINE f32v_tail f32v_make_tail(size_t n) { return n; }
EDGERT_INLINE f32v f32v_sub(f32v a, f32v b) { return vsubq_f32(a, b); }
EDGERT_INLINE float f32v_reduce_max(f32v v) { return vmaxvq_f32(v); }
EDGERT_INLINE f32v f32v_or_isnan(f32v nan, f32v v) {
  return vreinterpretq_f32_u32(vorrq_u32(vreinterpretq_u32_f32(nan), vmvnq_u32(vceqq_f32(v, v))));
}
EDGERT_INLINE int f32v_any(f32v mask) { return vmaxvq_u32(vreinterpretq_u32_f32(mask)) != 0; }
typedef float64x2_t f64v;
EDGERT_INLINE f64v f64v_zero(void) { return vdupq_n_f64(0.0); }
EDGERT_INLINE f64v f64v_add(f64v a, f64v b) { return vaddq_f64(a, b); }
EDGERT_INLINE f64v f32v_add_widened(f64v acc, f32v v) {
  acc = vaddq_f64(acc, vcvt_f64_f32(vget_low_f32(v)));
  return vaddq_f64(acc, vcvt_high_f64_f32(v));
}
EDGERT_INLINE double f64v_sum(f64v v) { return vaddvq_f64(v); }
#else
#error "f32-vec.h needs AVX2 or aarch64 NEON"
#endif

#endif /* EDGERT_SRC_COMMON_F32_VEC_H */
