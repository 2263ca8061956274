# Private bridge from the planner to the C operator layer (edgert._ops._kernels).
#
# Each native step is a small cdef class built once at plan time: it checks its arrays
# (float32, C-contiguous, sizes consistent), keeps references so they stay alive, stores
# raw pointers and the geometry, and its __call__ runs the operator with the GIL released.
# Plans call thousands of these per second, so __call__ does no Python-level work.

cimport numpy as cnp
import numpy as np

cnp.import_array()

cdef extern from "edgert/threadpool.h":
    ctypedef struct edgert_threadpool:
        pass
    edgert_threadpool* edgert_threadpool_create(size_t threads)
    void edgert_threadpool_destroy(edgert_threadpool* pool)

cdef extern from "edgert/cpu.h":
    ctypedef struct edgert_cpu_features:
        int avx2_fma
        int avx512_vnni
        int neon
        int neon_dot
        int neon_i8mm
    const edgert_cpu_features* edgert_cpu()

cdef extern from "edgert/f32-conv-stem.h":
    size_t edgert_f32_conv_stem_packed_floats(size_t C_in, size_t C_out, size_t KH, size_t KW)
    void edgert_f32_conv_stem_pack(size_t C_in, size_t C_out, size_t KH, size_t KW,
                                   const float* weights, const float* bias, float* packed)

cdef extern from "edgert/f32-dwconv.h":
    size_t edgert_f32_dwconv_packed_floats(size_t C, size_t KH, size_t KW)
    void edgert_f32_dwconv_pack(size_t C, size_t KH, size_t KW, const float* weights,
                                const float* bias, float* packed)

cdef extern from "edgert/operators.h":
    ctypedef struct edgert_f32_unary_params:
        float alpha, beta, min, max
    ctypedef struct edgert_dispatch_table:
        const char* isa
        const char* gemm_name
        size_t gemm_mr, gemm_nr
    const edgert_dispatch_table* edgert_dispatch()
    ctypedef struct edgert_conv_shape:
        size_t batch, H, W, C_in, OH, OW, C_out, groups
        size_t KH, KW, SH, SW, DH, DW, pad_top, pad_left
        float min, max
    size_t edgert_gemm_packed_floats(size_t K, size_t N)
    void edgert_gemm_pack(size_t K, size_t N, const float* B, size_t k_stride, size_t n_stride,
                          const float* bias, float* packed)
    void edgert_op_gemm(edgert_threadpool* pool, size_t M, size_t N, size_t K, const float* A,
                        size_t lda, const float* packed, float* C, size_t ldc, float min, float max) nogil
    int edgert_op_conv2d(edgert_threadpool* pool, const edgert_conv_shape* s, const float* input,
                         const float* packed, float* output) nogil
    void edgert_op_conv_stem(edgert_threadpool* pool, const edgert_conv_shape* s, const float* input,
                             const float* packed, float* output) nogil
    void edgert_op_dwconv2d(edgert_threadpool* pool, const edgert_conv_shape* s, const float* input,
                            const float* packed, float* output) nogil
    int edgert_op_dwconv_pw(edgert_threadpool* pool, const edgert_conv_shape* dw, const float* input,
                            const float* dw_packed, const float* pw_packed, size_t pw_cout,
                            float pw_min, float pw_max, float* output) nogil
    ctypedef struct edgert_gnconv_shape:
        size_t batch, H, W, dim, order, kernel
        size_t dims[8]
        float out_min, out_max
    size_t edgert_gnconv_scratch_floats(const edgert_gnconv_shape* s)
    int edgert_op_gnconv(edgert_threadpool* pool, const edgert_gnconv_shape* s, const float* input,
                         const float* in_pwa, const float* in_abc, const float* dw,
                         const float* const* pws, const float* out, float* scratch, float* output) nogil
    int edgert_op_conv_transpose2d(edgert_threadpool* pool, const edgert_conv_shape* s,
                                   const float* input, const float* packed, const float* bias,
                                   float* output) nogil
    void edgert_op_pool2d(edgert_threadpool* pool, int kind, const edgert_conv_shape* s,
                          int count_include_pad, const float* input, float* output) nogil
    void edgert_op_global_avgpool(edgert_threadpool* pool, size_t batch, size_t pixels, size_t C,
                                  const float* input, float* output) nogil
    void edgert_op_unary(edgert_threadpool* pool, int op, size_t n, const float* x, float* y,
                         const edgert_f32_unary_params* params) nogil
    void edgert_op_prelu(edgert_threadpool* pool, size_t rows, size_t channels, const float* x,
                         const float* slope, float* y) nogil
    void edgert_op_binary(edgert_threadpool* pool, int op, size_t rows, size_t cols,
                          const float* a, size_t a_rs, size_t a_cs, const float* b, size_t b_rs,
                          size_t b_cs, float* y, float min, float max) nogil
    void edgert_op_transpose2d_x32(edgert_threadpool* pool, size_t batch, size_t rows, size_t cols,
                                   const unsigned int* x, unsigned int* y) nogil

UNARY_OPS = ("clamp", "sigmoid", "tanh", "hardsigmoid", "hardswish", "swish", "gelu",
             "gelu_tanh", "leakyrelu", "elu", "exp")
BINARY_OPS = ("add", "sub", "mul", "div", "max", "min")


def cpu_features():
    """Features the dispatch table sees (after EDGERT_KERNELS=scalar, if set)."""
    cdef const edgert_cpu_features* f = edgert_cpu()
    return {"avx2_fma": bool(f.avx2_fma), "avx512_vnni": bool(f.avx512_vnni), "neon": bool(f.neon),
            "neon_dot": bool(f.neon_dot), "neon_i8mm": bool(f.neon_i8mm)}


def dispatch_info():
    cdef const edgert_dispatch_table* d = edgert_dispatch()
    return {"isa": d.isa.decode(), "gemm": d.gemm_name.decode(), "gemm_mr": d.gemm_mr,
            "gemm_nr": d.gemm_nr}


cdef class ThreadPool:
    """A pool of `threads` threads (the caller counts as one)."""
    cdef edgert_threadpool* ptr
    cdef readonly size_t threads

    def __cinit__(self, size_t threads):
        self.ptr = edgert_threadpool_create(threads)
        if self.ptr == NULL:
            raise MemoryError(f"cannot start a pool of {threads} threads")
        self.threads = threads

    def __dealloc__(self):
        if self.ptr != NULL:
            edgert_threadpool_destroy(self.ptr)
            self.ptr = NULL


cdef float* f32_ptr(object arr, str what) except NULL:
    """Raw pointer of a C-contiguous float32 array, or TypeError."""
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"{what}: expected ndarray, got {type(arr).__name__}")
    cdef cnp.ndarray a = <cnp.ndarray>arr
    if cnp.PyArray_TYPE(a) != cnp.NPY_FLOAT32 or not cnp.PyArray_IS_C_CONTIGUOUS(a):
        raise TypeError(f"{what}: expected a C-contiguous float32 array, got {arr.dtype} "
                        f"with strides {arr.strides}")
    return <float*>cnp.PyArray_DATA(a)


cdef void expect_size(object arr, size_t n, str what) except *:
    if <size_t>arr.size < n:
        raise ValueError(f"{what}: needs {n} elements, has {arr.size}")


def aligned_f32(size_t n):
    """An uninitialised float32 array whose data starts on a 64-byte boundary: packed weight
    panels then sit on whole cache lines (unaligned panels cost up to 30% in the GEMM)."""
    buf = np.empty(n + 16, dtype=np.float32)
    cdef size_t shift = ((64 - (<size_t>cnp.PyArray_DATA(buf)) % 64) % 64) // 4
    return buf[shift:shift + n]


