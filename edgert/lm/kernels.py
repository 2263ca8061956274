"""Kernel interface of the language model: native C kernels, with numpy references.

Every numeric step of the decoder goes through the functions of this module.  Each public function
runs the native kernel (``edgert._ops._seq``: RMSNorm, SwiGLU, CausalConvWithState, LinearAttention;
``edgert._ops._lm``: f32 / int8 / q4 GEMV and GEMM, threaded) and has a numpy reference of the same
contract (``*_ref``), which :func:`use_reference` switches every call to (the tests compare the two).
The contract of each function is written down below: signature, shapes, dtypes (float32
everywhere, int8/uint8 only inside :class:`Weight`) and in-place state updates.

Layouts are token-major and unbatched (batch 1, the decode case):

* activations ``(T, C)`` or ``(C,)`` float32;
* conv state ``(K-1, C)``: row ``j`` holds input position ``t-(K-1)+j``.  This is ONNX
  CausalConvWithState's ``past_state (1, C, K-1)`` transposed;
* linear-attention state ``(H_kv, d_k, d_v)``: ONNX LinearAttention's ``past_state`` without the
  batch axis.  Query head ``h`` reads kv head ``h // (H_q / H_kv)`` (ONNX and transformers' repeat_kv).

Weights are :class:`Weight` objects (``y = x @ W.T``, W of shape ``(out, in)`` as torch's Linear):

* ``f32``: dense float32;
* ``int8``: symmetric per output channel, ``w ~= q[o, i] * scale[o]``, q in [-127, 127];
* ``q4``: symmetric groups of ``group`` (32) consecutive inputs, ``w ~= q * scale[o, g]`` with
  ``scale = max|w_group| / 7``, q in [-7, 7] (nibble range [-8, 7]), two values per byte (low nibble =
  even input index), stored offset by +8.
"""

from __future__ import annotations

import contextlib
import threading

import numpy as np

from edgert._ops import _lm as _native_lm
from edgert._ops import _seq as _native_seq

F32 = np.float32
Q4_GROUP = 32
KINDS = ("f32", "int8", "q4")

_mode = threading.local()


def reference_mode() -> bool:
    """True while :func:`use_reference` is active in this thread."""
    return getattr(_mode, "ref", False)


@contextlib.contextmanager
def use_reference(on: bool = True):
    """Within the block, every kernel of this module (and the model's decode step) runs its numpy
    reference instead of the native kernel (this thread only)."""
    old = reference_mode()
    _mode.ref = bool(on)
    try:
        yield
    finally:
        _mode.ref = old


def thread_pool(threads: int):
    """A native thread pool for :func:`gemm` (``threads`` counts the caller; 1: no workers)."""
    threads = int(threads)
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    return _native_lm.ThreadPool(threads)


def variants() -> dict:
    """Native kernel variants in use: {'gemm': 'avx2'|'neon'|'scalar', 'seq': ...}."""
    return {"gemm": _native_lm.variant(), "seq": _native_seq.variant()}


# ----------------------------------------------------------------------------------------- norms

def rms_norm_ref(x: np.ndarray, weight: np.ndarray, eps: float) -> np.ndarray:
    """``x / sqrt(mean(x^2, -1) + eps) * weight`` over the last axis (ONNX RMSNormalization, axis=-1)."""
    x = np.asarray(x, dtype=F32)
    ms = np.mean(np.square(x), axis=-1, keepdims=True, dtype=F32)
    return (x / np.sqrt(ms + F32(eps))) * weight


