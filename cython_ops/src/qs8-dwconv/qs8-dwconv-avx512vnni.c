/* qs8 depthwise convolutions with AVX512-VNNI, ROWQUADS packing (edgert/qs8-dwconv.h).
 *
 * Arithmetic: the bytes of four vertically neighbouring taps (rows ky..ky+3, same kx) are
 * interleaved per channel, so one 512-bit vpdpbusd adds four exact u8 x s8 products into each
 * of 16 channels' int32 lanes (a 3x3 window: 3 instructions per output and 16 channels; AVX2
 * needs 12 vpmaddwd + 12 vpaddd). vpdpbusd's first operand is unsigned: the input bytes are
 * offset by 128 (x ^ 0x80) as they are interleaved and the packing folds -128 * sum(w) into the
 * bias, so the sums equal the signed ones exactly. Rows of a quad past KH carry zero weights.
 *
 * Work order as the AVX2 kernels (dwconv-avx2-impl.h): per output row and 16-channel block the
 * input columns are interleaved once into an L1 buffer (64 bytes per quad and padded column,
 * the input zero point in the padding), then every output sums buffer entries times weight
 * quads without a bounds check. 3x3 stride 1 goes two output rows per pass: the quad of input
 * rows (r0, r1, r2, r3) gives row oy with weights (w0, w1, w2, 0) and row oy + 1 with
 * (0, w0, w1, w2), the same int32 lanes shifted left by 8 bits. Channel tails use masked loads
 * and stores, so every block runs the same bodies. */
#include <immintrin.h>
#include <string.h>

#include "../qs8-common/qs8-avx512.h"
#include "edgert/qs8-dwconv.h"

#if !defined(__AVX512VNNI__) || !defined(__AVX512BW__) || !defined(__AVX512VL__)
#error "qs8-dwconv-avx512vnni.c needs -mavx512vnni -mavx512bw -mavx512vl"
#endif

#define CB EDGERT_QS8_DWCONV_CBLOCK
#define QUAD_BYTES (4 * CB)
#define DW_BUFFER_BYTES (16 * 1024)

typedef struct {
  __m512 lo, hi; /* clamp bounds, minus the output zero point */
  __m512i out_zp;
  __m512i flip; /* 0x80 bytes: the unsigned offset */
  __m512i dword_transpose, byte_transpose; /* vnni_quad's index vectors */
} vnni_consts;

/* Rows of a quad of one input column, xmm lane t = tap row t, to the quad layout: a 4 x 4 dword
 * transpose across the lanes (lane L: every row's channels 4L..4L+3), a 4 x 4 byte transpose
 * within each lane (channel c's four rows side by side), then the unsigned offset. */
EDGERT_INLINE __m512i vnni_quad(__m512i rows, const vnni_consts* k) {
  const __m512i q = _mm512_shuffle_epi8(_mm512_permutexvar_epi32(k->dword_transpose, rows), k->byte_transpose);
  return _mm512_xor_si512(q, k->flip);
}

/* Interleaved, offset columns [j0, j1) of the tap rows rows[0..3] (channel offset applied;
 * NULL = padding or past the kernel) into buf; column j is input column j, zp outside [0, W).
 * full: all 16 channels live (plain loads); else masked loads of the live ones. */
