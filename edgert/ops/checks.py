"""Argument checks the planner runs on every node before folding or lowering it.

The importer checks what a file says about itself (arity, attribute types, tensor sizes); these
checks need the concrete input shapes the planner knows: axes within the rank, shapes that
broadcast, reshape targets with the right element count, sizes that fit in memory. A node that
fails one raises OperatorArgumentError naming it, instead of reaching a kernel or numpy with
arguments that would crash, raise something else, or be silently wrapped modulo the rank.
"""
from __future__ import annotations

import math
import os
from typing import Callable

import numpy as np

from edgert.errors import OperatorArgumentError, UnsupportedOperatorError
from edgert.ir import Node

# (node, input shapes (None: absent), constant inputs (None: not constant), opset) -> None or raises
CheckFn = Callable[[Node, list, list, int], None]
CHECKS: dict[str, CheckFn] = {}


def _physical_memory_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 1 << 40


# No tensor a node produces may be larger than the machine's memory: such a model is rejected at
# load instead of failing (or swapping) inside numpy.
MAX_TENSOR_BYTES = _physical_memory_bytes()


def check(*op_types: str):
    def register(fn: CheckFn) -> CheckFn:
        for op in op_types:
            CHECKS[op] = fn
        return fn

    return register


def check_node(node: Node, ins: list, opset: int) -> None:
    """ins: the planner's Values (or None) for node.inputs."""
    if node.domain != "":
        return
    fn = CHECKS.get(node.op_type)
    if fn is None:
        return
    shapes = [None if v is None else tuple(v.shape) for v in ins]
    consts = [None if v is None or not v.is_const else v.const for v in ins]
    fn(node, shapes, consts, opset)


def _fail(node: Node, reason: str):
    raise OperatorArgumentError(node.op_type, node.name, reason)


def _get(seq: list, i: int):
    return seq[i] if len(seq) > i else None


def _ints(node: Node, value, what: str) -> list[int]:
    """An integer tensor's entries; a float tensor (NaN, 2.5) where ONNX wants int64 is rejected."""
    value = np.asarray(value)
    if value.dtype.kind not in "iu":
        _fail(node, f"{what} must be an integer tensor, got {value.dtype}")
    return [int(v) for v in value.reshape(-1)]


def _axis(node: Node, axis, rank: int, what: str = "axis", inclusive: bool = False) -> int:
    """axis normalised to [0, rank) (or [0, rank] when inclusive, as Flatten allows)."""
    high = rank + 1 if inclusive else rank
    a = int(axis)
    if not -rank <= a < high:
        _fail(node, f"{what} {a} is out of range for a rank-{rank} input (valid: {-rank}..{high - 1})")
    return a + rank if a < 0 else a


def _axes(node: Node, shapes: list, consts: list, index: int):
    """Axes as the reference op reads them: the input when one is given (graph rewrites emit the
    input form at any opset), else the attribute; None when absent or dynamic."""
    if _get(shapes, index) is None:
        axes = node.attr("axes")
        return None if axes is None else [int(a) for a in axes]
    value = _get(consts, index)
    return None if value is None else _ints(node, value, "axes")


def _check_size(node: Node, shape, itemsize: int = 4) -> None:
    if any(d < 0 for d in shape):
        _fail(node, f"output shape {list(shape)} has a negative dimension")
    nbytes = math.prod(shape) * itemsize
    if nbytes > MAX_TENSOR_BYTES:
        _fail(node, f"output shape {list(shape)} needs {nbytes / 2**30:.3g} GiB, more than this machine's memory")


def _broadcast(node: Node, shapes: list, what: str = "inputs") -> tuple:
    present = [s for s in shapes if s is not None]
    try:
        return np.broadcast_shapes(*present)
    except ValueError:
        _fail(node, f"{what} of shapes {', '.join(str(list(s)) for s in present)} do not broadcast together")


# ------------------------------------------------------------------ axes


