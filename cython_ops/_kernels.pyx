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
    return {"avx2_fma": bool(f.avx2_fma), "neon": bool(f.neon), "neon_dot": bool(f.neon_dot),
            "neon_i8mm": bool(f.neon_i8mm)}


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


cdef class Transpose2d:
    """Per batch, x[rows][cols] -> y[cols][rows] for 4-byte elements (NCHW <-> NHWC)."""
    cdef edgert_threadpool* pool
    cdef object refs
    cdef const unsigned int* x
    cdef unsigned int* y
    cdef size_t batch, rows, cols

    def __init__(self, ThreadPool pool, x, y, size_t batch, size_t rows, size_t cols):
        for arr, what in ((x, "input"), (y, "output")):
            if not isinstance(arr, np.ndarray) or arr.dtype.itemsize != 4 or not arr.flags.c_contiguous:
                raise TypeError(f"{what}: expected a C-contiguous array of 4-byte elements")
            expect_size(arr, batch * rows * cols, what)
        self.refs = (pool, x, y)
        self.pool = pool.ptr
        self.x = <const unsigned int*>cnp.PyArray_DATA(<cnp.ndarray>x)
        self.y = <unsigned int*>cnp.PyArray_DATA(<cnp.ndarray>y)
        self.batch, self.rows, self.cols = batch, rows, cols

    def __call__(self):
        with nogil:
            edgert_op_transpose2d_x32(self.pool, self.batch, self.rows, self.cols, self.x, self.y)
