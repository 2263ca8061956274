"""Native lowerings of the sequence-model operators: RMSNormalization (last axis, 1-D scale),
CausalConvWithState and LinearAttention (opset 27) on the f32-seq kernels (edgert._ops._seq).

Each checks its node once at plan time by running the numpy reference on zeros (which raises
OperatorArgumentError naming the node for bad shapes or attributes and gives the output shapes),
then runs edgert.ops.sequence's ONNX-layout wrappers with native=True.  fp32 only; anything else
returns None and runs on the reference.
"""
from __future__ import annotations

import numpy as np

from edgert.ir import Node
from edgert.ops import sequence as seq
from edgert.runtime.lower import F32, lowering
from edgert.runtime.plan import Planner, StepSpec
from edgert.runtime.values import PLAIN


def _probe_shapes(node: Node, ins, fn):
    probe = [None if v is None else (v.const if v.is_const else np.zeros(v.shape, v.dtype)) for v in ins]
    return [r.shape for r in fn(probe)]


def _emit(p: Planner, node: Node, ins, fn):
    """fn(arrays) -> output arrays, for both the plan-time probe and the native run."""
    if any(v is not None and v.dtype != F32 for v in ins):
        return None
    ins = [None if v is None else p.as_layout(v, PLAIN) for v in ins]
    shapes = _probe_shapes(node, ins, lambda a: fn(a, False))
    outs = [p.new_value(name or f"{node.name}:unused{i}", s, F32) for i, (name, s) in
            enumerate(zip(list(node.outputs) + [""] * len(shapes), shapes))][:max(len(node.outputs), 1)]

    def build(views, ins=ins, outs=outs):
        args = [None if v is None else (v.const if v.is_const else views[v]) for v in ins]
        dests = [views[o] for o in outs]

        def run():
            for d, r in zip(dests, fn(args, True)):
                np.copyto(d.reshape(r.shape), r)

        return run

    runtime_ins = [v for v in ins if v is not None and not v.is_const]
    p.emit(StepSpec(node.op_type, node.name, runtime_ins, outs, build))
    return outs


def _arg(a, i):
    return a[i] if len(a) > i else None


@lowering("LinearAttention")
def lower_linear_attention(p: Planner, node: Node, ins):
    attrs = dict(q_num_heads=node.attr("q_num_heads"), kv_num_heads=node.attr("kv_num_heads"),
                 scale=float(node.attr("scale", 0.0)), update_rule=node.attr("update_rule", "gated_delta"),
                 node=node.name)
    return _emit(p, node, ins, lambda a, native: seq.onnx_linear_attention(
        a[0], a[1], a[2], _arg(a, 3), _arg(a, 4), _arg(a, 5), native=native, **attrs))


@lowering("CausalConvWithState")
def lower_causal_conv_with_state(p: Planner, node: Node, ins):
    activation = node.attr("activation", "none")
    return _emit(p, node, ins, lambda a, native: seq.onnx_causal_conv_with_state(
        a[0], a[1], _arg(a, 2), _arg(a, 3), activation, node=node.name, native=native))


@lowering("RMSNormalization")
def lower_rms_normalization(p: Planner, node: Node, ins):
    x, scale = ins[0], ins[1]
    axis, eps = int(node.attr("axis", -1)), float(node.attr("epsilon", 1e-5))
    if x is None or scale is None or not x.shape or axis not in (-1, len(x.shape) - 1):
        return None
    if tuple(scale.shape) not in ((x.shape[-1],), (1,) * (len(scale.shape) - 1) + (x.shape[-1],)):
        return None

    def fn(a, native):
        if not native:
            return [seq.onnx_rms_normalization(a[0], a[1], axis, eps, node=node.name)]
        xa = np.asarray(a[0], F32)
        return [seq.rms_norm(xa.reshape(-1, xa.shape[-1]), np.asarray(a[1], F32).reshape(-1), eps).reshape(xa.shape)]

    return _emit(p, node, ins, fn)
