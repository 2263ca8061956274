"""Sequence-model operators: numpy references, native kernels and ONNX opset-27 semantics.

Two layers, both fp32:

* **Token-major kernels** for the language model (batch 1, activations ``(T, C)``), each with a
  numpy reference (``*_ref``) and the native C kernel of the same contract (``edgert._ops._seq``,
  AVX2 / NEON / scalar, GIL released; the plain names below dispatch to it):

  - ``rms_norm(x, w, eps)``: ``x / sqrt(mean(x^2, -1) + eps) * w``;
  - ``swiglu(gate, up)``: ``silu(gate) * up``;
  - ``causal_conv(x (T, C), w (K, C), bias | None, state (K-1, C))``: depthwise causal conv1d
    continuing from ``state``, which is updated in place (it then holds the last K-1 inputs);
    one decode step is ``T == 1``, a chunked prefill any ``T``;
  - ``causal_conv_gated(bcx (T, 3C), w, bias, state)``: LFM2's short conv, ``bcx`` rows being
    ``[B | C | x]`` (in_proj output): ``y = C * causal_conv(B * x)``, the state holding past
    ``B * x``;
  - ``linear_attention(q (T, Hq*dk), k (T, Hkv*dk), v (T, Hkv*dv), state (Hkv, dk, dv), decay,
    beta, q_num_heads, kv_num_heads, scale, update_rule)``: the recurrence of ONNX
    LinearAttention (below), state updated in place.

* **ONNX operators** (``onnx_*``), registered as reference ops: ``RMSNormalization`` (opset 23),
  ``CausalConvWithState`` and ``LinearAttention`` (opset 27), with ONNX's batched layouts
  ``(B, C, L)`` and ``(B, T, H*D)``.  Bad shapes or attributes raise
  :class:`edgert.errors.OperatorArgumentError` naming the node.

LinearAttention update rules (per kv head, ``S`` of shape ``(dk, dv)``, ``g`` per head or per key
row, applied as ``exp(g)``):

    linear:       S = S + k^T v
    gated:        S = exp(g) S + k^T v
    delta:        S = S + beta k^T (v - k S)
    gated_delta:  S' = exp(g) S;  S = S' + beta k^T (v - k S')
    output        o = scale * q S   (scale 0 or absent: 1 / sqrt(dk))

Conv state layout: ONNX ``past_state (1, C, K-1)`` transposed to ``(K-1, C)``; attention state:
ONNX ``past_state`` without its batch axis.
"""
from __future__ import annotations

import numpy as np

from edgert.errors import OperatorArgumentError
from edgert.ops.reference import ref

F32 = np.float32
UPDATE_RULES = ("linear", "gated", "delta", "gated_delta")


def _native():
    from edgert._ops import _seq

    return _seq


# ------------------------------------------------------------------ numpy references (token-major)

def rms_norm_ref(x, w, eps: float) -> np.ndarray:
    x = np.asarray(x, dtype=F32)
    ms = np.mean(np.square(x), axis=-1, keepdims=True, dtype=F32)
    return (x / np.sqrt(ms + F32(eps)) * np.asarray(w, F32)).astype(F32)


def swiglu_ref(gate, up) -> np.ndarray:
    gate = np.asarray(gate, F32)
    with np.errstate(over="ignore"):
        return (gate / (F32(1) + np.exp(-gate)) * np.asarray(up, F32)).astype(F32)


def causal_conv_ref(x, w, bias, state: np.ndarray) -> np.ndarray:
    x = np.asarray(x, F32)
    w = np.asarray(w, F32)
    k, t = w.shape[0], x.shape[0]
    xp = np.concatenate([state, x], axis=0)
    y = np.zeros_like(x) if bias is None else np.broadcast_to(np.asarray(bias, F32), x.shape).copy()
    for j in range(k):
        y += w[j] * xp[j:j + t]
    state[...] = xp[xp.shape[0] - (k - 1):]
    return y


def causal_conv_gated_ref(bcx, w, bias, state: np.ndarray) -> np.ndarray:
    bcx = np.asarray(bcx, F32)
    c = bcx.shape[1] // 3
    b, gate, x = bcx[:, :c], bcx[:, c:2 * c], bcx[:, 2 * c:]
    return gate * causal_conv_ref(b * x, w, bias, state)


def linear_attention_ref(q, k, v, state: np.ndarray, decay, beta, q_num_heads: int, kv_num_heads: int,
                         scale: float, update_rule: str) -> np.ndarray:
    q, k, v = (np.asarray(a, F32) for a in (q, k, v))
    t = q.shape[0]
    hq, hkv = q_num_heads, kv_num_heads
    dk, dv = q.shape[1] // hq, v.shape[1] // hkv
    group = hq // hkv
    q4 = q.reshape(t, hq, dk)
    k4 = k.reshape(t, hkv, dk)
    v4 = v.reshape(t, hkv, dv)
    gated = update_rule in ("gated", "gated_delta")
    delta = update_rule in ("delta", "gated_delta")
    if gated:
        decay = np.asarray(decay, F32)
        g = decay.reshape(t, hkv, 1) if decay.shape[1] == hkv else decay.reshape(t, hkv, dk)
    if delta:
        bt = np.broadcast_to(np.asarray(beta, F32).reshape(t, -1), (t, hkv))
    y = np.empty((t, hq, dv), F32)
    for i in range(t):
        if gated:
            state *= np.exp(g[i])[:, :, None]
        vi = v4[i]
        if delta:
            vi = bt[i][:, None] * (vi - np.einsum("hd,hde->he", k4[i], state))
        state += k4[i][:, :, None] * vi[:, None, :]
        y[i] = F32(scale) * np.einsum("hd,hde->he", q4[i], np.repeat(state, group, axis=0))
    return y.reshape(t, hq * dv)


