# Private microbenchmarks of every compiled kernel variant (edgert._ops._kernel_bench), behind
# `edgert bench --kernels` and benchmarks/bench_kernels.py.
#
# The variant table is C (below) because which variants exist depends on the target
# architecture (EDGERT_ARCH_X86_64 / EDGERT_ARCH_ARM64), exactly as in the headers. A bench object
# prepares one variant on one shape; seconds_per_call() then calls the variant in a C loop with
# the GIL released, so the numbers carry no per-call Python overhead. Single-threaded on purpose:
# this measures a variant, not the thread pool.

from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec

cimport numpy as cnp
import numpy as np

cnp.import_array()

cdef extern from *:
    """
    #include <math.h>
    #include "edgert/cpu.h"
    #include "edgert/dispatch.h"

    enum { BENCH_SCALAR = 0, BENCH_AVX2 = 1, BENCH_NEON = 2, BENCH_AVX512 = 3 };
    enum { BENCH_GEMM = 0, BENCH_CONV_STEM, BENCH_DWCONV, BENCH_MAXPOOL, BENCH_AVGPOOL,
           BENCH_GLOBAL_AVGPOOL, BENCH_UNARY, BENCH_PRELU, BENCH_BINARY };
    enum { BENCH_VV = 0, BENCH_VC = 1, BENCH_RVC = 2 };

    typedef struct {
      int kind;
      const char* name;  /* the symbol without its edgert_ prefix */
      int isa;
      int op;            /* unary/binary op; dwconv kernel size (0: generic) */
      int arg;           /* binary form; dwconv stride (0: generic) */
      size_t mr, nr;     /* GEMM tile */
      edgert_f32_gemm_fn gemm;
      edgert_f32_conv_stem_fn conv_stem;
      edgert_f32_dwconv_fn dwconv;
      edgert_f32_pool_fn pool;
      edgert_f32_global_avgpool_fn global_avgpool;
      edgert_f32_vunary_fn unary;
      edgert_f32_vprelu_fn prelu;
      edgert_f32_vbinary_fn binary;
    } bench_variant;

    #define BENCH_DW(ISA_ID, SFX, KSIZE, STRIDE) \
      {.kind = BENCH_DWCONV, .name = "f32_dwconv_" #KSIZE "x" #KSIZE "s" #STRIDE "__" #SFX, \
       .isa = ISA_ID, .op = KSIZE, .arg = STRIDE, \
       .dwconv = edgert_f32_dwconv_##KSIZE##x##KSIZE##s##STRIDE##__##SFX}
    #define BENCH_UN(ISA_ID, SFX, OP_ID, NAME) \
      {.kind = BENCH_UNARY, .name = "f32_v" #NAME "__" #SFX, .isa = ISA_ID, .op = OP_ID, \
       .unary = edgert_f32_v##NAME##__##SFX}
    #define BENCH_BIN(ISA_ID, SFX, OP_ID, FORM, fn) \
      {.kind = BENCH_BINARY, .name = "f32_" #fn "__" #SFX, .isa = ISA_ID, .op = OP_ID, .arg = FORM, \
       .binary = edgert_f32_##fn##__##SFX}
    #define BENCH_ELEMENTWISE(ISA_ID, SFX) \
      BENCH_UN(ISA_ID, SFX, EDGERT_UNARY_CLAMP, clamp), \
      BENCH_UN(ISA_ID, SFX, EDGERT_UNARY_SIGMOID, sigmoid), \
      BENCH_UN(ISA_ID, SFX, EDGERT_UNARY_TANH, tanh), \
      BENCH_UN(ISA_ID, SFX, EDGERT_UNARY_HARDSIGMOID, hardsigmoid), \
      BENCH_UN(ISA_ID, SFX, EDGERT_UNARY_HARDSWISH, hardswish), \
      BENCH_UN(ISA_ID, SFX, EDGERT_UNARY_SWISH, swish), \
      BENCH_UN(ISA_ID, SFX, EDGERT_UNARY_GELU, gelu), \
      BENCH_UN(ISA_ID, SFX, EDGERT_UNARY_GELU_TANH, gelu_tanh), \
      BENCH_UN(ISA_ID, SFX, EDGERT_UNARY_LEAKYRELU, leakyrelu), \
      BENCH_UN(ISA_ID, SFX, EDGERT_UNARY_ELU, elu), \
      BENCH_UN(ISA_ID, SFX, EDGERT_UNARY_EXP, exp), \
      {.kind = BENCH_PRELU, .name = "f32_vprelu__" #SFX, .isa = ISA_ID, \
       .prelu = edgert_f32_vprelu__##SFX}, \
      BENCH_BIN(ISA_ID, SFX, EDGERT_BINARY_ADD, BENCH_VV, vadd), \
      BENCH_BIN(ISA_ID, SFX, EDGERT_BINARY_SUB, BENCH_VV, vsub), \
      BENCH_BIN(ISA_ID, SFX, EDGERT_BINARY_MUL, BENCH_VV, vmul), \
      BENCH_BIN(ISA_ID, SFX, EDGERT_BINARY_DIV, BENCH_VV, vdiv), \
      BENCH_BIN(ISA_ID, SFX, EDGERT_BINARY_MAX, BENCH_VV, vmax), \
      BENCH_BIN(ISA_ID, SFX, EDGERT_BINARY_MIN, BENCH_VV, vmin), \
      BENCH_BIN(ISA_ID, SFX, EDGERT_BINARY_ADD, BENCH_VC, vaddc), \
      BENCH_BIN(ISA_ID, SFX, EDGERT_BINARY_SUB, BENCH_VC, vsubc), \
      BENCH_BIN(ISA_ID, SFX, EDGERT_BINARY_MUL, BENCH_VC, vmulc), \
      BENCH_BIN(ISA_ID, SFX, EDGERT_BINARY_DIV, BENCH_VC, vdivc), \
      BENCH_BIN(ISA_ID, SFX, EDGERT_BINARY_MAX, BENCH_VC, vmaxc), \
      BENCH_BIN(ISA_ID, SFX, EDGERT_BINARY_MIN, BENCH_VC, vminc), \
      BENCH_BIN(ISA_ID, SFX, EDGERT_BINARY_SUB, BENCH_RVC, vrsubc), \
      BENCH_BIN(ISA_ID, SFX, EDGERT_BINARY_DIV, BENCH_RVC, vrdivc)
    #define BENCH_FAMILY_SIMD(ISA_ID, SFX) \
      {.kind = BENCH_CONV_STEM, .name = "f32_conv_stem__" #SFX, .isa = ISA_ID, \
       .conv_stem = edgert_f32_conv_stem__##SFX}, \
      {.kind = BENCH_DWCONV, .name = "f32_dwconv__" #SFX, .isa = ISA_ID, \
       .dwconv = edgert_f32_dwconv__##SFX}, \
      BENCH_DW(ISA_ID, SFX, 3, 1), BENCH_DW(ISA_ID, SFX, 3, 2), BENCH_DW(ISA_ID, SFX, 5, 1), \
      BENCH_DW(ISA_ID, SFX, 5, 2), BENCH_DW(ISA_ID, SFX, 7, 1), BENCH_DW(ISA_ID, SFX, 7, 2), \
      {.kind = BENCH_MAXPOOL, .name = "f32_maxpool__" #SFX, .isa = ISA_ID, \
       .pool = edgert_f32_maxpool__##SFX}, \
      {.kind = BENCH_AVGPOOL, .name = "f32_avgpool__" #SFX, .isa = ISA_ID, \
       .pool = edgert_f32_avgpool__##SFX}, \
      {.kind = BENCH_GLOBAL_AVGPOOL, .name = "f32_global_avgpool__" #SFX, .isa = ISA_ID, \
       .global_avgpool = edgert_f32_global_avgpool__##SFX}, \
      BENCH_ELEMENTWISE(ISA_ID, SFX)

    static const bench_variant bench_variants[] = {
      {.kind = BENCH_GEMM, .name = "f32_gemm_4x8__scalar", .isa = BENCH_SCALAR,
       .mr = EDGERT_F32_GEMM_4X8__SCALAR_MR, .nr = EDGERT_F32_GEMM_4X8__SCALAR_NR,
       .gemm = edgert_f32_gemm_4x8__scalar},
    #if EDGERT_ARCH_X86_64
      {.kind = BENCH_GEMM, .name = "f32_gemm_6x16__avx2", .isa = BENCH_AVX2,
       .mr = EDGERT_F32_GEMM_6X16__AVX2_MR, .nr = EDGERT_F32_GEMM_6X16__AVX2_NR,
       .gemm = edgert_f32_gemm_6x16__avx2},
      {.kind = BENCH_GEMM, .name = "f32_gemm_8x32__avx512vnni", .isa = BENCH_AVX512,
       .mr = EDGERT_F32_GEMM_8X32__AVX512_MR, .nr = EDGERT_F32_GEMM_8X32__AVX512_NR,
       .gemm = edgert_f32_gemm_8x32__avx512vnni},
    #endif
    #if EDGERT_ARCH_ARM64
      {.kind = BENCH_GEMM, .name = "f32_gemm_8x8__neon", .isa = BENCH_NEON,
       .mr = EDGERT_F32_GEMM_8X8__NEON_MR, .nr = EDGERT_F32_GEMM_8X8__NEON_NR,
       .gemm = edgert_f32_gemm_8x8__neon},
    #endif
      {.kind = BENCH_CONV_STEM, .name = "f32_conv_stem__scalar", .isa = BENCH_SCALAR,
       .conv_stem = edgert_f32_conv_stem__scalar},
      {.kind = BENCH_DWCONV, .name = "f32_dwconv__scalar", .isa = BENCH_SCALAR,
       .dwconv = edgert_f32_dwconv__scalar},
      {.kind = BENCH_MAXPOOL, .name = "f32_maxpool__scalar", .isa = BENCH_SCALAR,
       .pool = edgert_f32_maxpool__scalar},
      {.kind = BENCH_AVGPOOL, .name = "f32_avgpool__scalar", .isa = BENCH_SCALAR,
       .pool = edgert_f32_avgpool__scalar},
      {.kind = BENCH_GLOBAL_AVGPOOL, .name = "f32_global_avgpool__scalar", .isa = BENCH_SCALAR,
       .global_avgpool = edgert_f32_global_avgpool__scalar},
      BENCH_ELEMENTWISE(BENCH_SCALAR, scalar),
    #if EDGERT_ARCH_X86_64
      BENCH_FAMILY_SIMD(BENCH_AVX2, avx2),
    #endif
    #if EDGERT_ARCH_ARM64
      BENCH_FAMILY_SIMD(BENCH_NEON, neon),
    #endif
    };

    static size_t bench_variant_count(void) {
      return sizeof(bench_variants) / sizeof(bench_variants[0]);
    }

    static const bench_variant* bench_variant_at(size_t i) { return &bench_variants[i]; }

    static const char* bench_isa_name(int isa) {
      return isa == BENCH_AVX2 ? "avx2" : isa == BENCH_NEON ? "neon" : isa == BENCH_AVX512 ? "avx512vnni" : "scalar";
    }

    /* What edgert_cpu() allows, so EDGERT_KERNELS=scalar also stops SIMD variants here. */
    static int bench_runnable(const bench_variant* v) {
      const edgert_cpu_features* cpu = edgert_cpu();
      return v->isa == BENCH_SCALAR || (v->isa == BENCH_AVX2 && cpu->avx2_fma) ||
             (v->isa == BENCH_AVX512 && cpu->avx512_vnni) || (v->isa == BENCH_NEON && cpu->neon);
    }

    /* Whether the dispatch table hands out this very function for a case of this kind
     * (dwconv: kernel k, stride s). Pointer equality, so the answer is exact. */
    static int bench_dispatched(const bench_variant* v, size_t k, size_t s) {
      const edgert_dispatch_table* d = edgert_dispatch();
      switch (v->kind) {
        case BENCH_GEMM: return d->gemm == v->gemm;
        case BENCH_CONV_STEM: return d->conv_stem == v->conv_stem;
        case BENCH_DWCONV: return edgert_pick_dwconv(k, k, s, s, 1, 1) == v->dwconv;
        case BENCH_MAXPOOL: return d->maxpool == v->pool;
        case BENCH_AVGPOOL: return d->avgpool == v->pool;
        case BENCH_GLOBAL_AVGPOOL: return d->global_avgpool == v->global_avgpool;
        case BENCH_UNARY: return d->unary[v->op] == v->unary;
        case BENCH_PRELU: return d->prelu == v->prelu;
        case BENCH_BINARY: {
          const edgert_f32_binary_variants* b = &d->binary[v->op];
          return (v->arg == BENCH_VV ? b->vv : v->arg == BENCH_VC ? b->vc : b->rvc) == v->binary;
        }
      }
      return 0;
    }
    """
    ctypedef struct edgert_f32_minmax_params:
        float min
        float max
    ctypedef struct edgert_f32_unary_params:
        float alpha, beta, min, max
    ctypedef struct edgert_f32_dwconv_args:
        const float* input
        float* output
        const float* packed
        size_t H, W, C, OH, OW
        size_t KH, KW, SH, SW, DH, DW, pad_top, pad_left
        float min, max
    ctypedef struct edgert_f32_conv_stem_args:
        const float* input
        float* output
        const float* packed
        size_t H, W, C_in, C_out, OH, OW, KH, KW, SH, SW, DH, DW, pad_top, pad_left
        float min, max
    ctypedef struct edgert_f32_pool_args:
        const float* input
        float* output
        size_t H, W, C, OH, OW, KH, KW, SH, SW, DH, DW, pad_top, pad_left
        int count_include_pad
        float min, max
    ctypedef void (*edgert_f32_gemm_fn)(size_t M, size_t N, size_t K, const float* A, size_t lda,
                                        const float* packed, float* C, size_t ldc,
                                        const edgert_f32_minmax_params* params) noexcept nogil
    ctypedef void (*edgert_f32_conv_stem_fn)(const edgert_f32_conv_stem_args* a, size_t p0,
                                             size_t p1) noexcept nogil
    ctypedef void (*edgert_f32_dwconv_fn)(const edgert_f32_dwconv_args* args, size_t oy0,
                                          size_t oy1) noexcept nogil
    ctypedef void (*edgert_f32_pool_fn)(const edgert_f32_pool_args* args, size_t oy0,
                                        size_t oy1) noexcept nogil
    ctypedef void (*edgert_f32_global_avgpool_fn)(size_t pixels, size_t C, const float* input,
                                                  float* output) noexcept nogil
    ctypedef void (*edgert_f32_vunary_fn)(size_t n, const float* x, float* y,
                                          const edgert_f32_unary_params* p) noexcept nogil
    ctypedef void (*edgert_f32_vprelu_fn)(size_t rows, size_t channels, const float* x,
                                          const float* slope, float* y) noexcept nogil
    ctypedef void (*edgert_f32_vbinary_fn)(size_t n, const float* a, const float* b, float* y,
                                           const edgert_f32_minmax_params* p) noexcept nogil

    enum: BENCH_GEMM, BENCH_CONV_STEM, BENCH_DWCONV, BENCH_MAXPOOL, BENCH_AVGPOOL, BENCH_GLOBAL_AVGPOOL
    enum: BENCH_UNARY, BENCH_PRELU, BENCH_BINARY
    enum: BENCH_VV, BENCH_VC, BENCH_RVC
    enum: EDGERT_UNARY_CLAMP, EDGERT_UNARY_HARDSIGMOID, EDGERT_UNARY_LEAKYRELU, EDGERT_UNARY_ELU
    enum: EDGERT_BINARY_DIV

    ctypedef struct bench_variant:
        int kind
        const char* name
        int isa
        int op
        int arg
        size_t mr, nr
        edgert_f32_gemm_fn gemm
        edgert_f32_conv_stem_fn conv_stem
        edgert_f32_dwconv_fn dwconv
        edgert_f32_pool_fn pool
        edgert_f32_global_avgpool_fn global_avgpool
        edgert_f32_vunary_fn unary
        edgert_f32_vprelu_fn prelu
        edgert_f32_vbinary_fn binary

    size_t bench_variant_count()
    const bench_variant* bench_variant_at(size_t i)
    const char* bench_isa_name(int isa)
    int bench_runnable(const bench_variant* v)
    int bench_dispatched(const bench_variant* v, size_t k, size_t s)
    size_t edgert_f32_gemm_packed_floats(size_t K, size_t N, size_t nr)
    void edgert_f32_gemm_pack(size_t K, size_t N, size_t nr, const float* B, size_t b_k_stride,
                              size_t b_n_stride, const float* bias, float* packed)
    size_t edgert_f32_conv_stem_packed_floats(size_t C_in, size_t C_out, size_t KH, size_t KW)
    void edgert_f32_conv_stem_pack(size_t C_in, size_t C_out, size_t KH, size_t KW,
                                   const float* weights, const float* bias, float* packed)
    size_t edgert_f32_dwconv_packed_floats(size_t C, size_t KH, size_t KW)
    void edgert_f32_dwconv_pack(size_t C, size_t KH, size_t KW, const float* weights,
                                const float* bias, float* packed)

