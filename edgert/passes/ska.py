"""Recognise SKA written in standard ONNX ops and run it as the `ai.edgert` SKA operator.

`edgert convert --portable` (and any exporter following the same recipe) writes LSNet's SKA as
k*k shifted windows of the zero-padded input, each times one kernel tap, summed:

    Pad(X, [0,0,p,p,0,0,p,p]) -> Reshape [0, R, G, H+2p, W+2p] -> k*k x Slice(axes 3,4; (i,j)..(i+H,j+W))
    Reshape(Wt, [0, G, k*k, H, W]) -> Transpose [0,2,1,3,4] -> Split(axis 1, k*k x 1)
    Sum over taps of Mul(window(i,j), tap(i*k+j)) -> Reshape [0, R*G, H, W]

onnxruntime needs that form; edgert runs the whole chain as one native kernel (one read of X and
Wt instead of k*k window copies, products and a k*k-input sum). Every constant of the pattern is
checked; anything else is left alone.

The same chain quantized by onnxruntime's QDQ tools reaches this pass already folded (edgert/passes/
quantize.py): int8 Pad / Slices / Split / Transposes, a QLinearMul per tap, each dequantized into an
fp32 Sum, then one QuantizeLinear. That becomes the int8 `QSKA` node, which computes exactly that
(edgert.ops.ska.qska_reference), so results stay bit-identical to onnxruntime's.
"""
from __future__ import annotations

import math

import numpy as np

from edgert.ir import Graph, Node
from edgert.ops import ska as ska_spec
from edgert.ops.quantized import MS_DOMAIN, qclamp


def _is(node: Node | None, op_type: str, domain: str = "") -> bool:
    return node is not None and node.domain == domain and node.op_type == op_type


