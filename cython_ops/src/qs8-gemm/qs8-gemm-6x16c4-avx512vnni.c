#include <immintrin.h>
#include <string.h>

#include "../qs8-common/qs8-avx512.h"
#include "edgert/qs8-gemm.h"

/* 6 rows x 16 columns with AVX512-VNNI: one 512-bit vpdpbusd per row adds four exact u8 x s8
 * products per int32 lane of 16 columns, 64 MACs per instruction (AVX2's vpmaddwd + vpaddd: 16 in
 * two). 512-bit registers measured 22% faster than 256-bit ones here (Zen 4), mostly in the
 * requantization, which runs on 16 lanes and narrows with one vpmovsdb. vpdpbusd's first
 * operand is unsigned, so A is offset by 128 (x ^ 0x80 = x + 128) while its rows are copied into
 * an L1 buffer, and the packing folds -128 * sum(w) into the bias (layout
 * a_offset = 128): the int32 sums are the same as the signed ones, exactly. Weights are packed
 * [K/4][16][4] ("c4": one zmm = 16 columns x 4 k). Per group of 4 k: 1 weight load,
 * 6 broadcasts, 6 vpdpbusd for 384 MACs; 6 accumulators. */

#if !defined(__AVX512VNNI__) || !defined(__AVX512BW__) || !defined(__AVX512VL__)
#error "qs8-gemm-6x16c4-avx512vnni.c needs -mavx512vnni -mavx512bw -mavx512vl"
#endif

#define MR EDGERT_QS8_GEMM_6X16C4__AVX512VNNI_MR
#define NR 16
#define KR 4

/* Offset A bytes per pass: 6 rows x 2048 = 12 KB in L1; larger K runs in passes of KC. */
#define KC 2048
#define B_BLOCK_BYTES (192 * 1024)

/* Rows [0, mr) of A, columns [k0, k0 + kc), plus 128, into buf (row stride `stride`); columns up
 * to the next multiple of 4 read 0x80 (their packed weights are 0). */
static void offset_rows(size_t mr, const int8_t* a, size_t lda, size_t k0, size_t kc, uint8_t* buf,
                        size_t stride) {
  const __m256i flip = _mm256_set1_epi8((char)0x80);
  for (size_t r = 0; r < mr; r++) {
    const int8_t* src = a + r * lda + k0;
    uint8_t* dst = buf + r * stride;
    size_t k = 0;
    for (; k + 32 <= kc; k += 32)
      _mm256_storeu_si256((__m256i*)(dst + k),
                          _mm256_xor_si256(_mm256_loadu_si256((const __m256i*)(src + k)), flip));
    for (; k + 8 <= kc; k += 8)
      _mm_storel_epi64((__m128i*)(dst + k),
                       _mm_xor_si128(_mm_loadl_epi64((const __m128i*)(src + k)), _mm256_castsi256_si128(flip)));
    for (; k < kc; k++) dst[k] = (uint8_t)src[k] ^ 0x80;
    for (; k % KR; k++) dst[k] = 0x80;
  }
}

/* Small K over few panels: tiles read A in place and add the 128 per broadcast, which costs
 * groups x panels vpxord per row, less than the row copy (FemtoDet's 8 -> 8 1x1 convolution spent
 * half its time copying rows). K a multiple of 4, so no quad reads past a row. */
#define IN_PLACE_MAX_GROUPS 16
#define GEMM_X86_IN_PLACE(K, panels) ((K) % KR == 0 && (K) / KR * (panels) <= IN_PLACE_MAX_GROUPS)

EDGERT_INLINE void tile(size_t mr, size_t nv, int in_place, size_t K, const int8_t* a, size_t lda,
                        uint8_t* abuf, size_t stride, const uint8_t* panel, const float* scales,
                        int8_t* c, size_t ldc, size_t nc, __m256 lo, __m256 hi, __m256i zp) {
  (void)nv; /* one 16-column register per row whatever the live columns */
  const __m512i flip = _mm512_set1_epi8((char)0x80);
  __m512i acc[MR];
  const __m512i bias = _mm512_loadu_si512((const void*)panel);
#pragma GCC unroll 6
  for (size_t r = 0; r < mr; r++) acc[r] = bias;
  const int8_t* w = (const int8_t*)(panel + NR * sizeof(int32_t));
  for (size_t k0 = 0; k0 < K; k0 += KC) {
    const size_t kc = edgert_min_sz(KC, K - k0);
    if (K > KC) offset_rows(mr, a, lda, k0, kc, abuf, stride);
    const size_t groups = (kc + KR - 1) / KR;
    for (size_t g = 0; g < groups; g++) {
      const __m512i b = _mm512_loadu_si512((const void*)w);
      w += NR * KR;
#pragma GCC unroll 6
      for (size_t r = 0; r < mr; r++) {
        int32_t quad;
        if (in_place) {
          memcpy(&quad, a + r * lda + KR * g, sizeof(quad));
          acc[r] = _mm512_dpbusd_epi32(acc[r], _mm512_xor_si512(_mm512_set1_epi32(quad), flip), b);
        } else {
          memcpy(&quad, abuf + r * stride + KR * g, sizeof(quad));
          acc[r] = _mm512_dpbusd_epi32(acc[r], _mm512_set1_epi32(quad), b);
        }
      }
    }
  }
  /* Masks cover a partial panel. */
  const __mmask16 live = (__mmask16)((1u << nc) - 1);
  const __m512 s = _mm512_maskz_loadu_ps(live, scales);
  const __m512 lo16 = _mm512_set1_ps(_mm256_cvtss_f32(lo)), hi16 = _mm512_set1_ps(_mm256_cvtss_f32(hi));
  const __m512i zp16 = _mm512_set1_epi32(_mm256_cvtsi256_si32(zp));
#pragma GCC unroll 6
  for (size_t r = 0; r < mr; r++)
    qs8_avx512_store16(c + r * ldc, qs8_avx512_requantize16(acc[r], s, lo16, hi16, zp16), live);
}

#define GEMM_X86_NAME edgert_qs8_gemm_6x16c4__avx512vnni
#define GEMM_X86_ABUF_T uint8_t
#define GEMM_X86_WBYTES 1
#define GEMM_X86_PREPARE_ROWS offset_rows
#include "gemm-x86-driver.h"