def gemm_pack(B, bias=None):
    """Pack weights B[K, N] (any float32 strides) with optional bias[N] for this CPU's GEMM."""
    B = np.asarray(B, dtype=np.float32)
    if B.ndim != 2:
        raise ValueError("gemm_pack: B must be 2-D [K, N]")
    cdef size_t K = B.shape[0], N = B.shape[1]
    Bc = np.ascontiguousarray(B)
    cdef float* bias_ptr = NULL
    if bias is not None:
        bias = np.ascontiguousarray(bias, dtype=np.float32).reshape(-1)
        expect_size(bias, N, "gemm_pack bias")
        bias_ptr = f32_ptr(bias, "bias")
    packed = aligned_f32(edgert_gemm_packed_floats(K, N))
    edgert_gemm_pack(K, N, f32_ptr(Bc, "B"), N, 1, bias_ptr, f32_ptr(packed, "packed"))
    return packed


def dwconv_pack(weights, bias=None):
    """Pack depthwise weights [C, 1, KH, KW] with optional bias[C]."""
    w = np.ascontiguousarray(weights, dtype=np.float32)
    if w.ndim != 4 or w.shape[1] != 1:
        raise ValueError("dwconv_pack: weights must be [C, 1, KH, KW]")
    cdef size_t C = w.shape[0], KH = w.shape[2], KW = w.shape[3]
    cdef float* bias_ptr = NULL
    if bias is not None:
        bias = np.ascontiguousarray(bias, dtype=np.float32).reshape(-1)
        expect_size(bias, C, "dwconv_pack bias")
        bias_ptr = f32_ptr(bias, "bias")
    packed = aligned_f32(edgert_f32_dwconv_packed_floats(C, KH, KW))
    edgert_f32_dwconv_pack(C, KH, KW, f32_ptr(w, "weights"), bias_ptr, f32_ptr(packed, "packed"))
    return packed


def conv_stem_pack(weights, bias=None):
    """Pack stem conv weights [C_out, C_in, KH, KW] with optional bias[C_out]."""
    w = np.ascontiguousarray(weights, dtype=np.float32)
    if w.ndim != 4:
        raise ValueError("conv_stem_pack: weights must be [C_out, C_in, KH, KW]")
    cdef size_t C_out = w.shape[0], C_in = w.shape[1], KH = w.shape[2], KW = w.shape[3]
    cdef float* bias_ptr = NULL
    if bias is not None:
        bias = np.ascontiguousarray(bias, dtype=np.float32).reshape(-1)
        expect_size(bias, C_out, "conv_stem_pack bias")
        bias_ptr = f32_ptr(bias, "bias")
    packed = aligned_f32(edgert_f32_conv_stem_packed_floats(C_in, C_out, KH, KW))
    edgert_f32_conv_stem_pack(C_in, C_out, KH, KW, f32_ptr(w, "weights"), bias_ptr, f32_ptr(packed, "packed"))
    return packed


def gemm_packed_floats(size_t K, size_t N):
    return edgert_gemm_packed_floats(K, N)


cdef class Gemm:
    """C[M, N] = clamp(A[M, K] @ B + bias); A rows may be strided (lda >= K)."""
    cdef edgert_threadpool* pool
    cdef object refs
    cdef const float* A
    cdef const float* packed
    cdef float* C
    cdef size_t M, N, K, lda, ldc
    cdef float lo, hi

    def __init__(self, ThreadPool pool, A, packed, C, size_t M, size_t N, size_t K, size_t lda,
                 size_t ldc, float lo, float hi):
        self.refs = (pool, A, packed, C)
        self.pool = pool.ptr
        self.A = f32_ptr(A, "A")
        self.packed = f32_ptr(packed, "packed")
        self.C = f32_ptr(C, "C")
        expect_size(A, (M - 1) * lda + K, "A")
        expect_size(C, (M - 1) * ldc + N, "C")
        expect_size(packed, edgert_gemm_packed_floats(K, N), "packed")
        self.M, self.N, self.K, self.lda, self.ldc, self.lo, self.hi = M, N, K, lda, ldc, lo, hi

    def __call__(self):
        with nogil:
            edgert_op_gemm(self.pool, self.M, self.N, self.K, self.A, self.lda, self.packed,
                           self.C, self.ldc, self.lo, self.hi)


cdef edgert_conv_shape conv_shape(dict g) except *:
    cdef edgert_conv_shape s
    s.batch, s.H, s.W, s.C_in = g["batch"], g["H"], g["W"], g["C_in"]
    s.OH, s.OW, s.C_out, s.groups = g["OH"], g["OW"], g["C_out"], g["groups"]
    s.KH, s.KW, s.SH, s.SW = g["KH"], g["KW"], g["SH"], g["SW"]
    s.DH, s.DW, s.pad_top, s.pad_left = g["DH"], g["DW"], g["pad_top"], g["pad_left"]
    s.min, s.max = g.get("min", -np.inf), g.get("max", np.inf)
    if s.groups == 0 or s.C_in % s.groups or s.C_out % s.groups:
        raise ValueError("channels must divide into groups")
    return s


cdef class WindowOp:
    """Conv2d / depthwise / ConvTranspose / pooling over NHWC tensors; geometry is a dict
    with batch, H, W, C_in, OH, OW, C_out, groups, KH, KW, SH, SW, DH, DW, pad_top,
    pad_left, min, max."""
    cdef edgert_threadpool* pool
    cdef object refs
    cdef edgert_conv_shape s
    cdef const float* x
    cdef const float* packed
    cdef const float* bias
    cdef float* y
    cdef int kind, count_include_pad

    KINDS = {"conv": 0, "dwconv": 1, "conv_transpose": 2, "maxpool": 3, "avgpool": 4, "conv_stem": 5}

    def __init__(self, ThreadPool pool, str kind, dict geometry, x, y, packed=None, bias=None,
                 bint count_include_pad=False):
        self.refs = (pool, x, y, packed, bias)
        self.pool = pool.ptr
        self.kind = WindowOp.KINDS[kind]
        self.s = conv_shape(geometry)
        self.x = f32_ptr(x, "input")
        self.y = f32_ptr(y, "output")
        expect_size(x, self.s.batch * self.s.H * self.s.W * self.s.C_in, "input")
        expect_size(y, self.s.batch * self.s.OH * self.s.OW * self.s.C_out, "output")
        self.packed = f32_ptr(packed, "packed") if packed is not None else NULL
        self.bias = f32_ptr(bias, "bias") if bias is not None else NULL
        if self.kind in (0, 1, 2, 5) and self.packed == NULL:
            raise ValueError(f"{kind} needs packed weights")
        self.count_include_pad = count_include_pad

    def __call__(self):
        cdef int rc = 0
        with nogil:
            if self.kind == 0:
                rc = edgert_op_conv2d(self.pool, &self.s, self.x, self.packed, self.y)
            elif self.kind == 1:
                edgert_op_dwconv2d(self.pool, &self.s, self.x, self.packed, self.y)
            elif self.kind == 5:
                edgert_op_conv_stem(self.pool, &self.s, self.x, self.packed, self.y)
            elif self.kind == 2:
                rc = edgert_op_conv_transpose2d(self.pool, &self.s, self.x, self.packed, self.bias,
                                                self.y)
            else:
                edgert_op_pool2d(self.pool, self.kind - 3, &self.s, self.count_include_pad,
                                 self.x, self.y)
        if rc != 0:
            raise MemoryError("out of memory for convolution scratch")


