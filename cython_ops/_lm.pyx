"""Native kernels of edgert.lm (private; the public layer is edgert/lm/kernels.py).

* ``ThreadPool(threads)``: the operator layer's pool (the caller counts as one thread).
* ``qwgemm(pool, kind, x (M, K), w, scale, bias, group, y=None) -> y (M, N)``: y = x W^T + bias for
  weights of kind 0 float32 (N, K), 1 int8 (N, K) + scale (N,), 2 packed 4-bit (N, K/2) + scale
  (N, K/group); the f32-qwgemm AVX2 / NEON / scalar variant, threaded, GIL released.
* ``DecodeStep``: one decode token of an LFM2 decoder without a KV cache (conv + gated-delta
  layers) as one native call: embedding row, every layer, final norm, output head.  Built once
  per (model, state) from the model's packed weights and the state's arrays, which it updates in
  place; no Python runs between the kernels.
"""
import numpy as np
cimport numpy as cnp
from libc.math cimport exp, log1p, sqrt, fabs
from libc.stdint cimport int8_t, uint8_t
from libc.string cimport memcpy
from libc.stdlib cimport malloc, free
from cpython.pythread cimport (PyThread_type_lock, PyThread_allocate_lock, PyThread_free_lock,
                               PyThread_acquire_lock, PyThread_release_lock, WAIT_LOCK)

cnp.import_array()

cdef extern from "edgert/threadpool.h":
    ctypedef struct edgert_threadpool:
        pass
    edgert_threadpool* edgert_threadpool_create(size_t threads)
    void edgert_threadpool_destroy(edgert_threadpool* pool)

cdef extern from "edgert/lm-operators.h":
    void edgert_op_qwgemm(edgert_threadpool* pool, int kind, size_t M, size_t N, size_t K, size_t group,
                          const float* x, const void* w, const float* scale, const float* bias,
                          float* y) nogil
    const char* edgert_qwgemm_variant()

ctypedef void (*rmsnorm_fn)(size_t, size_t, const float*, const float*, float, float*) noexcept nogil
ctypedef void (*swiglu_fn)(size_t, const float*, const float*, float*) noexcept nogil
ctypedef void (*conv_fn)(size_t, size_t, size_t, const float*, const float*, const float*,
                         float*, float*) noexcept nogil
ctypedef void (*la_fn)(size_t, size_t, size_t, size_t, int, float, const float*, size_t,
                       const float*, size_t, const float*, size_t, const float*, size_t, int,
                       const float*, size_t, float*, float*, size_t) noexcept nogil

cdef extern from "edgert/f32-seq.h":
    ctypedef struct edgert_f32_seq_kernels:
        const char* name
        rmsnorm_fn rmsnorm
        swiglu_fn swiglu
        conv_fn causal_conv
        conv_fn causal_conv_gated
        la_fn linear_attention
    const edgert_f32_seq_kernels* edgert_f32_seq() nogil

cdef const edgert_f32_seq_kernels* SEQ = edgert_f32_seq()

KINDS = {"f32": 0, "int8": 1, "q4": 2}


def variant():
    """Name of the GEMM variant in use: 'avx2', 'neon' or 'scalar'."""
    return edgert_qwgemm_variant().decode()


cdef class ThreadPool:
    """A pool of ``threads`` threads (the caller counts as one); 1 runs everything inline.

    The C pool runs one job at a time, so calls from several Python threads on one pool take turns
    (a lock taken with the GIL released); a 1-thread pool needs none."""
    cdef edgert_threadpool* ptr
    cdef PyThread_type_lock lock
    cdef readonly size_t threads

    def __cinit__(self, size_t threads):
        self.ptr = NULL
        self.lock = NULL
        if threads < 1:
            raise ValueError("threads must be >= 1")
        if threads > 1:
            self.lock = PyThread_allocate_lock()
            if self.lock == NULL:
                raise MemoryError("cannot allocate the pool lock")
            self.ptr = edgert_threadpool_create(threads)
            if self.ptr == NULL:
                raise MemoryError(f"cannot start a pool of {threads} threads")
        self.threads = threads

    def __dealloc__(self):
        if self.ptr != NULL:
            edgert_threadpool_destroy(self.ptr)
            self.ptr = NULL
        if self.lock != NULL:
            PyThread_free_lock(self.lock)
            self.lock = NULL


