/* AVX2 + FMA quantized-weight GEMM (edgert/f32-qwgemm.h).
 *
 * Four output rows at a time: every 8 k the x vector is loaded once and FMA'd against four
 * weight rows (widened int8 -> int32 -> float, or nibbles -> int8 -> float, exactly) into four
 * independent 8-lane sums, so the FMA latency chain of one row no longer serialises the GEMV;
 * the four sums are reduced together (hadd transpose).  q4w accumulates each group's 8-lane sum
 * times its scale into a second 8-lane sum (the group's scale applied before the lane reduction,
 * a reordering of the spec's sum); for groups of a multiple of 16 it reads x split into even / odd
 * k once per call, so each 8 weight bytes give two 8-lane FMAs with no nibble interleave (a malloc
 * only when K > 4096 floats; on failure the one-row path runs).  Rows N % 4 and k tails K % 8 run
 * one row / one k at a time.  qs8w and f32w take x rows in pairs (prefill): each weight vector
 * loaded / widened once feeds both rows. */
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#include "edgert/f32-qwgemm.h"

static inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

/* The four lane sums of a0..a3 as one 4-lane vector. */
static inline __m128 hsum8x4(__m256 a0, __m256 a1, __m256 a2, __m256 a3) {
  const __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
  return _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
}

static inline __m256 load_qs8(const int8_t* p) {
  int64_t b;
  memcpy(&b, p, 8);
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_cvtsi64_si128(b)));
}

/* 8 nibbles (4 bytes, low nibble first) -> 8 floats q - 8. */
static inline __m256 load_q4(const uint8_t* p) {
  const __m128i mask = _mm_set1_epi8(0x0F), eight = _mm_set1_epi8(8);
  int32_t b;
  memcpy(&b, p, 4);
  const __m128i bytes = _mm_cvtsi32_si128(b);
  const __m128i lo = _mm_and_si128(bytes, mask);
  const __m128i hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), mask);
  const __m128i q = _mm_sub_epi8(_mm_unpacklo_epi8(lo, hi), eight);
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q));
}

static inline void store4(float* y, __m128 s, const float* bias) {
  if (bias) s = _mm_add_ps(s, _mm_loadu_ps(bias));
  _mm_storeu_ps(y, s);
}

/* x row xm against output rows [n0, N) (n0 a multiple of 4). */
static void qs8w_row(size_t n0, size_t N, size_t K, const float* xm, const int8_t* w, const float* scale,
                   const float* bias, float* ym) {
  size_t n = n0;
  for (; n + 4 <= N; n += 4) {
    const int8_t* w0 = w + n * K;
    const int8_t* w1 = w0 + K;
    const int8_t* w2 = w1 + K;
    const int8_t* w3 = w2 + K;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    __m256 b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    size_t k = 0;
    for (; k + 16 <= K; k += 16) {  /* two k blocks in flight: 8 independent FMA chains */
      const __m256 xv = _mm256_loadu_ps(xm + k), xu = _mm256_loadu_ps(xm + k + 8);
      a0 = _mm256_fmadd_ps(xv, load_qs8(w0 + k), a0);
      a1 = _mm256_fmadd_ps(xv, load_qs8(w1 + k), a1);
      a2 = _mm256_fmadd_ps(xv, load_qs8(w2 + k), a2);
      a3 = _mm256_fmadd_ps(xv, load_qs8(w3 + k), a3);
      b0 = _mm256_fmadd_ps(xu, load_qs8(w0 + k + 8), b0);
      b1 = _mm256_fmadd_ps(xu, load_qs8(w1 + k + 8), b1);
      b2 = _mm256_fmadd_ps(xu, load_qs8(w2 + k + 8), b2);
      b3 = _mm256_fmadd_ps(xu, load_qs8(w3 + k + 8), b3);
    }
    for (; k + 8 <= K; k += 8) {
      const __m256 xv = _mm256_loadu_ps(xm + k);
      a0 = _mm256_fmadd_ps(xv, load_qs8(w0 + k), a0);
      a1 = _mm256_fmadd_ps(xv, load_qs8(w1 + k), a1);
      a2 = _mm256_fmadd_ps(xv, load_qs8(w2 + k), a2);
      a3 = _mm256_fmadd_ps(xv, load_qs8(w3 + k), a3);
    }
    float s[4];
    _mm_storeu_ps(s, hsum8x4(_mm256_add_ps(a0, b0), _mm256_add_ps(a1, b1), _mm256_add_ps(a2, b2),
                             _mm256_add_ps(a3, b3)));
    for (; k < K; k++) {
      s[0] += xm[k] * (float)w0[k];
      s[1] += xm[k] * (float)w1[k];
      s[2] += xm[k] * (float)w2[k];
      s[3] += xm[k] * (float)w3[k];
    }
    store4(ym + n, _mm_mul_ps(_mm_loadu_ps(s), _mm_loadu_ps(scale + n)), bias ? bias + n : NULL);
  }
  for (; n < N; n++) {
    const int8_t* wn = w + n * K;
    __m256 acc = _mm256_setzero_ps();
    size_t k = 0;
    for (; k + 8 <= K; k += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(xm + k), load_qs8(wn + k), acc);
    float s = hsum8(acc);
    for (; k < K; k++) s += xm[k] * (float)wn[k];
    s *= scale[n];
    ym[n] = bias ? s + bias[n] : s;
  }
}

