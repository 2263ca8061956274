"""Data-movement lowerings: Slice, Split, Concat, constant Pad, general Transpose and nearest Resize as copies
between views fixed at plan time (any dtype, int8 tensors of quantized models included).

Their numpy references re-derive every index and allocate each result on every run, which costs more
than the copy itself on the small tensors of edge models (LSNet's portable SKA is 9 Slices, a Split and
a Pad per block). Here the planner works the indices out once; a run is one np.copyto per part (numpy's
strided copy loop). Inputs other than the data must be constants; otherwise the reference runs.
A rank-4 NHWC input keeps its layout: the views are taken in ONNX order over the physical buffer.
"""
from __future__ import annotations

import math

import numpy as np

from edgert.errors import OperatorArgumentError, UnsupportedOperatorError
from edgert.ir import Node
from edgert.ops.reference import (pad_geometry, resize_geometry, resize_nearest_indices, slice_index,
                                  split_bounds)
from edgert.runtime.lower import lowering
from edgert.runtime.plan import Planner, StepSpec
from edgert.runtime.values import NHWC, PLAIN, TO_NCHW, Value, logical


def _const_args(ins) -> list | None:
    """The data Value and the constant arrays of the other inputs, or None when one is a runtime tensor."""
    x = ins[0]
    if x is None or x.is_const or any(v is not None and not v.is_const for v in ins[1:]):
        return None
    return [None] + [None if v is None else v.const for v in ins[1:]]


def _geometry(node: Node, fn, *args):
    """fn(*args), numpy's refusals of the node's arguments (a zero Slice step, ...) named as the
    reference path names them."""
    try:
        return fn(*args)
    except (ValueError, IndexError, TypeError, OverflowError) as e:
        raise OperatorArgumentError(node.op_type, node.name, f"cannot evaluate: {e}") from None


def _indexed_shape(node: Node, shape, index) -> tuple:
    """The shape of a tensor of `shape` indexed by a tuple of slices (numpy's slice semantics, read off
    Python ranges: nothing is allocated)."""
    return _geometry(node, lambda: tuple(len(range(d)[s]) for d, s in zip(shape, index)) + tuple(shape[len(index):]))


def _layout_for(x: Value, rank: int) -> str:
    return NHWC if x.layout == NHWC and rank == 4 else PLAIN


def _emit_copies(p: Planner, node: Node, label: str, reads: list[Value], outs: list[Value], parts) -> None:
    """One step that copies parts(views) -> [(destination view, source view)] and fills constants."""
    def build(views):
        copies, fills = parts({v: logical(views[v], v) for v in reads + outs})
        def run():
            for dest, value in fills:
                dest.fill(value)
            for dest, src in copies:
                np.copyto(dest, src)
        return run

    p.emit(StepSpec(label, node.name, reads, outs, build))


@lowering("Slice")
def lower_slice(p: Planner, node: Node, ins):
    args = _const_args(ins)
    if args is None or not node.outputs[0]:
        return None
    x = ins[0]
    index = _geometry(node, slice_index, node, args, p.opset, x.shape)
    shape = _indexed_shape(node, x.shape, index)
    y = p.new_value(node.outputs[0], shape, x.dtype, _layout_for(x, len(shape)))
    _emit_copies(p, node, "Slice[copy]", [x], [y], lambda v: ([(v[y], v[x][index])], []))
    return [y]


@lowering("Split")
def lower_split(p: Planner, node: Node, ins):
    args = _const_args(ins)
    if args is None:
        return None
    x = ins[0]
    axis, bounds = _geometry(node, split_bounds, node, args, p.opset, x.shape)
    if len(bounds) - 1 < len([o for o in node.outputs if o]) or bounds[-1] != x.shape[axis]:
        return None                       # the reference reports the mismatch
    outs, index = [], []
    for i, name in enumerate(node.outputs):
        shape = list(x.shape)
        shape[axis] = bounds[i + 1] - bounds[i]
        outs.append(p.new_value(name or f"{node.name}:unused{i}", shape, x.dtype, _layout_for(x, len(shape))))
        index.append((slice(None),) * axis + (slice(bounds[i], bounds[i + 1]),))
    used = [(y, ix) for y, ix, name in zip(outs, index, node.outputs) if name]
    _emit_copies(p, node, "Split[copy]", [x], outs, lambda v: ([(v[y], v[x][ix]) for y, ix in used], []))
    return outs


