/* AVX2 fp32 binary ops with the fused output clamp; bit for bit the scalar spec. */
#include <immintrin.h>

#include "edgert/f32-vbinary.h"

typedef __m256 (*op_avx2)(__m256 a, __m256 b);

static const int32_t tail_mask_table[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

/* Lanes [0, count) on, for count in [1, 7]. */
EDGERT_INLINE __m256i tail_mask(size_t count) {
  return _mm256_loadu_si256((const __m256i*)&tail_mask_table[8 - count]);
}

/* maxps/minps return their second operand when either is NaN or on ties, so v goes second:
 * NaN passes and the result is bit for bit the scalar compare-select. */
EDGERT_INLINE __m256 clamp_avx2(__m256 v, __m256 lo, __m256 hi) {
  return _mm256_min_ps(hi, _mm256_max_ps(lo, v));
}

static inline __m256 add_op(__m256 a, __m256 b) { return _mm256_add_ps(a, b); }
static inline __m256 sub_op(__m256 a, __m256 b) { return _mm256_sub_ps(a, b); }
static inline __m256 mul_op(__m256 a, __m256 b) { return _mm256_mul_ps(a, b); }
static inline __m256 div_op(__m256 a, __m256 b) { return _mm256_div_ps(a, b); }

/* maxps(b, a) is b > a ? b : a, i.e. the spec (a wins ties and a NaN a) except when only b is
 * NaN, which the blend restores. Same for min. */
static inline __m256 max_op(__m256 a, __m256 b) {
  return _mm256_blendv_ps(_mm256_max_ps(b, a), b, _mm256_cmp_ps(b, b, _CMP_UNORD_Q));
}
static inline __m256 min_op(__m256 a, __m256 b) {
  return _mm256_blendv_ps(_mm256_min_ps(b, a), b, _mm256_cmp_ps(b, b, _CMP_UNORD_Q));
}

/* Whole vectors, then one masked vector: nothing past the last element is touched. */
EDGERT_INLINE void map_vv(size_t n, const float* a, const float* b, float* y,
                          const edgert_f32_minmax_params* p, op_avx2 op) {
  const __m256 lo = _mm256_set1_ps(p->min), hi = _mm256_set1_ps(p->max);
  for (; n >= 8; n -= 8) {
    _mm256_storeu_ps(y, clamp_avx2(op(_mm256_loadu_ps(a), _mm256_loadu_ps(b)), lo, hi));
    a += 8;
    b += 8;
    y += 8;
  }
  if (n != 0) {
    const __m256i mask = tail_mask(n);
    const __m256 v = op(_mm256_maskload_ps(a, mask), _mm256_maskload_ps(b, mask));
    _mm256_maskstore_ps(y, mask, clamp_avx2(v, lo, hi));
  }
}

/* b[0] is broadcast before any store, so y may alias b; with n == 0 b is not read at all.
 * reversed: op(b[0], a[i]). */
EDGERT_INLINE void map_vs(size_t n, const float* a, const float* b, float* y,
                          const edgert_f32_minmax_params* p, op_avx2 op, int reversed) {
  if (n == 0) return;
  const __m256 lo = _mm256_set1_ps(p->min), hi = _mm256_set1_ps(p->max);
  const __m256 vb = _mm256_set1_ps(b[0]);
  for (; n >= 8; n -= 8) {
    const __m256 va = _mm256_loadu_ps(a);
    _mm256_storeu_ps(y, clamp_avx2(reversed ? op(vb, va) : op(va, vb), lo, hi));
    a += 8;
    y += 8;
  }
  if (n != 0) {
    const __m256i mask = tail_mask(n);
    const __m256 va = _mm256_maskload_ps(a, mask);
    _mm256_maskstore_ps(y, mask, clamp_avx2(reversed ? op(vb, va) : op(va, vb), lo, hi));
  }
}

void edgert_f32_vadd__avx2(size_t n, const float* a, const float* b, float* y,
                           const edgert_f32_minmax_params* p) {
  map_vv(n, a, b, y, p, add_op);
}

void edgert_f32_vsub__avx2(size_t n, const float* a, const float* b, float* y,
                           const edgert_f32_minmax_params* p) {
  map_vv(n, a, b, y, p, sub_op);
}

void edgert_f32_vmul__avx2(size_t n, const float* a, const float* b, float* y,
                           const edgert_f32_minmax_params* p) {
  map_vv(n, a, b, y, p, mul_op);
}

void edgert_f32_vdiv__avx2(size_t n, const float* a, const float* b, float* y,
                           const edgert_f32_minmax_params* p) {
  map_vv(n, a, b, y, p, div_op);
}

void edgert_f32_vmax__avx2(size_t n, const float* a, const float* b, float* y,
                           const edgert_f32_minmax_params* p) {
  map_vv(n, a, b, y, p, max_op);
}

void edgert_f32_vmin__avx2(size_t n, const float* a, const float* b, float* y,
                           const edgert_f32_minmax_params* p) {
  map_vv(n, a, b, y, p, min_op);
}


void edgert_f32_vaddc__avx2(size_t n, const float* a, const float* b, float* y,
                            const edgert_f32_minmax_params* p) {
  map_vs(n, a, b, y, p, add_op, 0);
}

void edgert_f32_vsubc__avx2(size_t n, const float* a, const float* b, float* y,
                            const edgert_f32_minmax_params* p) {
  map_vs(n, a, b, y, p, sub_op, 0);
}

void edgert_f32_vmulc__avx2(size_t n, const float* a, const float* b, float* y,
                            const edgert_f32_minmax_params* p) {
  map_vs(n, a, b, y, p, mul_op, 0);
}

void edgert_f32_vdivc__avx2(size_t n, const float* a, const float* b, float* y,
                            const edgert_f32_minmax_params* p) {
  map_vs(n, a, b, y, p, div_op, 0);
}

void edgert_f32_vmaxc__avx2(size_t n, const float* a, const float* b, float* y,
                            const edgert_f32_minmax_params* p) {
  map_vs(n, a, b, y, p, max_op, 0);
}

void edgert_f32_vminc__avx2(size_t n, const float* a, const float* b, float* y,
                            const edgert_f32_minmax_params* p) {
  map_vs(n, a, b, y, p, min_op, 0);
}


void edgert_f32_vrsubc__avx2(size_t n, const float* a, const float* b, float* y,
                             const edgert_f32_minmax_params* p) {
  map_vs(n, a, b, y, p, sub_op, 1);
}

void edgert_f32_vrdivc__avx2(size_t n, const float* a, const float* b, float* y,
                             const edgert_f32_minmax_params* p) {
  map_vs(n, a, b, y, p, div_op, 1);
}