EDGERT_INLINE void vnni_fill(uint8_t* buf, const int8_t* const rows[4], ptrdiff_t j0, ptrdiff_t j1,
                             size_t W, size_t C, __mmask16 live, const int8_t* zp_row,
                             const vnni_consts* k, const int full) {
  /* A padding row reads the zero-point bytes at zp_row for every column. */
  const int8_t* p[4];
  size_t step[4];
#pragma GCC unroll 4
  for (size_t t = 0; t < 4; t++) {
    p[t] = rows[t] ? rows[t] : zp_row;
    step[t] = rows[t] ? C : 0;
  }
  const __m512i pad = _mm512_xor_si512(_mm512_set1_epi8(zp_row[0]), k->flip);
  const ptrdiff_t in_lo = j0 < 0 ? 0 : j0;
  const ptrdiff_t in_hi = j1 > (ptrdiff_t)W ? (ptrdiff_t)W : j1;
  ptrdiff_t j = j0;
  for (; j < in_lo && j < j1; j++) _mm512_store_si512((void*)(buf + (size_t)(j - j0) * QUAD_BYTES), pad);
  for (; j < in_hi; j++) {
    __m128i x[4];
#pragma GCC unroll 4
    for (size_t t = 0; t < 4; t++) {
      const int8_t* src = p[t] + (size_t)j * step[t];
      x[t] = full ? _mm_loadu_si128((const __m128i*)src) : _mm_maskz_loadu_epi8(live, src);
    }
    __m512i z = _mm512_castsi128_si512(x[0]);
    z = _mm512_inserti32x4(z, x[1], 1);
    z = _mm512_inserti32x4(z, x[2], 2);
    z = _mm512_inserti32x4(z, x[3], 3);
    _mm512_store_si512((void*)(buf + (size_t)(j - j0) * QUAD_BYTES), vnni_quad(z, k));
  }
  for (; j < j1; j++) _mm512_store_si512((void*)(buf + (size_t)(j - j0) * QUAD_BYTES), pad);
}

/* 16 channels' outputs (the live ones) from their accumulators. */
EDGERT_INLINE void vnni_store(int8_t* out, __m512i acc, __m512 s, const vnni_consts* k,
                              __mmask16 live) {
  qs8_avx512_store16(out, qs8_avx512_requantize16(acc, s, k->lo, k->hi, k->out_zp), live);
}

EDGERT_INLINE __m512i vnni_column(const uint8_t* p) { return _mm512_loadu_si512((const void*)p); }

/* Outputs [0, n) of one row chunk from the buffer: quad r of buffer column j at
 * buf[(r*span + j) * QUAD_BYTES], the first output's tap 0 at column 0. */
EDGERT_INLINE void vnni_outputs(const uint8_t* buf, size_t span, const int8_t* w, __m512i bias,
                                size_t n, size_t nquads, size_t KW, size_t SW, size_t DW,
                                __m512 s, const vnni_consts* k, int8_t* out, size_t C,
                                __mmask16 live) {
  for (size_t o = 0; o < n; o++) {
    __m512i acc = bias;
#pragma GCC unroll 2
    for (size_t r = 0; r < nquads; r++) {
      const uint8_t* col = buf + (r * span + o * SW) * QUAD_BYTES;
      const int8_t* wr = w + r * KW * QUAD_BYTES;
#pragma GCC unroll 7
      for (size_t kx = 0; kx < KW; kx++)
        acc = _mm512_dpbusd_epi32(acc, vnni_column(col + kx * DW * QUAD_BYTES),
                                  _mm512_loadu_si512((const void*)(wr + kx * QUAD_BYTES)));
    }
    vnni_store(out + o * C, acc, s, k, live);
  }
}

/* vnni_outputs for a fixed K x K kernel at stride 1 (K <= 5, NQ quads, constants): weights and
 * the current window's columns stay in registers; each column is loaded once. */
EDGERT_INLINE void vnni_outputs_s1(const uint8_t* buf, size_t span, const int8_t* w, __m512i bias,
                                   size_t n, __m512 s, const vnni_consts* k, int8_t* out,
                                   size_t C, __mmask16 live, const size_t K, const size_t NQ) {
  __m512i wv[2][5], x[2][5];
#pragma GCC unroll 2
  for (size_t r = 0; r < NQ; r++)
#pragma GCC unroll 5
    for (size_t kx = 0; kx < K; kx++) {
      wv[r][kx] = _mm512_loadu_si512((const void*)(w + (r * K + kx) * QUAD_BYTES));
      if (kx + 1 < K) x[r][kx] = vnni_column(buf + (r * span + kx) * QUAD_BYTES);
    }
  for (size_t o = 0; o < n; o++) {
    __m512i acc = bias;
#pragma GCC unroll 2
    for (size_t r = 0; r < NQ; r++) {
      x[r][K - 1] = vnni_column(buf + (r * span + o + K - 1) * QUAD_BYTES);
#pragma GCC unroll 5
      for (size_t kx = 0; kx < K; kx++) acc = _mm512_dpbusd_epi32(acc, x[r][kx], wv[r][kx]);
#pragma GCC unroll 5
      for (size_t kx = 0; kx + 1 < K; kx++) x[r][kx] = x[r][kx + 1];
    }
    vnni_store(out + o * C, acc, s, k, live);
  }
}