_KINDS = {BENCH_GEMM: "gemm", BENCH_CONV_STEM: "conv_stem", BENCH_DWCONV: "dwconv", BENCH_MAXPOOL: "maxpool",
          BENCH_AVGPOOL: "avgpool", BENCH_GLOBAL_AVGPOOL: "global_avgpool", BENCH_UNARY: "unary",
          BENCH_PRELU: "prelu", BENCH_BINARY: "binary"}
_FORMS = {BENCH_VV: "vv", BENCH_VC: "vc", BENCH_RVC: "rvc"}


def variants():
    """Every variant compiled into this build: name, kind, isa, whether this CPU may run it,
    and for depthwise the kernel/stride it is specialised for (0: any)."""
    out = []
    cdef const bench_variant* v
    cdef size_t i
    for i in range(bench_variant_count()):
        v = bench_variant_at(i)
        row = {"name": v.name.decode(), "kind": _KINDS[v.kind], "isa": bench_isa_name(v.isa).decode(),
               "runnable": bool(bench_runnable(v))}
        if v.kind == BENCH_DWCONV:
            row["kernel"], row["stride"] = v.op, v.arg
        elif v.kind == BENCH_BINARY:
            row["form"] = _FORMS[v.arg]
        elif v.kind == BENCH_GEMM:
            row["mr"], row["nr"] = v.mr, v.nr
        out.append(row)
    return out


