"""QDQ -> quantized operators.

Quantized models arrive as QDQ graphs (onnxruntime's quantizer, and edgert's TFLite importer
for int8 .tflite files): every int8 tensor is produced by QuantizeLinear and read through
DequantizeLinear, around ordinary float operators. This pass turns

    DequantizeLinear(x_q) -> Op -> [Relu | Clip]* -> QuantizeLinear -> y_q

into one quantized operator on the int8 tensors (x_q -> y_q) that the int8 kernels run:

    Conv                        -> QLinearConv                   (ONNX)
    Gemm / MatMul (const B)     -> QGemm                         (com.microsoft)
    Add, Mul                    -> QLinearAdd, QLinearMul        (com.microsoft)
    GlobalAveragePool, ReduceMean over H,W -> QLinearGlobalAveragePool
    AveragePool                 -> QLinearAveragePool
    elementwise activations     -> QLut (ai.edgert: a 256-entry table, exact for any function)
    MaxPool, Reshape, Transpose, Concat, Resize(nearest), Pad, Slice, Split ...
                                -> the same op on the int8 tensor (requantized by a QLut when
                                   input and output quantization differ)

uint8 activations are re-typed to int8 (zero point - 128) first, so the kernels see one type.
What cannot fold keeps running in fp32 between its DequantizeLinear / QuantizeLinear, and is
listed in graph.quant_report (shown by `edgert info`).
"""
from __future__ import annotations

import math

import numpy as np

from edgert.ir import Graph, Node
from edgert.ops.quantized import MS_DOMAIN, dequantize, quantize
from edgert.ops.reference import run_reference

EDGERT_DOMAIN = "ai.edgert"
F32 = np.float32

# Ops whose int8 result is the op applied to the int8 input, when input and output share
# quantization (otherwise followed by a requantizing QLut): data movement and max.
_TRANSPARENT = {"MaxPool", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Identity",
                "Slice", "Split", "Resize", "Upsample", "Pad", "DepthToSpace", "SpaceToDepth",
                "GlobalMaxPool", "Concat"}
# Elementwise functions of one tensor: exact as a 256-entry lookup table.
_LUT_OPS = {"Relu", "Clip", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "LeakyRelu", "Elu",
            "Gelu", "Swish", "Exp", "Neg", "Abs", "Softplus", "Erf", "Sqrt", "Reciprocal", "Log"}
_CLAMPS = ("Relu", "Clip")


def clamp_bounds(graph: Graph, node: Node) -> tuple[float, float] | None:
    """(lo, hi) of a Relu or Clip with constant bounds; None for anything else."""
    if node.domain != "":
        return None
    if node.op_type == "Relu":
        return 0.0, math.inf
    if node.op_type != "Clip":
        return None
    if graph.opset < 11:
        return node.attr("min", -math.inf), node.attr("max", math.inf)
    bounds = []
    for i, default in ((1, -math.inf), (2, math.inf)):
        name = node.inputs[i] if len(node.inputs) > i else ""
        if not name:
            bounds.append(default)
            continue
        value = graph.constants.get(name)
        if value is None or value.size != 1:  # not a scalar: the planner's check rejects it
            return None
        bounds.append(float(value.reshape(-1)[0]))
    return bounds[0], bounds[1]


