#include "edgert/dispatch.h"

#include <string.h>

#include "edgert/cpu.h"

/* The GEMM variant per ISA, with its tile (the packing depends on NR). */
#define EDGERT_F32_GEMM_SCALAR_FN edgert_f32_gemm_4x8__scalar
#define EDGERT_F32_GEMM_SCALAR_MR EDGERT_F32_GEMM_4X8__SCALAR_MR
#define EDGERT_F32_GEMM_SCALAR_NR EDGERT_F32_GEMM_4X8__SCALAR_NR
#define EDGERT_F32_GEMM_SCALAR_NAME "f32_gemm_4x8__scalar"
#define EDGERT_F32_GEMM_AVX2_FN edgert_f32_gemm_6x16__avx2
#define EDGERT_F32_GEMM_AVX2_MR EDGERT_F32_GEMM_6X16__AVX2_MR
#define EDGERT_F32_GEMM_AVX2_NR EDGERT_F32_GEMM_6X16__AVX2_NR
#define EDGERT_F32_GEMM_AVX2_NAME "f32_gemm_6x16__avx2"
#define EDGERT_F32_GEMM_NEON_FN edgert_f32_gemm_8x8__neon
#define EDGERT_F32_GEMM_NEON_MR EDGERT_F32_GEMM_8X8__NEON_MR
#define EDGERT_F32_GEMM_NEON_NR EDGERT_F32_GEMM_8X8__NEON_NR
#define EDGERT_F32_GEMM_NEON_NAME "f32_gemm_8x8__neon"

/* The int8 kernels per ISA (the GEMM and depthwise packings follow the variant). */
#define QS8_SCALAR                                                                      \
  {                                                                                     \
    .gemm = edgert_qs8_gemm_4x4__scalar, .gemm_mr = EDGERT_QS8_GEMM_4X4__SCALAR_MR,     \
    .gemm_layout = EDGERT_QS8_GEMM_4X4__SCALAR_LAYOUT, .gemm_name = "qs8_gemm_4x4__scalar", \
    .conv_stem = edgert_qs8_conv_stem__scalar, .conv_stem_layout = EDGERT_QS8_CONV_STEM_PAIRS, \
    .conv_stem_name = "qs8_conv_stem__scalar",                                          \
    .dwconv_layout = EDGERT_QS8_DWCONV_TAPS, .dwconv_generic = edgert_qs8_dwconv__scalar, \
    .dwconv_name = "qs8_dwconv__scalar", \
    .maxpool = edgert_qs8_maxpool__scalar, .avgpool = edgert_qs8_avgpool__scalar,       \
    .global_avgpool = edgert_qs8_global_avgpool__scalar, .vadd = edgert_qs8_vadd__scalar, \
    .vaddc = edgert_qs8_vaddc__scalar, .vmul = edgert_qs8_vmul__scalar,                  \
    .vmulc = edgert_qs8_vmulc__scalar, .lut = edgert_x8_lut__scalar,                     \
    .quantize = edgert_qs8_quantize__scalar,                                            \
    .quantize_nchw = edgert_qs8_quantize_nchw__scalar,                                  \
    .dequantize = edgert_qs8_dequantize__scalar,                                        \
  }

#if EDGERT_ARCH_X86_64
#define QS8_AVX2                                                                        \
  {                                                                                     \
    .gemm = edgert_qs8_gemm_6x16c2__avx2, .gemm_mr = EDGERT_QS8_GEMM_6X16C2__AVX2_MR,   \
    .gemm_layout = EDGERT_QS8_GEMM_6X16C2__AVX2_LAYOUT, .gemm_name = "qs8_gemm_6x16c2__avx2", \
    .conv_stem = edgert_qs8_conv_stem__avx2, .conv_stem_layout = EDGERT_QS8_CONV_STEM_PAIRS, \
    .conv_stem_name = "qs8_conv_stem__avx2",                                            \
    .dwconv_layout = EDGERT_QS8_DWCONV_ROWPAIRS, .dwconv_generic = edgert_qs8_dwconv__avx2, \
    .dwconv_name = "qs8_dwconv__avx2", \
    .dwconv = {{edgert_qs8_dwconv_3x3s1__avx2, edgert_qs8_dwconv_3x3s2__avx2},           \
               {edgert_qs8_dwconv_5x5s1__avx2, edgert_qs8_dwconv_5x5s2__avx2},           \
               {edgert_qs8_dwconv_7x7s1__avx2, edgert_qs8_dwconv_7x7s2__avx2}},          \
    .maxpool = edgert_qs8_maxpool__avx2, .avgpool = edgert_qs8_avgpool__avx2,           \
    .global_avgpool = edgert_qs8_global_avgpool__avx2, .vadd = edgert_qs8_vadd__avx2,   \
    .vaddc = edgert_qs8_vaddc__avx2, .vmul = edgert_qs8_vmul__avx2,                      \
    .vmulc = edgert_qs8_vmulc__avx2, .lut = edgert_x8_lut__avx2,                         \
    .quantize = edgert_qs8_quantize__avx2, .quantize_nchw = edgert_qs8_quantize_nchw__avx2, \
    .dequantize = edgert_qs8_dequantize__avx2,                                          \
  }