cdef const bench_variant* find_variant(str name, int kind) except NULL:
    cdef const bench_variant* v
    cdef size_t i
    for i in range(bench_variant_count()):
        v = bench_variant_at(i)
        if v.kind == kind and v.name.decode() == name:
            if not bench_runnable(v):
                raise RuntimeError(f"{name} cannot run on this CPU (or EDGERT_KERNELS=scalar is set)")
            return v
    raise ValueError(f"no {_KINDS[kind]} variant named {name!r} in this build")


cdef inline double now() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec + ts.tv_nsec * 1e-9


cdef float* data(cnp.ndarray a) noexcept:
    return <float*>cnp.PyArray_DATA(a)


def _aligned(size_t n, rng=None, low=-4.0, high=4.0):
    """n float32 values starting on a 64-byte boundary (as the runtime's arena and packed
    weights do), random when rng is given."""
    buf = np.empty(n + 16, dtype=np.float32)
    cdef size_t shift = ((64 - (<size_t>cnp.PyArray_DATA(buf)) % 64) % 64) // 4
    a = buf[shift:shift + n]
    if rng is not None:
        a[:] = rng.uniform(low, high, n)
    return a


cdef class KernelBench:
    """One variant prepared on one shape. work: MACs (compute kernels) or bytes moved (memory
    bound ones) per call, per unit."""
    cdef const bench_variant* v
    cdef object keep
    cdef readonly str variant, unit
    cdef readonly double work
    cdef readonly bint dispatched

    cdef void call(self, size_t n) noexcept nogil:
        pass

    def run(self, size_t calls=1):
        """Calls the variant `calls` times (one Python call; for pytest-benchmark)."""
        with nogil:
            self.call(calls)

    def calls_for(self, double seconds):
        """How many back-to-back calls take at least `seconds` (doubling from one), so short
        kernels are timed over many calls and the clock's resolution does not matter."""
        cdef size_t n = 1
        cdef double t0, elapsed
        with nogil:
            self.call(1)  # first touch of buffers and code
            while True:
                t0 = now()
                self.call(n)
                elapsed = now() - t0
                if elapsed >= seconds or n >= (<size_t>1 << 40):
                    break
                n *= 2
        return n

    def seconds_per_call(self, size_t calls):
        """Mean seconds of one call over `calls` back-to-back calls."""
        cdef double t0, elapsed
        with nogil:
            t0 = now()
            self.call(calls)
            elapsed = now() - t0
        return elapsed / calls