cdef class DepthwisePointwise:
    """Depthwise conv (geometry dict as WindowOp, C_out == C_in) fused with a following 1x1
    conv to pw_cout channels; output [batch, OH, OW, pw_cout]."""
    cdef edgert_threadpool* pool
    cdef object refs
    cdef edgert_conv_shape s
    cdef const float* x
    cdef const float* dw_packed
    cdef const float* pw_packed
    cdef float* y
    cdef size_t pw_cout
    cdef float lo, hi

    def __init__(self, ThreadPool pool, dict geometry, x, y, dw_packed, pw_packed, size_t pw_cout,
                 float lo, float hi):
        self.refs = (pool, x, y, dw_packed, pw_packed)
        self.pool = pool.ptr
        self.s = conv_shape(geometry)
        if self.s.C_out != self.s.C_in or self.s.groups != self.s.C_in:
            raise ValueError("DepthwisePointwise: the first conv must be depthwise")
        self.x = f32_ptr(x, "input")
        self.y = f32_ptr(y, "output")
        self.dw_packed = f32_ptr(dw_packed, "dw_packed")
        self.pw_packed = f32_ptr(pw_packed, "pw_packed")
        expect_size(x, self.s.batch * self.s.H * self.s.W * self.s.C_in, "input")
        expect_size(y, self.s.batch * self.s.OH * self.s.OW * pw_cout, "output")
        expect_size(dw_packed, edgert_f32_dwconv_packed_floats(self.s.C_in, self.s.KH, self.s.KW), "dw_packed")
        expect_size(pw_packed, edgert_gemm_packed_floats(self.s.C_in, pw_cout), "pw_packed")
        self.pw_cout, self.lo, self.hi = pw_cout, lo, hi

    def __call__(self):
        cdef int rc
        with nogil:
            rc = edgert_op_dwconv_pw(self.pool, &self.s, self.x, self.dw_packed, self.pw_packed,
                                     self.pw_cout, self.lo, self.hi, self.y)
        if rc != 0:
            raise MemoryError("out of memory for depthwise scratch")


GNCONV_MAX_ORDER = 8


cdef class GnConv:
    """HorNet's gnConv as one operator (edgert/operators.h): x [batch, H, W, dim] NHWC ->
    output of the same shape. packed: dict of gemm_pack / dwconv_pack results, keys in_pwa,
    in_abc, dw, out and pws (a list of order - 1)."""
    cdef edgert_threadpool* pool
    cdef object refs
    cdef edgert_gnconv_shape s
    cdef const float* x
    cdef float* y
    cdef const float* in_pwa
    cdef const float* in_abc
    cdef const float* dw
    cdef const float* out
    cdef const float* pws[8]
    cdef float* scratch

    def __init__(self, ThreadPool pool, x, y, size_t batch, size_t H, size_t W, list dims, size_t kernel,
                 dict packed, float out_min, float out_max):
        cdef size_t order = len(dims), dim, i
        if not 1 <= order <= GNCONV_MAX_ORDER or kernel % 2 == 0:
            raise ValueError(f"GnConv: order {order} (1..{GNCONV_MAX_ORDER}) and odd kernel {kernel} expected")
        dim = dims[order - 1]
        for i in range(order):
            if dims[i] * (1 << (order - 1 - i)) != dim:
                raise ValueError(f"GnConv: widths {dims} are not dim / 2^(order-1-i)")
            self.s.dims[i] = dims[i]
        self.s.batch, self.s.H, self.s.W, self.s.dim, self.s.order, self.s.kernel = batch, H, W, dim, order, kernel
        self.s.out_min, self.s.out_max = out_min, out_max
        pws = list(packed["pws"])
        if len(pws) != order - 1:
            raise ValueError(f"GnConv: {len(pws)} pws packings for order {order}")
        gates = sum(dims)
        expect_size(x, batch * H * W * dim, "input")
        expect_size(y, batch * H * W * dim, "output")
        expect_size(packed["in_pwa"], edgert_gemm_packed_floats(dim, dims[0]), "in_pwa")
        expect_size(packed["in_abc"], edgert_gemm_packed_floats(dim, gates), "in_abc")
        expect_size(packed["dw"], edgert_f32_dwconv_packed_floats(gates, kernel, kernel), "dw")
        expect_size(packed["out"], edgert_gemm_packed_floats(dim, dim), "out")
        for i in range(order - 1):
            expect_size(pws[i], edgert_gemm_packed_floats(dims[i], dims[i + 1]), f"pws[{i}]")
            self.pws[i] = f32_ptr(pws[i], f"pws[{i}]")
        scratch = aligned_f32(edgert_gnconv_scratch_floats(&self.s))
        self.refs = (pool, x, y, packed, pws, scratch)
        self.pool = pool.ptr
        self.x, self.y = f32_ptr(x, "input"), f32_ptr(y, "output")
        self.in_pwa, self.in_abc = f32_ptr(packed["in_pwa"], "in_pwa"), f32_ptr(packed["in_abc"], "in_abc")
        self.dw, self.out = f32_ptr(packed["dw"], "dw"), f32_ptr(packed["out"], "out")
        self.scratch = f32_ptr(scratch, "scratch")

    def __call__(self):
        cdef int rc
        with nogil:
            rc = edgert_op_gnconv(self.pool, &self.s, self.x, self.in_pwa, self.in_abc, self.dw, self.pws,
                                  self.out, self.scratch, self.y)
        if rc != 0:
            raise MemoryError("out of memory for gnConv scratch")


cdef class GlobalAvgPool:
    cdef edgert_threadpool* pool
    cdef object refs
    cdef const float* x
    cdef float* y
    cdef size_t batch, pixels, C

    def __init__(self, ThreadPool pool, x, y, size_t batch, size_t pixels, size_t C):
        self.refs = (pool, x, y)
        self.pool = pool.ptr
        self.x = f32_ptr(x, "input")
        self.y = f32_ptr(y, "output")
        expect_size(x, batch * pixels * C, "input")
        expect_size(y, batch * C, "output")
        self.batch, self.pixels, self.C = batch, pixels, C

    def __call__(self):
        with nogil:
            edgert_op_global_avgpool(self.pool, self.batch, self.pixels, self.C, self.x, self.y)


cdef class Unary:
    """y = op(x) elementwise over n floats; y may be x."""
    cdef edgert_threadpool* pool
    cdef object refs
    cdef const float* x
    cdef float* y
    cdef size_t n
    cdef int op
    cdef edgert_f32_unary_params params

    def __init__(self, ThreadPool pool, str op, x, y, float alpha=0.0, float beta=0.0,
                 float lo=-np.inf, float hi=np.inf):
        self.refs = (pool, x, y)
        self.pool = pool.ptr
        self.op = UNARY_OPS.index(op)
        self.x = f32_ptr(x, "input")
        self.y = f32_ptr(y, "output")
        if x.size != y.size:
            raise ValueError("unary: input and output sizes differ")
        self.n = x.size
        self.params.alpha, self.params.beta, self.params.min, self.params.max = alpha, beta, lo, hi

    def __call__(self):
        with nogil:
            edgert_op_unary(self.pool, self.op, self.n, self.x, self.y, &self.params)


cdef class PRelu:
    """NHWC rows x channels with a per-channel slope."""
    cdef edgert_threadpool* pool
    cdef object refs
    cdef const float* x
    cdef const float* slope
    cdef float* y
    cdef size_t rows, channels

    def __init__(self, ThreadPool pool, x, slope, y, size_t channels):
        self.refs = (pool, x, slope, y)
        self.pool = pool.ptr
        self.x = f32_ptr(x, "input")
        self.slope = f32_ptr(slope, "slope")
        self.y = f32_ptr(y, "output")
        expect_size(slope, channels, "slope")
        if channels == 0 or x.size % channels or x.size != y.size:
            raise ValueError("prelu: sizes do not match channels")
        self.rows, self.channels = x.size // channels, channels

    def __call__(self):
        with nogil:
            edgert_op_prelu(self.pool, self.rows, self.channels, self.x, self.slope, self.y)


cdef class Binary:
    """y[r, c] = clamp(a[r*a_rs + c*a_cs] op b[r*b_rs + c*b_cs]) with column strides 0 or 1."""
    cdef edgert_threadpool* pool
    cdef object refs
    cdef const float* a
    cdef const float* b
    cdef float* y
    cdef size_t rows, cols, a_rs, a_cs, b_rs, b_cs
    cdef int op
    cdef float lo, hi

    def __init__(self, ThreadPool pool, str op, size_t rows, size_t cols, a, size_t a_rs,
                 size_t a_cs, b, size_t b_rs, size_t b_cs, y, float lo=-np.inf, float hi=np.inf):
        self.refs = (pool, a, b, y)
        self.pool = pool.ptr
        self.op = BINARY_OPS.index(op)
        if a_cs > 1 or b_cs > 1 or (a_cs == 0 and b_cs == 0):
            raise ValueError("binary: column strides must be 0 or 1, not both 0")
        self.a = f32_ptr(a, "a")
        self.b = f32_ptr(b, "b")
        self.y = f32_ptr(y, "y")
        if rows and cols:
            expect_size(a, (rows - 1) * a_rs + (cols - 1) * a_cs + 1, "a")
            expect_size(b, (rows - 1) * b_rs + (cols - 1) * b_cs + 1, "b")
            expect_size(y, rows * cols, "y")
        self.rows, self.cols, self.a_rs, self.a_cs, self.b_rs, self.b_cs = rows, cols, a_rs, a_cs, b_rs, b_cs
        self.lo, self.hi = lo, hi

    def __call__(self):
        with nogil:
            edgert_op_binary(self.pool, self.op, self.rows, self.cols, self.a, self.a_rs,
                             self.a_cs, self.b, self.b_rs, self.b_cs, self.y, self.lo, self.hi)


