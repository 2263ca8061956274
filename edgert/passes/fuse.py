"""Load-time rewrites: 1-D convs as 2-D, BatchNorm and constant scales folded into Conv,
x*sigmoid(x) -> Swish, x*HardSigmoid(x) -> HardSwish, SKA written in standard ops -> the SKA
operator (passes/ska.py), MatMul+Add -> MatMul with bias, Relu/Relu6/Clip fused into the
producer as an output clamp (attribute `edgert_clamp`), HorNet's gnConv -> one GnConv operator
(passes/gnconv.py) and depthwise -> 1x1 -> DepthwisePointwise. Shape-dependent work (constant
folding of Shape chains, layouts) happens in the planner."""
from __future__ import annotations

import math

import numpy as np

from edgert.ir import Graph, Node
from edgert.passes.gnconv import fuse_gnconv
from edgert.passes.match import EDGERT_DOMAIN, const_value, is_depthwise, is_op, is_pointwise, single_consumer
from edgert.passes.quantize import clamp_bounds, fold_qdq
from edgert.passes.ska import fuse_portable_ska

# Producers whose native kernels apply an output clamp for free.
CLAMP_PRODUCERS = {"Conv", "ConvTranspose", "Gemm", "MatMul", "Add", "Sub", "Mul", "Div",
                   "MaxPool", "AveragePool", "BatchNormalization"}


def optimize(graph: Graph) -> Graph:
    conv1d_as_2d(graph)
    fold_batchnorm_into_conv(graph)
    fold_scale_into_conv(graph)
    fold_qdq(graph)  # before the float fusions: they would otherwise reach into QDQ groups
    fuse_portable_ska(graph)
    fuse_gating(graph)
    fuse_matmul_bias(graph)
    fuse_clamp(graph)
    fuse_gnconv(graph)  # before fuse_depthwise_pointwise, which would take its depthwise conv's reader
    fuse_depthwise_pointwise(graph)
    graph.remove_dead_nodes()
    return graph


def conv1d_as_2d(graph: Graph) -> None:
    """Conv/ConvTranspose/pools over [N, C, L] become 2-D ops over [N, C, 1, L]."""
    out: list[Node] = []
    for node in graph.nodes:
        weights = const_value(graph, node.inputs[1]) if is_op(node, "Conv", "ConvTranspose") and len(node.inputs) > 1 else None
        is_1d = (weights is not None and weights.ndim == 3) or (
            is_op(node, "MaxPool", "AveragePool") and len(node.attr("kernel_shape", [])) == 1)
        if not is_1d or len([o for o in node.outputs if o]) != 1:
            out.append(node)
            continue
        x2d, y2d, axes = f"{node.name}:x2d", f"{node.name}:y2d", f"{node.name}:axis2"
        graph.constants[axes] = np.array([2], np.int64)
        attrs = dict(node.attrs)
        for key, fill in (("kernel_shape", 1), ("strides", 1), ("dilations", 1), ("output_padding", 0)):
            if key in attrs:
                attrs[key] = [fill] + list(attrs[key])
        if "pads" in attrs:
            b, e = attrs["pads"]
            attrs["pads"] = [0, b, 0, e]
        if "output_shape" in attrs:
            attrs["output_shape"] = [1] + list(attrs["output_shape"][-1:])
        inputs = [x2d] + node.inputs[1:]
        if weights is not None:
            w2d = f"{node.inputs[1]}:2d"
            graph.constants[w2d] = weights[:, :, None, :]
            inputs[1] = w2d
        out.append(Node("Unsqueeze", f"{node.name}:unsqueeze", [node.inputs[0], axes], [x2d]))
        out.append(Node(node.op_type, node.name, inputs, [y2d], attrs))
        out.append(Node("Squeeze", f"{node.name}:squeeze", [y2d, axes], [node.outputs[0]]))
    graph.nodes = out