cdef class GemmBench(KernelBench):
    """C[M,N] = A[M,K] x B[K,N] + bias (a 1x1 conv over M pixels, or a fully connected layer)."""
    cdef size_t M, N, K
    cdef const float* A
    cdef const float* packed
    cdef float* C
    cdef edgert_f32_minmax_params params

    def __init__(self, str variant, size_t M, size_t N, size_t K, seed=0):
        self.v = find_variant(variant, BENCH_GEMM)
        rng = np.random.default_rng(seed)
        self.M, self.N, self.K = M, N, K
        A = _aligned(M * K, rng)
        B = _aligned(K * N, rng)
        bias = _aligned(N, rng)
        packed = _aligned(edgert_f32_gemm_packed_floats(K, N, self.v.nr))
        edgert_f32_gemm_pack(K, N, self.v.nr, data(B), N, 1, data(bias), data(packed))
        C = _aligned(M * N)
        self.A, self.packed, self.C = data(A), data(packed), data(C)
        self.keep = (A, packed, C)
        self.params.min, self.params.max = -np.inf, np.inf
        self.variant, self.unit, self.work = variant, "MAC", float(M * N * K)
        self.dispatched = bench_dispatched(self.v, 0, 0)

    cdef void call(self, size_t n) noexcept nogil:
        cdef size_t i
        for i in range(n):
            self.v.gemm(self.M, self.N, self.K, self.A, self.K, self.packed, self.C, self.N,
                        &self.params)


