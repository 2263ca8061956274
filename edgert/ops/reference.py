"""numpy reference implementations of the ONNX operators edgert supports."""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from edgert.errors import OperatorArgumentError, UnsupportedOperatorError
from edgert.ir import Node

RefFn = Callable[[Node, list, int], list]
# (domain, op_type) -> implementation; domain "" is ONNX's default domain.
REFERENCE: dict[tuple[str, str], RefFn] = {}


def ref(*op_types: str, domain: str = ""):
    def register(fn: RefFn) -> RefFn:
        for op in op_types:
            REFERENCE[(domain, op)] = fn
        return fn

    return register


def has_reference(node: Node) -> bool:
    return (node.domain, node.op_type) in REFERENCE


def run_reference(node: Node, inputs: list, opset: int) -> list:
    fn = REFERENCE.get((node.domain, node.op_type))
    if fn is None:
        raise UnsupportedOperatorError(node.op_type, node.name)
    try:
        with np.errstate(all="ignore"):
            out = fn(node, inputs, opset)
    except (ValueError, IndexError, TypeError, KeyError, ZeroDivisionError, OverflowError) as e:
        # The planner's checks (edgert.ops.checks) reject what they can name precisely; what is
        # left is numpy refusing this node's arguments, which is still the model's fault.
        raise OperatorArgumentError(node.op_type, node.name, f"cannot evaluate: {e}") from None
    except MemoryError:
        raise OperatorArgumentError(node.op_type, node.name, "its result does not fit in memory") from None
    return [np.asarray(o) for o in out]


def _opt(inputs: list, i: int):
    return inputs[i] if len(inputs) > i else None


def _axes_arg(node: Node, inputs: list, index: int):
    """Axes from the input (newer opsets) or the attribute (older ones); None when absent."""
    value = _opt(inputs, index)
    if value is not None and value.size:
        return [int(a) for a in value.reshape(-1)]
    if value is not None:  # empty tensor given
        return []
    axes = node.attr("axes")
    return None if axes is None else [int(a) for a in axes]


def _f32like(x: np.ndarray, value) -> np.ndarray:
    return np.asarray(value, dtype=x.dtype)


# ------------------------------------------------------------------ elementwise

_UNARY = {
    "Relu": lambda x, n: np.maximum(x, _f32like(x, 0)),
    "Sigmoid": lambda x, n: (1.0 / (1.0 + np.exp(-x))).astype(x.dtype),
    "Tanh": lambda x, n: np.tanh(x),
    "Exp": lambda x, n: np.exp(x),
    "Log": lambda x, n: np.log(x),
    "Sqrt": lambda x, n: np.sqrt(x),
    "Neg": lambda x, n: -x,
    "Abs": lambda x, n: np.abs(x),
    "Reciprocal": lambda x, n: (1.0 / x).astype(x.dtype),
    "Floor": lambda x, n: np.floor(x),
    "Ceil": lambda x, n: np.ceil(x),
    "Round": lambda x, n: np.round(x),
    "Sign": lambda x, n: np.sign(x),
    "Not": lambda x, n: np.logical_not(x),
    "Identity": lambda x, n: x,
    "Erf": lambda x, n: _erf(x),
    "Softplus": lambda x, n: np.logaddexp(x, _f32like(x, 0)),
    "LeakyRelu": lambda x, n: np.where(x >= 0, x, x * _f32like(x, n.attr("alpha", 0.01))),
    "Elu": lambda x, n: np.where(x >= 0, x, _f32like(x, n.attr("alpha", 1.0)) * np.expm1(x)),
    "HardSigmoid": lambda x, n: np.clip(
        x * _f32like(x, n.attr("alpha", 0.2)) + _f32like(x, n.attr("beta", 0.5)), 0, 1
    ).astype(x.dtype),
    "HardSwish": lambda x, n: (x * np.clip(x / _f32like(x, 6) + _f32like(x, 0.5), 0, 1)).astype(x.dtype),
    "Swish": lambda x, n: (x / (1.0 + np.exp(-x))).astype(x.dtype),
}