#endif

#if EDGERT_ARCH_ARM64
#define QS8_NEON                                                                        \
  {                                                                                     \
    .gemm = edgert_qs8_gemm_2x8c8__neon, .gemm_mr = EDGERT_QS8_GEMM_2X8C8__NEON_MR,     \
    .gemm_layout = EDGERT_QS8_GEMM_2X8C8__NEON_LAYOUT, .gemm_name = "qs8_gemm_2x8c8__neon", \
    .conv_stem = edgert_qs8_conv_stem__neon, .conv_stem_layout = EDGERT_QS8_CONV_STEM_PAIRS, \
    .conv_stem_name = "qs8_conv_stem__neon",                                            \
    .dwconv_layout = EDGERT_QS8_DWCONV_TAPS, .dwconv_generic = edgert_qs8_dwconv__neon, \
    .dwconv_name = "qs8_dwconv__neon",  \
    .dwconv = {{edgert_qs8_dwconv_3x3s1__neon, edgert_qs8_dwconv_3x3s2__neon},           \
               {edgert_qs8_dwconv_5x5s1__neon, edgert_qs8_dwconv_5x5s2__neon},           \
               {edgert_qs8_dwconv_7x7s1__neon, edgert_qs8_dwconv_7x7s2__neon}},          \
    .maxpool = edgert_qs8_maxpool__neon, .avgpool = edgert_qs8_avgpool__neon,           \
    .global_avgpool = edgert_qs8_global_avgpool__neon, .vadd = edgert_qs8_vadd__neon,   \
    .vaddc = edgert_qs8_vaddc__neon, .vmul = edgert_qs8_vmul__neon,                      \
    .vmulc = edgert_qs8_vmulc__neon, .lut = edgert_x8_lut__neon,                         \
    .quantize = edgert_qs8_quantize__neon, .quantize_nchw = edgert_qs8_quantize_nchw__neon, \
    .dequantize = edgert_qs8_dequantize__neon,                                          \
  }
#endif

static edgert_dispatch_table table;
static int filled = 0;

#define UNARY_ROW(isa)                                  \
  {                                                     \
    [EDGERT_UNARY_CLAMP] = edgert_f32_vclamp__##isa,    \
    [EDGERT_UNARY_SIGMOID] = edgert_f32_vsigmoid__##isa, \
    [EDGERT_UNARY_TANH] = edgert_f32_vtanh__##isa,      \
    [EDGERT_UNARY_HARDSIGMOID] = edgert_f32_vhardsigmoid__##isa, \
    [EDGERT_UNARY_HARDSWISH] = edgert_f32_vhardswish__##isa, \
    [EDGERT_UNARY_SWISH] = edgert_f32_vswish__##isa,    \
    [EDGERT_UNARY_GELU] = edgert_f32_vgelu__##isa,      \
    [EDGERT_UNARY_GELU_TANH] = edgert_f32_vgelu_tanh__##isa, \
    [EDGERT_UNARY_LEAKYRELU] = edgert_f32_vleakyrelu__##isa, \
    [EDGERT_UNARY_ELU] = edgert_f32_velu__##isa,        \
    [EDGERT_UNARY_EXP] = edgert_f32_vexp__##isa,        \
  }

