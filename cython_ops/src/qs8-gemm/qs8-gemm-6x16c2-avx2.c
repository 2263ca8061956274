#include <immintrin.h>
#include <string.h>

#include "edgert/qs8-gemm.h"


/* 6 rows x 16 columns, K in pairs ("c2"): AVX2 has no int8 dot product that is exact (vpmaddubsw
 * saturates its int16 pair sums), so both operands are sign-extended to int16 and vpmaddwd adds
 * two exact products per int32 lane. Weights are packed already extended ([K/2][16][2] int16: one
 * ymm holds 8 columns x 2 k); the A rows of a 6-row block are extended once into an L1 buffer and
 * each k pair is broadcast from it. Per k pair: 2 weight loads, 6 broadcasts, 12 vpmaddwd,
 * 12 vpaddd for 192 MACs, with 12 accumulators + 2 weight + 1 broadcast register. */

#define MR EDGERT_QS8_GEMM_6X16C2__AVX2_MR
#define NR 16
#define KR 2

/* A columns extended per pass: 6 rows x 1024 x 2 bytes = 12 KB stays in L1 next to the weights.
 * Larger K (fully connected layers) runs in passes of KC, re-extending per panel. */
#define KC 1024

/* Panels per L2 block (the outer loops: gemm-x86-driver.h). */
#define B_BLOCK_BYTES (192 * 1024)

/* Rows [0, mr) of A, columns [k0, k0 + kc), as int16 into buf (row stride `stride`); an odd
 * last column pairs with 0 (its packed weight is 0 too). */
static void extend_rows(size_t mr, const int8_t* a, size_t lda, size_t k0, size_t kc,
                        int16_t* buf, size_t stride) {
  for (size_t r = 0; r < mr; r++) {
    const int8_t* src = a + r * lda + k0;
    int16_t* dst = buf + r * stride;
    size_t k = 0;
    for (; k + 16 <= kc; k += 16)
      _mm256_storeu_si256((__m256i*)(dst + k),
                          _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i*)(src + k))));
    /* Small K (1x1 convs on 8-24 channels): whole 8-column steps, not byte by byte. */
    for (; k + 8 <= kc; k += 8)
      _mm_storeu_si128((__m128i*)(dst + k), _mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i*)(src + k))));
    for (; k < kc; k++) dst[k] = src[k];
    if (kc % 2) dst[kc] = 0;
  }
}

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

/* One mr x (8*nv) tile over all of K. Inlined with constant mr/nv so the loops unroll and the
 * accumulators live in registers. abuf holds A extended for all of K (K <= KC), or is a scratch
 * the tile refills pass by pass (K > KC). */
EDGERT_INLINE void tile(size_t mr, size_t nv, int in_place, size_t K, const int8_t* a, size_t lda,
                        int16_t* abuf, size_t stride, const uint8_t* panel, const float* scales,
                        int8_t* c, size_t ldc, size_t nc, __m256 lo, __m256 hi, __m256i zp) {
  __m256i acc[MR][2];
  init_rows(acc, (const int32_t*)panel, mr, nv);
  const int16_t* w = (const int16_t*)(panel + NR * sizeof(int32_t));
  for (size_t k0 = 0; k0 < K; k0 += KC) {
    const size_t kc = edgert_min_sz(KC, K - k0);
    if (K > KC) extend_rows(mr, a, lda, k0, kc, abuf, stride);
    const size_t pairs = (kc + 1) / 2;
    const int16_t* ar[MR];
#pragma GCC unroll 6
    for (size_t r = 0; r < mr; r++) ar[r] = abuf + r * stride;
#pragma GCC unroll 2
    for (size_t p = 0; p < pairs; p++) {
      __m256i b[2];
#pragma GCC unroll 2
      for (size_t v = 0; v < nv; v++) b[v] = _mm256_loadu_si256((const __m256i*)(w + 16 * v));
      w += NR * KR;
#pragma GCC unroll 6
      for (size_t r = 0; r < mr; r++) {
        int32_t pair;
        memcpy(&pair, ar[r] + 2 * p, sizeof(pair));
        const __m256i ap = _mm256_set1_epi32(pair);
#pragma GCC unroll 2
        for (size_t v = 0; v < nv; v++) acc[r][v] = _mm256_add_epi32(acc[r][v], _mm256_madd_epi16(ap, b[v]));
      }
    }
  }
  store_rows(c, ldc, acc, mr, nv, scales, nc, lo, hi, zp);
}

#define GEMM_X86_NAME edgert_qs8_gemm_6x16c2__avx2
#define GEMM_X86_ABUF_T int16_t
#define GEMM_X86_WBYTES 2
#define GEMM_X86_PREPARE_ROWS extend_rows
#include "gemm-x86-driver.h"