/* 3x3 stride 1, output rows oy and oy + 1 from one quad of input rows (see the file comment). */
EDGERT_INLINE void vnni_outputs_3x3s1_2rows(const uint8_t* buf, const int8_t* w, __m512i bias,
                                            size_t n, __m512 s, const vnni_consts* k,
                                            int8_t* out0, int8_t* out1, size_t C, __mmask16 live) {
  __m512i w0[3], w1[3];
#pragma GCC unroll 3
  for (size_t kx = 0; kx < 3; kx++) {
    w0[kx] = _mm512_loadu_si512((const void*)(w + kx * QUAD_BYTES));
    w1[kx] = _mm512_slli_epi32(w0[kx], 8);
  }
  __m512i x0 = vnni_column(buf), x1 = vnni_column(buf + QUAD_BYTES);
  for (size_t o = 0; o < n; o++) {
    const __m512i x2 = vnni_column(buf + (o + 2) * QUAD_BYTES);
    __m512i acc0 = _mm512_dpbusd_epi32(bias, x0, w0[0]);
    __m512i acc1 = _mm512_dpbusd_epi32(bias, x0, w1[0]);
    acc0 = _mm512_dpbusd_epi32(acc0, x1, w0[1]);
    acc1 = _mm512_dpbusd_epi32(acc1, x1, w1[1]);
    acc0 = _mm512_dpbusd_epi32(acc0, x2, w0[2]);
    acc1 = _mm512_dpbusd_epi32(acc1, x2, w1[2]);
    vnni_store(out0 + o * C, acc0, s, k, live);
    vnni_store(out1 + o * C, acc1, s, k, live);
    x0 = x1;
    x1 = x2;
  }
}

/* Rows [oy0, oy1). fixed=1: K x K kernel, stride S, dilation 1, compile-time constants;
 * fixed=0: everything from args. */