cdef class ConvStemBench(KernelBench):
    """A network's first conv: K x K, stride S, padding K // 2, C_in -> C_out, NCHW image in,
    NHWC out."""
    cdef edgert_f32_conv_stem_args args

    def __init__(self, str variant, size_t H, size_t W, size_t C_in, size_t C_out, size_t K, size_t S,
                 seed=0):
        self.v = find_variant(variant, BENCH_CONV_STEM)
        rng = np.random.default_rng(seed)
        pad = K // 2
        OH, OW = (H + 2 * pad - K) // S + 1, (W + 2 * pad - K) // S + 1
        x = _aligned(C_in * H * W, rng)
        weights = _aligned(C_out * C_in * K * K, rng)
        bias = _aligned(C_out, rng)
        packed = _aligned(edgert_f32_conv_stem_packed_floats(C_in, C_out, K, K))
        edgert_f32_conv_stem_pack(C_in, C_out, K, K, data(weights), data(bias), data(packed))
        y = _aligned(OH * OW * C_out)
        self.keep = (x, packed, y)
        self.args.input, self.args.output, self.args.packed = data(x), data(y), data(packed)
        self.args.H, self.args.W, self.args.C_in, self.args.C_out = H, W, C_in, C_out
        self.args.OH, self.args.OW, self.args.KH, self.args.KW = OH, OW, K, K
        self.args.SH, self.args.SW, self.args.DH, self.args.DW = S, S, 1, 1
        self.args.pad_top, self.args.pad_left = pad, pad
        self.args.min, self.args.max = -np.inf, np.inf
        self.variant, self.unit, self.work = variant, "MAC", float(OH * OW * C_out * C_in * K * K)
        self.dispatched = bench_dispatched(self.v, 0, 0)

    cdef void call(self, size_t n) noexcept nogil:
        cdef size_t i
        for i in range(n):
            self.v.conv_stem(&self.args, 0, self.args.OH * self.args.OW)