@check("Softmax", "LogSoftmax", "Hardmax", "ArgMax", "ArgMin", "CumSum", "LpNormalization")
def _single_axis(node, shapes, consts, opset):
    if shapes[0] is None:
        return
    if node.op_type == "CumSum":
        axis = _get(consts, 1)
        if axis is None:
            return
        axis = (_ints(node, axis, "axis") or [0])[0]
    elif node.op_type in ("Softmax", "LogSoftmax", "Hardmax"):
        axis = node.attr("axis", -1 if opset >= 13 else 1)
    else:
        axis = node.attr("axis", -1 if node.op_type == "LpNormalization" else 0)
    _axis(node, axis, max(len(shapes[0]), 1))


@check("Flatten")
def _flatten(node, shapes, consts, opset):
    if shapes[0] is not None:
        _axis(node, node.attr("axis", 1), len(shapes[0]), inclusive=True)


@check("Gather", "GatherElements")
def _gather(node, shapes, consts, opset):
    if shapes[0] is None:
        return
    rank = len(shapes[0])
    if rank == 0:
        _fail(node, "data must have rank >= 1")
    axis = _axis(node, node.attr("axis", 0), rank)
    indices = _get(consts, 1)
    if indices is not None and indices.dtype.kind not in "iu":
        _fail(node, f"indices must be an integer tensor, got {indices.dtype}")
    if indices is not None and indices.size:
        dim = shapes[0][axis]
        low, high = int(indices.min()), int(indices.max())
        if low < -dim or high >= dim:
            bad = low if low < -dim else high
            _fail(node, f"index {bad} is out of range for axis {axis} of size {dim}")


@check("Concat")
def _concat(node, shapes, consts, opset):
    present = [s for s in shapes if s is not None]
    if not present:
        return
    rank = len(present[0])
    if any(len(s) != rank for s in present):
        _fail(node, f"inputs have different ranks: {', '.join(str(list(s)) for s in present)}")
    if rank == 0:
        _fail(node, "cannot concatenate scalars")
    axis = _axis(node, node.attr("axis", 0), rank)
    for s in present[1:]:
        if any(a != b for i, (a, b) in enumerate(zip(s, present[0])) if i != axis):
            _fail(node, f"input shapes {', '.join(str(list(s)) for s in present)} differ outside axis {axis}")


@check("Split")
def _split(node, shapes, consts, opset):
    if shapes[0] is None:
        return
    rank = len(shapes[0])
    if rank == 0:
        _fail(node, "cannot split a scalar")
    axis = _axis(node, node.attr("axis", 0), rank)
    if opset >= 13:
        sizes = _get(consts, 1)
        if _get(shapes, 1) is not None and sizes is None:
            return  # sizes computed at run time
    else:
        sizes = node.attr("split")
    if sizes is None or np.asarray(sizes).size == 0:
        return
    sizes = _ints(node, sizes, "split sizes")
    dim = shapes[0][axis]
    if any(s < 0 for s in sizes) or sum(sizes) != dim:
        _fail(node, f"split sizes {sizes} do not add up to the {dim} elements of axis {axis}")
    wanted = len(node.outputs)
    if len(sizes) != wanted:
        _fail(node, f"{len(sizes)} split sizes for {wanted} outputs")


@check("Squeeze")
def _squeeze(node, shapes, consts, opset):
    if shapes[0] is None:
        return
    axes = _axes(node, shapes, consts, 1)
    for a in axes or ():
        a = _axis(node, a, len(shapes[0]), "axes entry")
        if shapes[0][a] != 1:
            _fail(node, f"cannot squeeze axis {a} of size {shapes[0][a]} (input shape {list(shapes[0])})")


@check("Unsqueeze")
def _unsqueeze(node, shapes, consts, opset):
    if shapes[0] is None:
        return
    axes = _axes(node, shapes, consts, 1)
    if axes is None:
        if _get(shapes, 1) is not None:  # axes computed at run time
            return
        _fail(node, "needs 'axes'")
    rank = len(shapes[0]) + len(axes)
    normalised = [_axis(node, a, rank, "axes entry") for a in axes]
    if len(set(normalised)) != len(normalised):
        _fail(node, f"axes {axes} repeat an axis")


@check("ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
       "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare")
