"""Native lowerings of the quantized operators (int8 kernels).

The QDQ pass (edgert.passes.quantize) produces QLinearConv, QGemm, QLinearAdd/Mul,
QLinear(Global)AveragePool and QLut on int8 tensors; Quantize/DequantizeLinear remain at the
edges of int8 regions. int8 activations use the same NHWC layout as fp32 ones. Each lowering
returns None when its configuration has no native path (the numpy definition then runs).
"""
from __future__ import annotations

import numpy as np

from edgert._ops import _kernels as K
from edgert.errors import UnsupportedOperatorError
from edgert.ir import Node
from edgert.ops import ska as ska_spec
from edgert.ops.quantized import MS_DOMAIN, qclamp
from edgert.passes.fuse import EDGERT_DOMAIN
from edgert.runtime.lower import _window_geometry, binary_pattern, lowering, ska_geometry
from edgert.runtime.plan import Planner, StepSpec
from edgert.runtime.values import NHWC, PLAIN, Value

I8 = np.dtype(np.int8)
F32 = np.float32


def _scalar(v: Value | None, dtype=None):
    """The single value of a constant per-tensor parameter, else None."""
    if v is None or not v.is_const or v.const.size != 1:
        return None
    value = v.const.reshape(-1)[0]
    return value if dtype is None else dtype(value)


def _is_i8_runtime(v: Value | None) -> bool:
    return v is not None and not v.is_const and v.dtype == I8


def _zero_point(v: Value | None) -> int | None:
    """int8 zero point (absent = 0), or None when it is not a per-tensor int8 constant."""
    if v is None:
        return 0
    if not v.is_const or v.const.size != 1 or v.const.dtype != I8:
        return None
    return int(v.const.reshape(-1)[0])


def _output_range(node: Node, scale, zero_point: int) -> tuple[int, int]:
    return qclamp(node, scale, zero_point, np.int8)


# ------------------------------------------------------------------ convolution


@lowering("QLinearConv")
def lower_qlinear_conv(p: Planner, node: Node, ins):
    x, xs, xz, w, ws, wz, ys, yz = (ins + [None] * 9)[:8]
    bias = ins[8] if len(ins) > 8 else None
    x_scale, y_scale = _scalar(xs, F32), _scalar(ys, F32)
    x_zp, y_zp = _zero_point(xz), _zero_point(yz)
    if (not _is_i8_runtime(x) or w is None or not w.is_const or w.const.dtype != I8 or w.const.ndim != 4
            or None in (x_scale, y_scale, x_zp, y_zp) or ws is None or not ws.is_const
            or (wz is not None and (not wz.is_const or np.any(wz.const != 0)))
            or (bias is not None and (not bias.is_const or bias.const.dtype != np.int32))
            or len(x.shape) != 4):
        return None
    weights = w.const
    c_out, cin_g, kh, kw = weights.shape
    groups = node.attr("group", 1)
    geo = _window_geometry(node, x, (kh, kw))
    if geo is None or x.shape[1] != cin_g * groups or c_out % groups:
        raise UnsupportedOperatorError(node.op_type, node.name, f"input {x.shape} does not fit weights {weights.shape} with group={groups}")
    w_scale = np.broadcast_to(ws.const.astype(F32).reshape(-1), (c_out,))
    scales = np.ascontiguousarray((x_scale * w_scale) / y_scale, F32)
    qmin, qmax = _output_range(node, y_scale, y_zp)
    geo.update(C_out=c_out, groups=groups)
    depthwise = groups == x.shape[1] == c_out and cin_g == 1
    # The quantized image (few channels) runs a direct kernel: im2col + GEMM gathers as long as
    # it multiplies at K = 27.
    stem = groups == 1 and cin_g <= K.QS8_CONV_STEM_MAX_CHANNELS and kh * kw > 1 and geo["DW"] == 1
    kind = "dwconv" if depthwise else "conv_stem" if stem else "conv"
    key = ("qs8", kind, node.name)
    if key not in p.weights:
        b = None if bias is None else np.ascontiguousarray(bias.const.reshape(-1), np.int32)
        p.weights[key] = (K.qs8_dwconv_pack(weights, b, x_zp) if depthwise
                          else K.qs8_conv_stem_pack(weights, b, x_zp) if stem
                          else K.qs8_conv_pack(weights, b, groups, x_zp))
    packed = p.weights[key]
    x = p.as_layout(x, NHWC)
    y = p.new_value(node.outputs[0], (geo["batch"], c_out, geo["OH"], geo["OW"]), I8, NHWC)

    def build(views):
        return K.QS8WindowOp(p.pool, kind, geo, views[x], views[y], packed=packed, scales=scales,
                             input_zero_point=x_zp, output_zero_point=y_zp, qmin=qmin, qmax=qmax)

    macs = geo["batch"] * geo["OH"] * geo["OW"] * c_out * cin_g * kh * kw
    p.emit(StepSpec(f"QLinearConv[{kind} {kh}x{kw}/{geo['SH']}]", node.name, [x], [y], build, macs=macs))
    return [y]