def _erf(x: np.ndarray) -> np.ndarray:
    flat = np.asarray(x, dtype=np.float64).reshape(-1)
    return np.array([math.erf(v) for v in flat], dtype=x.dtype).reshape(x.shape)


@ref(*_UNARY)
def _unary(node, inputs, opset):
    return [_UNARY[node.op_type](inputs[0], node)]


@ref("Gelu")
def _gelu(node, inputs, opset):
    x = inputs[0]
    x64 = x.astype(np.float64)
    if node.attr("approximate", "none") == "tanh":
        y = 0.5 * x64 * (1 + np.tanh(math.sqrt(2 / math.pi) * (x64 + 0.044715 * x64**3)))
    else:
        y = 0.5 * x64 * (1 + _erf(x64 / math.sqrt(2)))
    return [y.astype(x.dtype, copy=False)]


@ref("Clip")
def _clip(node, inputs, opset):
    x = inputs[0]
    if opset < 11:
        lo, hi = node.attr("min", -np.inf), node.attr("max", np.inf)
    else:
        lo = _opt(inputs, 1)
        hi = _opt(inputs, 2)
    y = x
    if lo is not None:
        y = np.maximum(y, np.asarray(lo, dtype=x.dtype))
    if hi is not None:
        y = np.minimum(y, np.asarray(hi, dtype=x.dtype))
    return [y]


@ref("PRelu")
def _prelu(node, inputs, opset):
    x, slope = inputs
    slope = legacy_channel_slope(slope, x.ndim, opset)
    return [np.where(x >= 0, x, x * slope).astype(x.dtype)]


def legacy_channel_slope(slope: np.ndarray, rank: int, opset: int) -> np.ndarray:
    """Before opset 7 a 1-D PRelu slope applies along the channel axis (axis 1)."""
    if opset < 7 and slope.ndim == 1 and rank > 2:
        return slope.reshape((-1,) + (1,) * (rank - 2))
    return slope


_BINARY = {
    "Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Pow": np.power,
    "Equal": np.equal, "Less": np.less, "Greater": np.greater, "LessOrEqual": np.less_equal,
    "GreaterOrEqual": np.greater_equal, "And": np.logical_and, "Or": np.logical_or,
}


@ref(*_BINARY)
def _binary(node, inputs, opset):
    a, b = inputs
    y = _BINARY[node.op_type](a, b)
    if node.op_type == "Pow":
        y = y.astype(a.dtype)
    return [y]


@ref("Div")
def _div(node, inputs, opset):
    a, b = inputs
    if np.issubdtype(a.dtype, np.integer):
        return [np.trunc(a / b).astype(a.dtype)]  # ONNX integer Div truncates
    return [a / b]


@ref("Mod")
def _mod(node, inputs, opset):
    a, b = inputs
    if node.attr("fmod", 0):
        return [np.fmod(a, b)]
    return [np.mod(a, b)]


@ref("Sum", "Max", "Min", "Mean")
def _variadic(node, inputs, opset):
    fn = {"Sum": np.add, "Max": np.maximum, "Min": np.minimum, "Mean": np.add}[node.op_type]
    y = inputs[0]
    for x in inputs[1:]:
        y = fn(y, x)
    if node.op_type == "Mean":
        y = (y / len(inputs)).astype(inputs[0].dtype)
    return [y]


@ref("Where")
def _where(node, inputs, opset):
    return [np.where(*inputs)]


# ------------------------------------------------------------------ shape and data movement


@ref("Shape")
def _shape(node, inputs, opset):
    shape = np.array(inputs[0].shape, dtype=np.int64)
    start, end = node.attr("start", 0), node.attr("end")
    return [shape[start:end]]


@ref("Size")
def _size(node, inputs, opset):
    return [np.array(inputs[0].size, dtype=np.int64)]


