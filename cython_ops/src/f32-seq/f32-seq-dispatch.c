/* Variant choice of the sequence-model kernels (edgert/f32-seq.h), from edgert_cpu(). */
#include "edgert/cpu.h"
#include "edgert/f32-seq.h"

#define SEQ_TABLE(isa)                                                                     \
  {#isa, edgert_f32_rmsnorm__##isa, edgert_f32_swiglu__##isa, edgert_f32_causal_conv__##isa, \
   edgert_f32_causal_conv_gated__##isa, edgert_f32_linear_attention__##isa}

static const edgert_f32_seq_kernels seq_scalar = SEQ_TABLE(scalar);
#if EDGERT_ARCH_X86_64
static const edgert_f32_seq_kernels seq_simd = SEQ_TABLE(avx2);
#elif EDGERT_ARCH_ARM64
static const edgert_f32_seq_kernels seq_simd = SEQ_TABLE(neon);
#endif

const edgert_f32_seq_kernels* edgert_f32_seq(void) {
#if EDGERT_ARCH_X86_64
  if (edgert_cpu()->avx2_fma) return &seq_simd;
#elif EDGERT_ARCH_ARM64
  if (edgert_cpu()->neon) return &seq_simd;
#endif
  return &seq_scalar;
}