cdef class DwconvBench(KernelBench):
    """Depthwise KxK conv, stride S, 'same' padding, on an H x W x C NHWC image."""
    cdef edgert_f32_dwconv_args args

    def __init__(self, str variant, size_t H, size_t W, size_t C, size_t K, size_t S, seed=0):
        self.v = find_variant(variant, BENCH_DWCONV)
        if self.v.op and (<size_t>self.v.op != K or <size_t>self.v.arg != S):
            raise ValueError(f"{variant} only computes {self.v.op}x{self.v.op} stride {self.v.arg}")
        rng = np.random.default_rng(seed)
        pad = K // 2
        OH, OW = (H + 2 * pad - K) // S + 1, (W + 2 * pad - K) // S + 1
        x = _aligned(H * W * C, rng)
        weights = _aligned(C * K * K, rng)
        bias = _aligned(C, rng)
        packed = _aligned(edgert_f32_dwconv_packed_floats(C, K, K))
        edgert_f32_dwconv_pack(C, K, K, data(weights), data(bias), data(packed))
        y = _aligned(OH * OW * C)
        self.keep = (x, packed, y)
        self.args.input, self.args.output, self.args.packed = data(x), data(y), data(packed)
        self.args.H, self.args.W, self.args.C, self.args.OH, self.args.OW = H, W, C, OH, OW
        self.args.KH, self.args.KW, self.args.SH, self.args.SW = K, K, S, S
        self.args.DH, self.args.DW, self.args.pad_top, self.args.pad_left = 1, 1, pad, pad
        self.args.min, self.args.max = -np.inf, np.inf
        self.variant, self.unit, self.work = variant, "MAC", float(OH * OW * C * K * K)
        self.dispatched = bench_dispatched(self.v, K, S)

    cdef void call(self, size_t n) noexcept nogil:
        cdef size_t i
        for i in range(n):
            self.v.dwconv(&self.args, 0, self.args.OH)


