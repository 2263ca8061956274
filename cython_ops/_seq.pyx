"""Native sequence-model kernels (edgert/f32-seq.h): RMSNorm, SwiGLU, causal conv with state
(plain and LFM2-gated) and ONNX LinearAttention recurrences, fp32, token-major, batch 1.

Every function takes C-contiguous float32 arrays (anything else is converted), checks shapes
(ValueError), runs the AVX2 / NEON / scalar variant picked for this CPU (`variant()`) with the
GIL released, and updates the state arrays it is given in place:

    rms_norm(x (R, N), w (N,), eps) -> y (R, N)
    swiglu(gate, up) -> silu(gate) * up                     (same shapes)
    causal_conv(x (T, C), w (K, C), bias (C,) | None, state (K-1, C)) -> y (T, C)
    causal_conv_gated(bcx (T, 3C), w (K, C), bias | None, state (K-1, C)) -> y (T, C)
        y = Cg * causal_conv(B * X), bcx rows = [B | Cg | X] (LFM2's in_proj output)
    linear_attention(q (T, Hq*dk), k (T, Hkv*dk), v (T, Hkv*dv), state (Hkv, dk, dv),
                     decay (T, Hkv) | (T, Hkv*dk) | None, beta (T, Hkv) | (T, 1) | None,
                     q_num_heads, kv_num_heads, scale, update_rule) -> y (T, Hq*dv)

The conv state is ONNX CausalConvWithState's past_state (1, C, K-1) transposed; the attention
state is ONNX LinearAttention's past_state without its batch axis.
"""
import numpy as np
cimport numpy as cnp

cnp.import_array()

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

cdef const edgert_f32_seq_kernels* K = edgert_f32_seq()

UPDATE_RULES = {"linear": 0, "gated": 1, "delta": 2, "gated_delta": 3}


def variant():
    """Name of the variant set in use: 'avx2', 'neon' or 'scalar'."""
    return K.name.decode()


cdef inline object _f32(a):
    return np.ascontiguousarray(a, dtype=np.float32)


cdef inline const float* _ptr(object a):
    return <const float*>cnp.PyArray_DATA(<cnp.ndarray>a)


cdef inline float* _wptr(object a):
    return <float*>cnp.PyArray_DATA(<cnp.ndarray>a)


cdef object _state(state, tuple shape, str what):
    if not isinstance(state, np.ndarray) or state.dtype != np.float32 or not state.flags.c_contiguous \
            or not state.flags.writeable:
        raise ValueError(f"{what}: the state must be a writeable C-contiguous float32 array")
    if state.shape != shape:
        raise ValueError(f"{what}: state shape {state.shape}, expected {shape}")
    return state


def rms_norm(x, w, float eps):
    cdef object xa = _f32(x), wa = _f32(w)
    if xa.ndim == 0 or wa.shape != (xa.shape[xa.ndim - 1],):
        raise ValueError(f"rms_norm: weight shape {wa.shape} does not match x {xa.shape}")
    cdef size_t n = xa.shape[xa.ndim - 1]
    cdef size_t rows = xa.size // n if n else 0
    cdef object y = np.empty_like(xa)
    cdef const float* xp = _ptr(xa)
    cdef const float* wp = _ptr(wa)
    cdef float* yp = _wptr(y)
    with nogil:
        K.rmsnorm(rows, n, xp, wp, eps, yp)
    return y


def swiglu(gate, up):
    cdef object g = _f32(gate), u = _f32(up)
    if g.shape != u.shape:
        raise ValueError(f"swiglu: gate {g.shape} and up {u.shape} differ")
    cdef object y = np.empty_like(g)
    cdef size_t n = g.size
    cdef const float* gp = _ptr(g)
    cdef const float* up_ = _ptr(u)
    cdef float* yp = _wptr(y)
    with nogil:
        K.swiglu(n, gp, up_, yp)
    return y


def _conv(x, w, bias, state, bint gated):
    what = "causal_conv_gated" if gated else "causal_conv"
    cdef object xa = _f32(x), wa = _f32(w)
    if wa.ndim != 2 or wa.shape[0] < 1:
        raise ValueError(f"{what}: weight must be (K, C), got {wa.shape}")
    cdef size_t k = wa.shape[0], c = wa.shape[1]
    if xa.ndim != 2 or xa.shape[1] != (3 * c if gated else c):
        raise ValueError(f"{what}: input shape {xa.shape} does not match weight {wa.shape}")
    cdef size_t t = xa.shape[0]
    cdef object st = _state(state, (k - 1, c), what)
    cdef object ba = None
    cdef const float* bp = NULL
    if bias is not None:
        ba = _f32(bias)
        if ba.shape != (c,):
            raise ValueError(f"{what}: bias shape {ba.shape}, expected ({c},)")
        bp = _ptr(ba)
    cdef object y = np.empty((t, c), dtype=np.float32)
    cdef conv_fn fn = K.causal_conv_gated if gated else K.causal_conv
    cdef const float* xp = _ptr(xa)
    cdef const float* wp = _ptr(wa)
    cdef float* sp = _wptr(st)
    cdef float* yp = _wptr(y)
    with nogil:
        fn(t, c, k, xp, wp, bp, sp, yp)
    return y