cdef extern from "edgert/qs8-operators.h":
    void edgert_op_transpose2d_x8(edgert_threadpool* pool, size_t batch, size_t rows, size_t cols,
                                  const unsigned char* x, unsigned char* y) nogil


cdef class Transpose2d:
    """Per batch, x[rows][cols] -> y[cols][rows] for 4-byte or 1-byte elements (NCHW <-> NHWC)."""
    cdef edgert_threadpool* pool
    cdef object refs
    cdef const void* x
    cdef void* y
    cdef size_t batch, rows, cols, itemsize

    def __init__(self, ThreadPool pool, x, y, size_t batch, size_t rows, size_t cols):
        for arr, what in ((x, "input"), (y, "output")):
            if (not isinstance(arr, np.ndarray) or arr.dtype.itemsize not in (1, 4)
                    or not arr.flags.c_contiguous):
                raise TypeError(f"{what}: expected a C-contiguous array of 4-byte or 1-byte elements")
            expect_size(arr, batch * rows * cols, what)
        if x.dtype.itemsize != y.dtype.itemsize:
            raise TypeError("input and output element sizes differ")
        self.refs = (pool, x, y)
        self.pool = pool.ptr
        self.x = cnp.PyArray_DATA(<cnp.ndarray>x)
        self.y = cnp.PyArray_DATA(<cnp.ndarray>y)
        self.batch, self.rows, self.cols, self.itemsize = batch, rows, cols, x.dtype.itemsize

    def __call__(self):
        with nogil:
            if self.itemsize == 4:
                edgert_op_transpose2d_x32(self.pool, self.batch, self.rows, self.cols,
                                          <const unsigned int*>self.x, <unsigned int*>self.y)
            else:
                edgert_op_transpose2d_x8(self.pool, self.batch, self.rows, self.cols,
                                         <const unsigned char*>self.x, <unsigned char*>self.y)


cdef extern from "edgert/f32-ska.h":
    void edgert_op_f32_ska(edgert_threadpool* pool, size_t batch, size_t H, size_t W, size_t C, size_t G,
                           size_t k, const float* x, const float* wt, float* y) nogil


cdef expect_ska_sizes(x, wt, y, size_t batch, size_t H, size_t W, size_t C, size_t G, size_t k):
    """SKA's NHWC operands: x and y (N, H, W, C), per-pixel kernels wt (N, H, W, G*k*k)."""
    expect_size(x, batch * H * W * C, "x")
    expect_size(wt, batch * H * W * G * k * k, "wt")
    expect_size(y, batch * H * W * C, "y")


cdef class Ska:
    """LSNet's SKA (edgert/f32-ska.h) on NHWC arrays: x (N, H, W, C), per-pixel kernels
    wt (N, H, W, G*k*k), y (N, H, W, C); output rows split over the pool."""
    cdef edgert_threadpool* pool
    cdef object refs
    cdef const float* x
    cdef const float* wt
    cdef float* y
    cdef size_t batch, H, W, C, G, k

    def __init__(self, ThreadPool pool, x, wt, y, size_t batch, size_t H, size_t W, size_t C, size_t G,
                 size_t k):
        if k % 2 == 0 or G == 0 or C % G:
            raise ValueError(f"SKA: k={k} must be odd and C={C} a multiple of G={G}")
        self.x, self.wt, self.y = f32_ptr(x, "x"), f32_ptr(wt, "wt"), f32_ptr(y, "y")
        expect_ska_sizes(x, wt, y, batch, H, W, C, G, k)
        self.refs = (pool, x, wt, y)
        self.pool = pool.ptr
        self.batch, self.H, self.W, self.C, self.G, self.k = batch, H, W, C, G, k

    def __call__(self):
        with nogil:
            edgert_op_f32_ska(self.pool, self.batch, self.H, self.W, self.C, self.G, self.k,
                              self.x, self.wt, self.y)


cdef extern from "edgert/f32-rownorm.h":
    void edgert_op_f32_instnorm(edgert_threadpool* pool, size_t rows, size_t n, const float* x,
                                const float* scale, const float* bias, float eps, float* y) nogil
    void edgert_op_f32_softmax(edgert_threadpool* pool, size_t rows, size_t n, const float* x,
                               float* y) nogil


cdef class RowNorm:
    """Row reductions (edgert/f32-rownorm.h) over `rows` contiguous rows of n floats of x into y
    (y may be x): op "instnorm" (scale, bias: one float32 per row, or None) or "softmax"; rows
    split over the pool."""
    cdef edgert_threadpool* pool
    cdef object refs
    cdef const float* x
    cdef const float* scale
    cdef const float* bias
    cdef float* y
    cdef size_t rows, n
    cdef float eps
    cdef bint softmax

    def __init__(self, ThreadPool pool, str op, x, y, size_t rows, size_t n, scale=None, bias=None,
                 float eps=1e-5):
        if op not in ("instnorm", "softmax"):
            raise ValueError(f"RowNorm: unknown op {op!r}")
        self.softmax = op == "softmax"
        self.x, self.y = f32_ptr(x, "x"), f32_ptr(y, "y")
        expect_size(x, rows * n, "x")
        expect_size(y, rows * n, "y")
        self.scale = self.bias = NULL
        if scale is not None:
            expect_size(scale, rows, "scale")
            self.scale = f32_ptr(scale, "scale")
        if bias is not None:
            expect_size(bias, rows, "bias")
            self.bias = f32_ptr(bias, "bias")
        self.refs = (pool, x, y, scale, bias)
        self.pool = pool.ptr
        self.rows, self.n, self.eps = rows, n, eps

    def __call__(self):
        with nogil:
            if self.softmax:
                edgert_op_f32_softmax(self.pool, self.rows, self.n, self.x, self.y)
            else:
                edgert_op_f32_instnorm(self.pool, self.rows, self.n, self.x, self.scale, self.bias,
                                       self.eps, self.y)


# ------------------------------------------------------------------------------------------------
# int8 (qs8) steps. Arithmetic: include/edgert/qs8-requant.h. Activations are int8 NHWC
# (C-contiguous), scales float32, packed weights uint8 byte buffers from the qs8_*_pack functions
# of this same process (the packing follows the kernel variant this CPU dispatches to).

from libc.stdint cimport int8_t, uint8_t, int32_t

