#include <immintrin.h>

#include "edgert/f32-gemm.h"

#define MR EDGERT_F32_GEMM_6X16__AVX2_MR
#define NR EDGERT_F32_GEMM_6X16__AVX2_NR

/* Loop order: for each block of packed panels (sized to stay in L2, edge L2s being 256 KB and
 * up), every MR-row block of A (which stays in L1) walks across the block's panels. */
#define B_BLOCK_BYTES (128 * 1024)

/* Stores the first nc (< NR allowed) lanes of lo:hi without touching the rest of the row. */
EDGERT_INLINE void store_row(float* c, __m256 lo, __m256 hi, size_t nc) {
  if (nc >= NR) {
    _mm256_storeu_ps(c, lo);
    _mm256_storeu_ps(c + 8, hi);
    return;
  }
  if (nc & 8) {
    _mm256_storeu_ps(c, lo);
    lo = hi;
    c += 8;
  }
  __m128 x = _mm256_castps256_ps128(lo);
  if (nc & 4) {
    _mm_storeu_ps(c, x);
    x = _mm256_extractf128_ps(lo, 1);
    c += 4;
  }
  if (nc & 2) {
    _mm_storel_pi((__m64*)c, x);
    x = _mm_movehl_ps(x, x);
    c += 2;
  }
  if (nc & 1) _mm_store_ss(c, x);
}

/* One mr x (8*nv) tile over the whole K. Inlined with constant mr/nv/ks so every loop below
 * unrolls and the accumulators live in registers.
 * ks > 1 splits K over independent accumulator sets: with few rows there are too few
 * accumulators to hide the 4-cycle FMA latency on two FMA ports. */
EDGERT_INLINE void tile(size_t mr, size_t nv, size_t ks, size_t K, const float* a, size_t lda,
                        const float* w, float* c, size_t ldc, size_t nc, __m256 vmin,
                        __m256 vmax) {
  const float* ar[MR];
#pragma GCC unroll 6
  for (size_t r = 0; r < mr; r++) ar[r] = a + r * lda;

  __m256 acc[4][MR][2];
#pragma GCC unroll 4
  for (size_t s = 0; s < ks; s++) {
#pragma GCC unroll 6
    for (size_t r = 0; r < mr; r++) {
#pragma GCC unroll 2
      for (size_t v = 0; v < nv; v++) {
        acc[s][r][v] = s == 0 ? _mm256_loadu_ps(w + 8 * v) : _mm256_setzero_ps(); /* bias */
      }
    }
  }
  w += NR;

  size_t k = 0;
  for (; k + ks <= K; k += ks) {
#pragma GCC unroll 4
    for (size_t s = 0; s < ks; s++) {
      __m256 b[2];
#pragma GCC unroll 2
      for (size_t v = 0; v < nv; v++) b[v] = _mm256_loadu_ps(w + 8 * v);
      w += NR;
#pragma GCC unroll 6
      for (size_t r = 0; r < mr; r++) {
        const __m256 ak = _mm256_broadcast_ss(ar[r] + k + s);
#pragma GCC unroll 2
        for (size_t v = 0; v < nv; v++) acc[s][r][v] = _mm256_fmadd_ps(ak, b[v], acc[s][r][v]);
      }
    }
  }
  for (; k < K; k++) {
    __m256 b[2];
#pragma GCC unroll 2
    for (size_t v = 0; v < nv; v++) b[v] = _mm256_loadu_ps(w + 8 * v);
    w += NR;
#pragma GCC unroll 6
    for (size_t r = 0; r < mr; r++) {
      const __m256 ak = _mm256_broadcast_ss(ar[r] + k);
#pragma GCC unroll 2
      for (size_t v = 0; v < nv; v++) acc[0][r][v] = _mm256_fmadd_ps(ak, b[v], acc[0][r][v]);
    }
  }

#pragma GCC unroll 6
  for (size_t r = 0; r < mr; r++) {
    __m256 out[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
#pragma GCC unroll 2
    for (size_t v = 0; v < nv; v++) {
      __m256 sum = acc[0][r][v];
#pragma GCC unroll 4
      for (size_t s = 1; s < ks; s++) sum = _mm256_add_ps(sum, acc[s][r][v]);
      out[v] = _mm256_min_ps(_mm256_max_ps(sum, vmin), vmax);
    }
    store_row(c + r * ldc, out[0], out[1], nc);
  }
}

/* Picks the specialised tile for mr rows and nc columns. A last panel with at most 8 live
 * columns (N = 24 is 16 + 8) only computes its first half. */
EDGERT_INLINE void row_tile(size_t mr, size_t nc, size_t K, const float* a, size_t lda,
                            const float* w, float* c, size_t ldc, __m256 vmin, __m256 vmax) {
  if (nc > 8) {
    switch (mr) {
      case 6: tile(6, 2, 1, K, a, lda, w, c, ldc, nc, vmin, vmax); break;
      case 5: tile(5, 2, 1, K, a, lda, w, c, ldc, nc, vmin, vmax); break;
      case 4: tile(4, 2, 1, K, a, lda, w, c, ldc, nc, vmin, vmax); break;
      case 3: tile(3, 2, 2, K, a, lda, w, c, ldc, nc, vmin, vmax); break;
      case 2: tile(2, 2, 2, K, a, lda, w, c, ldc, nc, vmin, vmax); break;
      default: tile(1, 2, 4, K, a, lda, w, c, ldc, nc, vmin, vmax); break;
    }
  } else {
    switch (mr) {
      case 6: tile(6, 1, 2, K, a, lda, w, c, ldc, nc, vmin, vmax); break;
      case 5: tile(5, 1, 2, K, a, lda, w, c, ldc, nc, vmin, vmax); break;
      case 4: tile(4, 1, 2, K, a, lda, w, c, ldc, nc, vmin, vmax); break;
      case 3: tile(3, 1, 2, K, a, lda, w, c, ldc, nc, vmin, vmax); break;
      case 2: tile(2, 1, 4, K, a, lda, w, c, ldc, nc, vmin, vmax); break;
      default: tile(1, 1, 4, K, a, lda, w, c, ldc, nc, vmin, vmax); break;
    }
  }
}

void edgert_f32_gemm_6x16__avx2(size_t M, size_t N, size_t K, const float* A, size_t lda,
                                const float* packed, float* C, size_t ldc,
                                const edgert_f32_minmax_params* params) {
  const __m256 vmin = _mm256_set1_ps(params->min);
  const __m256 vmax = _mm256_set1_ps(params->max);
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
