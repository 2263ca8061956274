/* The dispatch table: the ONE place a kernel variant is chosen for this CPU.
 * Filled once from edgert_cpu() (EDGERT_KERNELS=scalar forces the portable variants). */
#ifndef EDGERT_DISPATCH_H
#define EDGERT_DISPATCH_H

#include "edgert/common.h"
#include "edgert/f32-conv-stem.h"
#include "edgert/f32-dwconv.h"
#include "edgert/f32-gemm.h"
#include "edgert/f32-pool.h"
#include "edgert/f32-vbinary.h"
#include "edgert/f32-vunary.h"
#include "edgert/qs8-conv-stem.h"
#include "edgert/qs8-dwconv.h"
#include "edgert/qs8-gemm.h"
#include "edgert/qs8-lut.h"
#include "edgert/qs8-pool.h"
#include "edgert/qs8-vbinary.h"
#include "edgert/qs8-vcvt.h"

typedef enum {
  EDGERT_UNARY_CLAMP = 0,
  EDGERT_UNARY_SIGMOID,
  EDGERT_UNARY_TANH,
  EDGERT_UNARY_HARDSIGMOID,
  EDGERT_UNARY_HARDSWISH,
  EDGERT_UNARY_SWISH,
  EDGERT_UNARY_GELU,
  EDGERT_UNARY_GELU_TANH,
  EDGERT_UNARY_LEAKYRELU,
  EDGERT_UNARY_ELU,
  EDGERT_UNARY_EXP,
  EDGERT_UNARY_COUNT
} edgert_unary_op;

typedef enum {
  EDGERT_BINARY_ADD = 0,
  EDGERT_BINARY_SUB,
  EDGERT_BINARY_MUL,
  EDGERT_BINARY_DIV,
  EDGERT_BINARY_MAX,
  EDGERT_BINARY_MIN,
  EDGERT_BINARY_COUNT
} edgert_binary_op;

typedef struct {
  edgert_f32_vbinary_fn vv;   /* a[i] op b[i] */
  edgert_f32_vbinary_fn vc;   /* a[i] op b[0] */
  edgert_f32_vbinary_fn rvc;  /* b[0] op a[i] (equals vc for commutative ops) */
} edgert_f32_binary_variants;

/* The int8 kernels of one ISA. Packed weights are in the layout recorded here. */
typedef struct {
  edgert_qs8_gemm_fn gemm;
  size_t gemm_mr;
  edgert_qs8_gemm_layout gemm_layout;
  const char* gemm_name;
  edgert_qs8_conv_stem_fn conv_stem;
  edgert_qs8_conv_stem_layout conv_stem_layout;
  const char* conv_stem_name; /* e.g. "qs8_conv_stem__avx2" */
  edgert_qs8_dwconv_layout dwconv_layout;
  const char* dwconv_name; /* the depthwise family, e.g. "qs8_dwconv__avx2" */
  edgert_qs8_dwconv_fn dwconv_generic;
  edgert_qs8_dwconv_fn dwconv[3][2]; /* [3x3, 5x5, 7x7][stride 1, 2]; NULL when not specialised */
  edgert_qs8_pool_fn maxpool, avgpool;
  edgert_qs8_global_avgpool_fn global_avgpool;
  edgert_qs8_vbinary_fn vadd, vaddc, vmul, vmulc;
  edgert_x8_lut_fn lut;
  edgert_qs8_quantize_fn quantize;
  edgert_qs8_quantize_nchw_fn quantize_nchw;
  edgert_qs8_dequantize_fn dequantize;
} edgert_qs8_dispatch_table;

typedef struct {
  const char* isa;            /* "scalar", "avx2", "neon" ... for `edgert info` / bench */
  edgert_f32_gemm_fn gemm;
  size_t gemm_mr, gemm_nr;
  const char* gemm_name;
  edgert_f32_conv_stem_fn conv_stem;
  edgert_f32_dwconv_fn dwconv_generic;
  edgert_f32_dwconv_fn dwconv[3][2]; /* [3x3, 5x5, 7x7][stride 1, 2]; NULL when not specialised */
  edgert_f32_pool_fn maxpool, avgpool;
  edgert_f32_global_avgpool_fn global_avgpool;
  edgert_f32_vunary_fn unary[EDGERT_UNARY_COUNT];
  void (*prelu)(size_t rows, size_t channels, const float* x, const float* slope, float* y);
  edgert_f32_binary_variants binary[EDGERT_BINARY_COUNT];
  edgert_qs8_dispatch_table qs8;
} edgert_dispatch_table;

const edgert_dispatch_table* edgert_dispatch(void);

/* Specialised depthwise variant for (KH, KW, SH, SW, DH, DW), or the generic one. */
edgert_f32_dwconv_fn edgert_pick_dwconv(size_t KH, size_t KW, size_t SH, size_t SW, size_t DH, size_t DW);
edgert_qs8_dwconv_fn edgert_pick_qs8_dwconv(size_t KH, size_t KW, size_t SH, size_t SW, size_t DH,
                                            size_t DW);

#endif /* EDGERT_DISPATCH_H */
