#include <immintrin.h>
#include <string.h>

#include "edgert/qs8-vbinary.h"

/* 16 elements per step in two halves of 8 int32 lanes; the spec's float steps one for one
 * (no FMA: -ffp-contract=off and separate vmulps/vaddps). Tails (< 16) go through 16-byte
 * copies, so nothing is read or written past n. */

typedef struct {
  __m256i za, zb, zy;
  __m256 am, bm, lo, hi;
} consts;

static consts make_consts(const edgert_qs8_binary_params* p) {
  consts k;
  k.za = _mm256_set1_epi32(p->a_zero_point);
  k.zb = _mm256_set1_epi32(p->b_zero_point);
  k.zy = _mm256_set1_epi32(p->out.zero_point);
  k.am = _mm256_set1_ps(p->a_mult);
  k.bm = _mm256_set1_ps(p->b_mult);
  k.lo = _mm256_set1_ps((float)(p->out.qmin - p->out.zero_point));
  k.hi = _mm256_set1_ps((float)(p->out.qmax - p->out.zero_point));
  return k;
}

EDGERT_INLINE __m256i finish(__m256 f, const consts* k) {
  f = _mm256_min_ps(_mm256_max_ps(f, k->lo), k->hi);
  return _mm256_add_epi32(_mm256_cvtps_epi32(f), k->zy);
}

/* Two int32 vectors (elements 0-7, 8-15) already in [qmin, qmax] -> 16 int8 in order. */
EDGERT_INLINE __m128i pack16(__m256i q0, __m256i q1) {
  const __m256i w16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(q0, q1), 0xD8);
  return _mm_packs_epi16(_mm256_castsi256_si128(w16), _mm256_extracti128_si256(w16, 1));
}

EDGERT_INLINE __m256 centred(__m128i bytes8, __m256i zp) {
  return _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_cvtepi8_epi32(bytes8), zp));
}

EDGERT_INLINE __m128i add16(__m128i a, __m128i b, const consts* k, const int scalar_b, __m256 fb) {
  __m256i q[2];
  for (int h = 0; h < 2; h++) {
    const __m128i ah = h ? _mm_srli_si128(a, 8) : a;
    const __m256 fa = _mm256_mul_ps(centred(ah, k->za), k->am);
    const __m256 fbh =
        scalar_b ? fb : _mm256_mul_ps(centred(h ? _mm_srli_si128(b, 8) : b, k->zb), k->bm);
    q[h] = finish(_mm256_add_ps(fa, fbh), k);
  }
  return pack16(q[0], q[1]);
}

EDGERT_INLINE __m128i mul16(__m128i a, __m128i b, const consts* k, const int scalar_b, __m256i xb) {
  __m256i q[2];
  for (int h = 0; h < 2; h++) {
    const __m256i xa = _mm256_sub_epi32(_mm256_cvtepi8_epi32(h ? _mm_srli_si128(a, 8) : a), k->za);
    const __m256i xbh =
        scalar_b ? xb : _mm256_sub_epi32(_mm256_cvtepi8_epi32(h ? _mm_srli_si128(b, 8) : b), k->zb);
    /* |(a - za) * (b - zb)| <= 255 * 255: exact in int32 and in float. */
    const __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_mullo_epi32(xa, xbh)), k->am);
    q[h] = finish(f, k);
  }
  return pack16(q[0], q[1]);
}

EDGERT_INLINE __m128i load_n(const int8_t* p, size_t n) {
  if (n >= 16) return _mm_loadu_si128((const __m128i*)p);
  int8_t tmp[16] = {0};
  memcpy(tmp, p, n);
  return _mm_loadu_si128((const __m128i*)tmp);
}

EDGERT_INLINE void store_n(int8_t* p, __m128i v, size_t n) {
  if (n >= 16) {
    _mm_storeu_si128((__m128i*)p, v);
    return;
  }
  int8_t tmp[16];
  _mm_storeu_si128((__m128i*)tmp, v);
  memcpy(p, tmp, n);
}

void edgert_qs8_vadd__avx2(size_t n, const int8_t* a, const int8_t* b, int8_t* y,
                           const edgert_qs8_binary_params* p) {
  const consts k = make_consts(p);
  for (size_t i = 0; i < n; i += 16) {
    const size_t m = n - i;
    store_n(y + i, add16(load_n(a + i, m), load_n(b + i, m), &k, 0, k.am), m);
  }
}

void edgert_qs8_vaddc__avx2(size_t n, const int8_t* a, const int8_t* b, int8_t* y,
                            const edgert_qs8_binary_params* p) {
  const consts k = make_consts(p);
  /* b's term is one float, computed exactly as the spec computes it per element. */
  const __m256 fb = _mm256_set1_ps((float)(b[0] - p->b_zero_point) * p->b_mult);
  for (size_t i = 0; i < n; i += 16) {
    const size_t m = n - i;
    store_n(y + i, add16(load_n(a + i, m), _mm_setzero_si128(), &k, 1, fb), m);
  }
}

void edgert_qs8_vmul__avx2(size_t n, const int8_t* a, const int8_t* b, int8_t* y,
                           const edgert_qs8_binary_params* p) {
  const consts k = make_consts(p);
  for (size_t i = 0; i < n; i += 16) {
    const size_t m = n - i;
    store_n(y + i, mul16(load_n(a + i, m), load_n(b + i, m), &k, 0, k.za), m);
  }
}

void edgert_qs8_vmulc__avx2(size_t n, const int8_t* a, const int8_t* b, int8_t* y,
                            const edgert_qs8_binary_params* p) {
  const consts k = make_consts(p);
  const __m256i xb = _mm256_set1_epi32(b[0] - p->b_zero_point);
  for (size_t i = 0; i < n; i += 16) {
    const size_t m = n - i;
    store_n(y + i, mul16(load_n(a + i, m), _mm_setzero_si128(), &k, 1, xb), m);
  }
}
