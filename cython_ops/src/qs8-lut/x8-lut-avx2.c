#include <immintrin.h>
#include <string.h>

#include "edgert/qs8-lut.h"

/* 256-entry lookup with vpshufb, which indexes 16-entry tables and yields 0 for an index with
 * its top bit set. Index byte u = 16b + r: step i looks up table row i at u - 16i; only steps
 * whose running index lies in [0, 127] contribute, and the rows are pre-XORed so that the XOR of
 * the contributing lookups telescopes to row b. Steps 1-8 subtract with wrap-around, 9-15 with
 * signed saturation (a negative index stays negative). See the derivation in the comments of
 * make_rows. */

/* rows[i] = the XOR combination of 16-entry table rows T_i that the chain above needs:
 * V_0 = T_0, V_i = T_i ^ T_(i-1) for i = 1..7 (contributions telescope to T_b for u < 128);
 * V_i = T_i ^ T_(i-1) ^ T_(i-8) ^ T_(i-9) for i >= 8 (u >= 128 also collects V_(b-7)..V_7,
 * whose XOR T_7 ^ T_(b-8) these rows cancel). */
static void make_rows(const int8_t* table, __m256i* rows) {
  __m128i t[16];
  for (int i = 0; i < 16; i++) t[i] = _mm_loadu_si128((const __m128i*)(table + 16 * i));
  for (int i = 0; i < 16; i++) {
    __m128i v = t[i];
    if (i >= 1) v = _mm_xor_si128(v, t[i - 1]);
    if (i >= 8) v = _mm_xor_si128(v, t[i - 8]);
    if (i >= 9) v = _mm_xor_si128(v, t[i - 9]);
    rows[i] = _mm256_broadcastsi128_si256(v);
  }
}

EDGERT_INLINE __m256i lookup32(__m256i x, const __m256i* rows) {
  const __m256i sixteen = _mm256_set1_epi8(16);
  __m256i y = _mm256_shuffle_epi8(rows[0], x);
#pragma GCC unroll 8
  for (int i = 1; i <= 8; i++) {
    x = _mm256_sub_epi8(x, sixteen);
    y = _mm256_xor_si256(y, _mm256_shuffle_epi8(rows[i], x));
  }
#pragma GCC unroll 8
  for (int i = 9; i < 16; i++) {
    x = _mm256_subs_epi8(x, sixteen);
    y = _mm256_xor_si256(y, _mm256_shuffle_epi8(rows[i], x));
  }
  return y;
}

void edgert_x8_lut__avx2(size_t n, const int8_t* x, int8_t* y, const int8_t* table) {
  __m256i rows[16];
  make_rows(table, rows);
  size_t i = 0;
  for (; i + 32 <= n; i += 32)
    _mm256_storeu_si256((__m256i*)(y + i), lookup32(_mm256_loadu_si256((const __m256i*)(x + i)), rows));
  if (i < n) {
    int8_t tmp[32] = {0};
    memcpy(tmp, x + i, n - i);
    _mm256_storeu_si256((__m256i*)tmp, lookup32(_mm256_loadu_si256((const __m256i*)tmp), rows));
    memcpy(y + i, tmp, n - i);
  }
}