/* Two x rows (a prefill) against the 4-row weight blocks: every widened weight vector feeds two
 * FMAs.  Returns the first output row it did not compute (N rounded down to 4). */
static size_t qs8w_pair(size_t N, size_t K, const float* xa, const float* xb, const int8_t* w,
                        const float* scale, const float* bias, float* ya, float* yb) {
  size_t n = 0;
  for (; n + 4 <= N; n += 4) {
    const int8_t* wr = w + n * K;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    size_t k = 0;
    for (; k + 8 <= K; k += 8) {
      const __m256 xv = _mm256_loadu_ps(xa + k), xu = _mm256_loadu_ps(xb + k);
      __m256 q = load_qs8(wr + k);
      a0 = _mm256_fmadd_ps(xv, q, a0);
      b0 = _mm256_fmadd_ps(xu, q, b0);
      q = load_qs8(wr + K + k);
      a1 = _mm256_fmadd_ps(xv, q, a1);
      b1 = _mm256_fmadd_ps(xu, q, b1);
      q = load_qs8(wr + 2 * K + k);
      a2 = _mm256_fmadd_ps(xv, q, a2);
      b2 = _mm256_fmadd_ps(xu, q, b2);
      q = load_qs8(wr + 3 * K + k);
      a3 = _mm256_fmadd_ps(xv, q, a3);
      b3 = _mm256_fmadd_ps(xu, q, b3);
    }
    float sa[4], sb[4];
    _mm_storeu_ps(sa, hsum8x4(a0, a1, a2, a3));
    _mm_storeu_ps(sb, hsum8x4(b0, b1, b2, b3));
    for (; k < K; k++) {
      for (int r = 0; r < 4; r++) {
        sa[r] += xa[k] * (float)wr[r * K + k];
        sb[r] += xb[k] * (float)wr[r * K + k];
      }
    }
    const __m128 sc = _mm_loadu_ps(scale + n);
    store4(ya + n, _mm_mul_ps(_mm_loadu_ps(sa), sc), bias ? bias + n : NULL);
    store4(yb + n, _mm_mul_ps(_mm_loadu_ps(sb), sc), bias ? bias + n : NULL);
  }
  return n;
}

void edgert_f32_qs8w_gemm__avx2(size_t M, size_t N, size_t K, const float* x, const int8_t* w,
                                const float* scale, const float* bias, float* y) {
  size_t m = 0;
  for (; m + 2 <= M; m += 2) {
    const size_t n0 = qs8w_pair(N, K, x + m * K, x + (m + 1) * K, w, scale, bias, y + m * N, y + (m + 1) * N);
    qs8w_row(n0, N, K, x + m * K, w, scale, bias, y + m * N);
    qs8w_row(n0, N, K, x + (m + 1) * K, w, scale, bias, y + (m + 1) * N);
  }
  if (m < M) qs8w_row(0, N, K, x + m * K, w, scale, bias, y + m * N);
}

/* One row of q4w, one group at a time (the rows N % 4, and groups that are not a multiple of 8). */
static float q4w_row(size_t K, size_t group, const float* xm, const uint8_t* wn, const float* sc) {
  const size_t groups = K / group;
  float acc = 0.0f;
  for (size_t g = 0; g < groups; g++) {
    const size_t k0 = g * group, k1 = k0 + group;
    __m256 part = _mm256_setzero_ps();
    size_t k = k0;
    for (; k + 8 <= k1; k += 8) part = _mm256_fmadd_ps(_mm256_loadu_ps(xm + k), load_q4(wn + k / 2), part);
    float s = hsum8(part);
    for (; k < k1; k++) {
      const uint8_t b = wn[k / 2];
      s += xm[k] * (float)((int)((k & 1) ? (b >> 4) : (b & 0x0F)) - 8);
    }
    acc += s * sc[g];
  }
  return acc;
}

/* Even / odd split of x for the nibble layout: per 16 k, xp holds x[k], x[k+2], .., x[k+14] then
 * x[k+1], .., x[k+15], so the 8 low and the 8 high nibbles of 8 weight bytes each meet one x vector
 * (no byte interleave per weight row; x is rearranged once per call). */