def causal_conv(x, w, bias, state):
    return _conv(x, w, bias, state, False)


def causal_conv_gated(bcx, w, bias, state):
    return _conv(bcx, w, bias, state, True)


def linear_attention(q, k, v, state, decay, beta, int q_num_heads, int kv_num_heads, float scale,
                     str update_rule):
    if update_rule not in UPDATE_RULES:
        raise ValueError(f"linear_attention: unknown update_rule {update_rule!r}")
    cdef int mode = UPDATE_RULES[update_rule]
    cdef object qa = _f32(q), ka = _f32(k), va = _f32(v)
    if q_num_heads <= 0 or kv_num_heads <= 0 or q_num_heads % kv_num_heads:
        raise ValueError("linear_attention: q_num_heads must be a positive multiple of kv_num_heads")
    if qa.ndim != 2 or ka.ndim != 2 or va.ndim != 2 or not (qa.shape[0] == ka.shape[0] == va.shape[0]):
        raise ValueError("linear_attention: q, k, v must be (T, heads * dim) with the same T")
    if qa.shape[1] % q_num_heads or ka.shape[1] % kv_num_heads or va.shape[1] % kv_num_heads:
        raise ValueError("linear_attention: feature sizes are not divisible by the head counts")
    cdef size_t t = qa.shape[0], hkv = kv_num_heads, group = q_num_heads // kv_num_heads
    cdef size_t dk = qa.shape[1] // q_num_heads, dv = va.shape[1] // kv_num_heads
    if ka.shape[1] != hkv * dk:
        raise ValueError(f"linear_attention: key width {ka.shape[1]}, expected {hkv * dk}")
    cdef object st = _state(state, (hkv, dk, dv), "linear_attention")
    gated, delta = mode in (1, 3), mode in (2, 3)
    cdef object da = None, bta = None
    cdef const float* dp = NULL
    cdef const float* bp = NULL
    cdef int per_key = 0
    cdef size_t ldd = 0, dstep = 0, ldb = 0, bstep = 0
    if gated != (decay is not None) or delta != (beta is not None):
        raise ValueError(f"linear_attention: update_rule {update_rule!r} requires decay={gated}, beta={delta}")
    if gated:
        da = _f32(decay)
        if da.ndim != 2 or da.shape[0] != t or da.shape[1] not in (hkv, hkv * dk):
            raise ValueError(f"linear_attention: decay shape {da.shape}, expected ({t}, {hkv}) or ({t}, {hkv * dk})")
        per_key = da.shape[1] == hkv * dk and dk != 1
        ldd = da.shape[1]
        dstep = dk if per_key else 1
        dp = _ptr(da)
    if delta:
        bta = _f32(beta)
        if bta.ndim != 2 or bta.shape[0] != t or bta.shape[1] not in (hkv, 1):
            raise ValueError(f"linear_attention: beta shape {bta.shape}, expected ({t}, {hkv}) or ({t}, 1)")
        ldb = bta.shape[1]
        bstep = 1 if bta.shape[1] == hkv else 0
        bp = _ptr(bta)
    cdef object y = np.empty((t, q_num_heads * dv), dtype=np.float32)
    cdef size_t h
    cdef const float* qp = _ptr(qa)
    cdef const float* kp = _ptr(ka)
    cdef const float* vp = _ptr(va)
    cdef float* sp = _wptr(st)
    cdef float* yp = _wptr(y)
    cdef size_t ldq = qa.shape[1], ldk = ka.shape[1], ldv = va.shape[1], ldy = q_num_heads * dv
    with nogil:
        for h in range(hkv):
            K.linear_attention(t, dk, dv, group, mode, scale, qp + h * group * dk, ldq, kp + h * dk, ldk,
                               vp + h * dv, ldv, dp + h * dstep if dp != NULL else NULL, ldd, per_key,
                               bp + h * bstep if bp != NULL else NULL, ldb, sp + h * dk * dv,
                               yp + h * group * dv, ldy)
    return y
