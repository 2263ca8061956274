"""Native lowerings: ONNX node -> steps on edgert's C kernels.

A lowering returns the node's output Values, or None when this configuration has no
native path (the planner then runs the numpy reference). Spatial operators take and
produce NHWC; elementwise operators keep whatever layout their input has.
"""
from __future__ import annotations

import functools
import glob
import math
import os

import numpy as np

from edgert._ops import _kernels as K
from edgert.errors import UnsupportedOperatorError
from edgert.ir import Node
from edgert.ops import run_reference
from edgert.ops.geometry import conv_pads_2d
from edgert.ops.quantized import MS_DOMAIN
from edgert.ops.reference import legacy_channel_slope
from edgert.passes.fuse import EDGERT_DOMAIN
from edgert.runtime.plan import Planner, StepSpec
from edgert.runtime.values import NHWC, PLAIN, TO_NCHW, TO_NHWC, Value

F32 = np.dtype(np.float32)
# Up to this many input channels, a conv on an NCHW tensor reads it in place (stem kernel).
STEM_MAX_CHANNELS = 4
LOWERINGS: dict = {}


def lowering(*op_types, domain: str = ""):
    """Register a lowering for (domain, op_type); several may serve one op (e.g. fp32 and int8
    MaxPool): each returns None for configurations it does not handle and the next one is tried."""
    def register(fn):
        for op in op_types:
            LOWERINGS.setdefault((domain, op), []).append(fn)
        return fn

    return register


def lowering_for(node: Node):
    """The native lowering of this node, or None. Keyed by domain as well as name: a custom-domain
    node that happens to be called 'Conv' is not an ONNX Conv."""
    candidates = LOWERINGS.get((node.domain, node.op_type))
    if not candidates:
        return None
    if len(candidates) == 1:
        return candidates[0]

    def lower_any(p, node, ins):
        for fn in candidates:
            outs = fn(p, node, ins)
            if outs is not None:
                return outs
        return None

    return lower_any


def _clamp(node: Node) -> tuple[float, float]:
    lo, hi = node.attr("edgert_clamp", (-math.inf, math.inf))
    return float(lo), float(hi)


def _is_f32_runtime(v: Value | None) -> bool:
    return v is not None and not v.is_const and v.dtype == F32


def _require_const(node: Node, v: Value | None, what: str) -> np.ndarray | None:
    if v is None:
        return None
    if not v.is_const:
        raise UnsupportedOperatorError(node.op_type, node.name, f"{what} must be a constant (initializer)")
    return v.const


def _aligned_concat(parts: list[np.ndarray]) -> np.ndarray:
    """Per-group packings back to back in one 64-byte aligned buffer."""
    if len(parts) == 1:
        return parts[0]
    out = K.aligned_f32(sum(p.size for p in parts))
    np.concatenate(parts, out=out)
    return out


# ------------------------------------------------------------------ convolution geometry


