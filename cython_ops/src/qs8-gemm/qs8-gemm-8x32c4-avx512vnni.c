#include <immintrin.h>
#include <string.h>

#include "../qs8-common/qs8-avx512.h"
#include "edgert/qs8-gemm.h"

/* 8 rows x 32 columns with AVX512-VNNI: one 512-bit vpdpbusd per row and 16-column panel adds
 * four exact u8 x s8 products per int32 lane, 64 MACs per instruction (AVX2's vpmaddwd + vpaddd:
 * 16 in two). 512-bit registers measured 22% faster than 256-bit ones on Zen 4, mostly in the
 * requantization, which runs on 16 lanes and narrows with one vpmovsdb. vpdpbusd's first
 * operand is unsigned, so A is offset by 128 (x ^ 0x80 = x + 128) while its rows are copied into
 * an L1 buffer, and the packing folds -128 * sum(w) into the bias (layout
 * a_offset = 128): the int32 sums are the same as the signed ones, exactly. Weights are packed
 * in panels of 16 columns, [K/4][16][4] ("c4": one zmm = 16 columns x 4 k); a tile takes two
 * neighbouring panels. Per group of 4 k: 2 weight loads, 8 broadcasts, 16 vpdpbusd for 1024
 * MACs on 16 accumulators. Intel's two 512-bit ports issue two vpdpbusd per cycle at a 5-cycle
 * latency, so 10+ independent chains are needed: the earlier 6 x 16 tile (6 chains) reached
 * ~175 GMAC/s on large K where 8 x 32 reaches ~220 (Xeon, 3 GHz, one thread). */

#if !defined(__AVX512VNNI__) || !defined(__AVX512BW__) || !defined(__AVX512VL__)
#error "qs8-gemm-8x32c4-avx512vnni.c needs -mavx512vnni -mavx512bw -mavx512vl"
#endif

#define MR EDGERT_QS8_GEMM_8X32C4__AVX512VNNI_MR
#define NR 16
#define KR 4

/* Offset A bytes per pass: 8 rows x 2048 = 16 KB in L1; larger K runs in passes of KC. */
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

/* An mr-row tile over np (1 or 2) neighbouring panels, panel_bytes apart (each broadcast of A
 * feeds both); nc <= np * 16 live columns. */
EDGERT_INLINE void tile_panels(size_t mr, size_t np, int in_place, size_t K, const int8_t* a,
                               size_t lda, const uint8_t* abuf, size_t stride, const uint8_t* panel,
                               size_t panel_bytes, const float* scales, int8_t* c, size_t ldc,
                               size_t nc, __m256 lo, __m256 hi, __m256i zp) {
  const __m512i flip = _mm512_set1_epi8((char)0x80);
  __m512i acc[2][MR];
#pragma GCC unroll 2
  for (size_t j = 0; j < np; j++) {
    const __m512i bias = _mm512_loadu_si512((const void*)(panel + j * panel_bytes));
#pragma GCC unroll 8
    for (size_t r = 0; r < mr; r++) acc[j][r] = bias;
  }
  const int8_t* w = (const int8_t*)(panel + NR * sizeof(int32_t));
  for (size_t k0 = 0; k0 < K; k0 += KC) {
    const size_t kc = edgert_min_sz(KC, K - k0);
    if (K > KC) offset_rows(mr, a, lda, k0, kc, (uint8_t*)abuf, stride);
    const size_t groups = (kc + KR - 1) / KR;
    for (size_t g = 0; g < groups; g++) {
      __m512i b[2];
#pragma GCC unroll 2
      for (size_t j = 0; j < np; j++) b[j] = _mm512_loadu_si512((const void*)(w + j * panel_bytes));
      w += NR * KR;
#pragma GCC unroll 8
      for (size_t r = 0; r < mr; r++) {
        int32_t quad;
        __m512i x;
        if (in_place) {
          memcpy(&quad, a + r * lda + KR * g, sizeof(quad));
          x = _mm512_xor_si512(_mm512_set1_epi32(quad), flip);
        } else {
          memcpy(&quad, abuf + r * stride + KR * g, sizeof(quad));
          x = _mm512_set1_epi32(quad);
        }
#pragma GCC unroll 2
        for (size_t j = 0; j < np; j++) acc[j][r] = _mm512_dpbusd_epi32(acc[j][r], x, b[j]);
      }
    }
  }
  const __m512 lo16 = _mm512_set1_ps(_mm256_cvtss_f32(lo)), hi16 = _mm512_set1_ps(_mm256_cvtss_f32(hi));
  const __m512i zp16 = _mm512_set1_epi32(_mm256_cvtsi256_si32(zp));
#pragma GCC unroll 2
  for (size_t j = 0; j < np; j++) {
    /* Masks cover a partial panel. */
    const size_t live_cols = edgert_min_sz(NR, nc - j * NR);
    const __mmask16 live = (__mmask16)((1u << live_cols) - 1);
    const __m512 s = _mm512_maskz_loadu_ps(live, scales + j * NR);
#pragma GCC unroll 8
    for (size_t r = 0; r < mr; r++)
      qs8_avx512_store16(c + r * ldc + j * NR, qs8_avx512_requantize16(acc[j][r], s, lo16, hi16, zp16),
                         live);
  }
}

EDGERT_INLINE void tile(size_t mr, size_t nv, int in_place, size_t K, const int8_t* a, size_t lda,
                        uint8_t* abuf, size_t stride, const uint8_t* panel, const float* scales,
                        int8_t* c, size_t ldc, size_t nc, __m256 lo, __m256 hi, __m256i zp) {
  (void)nv; /* one 16-column register per row whatever the live columns */
  tile_panels(mr, 1, in_place, K, a, lda, abuf, stride, panel, 0, scales, c, ldc, nc, lo, hi, zp);
}

/* Two neighbouring panels (nc = their live columns, > 16) for mr rows. */
EDGERT_INLINE void pair_tile(size_t mr, int in_place, size_t K, const int8_t* a, size_t lda,
                             uint8_t* abuf, size_t stride, const uint8_t* panel, size_t panel_bytes,
                             const float* scales, int8_t* c, size_t ldc, size_t nc, __m256 lo,
                             __m256 hi, __m256i zp) {
#define PAIR(m) tile_panels(m, 2, in_place, K, a, lda, abuf, stride, panel, panel_bytes, scales, c, ldc, nc, lo, hi, zp)
  switch (mr) {
    case 8: PAIR(8); break;
    case 7: PAIR(7); break;
    case 6: PAIR(6); break;
    case 5: PAIR(5); break;
    case 4: PAIR(4); break;
    case 3: PAIR(3); break;
    case 2: PAIR(2); break;
    default: PAIR(1); break;
  }
#undef PAIR
}

#define GEMM_X86_NAME edgert_qs8_gemm_8x32c4__avx512vnni
#define GEMM_X86_ABUF_T uint8_t
#define GEMM_X86_WBYTES 1
#define GEMM_X86_PREPARE_ROWS offset_rows
#define GEMM_X86_PAIR_TILE pair_tile
#include "gemm-x86-driver.h"
