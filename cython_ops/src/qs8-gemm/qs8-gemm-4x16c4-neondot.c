#include <arm_neon.h>
#include <string.h>

#include "edgert/qs8-gemm.h"

#include "gemm-neon-requant.h"

/* 4 rows x 16 columns with the ARMv8.2 dot product: vdotq_laneq_s32 adds four exact int8
 * products per int32 lane, so one instruction does 16 MACs for 4 columns. Weights are packed
 * [K/4][16][4] ("c4": one 16-byte load = 4 columns x 4 k); 16 bytes of a row hold 4 k groups
 * and the lane index picks the group. 16 accumulators + 4 rows + weights fit the 32 registers. */

#if !defined(__ARM_FEATURE_DOTPROD)
#error "qs8-gemm-4x16c4-neondot.c needs -march=armv8.2-a+dotprod"
#endif

#define MR EDGERT_QS8_GEMM_4X16C4__NEONDOT_MR
#define NR 16
#define KR 4

/* 16 bytes of a row at p, n of them in the row (zeros after; their weights are 0 too). */
EDGERT_INLINE int8x16_t load_a16(const int8_t* p, size_t n) {
  if (n >= 16) return vld1q_s8(p);
  int8_t tmp[16] = {0};
  memcpy(tmp, p, n);
  return vld1q_s8(tmp);
}

EDGERT_INLINE void tile(size_t mr, size_t nv, size_t K, const int8_t* a, size_t lda,
                        const uint8_t* panel, const float* scales, int8_t* c, size_t ldc, size_t nc,
                        const qs8_neon_out* o) {
  int32x4_t acc[MR][4];
  const int32_t* bias = (const int32_t*)panel;
#pragma GCC unroll 4
  for (size_t r = 0; r < mr; r++)
#pragma GCC unroll 4
    for (size_t v = 0; v < nv; v++) acc[r][v] = vld1q_s32(bias + 4 * v);
  const int8_t* w = (const int8_t*)(panel + NR * sizeof(int32_t));
  const size_t groups = (K + KR - 1) / KR;
  size_t g = 0;
  for (; g + 4 <= groups; g += 4) {
    int8x16_t av[MR];
#pragma GCC unroll 4
    for (size_t r = 0; r < mr; r++) av[r] = load_a16(a + r * lda + g * KR, K - g * KR);
#define STEP(lane)                                                                            \
  {                                                                                           \
    for (size_t v = 0; v < nv; v++) {                                                         \
      const int8x16_t wv = vld1q_s8(w + v * 16);                                              \
      for (size_t r = 0; r < mr; r++) acc[r][v] = vdotq_laneq_s32(acc[r][v], wv, av[r], lane); \
    }                                                                                         \
    w += NR * KR;                                                                             \
  }
    STEP(0) STEP(1) STEP(2) STEP(3)
  }
  for (; g < groups; g++) { /* the last 1-3 groups of 4 k */
    int8x16_t av[MR];
#pragma GCC unroll 4
    for (size_t r = 0; r < mr; r++) av[r] = load_a16(a + r * lda + g * KR, edgert_min_sz(KR, K - g * KR));
    STEP(0)
  }
#undef STEP
#pragma GCC unroll 4
  for (size_t r = 0; r < mr; r++) {
#pragma GCC unroll 2
    for (size_t h = 0; h < (nv + 1) / 2; h++) {
      if (8 * h >= nc) break;
      float32x4_t s0, s1;
      qs8_neon_scales8(scales + 8 * h, nc - 8 * h, &s0, &s1);
      const int32x4_t a1 = 2 * h + 1 < nv ? acc[r][2 * h + 1] : acc[r][2 * h];
      const int8x8_t y = qs8_neon_narrow8(qs8_neon_requant4(acc[r][2 * h], s0, o), qs8_neon_requant4(a1, s1, o));
      qs8_neon_store8(c + r * ldc + 8 * h, y, nc - 8 * h);
    }
  }
}

void edgert_qs8_gemm_4x16c4__neondot(size_t M, size_t N, size_t K, const int8_t* A, size_t lda,
                                     const void* packed, const float* scales, int8_t* C,
                                     size_t ldc, const edgert_qs8_output_params* params) {
  const qs8_neon_out o = qs8_neon_out_make(params);
  const size_t panel_bytes = NR * sizeof(int32_t) + edgert_round_up(K, KR) * NR;
  for (size_t n0 = 0; n0 < N; n0 += NR) {
    const uint8_t* panel = (const uint8_t*)packed + n0 / NR * panel_bytes;
    const size_t nc = edgert_min_sz(NR, N - n0);
    const size_t nv = (nc + 3) / 4;
    for (size_t m0 = 0; m0 < M; m0 += MR) {
      const size_t mr = edgert_min_sz(MR, M - m0);
#define TILE(m, v) tile(m, v, K, A + m0 * lda, lda, panel, scales + n0, C + m0 * ldc + n0, ldc, nc, &o)
      if (nv > 2) {
        switch (mr) {
          case 4: TILE(4, 4); break;
          case 3: TILE(3, 4); break;
          case 2: TILE(2, 4); break;
          default: TILE(1, 4); break;
        }
      } else {
        switch (mr) {
          case 4: TILE(4, 2); break;
          case 3: TILE(3, 2); break;
          case 2: TILE(2, 2); break;
          default: TILE(1, 2); break;
        }
      }
#undef TILE
    }
  }
}