# ------------------------------------------------------------------ native kernels (same contracts)

def rms_norm(x, w, eps: float) -> np.ndarray:
    return _native().rms_norm(x, w, eps)


def swiglu(gate, up) -> np.ndarray:
    return _native().swiglu(gate, up)


def causal_conv(x, w, bias, state: np.ndarray) -> np.ndarray:
    return _native().causal_conv(x, w, bias, state)


def causal_conv_gated(bcx, w, bias, state: np.ndarray) -> np.ndarray:
    return _native().causal_conv_gated(bcx, w, bias, state)


def linear_attention(q, k, v, state, decay, beta, q_num_heads, kv_num_heads, scale, update_rule):
    return _native().linear_attention(q, k, v, state, decay, beta, q_num_heads, kv_num_heads, scale,
                                      update_rule)


# ------------------------------------------------------------------ ONNX operators (batched layouts)

def _fail(node_name: str, op: str, msg: str):
    raise OperatorArgumentError(op, node_name, msg)


def onnx_rms_normalization(x, scale, axis: int = -1, epsilon: float = 1e-5, node: str = "?"):
    x = np.asarray(x)
    rank = x.ndim
    a = axis + rank if axis < 0 else axis
    if not 0 <= a < rank:
        _fail(node, "RMSNormalization", f"axis {axis} is out of range for rank {rank}")
    axes = tuple(range(a, rank))
    xf = x.astype(F32)
    ms = np.mean(np.square(xf), axis=axes, keepdims=True)
    try:
        y = xf / np.sqrt(ms + F32(epsilon)) * np.asarray(scale, F32)
    except ValueError:
        _fail(node, "RMSNormalization", f"scale shape {np.shape(scale)} does not broadcast to X {x.shape}")
    if y.shape != x.shape:
        _fail(node, "RMSNormalization", f"scale shape {np.shape(scale)} does not broadcast to X {x.shape}")
    return y.astype(x.dtype)


def onnx_causal_conv_with_state(x, weight, bias=None, past_state=None, activation: str = "none",
                                node: str = "?", native: bool = False):
    """ONNX CausalConvWithState: x (B, C, L), weight (C, 1, K), bias (C,), past_state (B, C, K-1)
    -> (output (B, C, L), present_state (B, C, K-1))."""
    op = "CausalConvWithState"
    if activation not in ("none", "silu", "swish"):
        _fail(node, op, f"activation {activation!r} (expected none, silu or swish)")
    x, weight = np.asarray(x), np.asarray(weight)
    if x.ndim != 3:
        _fail(node, op, f"input must be rank 3 (B, C, L), got shape {x.shape}")
    b, c, length = x.shape
    if weight.ndim != 3 or weight.shape[0] != c or weight.shape[1] != 1 or weight.shape[2] < 1:
        _fail(node, op, f"weight must be ({c}, 1, K), got shape {weight.shape}")
    k = weight.shape[2]
    if bias is not None and np.shape(bias) != (c,):
        _fail(node, op, f"bias must be ({c},), got shape {np.shape(bias)}")
    if past_state is not None and np.shape(past_state) != (b, c, k - 1):
        _fail(node, op, f"past_state must be ({b}, {c}, {k - 1}), got shape {np.shape(past_state)}")
    w_kc = np.ascontiguousarray(weight[:, 0, :].T, F32)
    out = np.empty((b, c, length), F32)
    present = np.empty((b, c, k - 1), F32)
    for i in range(b):
        state = (np.zeros((k - 1, c), F32) if past_state is None
                 else np.ascontiguousarray(np.asarray(past_state[i], F32).T))
        xt = np.ascontiguousarray(x[i].T, F32)
        y = (causal_conv if native else causal_conv_ref)(xt, w_kc, bias, state)
        if activation != "none":
            y = (swiglu if native else swiglu_ref)(y, np.ones_like(y))
        out[i] = y.T
        present[i] = state.T
    return out.astype(x.dtype), present.astype(x.dtype)


