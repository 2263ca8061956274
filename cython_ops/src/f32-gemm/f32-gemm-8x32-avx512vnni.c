/* f32 GEMM with 512-bit FMAs for CPUs with AVX-512 (built and dispatched with the AVX512-VNNI
 * group; only AVX512F is used). The packing is the AVX2 variant's (panels of NR = 16 columns),
 * so one zmm holds a panel row and a tile takes two neighbouring panels: 8 rows x 32 columns,
 * 16 accumulators, enough independent FMA chains for two 512-bit FMA ports at a 4-cycle latency
 * (a 6 x 16 tile of 6 zmm accumulators would leave them half idle).
 *
 * Every output lane sums bias + A[m, k] * B[k, n] over k in order with one FMA per k (or, for
 * tiles of at most 3 rows, in KS interleaved partial sums added at the end, KS chosen from the
 * row count alone), so a column's result does not depend on whether its panel was paired or on
 * how the operator split the panels across threads. */
#include <immintrin.h>

#include "edgert/f32-gemm.h"

#if !defined(__AVX512F__)
#error "f32-gemm-8x32-avx512vnni.c needs -mavx512f"
#endif

#define MR EDGERT_F32_GEMM_8X32__AVX512_MR
#define NR EDGERT_F32_GEMM_8X32__AVX512_NR

/* Blocks of packed panels sized to stay in L2, as the AVX2 variant. */
#define B_BLOCK_BYTES (128 * 1024)

EDGERT_INLINE __mmask16 lanes(size_t n) { return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1); }

/* acc[r][j] += A[r, k] * (row k of panel j) for mr rows and np panels. */
EDGERT_INLINE void k_step(size_t mr, size_t np, const float* a, size_t lda, size_t k, const float* w,
                          size_t panel_floats, __m512 acc[MR][2]) {
  __m512 b[2];
#pragma GCC unroll 2
  for (size_t j = 0; j < np; j++) b[j] = _mm512_loadu_ps(w + j * panel_floats);
#pragma GCC unroll 8
  for (size_t r = 0; r < mr; r++) {
    const __m512 ak = _mm512_set1_ps(a[r * lda + k]);
#pragma GCC unroll 2
    for (size_t j = 0; j < np; j++) acc[r][j] = _mm512_fmadd_ps(ak, b[j], acc[r][j]);
  }
}

/* mr rows x np (1 or 2) panels of NR columns, nc live columns in all, KS partial sums. */
EDGERT_INLINE void tile(size_t mr, size_t np, size_t ks, size_t K, const float* a, size_t lda,
                        const float* w, size_t panel_floats, float* c, size_t ldc, size_t nc,
                        __m512 vmin, __m512 vmax) {
  __m512 acc[3][MR][2];
#pragma GCC unroll 3
  for (size_t s = 0; s < ks; s++)
#pragma GCC unroll 8
    for (size_t r = 0; r < mr; r++)
#pragma GCC unroll 2
      for (size_t j = 0; j < np; j++)
        acc[s][r][j] = s == 0 ? _mm512_loadu_ps(w + j * panel_floats) : _mm512_setzero_ps(); /* bias */
  w += NR;
  size_t k = 0;
  for (; k + ks <= K; k += ks)
#pragma GCC unroll 3
    for (size_t s = 0; s < ks; s++, w += NR) k_step(mr, np, a, lda, k + s, w, panel_floats, acc[s]);
  for (; k < K; k++, w += NR) k_step(mr, np, a, lda, k, w, panel_floats, acc[0]);
#pragma GCC unroll 8
  for (size_t r = 0; r < mr; r++)
#pragma GCC unroll 2
    for (size_t j = 0; j < np; j++) {
      __m512 sum = acc[0][r][j];
#pragma GCC unroll 3
      for (size_t s = 1; s < ks; s++) sum = _mm512_add_ps(sum, acc[s][r][j]);
      sum = _mm512_min_ps(_mm512_max_ps(sum, vmin), vmax);
      const size_t live = nc > j * NR ? nc - j * NR : 0;
      if (live >= NR) _mm512_storeu_ps(c + r * ldc + j * NR, sum);
      else _mm512_mask_storeu_ps(c + r * ldc + j * NR, lanes(live), sum);
    }
}

/* Partial sums per row count: few rows have too few accumulators to cover the FMA latency. */
#define KS(m) ((m) >= 4 ? 1 : (m) == 1 ? 3 : 2)

EDGERT_INLINE void row_tile(size_t mr, size_t np, size_t K, const float* a, size_t lda, const float* w,
                            size_t panel_floats, float* c, size_t ldc, size_t nc, __m512 vmin, __m512 vmax) {
#define T(m, p) tile(m, p, KS(m), K, a, lda, w, panel_floats, c, ldc, nc, vmin, vmax)
#define ROWS(p)                  \
  switch (mr) {                  \
    case 8: T(8, p); break;      \
    case 7: T(7, p); break;      \
    case 6: T(6, p); break;      \
    case 5: T(5, p); break;      \
    case 4: T(4, p); break;      \
    case 3: T(3, p); break;      \
    case 2: T(2, p); break;      \
    default: T(1, p); break;     \
  }
  if (np == 2) {
    ROWS(2)
  } else {
    ROWS(1)
  }
#undef ROWS
#undef T
}

void edgert_f32_gemm_8x32__avx512vnni(size_t M, size_t N, size_t K, const float* A, size_t lda,
                                      const float* packed, float* C, size_t ldc,
                                      const edgert_f32_minmax_params* params) {
  const __m512 vmin = _mm512_set1_ps(params->min);
  const __m512 vmax = _mm512_set1_ps(params->max);
  const size_t panel_floats = NR + K * NR;
  const size_t panels = edgert_divide_round_up(N, NR);
  const size_t block_panels = edgert_max_sz(2, B_BLOCK_BYTES / (panel_floats * sizeof(float)));
  for (size_t p0 = 0; p0 < panels; p0 += block_panels) {
    const size_t p1 = edgert_min_sz(panels, p0 + block_panels);
    for (size_t m0 = 0; m0 < M; m0 += MR) {
      const size_t mr = edgert_min_sz(MR, M - m0);
      for (size_t p = p0; p < p1; p += 2) {
        const size_t np = p + 1 < p1 ? 2 : 1;
        row_tile(mr, np, K, A + m0 * lda, lda, packed + p * panel_floats, panel_floats, C + m0 * ldc + p * NR,
                 ldc, edgert_min_sz(np * NR, N - p * NR), vmin, vmax);
      }
    }
  }
}
