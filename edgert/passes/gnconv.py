"""HorNet's gnConv written in standard ops (as torch.onnx exports edgert.zoo.hornet.GnConv) ->
one ai.edgert GnConv node, which runs as a single native operator (edgert/operators.h).

The exported form: proj_in (1x1 Conv, dim -> 2 dim) -> Split [d0, sum(dims)] -> depthwise KxK Conv
of the second part (HorNet's `* s` already folded into it by fold_scale_into_conv) -> Split
[dims] -> Mul(pwa, gate_0) -> {1x1 Conv pws_i -> Mul(., gate_(i+1))} x (order - 1) -> proj_out
(1x1 Conv, dim -> dim), dims[i] = dim / 2^(order-1-i). Every intermediate must have that one
reader, every weight be a float32 constant, and only proj_out may carry a fused clamp; anything
else stays as it is. EDGERT_GNCONV_FUSION=never keeps the separate steps (for comparisons)."""
from __future__ import annotations

import os

import numpy as np

from edgert.ir import Graph, Node
from edgert.passes.match import EDGERT_DOMAIN, const_value, is_depthwise, is_op, is_pointwise, single_consumer

MAX_ORDER = 8


def _split_sizes(graph: Graph, node: Node) -> list[int] | None:
    if not is_op(node, "Split") or node.attr("axis", 0) not in (1, -3):
        return None
    sizes = node.attr("split")
    if sizes is None and len(node.inputs) > 1:
        value = const_value(graph, node.inputs[1])
        sizes = None if value is None else value.reshape(-1).tolist()
    if sizes is None or len(sizes) != len(node.outputs):
        return None
    return [int(v) for v in sizes]


def _is_gate(node: Node | None, a: str, b: str) -> bool:
    return (node is not None and is_op(node, "Mul") and sorted(node.inputs) == sorted([a, b])
            and "edgert_clamp" not in node.attrs)


def _weights(graph: Graph, conv: Node) -> np.ndarray:
    """A conv's weights (is_pointwise / is_depthwise have checked they are constant)."""
    return const_value(graph, conv.inputs[1])


def _match(graph: Graph, proj_in: Node, users) -> tuple[list[Node], list[int], int] | None:
    """(the nodes of one gnConv starting at proj_in, in order [proj_in, split, dw, split2, mul0,
    (pw, mul) * (order - 1), proj_out]; its widths dims; its depthwise kernel size), or None."""
    if not is_pointwise(graph, proj_in) or "edgert_clamp" in proj_in.attrs:
        return None
    w_in = _weights(graph, proj_in)
    dim = w_in.shape[1]
    split = single_consumer(graph, proj_in.outputs[0], users)
    sizes = None if split is None else _split_sizes(graph, split)
    if sizes is None or len(sizes) != 2 or sum(sizes) != w_in.shape[0]:
        return None
    d0, gates = sizes
    dw = single_consumer(graph, split.outputs[1], users)
    if dw is None or not is_depthwise(graph, dw) or "edgert_clamp" in dw.attrs or _weights(graph, dw).shape[0] != gates:
        return None
    k = _weights(graph, dw).shape[2]
    if (_weights(graph, dw).shape[3] != k or k % 2 == 0 or dw.attr("auto_pad", "NOTSET") != "NOTSET"
            or list(dw.attr("strides", [1, 1])) != [1, 1] or list(dw.attr("dilations", [1, 1])) != [1, 1]
            or list(dw.attr("pads", [0, 0, 0, 0])) != [k // 2] * 4):
        return None
    split2 = single_consumer(graph, dw.outputs[0], users)
    dims = None if split2 is None else _split_sizes(graph, split2)
    order = 0 if dims is None else len(dims)
    if (not 1 <= order <= MAX_ORDER or sum(dims) != gates or dims[0] != d0
            or any(dims[i] << (order - 1 - i) != dim for i in range(order))):
        return None
    mul = single_consumer(graph, split.outputs[0], users)
    if not _is_gate(mul, split.outputs[0], split2.outputs[0]) or single_consumer(graph, split2.outputs[0], users) is not mul:
        return None
    chain = [proj_in, split, dw, split2, mul]
    for i in range(order - 1):
        pw = single_consumer(graph, mul.outputs[0], users)
        if (pw is None or not is_pointwise(graph, pw) or "edgert_clamp" in pw.attrs
                or _weights(graph, pw).shape[:2] != (dims[i + 1], dims[i])):
            return None
        mul = single_consumer(graph, pw.outputs[0], users)
        gate = split2.outputs[i + 1]
        if not _is_gate(mul, pw.outputs[0], gate) or single_consumer(graph, gate, users) is not mul:
            return None
        chain += [pw, mul]
    proj_out = single_consumer(graph, mul.outputs[0], users)
    if proj_out is None or not is_pointwise(graph, proj_out) or _weights(graph, proj_out).shape[:2] != (dim, dim):
        return None
    return chain + [proj_out], dims, k


def fuse_gnconv(graph: Graph) -> None:
    """Rewrites every gnConv found (see the module docstring) into one GnConv node with inputs
    [x, proj_in W, b, dw W, b, pws_0 W, b, ..., proj_out W, b] (absent biases as "") and
    attributes dims, kernel_size and proj_out's clamp."""
    if os.environ.get("EDGERT_GNCONV_FUSION", "auto") == "never":
        return
    users = graph.consumers()
    removed = set()
    for node in list(graph.nodes):
        if id(node) in removed:
            continue
        found = _match(graph, node, users)
        if found is None:
            continue
        chain, dims, k = found
        proj_in, dw, proj_out = chain[0], chain[2], chain[-1]
        convs = [proj_in, dw] + chain[5:-1:2] + [proj_out]

        def wb(conv):
            return [conv.inputs[1], conv.inputs[2] if len(conv.inputs) > 2 else ""]

        attrs = {"dims": dims, "kernel_size": int(k)}
        if "edgert_clamp" in proj_out.attrs:
            attrs["edgert_clamp"] = proj_out.attrs["edgert_clamp"]
        fused = Node("GnConv", proj_in.name, [proj_in.inputs[0]] + [n for c in convs for n in wb(c)],
                     list(proj_out.outputs), attrs, domain=EDGERT_DOMAIN)
        graph.nodes[graph.nodes.index(proj_in)] = fused
        removed.update(id(n) for n in chain)
    graph.nodes = [n for n in graph.nodes if id(n) not in removed]
