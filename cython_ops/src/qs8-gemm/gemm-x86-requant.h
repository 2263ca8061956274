/* Accumulator set-up and requantizing row stores shared by the x86 qs8 GEMMs (qs8-gemm-6x16c2-avx2.c,
 * qs8-gemm-6x16c4-avx512vnni.c): both keep a row's 16 columns as two 8-lane int32 vectors. */
#ifndef EDGERT_QS8_GEMM_X86_REQUANT_H
#define EDGERT_QS8_GEMM_X86_REQUANT_H

#include <immintrin.h>
#include <string.h>

#include "edgert/qs8-gemm.h"

/* Requantizes one row's 16 (nv = 2) or 8 (nv = 1) accumulators and stores nc <= 16 bytes. */
EDGERT_INLINE void store_row(int8_t* c, const __m256i* acc, size_t nv, const float* scales,
                             size_t nc, __m256 lo, __m256 hi, __m256i zp) {
  __m256i q[2];
#pragma GCC unroll 2
  for (size_t v = 0; v < 2; v++) {
    if (v >= nv) {
      q[v] = q[0];
      continue;
    }
    /* Scales past N are never read: a partial vector loads only the live ones. */
    __m256 s;
    if (nc >= 8 * (v + 1)) {
      s = _mm256_loadu_ps(scales + 8 * v);
    } else {
      float tmp[8] = {0};
      memcpy(tmp, scales + 8 * v, (nc - 8 * v) * sizeof(float));
      s = _mm256_loadu_ps(tmp);
    }
    __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(acc[v]), s);
    f = _mm256_min_ps(_mm256_max_ps(f, lo), hi);
    q[v] = _mm256_add_epi32(_mm256_cvtps_epi32(f), zp);
  }
  /* int32 -> int16 lanes [0-3, 8-11 | 4-7, 12-15] -> column order -> int8; values already lie in
   * [qmin, qmax], so the saturating packs change nothing. */
  const __m256i w16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(q[0], q[1]), 0xD8);
  const __m128i b8 = _mm_packs_epi16(_mm256_castsi256_si128(w16), _mm256_extracti128_si256(w16, 1));
  if (nc >= 16) {
    _mm_storeu_si128((__m128i*)c, b8);
  } else {
    int8_t tmp[16];
    _mm_storeu_si128((__m128i*)tmp, b8);
    memcpy(c, tmp, nc);
  }
}

/* Accumulators of an mr-row tile start at the panel's bias (nv vectors of 8 columns). */
EDGERT_INLINE void init_rows(__m256i (*acc)[2], const int32_t* bias, size_t mr, size_t nv) {
#pragma GCC unroll 8
  for (size_t r = 0; r < mr; r++) {
#pragma GCC unroll 2
    for (size_t v = 0; v < nv; v++) acc[r][v] = _mm256_loadu_si256((const __m256i*)(bias + 8 * v));
  }
}

EDGERT_INLINE void store_rows(int8_t* c, size_t ldc, __m256i (*acc)[2], size_t mr, size_t nv,
                              const float* scales, size_t nc, __m256 lo, __m256 hi, __m256i zp) {
#pragma GCC unroll 8
  for (size_t r = 0; r < mr; r++) store_row(c + r * ldc, acc[r], nv, scales, nc, lo, hi, zp);
}

#endif /* EDGERT_QS8_GEMM_X86_REQUANT_H */