cdef class PoolBench(KernelBench):
    """Max or average pooling (by the variant's kind), K x K window, stride S, padding K // 2."""
    cdef edgert_f32_pool_args args

    def __init__(self, str variant, size_t H, size_t W, size_t C, size_t K, size_t S, seed=0):
        kind = BENCH_MAXPOOL if "maxpool" in variant else BENCH_AVGPOOL
        self.v = find_variant(variant, kind)
        rng = np.random.default_rng(seed)
        pad = K // 2
        OH, OW = (H + 2 * pad - K) // S + 1, (W + 2 * pad - K) // S + 1
        x = _aligned(H * W * C, rng)
        y = _aligned(OH * OW * C)
        self.keep = (x, y)
        self.args.input, self.args.output = data(x), data(y)
        self.args.H, self.args.W, self.args.C, self.args.OH, self.args.OW = H, W, C, OH, OW
        self.args.KH, self.args.KW, self.args.SH, self.args.SW = K, K, S, S
        self.args.DH, self.args.DW, self.args.pad_top, self.args.pad_left = 1, 1, pad, pad
        self.args.count_include_pad = 0
        self.args.min, self.args.max = -np.inf, np.inf
        self.variant, self.unit, self.work = variant, "byte", 4.0 * (H * W * C + OH * OW * C)
        self.dispatched = bench_dispatched(self.v, 0, 0)

    cdef void call(self, size_t n) noexcept nogil:
        cdef size_t i
        for i in range(n):
            self.v.pool(&self.args, 0, self.args.OH)