def _scalar(graph: Graph, name: str, kind: str):
    """The one value of a per-tensor constant of this dtype kind ('f' scale, 'i' zero point), or None."""
    value = graph.constants.get(name) if name else None
    if value is None or value.size != 1 or value.dtype.kind != kind or (kind == "i" and value.dtype != np.int8):
        return None
    return value.reshape(-1)[0]


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

    def window(self, operands: tuple[str, str], k: int):
        """(Slice node, (i, j), its ends, tap tensor, which operand is the window) of one product, or None."""
        for first, (window_name, tap_name) in ((0, operands), (1, operands[::-1])):
            window = self.producers.get(window_name)
            if not _is(window, "Slice") or len(window.inputs) < 4 or not self.internal(window_name, 1):
                continue
            starts, ends, axes = (_ints(self.graph, n) for n in window.inputs[1:4])
            steps = _ints(self.graph, window.inputs[4]) if len(window.inputs) > 4 and window.inputs[4] else [1, 1]
            if axes not in ([3, 4], [-2, -1]) or steps != [1, 1] or starts is None or ends is None:
                continue
            if len(starts) != 2 or len(ends) != 2 or not all(0 <= s < k for s in starts):
                continue
            return window, tuple(starts), tuple(ends), tap_name, first
        return None

    def padded_source(self, reshaped: str, k: int, p: int, h: int, w: int):
        """X of Reshape(Pad(X)) [0, R, G, H+2p, W+2p], with (R, G) and the pad value, or None."""
        reshape = self.producers.get(reshaped)
        shape = _ints(self.graph, reshape.inputs[1]) if _is(reshape, "Reshape") and len(reshape.inputs) > 1 else None
        if shape is None or len(shape) != 5 or shape[0] != 0 or shape[3:] != [h + 2 * p, w + 2 * p]:
            return None
        if reshape.attr("allowzero", 0) or min(shape[1:3]) < 1 or not self.internal(reshape.inputs[0], 1):
            return None
        pad = self.producers.get(reshape.inputs[0])
        if not _is(pad, "Pad") or pad.attr("mode", "constant") != "constant" or len(pad.inputs) < 2:
            return None
        if _ints(self.graph, pad.inputs[1]) != [0, 0, p, p, 0, 0, p, p] or (len(pad.inputs) > 3 and pad.inputs[3]):
            return None
        fill = 0
        if len(pad.inputs) > 2 and pad.inputs[2]:
            value = self.graph.constants.get(pad.inputs[2])
            if value is None or value.size != 1:
                return None
            fill = value.reshape(-1)[0]
        return pad.inputs[0], shape[1], shape[2], fill, [pad, reshape]

    def kernel_source(self, taps: list[str], groups: int, k: int, h: int, w: int):
        """Wt of the tap tensors, or None: Reshape(Wt, [0, G, k*k, H, W]), then Transpose [0,2,1,3,4] and a
        Split along axis 1 (as exported), or a Split along axis 2 and a Transpose per tap (as onnxruntime's
        quantizer reorders it)."""
        kk = k * k
        split = self.producers.get(taps[0])
        nodes = []
        if _is(split, "Split") and split.outputs == taps and split.attr("axis", 0) == 1:
            transpose = self.producers.get(split.inputs[0])
            if not self._is_tap_transpose(transpose) or not self.internal(split.inputs[0], 1):
                return None
            reshaped, nodes = transpose.inputs[0], [transpose, split]
        else:
            transposes = [self.producers.get(t) for t in taps]
            if not all(self._is_tap_transpose(t) for t in transposes):
                return None
            split = self.producers.get(transposes[0].inputs[0])
            if (not _is(split, "Split") or split.attr("axis", 0) != 2
                    or split.outputs != [t.inputs[0] for t in transposes]
                    or any(not self.internal(o, 1) for o in split.outputs)):
                return None
            reshaped, nodes = split.inputs[0], transposes + [split]
        sizes = _ints(self.graph, split.inputs[1]) if len(split.inputs) > 1 and split.inputs[1] else None
        if sizes is not None and sizes != [1] * kk or sizes is None and split.attr("split") not in (None, [1] * kk):
            return None
        reshape = self.producers.get(reshaped)
        shape = _ints(self.graph, reshape.inputs[1]) if _is(reshape, "Reshape") and len(reshape.inputs) > 1 else None
        if shape != [0, groups, kk, h, w] or reshape.attr("allowzero", 0) or not self.internal(reshaped, 1):
            return None
        return reshape.inputs[0], [reshape] + nodes

    @staticmethod
    def _is_tap_transpose(node: Node | None) -> bool:
        return _is(node, "Transpose") and list(node.attr("perm", [])) == [0, 2, 1, 3, 4]

    def match(self, total: Node):
        """The chain ending in Sum `total`: (x, w, k, nodes to drop, final Reshape, int8 attributes or None)."""
        k = math.isqrt(len(total.inputs))
        if k * k != len(total.inputs) or k % 2 == 0 or k < 3:
            return None
        p = (k - 1) // 2
        quantized = _is(self.producers.get(total.inputs[0]), "DequantizeLinear")
        # The Sum's readers: Reshape [0, C, H, W]; int8: also a QuantizeLinear, before or after it.
        tail, name = [], total.outputs[0]
        for _ in range(2 if quantized else 1):
            reader = self.only_reader(name)
            if reader is None:
                return None
            tail.append(reader)
            name = reader.outputs[0]
        reshape = next((n for n in tail if _is(n, "Reshape")), None)
        quantize = next((n for n in tail if _is(n, "QuantizeLinear")), None)
        if reshape is None or reshape.attr("allowzero", 0) or (quantized and quantize is None):
            return None
        final = tail[-1]
        out_shape = _ints(self.graph, reshape.inputs[1]) if len(reshape.inputs) > 1 else None
        if out_shape is None or len(out_shape) != 4 or out_shape[0] != 0 or min(out_shape[1:]) < 1:
            return None
        channels, h, w = out_shape[1:]
        padded, taps, chain, products = None, [None] * (k * k), [], []
        for t, term in enumerate(total.inputs):
            product, dequantize = self.producers.get(term), None
            if quantized:
                dequantize, product = product, None
                if _is(dequantize, "DequantizeLinear") and self.internal(term, 1) and self.internal(dequantize.inputs[0], 1):
                    product = self.producers.get(dequantize.inputs[0])
                if not _is(product, "QLinearMul", MS_DOMAIN) or len(product.inputs) < 8:
                    return None
                operands = (product.inputs[0], product.inputs[3])
            else:
                if not _is(product, "Mul") or not self.internal(term, 1):
                    return None
                operands = tuple(product.inputs)
            found = self.window(operands, k)
            if found is None:
                return None
            window, (i, j), ends, tap, window_first = found
            source = window.inputs[0]
            # the int8 kernel sums in tap order, as the chain's Sum must then do
            if (ends != (i + h, j + w) or (padded is not None and source != padded) or taps[i * k + j] is not None
                    or (quantized and i * k + j != t)):
                return None
            padded, taps[i * k + j] = source, tap
            chain += [window, product] + ([dequantize] if dequantize else [])
            products.append((product, dequantize, window_first))
        if not self.internal(padded, k * k) or any(not self.internal(t, 1) for t in taps):
            return None
        pad_part = self.padded_source(padded, k, p, h, w)
        if pad_part is None:
            return None
        x, rows, groups, fill, pad_nodes = pad_part
        if rows * groups != channels:
            return None
        kernel_part = self.kernel_source(taps, groups, k, h, w)
        if kernel_part is None:
            return None
        weights, kernel_nodes = kernel_part
        attrs = {"kernel_size": k}
        if quantized:
            int8 = self.int8_attributes(products, quantize, fill)
            if int8 is None:
                return None
            attrs.update(int8)
        elif float(fill) != 0.0:
            return None
        dropped = pad_nodes + kernel_nodes + chain + [total] + tail[:-1]
        return x, weights, dropped, final, attrs

    def int8_attributes(self, products, quantize: Node, fill) -> dict | None:
        """The QSKA attributes of the chain's per-tensor parameters, or None when they do not allow the
        kernel's arithmetic (one window and one tap quantization for every product, padding with the
        window's zero point, each product's requantization and dequantization sharing a zero point)."""
        g = self.graph
        sides, taps = set(), {a: [] for a in ska_spec.QSKA_TAP_ATTRS}
        for product, dequantize, window_first in products:
            a_s, a_z, b_s, b_z, y_s, y_z = (_scalar(g, product.inputs[i], kind)
                                            for i, kind in ((1, "f"), (2, "i"), (4, "f"), (5, "i"), (6, "f"), (7, "i")))
            dq_s = _scalar(g, dequantize.inputs[1], "f")
            dq_z = _scalar(g, dequantize.inputs[2], "i") if len(dequantize.inputs) > 2 and dequantize.inputs[2] else None
            if any(v is None for v in (a_s, a_z, b_s, b_z, y_s, y_z, dq_s, dq_z)):
                return None
            window, tap = ((a_s, a_z), (b_s, b_z)) if window_first == 0 else ((b_s, b_z), (a_s, a_z))
            sides.add((float(window[0]), int(window[1]), float(tap[0]), int(tap[1])))
            qmin, qmax = qclamp(product, y_s, int(y_z), np.int8)
            if int(dq_z) != int(y_z) or not qmin <= int(y_z) <= qmax:
                return None
            # the multiplier exactly as lower_qlinear_binary forms it: float32 (s_a * s_b) / s_y
            taps["tap_mult"].append(float((np.float32(a_s) * np.float32(b_s)) / np.float32(y_s)))
            taps["tap_zero_point"].append(int(y_z))
            taps["tap_qmin"].append(int(qmin))
            taps["tap_qmax"].append(int(qmax))
            taps["tap_dq_scale"].append(float(np.float32(dq_s)))
        y_s, y_z = _scalar(g, quantize.inputs[1], "f"), (
            _scalar(g, quantize.inputs[2], "i") if len(quantize.inputs) > 2 and quantize.inputs[2] else None)
        if len(sides) != 1 or y_s is None or y_z is None:
            return None
        (_, x_zp, _, w_zp), = sides
        if np.asarray(fill).dtype != np.int8 or int(fill) != x_zp:
            return None
        return {"x_zero_point": x_zp, "w_zero_point": w_zp, "y_scale": float(np.float32(y_s)),
                "y_zero_point": int(y_z), **taps}


def fuse_portable_ska(graph: Graph) -> None:
    """Every portable SKA chain becomes one `ai.edgert` SKA (fp32) or QSKA (int8) node in the final
    Reshape's place."""
    matcher = _Matcher(graph)
    removed = set()
    for node in graph.nodes:
        if not _is(node, "Sum") or id(node) in removed:
            continue
        found = matcher.match(node)
        if found is None:
            continue
        x, weights, dropped, final, attrs = found
        removed.update(id(n) for n in dropped)
        quantized = "y_scale" in attrs
        final.op_type = ska_spec.QSKA_OP_TYPE if quantized else ska_spec.OP_TYPE
        final.domain, final.inputs, final.attrs = ska_spec.DOMAIN, [x, weights], attrs
        final.name = f"{final.name}:{'qska' if quantized else 'ska'}"
    if removed:
        graph.nodes = [n for n in graph.nodes if id(n) not in removed]