EDGERT_INLINE void vnni_rows(const edgert_qs8_dwconv_args* a, size_t oy0, size_t oy1,
                             const int fixed, const size_t K, const size_t S) {
  const size_t KH = fixed ? K : a->KH, KW = fixed ? K : a->KW;
  const size_t SH = fixed ? S : a->SH, SW = fixed ? S : a->SW;
  const size_t DH = fixed ? 1 : a->DH, DW = fixed ? 1 : a->DW;
  const size_t W = a->W, C = a->C, OW = a->OW;
  const size_t nquads = (KH + 3) / 4;
  const size_t block_bytes = CB * sizeof(int32_t) + nquads * KW * QUAD_BYTES;
  vnni_consts k;
  k.lo = _mm512_set1_ps((float)(a->out.qmin - a->out.zero_point));
  k.hi = _mm512_set1_ps((float)(a->out.qmax - a->out.zero_point));
  k.out_zp = _mm512_set1_epi32(a->out.zero_point);
  k.flip = _mm512_set1_epi8((char)0x80);
  k.dword_transpose = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  k.byte_transpose = _mm512_broadcast_i32x4(
      _mm_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15));
  int8_t zp_row[CB];
  memset(zp_row, (int)(int8_t)a->input_zero_point, sizeof(zp_row));
  /* Outputs per chunk: their columns for every quad fit the buffer (a kernel whose single window
   * exceeds it gets a buffer of one window). */
  const size_t reach = (KW - 1) * DW + 1;
  const size_t capacity = edgert_max_sz(DW_BUFFER_BYTES / QUAD_BYTES, nquads * reach);
  uint8_t buf[capacity * QUAD_BYTES] __attribute__((aligned(64)));
  const size_t columns = capacity / nquads;
  const size_t chunk = (columns - reach) / SW + 1;
  const int two_rows = fixed && K == 3 && S == 1;
  for (size_t oy = oy0; oy < oy1; oy++) {
    const ptrdiff_t iy0 = (ptrdiff_t)(oy * SH) - (ptrdiff_t)a->pad_top;
    const int pair = two_rows && oy + 1 < oy1;
    /* The 2-row pass reads the quad rows iy0..iy0+3 (all four live); otherwise quad r holds
     * kernel rows 4r..4r+3 (rows past KH read as padding). */
    const size_t rows_used = pair ? 4 : KH;
    int8_t* out_row = a->output + oy * OW * C;
    for (size_t c = 0; c < C; c += CB) {
      const size_t lanes = edgert_min_sz(CB, C - c);
      const __mmask16 live = (__mmask16)((1u << lanes) - 1);
      const uint8_t* block = (const uint8_t*)a->packed + c / CB * block_bytes;
      const int8_t* w = (const int8_t*)(block + CB * sizeof(int32_t));
      const __m512i bias = _mm512_loadu_si512((const void*)block);
      const __m512 s = _mm512_maskz_loadu_ps(live, a->scales + c);
      for (size_t ox0 = 0; ox0 < OW; ox0 += chunk) {
        const size_t n = edgert_min_sz(chunk, OW - ox0);
        const size_t span = (n - 1) * SW + reach;
        const ptrdiff_t j0 = (ptrdiff_t)(ox0 * SW) - (ptrdiff_t)a->pad_left;
        for (size_t r = 0; r < nquads; r++) {
          const int8_t* rows[4];
          for (size_t t = 0; t < 4; t++) {
            const size_t ky = 4 * r + t;
            const ptrdiff_t iy = iy0 + (ptrdiff_t)(ky * DH);
            rows[t] = ky < rows_used && iy >= 0 && iy < (ptrdiff_t)a->H
                          ? a->input + (size_t)iy * W * C + c : NULL;
          }
          uint8_t* dst = buf + r * span * QUAD_BYTES;
          if (lanes == CB) vnni_fill(dst, rows, j0, j0 + (ptrdiff_t)span, W, C, live, zp_row, &k, 1);
          else vnni_fill(dst, rows, j0, j0 + (ptrdiff_t)span, W, C, live, zp_row, &k, 0);
        }
        int8_t* out = out_row + ox0 * C + c;
        if (pair)
          vnni_outputs_3x3s1_2rows(buf, w, bias, n, s, &k, out, out + OW * C, C, live);
        else if (fixed && S == 1 && K <= 5)
          vnni_outputs_s1(buf, span, w, bias, n, s, &k, out, C, live, K, (K + 3) / 4);
        else
          vnni_outputs(buf, span, w, bias, n, nquads, KW, SW, DW, s, &k, out, C, live);
      }
    }
    if (pair) oy++;
  }
}

void edgert_qs8_dwconv__avx512vnni(const edgert_qs8_dwconv_args* args, size_t oy0, size_t oy1) {
  vnni_rows(args, oy0, oy1, 0, 0, 0);
}

#define FIXED(k, stride)                                                                      \
  void edgert_qs8_dwconv_##k##x##k##s##stride##__avx512vnni(const edgert_qs8_dwconv_args* args, \
                                                            size_t oy0, size_t oy1) {         \
    vnni_rows(args, oy0, oy1, 1, k, stride);                                                  \
  }
FIXED(3, 1)
FIXED(3, 2)
FIXED(5, 1)
FIXED(5, 2)
FIXED(7, 1)
FIXED(7, 2)