# ------------------------------------------------------------------ GEMM


@lowering("QGemm", domain=MS_DOMAIN)
def lower_qgemm(p: Planner, node: Node, ins):
    a, a_s, a_z, b, b_s, b_z = (ins + [None] * 6)[:6]
    bias = ins[6] if len(ins) > 6 else None
    y_s = ins[7] if len(ins) > 7 else None
    y_z = ins[8] if len(ins) > 8 else None
    a_scale, y_scale = _scalar(a_s, F32), _scalar(y_s, F32)
    a_zp, y_zp = _zero_point(a_z), _zero_point(y_z)
    if (not _is_i8_runtime(a) or len(a.shape) < 2 or b is None or not b.is_const or b.const.dtype != I8
            or b.const.ndim != 2 or None in (a_scale, y_scale, a_zp, y_zp) or node.attr("transA", 0)
            or node.attr("alpha", 1.0) != 1.0 or b_s is None or not b_s.is_const
            or (b_z is not None and np.any(b_z.const != 0))
            or (bias is not None and (not bias.is_const or bias.const.dtype != np.int32))):
        return None
    weights = b.const.T if node.attr("transB", 0) else b.const  # [K, N]
    k, n = weights.shape
    if a.shape[-1] != k or (bias is not None and bias.const.size != n):
        return None
    b_scale = np.broadcast_to(b_s.const.astype(F32).reshape(-1), (n,))
    scales = np.ascontiguousarray((a_scale * b_scale) / y_scale, F32)
    qmin, qmax = _output_range(node, y_scale, y_zp)
    key = ("qs8", "gemm", node.name)
    if key not in p.weights:
        p.weights[key] = K.qs8_gemm_pack(weights, None if bias is None else bias.const.reshape(-1).astype(np.int32), a_zp)
    packed = p.weights[key]
    a = p.as_layout(a, PLAIN)
    m = a.size // k
    y = p.new_value(node.outputs[0], a.shape[:-1] + (n,), I8, PLAIN)

    def build(views):
        return K.QS8Gemm(p.pool, views[a].reshape(-1), packed, views[y].reshape(-1), m, n, k, k, n,
                         scales, y_zp, qmin, qmax)

    p.emit(StepSpec("QGemm", node.name, [a], [y], build, macs=m * n * k))
    return [y]


# ------------------------------------------------------------------ elementwise


@lowering("QLinearAdd", "QLinearMul", domain=MS_DOMAIN)
def lower_qlinear_binary(p: Planner, node: Node, ins):
    if len(ins) < 7:
        return None
    a, a_s, a_z, b, b_s, b_z, y_s = ins[:7]
    y_z = ins[7] if len(ins) > 7 else None
    sa, sb, sy = _scalar(a_s, F32), _scalar(b_s, F32), _scalar(y_s, F32)
    za, zb, zy = _zero_point(a_z), _zero_point(b_z), _zero_point(y_z)
    if None in (sa, sb, sy, za, zb, zy) or a is None or b is None:
        return None
    pattern = binary_pattern(p, a, b, I8)
    if pattern is None:
        return None
    if node.op_type == "QLinearAdd":
        op, a_mult, b_mult = "add", sa / sy, sb / sy
    else:
        op, a_mult, b_mult = "mul", (sa * sb) / sy, F32(0.0)
    qmin, qmax = _output_range(node, sy, zy)
    y = p.new_value(node.outputs[0], pattern.out_shape, I8, pattern.layout)

    def build(views):
        return pattern.calls(views, y, lambda a, ars, acs, b, brs, bcs, out: K.QS8Binary(
            p.pool, op, pattern.rows, pattern.cols, a, ars, acs, b, brs, bcs, out,
            za, float(a_mult), zb, float(b_mult), zy, qmin, qmax))

    p.emit(StepSpec(node.op_type, node.name, pattern.reads, [y], build))
    return [y]


