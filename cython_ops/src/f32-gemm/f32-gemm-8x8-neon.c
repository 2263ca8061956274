#include <arm_neon.h>

#include "edgert/f32-gemm.h"

#define MR EDGERT_F32_GEMM_8X8__NEON_MR
#define NR EDGERT_F32_GEMM_8X8__NEON_NR

/* Loop order: for each block of packed panels (sized to stay in L2, edge L2s being 256 KB and
 * up), every MR-row block of A (which stays in L1) walks across the block's panels. */
#define B_BLOCK_BYTES (128 * 1024)

/* Stores the first nc (< NR allowed) lanes of lo:hi without touching the rest of the row. */
EDGERT_INLINE void store_row(float* c, float32x4_t lo, float32x4_t hi, size_t nc) {
  if (nc >= NR) {
    vst1q_f32(c, lo);
    vst1q_f32(c + 4, hi);
    return;
  }
  if (nc & 4) {
    vst1q_f32(c, lo);
    lo = hi;
    c += 4;
  }
  float32x2_t x = vget_low_f32(lo);
  if (nc & 2) {
    vst1_f32(c, x);
    x = vget_high_f32(lo);
    c += 2;
  }
  if (nc & 1) vst1_lane_f32(c, x, 0);
}

/* One mr x (4*nv) tile over the whole K. Inlined with constant mr/nv/ks so every loop below
 * unrolls and the accumulators live in registers (8x8 uses 16 accumulators, 8 A and 2 B
 * registers of the 32).
 * The main loop reads 4 k of each A row with one load and multiplies by lane (FMLA by element),
 * so A costs a quarter of a load per row per k.
 * ks > 1 splits K over independent accumulator sets: with few rows there are too few
 * accumulators to hide the FMA latency. */
EDGERT_INLINE void tile(size_t mr, size_t nv, size_t ks, size_t K, const float* a, size_t lda,
                        const float* w, float* c, size_t ldc, size_t nc, float32x4_t vmin,
                        float32x4_t vmax) {
  const float* ar[MR];
#pragma GCC unroll 8
  for (size_t r = 0; r < mr; r++) ar[r] = a + r * lda;

  float32x4_t acc[4][MR][2];
#pragma GCC unroll 4
  for (size_t s = 0; s < ks; s++) {
#pragma GCC unroll 8
    for (size_t r = 0; r < mr; r++) {
#pragma GCC unroll 2
      for (size_t v = 0; v < nv; v++) {
        acc[s][r][v] = s == 0 ? vld1q_f32(w + 4 * v) : vdupq_n_f32(0.0f); /* bias */
      }
    }
  }
  w += NR;

  size_t k = 0;
  for (; k + 4 <= K; k += 4) {
    float32x4_t a4[MR];
#pragma GCC unroll 8
    for (size_t r = 0; r < mr; r++) a4[r] = vld1q_f32(ar[r] + k);
#pragma GCC unroll 4
    for (size_t lane = 0; lane < 4; lane++) {
      float32x4_t b[2];
#pragma GCC unroll 2
      for (size_t v = 0; v < nv; v++) b[v] = vld1q_f32(w + 4 * v);
      w += NR;
      const size_t s = lane % ks;
#pragma GCC unroll 8
      for (size_t r = 0; r < mr; r++) {
#pragma GCC unroll 2
        for (size_t v = 0; v < nv; v++) {
          acc[s][r][v] = vfmaq_laneq_f32(acc[s][r][v], b[v], a4[r], lane);
        }
      }
    }
  }
  for (; k < K; k++) {
    float32x4_t b[2];
#pragma GCC unroll 2
    for (size_t v = 0; v < nv; v++) b[v] = vld1q_f32(w + 4 * v);
    w += NR;
#pragma GCC unroll 8
    for (size_t r = 0; r < mr; r++) {
      const float32x4_t ak = vld1q_dup_f32(ar[r] + k);
#pragma GCC unroll 2
      for (size_t v = 0; v < nv; v++) acc[0][r][v] = vfmaq_f32(acc[0][r][v], ak, b[v]);
    }
  }

#pragma GCC unroll 8
  for (size_t r = 0; r < mr; r++) {
    float32x4_t out[2] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)};