cdef extern from "edgert/qs8-operators.h":
    ctypedef struct edgert_qs8_output_params:
        int32_t zero_point, qmin, qmax
    ctypedef struct edgert_qs8_gemm_layout:
        size_t nr, kr, wbytes
    ctypedef struct edgert_qs8_dispatch_table:
        size_t gemm_mr
        edgert_qs8_gemm_layout gemm_layout
        const char* gemm_name
        int dwconv_layout
        const char* dwconv_name
        int conv_stem_layout
        const char* conv_stem_name
    ctypedef struct edgert_qs8_conv_shape:
        size_t batch, H, W, C_in, OH, OW, C_out, groups
        size_t KH, KW, SH, SW, DH, DW, pad_top, pad_left
        int32_t input_zero_point
        edgert_qs8_output_params out
    ctypedef struct edgert_qs8_global_avgpool_params:
        int32_t input_zero_point
        float scale
        edgert_qs8_output_params out
    ctypedef struct edgert_qs8_binary_params:
        int32_t a_zero_point, b_zero_point
        float a_mult, b_mult
        edgert_qs8_output_params out
    const edgert_qs8_dispatch_table* edgert_qs8_dispatch "(&edgert_dispatch()->qs8)"
    size_t edgert_qs8_gemm_packed_size(size_t K, size_t N)
    void edgert_qs8_gemm_pack_weights(size_t K, size_t N, const int8_t* W, size_t k_stride,
                                      size_t n_stride, const int32_t* bias,
                                      int32_t input_zero_point, void* packed)
    void edgert_op_qs8_gemm(edgert_threadpool* pool, size_t M, size_t N, size_t K, const int8_t* A,
                            size_t lda, const void* packed, const float* scales, int8_t* C,
                            size_t ldc, const edgert_qs8_output_params* params) nogil
    size_t edgert_qs8_conv_packed_size(size_t C_out, size_t cin_g, size_t KH, size_t KW,
                                       size_t groups)
    int edgert_qs8_conv_pack_weights(size_t C_out, size_t cin_g, size_t KH, size_t KW,
                                     size_t groups, const int8_t* weights, const int32_t* bias,
                                     int32_t input_zero_point, void* packed)
    int edgert_op_qs8_conv2d(edgert_threadpool* pool, const edgert_qs8_conv_shape* s,
                             const int8_t* input, const void* packed, const float* scales,
                             int8_t* output) nogil
    size_t edgert_qs8_conv_stem_packed_size(size_t C_in, size_t C_out, size_t KH, size_t KW)
    void edgert_qs8_conv_stem_pack_weights(size_t C_in, size_t C_out, size_t KH, size_t KW,
                                           const int8_t* weights, const int32_t* bias,
                                           int32_t input_zero_point, void* packed)
    int edgert_op_qs8_conv_stem(edgert_threadpool* pool, const edgert_qs8_conv_shape* s,
                                const int8_t* input, const void* packed, const float* scales,
                                int8_t* output) nogil
    size_t edgert_qs8_dwconv_packed_size(size_t C, size_t KH, size_t KW)
    void edgert_qs8_dwconv_pack_weights(size_t C, size_t KH, size_t KW, const int8_t* weights,
                                        const int32_t* bias, int32_t input_zero_point,
                                        void* packed)
    void edgert_op_qs8_dwconv2d(edgert_threadpool* pool, const edgert_qs8_conv_shape* s,
                                const int8_t* input, const void* packed, const float* scales,
                                int8_t* output) nogil
    void edgert_op_qs8_pool2d(edgert_threadpool* pool, int kind, const edgert_qs8_conv_shape* s,
                              int count_include_pad, float avg_scale, const int8_t* input,
                              int8_t* output) nogil
    void edgert_op_qs8_global_avgpool(edgert_threadpool* pool, size_t batch, size_t pixels,
                                      size_t C, const int8_t* input, int8_t* output,
                                      const edgert_qs8_global_avgpool_params* params) nogil
    void edgert_op_qs8_binary(edgert_threadpool* pool, int op, size_t rows, size_t cols,
                              const int8_t* a, size_t a_rs, size_t a_cs, const int8_t* b,
                              size_t b_rs, size_t b_cs, int8_t* y,
                              const edgert_qs8_binary_params* params) nogil
    void edgert_op_x8_lut(edgert_threadpool* pool, size_t n, const int8_t* x, int8_t* y,
                          const int8_t* table) nogil
    void edgert_op_qs8_quantize(edgert_threadpool* pool, size_t n, const float* x, int8_t* y,
                                float scale, int32_t zero_point) nogil
    void edgert_op_qs8_quantize_nchw(edgert_threadpool* pool, size_t batch, size_t C, size_t HW,
                                     const float* x, int8_t* y, float scale,
                                     int32_t zero_point) nogil
    void edgert_op_qs8_dequantize(edgert_threadpool* pool, size_t n, const int8_t* x, float* y,
                                  float scale, int32_t zero_point) nogil

QS8_BINARY_OPS = ("add", "mul")


def qs8_dispatch_info():
    """The int8 GEMM variant and the packings this CPU uses."""
    cdef const edgert_qs8_dispatch_table* d = edgert_qs8_dispatch
    return {"gemm": d.gemm_name.decode(), "gemm_mr": d.gemm_mr, "gemm_nr": d.gemm_layout.nr,
            "gemm_kr": d.gemm_layout.kr, "gemm_weight_bytes": d.gemm_layout.wbytes,
            "dwconv_layout": ("taps", "rowpairs", "rowquads")[d.dwconv_layout],
            "dwconv": d.dwconv_name.decode(),
            "conv_stem_layout": ("pairs", "quads")[d.conv_stem_layout],
            "conv_stem": d.conv_stem_name.decode()}


cdef int8_t* i8_ptr(object arr, str what) except NULL:
    """Raw pointer of a C-contiguous int8 array, or TypeError."""
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"{what}: expected ndarray, got {type(arr).__name__}")
    cdef cnp.ndarray a = <cnp.ndarray>arr
    if cnp.PyArray_TYPE(a) != cnp.NPY_INT8 or not cnp.PyArray_IS_C_CONTIGUOUS(a):
        raise TypeError(f"{what}: expected a C-contiguous int8 array, got {arr.dtype} "
                        f"with strides {arr.strides}")
    return <int8_t*>cnp.PyArray_DATA(a)


cdef uint8_t* packed_ptr(object arr, size_t nbytes, str what) except NULL:
    """Raw pointer of a packed-weight buffer (uint8, C-contiguous, at least nbytes)."""
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"{what}: expected the ndarray of a qs8_*_pack function, got "
                        f"{type(arr).__name__}")
    cdef cnp.ndarray a = <cnp.ndarray>arr
    if cnp.PyArray_TYPE(a) != cnp.NPY_UINT8 or not cnp.PyArray_IS_C_CONTIGUOUS(a):
        raise TypeError(f"{what}: expected packed weights (C-contiguous uint8 from a qs8_*_pack "
                        f"function), got {arr.dtype} with strides {arr.strides}")
    if <size_t>arr.nbytes < nbytes:
        raise ValueError(f"{what}: needs {nbytes} packed bytes for this shape, has {arr.nbytes}")
    if (<size_t>cnp.PyArray_DATA(a)) % 4:
        raise ValueError(f"{what}: packed weights must be 4-byte aligned")
    return <uint8_t*>cnp.PyArray_DATA(a)