@lowering(ska_spec.QSKA_OP_TYPE, domain=EDGERT_DOMAIN)
def lower_qska(p: Planner, node: Node, ins):
    """The int8 SKA edgert/passes/ska.py makes of a quantized portable SKA chain, NHWC in and out;
    shapes it does not handle go to the reference (edgert.ops.ska.qska_reference)."""
    x, w = ins
    k = int(node.attr("kernel_size"))
    geometry = ska_geometry(x, w, k, I8) if k <= 7 else None
    if geometry is None:
        return None
    n, c, h, wd, groups = geometry
    zps = node.attr("tap_zero_point")
    lo = [float(q - z) for q, z in zip(node.attr("tap_qmin"), zps)]
    hi = [float(q - z) for q, z in zip(node.attr("tap_qmax"), zps)]
    x, w = p.as_layout(x, NHWC), p.as_layout(w, NHWC)
    y = p.new_value(node.outputs[0], (n, c, h, wd), I8, NHWC)

    def build(views):
        return K.QS8Ska(p.pool, views[x], views[w], views[y], n, h, wd, c, groups, k,
                        int(node.attr("x_zero_point")), int(node.attr("w_zero_point")), float(node.attr("y_scale")),
                        int(node.attr("y_zero_point")), node.attr("tap_mult"), lo, hi, node.attr("tap_dq_scale"))

    p.emit(StepSpec(f"QSKA[{k}x{k}]", node.name, [x, w], [y], build, macs=n * h * wd * c * k * k))
    return [y]


@lowering("QLut", domain=EDGERT_DOMAIN)
def lower_qlut(p: Planner, node: Node, ins):
    x = ins[0]
    table = np.ascontiguousarray(node.attr("table"), I8)
    if not _is_i8_runtime(x) or table.size != 256:
        return None
    y = p.new_value(node.outputs[0], x.shape, I8, x.layout)

    def build(views):
        return K.QS8Lut(p.pool, views[x].reshape(-1), views[y].reshape(-1), table)

    p.emit(StepSpec("QLut", node.name, [x], [y], build))
    return [y]


# ------------------------------------------------------------------ pooling


@lowering("QLinearGlobalAveragePool", domain=MS_DOMAIN)
def lower_qlinear_global_avgpool(p: Planner, node: Node, ins):
    x, xs, xz, ys, yz = (ins + [None] * 5)[:5]
    x_scale, y_scale, x_zp, y_zp = _scalar(xs, F32), _scalar(ys, F32), _zero_point(xz), _zero_point(yz)
    if not _is_i8_runtime(x) or len(x.shape) != 4 or None in (x_scale, y_scale, x_zp, y_zp) or node.attr("channels_last", 0):
        return None
    n, c, h, w = x.shape
    qmin, qmax = _output_range(node, y_scale, y_zp)
    x = p.as_layout(x, NHWC)
    y = p.new_value(node.outputs[0], (n, c, 1, 1), I8, NHWC)

    def build(views):
        return K.QS8GlobalAvgPool(p.pool, views[x], views[y], n, h * w, c, x_zp, float(x_scale / y_scale), y_zp, qmin, qmax)

    p.emit(StepSpec("QLinearGlobalAveragePool", node.name, [x], [y], build))
    return [y]


