"""Quantization operators in numpy: ONNX's QuantizeLinear / DequantizeLinear / QLinearConv /
QLinearMatMul / ConvInteger / MatMulInteger / DynamicQuantizeLinear, and the onnxruntime
(com.microsoft) QLinear* operators that edgert's QDQ pass produces and that onnxruntime's
QOperator-format files contain.

Integer arithmetic is exact (int64 accumulation); requantization follows edgert's int8 spec:
float32 product of the accumulator and the combined scale, rounded half to even, plus the output
zero point, saturated. The native int8 kernels match these bit for bit.
"""
from __future__ import annotations

import numpy as np

from edgert.errors import UnsupportedOperatorError
from edgert.ops.geometry import conv_pads_2d
from edgert.ops.reference import _opt, ref

MS_DOMAIN = "com.microsoft"
F32 = np.float32
_INT_TYPES = (np.int8, np.uint8, np.int16, np.uint16, np.int32)


def _range_of(dtype) -> tuple[int, int]:
    info = np.iinfo(dtype)
    return int(info.min), int(info.max)


def _per_axis(param: np.ndarray, rank: int, axis: int) -> np.ndarray:
    """A scale / zero point broadcastable against a rank-`rank` tensor (per tensor or per axis)."""
    param = np.asarray(param)
    if param.size == 1:
        return param.reshape(())
    shape = [1] * rank
    shape[axis % rank] = param.size
    return param.reshape(shape)


def saturate(values: np.ndarray, dtype) -> np.ndarray:
    lo, hi = _range_of(dtype)
    return np.clip(values, lo, hi).astype(dtype)


def quantize(x: np.ndarray, scale, zero_point, dtype, axis: int = 1) -> np.ndarray:
    """ONNX QuantizeLinear: saturate(round_half_even(x / scale) + zero_point)."""
    x = np.asarray(x, F32)
    s = _per_axis(np.asarray(scale, F32), x.ndim, axis)
    z = _per_axis(np.asarray(zero_point), x.ndim, axis).astype(np.int64)
    return saturate(np.rint(x / s).astype(np.float64) + z, dtype)


def dequantize(q: np.ndarray, scale, zero_point, axis: int = 1) -> np.ndarray:
    """ONNX DequantizeLinear: (q - zero_point) * scale, in float32."""
    q = np.asarray(q)
    s = _per_axis(np.asarray(scale, F32), q.ndim, axis)
    z = _per_axis(np.asarray(zero_point if zero_point is not None else 0), q.ndim, axis)
    return (q.astype(np.int64) - z.astype(np.int64)).astype(F32) * s


def requantize(acc: np.ndarray, multiplier, zero_point: int, dtype, lo: int | None = None,
               hi: int | None = None) -> np.ndarray:
    """int32 accumulator -> int8/uint8 by edgert's spec (float32 multiply, clamp, RNE, + zp)."""
    qmin, qmax = _range_of(dtype)
    qmin = qmin if lo is None else max(qmin, lo)
    qmax = qmax if hi is None else min(qmax, hi)
    f = acc.astype(F32) * np.asarray(multiplier, F32)
    f = np.clip(f, F32(qmin - zero_point), F32(qmax - zero_point))
    return (np.rint(f).astype(np.int64) + zero_point).astype(dtype)


def _zero_point(inputs, index, like_dtype=np.uint8):
    zp = _opt(inputs, index)
    if zp is None or zp.size == 0:
        return np.zeros((), like_dtype)
    return zp


@ref("QuantizeLinear")
def _quantize_linear(node, inputs, opset):
    x, scale = inputs[0], inputs[1]
    zp = _opt(inputs, 2)
    if node.attr("block_size", 0):
        raise UnsupportedOperatorError(node.op_type, node.name, "blocked quantization")
    if zp is not None and zp.size:
        dtype = zp.dtype
    else:
        out_type = node.attr("output_dtype", 0)
        if out_type:
            import onnx
            dtype = onnx.helper.tensor_dtype_to_np_dtype(out_type)
        else:
            dtype = np.dtype(np.uint8)
        zp = np.zeros((), dtype)
    if dtype.type not in _INT_TYPES:
        raise UnsupportedOperatorError(node.op_type, node.name, f"output type {dtype}")
    return [quantize(x, scale, zp, dtype, node.attr("axis", 1))]