@ref("Reshape")
def _reshape(node, inputs, opset):
    x = inputs[0]
    shape = [int(s) for s in (inputs[1] if opset >= 5 else node.attr("shape"))]
    if not node.attr("allowzero", 0):
        shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return [x.reshape(shape)]


@ref("Flatten")
def _flatten(node, inputs, opset):
    x = inputs[0]
    axis = node.attr("axis", 1)
    axis = axis + x.ndim if axis < 0 else axis
    return [x.reshape(int(np.prod(x.shape[:axis])), -1)]


@ref("Transpose")
def _transpose(node, inputs, opset):
    perm = node.attr("perm")
    return [np.transpose(inputs[0], perm)]


@ref("Squeeze")
def _squeeze(node, inputs, opset):
    x = inputs[0]
    axes = _axes_arg(node, inputs, 1)
    if axes is None:
        return [np.squeeze(x)]
    return [np.squeeze(x, axis=tuple(a % x.ndim for a in axes))]


@ref("Unsqueeze")
def _unsqueeze(node, inputs, opset):
    x = inputs[0]
    axes = _axes_arg(node, inputs, 1)
    rank = x.ndim + len(axes)
    y = x
    for a in sorted(a % rank for a in axes):
        y = np.expand_dims(y, a)
    return [y]


@ref("Concat")
def _concat(node, inputs, opset):
    return [np.concatenate([x for x in inputs if x is not None], axis=node.attr("axis"))]


@ref("Split")
def _split(node, inputs, opset):
    x = inputs[0]
    axis, bounds = split_bounds(node, inputs, opset, x.shape)
    return [np.take(x, np.arange(bounds[i], bounds[i + 1]), axis=axis) for i in range(len(bounds) - 1)]