def fold_batchnorm_into_conv(graph: Graph) -> None:
    users = graph.consumers()
    removed = set()
    for node in graph.nodes:
        if not is_op(node, "Conv") or len(node.inputs) < 2:
            continue
        bn = single_consumer(graph, node.outputs[0], users)
        if (bn is None or not is_op(bn, "BatchNormalization") or bn.attr("training_mode", 0)
                or len([o for o in bn.outputs if o]) != 1):
            continue
        weights = const_value(graph, node.inputs[1])
        params = [const_value(graph, n) for n in bn.inputs[1:5]]
        if weights is None or any(p is None for p in params) or weights.dtype != np.float32:
            continue
        bias = const_value(graph, node.inputs[2]) if len(node.inputs) > 2 and node.inputs[2] else None
        scale, shift, mean, var = (np.asarray(p, np.float64) for p in params)
        mul = scale / np.sqrt(var + bn.attr("epsilon", 1e-5))
        w = (weights.astype(np.float64) * mul.reshape((-1,) + (1,) * (weights.ndim - 1))).astype(np.float32)
        b = ((0.0 if bias is None else bias.astype(np.float64)) - mean) * mul + shift
        w_name, b_name = f"{node.name}:w_bn", f"{node.name}:b_bn"
        graph.constants[w_name] = w
        graph.constants[b_name] = b.astype(np.float32)
        node.inputs = [node.inputs[0], w_name, b_name]
        node.outputs = [bn.outputs[0]]
        removed.add(id(bn))
    graph.nodes = [n for n in graph.nodes if id(n) not in removed]


def fold_scale_into_conv(graph: Graph) -> None:
    """Conv -> Mul by a constant scalar or per-output-channel factor ([C, 1, 1] / [1, C, 1, 1]) becomes
    the Conv with scaled weights and bias (e.g. HorNet's `dwconv(x) * s`)."""
    users = graph.consumers()
    removed = set()
    for node in graph.nodes:
        weights = const_value(graph, node.inputs[1]) if is_op(node, "Conv") and len(node.inputs) > 1 else None
        if weights is None or weights.dtype != np.float32:
            continue
        mul = single_consumer(graph, node.outputs[0], users)
        if mul is None or not is_op(mul, "Mul") or len(mul.inputs) != 2:
            continue
        factor = const_value(graph, mul.inputs[1] if mul.inputs[0] == node.outputs[0] else mul.inputs[0])
        # the factor must broadcast to one value per output channel without growing the conv's output
        channel_shape = (1, weights.shape[0]) + (1,) * (weights.ndim - 2)
        if factor is None or factor.dtype != np.float32 or factor.ndim > weights.ndim:
            continue
        try:
            if np.broadcast_shapes(factor.shape, channel_shape) != channel_shape:
                continue
        except ValueError:
            continue
        per_channel = np.broadcast_to(factor, channel_shape).reshape(-1)
        bias = const_value(graph, node.inputs[2]) if len(node.inputs) > 2 and node.inputs[2] else None
        if len(node.inputs) > 2 and node.inputs[2] and bias is None:
            continue
        w_name, b_name = f"{node.name}:w_scaled", f"{node.name}:b_scaled"
        graph.constants[w_name] = (weights * per_channel.reshape((-1,) + (1,) * (weights.ndim - 1))).astype(np.float32)
        graph.constants[b_name] = ((0.0 if bias is None else bias) * per_channel).astype(np.float32)
        node.inputs = [node.inputs[0], w_name, b_name]
        node.outputs = [mul.outputs[0]]
        removed.add(id(mul))
    graph.nodes = [n for n in graph.nodes if id(n) not in removed]


def _is_hardswish_gate(graph: Graph, node: Node) -> bool:
    return (is_op(node, "HardSigmoid") and math.isclose(node.attr("alpha", 0.2), 1 / 6, rel_tol=1e-5)
            and math.isclose(node.attr("beta", 0.5), 0.5, rel_tol=1e-6))