class _Rewriter:
    def __init__(self, graph: Graph):
        self.graph = graph
        self.producers = graph.producers()
        self.users = graph.consumers()
        self.replaced: dict[int, list[Node]] = {}  # id(node) -> nodes taking its place
        self.dropped: set[int] = set()
        self.report: list[tuple[str, str, str]] = []
        self._counter = 0

    # ------------------------------------------------------------------ helpers

    def const(self, name: str):
        return self.graph.constants.get(name) if name else None

    def new_const(self, hint: str, array: np.ndarray) -> str:
        self._counter += 1
        name = f"{hint}:q{self._counter}"
        self.graph.constants[name] = array
        return name

    def activation_dq(self, name: str):
        """(q tensor, scale name, zp name, scale, zp) when `name` is DequantizeLinear of a runtime
        int8 tensor quantized per tensor; else None."""
        node = self.producers.get(name)
        if node is None or node.op_type != "DequantizeLinear" or node.domain != "":
            return None
        q, s_name = node.inputs[0], node.inputs[1]
        zp_name = node.inputs[2] if len(node.inputs) > 2 else ""
        scale, zp = self.const(s_name), self.const(zp_name)
        if q in self.graph.constants or scale is None or scale.size != 1:
            return None
        if zp is None or zp.size != 1 or zp.dtype != np.int8:
            return None
        return q, s_name, zp_name, F32(scale.reshape(-1)[0]), int(zp.reshape(-1)[0])

    def const_dq(self, name: str):
        """(q array, scales, zero points, axis) for DequantizeLinear of a constant."""
        node = self.producers.get(name)
        if node is None or node.op_type != "DequantizeLinear" or node.domain != "":
            return None
        q, scale = self.const(node.inputs[0]), self.const(node.inputs[1])
        zp = self.const(node.inputs[2]) if len(node.inputs) > 2 and node.inputs[2] else None
        if q is None or scale is None:
            return None
        zp = np.zeros(scale.shape, q.dtype) if zp is None else zp
        return q, scale.astype(F32), zp, node.attr("axis", 1)

    def output_q(self, node: Node):
        """The QuantizeLinear that alone reads this node's output, through optional Relu/Clip
        nodes: (q node, scale, zp, clamp, skipped nodes), else None."""
        name = node.outputs[0]
        lo, hi = node.attr("edgert_clamp", (-math.inf, math.inf))
        skipped = []
        while True:
            readers = self.users.get(name, [])
            if len(readers) != 1 or name in self.graph.output_names:
                return None
            nxt = readers[0]
            if nxt.op_type in _CLAMPS and nxt.domain == "":
                bounds = clamp_bounds(self.graph, nxt)
                if bounds is None:
                    return None
                lo, hi = max(lo, bounds[0]), min(hi, bounds[1])
                skipped.append(nxt)
                name = nxt.outputs[0]
                continue
            break
        if nxt.op_type != "QuantizeLinear" or nxt.domain != "" or nxt.inputs[0] != name:
            return None
        scale = self.const(nxt.inputs[1])
        zp = self.const(nxt.inputs[2]) if len(nxt.inputs) > 2 else None
        if scale is None or scale.size != 1 or zp is None or zp.size != 1 or zp.dtype != np.int8:
            return None
        return nxt, F32(scale.reshape(-1)[0]), int(zp.reshape(-1)[0]), (lo, hi), skipped

    def replace(self, node: Node, q_node: Node, skipped: list, new_nodes: list[Node]) -> None:
        self.replaced[id(node)] = new_nodes
        self.dropped.update(id(n) for n in skipped)
        self.dropped.add(id(q_node))

    def unfolded(self, node: Node, reason: str) -> None:
        self.report.append((node.name, node.op_type, reason))

    # ------------------------------------------------------------------ rewrites

    def rewrite(self, node: Node) -> str | None:
        """Fold one float node; returns why not when it stays fp32 (None when folded or not
        quantized at all)."""
        if node.domain != "" or id(node) in self.dropped:
            return None
        op = node.op_type
        float_inputs = [i for i in node.inputs if i and i not in self.graph.constants]
        dqs = [self.activation_dq(i) for i in float_inputs]
        quantized_in = any(d is not None for d in dqs)
        if not quantized_in or op in ("QuantizeLinear", "DequantizeLinear"):
            return None
        if op in ("Shape", "Size"):  # reads only the shape: take it from the int8 tensor
            node.inputs[0] = dqs[0][0] if dqs and dqs[0] else node.inputs[0]
            return None
        fn = _FOLDERS.get(op)
        if fn is None:
            if op in _TRANSPARENT:
                fn = _Rewriter.fold_transparent
            elif op in _LUT_OPS:
                fn = _Rewriter.fold_lut
            else:
                return "no int8 kernel for this op"
        return fn(self, node)

    def fold_conv(self, node: Node):
        x = self.activation_dq(node.inputs[0])
        w = self.const_dq(node.inputs[1]) if len(node.inputs) > 1 else None
        out = self.output_q(node)
        if x is None or w is None or out is None:
            return "input, weights or output not quantized per tensor"
        wq, ws, wz, axis = w
        if wq.dtype != np.int8 or np.any(wz != 0) or (ws.size != 1 and (axis != 0 or ws.size != wq.shape[0])):
            return "weights are not int8 symmetric per output channel"
        if wq.ndim != 4:
            return "only 2-D convolution"
        bias = self.int32_bias(node.inputs[2] if len(node.inputs) > 2 else "", x[3], ws, wq.shape[0])
        if bias is False:
            return "bias is not a constant"
        q_node, ys, yz, clamp, skipped = out
        w_scale = self.new_const(f"{node.name}_w_scale", np.broadcast_to(ws.reshape(-1), (wq.shape[0],)).astype(F32))
        w_zp = self.new_const(f"{node.name}_w_zp", np.zeros(wq.shape[0], np.int8))
        w_name = self.producers[node.inputs[1]].inputs[0]
        inputs = [x[0], x[1], x[2], w_name, w_scale, w_zp, q_node.inputs[1], q_node.inputs[2]]
        if bias is not None:
            inputs.append(self.new_const(f"{node.name}_bias", bias))
        attrs = {k: v for k, v in node.attrs.items() if k != "edgert_clamp"}
        attrs["output_clamp"] = clamp
        self.replace(node, q_node, skipped, [Node("QLinearConv", node.name, inputs, [q_node.outputs[0]], attrs)])
        return None

    def int32_bias(self, name: str, x_scale, w_scale: np.ndarray, channels: int):
        """Bias as int32 at scale x_scale * w_scale[c] (None when absent, False when not constant)."""
        if not name:
            return None
        bias_scale = (F32(x_scale) * np.broadcast_to(w_scale.reshape(-1), (channels,))).astype(F32)
        dq = self.const_dq(name)
        if dq is not None:
            bq, bs, bz, _ = dq
            if bq.dtype == np.int32 and not np.any(bz) and np.array_equal(np.broadcast_to(bs.reshape(-1), (channels,)), bias_scale):
                return bq.reshape(-1).astype(np.int32)
            real = dequantize(bq, bs, bz, 0).reshape(-1)
        else:
            real = self.const(name)
            if real is None:
                return False
            real = real.reshape(-1).astype(np.float64)
        return np.clip(np.rint(real / bias_scale.astype(np.float64)), -2**31, 2**31 - 1).astype(np.int32)

    def fold_gemm(self, node: Node):
        a = self.activation_dq(node.inputs[0])
        b = self.const_dq(node.inputs[1])
        out = self.output_q(node)
        if a is None or b is None or out is None:
            return "input, weights or output not quantized per tensor"
        if node.op_type == "Gemm" and (node.attr("transA", 0) or node.attr("alpha", 1.0) != 1.0 or node.attr("beta", 1.0) != 1.0):
            return "Gemm with transA, alpha or beta"
        bq, bs, bz, axis = b
        trans_b = node.op_type == "Gemm" and node.attr("transB", 0)
        n_axis = 0 if trans_b else 1
        if bq.dtype != np.int8 or bq.ndim != 2 or np.any(bz != 0) or (bs.size != 1 and (axis % 2 != n_axis or bs.size != bq.shape[n_axis])):
            return "weights are not int8 symmetric per output column"
        n = bq.shape[n_axis]
        bias_name = node.inputs[2] if node.op_type == "Gemm" and len(node.inputs) > 2 else ""
        bias = self.int32_bias(bias_name, a[3], bs, n)
        if bias is False:
            return "bias is not a constant"
        if bias is not None and bias.size != n:
            return "bias is not per output column"
        q_node, ys, yz, clamp, skipped = out
        inputs = [a[0], a[1], a[2], self.producers[node.inputs[1]].inputs[0],
                  self.new_const(f"{node.name}_b_scale", np.broadcast_to(bs.reshape(-1), (n,)).astype(F32)),
                  self.new_const(f"{node.name}_b_zp", np.zeros(n, np.int8)),
                  self.new_const(f"{node.name}_bias", bias) if bias is not None else "",
                  q_node.inputs[1], q_node.inputs[2]]
        attrs = {"transB": int(trans_b), "output_clamp": clamp}
        self.replace(node, q_node, skipped,
                     [Node("QGemm", node.name, inputs, [q_node.outputs[0]], attrs, domain=MS_DOMAIN)])
        return None

    def fold_add_mul(self, node: Node):
        if len(node.inputs) != 2:
            return "variadic"
        a, b = self.activation_dq(node.inputs[0]), self.activation_dq(node.inputs[1])
        out = self.output_q(node)
        if out is None:
            return "output not quantized per tensor"
        operands = []
        for name, dq in ((node.inputs[0], a), (node.inputs[1], b)):
            if dq is None:
                cdq = self.const_dq(name)
                if cdq is None or cdq[1].size != 1 or cdq[0].dtype != np.int8:
                    return "operand not quantized per tensor"
                producer = self.producers[name]
                operands += [producer.inputs[0], producer.inputs[1], producer.inputs[2]]
            else:
                operands += [dq[0], dq[1], dq[2]]
        q_node, ys, yz, clamp, skipped = out
        op = "QLinearAdd" if node.op_type == "Add" else "QLinearMul"
        self.replace(node, q_node, skipped,
                     [Node(op, node.name, operands + [q_node.inputs[1], q_node.inputs[2]], [q_node.outputs[0]],
                           {"output_clamp": clamp}, domain=MS_DOMAIN)])
        return None

    def fold_pool(self, node: Node):
        x = self.activation_dq(node.inputs[0])
        out = self.output_q(node)
        if x is None or out is None:
            return "input or output not quantized per tensor"
        q_node, ys, yz, clamp, skipped = out
        inputs = [x[0], x[1], x[2], q_node.inputs[1], q_node.inputs[2]]
        attrs = {"output_clamp": clamp}
        new = []
        if node.op_type == "ReduceMean":
            axes = node.attr("axes")
            if axes is None and len(node.inputs) > 1 and node.inputs[1]:
                axes = self.const(node.inputs[1])
            # rank 4 is checked when planning (shapes are known there)
            if axes is None or sorted(int(a) for a in np.asarray(axes).reshape(-1)) != [2, 3]:
                return "ReduceMean over other axes than H, W of an NCHW tensor"
            op = "QLinearGlobalAveragePool"
            if not node.attr("keepdims", 1):
                pooled = f"{node.name}:pooled"
                shape = self.new_const(f"{node.name}_shape", np.array([0, -1], np.int64))
                new.append(Node("QLinearGlobalAveragePool", node.name, inputs, [pooled], attrs, domain=MS_DOMAIN))
                new.append(Node("Reshape", f"{node.name}:squeeze", [pooled, shape], [q_node.outputs[0]]))
                self.replace(node, q_node, skipped, new)
                return None
        elif node.op_type == "GlobalAveragePool":
            op = "QLinearGlobalAveragePool"
        else:
            if node.attr("ceil_mode", 0):
                return "AveragePool with ceil_mode"
            op = "QLinearAveragePool"
            attrs.update({k: v for k, v in node.attrs.items() if k != "edgert_clamp"})
        self.replace(node, q_node, skipped, [Node(op, node.name, inputs, [q_node.outputs[0]], attrs, domain=MS_DOMAIN)])
        return None

    def fold_lut(self, node: Node):
        x = self.activation_dq(node.inputs[0])
        if x is None or any(self.const(i) is None for i in node.inputs[1:] if i):
            return "input not quantized per tensor, or non-constant parameters"
        readers = self.users.get(node.outputs[0], [])
        if len(readers) != 1 or readers[0].op_type != "QuantizeLinear" or node.outputs[0] in self.graph.output_names:
            return "output not quantized"
        q_node = readers[0]
        ys, yz = self.const(q_node.inputs[1]), self.const(q_node.inputs[2]) if len(q_node.inputs) > 2 else None
        if ys is None or ys.size != 1 or yz is None or yz.dtype != np.int8:
            return "output not quantized per tensor"
        codes = np.arange(-128, 128, dtype=np.int64).astype(np.int8)
        real = dequantize(codes, x[3], x[4])
        args = [real] + [self.const(i) if i else None for i in node.inputs[1:]]
        values = run_reference(node, args, self.graph.opset)[0].astype(F32)
        lo, hi = node.attr("edgert_clamp", (-math.inf, math.inf))
        values = np.clip(values, lo, hi).astype(F32)
        table = quantize(values, ys.reshape(-1)[0], yz.reshape(-1)[0], np.int8)
        # index by the code's byte: table[(uint8)q]
        table = np.roll(table, -128)
        self.replace(node, q_node, [], [Node("QLut", node.name, [x[0]], [q_node.outputs[0]],
                                             {"table": table}, domain=EDGERT_DOMAIN)])
        return None

    def fold_transparent(self, node: Node):
        """Data movement on int8: the op itself, then a requantizing QLut per output when its
        quantization differs from the input's."""
        if node.op_type == "Concat":
            return self.fold_concat(node)
        x = self.activation_dq(node.inputs[0])
        if x is None:
            return "input not quantized per tensor"
        if any(self.activation_dq(i) is not None for i in node.inputs[1:] if i):
            return "a quantized tensor as a shape/size input"
        if node.op_type in ("Resize", "Upsample") and node.attr("mode", "nearest") != "nearest":
            return "Resize in linear mode"
        outs = []
        for name in node.outputs:
            if not name:
                outs.append(None)
                continue
            readers = self.users.get(name, [])
            if len(readers) != 1 or readers[0].op_type != "QuantizeLinear" or name in self.graph.output_names:
                return "output not quantized"
            q_node = readers[0]
            ys = self.const(q_node.inputs[1])
            yz = self.const(q_node.inputs[2]) if len(q_node.inputs) > 2 else None
            if ys is None or ys.size != 1 or yz is None or yz.dtype != np.int8:
                return "output not quantized per tensor"
            outs.append((q_node, F32(ys.reshape(-1)[0]), int(yz.reshape(-1)[0])))
        inputs = [x[0]] + list(node.inputs[1:])
        attrs = dict(node.attrs)
        if node.op_type == "Pad":
            if node.attr("mode", "constant") == "constant":
                value = self.const(node.inputs[2]) if len(node.inputs) > 2 and node.inputs[2] else None
                real = 0.0 if value is None or value.size == 0 else float(value.reshape(-1)[0])
                pad_q = quantize(np.array([real], F32), x[3], x[4], np.int8)
                inputs = inputs[:2] + [self.new_const(f"{node.name}_value", pad_q.reshape(()))] + inputs[3:]
                if self.graph.opset < 11:
                    attrs["value"] = float(pad_q[0])
        new_nodes = []
        q_outputs = []
        for i, o in enumerate(outs):
            if o is None:
                q_outputs.append("")
                continue
            q_node, ys, yz = o
            if ys == x[3] and yz == x[4]:
                q_outputs.append(q_node.outputs[0])
            else:
                mid = f"{node.name}:q{i}"
                q_outputs.append(mid)
                new_nodes.append(self.requant_lut(f"{node.name}:requant{i}", mid, q_node.outputs[0], x[3], x[4], ys, yz))
        new_nodes.insert(0, Node(node.op_type, node.name, inputs, q_outputs, attrs))
        self.replaced[id(node)] = new_nodes
        self.dropped.update(id(o[0]) for o in outs if o is not None)
        return None

    def requant_lut(self, name, src, dst, s_in, z_in, s_out, z_out) -> Node:
        codes = np.arange(-128, 128, dtype=np.int64).astype(np.int8)
        table = quantize(dequantize(codes, s_in, z_in), s_out, z_out, np.int8)
        return Node("QLut", name, [src], [dst], {"table": np.roll(table, -128)}, domain=EDGERT_DOMAIN)

    def fold_concat(self, node: Node):
        dqs = [self.activation_dq(i) for i in node.inputs]
        if any(d is None for d in dqs):
            return "an input is not quantized per tensor"
        readers = self.users.get(node.outputs[0], [])
        if len(readers) != 1 or readers[0].op_type != "QuantizeLinear" or node.outputs[0] in self.graph.output_names:
            return "output not quantized"
        q_node = readers[0]
        ys = self.const(q_node.inputs[1])
        yz = self.const(q_node.inputs[2]) if len(q_node.inputs) > 2 else None
        if ys is None or ys.size != 1 or yz is None or yz.dtype != np.int8:
            return "output not quantized per tensor"
        ys, yz = F32(ys.reshape(-1)[0]), int(yz.reshape(-1)[0])
        new_nodes, inputs = [], []
        for i, d in enumerate(dqs):
            if d[3] == ys and d[4] == yz:
                inputs.append(d[0])
            else:
                mid = f"{node.name}:in{i}"
                new_nodes.append(self.requant_lut(f"{node.name}:requant{i}", d[0], mid, d[3], d[4], ys, yz))
                inputs.append(mid)
        new_nodes.append(Node("Concat", node.name, inputs, [q_node.outputs[0]], dict(node.attrs)))
        self.replaced[id(node)] = new_nodes
        self.dropped.add(id(q_node))
        return None


