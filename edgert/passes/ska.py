"""Recognise SKA written in standard ONNX ops and run it as the `ai.edgert` SKA operator.

`edgert convert --portable` (and any exporter following the same recipe) writes LSNet's SKA as
k*k shifted windows of the zero-padded input, each times one kernel tap, summed:

    Pad(X, [0,0,p,p,0,0,p,p]) -> Reshape [0, R, G, H+2p, W+2p] -> k*k x Slice(axes 3,4; (i,j)..(i+H,j+W))
    Reshape(Wt, [0, G, k*k, H, W]) -> Transpose [0,2,1,3,4] -> Split(axis 1, k*k x 1)
    Sum over taps of Mul(window(i,j), tap(i*k+j)) -> Reshape [0, R*G, H, W]

onnxruntime needs that form; edgert runs the whole chain as one native kernel (one read of X and
Wt instead of k*k window copies, products and a k*k-input sum). Every constant of the pattern is
checked; anything else is left alone. The fp32 pattern only: a QDQ-quantized chain is already
folded into quantized ops when this runs.
"""
from __future__ import annotations

import math

from edgert.ir import Graph, Node
from edgert.ops import ska as ska_spec


def _is(node: Node | None, op_type: str) -> bool:
    return node is not None and node.domain == "" and node.op_type == op_type


def _ints(graph: Graph, name: str) -> list[int] | None:
    value = graph.constants.get(name) if name else None
    if value is None or value.dtype.kind not in "iu":
        return None
    return [int(v) for v in value.reshape(-1)]