def l2_normalize(x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """``x / sqrt(sum(x^2, -1) + eps)`` over the last axis."""
    return x / np.sqrt(np.sum(np.square(x), axis=-1, keepdims=True, dtype=F32) + F32(eps))


def swiglu_ref(gate: np.ndarray, up: np.ndarray) -> np.ndarray:
    """``silu(gate) * up``."""
    return (gate / (F32(1.0) + np.exp(-gate))) * up


def silu(x: np.ndarray) -> np.ndarray:
    return x / (F32(1.0) + np.exp(-x))


def softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(F32(0.0), x).astype(F32)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return (F32(1.0) / (F32(1.0) + np.exp(-x))).astype(F32)


# ------------------------------------------------------------------------------ causal conv1d

def causal_conv_prefill_ref(x: np.ndarray, weight: np.ndarray, bias, state: np.ndarray) -> np.ndarray:
    """Depthwise causal conv of ``x (T, C)`` with ``weight (C, K)``, continuing from ``state (K-1, C)``.

    ``y[t, c] = bias[c] + sum_k weight[c, k] * xp[t + k, c]`` with ``xp = concat(state, x)``; afterwards
    ``state`` holds the last K-1 rows of ``xp`` (updated in place).  Same numbers as ONNX
    CausalConvWithState (activation 'none').
    """
    t = x.shape[0]
    k = weight.shape[1]
    xp = np.concatenate([state, x], axis=0)
    y = np.zeros_like(x)
    for j in range(k):
        y += xp[j:j + t] * weight[:, j]
    if bias is not None:
        y += bias
    if k > 1:
        state[...] = xp[xp.shape[0] - (k - 1):]
    return y


def causal_conv_step_ref(x: np.ndarray, weight: np.ndarray, bias, state: np.ndarray) -> np.ndarray:
    """One token ``x (C,)`` of :func:`causal_conv_prefill`; ``state (K-1, C)`` rolls in place."""
    k = weight.shape[1]
    y = x * weight[:, k - 1]
    for j in range(k - 1):
        y += state[j] * weight[:, j]
    if bias is not None:
        y += bias
    if k > 1:
        state[:-1] = state[1:]
        state[-1] = x
    return y


# ------------------------------------------------------------------------- linear attention

def _gqa_read(q: np.ndarray, state: np.ndarray, scale: float) -> np.ndarray:
    """``o[h] = scale * q[h] @ state[h // group]`` for q ``(H_q, d_k)``, state ``(H_kv, d_k, d_v)``."""
    hq, dk = q.shape
    hkv = state.shape[0]
    g = hq // hkv
    qg = q.reshape(hkv, g, dk)
    return (np.matmul(qg, state) * F32(scale)).reshape(hq, state.shape[2])


def linear_attention_step_ref(q, k, v, state, update_rule="gated_delta", decay=None, beta=None, scale=0.0):
    """One token of ONNX LinearAttention (opset 27); ``state (H_kv, d_k, d_v)`` is updated in place.

    q ``(H_q, d_k)``, k ``(H_kv, d_k)``, v ``(H_kv, d_v)``; decay (log space) ``(H_kv,)`` or
    ``(H_kv, d_k)``; beta ``(H_kv,)``.  Rules:
    linear ``S += k v^T``; gated ``S = e^g S + k v^T``; delta ``S += b k (v - S^T k)^T``;
    gated_delta ``S = e^g S; S += b k (v - S^T k)^T``.  Returns ``o = scale q^T S`` of shape ``(H_q, d_v)``;
    scale 0 means ``1/sqrt(d_k)``.
    """
    dk = q.shape[-1]
    sc = 1.0 / np.sqrt(dk) if not scale else scale
    if update_rule in ("gated", "gated_delta"):
        g = np.exp(decay).astype(F32)
        state *= g[:, None, None] if g.ndim == 1 else g[:, :, None]
    if update_rule in ("delta", "gated_delta"):
        retrieved = np.einsum("hdm,hd->hm", state, k)
        v = beta[:, None] * (v - retrieved)
    elif update_rule not in ("linear", "gated"):
        raise ValueError(f"unknown update_rule {update_rule!r}")
    state += k[:, :, None] * v[:, None, :]
    return _gqa_read(q, state, sc)


def linear_attention_prefill_ref(q, k, v, state, update_rule="gated_delta", decay=None, beta=None, scale=0.0):
    """T tokens of :func:`linear_attention_step_ref`: q ``(T, H_q, d_k)`` ... -> ``(T, H_q, d_v)``.

    Sequential recurrence (exact); a native kernel may use the chunked WY form instead, which gives the
    same numbers within float tolerance.
    """
    t = q.shape[0]
    out = np.empty((t, q.shape[1], v.shape[2]), dtype=F32)
    for i in range(t):
        out[i] = linear_attention_step_ref(q[i], k[i], v[i], state, update_rule,
                                       None if decay is None else decay[i],
                                       None if beta is None else beta[i], scale)
    return out


# ------------------------------------------------------------------------- weights and GEMM

class Weight:
    """A linear layer's weight ``(out, in)`` in one of the kinds 'f32', 'int8', 'q4'."""

    __slots__ = ("kind", "shape", "data", "scale", "group")

    def __init__(self, kind, shape, data, scale=None, group=0):
        self.kind, self.shape, self.data, self.scale, self.group = kind, tuple(shape), data, scale, group

    @property
    def nbytes(self) -> int:
        return int(self.data.nbytes + (0 if self.scale is None else self.scale.nbytes))

    def dequantize(self) -> np.ndarray:
        """The float32 ``(out, in)`` matrix this weight stands for."""
        if self.kind == "f32":
            return self.data
        if self.kind == "int8":
            return self.data.astype(F32) * self.scale[:, None]
        return self._dequant_q4_rows(slice(None))

    def rows(self, idx) -> np.ndarray:
        """Float32 rows ``idx`` (an embedding lookup on a quantized table)."""
        if self.kind == "f32":
            return self.data[idx]
        if self.kind == "int8":
            return self.data[idx].astype(F32) * self.scale[idx][..., None]
        return self._dequant_q4_rows(idx)

    def _dequant_q4_rows(self, idx) -> np.ndarray:
        packed = self.data[idx]
        lo = (packed & 0x0F).astype(F32) - F32(8.0)
        hi = (packed >> 4).astype(F32) - F32(8.0)
        lead = packed.shape[:-1]
        q = np.stack([lo, hi], axis=-1).reshape(*lead, packed.shape[-1] * 2)
        s = self.scale[idx]
        ngroups = s.shape[-1]
        q = q[..., : ngroups * self.group].reshape(*lead, ngroups, self.group) * s[..., None]
        return q.reshape(*lead, ngroups * self.group)[..., : self.shape[1]]


def weight_f32(w: np.ndarray) -> Weight:
    w = np.ascontiguousarray(w, dtype=F32)
    return Weight("f32", w.shape, w)


def quantize_int8(w: np.ndarray) -> Weight:
    """Symmetric per-output-channel int8: ``scale[o] = max|w[o]| / 127``, round half to even."""
    w = np.asarray(w, dtype=F32)
    amax = np.max(np.abs(w), axis=1)
    scale = np.where(amax > 0, amax / F32(127.0), F32(1.0)).astype(F32)
    q = np.clip(np.rint(w / scale[:, None]), -127, 127).astype(np.int8)
    return Weight("int8", w.shape, np.ascontiguousarray(q), scale)


def quantize_q4(w: np.ndarray, group: int = Q4_GROUP) -> Weight:
    """Symmetric 4-bit groups of ``group`` inputs: ``scale = max|w_group| / 7``, q in [-7, 7] (-8 unused)."""
    w = np.asarray(w, dtype=F32)
    out_f, in_f = w.shape
    ngroups = -(-in_f // group)
    pad = ngroups * group - in_f
    wp = np.pad(w, ((0, 0), (0, pad))) if pad else w
    wg = wp.reshape(out_f, ngroups, group)
    amax = np.max(np.abs(wg), axis=2)
    scale = np.where(amax > 0, amax / F32(7.0), F32(1.0)).astype(F32)
    q = np.clip(np.rint(wg / scale[:, :, None]), -8, 7).astype(np.int16).reshape(out_f, ngroups * group)
    u = (q + 8).astype(np.uint8)
    if u.shape[1] % 2:
        u = np.pad(u, ((0, 0), (0, 1)), constant_values=8)
    packed = (u[:, 0::2] | (u[:, 1::2] << 4)).astype(np.uint8)
    return Weight("q4", w.shape, np.ascontiguousarray(packed), scale, group)


def make_weight(w: np.ndarray, kind: str = "f32") -> Weight:
    if kind == "f32":
        return weight_f32(w)
    if kind == "int8":
        return quantize_int8(w)
    if kind == "q4":
        return quantize_q4(w)
    raise ValueError(f"unknown weight kind {kind!r} (expected f32, int8 or q4)")


def gemm_ref(x: np.ndarray, w: Weight, bias=None) -> np.ndarray:
    """``Y (T, out) = X (T, in) @ W^T + bias``.

    The numpy path dequantizes int8 / q4 weights per call (so the resident weight stays quantized);
    native kernels multiply int8 / 4-bit weights directly with per-channel / per-group scales.
    """
    if w.kind == "f32":
        y = x @ w.data.T
    elif w.kind == "int8":
        y = (x @ w.data.T.astype(F32)) * w.scale
    else:
        y = x @ w.dequantize().T
    if bias is not None:
        y += bias
    return y.astype(F32, copy=False)


def gemv_ref(x: np.ndarray, w: Weight, bias=None) -> np.ndarray:
    return gemm_ref(x[None, :], w, bias)[0]


# ------------------------------------------------------------------ native kernels (same contracts)

def rms_norm(x: np.ndarray, weight: np.ndarray, eps: float) -> np.ndarray:
    """Native :func:`rms_norm_ref` (any leading shape)."""
    if reference_mode():
        return rms_norm_ref(x, weight, eps)
    return _native_seq.rms_norm(x, weight, eps)


def swiglu(gate: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Native :func:`swiglu_ref`."""
    if reference_mode():
        return swiglu_ref(gate, up)
    return _native_seq.swiglu(gate, up)


def causal_conv_prefill(x: np.ndarray, weight: np.ndarray, bias, state: np.ndarray) -> np.ndarray:
    """Native :func:`causal_conv_prefill_ref` (weight ``(C, K)``, state ``(K-1, C)`` in place)."""
    if reference_mode():
        return causal_conv_prefill_ref(x, weight, bias, state)
    return _native_seq.causal_conv(x, np.ascontiguousarray(np.asarray(weight, F32).T), bias, state)


def causal_conv_step(x: np.ndarray, weight: np.ndarray, bias, state: np.ndarray) -> np.ndarray:
    """Native :func:`causal_conv_step_ref`."""
    if reference_mode():
        return causal_conv_step_ref(x, weight, bias, state)
    return causal_conv_prefill(np.asarray(x, F32)[None, :], weight, bias, state)[0]


def causal_conv_gated_ref(bcx: np.ndarray, weight_kc: np.ndarray, bias, state: np.ndarray) -> np.ndarray:
    """LFM2's short conv on the in_proj output ``bcx (T, 3C)`` = rows ``[B | Cg | X]``:
    ``Cg * causal_conv(B * X)`` with the tap-major weight ``weight_kc (K, C)``; state holds past ``B * X``."""
    c = bcx.shape[1] // 3
    b, cg, xx = bcx[:, :c], bcx[:, c:2 * c], bcx[:, 2 * c:]
    return cg * causal_conv_prefill_ref(b * xx, np.asarray(weight_kc).T, bias, state)


def causal_conv_gated(bcx: np.ndarray, weight_kc: np.ndarray, bias, state: np.ndarray) -> np.ndarray:
    """Native :func:`causal_conv_gated_ref` (one native call for gating, conv and state update)."""
    if reference_mode():
        return causal_conv_gated_ref(bcx, weight_kc, bias, state)
    return _native_seq.causal_conv_gated(bcx, weight_kc, bias, state)


def _la_native(q, k, v, state, update_rule, decay, beta, scale):
    t, hq, dk = q.shape
    hkv, dv = k.shape[1], v.shape[2]
    sc = float(1.0 / np.sqrt(dk)) if not scale else float(scale)
    d = None if decay is None else np.asarray(decay, F32).reshape(t, -1)
    b = None if beta is None else np.asarray(beta, F32).reshape(t, -1)
    y = _native_seq.linear_attention(np.asarray(q, F32).reshape(t, hq * dk), np.asarray(k, F32).reshape(t, hkv * dk),
                                     np.asarray(v, F32).reshape(t, hkv * dv), state, d, b, hq, hkv, sc, update_rule)
    return y.reshape(t, hq, dv)


def linear_attention_step(q, k, v, state, update_rule="gated_delta", decay=None, beta=None, scale=0.0):
    """Native :func:`linear_attention_step_ref`."""
    if reference_mode():
        return linear_attention_step_ref(q, k, v, state, update_rule, decay, beta, scale)
    if update_rule not in ("linear", "gated", "delta", "gated_delta"):
        raise ValueError(f"unknown update_rule {update_rule!r}")
    return _la_native(np.asarray(q)[None], np.asarray(k)[None], np.asarray(v)[None], state, update_rule,
                      None if decay is None else np.asarray(decay)[None],
                      None if beta is None else np.asarray(beta)[None], scale)[0]


def linear_attention_prefill(q, k, v, state, update_rule="gated_delta", decay=None, beta=None, scale=0.0):
    """Native :func:`linear_attention_prefill_ref` (the exact sequential recurrence)."""
    if reference_mode():
        return linear_attention_prefill_ref(q, k, v, state, update_rule, decay, beta, scale)
    if update_rule not in ("linear", "gated", "delta", "gated_delta"):
        raise ValueError(f"unknown update_rule {update_rule!r}")
    return _la_native(q, k, v, state, update_rule, decay, beta, scale)


def native_weight(w: Weight, bias=None) -> tuple:
    """``(kind, data, scale, bias, group)`` of a weight as the native kernels take it (the q4 data
    is already padded to whole groups, so K there is ``2 * data.shape[1]``)."""
    if bias is not None:
        bias = np.ascontiguousarray(bias, dtype=F32)
    return (w.kind, w.data, w.scale, bias, w.group)


def native_k(w: Weight) -> int:
    """The K the native kernel multiplies over (``in`` rounded up to whole q4 groups)."""
    return 2 * w.data.shape[1] if w.kind == "q4" else w.shape[1]


def gemm(x: np.ndarray, w: Weight, bias=None, pool=None) -> np.ndarray:
    """``Y (T, out) = X (T, in) @ W^T + bias`` on the native kernel for ``w.kind`` (weights used as
    stored: float32, int8 per channel or 4-bit groups); ``pool`` from :func:`thread_pool`."""
    if reference_mode():
        return gemm_ref(x, w, bias)
    x = np.asarray(x, dtype=F32)
    k = native_k(w)
    if x.shape[-1] != k:  # q4 with `in` not a multiple of the group: zero inputs for the pad
        if x.shape[-1] != w.shape[1]:
            raise ValueError(f"gemm: x has {x.shape[-1]} features, the weight {w.shape[1]}")
        x = np.pad(x, ((0, 0), (0, k - x.shape[-1])))
    if bias is not None:
        bias = np.ascontiguousarray(bias, dtype=F32)
    return _native_lm.qwgemm(pool, KINDS.index(w.kind), x, w.data, w.scale, bias, w.group)


def gemv(x: np.ndarray, w: Weight, bias=None, pool=None) -> np.ndarray:
    """``y (out,) = W x (in,) + bias``."""
    return gemm(np.asarray(x, F32)[None, :], w, bias, pool)[0]