@ref("DequantizeLinear")
def _dequantize_linear(node, inputs, opset):
    x, scale = inputs[0], inputs[1]
    if node.attr("block_size", 0):
        raise UnsupportedOperatorError(node.op_type, node.name, "blocked quantization")
    if x.dtype.type not in _INT_TYPES:
        raise UnsupportedOperatorError(node.op_type, node.name, f"input type {x.dtype}")
    return [dequantize(x, scale, _opt(inputs, 2), node.attr("axis", 1))]


@ref("DynamicQuantizeLinear")
def _dynamic_quantize_linear(node, inputs, opset):
    x = np.asarray(inputs[0], F32)
    lo = min(0.0, float(x.min())) if x.size else 0.0
    hi = max(0.0, float(x.max())) if x.size else 0.0
    scale = F32((hi - lo) / 255.0) if hi > lo else F32(1.0)
    zp = saturate(np.rint(np.asarray(0.0 - lo / scale, F32)), np.uint8)
    return [quantize(x, scale, zp, np.uint8), np.asarray(scale, F32), zp]


# ------------------------------------------------------------------ integer convolution / matmul


def conv2d_nchw(x: np.ndarray, w: np.ndarray, node) -> np.ndarray:
    """Direct 2-D convolution of NCHW x with [M, C/group, KH, KW] w, in x's (wide) dtype."""
    if x.ndim != 4 or w.ndim != 4:
        raise UnsupportedOperatorError(node.op_type, node.name, "only 2-D convolutions")
    group = node.attr("group", 1)
    strides = list(node.attr("strides", [1, 1]))
    dil = list(node.attr("dilations", [1, 1]))
    n, c, h, wd = x.shape
    m, cg, kh, kw = w.shape
    if c != cg * group or m % group:
        raise UnsupportedOperatorError(node.op_type, node.name, f"input {x.shape} does not fit weights {w.shape}")
    t, l, b, r = conv_pads_2d(node, (h, wd), (kh, kw), strides, dil)
    xp = np.pad(x, ((0, 0), (0, 0), (t, b), (l, r)))
    oh = (h + t + b - (kh - 1) * dil[0] - 1) // strides[0] + 1
    ow = (wd + l + r - (kw - 1) * dil[1] - 1) // strides[1] + 1
    xg = xp.reshape(n, group, cg, xp.shape[2], xp.shape[3])
    wg = w.reshape(group, m // group, cg, kh, kw)
    out = np.zeros((n, group, m // group, oh, ow), dtype=np.result_type(x, w))
    for i in range(kh):
        for j in range(kw):
            patch = xg[:, :, :, i * dil[0]: i * dil[0] + (oh - 1) * strides[0] + 1: strides[0],
                       j * dil[1]: j * dil[1] + (ow - 1) * strides[1] + 1: strides[1]]
            out += np.einsum("ngchw,gmc->ngmhw", patch, wg[:, :, :, i, j])
    return out.reshape(n, m, oh, ow)


def _centered(q: np.ndarray, zp, axis_shape=None) -> np.ndarray:
    z = np.asarray(zp, np.int64)
    if axis_shape is not None and z.size > 1:
        z = z.reshape(axis_shape)
    return q.astype(np.int64) - z


@ref("ConvInteger")
def _conv_integer(node, inputs, opset):
    x, w = inputs[0], inputs[1]
    xc = _centered(x, _zero_point(inputs, 2))
    wc = _centered(w, _zero_point(inputs, 3), (-1, 1, 1, 1))
    return [conv2d_nchw(xc, wc, node).astype(np.int32)]


@ref("MatMulInteger")
def _matmul_integer(node, inputs, opset):
    a, b = inputs[0], inputs[1]
    ac = _centered(a, _zero_point(inputs, 2), (-1, 1))
    bc = _centered(b, _zero_point(inputs, 3))
    return [np.matmul(ac, bc).astype(np.int32)]


@ref("QLinearConv")
def _qlinear_conv(node, inputs, opset):
    x, xs, xz, w, ws, wz, ys, yz = inputs[:8]
    bias = _opt(inputs, 8)
    acc = conv2d_nchw(_centered(x, xz), _centered(w, wz, (-1, 1, 1, 1)), node)
    if bias is not None:
        acc = acc + bias.astype(np.int64).reshape(1, -1, 1, 1)
    mult = (F32(xs) * np.asarray(ws, F32)) / F32(ys)
    mult = mult.reshape(1, -1, 1, 1) if mult.size > 1 else mult
    return [_requantize_clamped(node, acc, mult, ys, yz)]


@ref("QLinearMatMul")
def _qlinear_matmul(node, inputs, opset):
    a, a_s, a_z, b, b_s, b_z, y_s, y_z = inputs[:8]
    acc = np.matmul(_centered(a, a_z), _centered(b, b_z))
    mult = (F32(a_s) * np.asarray(b_s, F32)) / F32(y_s)
    return [_requantize_clamped(node, acc, mult, y_s, y_z)]


def _requantize_clamped(node, acc, mult, y_scale, y_zero_point):
    """Requantize with the output clamp that load-time fusion put on the node (real units)."""
    dtype = np.asarray(y_zero_point).dtype
    zp = int(np.asarray(y_zero_point).reshape(-1)[0])
    lo, hi = qclamp(node, y_scale, zp, dtype)
    return requantize(acc, mult, zp, dtype, lo, hi)


def qclamp(node, scale, zero_point: int, dtype) -> tuple[int, int]:
    """output_clamp (real-valued bounds of a fused Relu/Clip) as quantized bounds."""
    qmin, qmax = _range_of(dtype)
    clamp = node.attr("output_clamp")
    if clamp is None:
        return qmin, qmax
    s = float(np.asarray(scale, np.float64).reshape(-1)[0])
    lo = qmin if clamp[0] == -np.inf else max(qmin, int(np.rint(clamp[0] / s)) + zero_point)
    hi = qmax if clamp[1] == np.inf else min(qmax, int(np.rint(clamp[1] / s)) + zero_point)
    return lo, max(lo, hi)


# ------------------------------------------------------------------ com.microsoft QLinear* ops


@ref("QGemm", domain=MS_DOMAIN)
def _qgemm(node, inputs, opset):
    a, a_s, a_z, b, b_s, b_z = inputs[:6]
    c, y_s, y_z = _opt(inputs, 6), _opt(inputs, 7), _opt(inputs, 8)
    if node.attr("transA", 0):
        a = np.swapaxes(a, -1, -2)
    b_axis = (-1, 1) if node.attr("transB", 0) else None
    bc = _centered(b, b_z, b_axis)
    if node.attr("transB", 0):
        bc = bc.T
    acc = np.matmul(_centered(a, a_z), bc)
    if c is not None and c.size:
        acc = acc + c.astype(np.int64)
    scale = F32(node.attr("alpha", 1.0)) * F32(a_s) * np.asarray(b_s, F32).reshape(-1)
    if y_s is None:  # float output
        return [acc.astype(F32) * scale]
    return [_requantize_clamped(node, acc, scale / F32(y_s), y_s, y_z)]


@ref("QLinearAdd", "QLinearMul", domain=MS_DOMAIN)
def _qlinear_binary(node, inputs, opset):
    """Add: (a - za) * (s_a/s_y) + (b - zb) * (s_b/s_y) in float32 (two products, one sum), then
    requantized. onnxruntime's x86 kernel uses a fixed-point form of the same ratios instead; the
    two can differ by one step where the exact value is within float rounding of a half."""
    a, a_s, a_z, b, b_s, b_z, y_s = inputs[:7]
    y_z = _zero_point(inputs, 7, a.dtype)
    ac, bc = _centered(a, a_z), _centered(b, b_z)
    if node.op_type == "QLinearMul":
        return [_requantize_clamped(node, ac * bc, (F32(a_s) * F32(b_s)) / F32(y_s), y_s, y_z)]
    f = ac.astype(F32) * (F32(a_s) / F32(y_s)) + bc.astype(F32) * (F32(b_s) / F32(y_s))
    return [_requantize_clamped(node, f, F32(1.0), y_s, y_z)]


@ref("QLinearGlobalAveragePool", domain=MS_DOMAIN)
def _qlinear_global_avgpool(node, inputs, opset):
    x, x_s, x_z, y_s, y_z = inputs[:5]
    axes = (1, 2) if node.attr("channels_last", 0) else (2, 3)
    count = x.shape[axes[0]] * x.shape[axes[1]]
    acc = _centered(x, x_z).sum(axis=axes, keepdims=True)
    return [_requantize_clamped(node, acc, (F32(x_s) / F32(y_s)) / F32(count), y_s, y_z)]


@ref("QLinearAveragePool", domain=MS_DOMAIN)
def _qlinear_avgpool(node, inputs, opset):
    x, x_s, x_z, y_s, y_z = inputs[:5]
    if node.attr("channels_last", 0) or x.ndim != 4:
        raise UnsupportedOperatorError(node.op_type, node.name, "only NCHW 2-D pooling")
    kh, kw = node.attr("kernel_shape")
    strides = list(node.attr("strides", [1, 1]))
    t, l, b, r = conv_pads_2d(node, x.shape[2:], (kh, kw), strides, [1, 1])
    if node.attr("ceil_mode", 0):
        raise UnsupportedOperatorError(node.op_type, node.name, "ceil_mode")
    xc = np.pad(_centered(x, x_z), ((0, 0), (0, 0), (t, b), (l, r)))
    ones = np.pad(np.ones(x.shape[2:], np.int64), ((t, b), (l, r)))
    oh = (xc.shape[2] - kh) // strides[0] + 1
    ow = (xc.shape[3] - kw) // strides[1] + 1
    acc = np.zeros(x.shape[:2] + (oh, ow), np.int64)
    count = np.zeros((oh, ow), np.int64)
    for i in range(kh):
        for j in range(kw):
            rows, cols = slice(i, i + (oh - 1) * strides[0] + 1, strides[0]), slice(j, j + (ow - 1) * strides[1] + 1, strides[1])
            acc += xc[:, :, rows, cols]
            count += ones[rows, cols]
    if node.attr("count_include_pad", 0):
        count[:] = kh * kw
    mult = (F32(x_s) / F32(y_s)) / count.astype(F32)
    return [_requantize_clamped(node, acc, mult, y_s, y_z)]


@ref("QLinearConcat", domain=MS_DOMAIN)
def _qlinear_concat(node, inputs, opset):
    y_s, y_z = inputs[0], inputs[1]
    parts = []
    for i in range(2, len(inputs), 3):
        x, x_s, x_z = inputs[i:i + 3]
        parts.append(_requantize_clamped(node, _centered(x, x_z), F32(x_s) / F32(y_s), y_s, y_z))
    return [np.concatenate(parts, axis=node.attr("axis"))]


@ref("QLinearSigmoid", "QLinearLeakyRelu", domain=MS_DOMAIN)
def _qlinear_unary(node, inputs, opset):
    x, x_s, x_z, y_s = inputs[:4]
    y_z = _zero_point(inputs, 4, x.dtype)
    real = dequantize(x, x_s, x_z)
    if node.op_type == "QLinearSigmoid":
        real = 1.0 / (1.0 + np.exp(-real.astype(np.float64)))
    else:
        real = np.where(real >= 0, real, real * node.attr("alpha", 0.01))
    return [quantize(real.astype(F32), y_s, y_z, np.asarray(y_z).dtype)]


@ref("QLut", domain="ai.edgert")
def _qlut(node, inputs, opset):
    """y = table[x] for an int8/uint8 x (table built at load from the activation it replaces)."""
    x = inputs[0]
    table = np.asarray(node.attr("table"))
    return [table[x.view(np.uint8)] if x.dtype == np.int8 else table[x]]