class _Matcher:
    def __init__(self, graph: Graph):
        self.graph = graph
        self.users = graph.consumers()
        self.producers = graph.producers()

    def only_reader(self, name: str) -> Node | None:
        readers = self.users.get(name, [])
        return readers[0] if len(readers) == 1 and name not in self.graph.output_names else None

    def internal(self, name: str, readers: int) -> bool:
        """`name` is read by exactly `readers` nodes (all inside the pattern) and is no graph output."""
        return len(self.users.get(name, [])) == readers and name not in self.graph.output_names

    def window(self, mul: Node, k: int):
        """(Slice node, (i, j), its ends, tap tensor) of one Mul(window, tap), or None."""
        for window_name, tap_name in ((mul.inputs[0], mul.inputs[1]), (mul.inputs[1], mul.inputs[0])):
            window = self.producers.get(window_name)
            if not _is(window, "Slice") or len(window.inputs) < 4 or not self.internal(window_name, 1):
                continue
            starts, ends, axes = (_ints(self.graph, n) for n in window.inputs[1:4])
            steps = _ints(self.graph, window.inputs[4]) if len(window.inputs) > 4 and window.inputs[4] else [1, 1]
            if axes not in ([3, 4], [-2, -1]) or steps != [1, 1] or starts is None or ends is None:
                continue
            if len(starts) != 2 or len(ends) != 2 or not all(0 <= s < k for s in starts):
                continue
            return window, tuple(starts), tuple(ends), tap_name
        return None

    def padded_source(self, reshaped: str, k: int, p: int, h: int, w: int):
        """X of Reshape(Pad(X)) [0, R, G, H+2p, W+2p], with (R, G), or None."""
        reshape = self.producers.get(reshaped)
        shape = _ints(self.graph, reshape.inputs[1]) if _is(reshape, "Reshape") and len(reshape.inputs) > 1 else None
        if shape is None or len(shape) != 5 or shape[0] != 0 or shape[3:] != [h + 2 * p, w + 2 * p]:
            return None
        if reshape.attr("allowzero", 0) or min(shape[1:3]) < 1 or not self.internal(reshape.inputs[0], 1):
            return None
        pad = self.producers.get(reshape.inputs[0])
        if not _is(pad, "Pad") or pad.attr("mode", "constant") != "constant" or len(pad.inputs) < 2:
            return None
        if _ints(self.graph, pad.inputs[1]) != [0, 0, p, p, 0, 0, p, p]:
            return None
        if len(pad.inputs) > 2 and pad.inputs[2]:
            fill = self.graph.constants.get(pad.inputs[2])
            if fill is None or fill.size != 1 or float(fill.reshape(-1)[0]) != 0.0:
                return None
        if len(pad.inputs) > 3 and pad.inputs[3]:
            return None
        return pad.inputs[0], shape[1], shape[2], [pad, reshape]

    def kernel_source(self, taps: list[str], groups: int, k: int, h: int, w: int):
        """Wt of Split(Transpose(Reshape(Wt, [0, G, k*k, H, W]), [0,2,1,3,4])), taps in order, or None."""
        split = self.producers.get(taps[0])
        if not _is(split, "Split") or split.outputs != taps or split.attr("axis", 0) != 1:
            return None
        sizes = _ints(self.graph, split.inputs[1]) if len(split.inputs) > 1 and split.inputs[1] else None
        if sizes is not None and sizes != [1] * (k * k):
            return None
        if sizes is None and split.attr("split") not in (None, [1] * (k * k)):
            return None
        transpose = self.producers.get(split.inputs[0])
        if not _is(transpose, "Transpose") or list(transpose.attr("perm", [])) != [0, 2, 1, 3, 4]:
            return None
        reshape = self.producers.get(transpose.inputs[0])
        shape = _ints(self.graph, reshape.inputs[1]) if _is(reshape, "Reshape") and len(reshape.inputs) > 1 else None
        if shape != [0, groups, k * k, h, w] or reshape.attr("allowzero", 0):
            return None
        if not (self.internal(split.inputs[0], 1) and self.internal(transpose.inputs[0], 1)):
            return None
        return reshape.inputs[0], [reshape, transpose, split]

    def match(self, total: Node):
        """The pattern ending in Sum `total`: (x, w, k, nodes to drop, final Reshape), or None."""
        k = math.isqrt(len(total.inputs))
        if k * k != len(total.inputs) or k % 2 == 0 or k < 3:
            return None
        p = (k - 1) // 2
        final = self.only_reader(total.outputs[0])
        if not _is(final, "Reshape") or final.attr("allowzero", 0):
            return None
        out_shape = _ints(self.graph, final.inputs[1]) if len(final.inputs) > 1 else None
        if out_shape is None or len(out_shape) != 4 or out_shape[0] != 0 or min(out_shape[1:]) < 1:
            return None
        channels, h, w = out_shape[1:]
        padded, taps, chain = None, [None] * (k * k), []
        for term in total.inputs:
            mul = self.producers.get(term)
            if not _is(mul, "Mul") or not self.internal(term, 1):
                return None
            found = self.window(mul, k)
            if found is None:
                return None
            window, (i, j), ends, tap = found
            source = window.inputs[0]
            if ends != (i + h, j + w) or (padded is not None and source != padded) or taps[i * k + j] is not None:
                return None
            padded, taps[i * k + j] = source, tap
            chain += [window, mul]
        if not self.internal(padded, k * k) or any(not self.internal(t, 1) for t in taps):
            return None
        pad_part = self.padded_source(padded, k, p, h, w)
        if pad_part is None:
            return None
        x, rows, groups, pad_nodes = pad_part
        if rows * groups != channels:
            return None
        kernel_part = self.kernel_source(taps, groups, k, h, w)
        if kernel_part is None:
            return None
        weights, kernel_nodes = kernel_part
        return x, weights, k, pad_nodes + kernel_nodes + chain + [total], final


def fuse_portable_ska(graph: Graph) -> None:
    """Every portable SKA chain becomes one `ai.edgert` SKA node in the final Reshape's place."""
    matcher = _Matcher(graph)
    removed = set()
    for node in graph.nodes:
        if not _is(node, "Sum") or id(node) in removed:
            continue
        found = matcher.match(node)
        if found is None:
            continue
        x, weights, k, dropped, final = found
        removed.update(id(n) for n in dropped)
        final.op_type, final.domain = ska_spec.OP_TYPE, ska_spec.DOMAIN
        final.inputs, final.attrs = [x, weights], {"kernel_size": k}
        final.name = f"{final.name}:ska"
    if removed:
        graph.nodes = [n for n in graph.nodes if id(n) not in removed]