def _reduce(node, shapes, consts, opset):
    if shapes[0] is None:
        return
    axes = _axes(node, shapes, consts, 1)
    rank = max(len(shapes[0]), 1)
    normalised = [_axis(node, a, rank, "axes entry") for a in axes or ()]
    if len(set(normalised)) != len(normalised):
        _fail(node, f"axes {axes} repeat an axis")


@check("Transpose")
def _transpose(node, shapes, consts, opset):
    perm = node.attr("perm")
    if shapes[0] is None or perm is None:
        return
    if sorted(int(p) for p in perm) != list(range(len(shapes[0]))):
        _fail(node, f"perm {list(perm)} is not a permutation of the {len(shapes[0])} axes")


# ------------------------------------------------------------------ windows


@check("Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool")
def _window(node, shapes, consts, opset):
    """Per-axis attributes as long as the input's spatial rank, channel counts that fit the weights,
    and a positive output size (ConvTranspose: output_shape no larger than the full transposed conv)."""
    x = shapes[0]
    if x is None:
        return
    if len(x) < 3:
        _fail(node, f"input must have rank >= 3 (N, C, spatial...), got {list(x)}")
    spatial = len(x) - 2
    w = _get(shapes, 1) if node.op_type in ("Conv", "ConvTranspose") else None
    kernel = node.attr("kernel_shape")
    if kernel is None and w is not None:
        kernel = w[2:]
    for key, per_axis in (("kernel_shape", 1), ("strides", 1), ("dilations", 1), ("pads", 2),
                          ("output_padding", 1), ("output_shape", 1)):
        values = node.attr(key)
        if values is not None and len(values) != per_axis * spatial:
            _fail(node, f"'{key}' has {len(values)} values, a {spatial}-D input needs {per_axis * spatial}")
    if kernel is None:
        return  # the importer requires kernel_shape on pools; a dynamic weight is checked at run time
    group = int(node.attr("group", 1))
    if w is not None:
        if len(w) != len(x) or tuple(w[2:]) != tuple(kernel):
            _fail(node, f"weights of shape {list(w)} do not match a rank-{len(x)} input and kernel {list(kernel)}")
        c_in = w[1] * group if node.op_type == "Conv" else w[0]
        if c_in != x[1] or w[0] % group:
            _fail(node, f"weights {list(w)} with group={group} do not fit {x[1]} input channels")
    strides = node.attr("strides") or [1] * spatial
    dilations = node.attr("dilations") or [1] * spatial
    pads = node.attr("pads") or [0] * (2 * spatial)
    extent = [(k - 1) * d + 1 for k, d in zip(kernel, dilations)]
    auto_pad = node.attr("auto_pad", "NOTSET")
    if node.op_type == "ConvTranspose":
        out_pad = node.attr("output_padding") or [0] * spatial
        full = [s * (i - 1) + o + e for s, i, o, e in zip(strides, x[2:], out_pad, extent)]
        target = node.attr("output_shape")
        if target is None and auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            target = [i * s for i, s in zip(x[2:], strides)]
        if target is not None:
            # The padding follows from the requested size, split as the lowering does; a negative
            # leading pad would make the output start before the input.
            for t, f in zip(target, full):
                total = f - t
                begin = total // 2 if auto_pad == "SAME_UPPER" else total - total // 2
                if t <= 0 or begin < 0:
                    _fail(node, f"output size {list(target)} does not fit the transposed convolution's "
                                f"full output {full}")
        else:
            out = [f - pads[i] - pads[i + spatial] for i, f in enumerate(full)]
            if min(out) <= 0:
                _fail(node, f"pads {list(pads)} leave an empty output ({out})")
    elif auto_pad == "NOTSET":
        spans = [i + pads[a] + pads[a + spatial] - e for a, (i, e) in enumerate(zip(x[2:], extent))]
        if min(spans) < 0:
            _fail(node, f"the {list(extent)} window is larger than the padded input {list(x[2:])}")
        channels = w[0] if w is not None else x[1]
        _check_size(node, [x[0], channels] + [sp // st + 1 for sp, st in zip(spans, strides)])


@check("Resize", "Upsample")
def _resize(node, shapes, consts, opset):
    """Positive scales / non-negative sizes, and an output that fits in memory (a fuzzed 1e6 scale
    otherwise allocates, or loops over, terabytes)."""
    x = shapes[0]
    if x is None:
        return
    if opset < 11:
        scales = _get(consts, 1) if len(shapes) > 1 else node.attr("scales")
        sizes = None
    else:
        scales, sizes = _get(consts, 2), _get(consts, 3)
        if _get(shapes, 3) is not None and sizes is None or _get(shapes, 2) is not None and scales is None:
            return  # computed at run time: the reference checks them
    if sizes is not None and np.asarray(sizes).size:
        sizes = _ints(node, sizes, "sizes")
        if any(s < 0 for s in sizes):
            _fail(node, f"sizes {sizes} must not be negative")
        if node.attr("axes") is None and len(sizes) == len(x):
            _check_size(node, sizes)
        return
    if scales is None or np.asarray(scales).size == 0:
        return
    scales = np.asarray(scales, np.float64).reshape(-1)
    if not np.all(np.isfinite(scales)) or np.any(scales <= 0):
        _fail(node, f"scales {scales.tolist()} must be positive")
    if node.attr("axes") is None and len(scales) == len(x):
        _check_size(node, [int(math.floor(d * s)) for d, s in zip(x, scales)])


# ------------------------------------------------------------------ shapes


@check("Reshape")
def _reshape(node, shapes, consts, opset):
    x = shapes[0]
    target = _get(consts, 1) if opset >= 5 else node.attr("shape")
    if x is None or target is None:
        return
    target = np.asarray(target)
    if target.ndim != 1:
        _fail(node, f"the shape input must be 1-D, got a rank-{target.ndim} tensor")
    target = _ints(node, target, "shape")
    allowzero = node.attr("allowzero", 0)
    if any(s < -1 for s in target) or target.count(-1) > 1:
        _fail(node, f"shape {target}: entries must be >= -1, with at most one -1")
    if allowzero and 0 in target and -1 in target:
        _fail(node, f"shape {target}: -1 with allowzero=1 and a 0 entry is ambiguous")
    resolved = []
    for i, s in enumerate(target):
        if s == 0 and not allowzero:
            if i >= len(x):
                _fail(node, f"shape {target}: entry {i} copies a dimension the rank-{len(x)} input does not have")
            s = x[i]
        resolved.append(s)
    total = math.prod(x)
    known = math.prod(s for s in resolved if s != -1)
    if -1 in resolved:
        if known == 0 or total % known:
            _fail(node, f"cannot reshape {list(x)} ({total} elements) to {target}")
    elif known != total:
        _fail(node, f"cannot reshape {list(x)} ({total} elements) to {target}")


@check("Expand")
def _expand(node, shapes, consts, opset):
    target = _get(consts, 1)
    if shapes[0] is None or target is None:
        return
    target = np.asarray(target)
    if target.ndim != 1:
        _fail(node, f"the shape input must be 1-D, got a rank-{target.ndim} tensor")
    target = tuple(_ints(node, target, "shape"))
    if any(s < 0 for s in target):
        _fail(node, f"shape {list(target)} has a negative dimension")
    _check_size(node, _broadcast(node, [shapes[0], target], "input and shape"))


@check("Tile")
def _tile(node, shapes, consts, opset):
    repeats = _get(consts, 1)
    if shapes[0] is None or repeats is None:
        return
    repeats = _ints(node, repeats, "repeats")
    if len(repeats) != len(shapes[0]):
        _fail(node, f"{len(repeats)} repeats for a rank-{len(shapes[0])} input")
    if any(r < 0 for r in repeats):
        _fail(node, f"repeats {repeats} must not be negative")
    _check_size(node, [d * r for d, r in zip(shapes[0], repeats)])


@check("ConstantOfShape")
def _constant_of_shape(node, shapes, consts, opset):
    target = _get(consts, 0)
    if target is None:
        return
    target = np.asarray(target)
    if target.ndim != 1:
        _fail(node, f"the shape input must be 1-D, got a rank-{target.ndim} tensor")
    value = node.attr("value")
    _check_size(node, _ints(node, target, "shape"), 4 if value is None else np.asarray(value).dtype.itemsize)


@check("Range")
def _range(node, shapes, consts, opset):
    if any(_get(consts, i) is None for i in range(3)):
        return
    start, limit, delta = (np.asarray(consts[i]) for i in range(3))
    if any(v.size != 1 for v in (start, limit, delta)):
        _fail(node, "start, limit and delta must be scalars")
    start, limit, delta = (float(v.reshape(-1)[0]) for v in (start, limit, delta))
    if not all(math.isfinite(v) for v in (start, limit, delta)):
        _fail(node, f"start {start}, limit {limit}, delta {delta} must be finite")
    if delta == 0:
        _fail(node, "delta must not be 0")
    count = max(math.ceil((limit - start) / delta), 0)
    _check_size(node, [count], np.asarray(consts[0]).dtype.itemsize)


@check("Cast", "CastLike")
def _cast(node, shapes, consts, opset):
    if node.op_type != "Cast":
        return
    import onnx

    to = node.attr("to")
    try:
        dtype = onnx.helper.tensor_dtype_to_np_dtype(int(to))
    except (KeyError, TypeError, ValueError):
        _fail(node, f"'to': {to} is not an ONNX element type")
    if dtype.kind not in "biufc":
        raise UnsupportedOperatorError(node.op_type, node.name, f"casting to {onnx.TensorProto.DataType.Name(int(to))}")


_BROADCASTING = ("Add", "Sub", "Mul", "Div", "Pow", "Mod", "Max", "Min", "Sum", "Mean", "Where",
                 "Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "And", "Or", "Xor",
                 "BitShift", "BitwiseAnd", "BitwiseOr", "BitwiseXor")


@check(*_BROADCASTING)
def _elementwise(node, shapes, consts, opset):
    _check_size(node, _broadcast(node, shapes), 1)


@check("Clip")
def _clip(node, shapes, consts, opset):
    for name, s in zip(("min", "max"), shapes[1:3]):
        if s is not None and math.prod(s) != 1:
            _fail(node, f"{name} of shape {list(s)} must be a scalar")


@check("MatMul", "MatMulInteger")
def _matmul(node, shapes, consts, opset):
    a, b = _get(shapes, 0), _get(shapes, 1)
    if a is None or b is None:
        return
    if not a or not b:
        _fail(node, "inputs must have rank >= 1")
    k_a = a[-1]
    k_b = b[0] if len(b) == 1 else b[-2]
    if k_a != k_b:
        _fail(node, f"inner dimensions differ: {list(a)} x {list(b)}")
    if len(a) > 2 or len(b) > 2:
        _broadcast(node, [a[:-2], b[:-2]], "batch dimensions")


@check("Gemm")
def _gemm(node, shapes, consts, opset):
    a, b = _get(shapes, 0), _get(shapes, 1)
    if a is None or b is None:
        return
    if len(a) != 2 or len(b) != 2:
        _fail(node, f"A and B must be 2-D, got {list(a)} and {list(b)}")
    m, k = a[::-1] if node.attr("transA", 0) else a
    k_b, n = b[::-1] if node.attr("transB", 0) else b
    if k != k_b:
        _fail(node, f"inner dimensions differ: A {list(a)} x B {list(b)} (transA={node.attr('transA', 0)}, "
                    f"transB={node.attr('transB', 0)})")
    c = _get(shapes, 2)
    if c is not None and _broadcast(node, [c, (m, n)], "C and A x B") != (m, n):
        _fail(node, f"C of shape {list(c)} does not broadcast to [{m}, {n}]")


@check("BatchNormalization")
def _batchnorm(node, shapes, consts, opset):
    x = shapes[0]
    if x is None:
        return
    if len(x) < 2:
        _fail(node, f"input must have rank >= 2, got {list(x)}")
    for name, s in zip(("scale", "B", "input_mean", "input_var"), shapes[1:5]):
        if s is not None and (len(s) != 1 or s[0] != x[1]):
            _fail(node, f"{name} of shape {list(s)} must be [{x[1]}], one value per channel")