cdef int32_t quant_arg(object value, str what) except? -999:
    """An int8 zero point or clamp bound: an integer in [-128, 127]."""
    if isinstance(value, (float, np.floating)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{what}: expected an integer in [-128, 127], got {value!r}")
    if not -128 <= value <= 127:
        raise ValueError(f"{what}: {value} is outside the int8 range [-128, 127]")
    return <int32_t>value


cdef edgert_qs8_output_params output_params(object zero_point, object qmin, object qmax) except *:
    cdef edgert_qs8_output_params p
    p.zero_point = quant_arg(zero_point, "output_zero_point")
    p.qmin = quant_arg(qmin, "qmin")
    p.qmax = quant_arg(qmax, "qmax")
    if p.qmin > p.qmax:
        raise ValueError(f"qmin {p.qmin} is above qmax {p.qmax}")
    return p


cdef float positive_scale(object value, str what) except? -1.0:
    cdef float f = value
    if not (f > 0.0 and f < np.inf):
        raise ValueError(f"{what}: expected a positive finite float, got {value!r}")
    return f


def aligned_u8(size_t n):
    """An uninitialised uint8 array whose data starts on a 64-byte boundary (packed weights)."""
    buf = np.empty(n + 64, dtype=np.uint8)
    cdef size_t shift = (64 - (<size_t>cnp.PyArray_DATA(buf)) % 64) % 64
    return buf[shift:shift + n]


cdef object int8_weights(object W, int ndim, str what):
    if not isinstance(W, np.ndarray) or W.dtype != np.int8:
        raise TypeError(f"{what}: expected an int8 ndarray, got "
                        f"{getattr(W, 'dtype', type(W).__name__)}")
    if W.ndim != ndim:
        raise ValueError(f"{what}: expected {ndim} dimensions, got shape {W.shape}")
    return W


cdef object int32_bias(object bias, size_t n, str what):
    """bias as a C-contiguous int32 [n] array, or None."""
    if bias is None:
        return None
    b = np.asarray(bias)
    if b.dtype.kind not in "iu":
        raise TypeError(f"{what}: expected integer (int32) bias, got {b.dtype}")
    b = b.reshape(-1)
    if <size_t>b.size != n:
        raise ValueError(f"{what}: expected {n} values, got {b.size}")
    if b.size and (b.min() < -2**31 or b.max() >= 2**31):
        raise ValueError(f"{what}: values exceed the int32 range")
    return np.ascontiguousarray(b, dtype=np.int32)


def qs8_gemm_pack(W, bias, int input_zero_point):
    """Pack int8 weights W[K, N] (any strides) with int32 bias[N] (or None) for this CPU's qs8
    GEMM, folding the input zero point into the bias. Returns a 64-byte aligned uint8 array."""
    W = int8_weights(W, 2, "qs8_gemm_pack W")
    cdef int32_t zp = quant_arg(input_zero_point, "input_zero_point")
    if any(s < 0 for s in W.strides):
        W = np.ascontiguousarray(W)
    cdef size_t K = W.shape[0], N = W.shape[1]
    if K == 0 or N == 0:
        raise ValueError(f"qs8_gemm_pack: empty weights of shape {W.shape}")
    b = int32_bias(bias, N, "qs8_gemm_pack bias")
    cdef const int32_t* bias_ptr = NULL
    if b is not None:
        bias_ptr = <const int32_t*>cnp.PyArray_DATA(<cnp.ndarray>b)
    packed = aligned_u8(edgert_qs8_gemm_packed_size(K, N))
    edgert_qs8_gemm_pack_weights(K, N, <const int8_t*>cnp.PyArray_DATA(<cnp.ndarray>W),
                                 W.strides[0], W.strides[1], bias_ptr, zp,
                                 cnp.PyArray_DATA(<cnp.ndarray>packed))
    return packed


def qs8_conv_pack(W, bias, size_t groups, int input_zero_point):
    """Pack int8 conv weights [C_out, C_in/groups, KH, KW] (ONNX order) with int32 bias[C_out]
    (or None): one GEMM packing per group, K ordered (ky, kx, c)."""
    W = np.ascontiguousarray(int8_weights(W, 4, "qs8_conv_pack W"))
    cdef int32_t zp = quant_arg(input_zero_point, "input_zero_point")
    cdef size_t C_out = W.shape[0], cin_g = W.shape[1], KH = W.shape[2], KW = W.shape[3]
    if groups == 0 or C_out % groups:
        raise ValueError(f"qs8_conv_pack: {C_out} output channels do not divide into {groups} groups")
    if C_out == 0 or cin_g == 0 or KH == 0 or KW == 0:
        raise ValueError(f"qs8_conv_pack: empty weights of shape {W.shape}")
    b = int32_bias(bias, C_out, "qs8_conv_pack bias")
    cdef const int32_t* bias_ptr = NULL
    if b is not None:
        bias_ptr = <const int32_t*>cnp.PyArray_DATA(<cnp.ndarray>b)
    packed = aligned_u8(edgert_qs8_conv_packed_size(C_out, cin_g, KH, KW, groups))
    if edgert_qs8_conv_pack_weights(C_out, cin_g, KH, KW, groups,
                                    <const int8_t*>cnp.PyArray_DATA(<cnp.ndarray>W), bias_ptr, zp,
                                    cnp.PyArray_DATA(<cnp.ndarray>packed)) != 0:
        raise MemoryError("qs8_conv_pack: out of memory")
    return packed


cdef extern from "edgert/qs8-conv-stem.h":
    size_t EDGERT_QS8_CONV_STEM_MAX_CHANNELS

QS8_CONV_STEM_MAX_CHANNELS = EDGERT_QS8_CONV_STEM_MAX_CHANNELS


def qs8_conv_stem_pack(W, bias, int input_zero_point):
    """Pack int8 stem conv weights [C_out, C_in, KH, KW] (C_in <= QS8_CONV_STEM_MAX_CHANNELS,
    groups 1) with int32 bias[C_out] (or None) for QS8WindowOp's conv_stem kind."""
    W = np.ascontiguousarray(int8_weights(W, 4, "qs8_conv_stem_pack W"))
    cdef int32_t zp = quant_arg(input_zero_point, "input_zero_point")
    cdef size_t C_out = W.shape[0], C_in = W.shape[1], KH = W.shape[2], KW = W.shape[3]
    if C_out == 0 or C_in == 0 or KH == 0 or KW == 0:
        raise ValueError(f"qs8_conv_stem_pack: empty weights of shape {W.shape}")
    if C_in > EDGERT_QS8_CONV_STEM_MAX_CHANNELS:
        raise ValueError(f"qs8_conv_stem_pack: {C_in} input channels; the stem kernel takes at "
                         f"most {EDGERT_QS8_CONV_STEM_MAX_CHANNELS}")
    b = int32_bias(bias, C_out, "qs8_conv_stem_pack bias")
    cdef const int32_t* bias_ptr = NULL
    if b is not None:
        bias_ptr = <const int32_t*>cnp.PyArray_DATA(<cnp.ndarray>b)
    packed = aligned_u8(edgert_qs8_conv_stem_packed_size(C_in, C_out, KH, KW))
    edgert_qs8_conv_stem_pack_weights(C_in, C_out, KH, KW, <const int8_t*>cnp.PyArray_DATA(<cnp.ndarray>W),
                              bias_ptr, zp, cnp.PyArray_DATA(<cnp.ndarray>packed))
    return packed


def qs8_dwconv_pack(W, bias, int input_zero_point):
    """Pack int8 depthwise weights [C, 1, KH, KW] with int32 bias[C] (or None)."""
    W = np.ascontiguousarray(int8_weights(W, 4, "qs8_dwconv_pack W"))
    cdef int32_t zp = quant_arg(input_zero_point, "input_zero_point")
    if W.shape[1] != 1:
        raise ValueError(f"qs8_dwconv_pack: weights must be [C, 1, KH, KW], got {W.shape}")
    cdef size_t C = W.shape[0], KH = W.shape[2], KW = W.shape[3]
    if C == 0 or KH == 0 or KW == 0:
        raise ValueError(f"qs8_dwconv_pack: empty weights of shape {W.shape}")
    b = int32_bias(bias, C, "qs8_dwconv_pack bias")
    cdef const int32_t* bias_ptr = NULL
    if b is not None:
        bias_ptr = <const int32_t*>cnp.PyArray_DATA(<cnp.ndarray>b)
    packed = aligned_u8(edgert_qs8_dwconv_packed_size(C, KH, KW))
    edgert_qs8_dwconv_pack_weights(C, KH, KW, <const int8_t*>cnp.PyArray_DATA(<cnp.ndarray>W),
                                   bias_ptr, zp, cnp.PyArray_DATA(<cnp.ndarray>packed))
    return packed


cdef class QS8Gemm:
    """C[M, N] = requantize(A[M, K] @ W + bias', scales[n]) on int8 A and C (row strides lda,
    ldc); packed from qs8_gemm_pack."""
    cdef edgert_threadpool* pool
    cdef object refs
    cdef const int8_t* A
    cdef const void* packed
    cdef const float* scales
    cdef int8_t* C
    cdef size_t M, N, K, lda, ldc
    cdef edgert_qs8_output_params params

    def __init__(self, ThreadPool pool, A, packed, C, size_t M, size_t N, size_t K, size_t lda,
                 size_t ldc, scales, output_zero_point, qmin, qmax):
        self.refs = (pool, A, packed, C, scales)
        self.pool = pool.ptr
        if N == 0 or K == 0:
            raise ValueError(f"QS8Gemm: N={N} and K={K} must be positive")
        if lda < K or ldc < N:
            raise ValueError(f"QS8Gemm: lda={lda} must be >= K={K} and ldc={ldc} >= N={N}")
        self.A = i8_ptr(A, "A")
        self.C = i8_ptr(C, "C")
        self.scales = f32_ptr(scales, "scales")
        self.packed = packed_ptr(packed, edgert_qs8_gemm_packed_size(K, N), "packed")
        expect_size(scales, N, "scales")
        if M:
            expect_size(A, (M - 1) * lda + K, "A")
            expect_size(C, (M - 1) * ldc + N, "C")
        self.params = output_params(output_zero_point, qmin, qmax)
        self.M, self.N, self.K, self.lda, self.ldc = M, N, K, lda, ldc

    def __call__(self):
        with nogil:
            edgert_op_qs8_gemm(self.pool, self.M, self.N, self.K, self.A, self.lda, self.packed,
                               self.scales, self.C, self.ldc, &self.params)


cdef class QS8WindowOp:
    """int8 Conv2d / depthwise conv / MaxPool / AveragePool over NHWC tensors; geometry is a dict
    as WindowOp's (batch, H, W, C_in, OH, OW, C_out, groups, KH, KW, SH, SW, DH, DW, pad_top,
    pad_left). conv/dwconv/conv_stem need packed weights (qs8_conv_pack / qs8_dwconv_pack /
    qs8_conv_stem_pack) and scales[C_out]; avgpool takes
    avg_scale = s_in / s_out; maxpool only clamps to [qmin, qmax]."""
    cdef edgert_threadpool* pool
    cdef object refs
    cdef edgert_qs8_conv_shape s
    cdef const int8_t* x
    cdef int8_t* y
    cdef const void* packed
    cdef const float* scales
    cdef int kind, count_include_pad
    cdef float avg_scale

    KINDS = {"conv": 0, "dwconv": 1, "maxpool": 2, "avgpool": 3, "conv_stem": 4}

    def __init__(self, ThreadPool pool, str kind, dict geometry, x, y, packed=None, scales=None,
                 input_zero_point=0, output_zero_point=0, qmin=-128, qmax=127, avg_scale=1.0,
                 bint count_include_pad=False):
        if kind not in QS8WindowOp.KINDS:
            raise ValueError(f"QS8WindowOp: unknown kind {kind!r}; expected one of "
                             f"{sorted(QS8WindowOp.KINDS)}")
        self.refs = (pool, x, y, packed, scales)
        self.pool = pool.ptr
        self.kind = QS8WindowOp.KINDS[kind]
        g = geometry
        cdef edgert_qs8_conv_shape* s = &self.s
        try:
            s.batch, s.H, s.W, s.C_in = g["batch"], g["H"], g["W"], g["C_in"]
            s.OH, s.OW, s.C_out, s.groups = g["OH"], g["OW"], g["C_out"], g["groups"]
            s.KH, s.KW, s.SH, s.SW = g["KH"], g["KW"], g["SH"], g["SW"]
            s.DH, s.DW, s.pad_top, s.pad_left = g["DH"], g["DW"], g["pad_top"], g["pad_left"]
        except KeyError as e:
            raise ValueError(f"QS8WindowOp: geometry lacks {e.args[0]!r}") from None
        if 0 in (s.KH, s.KW, s.SH, s.SW, s.DH, s.DW):
            raise ValueError("QS8WindowOp: kernel, strides and dilations must be positive")
        if s.groups == 0 or s.C_in % s.groups or s.C_out % s.groups:
            raise ValueError("channels must divide into groups")
        if self.kind == 1 and not (s.groups == s.C_in == s.C_out):
            raise ValueError("QS8WindowOp dwconv: needs groups == C_in == C_out")
        if self.kind == 4 and not (s.groups == 1 and s.DW == 1
                                   and s.C_in <= EDGERT_QS8_CONV_STEM_MAX_CHANNELS):
            raise ValueError(f"QS8WindowOp conv_stem: needs groups 1, DW 1 and C_in <= "
                             f"{EDGERT_QS8_CONV_STEM_MAX_CHANNELS}")
        if self.kind in (2, 3) and s.C_out != s.C_in:
            raise ValueError(f"QS8WindowOp {kind}: C_out must equal C_in")
        s.input_zero_point = quant_arg(input_zero_point, "input_zero_point")
        s.out = output_params(output_zero_point, qmin, qmax)
        self.x = i8_ptr(x, "input")
        self.y = i8_ptr(y, "output")
        expect_size(x, s.batch * s.H * s.W * s.C_in, "input")
        expect_size(y, s.batch * s.OH * s.OW * s.C_out, "output")
        self.packed = NULL
        self.scales = NULL
        if self.kind in (0, 1, 4):
            if packed is None or scales is None:
                raise ValueError(f"QS8WindowOp {kind}: needs packed weights and scales")
            if self.kind == 0:
                need = edgert_qs8_conv_packed_size(s.C_out, s.C_in // s.groups, s.KH, s.KW, s.groups)
            elif self.kind == 4:
                need = edgert_qs8_conv_stem_packed_size(s.C_in, s.C_out, s.KH, s.KW)
            else:
                need = edgert_qs8_dwconv_packed_size(s.C_in, s.KH, s.KW)
            self.packed = packed_ptr(packed, need, "packed")
            self.scales = f32_ptr(scales, "scales")
            expect_size(scales, s.C_out, "scales")
        self.avg_scale = positive_scale(avg_scale, "avg_scale") if self.kind == 3 else 1.0
        self.count_include_pad = count_include_pad

    def __call__(self):
        cdef int rc = 0
        with nogil:
            if self.kind == 0:
                rc = edgert_op_qs8_conv2d(self.pool, &self.s, self.x, self.packed, self.scales,
                                          self.y)
            elif self.kind == 1:
                edgert_op_qs8_dwconv2d(self.pool, &self.s, self.x, self.packed, self.scales,
                                       self.y)
            elif self.kind == 4:
                rc = edgert_op_qs8_conv_stem(self.pool, &self.s, self.x, self.packed, self.scales,
                                             self.y)
            else:
                edgert_op_qs8_pool2d(self.pool, self.kind - 2, &self.s, self.count_include_pad,
                                     self.avg_scale, self.x, self.y)
        if rc != 0:
            raise MemoryError("out of memory for convolution scratch")


cdef class QS8GlobalAvgPool:
    """y[b, c] = average over pixels of x[b, p, c] (int8 NHWC), scale = s_in / s_out."""
    cdef edgert_threadpool* pool
    cdef object refs
    cdef const int8_t* x
    cdef int8_t* y
    cdef size_t batch, pixels, C
    cdef edgert_qs8_global_avgpool_params params

    def __init__(self, ThreadPool pool, x, y, size_t batch, size_t pixels, size_t C,
                 input_zero_point, scale, output_zero_point, qmin, qmax):
        self.refs = (pool, x, y)
        self.pool = pool.ptr
        self.x = i8_ptr(x, "input")
        self.y = i8_ptr(y, "output")
        expect_size(x, batch * pixels * C, "input")
        expect_size(y, batch * C, "output")
        self.params.input_zero_point = quant_arg(input_zero_point, "input_zero_point")
        self.params.scale = positive_scale(scale, "scale")
        self.params.out = output_params(output_zero_point, qmin, qmax)
        self.batch, self.pixels, self.C = batch, pixels, C

    def __call__(self):
        with nogil:
            edgert_op_qs8_global_avgpool(self.pool, self.batch, self.pixels, self.C, self.x,
                                         self.y, &self.params)


cdef class QS8Binary:
    """y[r, c] = a[r*a_rs + c*a_cs] op b[r*b_rs + c*b_cs] on int8, column strides 0 or 1.
    add: a_mult = s_a/s_y, b_mult = s_b/s_y; mul: a_mult = s_a*s_b/s_y (b_mult unused)."""
    cdef edgert_threadpool* pool
    cdef object refs
    cdef const int8_t* a
    cdef const int8_t* b
    cdef int8_t* y
    cdef size_t rows, cols, a_rs, a_cs, b_rs, b_cs
    cdef int op
    cdef edgert_qs8_binary_params params

    def __init__(self, ThreadPool pool, str op, size_t rows, size_t cols, a, size_t a_rs,
                 size_t a_cs, b, size_t b_rs, size_t b_cs, y, a_zero_point, a_mult, b_zero_point,
                 b_mult, output_zero_point, qmin, qmax):
        if op not in QS8_BINARY_OPS:
            raise ValueError(f"QS8Binary: unknown op {op!r}; expected one of {QS8_BINARY_OPS}")
        self.refs = (pool, a, b, y)
        self.pool = pool.ptr
        self.op = QS8_BINARY_OPS.index(op)
        if a_cs > 1 or b_cs > 1 or (a_cs == 0 and b_cs == 0):
            raise ValueError("QS8Binary: column strides must be 0 or 1, not both 0")
        self.a = i8_ptr(a, "a")
        self.b = i8_ptr(b, "b")
        self.y = i8_ptr(y, "y")
        if rows and cols:
            expect_size(a, (rows - 1) * a_rs + (cols - 1) * a_cs + 1, "a")
            expect_size(b, (rows - 1) * b_rs + (cols - 1) * b_cs + 1, "b")
            expect_size(y, rows * cols, "y")
        self.params.a_zero_point = quant_arg(a_zero_point, "a_zero_point")
        self.params.b_zero_point = quant_arg(b_zero_point, "b_zero_point")
        self.params.a_mult = positive_scale(a_mult, "a_mult")
        self.params.b_mult = positive_scale(b_mult, "b_mult") if op == "add" else 0.0
        self.params.out = output_params(output_zero_point, qmin, qmax)
        self.rows, self.cols, self.a_rs, self.a_cs, self.b_rs, self.b_cs = rows, cols, a_rs, a_cs, b_rs, b_cs

    def __call__(self):
        with nogil:
            edgert_op_qs8_binary(self.pool, self.op, self.rows, self.cols, self.a, self.a_rs,
                                 self.a_cs, self.b, self.b_rs, self.b_cs, self.y, &self.params)


cdef class QS8Lut:
    """y[i] = table[(uint8)x[i]] over int8 arrays of equal size (y may be x); table int8[256]."""
    cdef edgert_threadpool* pool
    cdef object refs
    cdef const int8_t* x
    cdef int8_t* y
    cdef const int8_t* table
    cdef size_t n

    def __init__(self, ThreadPool pool, x, y, table):
        self.refs = (pool, x, y, table)
        self.pool = pool.ptr
        self.x = i8_ptr(x, "input")
        self.y = i8_ptr(y, "output")
        self.table = i8_ptr(table, "table")
        if table.size != 256:
            raise ValueError(f"QS8Lut: table must have 256 entries, has {table.size}")
        if x.size != y.size:
            raise ValueError("QS8Lut: input and output sizes differ")
        self.n = x.size

    def __call__(self):
        with nogil:
            edgert_op_x8_lut(self.pool, self.n, self.x, self.y, self.table)


cdef extern from "edgert/qs8-ska.h":
    ctypedef struct edgert_qs8_ska_params:
        int32_t x_zero_point, w_zero_point, y_zero_point
        float y_scale
        float mult[49]
        float lo[49]
        float hi[49]
        float dq_scale[49]
    void edgert_op_qs8_ska(edgert_threadpool* pool, size_t batch, size_t H, size_t W, size_t C, size_t G,
                           size_t k, const int8_t* x, const int8_t* wt, int8_t* y,
                           const edgert_qs8_ska_params* params) nogil


cdef class QS8Ska:
    """int8 SKA (edgert/qs8-ska.h) on NHWC arrays: x (N, H, W, C), per-pixel kernels wt (N, H, W, G*k*k),
    y (N, H, W, C). Per-tap lists (k*k each): mult, lo, hi (clamp bounds less the zero point), dq_scale."""
    cdef edgert_threadpool* pool
    cdef object refs
    cdef const int8_t* x
    cdef const int8_t* wt
    cdef int8_t* y
    cdef size_t batch, H, W, C, G, k
    cdef edgert_qs8_ska_params params

    def __init__(self, ThreadPool pool, x, wt, y, size_t batch, size_t H, size_t W, size_t C, size_t G,
                 size_t k, int x_zero_point, int w_zero_point, float y_scale, int y_zero_point, mult, lo, hi,
                 dq_scale):
        cdef size_t t
        if k % 2 == 0 or k * k > 49 or G == 0 or C % G:
            raise ValueError(f"QS8Ska: k={k} must be odd and <= 7 and C={C} a multiple of G={G}")
        if not all(len(v) == k * k for v in (mult, lo, hi, dq_scale)):
            raise ValueError(f"QS8Ska: per-tap parameters need {k * k} values each")
        self.x, self.wt, self.y = i8_ptr(x, "x"), i8_ptr(wt, "wt"), i8_ptr(y, "y")
        expect_ska_sizes(x, wt, y, batch, H, W, C, G, k)
        self.refs = (pool, x, wt, y)
        self.pool = pool.ptr
        self.batch, self.H, self.W, self.C, self.G, self.k = batch, H, W, C, G, k
        self.params.x_zero_point, self.params.w_zero_point = x_zero_point, w_zero_point
        self.params.y_scale, self.params.y_zero_point = y_scale, y_zero_point
        for t in range(k * k):
            self.params.mult[t], self.params.lo[t] = mult[t], lo[t]
            self.params.hi[t], self.params.dq_scale[t] = hi[t], dq_scale[t]

    def __call__(self):
        with nogil:
            edgert_op_qs8_ska(self.pool, self.batch, self.H, self.W, self.C, self.G, self.k,
                              self.x, self.wt, self.y, &self.params)


cdef class Quantize:
    """float32 x -> int8 y = saturate(round_half_even(x / scale) + zero_point), NaN -> zero_point.
    nchw=(batch, C, HW): x is [batch, C, HW] and y is written [batch, HW, C] (NCHW -> NHWC)."""
    cdef edgert_threadpool* pool
    cdef object refs
    cdef const float* x
    cdef int8_t* y
    cdef size_t n, batch, C, HW
    cdef bint nchw
    cdef float scale
    cdef int32_t zero_point

    def __init__(self, ThreadPool pool, x, y, scale, zero_point, nchw=None):
        self.refs = (pool, x, y)
        self.pool = pool.ptr
        self.x = f32_ptr(x, "input")
        self.y = i8_ptr(y, "output")
        self.scale = positive_scale(scale, "scale")
        self.zero_point = quant_arg(zero_point, "zero_point")
        if x.size != y.size:
            raise ValueError("Quantize: input and output sizes differ")
        self.n = x.size
        self.nchw = nchw is not None
        if self.nchw:
            self.batch, self.C, self.HW = nchw
            if self.batch * self.C * self.HW != self.n:
                raise ValueError(f"Quantize: nchw={tuple(nchw)} does not match {self.n} elements")

    def __call__(self):
        with nogil:
            if self.nchw:
                edgert_op_qs8_quantize_nchw(self.pool, self.batch, self.C, self.HW, self.x, self.y,
                                            self.scale, self.zero_point)
            else:
                edgert_op_qs8_quantize(self.pool, self.n, self.x, self.y, self.scale,
                                       self.zero_point)


cdef class Dequantize:
    """int8 x -> float32 y = (x - zero_point) * scale, same element order."""
    cdef edgert_threadpool* pool
    cdef object refs
    cdef const int8_t* x
    cdef float* y
    cdef size_t n
    cdef float scale
    cdef int32_t zero_point

    def __init__(self, ThreadPool pool, x, y, scale, zero_point):
        self.refs = (pool, x, y)
        self.pool = pool.ptr
        self.x = i8_ptr(x, "input")
        self.y = f32_ptr(y, "output")
        self.scale = positive_scale(scale, "scale")
        self.zero_point = quant_arg(zero_point, "zero_point")
        if x.size != y.size:
            raise ValueError("Dequantize: input and output sizes differ")
        self.n = x.size

    def __call__(self):
        with nogil:
            edgert_op_qs8_dequantize(self.pool, self.n, self.x, self.y, self.scale, self.zero_point)