#pragma GCC unroll 2
    for (size_t v = 0; v < nv; v++) {
      float32x4_t sum = acc[0][r][v];
#pragma GCC unroll 4
      for (size_t s = 1; s < ks; s++) sum = vaddq_f32(sum, acc[s][r][v]);
      out[v] = vminq_f32(vmaxq_f32(sum, vmin), vmax);
    }
    store_row(c + r * ldc, out[0], out[1], nc);
  }
}

/* Picks the specialised tile for mr rows and nc columns. A last panel with at most 4 live
 * columns only computes its first half. */
EDGERT_INLINE void row_tile(size_t mr, size_t nc, size_t K, const float* a, size_t lda,
                            const float* w, float* c, size_t ldc, float32x4_t vmin,
                            float32x4_t vmax) {
  if (nc > 4) {
    switch (mr) {
      case 8: tile(8, 2, 1, K, a, lda, w, c, ldc, nc, vmin, vmax); break;
      case 7: tile(7, 2, 1, K, a, lda, w, c, ldc, nc, vmin, vmax); break;
      case 6: tile(6, 2, 1, K, a, lda, w, c, ldc, nc, vmin, vmax); break;
      case 5: tile(5, 2, 1, K, a, lda, w, c, ldc, nc, vmin, vmax); break;
      case 4: tile(4, 2, 2, K, a, lda, w, c, ldc, nc, vmin, vmax); break;
      case 3: tile(3, 2, 2, K, a, lda, w, c, ldc, nc, vmin, vmax); break;
      case 2: tile(2, 2, 4, K, a, lda, w, c, ldc, nc, vmin, vmax); break;
      default: tile(1, 2, 4, K, a, lda, w, c, ldc, nc, vmin, vmax); break;
    }
  } else {
    switch (mr) {
      case 8: tile(8, 1, 2, K, a, lda, w, c, ldc, nc, vmin, vmax); break;
      case 7: tile(7, 1, 2, K, a, lda, w, c, ldc, nc, vmin, vmax); break;
      case 6: tile(6, 1, 2, K, a, lda, w, c, ldc, nc, vmin, vmax); break;
      case 5: tile(5, 1, 2, K, a, lda, w, c, ldc, nc, vmin, vmax); break;
      case 4: tile(4, 1, 2, K, a, lda, w, c, ldc, nc, vmin, vmax); break;
      case 3: tile(3, 1, 4, K, a, lda, w, c, ldc, nc, vmin, vmax); break;
      case 2: tile(2, 1, 4, K, a, lda, w, c, ldc, nc, vmin, vmax); break;
      default: tile(1, 1, 4, K, a, lda, w, c, ldc, nc, vmin, vmax); break;
    }
  }
}

void edgert_f32_gemm_8x8__neon(size_t M, size_t N, size_t K, const float* A, size_t lda,
                               const float* packed, float* C, size_t ldc,
                               const edgert_f32_minmax_params* params) {
  const float32x4_t vmin = vdupq_n_f32(params->min);
  const float32x4_t vmax = vdupq_n_f32(params->max);
  const size_t panel_floats = NR + K * NR;
  const size_t panels = edgert_divide_round_up(N, NR);
  const size_t block_panels = edgert_max_sz(1, B_BLOCK_BYTES / (panel_floats * sizeof(float)));

  for (size_t p0 = 0; p0 < panels; p0 += block_panels) {
    const size_t p1 = edgert_min_sz(panels, p0 + block_panels);
    for (size_t m0 = 0; m0 < M; m0 += MR) {
      const size_t mr = edgert_min_sz(MR, M - m0);
      for (size_t p = p0; p < p1; p++) {
        row_tile(mr, edgert_min_sz(NR, N - p * NR), K, A + m0 * lda, lda, packed + p * panel_floats,
                 C + m0 * ldc + p * NR, ldc, vmin, vmax);
      }
    }
  }
}