@lowering("Concat")
def lower_concat(p: Planner, node: Node, ins):
    parts = [v for v in ins if v is not None]
    if not parts or any(v.is_const for v in parts) or len({v.dtype for v in parts}) != 1:
        return None
    rank = len(parts[0].shape)
    axis = node.attr("axis") % rank
    if any(len(v.shape) != rank or any(a != b for i, (a, b) in enumerate(zip(v.shape, parts[0].shape)) if i != axis)
           for v in parts):
        return None                       # the reference reports the mismatch
    shape = list(parts[0].shape)
    shape[axis] = sum(v.shape[axis] for v in parts)
    layout = NHWC if rank == 4 and all(v.layout == NHWC for v in parts) else PLAIN
    y = p.new_value(node.outputs[0], shape, parts[0].dtype, layout)
    starts = np.cumsum([0] + [v.shape[axis] for v in parts])
    index = [(slice(None),) * axis + (slice(a, b),) for a, b in zip(starts[:-1], starts[1:])]
    _emit_copies(p, node, "Concat[copy]", parts, [y],
                 lambda v: ([(v[y][ix], v[x]) for x, ix in zip(parts, index)], []))
    return [y]


@lowering("Pad")
def lower_pad(p: Planner, node: Node, ins):
    args = _const_args(ins)
    if args is None:
        return None
    x = ins[0]
    crop, width, mode, value = _geometry(node, pad_geometry, node, args, p.opset, x.shape)
    if mode != "constant":
        return None
    source_shape = _indexed_shape(node, x.shape, crop)
    shape = [d + b + e for d, (b, e) in zip(source_shape, width)]
    y = p.new_value(node.outputs[0], shape, x.dtype, _layout_for(x, len(shape)))
    inner = tuple(slice(b, b + d) for d, (b, _) in zip(source_shape, width))
    # The border, as slabs: axis a's before/after bands over the full extent of later axes and the
    # inner extent of earlier ones, so each padded element is written once.
    slabs = []
    for a, (b, e) in enumerate(width):
        head = inner[:a]
        for band in ((slice(0, b),) if b else ()) + ((slice(shape[a] - e, shape[a]),) if e else ()):
            slabs.append(head + (band,))
    fill = np.asarray(value).astype(x.dtype)
    _emit_copies(p, node, "Pad[copy]", [x], [y],
                 lambda v: ([(v[y][inner], v[x][crop])], [(v[y][s], fill) for s in slabs]))
    return [y]


@lowering("Transpose")
def lower_transpose(p: Planner, node: Node, ins):
    """Any permutation (layout-only transposes are free: see lower.lower_layout_transpose, tried first)."""
    x = ins[0]
    if x is None or x.is_const or not node.outputs[0]:
        return None
    perm = tuple(int(a) for a in node.attr("perm", range(len(x.shape) - 1, -1, -1)))
    if sorted(perm) != list(range(len(x.shape))):
        return None                       # the reference reports the bad permutation
    shape = [x.shape[a] for a in perm]
    y = p.new_value(node.outputs[0], shape, x.dtype)
    _emit_copies(p, node, "Transpose[copy]", [x], [y], lambda v: ([(v[y], v[x].transpose(perm))], []))
    return [y]


@lowering("Resize", "Upsample")
def lower_resize_nearest(p: Planner, node: Node, ins):
    """Nearest Resize as one gather (np.take into the output view) per resized axis, source indices
    worked out once; linear modes and anything unusual run on the reference."""
    args = _const_args(ins)
    if args is None or not node.outputs[0]:
        return None
    x = ins[0]
    try:
        mode, ctm, nearest_mode, scales, sizes = _geometry(node, resize_geometry, node, args, p.opset, x.shape)
    except UnsupportedOperatorError:
        return None                       # the reference reports it where it runs
    if mode != "nearest" or len(sizes) != len(x.shape) or math.prod(sizes) == 0:
        return None
    gathers = resize_nearest_indices(ctm, nearest_mode, scales, sizes, x.shape)
    layout = _layout_for(x, len(sizes))
    y = p.new_value(node.outputs[0], sizes, x.dtype, layout)
    # Gathers run on the physical buffers (contiguous outputs: no buffering in np.take), so an NHWC
    # tensor's logical axis a is physical axis TO_NCHW[a]. Shrinking axes first; each gather but the
    # last writes a scratch array owned by the step.
    physical = (lambda a: TO_NCHW[a]) if layout == NHWC else (lambda a: a)
    order = sorted(gathers, key=lambda a: sizes[a] / max(x.shape[a], 1))
    shapes, shape = [], list(x.physical_shape)  # layout is x's own
    for axis in order:
        shape[physical(axis)] = sizes[axis]
        shapes.append(tuple(shape))

    def build(views):
        src, dest = views[x], views[y]
        outs = [np.empty(s, x.dtype) for s in shapes[:-1]] + [dest]
        steps = [(a, physical(axis), gathers[axis], out) for a, axis, out in zip([src] + outs[:-1], order, outs)]

        def run():
            if not steps:
                np.copyto(dest, src)
            for a, axis, index, out in steps:
                np.take(a, index, axis=axis, out=out, mode="clip")

        return run

    p.emit(StepSpec("Resize[nearest]", node.name, [x], [y], build))
    return [y]