cdef inline edgert_threadpool* _pool_ptr(pool) except? NULL:
    if pool is None:
        return NULL
    if not isinstance(pool, ThreadPool):
        raise TypeError(f"pool must be an edgert._ops._lm.ThreadPool, got {type(pool).__name__}")
    return (<ThreadPool>pool).ptr


cdef inline PyThread_type_lock _pool_lock(pool):
    return NULL if pool is None else (<ThreadPool>pool).lock


cdef inline void _lock(PyThread_type_lock lock) noexcept nogil:
    if lock != NULL:
        PyThread_acquire_lock(lock, WAIT_LOCK)


cdef inline void _unlock(PyThread_type_lock lock) noexcept nogil:
    if lock != NULL:
        PyThread_release_lock(lock)


cdef inline bint _c_array(object a, int typenum):
    return isinstance(a, np.ndarray) and cnp.PyArray_TYPE(<cnp.ndarray>a) == typenum \
        and cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>a)


cdef inline void* _data(object a):
    return cnp.PyArray_DATA(<cnp.ndarray>a)


cdef tuple _check_weight(int kind, w, scale, size_t group):
    """(N, K) of a weight, after checking dtype, contiguity and the scale's shape."""
    cdef size_t n, k
    if kind == 0:
        if not _c_array(w, cnp.NPY_FLOAT32) or w.ndim != 2:
            raise ValueError("qwgemm: f32 weights must be a C-contiguous float32 (N, K) array")
        return w.shape[0], w.shape[1]
    if kind == 1:
        if not _c_array(w, cnp.NPY_INT8) or w.ndim != 2:
            raise ValueError("qwgemm: int8 weights must be a C-contiguous int8 (N, K) array")
        n, k = w.shape[0], w.shape[1]
        if not _c_array(scale, cnp.NPY_FLOAT32) or scale.shape != (n,):
            raise ValueError(f"qwgemm: int8 scale must be float32 ({n},)")
        return n, k
    if kind == 2:
        if not _c_array(w, cnp.NPY_UINT8) or w.ndim != 2:
            raise ValueError("qwgemm: q4 weights must be a C-contiguous uint8 (N, K/2) array")
        n, k = w.shape[0], 2 * w.shape[1]
        if group == 0 or group % 2 or k % group:
            raise ValueError(f"qwgemm: q4 needs an even group dividing K={k}, got group={group}")
        if not _c_array(scale, cnp.NPY_FLOAT32) or scale.shape != (n, k // group):
            raise ValueError(f"qwgemm: q4 scale must be float32 ({n}, {k // group})")
        return n, k
    raise ValueError(f"qwgemm: unknown weight kind {kind}")


def qwgemm(pool, int kind, x, w, scale, bias, size_t group=0, y=None):
    """``y (M, N) = x (M, K) @ W^T + bias`` (see the module doc); x is converted to C-contiguous
    float32 if needed; ``y`` (C-contiguous float32 (M, N)) is written in place when given."""
    cdef edgert_threadpool* p = _pool_ptr(pool)
    cdef PyThread_type_lock lock = _pool_lock(pool)
    cdef size_t n, k
    n, k = _check_weight(kind, w, scale, group)
    xa = np.ascontiguousarray(x, dtype=np.float32)
    if xa.ndim != 2 or <size_t>xa.shape[1] != k:
        raise ValueError(f"qwgemm: x shape {xa.shape} does not match weights (N={n}, K={k})")
    cdef size_t m = xa.shape[0]
    cdef const float* bp = NULL
    if bias is not None:
        if not _c_array(bias, cnp.NPY_FLOAT32) or bias.shape != (n,):
            raise ValueError(f"qwgemm: bias must be float32 ({n},)")
        bp = <const float*>_data(bias)
    if y is None:
        y = np.empty((m, n), dtype=np.float32)
    elif not _c_array(y, cnp.NPY_FLOAT32) or y.shape != (m, n) or not y.flags.writeable:
        raise ValueError(f"qwgemm: y must be a writeable C-contiguous float32 ({m}, {n}) array")
    cdef const float* xp = <const float*>_data(xa)
    cdef const void* wp = _data(w)
    cdef const float* sp = <const float*>_data(scale) if kind else NULL
    cdef float* yp = <float*>_data(y)
    with nogil:
        _lock(lock)
        edgert_op_qwgemm(p, kind, m, n, k, group, xp, wp, sp, bp, yp)
        _unlock(lock)
    return y


# ------------------------------------------------------------------------------- decode step

cdef struct Lin:
    int kind
    size_t N, K, group
    const void* w
    const float* scale
    const float* bias

cdef struct Layer:
    int conv                     # 1 conv layer, 0 gated-delta attention layer
    const float* op_norm
    const float* ffn_norm
    Lin w13                      # [w1; w3] (2F, H)
    Lin w2
    Lin proj                     # conv: in_proj (3H, H); attention: [q; k; v; b; a]
    Lin out
    const float* conv_w          # (L, H)
    const float* conv_b
    size_t L
    const float* q_ln
    const float* k_ln
    const float* neg_A
    const float* dt_bias
    float* state                 # conv (L-1, H) or attention (Hkv, d, d)


cdef inline void run_lin(edgert_threadpool* pool, const Lin* l, const float* x, float* y) noexcept nogil:
    edgert_op_qwgemm(pool, l.kind, 1, l.N, l.K, l.group, x, l.w, l.scale, l.bias, y)


cdef inline void l2_rows(size_t rows, size_t d, float* x) noexcept nogil:
    cdef size_t r, i
    cdef double s
    cdef float inv
    for r in range(rows):
        s = 0.0
        for i in range(d):
            s += <double>x[r * d + i] * x[r * d + i]
        inv = <float>(1.0 / sqrt(<float>s + 1e-6))
        for i in range(d):
            x[r * d + i] = x[r * d + i] * inv


cdef class DecodeStep:
    """One decode token through every layer of a no-KV LFM2 decoder (see the module doc).

    Built from plain Python data: ``layers`` is a list of dicts of arrays / weight tuples
    ``(kind, data, scale, group)`` prepared by edgert.lm.kernels; ``states`` the per-layer state
    arrays (float32, C-contiguous, updated in place)."""
    cdef object refs
    cdef Layer* layers
    cdef size_t nlayers, H, F, hq, hkv, d, V
    cdef float eps, scale
    cdef Lin head
    cdef int emb_kind
    cdef const void* emb
    cdef const float* emb_scale
    cdef size_t emb_group
    cdef const float* final_norm
    cdef edgert_threadpool* pool
    cdef PyThread_type_lock lock
    cdef float* buf
    cdef float* x
    cdef float* hn
    cdef float* big
    cdef float* act

    def __cinit__(self):
        self.layers = NULL
        self.buf = NULL

    def __dealloc__(self):
        free(self.layers)
        free(self.buf)

    def __init__(self, pool, dict model, list layers, list states):
        self.refs = [pool, model, layers, states]
        self.pool = _pool_ptr(pool)
        self.lock = _pool_lock(pool)
        self.H, self.F = model["hidden"], model["ffn"]
        self.hq, self.hkv, self.d = model["heads"], model["kv_heads"], model["head_dim"]
        self.eps = model["eps"]
        self.scale = 1.0 / sqrt(<double>self.d)
        self.final_norm = self._f32(model["final_norm"], (self.H,), "final_norm")
        self._lin(&self.head, model["head"], self.H, "head")
        self.V = self.head.N
        emb = model["embed"]
        self.emb_kind = KINDS[emb[0]]
        ev, ek = _check_weight(self.emb_kind, emb[1], emb[2], emb[3])
        if ek != self.H:
            raise ValueError("DecodeStep: embedding width differs from hidden")
        if self.emb_kind == 2:
            raise ValueError("DecodeStep: a 4-bit embedding table is not supported")
        self.emb, self.emb_scale, self.emb_group = _data(emb[1]), \
            <const float*>_data(emb[2]) if self.emb_kind else NULL, emb[3]
        self.refs.append(ev)
        if len(layers) != len(states):
            raise ValueError("DecodeStep: one state array per layer")
        self.nlayers = len(layers)
        self.layers = <Layer*>malloc(max(1, self.nlayers) * sizeof(Layer))
        if self.layers == NULL:
            raise MemoryError()
        cdef size_t i, widest = 3 * self.H
        cdef Layer* L
        cdef size_t H = self.H
        for i in range(self.nlayers):
            src, st = layers[i], states[i]
            L = &self.layers[i]
            L.conv = src["type"] == "conv"
            L.op_norm = self._f32(src["op_norm"], (H,), "op_norm")
            L.ffn_norm = self._f32(src["ffn_norm"], (H,), "ffn_norm")
            self._lin(&L.w13, src["w13"], H, "w13")
            if L.w13.N != 2 * self.F:
                raise ValueError("DecodeStep: w13 must have 2 * ffn rows")
            self._lin(&L.w2, src["w2"], self.F, "w2")
            if L.conv:
                self._lin(&L.proj, src["in_proj"], H, "in_proj")
                self._lin(&L.out, src["out_proj"], H, "out_proj")
                if L.proj.N != 3 * H or L.out.N != H:
                    raise ValueError("DecodeStep: conv projections must be (3H, H) and (H, H)")
                cw = src["conv_w"]
                L.L = cw.shape[0]
                L.conv_w = self._f32(cw, (L.L, H), "conv_w")
                L.conv_b = self._f32(src["conv_b"], (H,), "conv_b") if src["conv_b"] is not None else NULL
                L.state = self._state(st, (L.L - 1, H))
            else:
                nproj = self.hq * self.d + 2 * self.hkv * self.d + 2 * self.hkv
                self._lin(&L.proj, src["qkvba"], H, "qkvba")
                self._lin(&L.out, src["out_proj"], self.hq * self.d, "out_proj")
                if L.proj.N != nproj or L.out.N != H:
                    raise ValueError("DecodeStep: attention projections have the wrong shapes")
                L.q_ln = self._f32(src["q_ln"], (self.d,), "q_ln")
                L.k_ln = self._f32(src["k_ln"], (self.d,), "k_ln")
                L.neg_A = self._f32(src["neg_A"], (self.hkv,), "neg_A")
                L.dt_bias = self._f32(src["dt_bias"], (self.hkv,), "dt_bias")
                L.state = self._state(st, (self.hkv, self.d, self.d))
                widest = max(widest, nproj, self.hq * self.d)
        widest = max(widest, 2 * self.F)
        # x (H) | hn (H) | big (widest) | act (max(F, H, hq*d))
        cdef size_t nact = max(self.F, H, self.hq * self.d)
        self.buf = <float*>malloc((2 * H + widest + nact) * sizeof(float))
        if self.buf == NULL:
            raise MemoryError()
        self.x, self.hn = self.buf, self.buf + H
        self.big, self.act = self.buf + 2 * H, self.buf + 2 * H + widest

    cdef const float* _f32(self, a, tuple shape, str what) except NULL:
        if not _c_array(a, cnp.NPY_FLOAT32) or a.shape != shape:
            raise ValueError(f"DecodeStep: {what} must be a C-contiguous float32 {shape} array")
        self.refs.append(a)
        return <const float*>_data(a)

    cdef float* _state(self, a, tuple shape) except NULL:
        if not _c_array(a, cnp.NPY_FLOAT32) or a.shape != shape or not a.flags.writeable:
            raise ValueError(f"DecodeStep: state must be a writeable C-contiguous float32 {shape} array")
        return <float*>_data(a)

    cdef int _lin(self, Lin* l, tuple wt, size_t k_expect, str what) except -1:
        kind_name, data, scale, bias, group = wt
        l.kind = KINDS[kind_name]
        n, k = _check_weight(l.kind, data, scale, group)
        if k != k_expect:
            raise ValueError(f"DecodeStep: {what} has K={k}, expected {k_expect}")
        l.N, l.K, l.group, l.w = n, k, group, _data(data)
        l.scale = <const float*>_data(scale) if l.kind else NULL
        l.bias = NULL
        if bias is not None:
            if not _c_array(bias, cnp.NPY_FLOAT32) or bias.shape != (n,):
                raise ValueError(f"DecodeStep: {what} bias must be float32 ({n},)")
            l.bias = <const float*>_data(bias)
        self.refs.append(wt)
        return 0

    def token(self, long long tok):
        """Logits (V,) after consuming token id ``tok`` (0 <= tok < vocab, checked by the caller)."""
        cdef size_t i, H = self.H
        cdef const int8_t* q
        cdef float s
        if self.emb_kind == 0:
            memcpy(self.x, <const float*>self.emb + tok * H, H * sizeof(float))
        else:
            q = <const int8_t*>self.emb + tok * H
            s = self.emb_scale[tok]
            for i in range(H):
                self.x[i] = <float>q[i] * s
        return self._run()

    def embeds(self, x):
        """Logits (V,) after consuming one input embedding ``x (H,)`` (float32)."""
        xa = np.ascontiguousarray(x, dtype=np.float32).reshape(-1)
        if <size_t>xa.shape[0] != self.H:
            raise ValueError(f"DecodeStep: embedding must have {self.H} values")
        memcpy(self.x, _data(xa), self.H * sizeof(float))
        return self._run()

    cdef object _run(self):
        logits = np.empty(self.V, dtype=np.float32)
        cdef float* out = <float*>_data(logits)
        with nogil:
            _lock(self.lock)
            self._layers()
            SEQ.rmsnorm(1, self.H, self.x, self.final_norm, self.eps, self.hn)
            run_lin(self.pool, &self.head, self.hn, out)
            _unlock(self.lock)
        return logits

    cdef void _layers(self) noexcept nogil:
        cdef size_t i, j, h, H = self.H, F = self.F, hq = self.hq, hkv = self.hkv, d = self.d
        cdef size_t group = hq // hkv
        cdef Layer* L
        cdef float* x = self.x
        cdef float* hn = self.hn
        cdef float* big = self.big
        cdef float* act = self.act
        cdef float* q
        cdef float* k
        cdef float* v
        cdef float* bb
        cdef float* aa
        cdef float z
        for i in range(self.nlayers):
            L = &self.layers[i]
            SEQ.rmsnorm(1, H, x, L.op_norm, self.eps, hn)
            run_lin(self.pool, &L.proj, hn, big)
            if L.conv:
                SEQ.causal_conv_gated(1, H, L.L, big, L.conv_w, L.conv_b, L.state, act)
            else:
                q = big
                k = q + hq * d
                v = k + hkv * d
                bb = v + hkv * d
                aa = bb + hkv
                SEQ.rmsnorm(hq, d, q, L.q_ln, self.eps, q)
                SEQ.rmsnorm(hkv, d, k, L.k_ln, self.eps, k)
                l2_rows(hq, d, q)
                l2_rows(hkv, d, k)
                for h in range(hkv):
                    bb[h] = <float>(1.0 / (1.0 + exp(-<double>bb[h])))
                    z = aa[h] + L.dt_bias[h]
                    # softplus, overflow-free: max(z, 0) + log1p(exp(-|z|))
                    aa[h] = L.neg_A[h] * <float>((z if z > 0 else 0.0) + log1p(exp(-fabs(<double>z))))
                for h in range(hkv):
                    SEQ.linear_attention(1, d, d, group, 3, self.scale, q + h * group * d, hq * d,
                                         k + h * d, hkv * d, v + h * d, hkv * d, aa + h, hkv, 0,
                                         bb + h, hkv, L.state + h * d * d, act + h * group * d, hq * d)
            run_lin(self.pool, &L.out, act, hn)
            for j in range(H):
                x[j] += hn[j]
            SEQ.rmsnorm(1, H, x, L.ffn_norm, self.eps, hn)
            run_lin(self.pool, &L.w13, hn, big)
            SEQ.swiglu(F, big, big + F, act)
            run_lin(self.pool, &L.w2, act, hn)
            for j in range(H):
                x[j] += hn[j]