#define BINARY_ROW(isa)                                                                       \
  {                                                                                           \
    [EDGERT_BINARY_ADD] = {edgert_f32_vadd__##isa, edgert_f32_vaddc__##isa, edgert_f32_vaddc__##isa}, \
    [EDGERT_BINARY_SUB] = {edgert_f32_vsub__##isa, edgert_f32_vsubc__##isa, edgert_f32_vrsubc__##isa}, \
    [EDGERT_BINARY_MUL] = {edgert_f32_vmul__##isa, edgert_f32_vmulc__##isa, edgert_f32_vmulc__##isa}, \
    [EDGERT_BINARY_DIV] = {edgert_f32_vdiv__##isa, edgert_f32_vdivc__##isa, edgert_f32_vrdivc__##isa}, \
    [EDGERT_BINARY_MAX] = {edgert_f32_vmax__##isa, edgert_f32_vmaxc__##isa, edgert_f32_vmaxc__##isa}, \
    [EDGERT_BINARY_MIN] = {edgert_f32_vmin__##isa, edgert_f32_vminc__##isa, edgert_f32_vminc__##isa}, \
  }

static void fill_scalar(void) {
  static const edgert_dispatch_table scalar = {
      .isa = "scalar",
      .gemm = EDGERT_F32_GEMM_SCALAR_FN,
      .gemm_mr = EDGERT_F32_GEMM_SCALAR_MR,
      .gemm_nr = EDGERT_F32_GEMM_SCALAR_NR,
      .gemm_name = EDGERT_F32_GEMM_SCALAR_NAME,
      .conv_stem = edgert_f32_conv_stem__scalar,
      .dwconv_generic = edgert_f32_dwconv__scalar,
      .maxpool = edgert_f32_maxpool__scalar,
      .avgpool = edgert_f32_avgpool__scalar,
      .global_avgpool = edgert_f32_global_avgpool__scalar,
      .unary = UNARY_ROW(scalar),
      .prelu = edgert_f32_vprelu__scalar,
      .binary = BINARY_ROW(scalar),
      .qs8 = QS8_SCALAR,
  };
  table = scalar;
}

#if EDGERT_ARCH_X86_64
static void fill_avx2(void) {
  static const edgert_dispatch_table avx2 = {
      .isa = "avx2",
      .gemm = EDGERT_F32_GEMM_AVX2_FN,
      .gemm_mr = EDGERT_F32_GEMM_AVX2_MR,
      .gemm_nr = EDGERT_F32_GEMM_AVX2_NR,
      .gemm_name = EDGERT_F32_GEMM_AVX2_NAME,
      .conv_stem = edgert_f32_conv_stem__avx2,
      .dwconv_generic = edgert_f32_dwconv__avx2,
      .dwconv = {{edgert_f32_dwconv_3x3s1__avx2, edgert_f32_dwconv_3x3s2__avx2},
                 {edgert_f32_dwconv_5x5s1__avx2, edgert_f32_dwconv_5x5s2__avx2},
                 {edgert_f32_dwconv_7x7s1__avx2, edgert_f32_dwconv_7x7s2__avx2}},
      .maxpool = edgert_f32_maxpool__avx2,
      .avgpool = edgert_f32_avgpool__avx2,
      .global_avgpool = edgert_f32_global_avgpool__avx2,
      .unary = UNARY_ROW(avx2),
      .prelu = edgert_f32_vprelu__avx2,
      .binary = BINARY_ROW(avx2),
      .qs8 = QS8_AVX2,
  };
  table = avx2;
  /* The 512-bit f32 GEMM and the VNNI GEMM, depthwise and stem kernels (their own packings)
   * where the CPU has AVX512-VNNI. */
  if (edgert_cpu()->avx512_vnni) {
    table.gemm = edgert_f32_gemm_8x32__avx512vnni; /* same packing (NR 16) as the AVX2 GEMM */
    table.gemm_mr = EDGERT_F32_GEMM_8X32__AVX512_MR;
    table.gemm_name = "f32_gemm_8x32__avx512vnni";
    table.qs8.gemm = edgert_qs8_gemm_8x32c4__avx512vnni;
    table.qs8.gemm_mr = EDGERT_QS8_GEMM_8X32C4__AVX512VNNI_MR;
    table.qs8.gemm_layout = (edgert_qs8_gemm_layout)EDGERT_QS8_GEMM_8X32C4__AVX512VNNI_LAYOUT;
    table.qs8.gemm_name = "qs8_gemm_8x32c4__avx512vnni";
    table.qs8.dwconv_layout = EDGERT_QS8_DWCONV_ROWQUADS;
    table.qs8.dwconv_generic = edgert_qs8_dwconv__avx512vnni;
    table.qs8.dwconv_name = "qs8_dwconv__avx512vnni";
    const edgert_qs8_dwconv_fn fixed[3][2] = {
        {edgert_qs8_dwconv_3x3s1__avx512vnni, edgert_qs8_dwconv_3x3s2__avx512vnni},
        {edgert_qs8_dwconv_5x5s1__avx512vnni, edgert_qs8_dwconv_5x5s2__avx512vnni},
        {edgert_qs8_dwconv_7x7s1__avx512vnni, edgert_qs8_dwconv_7x7s2__avx512vnni}};
    memcpy(table.qs8.dwconv, fixed, sizeof(fixed));
    table.qs8.conv_stem = edgert_qs8_conv_stem__avx512vnni;
    table.qs8.conv_stem_layout = EDGERT_QS8_CONV_STEM_QUADS;
    table.qs8.conv_stem_name = "qs8_conv_stem__avx512vnni";
  }
}
#endif

#if EDGERT_ARCH_ARM64
static void fill_neon(void) {
  static const edgert_dispatch_table neon = {
      .isa = "neon",
      .gemm = EDGERT_F32_GEMM_NEON_FN,
      .gemm_mr = EDGERT_F32_GEMM_NEON_MR,
      .gemm_nr = EDGERT_F32_GEMM_NEON_NR,
      .gemm_name = EDGERT_F32_GEMM_NEON_NAME,
      .conv_stem = edgert_f32_conv_stem__neon,
      .dwconv_generic = edgert_f32_dwconv__neon,
      .dwconv = {{edgert_f32_dwconv_3x3s1__neon, edgert_f32_dwconv_3x3s2__neon},
                 {edgert_f32_dwconv_5x5s1__neon, edgert_f32_dwconv_5x5s2__neon},
                 {edgert_f32_dwconv_7x7s1__neon, edgert_f32_dwconv_7x7s2__neon}},
      .maxpool = edgert_f32_maxpool__neon,
      .avgpool = edgert_f32_avgpool__neon,
      .global_avgpool = edgert_f32_global_avgpool__neon,
      .unary = UNARY_ROW(neon),
      .prelu = edgert_f32_vprelu__neon,
      .binary = BINARY_ROW(neon),
      .qs8 = QS8_NEON,
  };
  table = neon;
  /* The dot-product GEMM (its own packing) where the CPU has SDOT. */
  if (edgert_cpu()->neon_dot) {
    table.qs8.gemm = edgert_qs8_gemm_4x16c4__neondot;
    table.qs8.gemm_mr = EDGERT_QS8_GEMM_4X16C4__NEONDOT_MR;
    table.qs8.gemm_layout = (edgert_qs8_gemm_layout)EDGERT_QS8_GEMM_4X16C4__NEONDOT_LAYOUT;
    table.qs8.gemm_name = "qs8_gemm_4x16c4__neondot";
  }
}
#endif

const edgert_dispatch_table* edgert_dispatch(void) {
  if (!filled) { /* benign race: every thread writes the same table */
    const edgert_cpu_features* cpu = edgert_cpu();
    fill_scalar();
#if EDGERT_ARCH_X86_64
    if (cpu->avx2_fma) fill_avx2();
#elif EDGERT_ARCH_ARM64
    if (cpu->neon) fill_neon();
#endif
    (void)cpu;
    filled = 1;
  }
  return &table;
}

edgert_f32_dwconv_fn edgert_pick_dwconv(size_t KH, size_t KW, size_t SH, size_t SW, size_t DH,
                                        size_t DW) {
  const edgert_dispatch_table* d = edgert_dispatch();
  if (KH == KW && SH == SW && DH == 1 && DW == 1 && (SH == 1 || SH == 2) &&
      (KH == 3 || KH == 5 || KH == 7)) {
    edgert_f32_dwconv_fn fn = d->dwconv[(KH - 3) / 2][SH - 1];
    if (fn != NULL) return fn;
  }
  return d->dwconv_generic;
}

edgert_qs8_dwconv_fn edgert_pick_qs8_dwconv(size_t KH, size_t KW, size_t SH, size_t SW, size_t DH,
                                            size_t DW) {
  const edgert_qs8_dispatch_table* d = &edgert_dispatch()->qs8;
  if (KH == KW && SH == SW && DH == 1 && DW == 1 && (SH == 1 || SH == 2) &&
      (KH == 3 || KH == 5 || KH == 7)) {
    edgert_qs8_dwconv_fn fn = d->dwconv[(KH - 3) / 2][SH - 1];
    if (fn != NULL) return fn;
  }
  return d->dwconv_generic;
}