def fuse_gating(graph: Graph) -> None:
    """Mul(x, Sigmoid(x)) -> Swish(x); Mul(x, HardSigmoid(x; 1/6, 0.5)) -> HardSwish(x)."""
    users = graph.consumers()
    producers = graph.producers()
    removed = set()
    for node in graph.nodes:
        if not is_op(node, "Mul") or len(node.inputs) != 2:
            continue
        for gate_in, other in ((node.inputs[0], node.inputs[1]), (node.inputs[1], node.inputs[0])):
            gate = producers.get(gate_in)
            if gate is None or gate.inputs[0] != other or single_consumer(graph, gate_in, users) is not node:
                continue
            if is_op(gate, "Sigmoid"):
                fused = "Swish"
            elif _is_hardswish_gate(graph, gate):
                fused = "HardSwish"
            else:
                continue
            node.op_type, node.inputs, node.attrs = fused, [other], {}
            removed.add(id(gate))
            break
    graph.nodes = [n for n in graph.nodes if id(n) not in removed]


def fuse_matmul_bias(graph: Graph) -> None:
    users = graph.consumers()
    removed = set()
    for node in graph.nodes:
        if not is_op(node, "MatMul") or const_value(graph, node.inputs[1]) is None:
            continue
        weights = const_value(graph, node.inputs[1])
        add = single_consumer(graph, node.outputs[0], users)
        if weights.ndim != 2 or add is None or not is_op(add, "Add"):
            continue
        other = add.inputs[1] if add.inputs[0] == node.outputs[0] else add.inputs[0]
        bias = const_value(graph, other)
        if bias is None or bias.size != weights.shape[1] or bias.shape[-1] != weights.shape[1] or bias.dtype != np.float32:
            continue
        node.attrs["edgert_bias"] = bias.reshape(-1)
        node.outputs = [add.outputs[0]]
        removed.add(id(add))
    graph.nodes = [n for n in graph.nodes if id(n) not in removed]


def fuse_clamp(graph: Graph) -> None:
    users = graph.consumers()
    producers = graph.producers()
    removed = set()
    for node in graph.nodes:
        bounds = clamp_bounds(graph, node)
        if bounds is None:
            continue
        producer = producers.get(node.inputs[0])
        if (producer is None or not is_op(producer, *CLAMP_PRODUCERS) or id(producer) in removed
                or len([o for o in producer.outputs if o]) != 1
                or single_consumer(graph, node.inputs[0], users) is not node):
            continue
        lo, hi = producer.attr("edgert_clamp", (-math.inf, math.inf))
        producer.attrs["edgert_clamp"] = (max(lo, bounds[0]), min(hi, bounds[1]))
        producer.outputs = [node.outputs[0]]
        producers[node.outputs[0]] = producer
        removed.add(id(node))
    graph.nodes = [n for n in graph.nodes if id(n) not in removed]


def fuse_depthwise_pointwise(graph: Graph) -> None:
    """Depthwise conv -> 1x1 conv (MobileNet's dw -> project) becomes one ai.edgert node whose
    kernel keeps the depthwise output in cache instead of writing it out."""
    users = graph.consumers()
    removed = set()
    for node in graph.nodes:
        if not is_depthwise(graph, node) or id(node) in removed:
            continue
        pw = single_consumer(graph, node.outputs[0], users)
        if pw is None or not is_pointwise(graph, pw) or const_value(graph, pw.inputs[1]).shape[1] != const_value(graph, node.inputs[1]).shape[0]:
            continue
        dw_bias = node.inputs[2] if len(node.inputs) > 2 else ""
        pw_bias = pw.inputs[2] if len(pw.inputs) > 2 else ""
        attrs = {k: v for k, v in node.attrs.items() if k != "edgert_clamp"}
        attrs["dw_clamp"] = node.attr("edgert_clamp", (-math.inf, math.inf))
        if "edgert_clamp" in pw.attrs:
            attrs["edgert_clamp"] = pw.attrs["edgert_clamp"]
        node.op_type, node.domain = "DepthwisePointwise", EDGERT_DOMAIN
        node.inputs = [node.inputs[0], node.inputs[1], dw_bias, pw.inputs[1], pw_bias]
        node.outputs = list(pw.outputs)
        node.attrs = attrs
        removed.add(id(pw))
    graph.nodes = [n for n in graph.nodes if id(n) not in removed]