@lowering("QLinearAveragePool", domain=MS_DOMAIN)
def lower_qlinear_avgpool(p: Planner, node: Node, ins):
    x, xs, xz, ys, yz = (ins + [None] * 5)[:5]
    x_scale, y_scale, x_zp, y_zp = _scalar(xs, F32), _scalar(ys, F32), _zero_point(xz), _zero_point(yz)
    if (not _is_i8_runtime(x) or len(x.shape) != 4 or None in (x_scale, y_scale, x_zp, y_zp)
            or node.attr("channels_last", 0) or node.attr("ceil_mode", 0)):
        return None
    kernel = node.attr("kernel_shape")
    geo = _window_geometry(node, x, kernel)
    if geo is None:
        raise UnsupportedOperatorError(node.op_type, node.name, "window larger than the padded input")
    geo.update(C_out=geo["C_in"], groups=1)
    qmin, qmax = _output_range(node, y_scale, y_zp)
    include_pad = bool(node.attr("count_include_pad", 0))
    x = p.as_layout(x, NHWC)
    y = p.new_value(node.outputs[0], (geo["batch"], geo["C_in"], geo["OH"], geo["OW"]), I8, NHWC)

    def build(views):
        return K.QS8WindowOp(p.pool, "avgpool", geo, views[x], views[y], input_zero_point=x_zp,
                             output_zero_point=y_zp, qmin=qmin, qmax=qmax,
                             avg_scale=float(x_scale / y_scale), count_include_pad=include_pad)

    p.emit(StepSpec(f"QLinearAveragePool[{kernel[0]}x{kernel[1]}]", node.name, [x], [y], build))
    return [y]


@lowering("MaxPool")
def lower_qs8_maxpool(p: Planner, node: Node, ins):
    x = ins[0]
    if not _is_i8_runtime(x) or len(x.shape) != 4 or len([o for o in node.outputs if o]) > 1:
        return None
    kernel = node.attr("kernel_shape")
    geo = _window_geometry(node, x, kernel, ceil_mode=bool(node.attr("ceil_mode", 0)))
    if geo is None:
        raise UnsupportedOperatorError(node.op_type, node.name, "window larger than the padded input")
    geo.update(C_out=geo["C_in"], groups=1)
    x = p.as_layout(x, NHWC)
    y = p.new_value(node.outputs[0], (geo["batch"], geo["C_in"], geo["OH"], geo["OW"]), I8, NHWC)

    def build(views):
        return K.QS8WindowOp(p.pool, "maxpool", geo, views[x], views[y])

    p.emit(StepSpec(f"MaxPool[int8 {kernel[0]}x{kernel[1]}]", node.name, [x], [y], build))
    return [y]


# ------------------------------------------------------------------ int8 region edges


@lowering("QuantizeLinear")
def lower_quantize(p: Planner, node: Node, ins):
    x, s = ins[0], ins[1]
    z = ins[2] if len(ins) > 2 else None
    scale, zp = _scalar(s, F32), _zero_point(z)
    if x is None or x.is_const or x.dtype != np.float32 or scale is None or zp is None or z is None:
        return None
    if not scale > 0:
        return None
    if len(x.shape) == 4 and x.layout == PLAIN:
        # int8 tensors feed spatial kernels: quantize the NCHW image straight into NHWC
        n, c, h, w = x.shape
        y = p.new_value(node.outputs[0], x.shape, I8, NHWC)

        def build(views):
            return K.Quantize(p.pool, views[x].reshape(-1), views[y].reshape(-1), float(scale), zp, nchw=(n, c, h * w))
    else:
        y = p.new_value(node.outputs[0], x.shape, I8, x.layout)

        def build(views):
            return K.Quantize(p.pool, views[x].reshape(-1), views[y].reshape(-1), float(scale), zp)

    p.emit(StepSpec("QuantizeLinear", node.name, [x], [y], build))
    return [y]


@lowering("DequantizeLinear")
def lower_dequantize(p: Planner, node: Node, ins):
    x, s = ins[0], ins[1]
    z = ins[2] if len(ins) > 2 else None
    scale, zp = _scalar(s, F32), _zero_point(z)
    if not _is_i8_runtime(x) or scale is None or zp is None:
        return None
    y = p.new_value(node.outputs[0], x.shape, np.float32, x.layout)

    def build(views):
        return K.Dequantize(p.pool, views[x].reshape(-1), views[y].reshape(-1), float(scale), zp)

    p.emit(StepSpec("DequantizeLinear", node.name, [x], [y], build))
    return [y]