cdef class GlobalAvgPoolBench(KernelBench):
    cdef size_t pixels, C
    cdef const float* x
    cdef float* y

    def __init__(self, str variant, size_t pixels, size_t C, seed=0):
        self.v = find_variant(variant, BENCH_GLOBAL_AVGPOOL)
        rng = np.random.default_rng(seed)
        x, y = _aligned(pixels * C, rng), _aligned(C)
        self.keep = (x, y)
        self.pixels, self.C, self.x, self.y = pixels, C, data(x), data(y)
        self.variant, self.unit, self.work = variant, "byte", 4.0 * (pixels * C + C)
        self.dispatched = bench_dispatched(self.v, 0, 0)

    cdef void call(self, size_t n) noexcept nogil:
        cdef size_t i
        for i in range(n):
            self.v.global_avgpool(self.pixels, self.C, self.x, self.y)


cdef class UnaryBench(KernelBench):
    """y = f(x) over n floats, with the parameters the ONNX defaults give."""
    cdef size_t n
    cdef const float* x
    cdef float* y
    cdef edgert_f32_unary_params params

    def __init__(self, str variant, size_t n, seed=0):
        self.v = find_variant(variant, BENCH_UNARY)
        rng = np.random.default_rng(seed)
        x, y = _aligned(n, rng), _aligned(n)
        self.keep = (x, y)
        self.n, self.x, self.y = n, data(x), data(y)
        self.params.alpha, self.params.beta = 1.0, 0.0
        self.params.min, self.params.max = 0.0, 6.0  # Relu6, the common clamp
        if self.v.op == EDGERT_UNARY_HARDSIGMOID:
            self.params.alpha, self.params.beta = 0.2, 0.5
        elif self.v.op == EDGERT_UNARY_LEAKYRELU:
            self.params.alpha = 0.01
        self.variant, self.unit, self.work = variant, "byte", 8.0 * n
        self.dispatched = bench_dispatched(self.v, 0, 0)

    cdef void call(self, size_t n) noexcept nogil:
        cdef size_t i
        for i in range(n):
            self.v.unary(self.n, self.x, self.y, &self.params)


cdef class PreluBench(KernelBench):
    cdef size_t rows, channels
    cdef const float* x
    cdef const float* slope
    cdef float* y

    def __init__(self, str variant, size_t rows, size_t channels, seed=0):
        self.v = find_variant(variant, BENCH_PRELU)
        rng = np.random.default_rng(seed)
        x, slope, y = _aligned(rows * channels, rng), _aligned(channels, rng), _aligned(rows * channels)
        self.keep = (x, slope, y)
        self.rows, self.channels = rows, channels
        self.x, self.slope, self.y = data(x), data(slope), data(y)
        self.variant, self.unit, self.work = variant, "byte", 8.0 * rows * channels
        self.dispatched = bench_dispatched(self.v, 0, 0)

    cdef void call(self, size_t n) noexcept nogil:
        cdef size_t i
        for i in range(n):
            self.v.prelu(self.rows, self.channels, self.x, self.slope, self.y)


cdef class BinaryBench(KernelBench):
    """y = a op b over n floats (b one scalar for the vc / rvc forms)."""
    cdef size_t n
    cdef const float* a
    cdef const float* b
    cdef float* y
    cdef edgert_f32_minmax_params params

    def __init__(self, str variant, size_t n, seed=0):
        self.v = find_variant(variant, BENCH_BINARY)
        rng = np.random.default_rng(seed)
        vector_b = self.v.arg == BENCH_VV
        # divisors away from zero: denormal or infinite quotients would time a slow path
        low = 0.5 if self.v.op == EDGERT_BINARY_DIV else -4.0
        a, y = _aligned(n, rng, low, 4.0), _aligned(n)
        b = _aligned(n if vector_b else 1, rng, low, 4.0)
        self.keep = (a, b, y)
        self.n, self.a, self.b, self.y = n, data(a), data(b), data(y)
        self.params.min, self.params.max = -np.inf, np.inf
        self.variant, self.unit, self.work = variant, "byte", 4.0 * n * (3 if vector_b else 2)
        self.dispatched = bench_dispatched(self.v, 0, 0)

    cdef void call(self, size_t n) noexcept nogil:
        cdef size_t i
        for i in range(n):
            self.v.binary(self.n, self.a, self.b, self.y, &self.params)