def split_bounds(node, inputs, opset, shape) -> tuple[int, list[int]]:
    """(axis, [0, end of part 0, end of part 1, ...]) of a Split of a tensor of `shape`."""
    axis = node.attr("axis", 0) % len(shape)
    split = _opt(inputs, 1) if opset >= 13 else node.attr("split")
    n = len(node.outputs)
    if split is None or len(split) == 0:
        num = node.attr("num_outputs", n)
        chunk = -(-shape[axis] // num)
        split = [min(chunk, shape[axis] - i * chunk) for i in range(num)]
    return axis, [int(b) for b in np.cumsum([0] + [int(s) for s in split])]


@ref("Slice")
def _slice(node, inputs, opset):
    return [inputs[0][slice_index(node, inputs, opset, inputs[0].shape)]]


def slice_index(node, inputs, opset, shape) -> tuple[slice, ...]:
    """The Python index of a Slice of a tensor of `shape` (starts/ends clamped as the spec says)."""
    if opset < 10:
        starts, ends, axes, steps = node.attr("starts"), node.attr("ends"), node.attr("axes"), None
    else:
        starts, ends = inputs[1], inputs[2]
        axes, steps = _opt(inputs, 3), _opt(inputs, 4)
    rank = len(shape)
    axes = list(range(len(starts))) if axes is None else [int(a) % rank for a in axes]
    steps = [1] * len(starts) if steps is None else [int(s) for s in steps]
    index = [slice(None)] * rank
    for a, s, e, st in zip(axes, starts, ends, steps):
        dim = shape[a]
        s, e = int(s), int(e)
        # clamp as the spec does (INT64 sentinels included) before Python slicing
        s = s + dim if s < 0 else s
        e = e + dim if e < 0 else e
        if st > 0:
            s, e = min(max(s, 0), dim), min(max(e, 0), dim)
        else:
            s, e = min(max(s, -1), dim - 1), min(max(e, -1), dim - 1)
        index[a] = slice(s, e if e >= 0 else None, st)
    return tuple(index)


@ref("Gather")
def _gather(node, inputs, opset):
    x, idx = inputs
    axis = node.attr("axis", 0) % x.ndim
    idx = np.where(idx < 0, idx + x.shape[axis], idx)
    return [np.take(x, idx, axis=axis)]


@ref("Range")
def _range(node, inputs, opset):
    start, limit, delta = (np.asarray(v).item() for v in inputs)
    return [np.arange(start, limit, delta, dtype=inputs[0].dtype)]


@ref("ConstantOfShape")
def _constant_of_shape(node, inputs, opset):
    value = node.attr("value")
    value = np.zeros(1, np.float32) if value is None else value.reshape(-1)
    return [np.full([int(s) for s in inputs[0]], value[0], dtype=value.dtype)]


@ref("Cast")
def _cast(node, inputs, opset):
    import onnx

    return [inputs[0].astype(onnx.helper.tensor_dtype_to_np_dtype(node.attr("to")))]


@ref("Expand")
def _expand(node, inputs, opset):
    x, shape = inputs
    return [x * np.ones([int(s) for s in shape], dtype=x.dtype)]


@ref("Tile")
def _tile(node, inputs, opset):
    return [np.tile(inputs[0], [int(r) for r in inputs[1]])]


@ref("Dropout")
def _dropout(node, inputs, opset):
    x = inputs[0]
    outs = [x]
    if len(node.outputs) > 1:
        outs.append(np.ones(x.shape, dtype=bool))
    return outs


@ref("Pad")
def _pad(node, inputs, opset):
    crop, width, mode, value = pad_geometry(node, inputs, opset, inputs[0].shape)
    x = inputs[0][crop]
    if mode == "constant":
        return [np.pad(x, width, mode="constant", constant_values=value)]
    return [np.pad(x, width, mode={"reflect": "reflect", "edge": "edge", "wrap": "wrap"}[mode])]


def pad_geometry(node, inputs, opset, shape):
    """(crop index of the input: negative pads crop, [(before, after)] >= 0 per axis, mode, constant
    value) of a Pad of a tensor of `shape`."""
    if opset < 11:
        pads, value = node.attr("pads"), node.attr("value", 0.0)
        axes = None
    else:
        pads = inputs[1]
        value = _opt(inputs, 2)
        value = 0 if value is None or value.size == 0 else value.reshape(-1)[0]
        axes = _opt(inputs, 3)
    mode = node.attr("mode", "constant")
    pads = [int(p) for p in pads]
    rank = len(shape)
    axes = list(range(rank)) if axes is None else [int(a) % rank for a in axes]
    n = len(axes)
    width = [(0, 0)] * rank
    for i, a in enumerate(axes):
        width[a] = (pads[i], pads[i + n])
    crop = tuple(slice(-min(b, 0) or None, (shape[a] + min(e, 0)) if e < 0 else None)
                 for a, (b, e) in enumerate(width))
    return crop, [(max(b, 0), max(e, 0)) for b, e in width], mode, value


# ------------------------------------------------------------------ reductions and normalisation


def _reduce(node, inputs, opset, fn):
    x = inputs[0]
    axes = _axes_arg(node, inputs, 1)
    keepdims = bool(node.attr("keepdims", 1))
    if axes is None or len(axes) == 0:
        if axes is not None and node.attr("noop_with_empty_axes", 0):
            return [x]
        axes = list(range(x.ndim))
    return [fn(x, axis=tuple(a % x.ndim for a in axes), keepdims=keepdims)]


@ref("ReduceMean")
def _reduce_mean(node, inputs, opset):
    return [_reduce(node, inputs, opset, np.mean)[0].astype(inputs[0].dtype)]


@ref("ReduceSum")
def _reduce_sum(node, inputs, opset):
    return [_reduce(node, inputs, opset, np.sum)[0].astype(inputs[0].dtype)]


@ref("ReduceMax")
def _reduce_max(node, inputs, opset):
    return _reduce(node, inputs, opset, np.max)


@ref("ReduceMin")
def _reduce_min(node, inputs, opset):
    return _reduce(node, inputs, opset, np.min)


@ref("ReduceProd")
def _reduce_prod(node, inputs, opset):
    return _reduce(node, inputs, opset, np.prod)


def _softmax_axis_2d(node, x, opset):
    """Opsets < 13 coerce the input to 2-D at `axis` (default 1)."""
    axis = node.attr("axis", 1) % x.ndim
    return x.reshape(int(np.prod(x.shape[:axis])), -1)


@ref("Softmax", "LogSoftmax")
def _softmax(node, inputs, opset):
    x = inputs[0]
    if opset < 13:
        y = _softmax_last(_softmax_axis_2d(node, x, opset), node.op_type).reshape(x.shape)
        return [y]
    axis = node.attr("axis", -1) % x.ndim
    return [np.moveaxis(_softmax_last(np.moveaxis(x, axis, -1), node.op_type), -1, axis)]


def _softmax_last(x, op_type):
    shifted = x - x.max(axis=-1, keepdims=True)
    if op_type == "LogSoftmax":
        return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


@ref("BatchNormalization")
def _batchnorm(node, inputs, opset):
    x, scale, bias, mean, var = inputs[:5]
    if node.attr("training_mode", 0):
        raise UnsupportedOperatorError(node.op_type, node.name, "training_mode=1 (edgert runs inference only)")
    eps = node.attr("epsilon", 1e-5)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    inv = (scale / np.sqrt(var + eps)).reshape(shape)
    return [(x - mean.reshape(shape)) * inv + bias.reshape(shape)]


@ref("InstanceNormalization")
def _instancenorm(node, inputs, opset):
    x, scale, bias = inputs
    axes = tuple(range(2, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    y = (x - mean) / np.sqrt(var + node.attr("epsilon", 1e-5))
    return [(y * scale.reshape(shape) + bias.reshape(shape)).astype(x.dtype)]


@ref("GroupNormalization")
def _groupnorm(node, inputs, opset):
    x, scale, bias = inputs
    groups = node.attr("num_groups")
    n, c = x.shape[:2]
    g = x.reshape(n, groups, -1)
    mean = g.mean(axis=2, keepdims=True)
    var = g.var(axis=2, keepdims=True)
    y = ((g - mean) / np.sqrt(var + node.attr("epsilon", 1e-5))).reshape(x.shape)
    if opset >= 21:  # per-channel affine
        shape = (1, c) + (1,) * (x.ndim - 2)
    else:  # opset 18: per-group affine
        scale = np.repeat(scale, c // groups)
        bias = np.repeat(bias, c // groups)
        shape = (1, c) + (1,) * (x.ndim - 2)
    return [(y * scale.reshape(shape) + bias.reshape(shape)).astype(x.dtype)]


@ref("LayerNormalization")
def _layernorm(node, inputs, opset):
    x, scale = inputs[0], inputs[1]
    bias = _opt(inputs, 2)
    axis = node.attr("axis", -1) % x.ndim
    axes = tuple(range(axis, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + node.attr("epsilon", 1e-5))
    y = (x - mean) * inv_std * scale
    if bias is not None:
        y = y + bias
    outs = [y.astype(x.dtype)]
    if len(node.outputs) > 1:
        outs.append(mean.astype(np.float32))
    if len(node.outputs) > 2:
        outs.append(inv_std.astype(np.float32))
    return outs


@ref("GlobalAveragePool")
def _global_avgpool(node, inputs, opset):
    x = inputs[0]
    return [x.mean(axis=tuple(range(2, x.ndim)), keepdims=True).astype(x.dtype)]


@ref("GlobalMaxPool")
def _global_maxpool(node, inputs, opset):
    x = inputs[0]
    return [x.max(axis=tuple(range(2, x.ndim)), keepdims=True)]


# ------------------------------------------------------------------ linear algebra


@ref("MatMul")
def _matmul(node, inputs, opset):
    return [np.matmul(inputs[0], inputs[1])]


@ref("Gemm")
def _gemm(node, inputs, opset):
    a, b = inputs[0], inputs[1]
    c = _opt(inputs, 2)
    if node.attr("transA", 0):
        a = a.T
    if node.attr("transB", 0):
        b = b.T
    y = node.attr("alpha", 1.0) * (a @ b)
    if c is not None:
        y = y + node.attr("beta", 1.0) * c
    return [y.astype(inputs[0].dtype)]


# ------------------------------------------------------------------ Resize


def _resize_scales_sizes(node, inputs, opset, shape):
    rank = len(shape)
    if opset < 11:  # Upsample / Resize-10: scales only
        scales = inputs[1] if len(inputs) > 1 else np.asarray(node.attr("scales"))
        return np.asarray(scales, np.float64), None
    roi_scales = _opt(inputs, 2)
    sizes = _opt(inputs, 3)
    axes = node.attr("axes")
    if sizes is not None and sizes.size:
        sizes = [int(s) for s in sizes]
        if axes is not None:
            full = list(shape)
            for a, s in zip(axes, sizes):
                full[a % rank] = s
            sizes = full
        policy = node.attr("keep_aspect_ratio_policy", "stretch")
        scales = np.array(sizes, np.float64) / np.array(shape, np.float64)
        if policy != "stretch":  # one scale for every resized axis, as the spec defines it
            resized = [a % rank for a in axes] if axes is not None else range(rank)
            scale = (min if policy == "not_larger" else max)(scales[i] for i in resized)
            for i in resized:
                scales[i] = scale
                sizes[i] = int(round(scale * shape[i]))
        return scales, sizes
    scales = np.asarray(roi_scales, np.float64)
    if axes is not None:
        full = np.ones(rank)
        for a, s in zip(axes, scales):
            full[a % rank] = s
        scales = full
    return scales, None


def _source_coords(mode, out_len, in_len, scale, roi=None):
    """Input coordinate for every output index along one axis (ONNX Resize)."""
    i = np.arange(out_len, dtype=np.float64)
    if mode == "half_pixel":
        return (i + 0.5) / scale - 0.5
    if mode == "pytorch_half_pixel":
        return (i + 0.5) / scale - 0.5 if out_len > 1 else np.zeros(out_len)
    if mode == "align_corners":  # onnxruntime divides by the integer output length
        return i * (in_len - 1) / (out_len - 1) if out_len > 1 else np.zeros(out_len)
    if mode == "asymmetric":
        return i / scale
    if mode == "tf_half_pixel_for_nn":
        return (i + 0.5) / scale
    if mode == "half_pixel_symmetric":
        adjustment = out_len / (scale * in_len)
        center = in_len / 2
        offset = center * (1 - adjustment)
        return offset + (i + 0.5) / scale - 0.5
    if mode == "tf_crop_and_resize":
        start, end = roi
        if out_len > 1:
            return start * (in_len - 1) + i * (end - start) * (in_len - 1) / (out_len - 1)
        return np.full(out_len, 0.5 * (start + end) * (in_len - 1))
    raise ValueError(f"coordinate_transformation_mode {mode}")


def _nearest(coords, mode, in_len):
    if mode == "round_prefer_floor":
        idx = np.where(coords - np.floor(coords) == 0.5, np.floor(coords), np.round(coords))
    elif mode == "round_prefer_ceil":
        idx = np.where(coords - np.floor(coords) == 0.5, np.ceil(coords), np.round(coords))
    elif mode == "floor":
        idx = np.floor(coords)
    elif mode == "ceil":
        idx = np.ceil(coords)
    else:
        raise ValueError(f"nearest_mode {mode}")
    return np.clip(idx, 0, in_len - 1).astype(np.int64)


def resize_geometry(node, inputs, opset, shape):
    """(mode, coordinate transformation, nearest mode, scales, output sizes) of a Resize/Upsample on
    an input of `shape`; raises for what the reference does not implement or bad scales/sizes."""
    mode = node.attr("mode", "nearest")
    if opset < 11:
        ctm = "asymmetric"
        nearest_mode = "floor" if mode == "nearest" else None
    else:
        ctm = node.attr("coordinate_transformation_mode", "half_pixel")
        nearest_mode = node.attr("nearest_mode", "round_prefer_floor")
    if mode not in ("nearest", "linear", "bilinear"):
        raise UnsupportedOperatorError(node.op_type, node.name, f"mode {mode}")
    if node.attr("antialias", 0):
        raise UnsupportedOperatorError(node.op_type, node.name, "antialias")
    if ctm == "tf_crop_and_resize":
        raise UnsupportedOperatorError(node.op_type, node.name, "tf_crop_and_resize")
    scales, sizes = _resize_scales_sizes(node, inputs, opset, shape)
    if sizes is None:
        sizes = [int(math.floor(d * s)) for d, s in zip(shape, scales)]
    if any(s < 0 for s in sizes) or not all(np.isfinite(scales)) or any(s <= 0 for s in scales):
        raise ValueError(f"scales {list(scales)} / sizes {list(sizes)} must be positive")
    return mode, ctm, nearest_mode, scales, sizes


def resize_nearest_indices(ctm, nearest_mode, scales, sizes, shape) -> dict[int, np.ndarray]:
    """Nearest Resize as a gather: {axis: source index of every output index} for the axes it changes."""
    return {axis: _nearest(_source_coords(ctm, sizes[axis], shape[axis], scales[axis]), nearest_mode, shape[axis])
            for axis in range(len(shape)) if not (sizes[axis] == shape[axis] and scales[axis] == 1.0)}


@ref("Resize", "Upsample")
def _resize(node, inputs, opset):
    x = inputs[0]
    mode, ctm, nearest_mode, scales, sizes = resize_geometry(node, inputs, opset, x.shape)
    if math.prod(sizes) == 0:  # numpy's take would still loop over every index of the other axes
        return [np.zeros(sizes, x.dtype)]
    if mode == "nearest":  # shrinking axes first keeps every intermediate no larger than it must be
        gathers = resize_nearest_indices(ctm, nearest_mode, scales, sizes, x.shape)
        y = x
        for axis in sorted(gathers, key=lambda a: sizes[a] / max(x.shape[a], 1)):
            y = np.take(y, gathers[axis], axis=axis)
        return [y]
    y = x
    # Axes are resized one at a time (separable); shrinking ones first keeps every intermediate no
    # larger than it must be, and the blend runs in the input's float type, not float64.
    for axis in sorted(range(x.ndim), key=lambda a: sizes[a] / max(x.shape[a], 1)):
        if sizes[axis] == x.shape[axis] and scales[axis] == 1.0:
            continue
        coords = _source_coords(ctm, sizes[axis], x.shape[axis], scales[axis])
        if ctm not in ("align_corners", "tf_crop_and_resize"):
            coords = np.clip(coords, 0, x.shape[axis] - 1)
        lo = np.clip(np.floor(coords), 0, x.shape[axis] - 1).astype(np.int64)
        hi = np.minimum(lo + 1, x.shape[axis] - 1)
        blend = x.dtype if x.dtype.kind == "f" else np.float64
        frac = (coords - lo).astype(blend)
        shape = [1] * x.ndim
        shape[axis] = -1
        frac = frac.reshape(shape)
        low = np.take(y, lo, axis=axis).astype(blend, copy=False)
        high = np.take(y, hi, axis=axis).astype(blend, copy=False)
        high -= low
        high *= frac
        low += high
        y = low
    return [y.astype(x.dtype, copy=False)]


# ------------------------------------------------------------------ spatial (used for folding and tests)


@ref("DepthToSpace")
def _depth_to_space(node, inputs, opset):
    x = inputs[0]
    b = node.attr("blocksize")
    n, c, h, w = x.shape
    if node.attr("mode", "DCR") == "DCR":
        y = x.reshape(n, b, b, c // (b * b), h, w).transpose(0, 3, 4, 1, 5, 2)
    else:
        y = x.reshape(n, c // (b * b), b, b, h, w).transpose(0, 1, 4, 2, 5, 3)
    return [y.reshape(n, c // (b * b), h * b, w * b)]