_FOLDERS = {
    "Conv": _Rewriter.fold_conv,
    "Gemm": _Rewriter.fold_gemm,
    "MatMul": _Rewriter.fold_gemm,
    "Add": _Rewriter.fold_add_mul,
    "Mul": _Rewriter.fold_add_mul,
    "GlobalAveragePool": _Rewriter.fold_pool,
    "AveragePool": _Rewriter.fold_pool,
    "ReduceMean": _Rewriter.fold_pool,
}


def retype_uint8_activations(graph: Graph) -> None:
    """uint8 activations -> int8 with zero point - 128 (same real values), where every reader is
    a DequantizeLinear: the int8 kernels then serve U8S8 models too."""
    users = graph.consumers()
    outputs = set(graph.output_names)
    for node in graph.nodes:
        if node.op_type != "QuantizeLinear" or node.domain != "" or len(node.inputs) < 3:
            continue
        zp = graph.constants.get(node.inputs[2])
        name = node.outputs[0]
        readers = users.get(name, [])
        if zp is None or zp.dtype != np.uint8 or zp.size != 1 or name in outputs:
            continue
        if not readers or any(r.op_type != "DequantizeLinear" or len(r.inputs) < 3 for r in readers):
            continue
        if any(graph.constants.get(r.inputs[2]) is None or graph.constants[r.inputs[2]].dtype != np.uint8 for r in readers):
            continue
        new_zp = f"{node.inputs[2]}:s8"
        graph.constants[new_zp] = (zp.astype(np.int16) - 128).astype(np.int8)
        node.inputs[2] = new_zp
        for r in readers:
            shifted = f"{r.inputs[2]}:s8"
            graph.constants[shifted] = (graph.constants[r.inputs[2]].astype(np.int16) - 128).astype(np.int8)
            r.inputs[2] = shifted


def fold_qdq(graph: Graph) -> list[tuple[str, str, str]]:
    """Rewrite QDQ groups into quantized ops; returns (node, op, reason) for groups left in fp32."""
    if not any(n.op_type == "QuantizeLinear" for n in graph.nodes):
        graph.quant_report = []
        return []
    retype_uint8_activations(graph)
    rw = _Rewriter(graph)
    for node in graph.nodes:
        if id(node) in rw.replaced:
            continue
        reason = rw.rewrite(node)
        if reason is not None:
            rw.unfolded(node, reason)
    nodes = []
    for node in graph.nodes:
        if id(node) in rw.dropped:
            continue
        nodes.extend(rw.replaced.get(id(node), [node]))
    graph.nodes = nodes
    graph.remove_dead_nodes()
    graph.quant_report = rw.report
    return rw.report
