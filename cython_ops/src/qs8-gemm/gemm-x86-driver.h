/* The outer loops shared by the x86 qs8 GEMMs, included at the end of each kernel file after
 * it defines MR, NR, KR, KC, B_BLOCK_BYTES, its tile() and
 *   GEMM_X86_NAME          the variant's function name
 *   GEMM_X86_ABUF_T        element type of its A row buffer (KC per row)
 *   GEMM_X86_WBYTES        bytes per packed weight (its layout's wbytes)
 *   GEMM_X86_PREPARE_ROWS  (mr, a, lda, k0, kc, abuf, stride): fills the buffer from A
 * and optionally
 *   GEMM_X86_IN_PLACE      (K, panels): nonzero where tile() reads A itself (in_place = 1)
 *                          instead of the prepared buffer; 0 when left undefined
 *   GEMM_X86_PAIR_TILE     (mr, in_place, K, a, lda, abuf, stride, panel, panel_bytes, scales,
 *                          c, ldc, nc, lo, hi, zp): computes two neighbouring panels at once
 *                          (nc > NR live columns); panels then go in pairs
 * Loop order: for each block of packed panels (sized to stay in L2), every MR-row block of A
 * walks across the block's panels; with K <= KC its rows are prepared once per block. */
#ifndef GEMM_X86_NAME
#error "define GEMM_X86_NAME, GEMM_X86_ABUF_T and GEMM_X86_PREPARE_ROWS first"
#endif
#ifndef GEMM_X86_IN_PLACE
#define GEMM_X86_IN_PLACE(K, panels) 0
#endif

/* Picks the specialised tile for mr <= MR (6 or 8) rows and nc columns; a panel with at most 8 live columns
 * (N = 24 is 16 + 8) only computes its first half. */
EDGERT_INLINE void row_tile(size_t mr, size_t nc, size_t K, const int8_t* a, size_t lda,
                            GEMM_X86_ABUF_T* abuf, size_t stride, const uint8_t* panel,
                            const float* scales, int8_t* c, size_t ldc, __m256 lo, __m256 hi,
                            __m256i zp, int in_place) {
#define TILE(m, n) tile(m, n, in_place, K, a, lda, abuf, stride, panel, scales, c, ldc, nc, lo, hi, zp)
  if (nc > 8 || in_place) { /* variants reading A in place use one register per row */
    switch (mr) {
#if MR >= 8
      case 8: TILE(8, 2); break;
      case 7: TILE(7, 2); break;
#endif
      case 6: TILE(6, 2); break;
      case 5: TILE(5, 2); break;
      case 4: TILE(4, 2); break;
      case 3: TILE(3, 2); break;
      case 2: TILE(2, 2); break;
      default: TILE(1, 2); break;
    }
  } else {
    switch (mr) {
#if MR >= 8
      case 8: TILE(8, 1); break;
      case 7: TILE(7, 1); break;
#endif
      case 6: TILE(6, 1); break;
      case 5: TILE(5, 1); break;
      case 4: TILE(4, 1); break;
      case 3: TILE(3, 1); break;
      case 2: TILE(2, 1); break;
      default: TILE(1, 1); break;
    }
  }
#undef TILE
}

void GEMM_X86_NAME(size_t M, size_t N, size_t K, const int8_t* A, size_t lda, const void* packed,
                   const float* scales, int8_t* C, size_t ldc, const edgert_qs8_output_params* params) {
  const __m256 lo = _mm256_set1_ps((float)(params->qmin - params->zero_point));
  const __m256 hi = _mm256_set1_ps((float)(params->qmax - params->zero_point));
  const __m256i zp = _mm256_set1_epi32(params->zero_point);
  const size_t kp = edgert_round_up(K, KR);
  const size_t panel_bytes = NR * sizeof(int32_t) + kp * NR * GEMM_X86_WBYTES;
  const size_t panels = edgert_divide_round_up(N, NR);
  const size_t block_panels = edgert_max_sz(1, B_BLOCK_BYTES / panel_bytes);
  const int in_place = GEMM_X86_IN_PLACE(K, panels);
  /* Row stride of the extended A: whole K when it fits, else one pass of KC. */
  const size_t stride = edgert_min_sz(kp, KC);
  GEMM_X86_ABUF_T abuf[MR * KC] __attribute__((aligned(64)));

  for (size_t p0 = 0; p0 < panels; p0 += block_panels) {
    const size_t p1 = edgert_min_sz(panels, p0 + block_panels);
    for (size_t m0 = 0; m0 < M; m0 += MR) {
      const size_t mr = edgert_min_sz(MR, M - m0);
      const int8_t* a = A + m0 * lda;
      if (K <= KC && !in_place) GEMM_X86_PREPARE_ROWS(mr, a, lda, 0, K, abuf, stride);
      size_t p = p0;
#ifdef GEMM_X86_PAIR_TILE
      for (; p + 1 < p1; p += 2)
        GEMM_X86_PAIR_TILE(mr, in_place, K, a, lda, abuf, stride, (const uint8_t*)packed + p * panel_bytes,
                           panel_bytes, scales + p * NR, C + m0 * ldc + p * NR, ldc,
                           edgert_min_sz(2 * NR, N - p * NR), lo, hi, zp);
#endif
      for (; p < p1; p++) {
        row_tile(mr, edgert_min_sz(NR, N - p * NR), K, a, lda, abuf, stride,
                 (const uint8_t*)packed + p * panel_bytes, scales + p * NR, C + m0 * ldc + p * NR,
                 ldc, lo, hi, zp, in_place);
      }
    }
  }
}