def _window_geometry(node, x: Value, kernel, ceil_mode=False):
    strides = list(node.attr("strides", [1, 1]))
    dilations = list(node.attr("dilations", [1, 1]))
    n, c, h, w = x.shape
    t, l, b, r = conv_pads_2d(node, (h, w), kernel, strides, dilations)
    out = []
    for size, k, s, d, p0, p1 in ((h, kernel[0], strides[0], dilations[0], t, b), (w, kernel[1], strides[1], dilations[1], l, r)):
        extent = (k - 1) * d + 1
        span = size + p0 + p1 - extent
        if span < 0:
            return None
        o = (-(-span // s) if ceil_mode else span // s) + 1
        if ceil_mode and (o - 1) * s >= size + p0:  # last window would start in the end padding
            o -= 1
        out.append(o)
    return dict(batch=n, H=h, W=w, C_in=c, OH=out[0], OW=out[1], KH=kernel[0], KW=kernel[1],
                SH=strides[0], SW=strides[1], DH=dilations[0], DW=dilations[1], pad_top=t, pad_left=l)


def _conv_operands(node: Node, ins):
    """(x, weights, bias) of a Conv/ConvTranspose, or None when it has no native path."""
    x = ins[0]
    weights = _require_const(node, ins[1], "weights")
    bias = _require_const(node, ins[2] if len(ins) > 2 else None, "bias")
    if not _is_f32_runtime(x) or weights.dtype != F32:
        return None
    if weights.ndim != 4 or len(x.shape) != 4:
        raise UnsupportedOperatorError(node.op_type, node.name, f"{weights.ndim - 2}-D {node.op_type} (1-D and 2-D are supported)")
    return x, weights, bias


@lowering("Conv")
def lower_conv(p: Planner, node: Node, ins):
    operands = _conv_operands(node, ins)
    if operands is None:
        return None
    x, weights, bias = operands
    groups = node.attr("group", 1)
    c_out, cin_g, kh, kw = weights.shape
    geo = _window_geometry(node, x, (kh, kw))
    if geo is None or x.shape[1] != cin_g * groups or c_out % groups:
        raise UnsupportedOperatorError(node.op_type, node.name, f"input {x.shape} does not fit weights {weights.shape} with group={groups}")
    lo, hi = _clamp(node)
    geo.update(C_out=c_out, groups=groups, min=lo, max=hi)
    depthwise = groups == x.shape[1] == c_out and cin_g == 1
    # A stem conv reading the user's NCHW image runs a direct kernel on it (no layout change).
    stem = groups == 1 and x.layout == PLAIN and cin_g <= STEM_MAX_CHANNELS and kh * kw > 1
    kind = "dwconv" if depthwise else "conv_stem" if stem else "conv"
    key = (kind, node.name)
    if key not in p.weights:
        if depthwise:
            p.weights[key] = K.dwconv_pack(weights, bias)
        elif stem:
            p.weights[key] = K.conv_stem_pack(weights, bias)
        else:
            cout_g = c_out // groups
            parts = []
            for g in range(groups):
                wg = weights[g * cout_g:(g + 1) * cout_g]  # [cout_g, cin_g, kh, kw]
                bg = None if bias is None else bias[g * cout_g:(g + 1) * cout_g]
                parts.append(K.gemm_pack(wg.transpose(2, 3, 1, 0).reshape(kh * kw * cin_g, cout_g), bg))
            p.weights[key] = _aligned_concat(parts)
    packed = p.weights[key]
    if not stem:
        x = p.as_layout(x, NHWC)
    y = p.new_value(node.outputs[0], (geo["batch"], c_out, geo["OH"], geo["OW"]), F32, NHWC)

    def build(views):
        return K.WindowOp(p.pool, kind, geo, views[x], views[y], packed=packed)

    macs = geo["batch"] * geo["OH"] * geo["OW"] * c_out * cin_g * kh * kw
    p.emit(StepSpec(f"Conv[{kind} {kh}x{kw}/{geo['SH']}]", node.name, [x], [y], build, macs=macs))
    return [y]


@functools.lru_cache(maxsize=None)
def last_level_cache_bytes() -> int:
    """Size of this CPU's largest cache, from sysfs (1 MiB, a Pi 4's L2, when unreadable)."""
    sizes = {}
    for entry in glob.glob("/sys/devices/system/cpu/cpu0/cache/index*"):
        try:
            with open(os.path.join(entry, "level")) as f:
                level = int(f.read())
            with open(os.path.join(entry, "size")) as f:
                text = f.read().strip().upper()
            scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
            sizes[level] = int(text.rstrip("KMG")) * scale
        except (OSError, ValueError):
            continue
    return sizes[max(sizes)] if sizes else 1 << 20


def _dwpw_fusion_pays(dw_output_bytes: int) -> bool:
    """Fusing saves writing and re-reading the depthwise output. Where that tensor fits in the
    last-level cache the round trip is cheap and the smaller GEMM blocks cost more than it saves
    (measured on a 32 MiB-L3 x86); where it does not (Pi-class CPUs) the fused kernel wins.
    EDGERT_DWPW_FUSION=always|never overrides the choice."""
    mode = os.environ.get("EDGERT_DWPW_FUSION", "auto")
    if mode in ("always", "never"):
        return mode == "always"
    return dw_output_bytes > last_level_cache_bytes() // 2


def ska_geometry(x: Value | None, w: Value | None, k: int, dtype) -> tuple | None:
    """(N, C, H, W, groups) of an SKA / QSKA node whose runtime input X [N, C, H, W] and per-pixel kernels
    W [N, G*k*k, H, W], both of `dtype`, fit an odd k; None sends the node to its reference."""
    if x is None or w is None or x.is_const or x.dtype != dtype or w.dtype != dtype:
        return None
    if len(x.shape) != 4 or len(w.shape) != 4:
        return None
    n, c, h, wd = x.shape
    if k < 1 or k % 2 == 0 or tuple(w.shape[::2]) != (n, h) or w.shape[3] != wd or w.shape[1] % (k * k):
        return None
    groups = w.shape[1] // (k * k)
    if groups == 0 or c % groups:
        return None
    return n, c, h, wd, groups


@lowering("SKA", domain=EDGERT_DOMAIN)
def lower_ska(p: Planner, node: Node, ins):
    """LSNet's SKA on the native kernel, NHWC in and out; the per-pixel kernels W [N, G*k*k, H, W]
    in NHWC are exactly the kernel's (N, H, W, G*k*k). Anything unusual goes to the reference,
    which reports it."""
    x, w = ins
    k = node.attr("kernel_size", 3)
    geometry = ska_geometry(x, w, k, F32)
    if geometry is None:
        return None
    n, c, h, wd, groups = geometry
    x, w = p.as_layout(x, NHWC), p.as_layout(w, NHWC)
    y = p.new_value(node.outputs[0], (n, c, h, wd), F32, NHWC)

    def build(views):
        return K.Ska(p.pool, views[x], views[w], views[y], n, h, wd, c, groups, k)

    p.emit(StepSpec(f"SKA[{k}x{k}]", node.name, [x, w], [y], build, macs=n * h * wd * c * k * k))
    return [y]


@lowering("DepthwisePointwise", domain=EDGERT_DOMAIN)
def lower_depthwise_pointwise(p: Planner, node: Node, ins):
    """ai.edgert fused node (passes.fuse_depthwise_pointwise): depthwise conv, then 1x1 conv."""
    x = ins[0]
    dw_w, dw_b, pw_w, pw_b = (None if v is None else v.const for v in ins[1:5])
    if not _is_f32_runtime(x) or len(x.shape) != 4 or x.shape[1] != dw_w.shape[0]:
        raise UnsupportedOperatorError(node.op_type, node.name, f"input {x.shape} does not fit depthwise weights {dw_w.shape}")
    c, _, kh, kw = dw_w.shape
    c_out = pw_w.shape[0]
    geo = _window_geometry(node, x, (kh, kw))
    if geo is None:
        raise UnsupportedOperatorError(node.op_type, node.name, "kernel larger than the padded input")
    dw_lo, dw_hi = node.attr("dw_clamp")
    if not _dwpw_fusion_pays(geo["OH"] * geo["OW"] * c * 4):
        dw_attrs = {k: v for k, v in node.attrs.items() if k not in ("dw_clamp", "edgert_clamp")}
        dw_attrs["edgert_clamp"] = (dw_lo, dw_hi)
        dw_node = Node("Conv", f"{node.name}:dw", node.inputs[:3], [f"{node.name}:dw_out"], dw_attrs)
        pw_attrs = {"edgert_clamp": node.attrs["edgert_clamp"]} if "edgert_clamp" in node.attrs else {}
        pw_node = Node("Conv", f"{node.name}:pw", [dw_node.outputs[0]] + node.inputs[3:5], node.outputs, pw_attrs)
        middle = lower_conv(p, dw_node, ins[:3])
        return lower_conv(p, pw_node, middle + list(ins[3:5]))
    geo.update(C_out=c, groups=c, min=float(dw_lo), max=float(dw_hi))
    key = ("dwpw", node.name)
    if key not in p.weights:
        p.weights[key] = (K.dwconv_pack(dw_w, dw_b), K.gemm_pack(pw_w.reshape(c_out, c).T, pw_b))
    dw_packed, pw_packed = p.weights[key]
    x = p.as_layout(x, NHWC)
    y = p.new_value(node.outputs[0], (geo["batch"], c_out, geo["OH"], geo["OW"]), F32, NHWC)
    lo, hi = _clamp(node)

    def build(views):
        return K.DepthwisePointwise(p.pool, geo, views[x], views[y], dw_packed, pw_packed, c_out, lo, hi)

    pixels = geo["batch"] * geo["OH"] * geo["OW"]
    p.emit(StepSpec(f"Conv[dw {kh}x{kw}/{geo['SH']} + 1x1]", node.name, [x], [y], build,
                    macs=pixels * c * (kh * kw + c_out)))
    return [y]


@lowering("GnConv", domain=EDGERT_DOMAIN)
def lower_gnconv(p: Planner, node: Node, ins):
    """ai.edgert fused node (passes.gnconv): HorNet's gnConv on one native operator."""
    x = ins[0]
    dims, k = [int(d) for d in node.attr("dims")], int(node.attr("kernel_size"))
    order, dim = len(dims), dims[-1]
    if not _is_f32_runtime(x) or len(x.shape) != 4 or x.shape[1] != dim:
        raise UnsupportedOperatorError(node.op_type, node.name, f"input {x.shape} is not an fp32 [N, {dim}, H, W] tensor")
    weights, biases = ([None if v is None else v.const for v in ins[i::2]] for i in (1, 2))
    key = ("gnconv", node.name)
    if key not in p.weights:
        def pointwise(w, b):  # [C_out, C_in, 1, 1] -> the GEMM's [K, N]
            return K.gemm_pack(w.reshape(w.shape[0], -1).T, b)

        w_in, b_in = weights[0], biases[0] if biases[0] is not None else np.zeros(weights[0].shape[0], np.float32)
        d0 = dims[0]
        p.weights[key] = {"in_pwa": pointwise(w_in[:d0], b_in[:d0]), "in_abc": pointwise(w_in[d0:], b_in[d0:]),
                          "dw": K.dwconv_pack(weights[1], biases[1]),
                          "pws": [pointwise(w, b) for w, b in zip(weights[2:-1], biases[2:-1])],
                          "out": pointwise(weights[-1], biases[-1])}
    packed = p.weights[key]
    n, _, h, wd = x.shape
    x = p.as_layout(x, NHWC)
    y = p.new_value(node.outputs[0], (n, dim, h, wd), F32, NHWC)
    lo, hi = _clamp(node)

    def build(views):
        return K.GnConv(p.pool, views[x], views[y], n, h, wd, dims, k, packed, lo, hi)

    macs = n * h * wd * (2 * dim * dim + sum(dims) * k * k + sum(a * b for a, b in zip(dims, dims[1:])) + dim * dim)
    p.emit(StepSpec(f"GnConv[order {order}, {k}x{k}]", node.name, [x], [y], build, macs=macs))
    return [y]


@lowering("ConvTranspose")
def lower_conv_transpose(p: Planner, node: Node, ins):
    operands = _conv_operands(node, ins)
    if operands is None:
        return None
    x, weights, bias = operands
    groups = node.attr("group", 1)
    c_in, cout_g, kh, kw = weights.shape
    n, _, h, wd = x.shape
    strides = list(node.attr("strides", [1, 1]))
    dil = list(node.attr("dilations", [1, 1]))
    out_pad = list(node.attr("output_padding", [0, 0]))
    output_shape = node.attr("output_shape")
    auto_pad = node.attr("auto_pad", "NOTSET")
    extent = [((kh, kw)[i] - 1) * dil[i] + 1 for i in range(2)]
    if output_shape is not None or auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        # ONNX: the output size is given (or input * stride) and pads follow from it
        out_hw = list(output_shape[-2:]) if output_shape is not None else [h * strides[0], wd * strides[1]]
        total = [strides[i] * ((h, wd)[i] - 1) + out_pad[i] + extent[i] - out_hw[i] for i in range(2)]
        t, l = [tot // 2 if auto_pad == "SAME_UPPER" else tot - tot // 2 for tot in total]
    else:
        pads = list(node.attr("pads", [0, 0, 0, 0]))
        t, l = pads[0], pads[1]
        out_hw = [strides[i] * ((h, wd)[i] - 1) + out_pad[i] + extent[i] - pads[i] - pads[i + 2] for i in range(2)]
    if min(out_hw) <= 0 or c_in != x.shape[1] or c_in % groups:
        raise UnsupportedOperatorError(node.op_type, node.name, "inconsistent ConvTranspose shapes")
    c_out = cout_g * groups
    lo, hi = _clamp(node)
    geo = dict(batch=n, H=h, W=wd, C_in=c_in, OH=out_hw[0], OW=out_hw[1], C_out=c_out, groups=groups,
               KH=kh, KW=kw, SH=strides[0], SW=strides[1], DH=dil[0], DW=dil[1], pad_top=t, pad_left=l,
               min=lo, max=hi)
    key = ("convT", node.name)
    if key not in p.weights:
        cin_g = c_in // groups
        parts = [K.gemm_pack(weights[g * cin_g:(g + 1) * cin_g].transpose(0, 2, 3, 1).reshape(cin_g, kh * kw * cout_g))
                 for g in range(groups)]
        p.weights[key] = (_aligned_concat(parts), None if bias is None else np.ascontiguousarray(bias, F32))
    packed, bias_arr = p.weights[key]
    x = p.as_layout(x, NHWC)
    y = p.new_value(node.outputs[0], (n, c_out, out_hw[0], out_hw[1]), F32, NHWC)

    def build(views):
        return K.WindowOp(p.pool, "conv_transpose", geo, views[x], views[y], packed=packed, bias=bias_arr)

    macs = n * h * wd * c_in * cout_g * kh * kw
    p.emit(StepSpec(f"ConvTranspose[{kh}x{kw}/{strides[0]}]", node.name, [x], [y], build, macs=macs))
    return [y]


@lowering("MaxPool", "AveragePool")
def lower_pool(p: Planner, node: Node, ins):
    x = ins[0]
    if not _is_f32_runtime(x) or len(x.shape) != 4:
        return None
    if len([o for o in node.outputs if o]) > 1:
        raise UnsupportedOperatorError(node.op_type, node.name, "the Indices output is not supported")
    kernel = node.attr("kernel_shape")
    geo = _window_geometry(node, x, kernel, ceil_mode=bool(node.attr("ceil_mode", 0)))
    if geo is None:
        raise UnsupportedOperatorError(node.op_type, node.name, "window larger than the padded input")
    lo, hi = _clamp(node)
    geo.update(C_out=geo["C_in"], groups=1, min=lo, max=hi)
    kind = "maxpool" if node.op_type == "MaxPool" else "avgpool"
    include_pad = bool(node.attr("count_include_pad", 0))
    x = p.as_layout(x, NHWC)
    if kind == "avgpool" and include_pad and _window_overhangs_pads(node, geo):
        # onnxruntime counts the explicit pads but not the ceil_mode overhang: that is
        # count_include_pad=0 over an explicitly zero-padded input.
        x, geo = _zero_pad_nhwc(p, x, geo, node)
        include_pad = False
    y = p.new_value(node.outputs[0], (geo["batch"], geo["C_in"], geo["OH"], geo["OW"]), F32, NHWC)

    def build(views):
        return K.WindowOp(p.pool, kind, geo, views[x], views[y], count_include_pad=include_pad)

    p.emit(StepSpec(f"{node.op_type}[{kernel[0]}x{kernel[1]}]", node.name, [x], [y], build))
    return [y]


def _window_overhangs_pads(node: Node, geo: dict) -> bool:
    t, l, b, r = conv_pads_2d(node, (geo["H"], geo["W"]), (geo["KH"], geo["KW"]), (geo["SH"], geo["SW"]), (geo["DH"], geo["DW"]))
    last_row = (geo["OH"] - 1) * geo["SH"] + (geo["KH"] - 1) * geo["DH"] + 1
    last_col = (geo["OW"] - 1) * geo["SW"] + (geo["KW"] - 1) * geo["DW"] + 1
    return last_row > geo["H"] + t + b or last_col > geo["W"] + l + r


def _zero_pad_nhwc(p: Planner, x: Value, geo: dict, node: Node):
    t, l, b, r = conv_pads_2d(node, (geo["H"], geo["W"]), (geo["KH"], geo["KW"]), (geo["SH"], geo["SW"]), (geo["DH"], geo["DW"]))
    n, c, h, w = x.shape
    padded = p.new_value(f"{node.name}:padded", (n, c, h + t + b, w + l + r), F32, NHWC)

    def build(views):
        src, dst = views[x], views[padded]
        interior = dst[:, t:t + h, l:l + w, :]

        def run():
            dst.fill(0.0)
            np.copyto(interior, src)

        return run

    p.emit(StepSpec("Pad[avgpool]", node.name, [x], [padded], build, native=False))
    geo = dict(geo, H=h + t + b, W=w + l + r, pad_top=0, pad_left=0)
    return padded, geo


@lowering("GlobalAveragePool")
def lower_global_avgpool(p: Planner, node: Node, ins):
    x = ins[0]
    if not _is_f32_runtime(x) or len(x.shape) != 4:
        return None
    n, c, h, w = x.shape
    x = p.as_layout(x, NHWC)
    y = p.new_value(node.outputs[0], (n, c, 1, 1), F32, NHWC)

    def build(views):
        return K.GlobalAvgPool(p.pool, views[x], views[y], n, h * w, c)

    p.emit(StepSpec("GlobalAveragePool", node.name, [x], [y], build))
    return [y]


# ------------------------------------------------------------------ GEMM


def _emit_gemm(p: Planner, node: Node, a: Value, packed: np.ndarray, n_out: int, out_shape) -> Value:
    a = p.as_layout(a, PLAIN)
    k = a.shape[-1]
    m = a.size // k
    y = p.new_value(node.outputs[0], out_shape, F32, PLAIN)
    lo, hi = _clamp(node)

    def build(views):
        return K.Gemm(p.pool, views[a].reshape(-1), packed, views[y].reshape(-1), m, n_out, k, k, n_out, lo, hi)

    p.emit(StepSpec(f"{node.op_type}[gemm]", node.name, [a], [y], build, macs=m * n_out * k))
    return y


@lowering("Gemm")
def lower_gemm(p: Planner, node: Node, ins):
    a, b = ins[0], ins[1]
    c = ins[2] if len(ins) > 2 else None
    if not _is_f32_runtime(a) or b is None or not b.is_const or (c is not None and not c.is_const):
        return None
    if len(a.shape) != 2 or node.attr("transA", 0) or b.const.ndim != 2:
        return None
    weights = b.const.T if node.attr("transB", 0) else b.const
    k, n = weights.shape
    bias = None
    if c is not None:
        cv = c.const.astype(F32)
        if cv.size == 1:
            bias = np.full(n, cv.reshape(-1)[0], F32)
        elif cv.size == n and (cv.ndim == 1 or cv.shape[-1] == n):
            bias = cv.reshape(-1)
        else:
            return None  # C varies along rows: reference path
        bias = bias * np.float32(node.attr("beta", 1.0))
    key = ("gemm", node.name)
    if key not in p.weights:
        p.weights[key] = K.gemm_pack((weights * np.float32(node.attr("alpha", 1.0))).astype(F32), bias)
    return [_emit_gemm(p, node, a, p.weights[key], n, (a.shape[0], n))]


@lowering("MatMul")
def lower_matmul(p: Planner, node: Node, ins):
    a, b = ins
    if not _is_f32_runtime(a) or b is None or not b.is_const or b.const.ndim != 2 or len(a.shape) < 2:
        return None
    bias = node.attr("edgert_bias")
    key = ("matmul", node.name)
    if key not in p.weights:
        p.weights[key] = K.gemm_pack(b.const.astype(F32), bias)
    n = b.const.shape[1]
    return [_emit_gemm(p, node, a, p.weights[key], n, a.shape[:-1] + (n,))]


# ------------------------------------------------------------------ elementwise

_UNARY = {"Relu": "clamp", "Clip": "clamp", "Sigmoid": "sigmoid", "Tanh": "tanh",
          "HardSigmoid": "hardsigmoid", "HardSwish": "hardswish", "Swish": "swish", "Gelu": "gelu",
          "LeakyRelu": "leakyrelu", "Elu": "elu", "Exp": "exp"}


@lowering(*_UNARY)
def lower_unary(p: Planner, node: Node, ins):
    x = ins[0]
    if not _is_f32_runtime(x):
        return None
    op = _UNARY[node.op_type]
    alpha = beta = 0.0
    lo, hi = _clamp(node)
    if node.op_type == "Relu":
        lo = max(lo, 0.0)
    elif node.op_type == "Clip":
        if p.opset < 11:
            bounds = [node.attr("min", -math.inf), node.attr("max", math.inf)]
        else:
            bounds = []
            for v, default in ((ins[1] if len(ins) > 1 else None, -math.inf), (ins[2] if len(ins) > 2 else None, math.inf)):
                if v is not None and not v.is_const:
                    return None
                bounds.append(default if v is None else float(v.const.reshape(-1)[0]))
        lo, hi = max(lo, bounds[0]), min(hi, bounds[1])
    elif node.op_type == "HardSigmoid":
        alpha, beta = node.attr("alpha", 0.2), node.attr("beta", 0.5)
    elif node.op_type == "LeakyRelu":
        alpha = node.attr("alpha", 0.01)
    elif node.op_type == "Elu":
        alpha = node.attr("alpha", 1.0)
    elif node.op_type == "Gelu" and node.attr("approximate", "none") == "tanh":
        op = "gelu_tanh"
    if op != "clamp" and (lo != -math.inf or hi != math.inf):
        return None  # only the clamp kernel applies a fused clamp
    y = p.new_value(node.outputs[0], x.shape, F32, x.layout)

    def build(views):
        return K.Unary(p.pool, op, views[x].reshape(-1), views[y].reshape(-1), alpha, beta, lo, hi)

    p.emit(StepSpec(node.op_type, node.name, [x], [y], build))
    return [y]


@lowering("PRelu")
def lower_prelu(p: Planner, node: Node, ins):
    x, s = ins
    if not _is_f32_runtime(x) or s is None or not s.is_const:
        return None
    rank = len(x.shape)
    slope = legacy_channel_slope(s.const.astype(F32), rank, p.opset)
    full = slope.reshape((1,) * (rank - slope.ndim) + slope.shape) if slope.ndim <= rank else None
    if full is None:
        return None
    if slope.size == 1:
        layout, channels, vec = x.layout, 1, slope.reshape(1)
    elif rank >= 2 and full.shape[1] == x.shape[1] and full.size == x.shape[1] and rank == 4:
        layout, channels, vec = NHWC, x.shape[1], slope.reshape(-1)
    elif full.shape[-1] == x.shape[-1] and full.size == x.shape[-1]:
        layout, channels, vec = PLAIN, x.shape[-1], slope.reshape(-1)
    else:
        return None
    x = p.as_layout(x, layout) if rank == 4 else x
    y = p.new_value(node.outputs[0], x.shape, F32, x.layout)
    vec = np.ascontiguousarray(vec)

    def build(views):
        return K.PRelu(p.pool, views[x].reshape(-1), vec, views[y].reshape(-1), channels)

    p.emit(StepSpec("PRelu", node.name, [x], [y], build))
    return [y]


_BINARY = {"Add": "add", "Sub": "sub", "Mul": "mul", "Div": "div", "Max": "max", "Min": "min", "Sum": "add"}


def _broadcast_groups(out_shape, shapes):
    """Collapse a broadcast into runs of dims where each operand is full (1) or broadcast (0)."""
    groups = []  # [size, flags]
    for axis, size in enumerate(out_shape):
        if size == 1:
            continue
        flags = tuple(int(s[axis] != 1) for s in shapes)
        if groups and groups[-1][1] == flags:
            groups[-1][0] *= size
        else:
            groups.append([size, flags])
    return groups


class BinaryPattern:
    """How a broadcast binary op maps onto the row/column kernels: `outer` calls, each over
    rows x cols with per-operand (row, col) strides. Operands are Values (converted to `layout`)
    or constant arrays already in physical order."""

    def __init__(self, layout, out_shape, operands, rows, cols, strides, per_outer, outer):
        self.layout, self.out_shape, self.operands = layout, out_shape, operands
        self.rows, self.cols, self.strides, self.per_outer, self.outer = rows, cols, strides, per_outer, outer

    @property
    def reads(self) -> list[Value]:
        return [o for o in self.operands if isinstance(o, Value)]

    def calls(self, views, y: Value, make):
        """make(a, a_rs, a_cs, b, b_rs, b_cs, out) -> a kernel step; returns one runner."""
        flat = [o.reshape(-1) if isinstance(o, np.ndarray) else views[o].reshape(-1) for o in self.operands]
        out = views[y].reshape(-1)
        (ar, ac), (br, bc) = self.strides
        calls = [make(flat[0][i * self.per_outer[0]:], ar, ac, flat[1][i * self.per_outer[1]:], br, bc,
                      out[i * self.rows * self.cols:]) for i in range(self.outer)]
        return calls[0] if len(calls) == 1 else (lambda: [c() for c in calls])


def binary_pattern(p: Planner, a: Value, b: Value, dtype=F32) -> BinaryPattern | None:
    """The kernel pattern of a (op) b with NumPy broadcasting, or None when it needs the reference.
    Runtime operands are converted to the chosen layout here, so call this only when going native."""
    if a.dtype != dtype or b.dtype != dtype or (a.is_const and b.is_const):
        return None
    out_shape = tuple(np.broadcast_shapes(a.shape, b.shape))
    rank = len(out_shape)
    runtime = [v for v in (a, b) if not v.is_const]
    layout = NHWC if rank == 4 and any(v.layout == NHWC and len(v.shape) == 4 for v in runtime) else PLAIN
    phys_out = tuple(out_shape[i] for i in TO_NHWC) if layout == NHWC else out_shape
    operands, shapes = [], []
    for v in (a, b):
        if v.is_const:
            c = v.const.astype(dtype).reshape((1,) * (rank - v.const.ndim) + v.const.shape)
            c = np.ascontiguousarray(c.transpose(TO_NHWC) if layout == NHWC else c)
            operands.append(c)
            shapes.append(c.shape)
            continue
        if len(v.shape) != rank and layout == NHWC and v.size != 1:
            return None  # a lower-rank runtime operand is not stored in NHWC order
        operands.append(v)  # converted below, once the pattern is known to be native
        logical_shape = (1,) * (rank - len(v.shape)) + tuple(v.shape)
        shapes.append(tuple(logical_shape[i] for i in TO_NHWC) if layout == NHWC and len(v.shape) == 4 else logical_shape)
    groups = _broadcast_groups(phys_out, shapes)
    outer = 1
    if len(groups) == 3:  # e.g. batched SE scaling [N,H,W,C] * [N,1,1,C]: loop over the outer run
        outer_size, outer_flags = groups[0]
        if not all(outer_flags):
            return None
        outer, groups = outer_size, groups[1:]
    if len(groups) > 2:
        return None
    (rows, row_flags), (cols, col_flags) = [[1, (1, 1)]] * (2 - len(groups)) + groups
    if not (col_flags[0] or col_flags[1]):
        return None
    strides = [((cols if cf else 1) if rf else 0, 1 if cf else 0) for rf, cf in zip(row_flags, col_flags)]
    per_outer = [(rows if row_flags[i] else 1) * (cols if col_flags[i] else 1) for i in range(2)]
    operands = [p.as_layout(o, layout) if isinstance(o, Value) and len(o.shape) == 4 else o for o in operands]
    return BinaryPattern(layout, out_shape, operands, rows, cols, strides, per_outer, outer)


def emit_binary(p: Planner, op: str, a: Value, b: Value, out_name: str, node: Node, clamp) -> Value | None:
    """Native a (op) b with NumPy broadcasting, or None when the pattern needs the reference."""
    pattern = binary_pattern(p, a, b)
    if pattern is None:
        return None
    y = p.new_value(out_name, pattern.out_shape, F32, pattern.layout)
    lo, hi = clamp

    def build(views):
        return pattern.calls(views, y, lambda a, ars, acs, b, brs, bcs, out: K.Binary(
            p.pool, op, pattern.rows, pattern.cols, a, ars, acs, b, brs, bcs, out, lo, hi))

    p.emit(StepSpec(node.op_type, node.name, pattern.reads, [y], build))
    return y


@lowering(*_BINARY)
def lower_binary(p: Planner, node: Node, ins):
    if any(v is None for v in ins) or not ins:
        return None
    op = _BINARY[node.op_type]
    if len(ins) == 1:
        return None
    if len(ins) > 2 and node.op_type != "Sum":
        return None
    if len(ins) > 2 and len({v.shape for v in ins}) != 1:
        return None  # mixed broadcasting across several inputs: reference path
    clamp = _clamp(node)
    acc = ins[0]
    for i, v in enumerate(ins[1:], start=1):
        last = i == len(ins) - 1
        name = node.outputs[0] if last else f"{node.name}:partial{i}"
        acc = emit_binary(p, op, acc, v, name, node, clamp if last else (-math.inf, math.inf))
        if acc is None:
            if i == 1:
                return None
            raise UnsupportedOperatorError(node.op_type, node.name, "internal: partial Sum lowering")
    return [acc]


@lowering("BatchNormalization")
def lower_batchnorm(p: Planner, node: Node, ins):
    x = ins[0]
    params = [_require_const(node, v, "BatchNormalization parameters") for v in ins[1:5]]
    if node.attr("training_mode", 0):
        raise UnsupportedOperatorError(node.op_type, node.name, "training_mode=1 (edgert runs inference only)")
    if not _is_f32_runtime(x) or len(x.shape) < 2 or len([o for o in node.outputs if o]) > 1:
        return None
    scale, bias, mean, var = (np.asarray(v, np.float64) for v in params)
    mul = scale / np.sqrt(var + node.attr("epsilon", 1e-5))
    add = bias - mean * mul
    shape = (x.shape[1],) + (1,) * (len(x.shape) - 2)
    mul_v = p.constant(f"{node.name}:scale", mul.astype(F32).reshape(shape))
    add_v = p.constant(f"{node.name}:shift", add.astype(F32).reshape(shape))
    scaled = emit_binary(p, "mul", x, mul_v, f"{node.name}:scaled", node, (-math.inf, math.inf))
    if scaled is None:
        return None
    out = emit_binary(p, "add", scaled, add_v, node.outputs[0], node, _clamp(node))
    return None if out is None else [out]


# ------------------------------------------------------------------ zero-copy reinterpretations


@lowering("Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout")
def lower_alias(p: Planner, node: Node, ins):
    x = ins[0]
    if x is None or x.is_const or len([o for o in node.outputs if o]) != 1 or node.outputs[0] == "":
        return None
    if node.op_type in ("Identity", "Dropout"):
        y = p.alias(node.outputs[0], x, x.shape)
        y.layout = x.layout
        return [y]
    probe = [np.empty(x.shape, x.dtype)] + [None if v is None else v.const for v in ins[1:]]
    if any(v is not None and not v.is_const for v in ins[1:]):
        return None
    shape = run_reference(node, probe, p.opset)[0].shape
    if x.layout == NHWC and not x.spatially_trivial:
        x = p.as_layout(x, PLAIN)
    return [p.alias(node.outputs[0], x, shape)]


@lowering("Transpose")
def lower_layout_transpose(p: Planner, node: Node, ins):
    """NHWC <-> NCHW transposes that only relabel the layout (e.g. the boundaries of a model
    imported from TFLite) cost nothing: an NHWC-stored value of logical shape (N,C,H,W) has the
    bytes of a plain (N,H,W,C) tensor."""
    x = ins[0]
    perm = tuple(node.attr("perm", ()))
    if x is None or x.is_const or len(x.shape) != 4 or len([o for o in node.outputs if o]) != 1:
        return None
    n, d1, d2, d3 = x.shape
    if perm == TO_NCHW and x.layout == PLAIN:  # plain NHWC data -> logical NCHW stored as NHWC
        y = Value(node.outputs[0], (n, d3, d1, d2), x.dtype, layout=NHWC, buffer=x.buffer)
    elif perm == TO_NHWC and x.layout == NHWC:  # logical NCHW stored NHWC -> plain NHWC data
        y = Value(node.outputs[0], (n, d2, d3, d1), x.dtype, layout=PLAIN, buffer=x.buffer)
    else:
        return None
    x.buffer.members.append(y)
    p.values[node.outputs[0]] = y
    return [y]


# The int8 lowerings register themselves on import.
from edgert.runtime import lower_quant  # noqa: E402,F401
# The sequence-model lowerings (RMSNormalization, CausalConvWithState, LinearAttention).
from edgert.runtime import lower_seq  # noqa: E402,F401
# Slice, Split, Concat and constant Pad as copies between plan-time views.
from edgert.runtime import lower_copy  # noqa: E402,F401
# InstanceNormalization and Softmax on the row-reduction kernels.
from edgert.runtime import lower_norm  # noqa: E402,F401