def onnx_linear_attention(query, key, value, past_state=None, decay=None, beta=None, *, q_num_heads=None,
                          kv_num_heads=None, scale: float = 0.0, update_rule: str = "gated_delta",
                          node: str = "?", native: bool = False):
    """ONNX LinearAttention (opset 27): query (B, T, Hq*dk), key (B, T, Hkv*dk), value (B, T, Hkv*dv),
    past_state (B, Hkv, dk, dv), decay (B, T, Hkv | Hkv*dk), beta (B, T, Hkv | 1)
    -> (output (B, T, Hq*dv), present_state (B, Hkv, dk, dv))."""
    op = "LinearAttention"
    if update_rule not in UPDATE_RULES:
        _fail(node, op, f"update_rule {update_rule!r} (expected one of {', '.join(UPDATE_RULES)})")
    if q_num_heads is None or kv_num_heads is None:
        _fail(node, op, "q_num_heads and kv_num_heads are required")
    hq, hkv = int(q_num_heads), int(kv_num_heads)
    if hq <= 0 or hkv <= 0 or hq % hkv:
        _fail(node, op, f"q_num_heads ({hq}) must be a positive multiple of kv_num_heads ({hkv})")
    gated = update_rule in ("gated", "gated_delta")
    delta = update_rule in ("delta", "gated_delta")
    if gated != (decay is not None):
        _fail(node, op, f"update_rule {update_rule!r} {'requires' if gated else 'forbids'} the decay input")
    if delta != (beta is not None):
        _fail(node, op, f"update_rule {update_rule!r} {'requires' if delta else 'forbids'} the beta input")
    q, k, v = np.asarray(query), np.asarray(key), np.asarray(value)
    for name, a in (("query", q), ("key", k), ("value", v)):
        if a.ndim != 3:
            _fail(node, op, f"{name} must be rank 3 (B, T, H*D), got shape {a.shape}")
    b, t = q.shape[:2]
    if k.shape[:2] != (b, t) or v.shape[:2] != (b, t):
        _fail(node, op, f"query {q.shape}, key {k.shape} and value {v.shape} differ in batch or length")
    if q.shape[2] % hq or k.shape[2] % hkv or v.shape[2] % hkv:
        _fail(node, op, f"feature sizes {q.shape[2]}, {k.shape[2]}, {v.shape[2]} are not divisible "
                        f"by the head counts ({hq}, {hkv})")
    dk, dv = q.shape[2] // hq, v.shape[2] // hkv
    if k.shape[2] != hkv * dk:
        _fail(node, op, f"key width {k.shape[2]} != kv_num_heads * d_k = {hkv * dk}")
    if past_state is not None and np.shape(past_state) != (b, hkv, dk, dv):
        _fail(node, op, f"past_state must be ({b}, {hkv}, {dk}, {dv}), got shape {np.shape(past_state)}")
    if gated and (np.ndim(decay) != 3 or np.shape(decay)[:2] != (b, t) or np.shape(decay)[2] not in (hkv, hkv * dk)):
        _fail(node, op, f"decay must be ({b}, {t}, {hkv}) or ({b}, {t}, {hkv * dk}), got shape {np.shape(decay)}")
    if delta and (np.ndim(beta) != 3 or np.shape(beta)[:2] != (b, t) or np.shape(beta)[2] not in (hkv, 1)):
        _fail(node, op, f"beta must be ({b}, {t}, {hkv}) or ({b}, {t}, 1), got shape {np.shape(beta)}")
    scale_val = float(scale) if scale else 1.0 / float(np.sqrt(dk))
    fn = linear_attention if native else linear_attention_ref
    out = np.empty((b, t, hq * dv), F32)
    present = np.empty((b, hkv, dk, dv), F32)
    for i in range(b):
        state = (np.zeros((hkv, dk, dv), F32) if past_state is None
                 else np.array(past_state[i], dtype=F32, order="C"))
        out[i] = fn(q[i], k[i], v[i], state, None if decay is None else decay[i],
                    None if beta is None else beta[i], hq, hkv, scale_val, update_rule)
        present[i] = state
    state_dtype = q.dtype if past_state is None else np.asarray(past_state).dtype
    return out.astype(q.dtype), present.astype(state_dtype)


# ------------------------------------------------------------------ reference-op registration

def _in(inputs, i):
    return inputs[i] if len(inputs) > i and inputs[i] is not None else None


@ref("RMSNormalization")
def _ref_rms_normalization(node, inputs, opset):
    return [onnx_rms_normalization(inputs[0], inputs[1], int(node.attr("axis", -1)),
                                   float(node.attr("epsilon", 1e-5)), node=node.name)]


@ref("CausalConvWithState")
def _ref_causal_conv_with_state(node, inputs, opset):
    return list(onnx_causal_conv_with_state(inputs[0], inputs[1], _in(inputs, 2), _in(inputs, 3),
                                            node.attr("activation", "none"), node=node.name))


@ref("LinearAttention")
def _ref_linear_attention(node, inputs, opset):
    return list(onnx_linear_attention(
        inputs[0], inputs[1], inputs[2], _in(inputs, 3), _in(inputs, 4), _in(inputs, 5),
        q_num_heads=node.attr("q_num_heads"), kv_num_heads=node.attr("kv_num_heads"),
        scale=float(node.attr("scale", 0.0)), update_rule=node.attr("update_rule", "gated_delta"),
        node=node.name))
