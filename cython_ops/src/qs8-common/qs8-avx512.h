/* AVX-512 helpers shared by the qs8 AVX512-VNNI kernels (GEMM, depthwise, stem): the
 * requantization of edgert/qs8-requant.h on 16 int32 lanes and the store of its 16 bytes.
 * Private to src/. */
#ifndef EDGERT_SRC_QS8_COMMON_QS8_AVX512_H
#define EDGERT_SRC_QS8_COMMON_QS8_AVX512_H

#include <immintrin.h>

#include "edgert/qs8-requant.h"

/* lo/hi: the clamp bounds minus the output zero point. vpmovsdb narrows to bytes; the values
 * already lie in [qmin, qmax], so its saturation changes nothing. */
EDGERT_INLINE __m128i qs8_avx512_requantize16(__m512i acc, __m512 scale, __m512 lo, __m512 hi,
                                              __m512i zero_point) {
  __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), scale);
  f = _mm512_min_ps(_mm512_max_ps(f, lo), hi);
  return _mm512_cvtsepi32_epi8(_mm512_add_epi32(_mm512_cvtps_epi32(f), zero_point));
}

/* The bytes of q selected by live (a prefix: 16, 8 or fewer). Masked stores are slow on Zen 4:
 * plain ones wherever the width allows. */
EDGERT_INLINE void qs8_avx512_store16(int8_t* dst, __m128i q, __mmask16 live) {
  if (live == 0xFFFF) _mm_storeu_si128((__m128i*)dst, q);
  else if (live == 0xFF) _mm_storel_epi64((__m128i*)dst, q);
  else _mm_mask_storeu_epi8(dst, live, q);
}

#endif /* EDGERT_SRC_QS8_COMMON_QS8_AVX512_H */
