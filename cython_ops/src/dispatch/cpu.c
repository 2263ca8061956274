#include "edgert/cpu.h"

#include <stdlib.h>
#include <string.h>

#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
#ifndef HWCAP2_I8MM
#define HWCAP2_I8MM (1 << 13)
#endif
#endif

static edgert_cpu_features features;
static int detected = 0;

static void detect(void) {
  memset(&features, 0, sizeof(features));
  const char* forced = getenv("EDGERT_KERNELS");
  if (forced != NULL && strcmp(forced, "scalar") == 0) return;
#if defined(__x86_64__)
  __builtin_cpu_init();
  features.avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  /* libgcc also checks that the OS saves the AVX-512 state (XCR0). */
  features.avx512_vnni = features.avx2_fma && __builtin_cpu_supports("avx512f") &&
                         __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
                         __builtin_cpu_supports("avx512vnni");
  if (forced != NULL && strcmp(forced, "avx2") == 0) features.avx512_vnni = 0;
#elif defined(__aarch64__)
  features.neon = 1;
#if defined(__linux__)
  unsigned long hwcap = getauxval(AT_HWCAP);
  unsigned long hwcap2 = getauxval(AT_HWCAP2);
  features.neon_dot = (hwcap & HWCAP_ASIMDDP) != 0;
  features.neon_i8mm = (hwcap2 & HWCAP2_I8MM) != 0;
#endif
#endif
}

const edgert_cpu_features* edgert_cpu(void) {
  /* Benign race: every thread computes the same values. */
  if (!detected) {
    detect();
    detected = 1;
  }
  return &features;
}
