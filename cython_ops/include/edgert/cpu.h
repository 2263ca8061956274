/* CPU feature detection. The ONE place variants are chosen is dispatch.c, which
 * reads these flags; testers read them to know which variants can run here. */
#ifndef EDGERT_CPU_H
#define EDGERT_CPU_H

typedef struct {
  int avx2_fma;  /* x86-64: AVX2 and FMA3 */
  int avx512_vnni; /* x86-64: AVX512-VNNI with AVX512F/BW/VL (and AVX2+FMA), OS-enabled */
  int neon;      /* aarch64: Advanced SIMD (always present) */
  int neon_dot;  /* aarch64: SDOT/UDOT (ARMv8.2 dotprod) */
  int neon_i8mm; /* aarch64: SMMLA (ARMv8.6 i8mm) */
} edgert_cpu_features;

/* Detected once; EDGERT_KERNELS=scalar in the environment forces all flags off, EDGERT_KERNELS=avx2
 * only the AVX-512 ones (the AVX2 kernels everywhere, as on CPUs without AVX-512). */
const edgert_cpu_features* edgert_cpu(void);

#endif /* EDGERT_CPU_H */
