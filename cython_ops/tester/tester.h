/* Tiny shared helpers for the kernel testers (one executable per kernel family).
 *
 * Every tester: takes an optional seed as argv[1] (else time-based), PRINTS the seed,
 * runs each compiled variant against the scalar reference on random shapes and exits
 * non-zero on the first mismatch with the shape and seed needed to reproduce it.
 */
#ifndef EDGERT_TESTER_H
#define EDGERT_TESTER_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "edgert/common.h"
#include "edgert/cpu.h"
#include "edgert/qs8-requant.h"

static uint64_t tester_rng_state = 0x9E3779B97F4A7C15ull;

static inline uint64_t tester_next(void) {  /* splitmix64 */
  uint64_t z = (tester_rng_state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* Uniform integer in [lo, hi]. */
static inline size_t tester_range(size_t lo, size_t hi) {
  return lo + (size_t)(tester_next() % (uint64_t)(hi - lo + 1));
}

/* Uniform float in [lo, hi). */
static inline float tester_uniform(float lo, float hi) {
  return lo + (hi - lo) * (float)((tester_next() >> 40) * (1.0 / 16777216.0));
}

static inline void tester_fill(float* p, size_t n, float lo, float hi) {
  for (size_t i = 0; i < n; i++) p[i] = tester_uniform(lo, hi);
}

static inline uint64_t tester_init(int argc, char** argv, const char* family) {
  uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 0) : (uint64_t)time(NULL);
  tester_rng_state = seed;
  printf("[%s] seed=%llu (rerun with: %s %llu)\n", family, (unsigned long long)seed, argv[0],
         (unsigned long long)seed);
  return seed;
}

/* Max |a-b| relative to max(|ref|, 1). Returns 1 and prints when above tol. */
static inline int tester_check_f32(const char* what, const float* ref, const float* got, size_t n,
                                   float tol) {
  float max_ref = 1.0f, max_err = 0.0f;
  size_t worst = 0;
  for (size_t i = 0; i < n; i++) {
    if (fabsf(ref[i]) > max_ref) max_ref = fabsf(ref[i]);
  }
  for (size_t i = 0; i < n; i++) {
    float e = fabsf(ref[i] - got[i]);
    if (!(e <= max_err)) { max_err = e; worst = i; }  /* NaN counts as worst */
  }
  if (!(max_err <= tol * max_ref)) {
    printf("FAIL %s: max err %g at %zu (ref %g got %g), tol %g x %g\n", what, max_err, worst,
           ref[worst], got[worst], tol, max_ref);
    return 1;
  }
  return 0;
}

/* tester_check_f32 with the label "who [what]": who ran (a variant, "scalar vs naive"), what
 * case. */
static inline int tester_check_case(const char* who, const char* what, const float* ref,
                                    const float* got, size_t n, float tol) {
  char label[512];
  snprintf(label, sizeof(label), "%s [%s]", who, what);
  return tester_check_f32(label, ref, got, n, tol);
}

/* ---- Arguments and variants ----------------------------------------------------------- */

/* Removes every `flag` from argv, wherever it stands, and returns whether there was one: the
 * first remaining argument is then the seed for tester_init. */
static inline int tester_take_flag(int* argc, char** argv, const char* flag) {
  int found = 0, kept = 1;
  for (int i = 1; i < *argc; i++) {
    if (strcmp(argv[i], flag) == 0) {
      found = 1;
    } else {
      argv[kept++] = argv[i];
    }
  }
  argv[kept] = NULL;
  *argc = kept;
  return found;
}

/* tester_init for a tester with a benchmark mode: "--bench" may stand anywhere in argv.
 * Returns whether it does. */
static inline int tester_init_bench(int argc, char** argv, const char* family) {
  const int bench = tester_take_flag(&argc, argv, "--bench");
  tester_init(argc, argv, family);
  return bench;
}

/* Whether this CPU runs the SIMD variants compiled here (AVX2+FMA on x86-64, NEON on aarch64);
 * EDGERT_KERNELS=scalar turns them off. */
static inline int tester_simd_available(void) {
  const edgert_cpu_features* f = edgert_cpu();
  return EDGERT_ARCH_X86_64 ? f->avx2_fma : f->neon;
}

static inline int tester_always(void) { return 1; }

/* The AVX512-VNNI variants (x86-64) run only where the CPU and OS have them. */
static inline int tester_has_avx512_vnni(void) { return edgert_cpu()->avx512_vnni; }

/* The SIMD variants of a family compiled here, for a variant table that starts with the scalar
 * spec: {VARIANT(scalar, tester_always), TESTER_SIMD_VARIANTS(VARIANT)} with a tester's own
 * VARIANT(arch, available) macro; available is a function telling whether the variant runs. */
#if EDGERT_ARCH_X86_64
#define TESTER_SIMD_VARIANTS(VARIANT) VARIANT(avx2, tester_simd_available),
#elif EDGERT_ARCH_ARM64
#define TESTER_SIMD_VARIANTS(VARIANT) VARIANT(neon, tester_simd_available),
#else
#define TESTER_SIMD_VARIANTS(VARIANT)
#endif

#define TESTER_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Prints whether a variant runs here and returns it. */
static inline int tester_report_variant(const char* name, int (*available)(void)) {
  const int runs = available();
  printf("variant %-7s %s\n", name,
         runs ? "runs" : "skipped (CPU lacks it, or EDGERT_KERNELS=scalar)");
  return runs;
}

/* Elementwise shapes of variant v: check(v, op, n) for every op < num_ops and every n = 0..70
 * (every tail of every unroll), then 4 large random n. Returns the failures; *shapes counts the
 * checks. */
static inline int tester_elementwise_shapes(int (*check)(size_t v, int op, size_t n), size_t v,
                                            int num_ops, size_t* shapes) {
  int failures = 0;
  for (int op = 0; op < num_ops; op++) {
    for (size_t n = 0; n <= 70; n++, (*shapes)++) failures += check(v, op, n);
    for (int k = 0; k < 4; k++, (*shapes)++) failures += check(v, op, tester_range(71, 5000));
  }
  return failures;
}

/* ---- Buffers ---------------------------------------------------------------------------- */

/* n floats in an exact-size heap block (1 byte for n == 0), so that under EDGERT_SANITIZE=1
 * ASan flags any access past the end. Exits on out of memory. */
static inline float* tester_alloc_floats(size_t n) {
  float* p = malloc(n ? n * sizeof(float) : 1);
  if (p == NULL) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  return p;
}

static inline float* tester_copy_floats(const float* src, size_t n) {
  float* p = tester_alloc_floats(n);
  if (n) memcpy(p, src, n * sizeof(float));
  return p;
}

/* For benchmarks: 64-byte aligned (size rounded up to 64 bytes) like the runtime's arena and
 * packed weights; misaligned rows split cache lines and slow SIMD kernels down. */
static inline float* tester_alloc_aligned_floats(size_t n) {
  float* p = aligned_alloc(64, edgert_round_up(n * sizeof(float), 64));
  if (p == NULL) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  return p;
}

static inline void tester_set(float* p, size_t n, float value) {
  for (size_t i = 0; i < n; i++) p[i] = value;
}

/* Guards: outputs get TESTER_GUARD_FLOATS sentinels after their end (and in any gaps between
 * rows); a sentinel that changed means a kernel wrote outside its output. */
#define TESTER_GUARD_FLOATS 64
#define TESTER_SENTINEL (-12345.5f)

static inline void tester_set_sentinel(float* p, size_t n) { tester_set(p, n, TESTER_SENTINEL); }

/* Bit for bit, so that no NaN or other value passes for the sentinel. */
static inline int tester_is_sentinel(const float* p) {
  const float sentinel = TESTER_SENTINEL;
  return memcmp(p, &sentinel, sizeof(float)) == 0;
}

/* 1 when the TESTER_GUARD_FLOATS floats at guard (just past an output) are intact; else prints
 * the first overwritten one and returns 0. */
static inline int tester_guard_intact(const float* guard) {
  for (size_t i = 0; i < TESTER_GUARD_FLOATS; i++) {
    if (!tester_is_sentinel(&guard[i])) {
      printf("FAIL: write past the end of the output (guard float %zu)\n", i);
      return 0;
    }
  }
  return 1;
}

/* ---- Floats ----------------------------------------------------------------------------- */

static inline uint32_t tester_bits_of(float v) {
  uint32_t b;
  memcpy(&b, &v, sizeof(b));
  return b;
}

static inline float tester_float_of(uint32_t b) {
  float v;
  memcpy(&v, &b, sizeof(v));
  return v;
}

/* The fused output clamp, as the references write it. */
static inline float tester_clamp(float y, float min, float max) {
  y = y < min ? min : y;
  return y > max ? max : y;
}

/* ---- Sliding windows (convolution, depthwise convolution, pooling) ------------------------ */

/* Output size along one axis: n inputs, pad_sum padding in all, kernel k, stride s, dilation d
 * (0 when the dilated kernel does not fit). */
static inline size_t tester_out_size(size_t n, size_t pad_sum, size_t k, size_t s, size_t d) {
  const size_t eff = d * (k - 1) + 1;
  return n + pad_sum < eff ? 0 : (n + pad_sum - eff) / s + 1;
}

/* Input coordinate o*S + k*D - pad of tap k of output o along one axis, or -1 when it falls in
 * the padding (outside [0, N)). Signed, unlike the kernels' unsigned wrap-around. */
static inline long tester_tap(size_t o, size_t S, size_t k, size_t D, size_t pad, size_t N) {
  const long i = (long)(o * S + k * D) - (long)pad;
  return i >= 0 && i < (long)N ? i : -1;
}

/* Channel counts below, equal to, above and multiples of the vector widths (4 NEON, 8 AVX2,
 * 16/32 unrolled). */
static inline size_t tester_random_channels(void) {
  static const size_t choices[] = {1,  2,  3,  4,  5,  7,  8,  9,  12, 15,
                                   16, 17, 24, 31, 32, 33, 40, 64, 65};
  return choices[tester_range(0, TESTER_ARRAY_SIZE(choices) - 1)];
}

/* Rows [*lo, *hi) of n to compute: one time in three a random non-empty part, else all. */
static inline void tester_random_rows(size_t n, size_t* lo, size_t* hi) {
  *lo = 0;
  *hi = n;
  if (tester_range(0, 2) == 0) {
    *lo = tester_range(0, n - 1);
    *hi = tester_range(*lo + 1, n);
  }
}

/* Pads in the order top, left, bottom, right, each in [0, max_h] or [0, max_w]. */
static inline void tester_random_pads(size_t max_h, size_t max_w, size_t* top, size_t* left,
                                      size_t* bottom, size_t* right) {
  *top = tester_range(0, max_h);
  *left = tester_range(0, max_w);
  *bottom = tester_range(0, max_h);
  *right = tester_range(0, max_w);
}

/* The window of a geometry or kernel args struct (fields H, W, C, KH, KW, SH, SW, DH, DW,
 * pad_top, pad_left) in failure messages:
 *   printf("..." TESTER_WINDOW_FMT, TESTER_WINDOW_ARGS(g)); */
#define TESTER_WINDOW_FMT "H=%zu W=%zu C=%zu K=%zux%zu S=%zux%zu D=%zux%zu pad_tl=%zu,%zu"
#define TESTER_WINDOW_ARGS(g)                                                                    \
  (g).H, (g).W, (g).C, (g).KH, (g).KW, (g).SH, (g).SW, (g).DH, (g).DW, (g).pad_top, (g).pad_left

/* ---- Benchmarks ------------------------------------------------------------------------- */

static inline double tester_now(void) { /* seconds, monotonic */
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Throughput of repeated calls for at least `seconds`:
 *   tester_timer t = tester_timer_start();
 *   do { 16 calls } while (tester_timer_more(&t, 16, seconds));
 *   ... tester_timer_rate(&t) calls per second */
typedef struct {
  double start, elapsed;
  size_t calls;
} tester_timer;

static inline tester_timer tester_timer_start(void) {
  tester_timer t = {tester_now(), 0.0, 0};
  return t;
}

static inline int tester_timer_more(tester_timer* t, size_t calls, double seconds) {
  t->calls += calls;
  t->elapsed = tester_now() - t->start;
  return t->elapsed < seconds;
}

static inline double tester_timer_rate(const tester_timer* t) {
  return (double)t->calls / t->elapsed;
}

/* ---- int8 (qs8) ------------------------------------------------------------------------- */

/* n bytes in an exact-size heap block (1 byte for n == 0), for ASan like tester_alloc_floats. */
static inline int8_t* tester_alloc_i8(size_t n) {
  int8_t* p = malloc(n ? n : 1);
  if (p == NULL) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  return p;
}

/* For benchmarks: 64-byte aligned, size rounded up to 64 bytes. */
static inline void* tester_alloc_aligned_bytes(size_t n) {
  void* p = aligned_alloc(64, edgert_round_up(n ? n : 1, 64));
  if (p == NULL) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  return p;
}

/* Uniform int8 values in [lo, hi]. */
static inline void tester_fill_i8(int8_t* p, size_t n, int lo, int hi) {
  for (size_t i = 0; i < n; i++) p[i] = (int8_t)((int)tester_range(0, (size_t)(hi - lo)) + lo);
}

/* Bit-exact comparison; prints the first mismatch and returns 1. */
static inline int tester_check_i8(const char* what, const int8_t* ref, const int8_t* got, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (ref[i] != got[i]) {
      printf("FAIL %s: element %zu is %d, expected %d\n", what, i, got[i], ref[i]);
      return 1;
    }
  }
  return 0;
}

/* Guards for int8 outputs: any byte value is a possible output, so a guard region is filled
 * with random bytes and compared with a copy afterwards (a stray write of the very same byte
 * goes unseen, but not across the many random cases). */
#define TESTER_GUARD_BYTES 64

/* 1 when got[i] == want[i] wherever live(i, ctx) is 0 for i < n; else prints and returns 0. */
static inline int tester_untouched_i8(const char* what, const int8_t* want, const int8_t* got,
                                      size_t n, int (*live)(size_t i, const void* ctx),
                                      const void* ctx) {
  for (size_t i = 0; i < n; i++) {
    if ((live == NULL || !live(i, ctx)) && want[i] != got[i]) {
      printf("FAIL %s: wrote outside its output at byte %zu\n", what, i);
      return 0;
    }
  }
  return 1;
}

/* A range [*lo, *hi] for the requantization scales of a sum of `terms` int8 x int8 products:
 * accumulators spread about 128*74*sqrt(terms), so scales around 1/that, one time in three far
 * larger (saturation both ways) or tiny (everything at the zero point). */
static inline void tester_random_scale_range(size_t terms, float* lo, float* hi) {
  const float typical = 1.0f / (74.0f * sqrtf((float)terms));
  switch (tester_range(0, 3)) {
    case 0: *lo = typical * 10.0f; *hi = typical * 1000.0f; break;
    case 1: *lo = 1e-9f; *hi = typical * 1e-3f; break;
    default: *lo = typical * 0.1f; *hi = typical * 4.0f; break;
  }
}

/* Output rows [oy0, oy1) of row_bytes each: the part of an output a row-range call may write
 * (tester_untouched_i8's `live` with ctx = &tester_rows). */
typedef struct {
  size_t row_bytes, oy0, oy1;
} tester_rows;

static inline int tester_row_live(size_t i, const void* ctx) {
  const tester_rows* r = (const tester_rows*)ctx;
  return i / r->row_bytes >= r->oy0 && i / r->row_bytes < r->oy1;
}

/* Zero points: the extremes -128 / 127 one time in three each, else anything. */
static inline int32_t tester_random_zero_point(void) {
  switch (tester_range(0, 5)) {
    case 0: return -128;
    case 1: return 127;
    default: return (int32_t)tester_range(0, 255) - 128;
  }
}

/* Log-uniform positive float in [lo, hi]. */
static inline float tester_log_uniform(float lo, float hi) {
  return expf(tester_uniform(logf(lo), logf(hi)));
}

/* An output zero point and clamp: no clamp, a fused ReLU (qmin = zp), or a random narrow range. */
static inline edgert_qs8_output_params tester_random_output_params(void) {
  edgert_qs8_output_params p;
  p.zero_point = tester_random_zero_point();
  p.qmin = -128;
  p.qmax = 127;
  switch (tester_range(0, 3)) {
    case 0: p.qmin = p.zero_point; break;
    case 1: {
      int32_t a = (int32_t)tester_range(0, 255) - 128, b = (int32_t)tester_range(0, 255) - 128;
      p.qmin = a < b ? a : b;
      p.qmax = a < b ? b : a;
      break;
    }
    default: break;
  }
  return p;
}

#define TESTER_OUTPUT_FMT "zp_out=%d q=[%d,%d]"
#define TESTER_OUTPUT_ARGS(p) (p).zero_point, (p).qmin, (p).qmax

#if EDGERT_ARCH_X86_64
#include <immintrin.h>

/* Best seconds per instruction over 100 timed bursts of `burst(n)`, which runs `per_iteration`
 * instructions in each of its n iterations. */
static inline double tester_best_per_instruction(void (*burst)(size_t), size_t n, double per_iteration) {
  double best = 1e30;
  for (int rep = 0; rep < 100; rep++) {
    const double t0 = tester_now();
    burst(n);
    const double dt = (tester_now() - t0) / (per_iteration * (double)n);
    if (dt < best) best = dt;
  }
  return best;
}

/* Dependent register-register adds retire one per cycle (add-immediate chains do not: Golden
 * Cove's renamer folds them, which read as a 12 GHz clock). */
static void tester_add_chain(size_t n) {
  unsigned long x = 0, one = 1;
  for (size_t i = 0; i < n; i++)
    __asm__ volatile("add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0" : "+r"(x) : "r"(one));
}

/* 12 independent vpmaddwd chains, in assembly so nothing else runs. */
static void tester_madd_chains(size_t n) {
  for (size_t i = 0; i < n; i++)
    __asm__ volatile(
        "vpmaddwd %%ymm15, %%ymm0, %%ymm0\n\tvpmaddwd %%ymm15, %%ymm1, %%ymm1\n\t"
        "vpmaddwd %%ymm15, %%ymm2, %%ymm2\n\tvpmaddwd %%ymm15, %%ymm3, %%ymm3\n\t"
        "vpmaddwd %%ymm15, %%ymm4, %%ymm4\n\tvpmaddwd %%ymm15, %%ymm5, %%ymm5\n\t"
        "vpmaddwd %%ymm15, %%ymm6, %%ymm6\n\tvpmaddwd %%ymm15, %%ymm7, %%ymm7\n\t"
        "vpmaddwd %%ymm15, %%ymm8, %%ymm8\n\tvpmaddwd %%ymm15, %%ymm9, %%ymm9\n\t"
        "vpmaddwd %%ymm15, %%ymm10, %%ymm10\n\tvpmaddwd %%ymm15, %%ymm11, %%ymm11\n\t"
        ::: "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
        "xmm10", "xmm11", "xmm15");
}

/* 12 independent 512-bit vpdpbusd chains (only called where the CPU has AVX512-VNNI). */
static void tester_dpbusd_chains(size_t n) {
  for (size_t i = 0; i < n; i++)
    __asm__ volatile(
        "vpdpbusd %%zmm15, %%zmm14, %%zmm0\n\tvpdpbusd %%zmm15, %%zmm14, %%zmm1\n\t"
        "vpdpbusd %%zmm15, %%zmm14, %%zmm2\n\tvpdpbusd %%zmm15, %%zmm14, %%zmm3\n\t"
        "vpdpbusd %%zmm15, %%zmm14, %%zmm4\n\tvpdpbusd %%zmm15, %%zmm14, %%zmm5\n\t"
        "vpdpbusd %%zmm15, %%zmm14, %%zmm6\n\tvpdpbusd %%zmm15, %%zmm14, %%zmm7\n\t"
        "vpdpbusd %%zmm15, %%zmm14, %%zmm8\n\tvpdpbusd %%zmm15, %%zmm14, %%zmm9\n\t"
        "vpdpbusd %%zmm15, %%zmm14, %%zmm10\n\tvpdpbusd %%zmm15, %%zmm14, %%zmm11\n\t"
        ::: "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
        "xmm10", "xmm11", "xmm14", "xmm15");
}

/* This core's clock right now (it varies with load and boost), in GHz. */
static inline double tester_x86_clock_ghz(void) {
  return 1e-9 / tester_best_per_instruction(tester_add_chain, 100000, 4.0);
}

/* vpmaddwd instructions per cycle this core sustains (Zen3: 2). Times 16 int16 MACs each = the
 * int8 GEMM's MAC peak per cycle without VNNI (every vpmaddwd of a real kernel also needs a
 * vpaddd into an int32 accumulator, which runs on other ports). */
static inline double tester_avx2_madd_per_cycle(double clock_ghz) {
  return 1e-9 / tester_best_per_instruction(tester_madd_chains, 20000, 12.0) / clock_ghz;
}

/* 512-bit vpdpbusd instructions per cycle (Intel since Ice Lake: 1 or 2 by port count; Zen 4:
 * 1); 64 u8 x s8 MACs each. */
static inline double tester_vnni_dpbusd_per_cycle(double clock_ghz) {
  return 1e-9 / tester_best_per_instruction(tester_dpbusd_chains, 20000, 12.0) / clock_ghz;
}

/* This core's int8 MAC peak in GMAC/s, printed with how it was found: 512-bit vpdpbusd where
 * the CPU has AVX512-VNNI (the variants edgert dispatches there), else AVX2 vpmaddwd; 0 when
 * neither. */
static inline double tester_x86_int8_peak(void) {
  if (!edgert_cpu()->avx2_fma) return 0.0;
  const double ghz = tester_x86_clock_ghz();
  if (edgert_cpu()->avx512_vnni) {
    const double per_cycle = tester_vnni_dpbusd_per_cycle(ghz);
    const double peak = ghz * per_cycle * 64.0;
    printf("peak = clock %.2f GHz (dependent add chain) x %.2f vpdpbusd zmm/cycle (12 independent\n"
           "chains) x 64 u8 x s8 MACs = %.1f GMAC/s per core\n", ghz, per_cycle, peak);
    return peak;
  }
  const double per_cycle = tester_avx2_madd_per_cycle(ghz);
  const double peak = ghz * per_cycle * 16.0;
  printf("peak = clock %.2f GHz (dependent add chain) x %.2f vpmaddwd/cycle (12 independent\n"
         "chains; Zen3: 2) x 16 int16 MACs = %.1f GMAC/s per core\n", ghz, per_cycle, peak);
  return peak;
}
#endif

#endif /* EDGERT_TESTER_H */