static void split_even_odd(size_t K, const float* x, float* xp) {
  for (size_t k = 0; k < K; k += 16) {
    const __m256 a = _mm256_loadu_ps(x + k), b = _mm256_loadu_ps(x + k + 8);
    const __m256 ev = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));  /* a0 a2 b0 b2 | a4 a6 b4 b6 */
    const __m256 od = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
    _mm256_storeu_ps(xp + k, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(ev), 0xD8)));
    _mm256_storeu_ps(xp + k + 8, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(od), 0xD8)));
  }
}

/* 8 bytes (16 nibbles) -> the 8 low (even k) and 8 high (odd k) values q - 8 as floats. */
static inline void load_q4x16(const uint8_t* p, __m256* even, __m256* odd) {
  const __m128i mask = _mm_set1_epi8(0x0F), eight = _mm_set1_epi8(8);
  const __m128i bytes = _mm_loadl_epi64((const __m128i*)p);
  const __m128i lo = _mm_sub_epi8(_mm_and_si128(bytes, mask), eight);
  const __m128i hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(bytes, 4), mask), eight);
  *even = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo));
  *odd = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi));
}

#define XP_STACK 4096

void edgert_f32_q4w_gemm__avx2(size_t M, size_t N, size_t K, size_t group, const float* x,
                               const uint8_t* w, const float* scale, const float* bias, float* y) {
  const size_t groups = K / group, kb = K / 2;
  float xp_stack[XP_STACK];
  float* xp = NULL;
  if (group % 16 == 0) xp = K <= XP_STACK ? xp_stack : malloc(K * sizeof(float));
  for (size_t m = 0; m < M; m++) {
    const float* xm = x + m * K;
    float* ym = y + m * N;
    size_t n = 0;
    if (xp != NULL) {
      split_even_odd(K, xm, xp);
      for (; n + 4 <= N; n += 4) {
        const uint8_t* w0 = w + n * kb;
        const uint8_t* w1 = w0 + kb;
        const uint8_t* w2 = w1 + kb;
        const uint8_t* w3 = w2 + kb;
        const float* s0 = scale + n * groups;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (size_t g = 0; g < groups; g++) {
          __m256 e0 = _mm256_setzero_ps(), e1 = e0, e2 = e0, e3 = e0, o0 = e0, o1 = e0, o2 = e0, o3 = e0;
          for (size_t k = g * group; k < (g + 1) * group; k += 16) {
            const __m256 xe = _mm256_loadu_ps(xp + k), xo = _mm256_loadu_ps(xp + k + 8);
            __m256 we, wo;
            load_q4x16(w0 + k / 2, &we, &wo);
            e0 = _mm256_fmadd_ps(xe, we, e0);
            o0 = _mm256_fmadd_ps(xo, wo, o0);
            load_q4x16(w1 + k / 2, &we, &wo);
            e1 = _mm256_fmadd_ps(xe, we, e1);
            o1 = _mm256_fmadd_ps(xo, wo, o1);
            load_q4x16(w2 + k / 2, &we, &wo);
            e2 = _mm256_fmadd_ps(xe, we, e2);
            o2 = _mm256_fmadd_ps(xo, wo, o2);
            load_q4x16(w3 + k / 2, &we, &wo);
            e3 = _mm256_fmadd_ps(xe, we, e3);
            o3 = _mm256_fmadd_ps(xo, wo, o3);
          }
          a0 = _mm256_fmadd_ps(_mm256_add_ps(e0, o0), _mm256_set1_ps(s0[g]), a0);
          a1 = _mm256_fmadd_ps(_mm256_add_ps(e1, o1), _mm256_set1_ps(s0[groups + g]), a1);
          a2 = _mm256_fmadd_ps(_mm256_add_ps(e2, o2), _mm256_set1_ps(s0[2 * groups + g]), a2);
          a3 = _mm256_fmadd_ps(_mm256_add_ps(e3, o3), _mm256_set1_ps(s0[3 * groups + g]), a3);
        }
        store4(ym + n, hsum8x4(a0, a1, a2, a3), bias ? bias + n : NULL);
      }
    }
    for (; n < N; n++) {
      const float acc = q4w_row(K, group, xm, w + n * kb, scale + n * groups);
      ym[n] = bias ? acc + bias[n] : acc;
    }
  }
  if (xp != NULL && xp != xp_stack) free(xp);
}

