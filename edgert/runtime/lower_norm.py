"""Native lowerings of row reductions on the f32-rownorm kernels: InstanceNormalization (one row
per (n, c) pair, constant scale and bias) and Softmax over a contiguous axis (the last axis of a
plain tensor, the channels of an NHWC one, or opset < 13's flattened trailing axes). fp32 only;
anything else returns None and runs on the reference.
"""
from __future__ import annotations

import math

import numpy as np

from edgert._ops import _kernels as K
from edgert.ir import Node
from edgert.runtime.lower import F32, _is_f32_runtime, lowering
from edgert.runtime.plan import Planner, StepSpec
from edgert.runtime.values import NHWC, PLAIN


def _emit_rownorm(p: Planner, node: Node, x, layout: str, rows: int, n: int, label: str, **kwargs):
    x = p.as_layout(x, layout)
    y = p.new_value(node.outputs[0], x.shape, F32, layout)

    def build(views):
        return K.RowNorm(p.pool, label, views[x], views[y], rows, n, **kwargs)

    p.emit(StepSpec(f"{node.op_type}[{label}]", node.name, [x], [y], build))
    return [y]


@lowering("InstanceNormalization")
def lower_instance_normalization(p: Planner, node: Node, ins):
    x, scale, bias = (ins + [None, None])[:3]
    if not _is_f32_runtime(x) or len(x.shape) < 3 or scale is None or bias is None:
        return None
    if not (scale.is_const and bias.is_const):
        return None
    batch, channels = x.shape[:2]
    per_channel = [np.asarray(v.const, F32).reshape(-1) for v in (scale, bias)]
    if any(v.size != channels for v in per_channel):
        return None  # the reference reports the mismatch
    rows = batch * channels
    scale_rows, bias_rows = (np.ascontiguousarray(np.tile(v, batch)) for v in per_channel)
    return _emit_rownorm(p, node, x, PLAIN, rows, math.prod(x.shape[2:]), "instnorm",
                         scale=scale_rows, bias=bias_rows, eps=float(node.attr("epsilon", 1e-5)))


@lowering("Softmax")
def lower_softmax(p: Planner, node: Node, ins):
    x = ins[0]
    if not _is_f32_runtime(x) or not x.shape:
        return None
    rank = len(x.shape)
    if p.opset < 13:  # softmax over the flattened axes [axis, rank)
        axis = node.attr("axis", 1) % rank
        n = math.prod(x.shape[axis:])
        return _emit_rownorm(p, node, x, PLAIN, math.prod(x.shape) // max(n, 1), n, "softmax")
    axis = node.attr("axis", -1) % rank
    if rank == 4 and axis == 1 and x.layout == NHWC:  # channels are the contiguous axis
        return _emit_rownorm(p, node, x, NHWC, math.prod(x.shape) // max(x.shape[1], 1), x.shape[1], "softmax")
    if axis != rank - 1:
        return None
    return _emit_rownorm(p, node, x, PLAIN, math.prod(x.shape[:-1]), x.shape[-1], "softmax")