/* x row xm against output rows [n0, N) (n0 a multiple of 4). */
static void f32w_row(size_t n0, size_t N, size_t K, const float* xm, const float* w, const float* bias,
                   float* ym) {
  size_t n = n0;
  for (; n + 4 <= N; n += 4) {
    const float* w0 = w + n * K;
    const float* w1 = w0 + K;
    const float* w2 = w1 + K;
    const float* w3 = w2 + K;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    __m256 b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    size_t k = 0;
    for (; k + 16 <= K; k += 16) {  /* two k blocks in flight: 8 independent FMA chains */
      const __m256 xv = _mm256_loadu_ps(xm + k), xu = _mm256_loadu_ps(xm + k + 8);
      a0 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(w0 + k), a0);
      a1 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(w1 + k), a1);
      a2 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(w2 + k), a2);
      a3 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(w3 + k), a3);
      b0 = _mm256_fmadd_ps(xu, _mm256_loadu_ps(w0 + k + 8), b0);
      b1 = _mm256_fmadd_ps(xu, _mm256_loadu_ps(w1 + k + 8), b1);
      b2 = _mm256_fmadd_ps(xu, _mm256_loadu_ps(w2 + k + 8), b2);
      b3 = _mm256_fmadd_ps(xu, _mm256_loadu_ps(w3 + k + 8), b3);
    }
    for (; k + 8 <= K; k += 8) {
      const __m256 xv = _mm256_loadu_ps(xm + k);
      a0 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(w0 + k), a0);
      a1 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(w1 + k), a1);
      a2 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(w2 + k), a2);
      a3 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(w3 + k), a3);
    }
    float s[4];
    _mm_storeu_ps(s, hsum8x4(_mm256_add_ps(a0, b0), _mm256_add_ps(a1, b1), _mm256_add_ps(a2, b2),
                             _mm256_add_ps(a3, b3)));
    for (; k < K; k++) {
      s[0] += xm[k] * w0[k];
      s[1] += xm[k] * w1[k];
      s[2] += xm[k] * w2[k];
      s[3] += xm[k] * w3[k];
    }
    store4(ym + n, _mm_loadu_ps(s), bias ? bias + n : NULL);
  }
  for (; n < N; n++) {
    const float* wn = w + n * K;
    __m256 acc = _mm256_setzero_ps();
    size_t k = 0;
    for (; k + 8 <= K; k += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(xm + k), _mm256_loadu_ps(wn + k), acc);
    float s = hsum8(acc);
    for (; k < K; k++) s += xm[k] * wn[k];
    ym[n] = bias ? s + bias[n] : s;
  }
}

/* Two x rows (a prefill) against the 4-row weight blocks: every weight vector feeds two FMAs.
 * Returns the first output row it did not compute (N rounded down to 4). */
static size_t f32w_pair(size_t N, size_t K, const float* xa, const float* xb, const float* w,
                        const float* bias, float* ya, float* yb) {
  size_t n = 0;
  for (; n + 4 <= N; n += 4) {
    const float* wr = w + n * K;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    size_t k = 0;
    for (; k + 8 <= K; k += 8) {
      const __m256 xv = _mm256_loadu_ps(xa + k), xu = _mm256_loadu_ps(xb + k);
      __m256 q = _mm256_loadu_ps(wr + k);
      a0 = _mm256_fmadd_ps(xv, q, a0);
      b0 = _mm256_fmadd_ps(xu, q, b0);
      q = _mm256_loadu_ps(wr + K + k);
      a1 = _mm256_fmadd_ps(xv, q, a1);
      b1 = _mm256_fmadd_ps(xu, q, b1);
      q = _mm256_loadu_ps(wr + 2 * K + k);
      a2 = _mm256_fmadd_ps(xv, q, a2);
      b2 = _mm256_fmadd_ps(xu, q, b2);
      q = _mm256_loadu_ps(wr + 3 * K + k);
      a3 = _mm256_fmadd_ps(xv, q, a3);
      b3 = _mm256_fmadd_ps(xu, q, b3);
    }
    float sa[4], sb[4];
    _mm_storeu_ps(sa, hsum8x4(a0, a1, a2, a3));
    _mm_storeu_ps(sb, hsum8x4(b0, b1, b2, b3));
    for (; k < K; k++) {
      for (int r = 0; r < 4; r++) {
        sa[r] += xa[k] * wr[r * K + k];
        sb[r] += xb[k] * wr[r * K + k];
      }
    }
    store4(ya + n, _mm_loadu_ps(sa), bias ? bias + n : NULL);
    store4(yb + n, _mm_loadu_ps(sb), bias ? bias + n : NULL);
  }
  return n;
}

void edgert_f32_f32w_gemm__avx2(size_t M, size_t N, size_t K, const float* x, const float* w,
                                const float* bias, float* y) {
  size_t m = 0;
  for (; m + 2 <= M; m += 2) {
    const size_t n0 = f32w_pair(N, K, x + m * K, x + (m + 1) * K, w, bias, y + m * N, y + (m + 1) * N);
    f32w_row(n0, N, K, x + m * K, w, bias, y + m * N);
    f32w_row(n0, N, K, x + (m + 1) * K, w, bias, y + (m + 1) * N);
  }
  if (m < M) f32w_row(0, N, K, x + m * K, w, bias, y + m * N);
}
