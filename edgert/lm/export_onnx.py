"""The one-token decode step of an edgert.lm model as an ONNX graph (for onnxruntime comparisons).

The graph computes exactly what :meth:`Lfm2Model.forward` does for one token of a model without a
KV cache (conv + gated-delta layers), with the recurrent state as graph inputs and outputs:

    inputs : input_id int64 (1,); conv_state_<i> float (1, hidden, L-1) per conv layer;
             la_state_<i> float (1, H_kv, d, d) per attention layer
    outputs: logits float (1, vocab); conv_state_<i>_out, la_state_<i>_out (same shapes)

Operators (default domain, opset 27): ``RMSNormalization`` (opset 23) for every norm,
``CausalConvWithState`` (opset 27) for LFM2's short conv, ``LinearAttention`` (opset 27,
update_rule gated_delta) for the attention recurrence, ``MatMul`` for every projection (weights
stored transposed, (in, out), the packed projections of the edgert model: ``[w1; w3]`` and
``[q; k; v; b; a]``), ``Gather`` for the embedding, and standard-op decompositions where ONNX has no
single op: the L2 normalisation of q / k (``ReduceSumSquare, Add(eps), Sqrt, Div``), SwiGLU
(``Sigmoid, Mul, Mul``), the LFM2 gating (``Split, Mul``), beta (``Sigmoid``) and the decay
(``Add, Softplus, Mul``).  Float32 weights are the model's dequantized ones, so an int8 / q4 model
exports its own numbers; ``quantize_int8`` turns the graph's MatMuls into onnxruntime's dynamic
int8 (``onnxruntime.quantization.quantize_dynamic``: per-channel int8 weights, activations
quantized per token).

    python -m edgert.lm.export_onnx CHECKPOINT_DIR OUT.onnx [--int8 OUT_INT8.onnx]
"""
from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np

from ..errors import EdgeRTError
from .model import DecodeState, Lfm2Model

F32 = np.float32
OPSET = 27


class ExportError(EdgeRTError):
    """The model cannot be written as a decode-step graph."""


def _atomic_write(path: Path, data: bytes) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def state_names(model: Lfm2Model) -> list:
    """ONNX input names of the state, in graph order (one per layer)."""
    return [f"conv_state_{i}" if L["type"] == "conv" else f"la_state_{i}" for i, L in enumerate(model.layers)]


def state_to_onnx(model: Lfm2Model, state: DecodeState) -> dict:
    """The graph's state inputs holding ``state`` (conv states transposed to (1, C, L-1))."""
    out = {}
    for i, L in enumerate(model.layers):
        if L["type"] == "conv":
            out[f"conv_state_{i}"] = np.ascontiguousarray(state.conv[i].T[None])
        else:
            out[f"la_state_{i}"] = state.la[i][None].copy()
    return out


def build_decode_step(model: Lfm2Model):
    """The ONNX ModelProto of ``model``'s one-token decode step (see the module doc)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    c = model.config
    if c.edgert_attention != "gated_delta":
        raise ExportError(f"{model.path or 'model'}: only models without a KV cache (edgert_attention = "
                          f"'gated_delta') export as a fixed-state decode step, got {c.edgert_attention!r}")
    h, f, d = c.hidden_size, c.ffn_size, c.head_dim
    hq, hkv, eps = c.num_attention_heads, c.num_key_value_heads, float(c.norm_eps)
    nodes, inits = [], []
    count = [0]

    seen = set()

    def const(name, arr):
        if name not in seen:  # small shape constants are shared by name
            seen.add(name)
            inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    def node(op, ins, n_out=1, **attrs):
        count[0] += 1
        outs = [f"{op.lower()}_{count[0]}_{j}" for j in range(n_out)]
        nodes.append(helper.make_node(op, ins, outs, name=f"{op}_{count[0]}", **attrs))
        return outs if n_out > 1 else outs[0]

    def matmul(x, w, name, bias=None):
        y = node("MatMul", [x, const(name, np.ascontiguousarray(w.dequantize().T.astype(F32)))])
        return node("Add", [y, const(name + "_bias", np.asarray(bias, F32))]) if bias is not None else y

    def rmsnorm(x, w, name):
        return node("RMSNormalization", [x, const(name, np.asarray(w, F32))], axis=-1, epsilon=eps)

    def l2norm(x):  # x / sqrt(sum(x^2, -1) + 1e-6), as edgert.lm.kernels.l2_normalize
        ss = node("ReduceSumSquare", [x, axes_last], keepdims=1)
        return node("Div", [x, node("Sqrt", [node("Add", [ss, eps_l2])])])

    axes_last = const("axes_last", np.array([-1], np.int64))
    eps_l2 = const("eps_l2", np.array(1e-6, F32))
    inputs = [helper.make_tensor_value_info("input_id", TensorProto.INT64, [1])]
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, c.vocab_size])]
    x = node("Gather", [const("embed", model.embed.dequantize().astype(F32)), "input_id"], axis=0)  # (1, H)
    for i, L in enumerate(model.layers):
        p = f"l{i}_"
        hn = rmsnorm(x, L["op_norm"], p + "op_norm")
        if L["type"] == "conv":
            k = L["conv_w_kc"].shape[0]
            sin, sout = f"conv_state_{i}", f"conv_state_{i}_out"
            inputs.append(helper.make_tensor_value_info(sin, TensorProto.FLOAT, [1, h, k - 1]))
            outputs.append(helper.make_tensor_value_info(sout, TensorProto.FLOAT, [1, h, k - 1]))
            bcx = matmul(hn, L["in_proj"], p + "in_proj", L["in_b"])
            b, cg, xx = node("Split", [bcx], 3, axis=-1, num_outputs=3)
            bx = node("Unsqueeze", [node("Mul", [b, xx]), const(p + "ax2", np.array([2], np.int64))])  # (1, H, 1)
            conv_in = [bx, const(p + "conv_w", np.ascontiguousarray(L["conv_w_kc"].T[:, None, :]))]
            if L["conv_b"] is not None:
                conv_in.append(const(p + "conv_b", L["conv_b"]))
            y = f"conv_y_{i}"
            nodes.append(helper.make_node("CausalConvWithState", conv_in + [""] * (3 - len(conv_in)) + [sin],
                                          [y, sout], name=f"CausalConvWithState_{i}"))
            co = node("Mul", [cg, node("Squeeze", [y, const(p + "sq2", np.array([2], np.int64))])])
            o = matmul(co, L["out_proj"], p + "out_proj", L["out_b"])
        else:
            sin, sout = f"la_state_{i}", f"la_state_{i}_out"
            inputs.append(helper.make_tensor_value_info(sin, TensorProto.FLOAT, [1, hkv, d, d]))
            outputs.append(helper.make_tensor_value_info(sout, TensorProto.FLOAT, [1, hkv, d, d]))
            proj = matmul(hn, L["qkv"], p + "qkvba")
            sizes = const(p + "split", np.array([hq * d, hkv * d, hkv * d, hkv, hkv], np.int64))
            q, k, v, bb, aa = node("Split", [proj, sizes], 5, axis=-1)
            shq = const(p + "shq", np.array([1, hq, d], np.int64))
            shk = const(p + "shk", np.array([1, hkv, d], np.int64))
            sh3 = lambda n: const(p + f"sh3_{n}", np.array([1, 1, n], np.int64))  # noqa: E731
            q = l2norm(rmsnorm(node("Reshape", [q, shq]), L["q_ln"], p + "q_ln"))
            k = l2norm(rmsnorm(node("Reshape", [k, shk]), L["k_ln"], p + "k_ln"))
            beta = node("Sigmoid", [bb])
            g = node("Mul", [const(p + "neg_A", L["neg_A"]),
                             node("Softplus", [node("Add", [aa, const(p + "dt_bias", L["dt_bias"])])])])
            o3 = f"la_o_{i}"
            nodes.append(helper.make_node(
                "LinearAttention",
                [node("Reshape", [q, sh3(hq * d)]), node("Reshape", [k, sh3(hkv * d)]),
                 node("Reshape", [v, sh3(hkv * d)]), sin, node("Reshape", [g, sh3(hkv)]),
                 node("Reshape", [beta, sh3(hkv)])],
                [o3, sout], name=f"LinearAttention_{i}", q_num_heads=hq, kv_num_heads=hkv,
                update_rule="gated_delta"))
            o = matmul(node("Reshape", [o3, const(p + "sh2", np.array([1, hq * d], np.int64))]), L["out_proj"],
                       p + "out_proj")
        x = node("Add", [x, o])
        hn = rmsnorm(x, L["ffn_norm"], p + "ffn_norm")
        gate, up = node("Split", [matmul(hn, L["w13"], p + "w13")], 2, axis=-1, num_outputs=2)
        act = node("Mul", [node("Mul", [gate, node("Sigmoid", [gate])]), up])
        x = node("Add", [x, matmul(act, L["w2"], p + "w2")])
    hn = rmsnorm(x, model.final_norm, "final_norm")
    logits = matmul(hn, model.lm_head, "lm_head")
    nodes.append(helper.make_node("Identity", [logits], ["logits"], name="logits"))
    graph = helper.make_graph(nodes, "edgert_lm_decode_step", inputs, outputs, inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                          producer_name="edgert.lm.export_onnx")
    onnx.checker.check_model(m)
    return m


def export_decode_step(model: Lfm2Model, path) -> Path:
    """Writes :func:`build_decode_step` to ``path`` (atomically); returns the path."""
    path = Path(path)
    _atomic_write(path, build_decode_step(model).SerializeToString())
    return path


def quantize_int8(src, dst) -> Path:
    """onnxruntime dynamic int8 of the decode-step graph: MatMul weights int8 per output channel,
    activations quantized per call (DynamicQuantizeLinear + MatMulInteger, fused by onnxruntime).
    Weights use 7 bits (reduce_range): onnxruntime's u8 x s8 kernels on x86 CPUs without VNNI sum
    pairs of products in int16 (vpmaddubsw), which saturates with full-range weights and gave
    outputs 25% off on an AVX2-only core; 7-bit weights cannot saturate there."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    src, dst = Path(src), Path(dst)
    if src.resolve() == dst.resolve():
        raise ExportError(f"{dst}: the int8 model must not overwrite its input")
    fd, tmp = tempfile.mkstemp(dir=dst.parent, prefix=dst.name, suffix=".tmp.onnx")
    os.close(fd)
    try:
        quantize_dynamic(str(src), tmp, weight_type=QuantType.QInt8, per_channel=True, reduce_range=True,
                         op_types_to_quantize=["MatMul"])
        os.replace(tmp, dst)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dst


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="Export an edgert.lm no-KV model's decode step as ONNX")
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--quantize", choices=["int8", "q4"], help="quantize the edgert model first (its numbers are exported)")
    ap.add_argument("--int8", type=Path, help="also write onnxruntime's dynamic-int8 version here")
    args = ap.parse_args(argv)
    m = Lfm2Model.load(args.checkpoint, quantize=args.quantize)
    export_decode_step(m, args.out)
    if args.int8:
        quantize_int8(args.out, args.int8)


if __name__ == "__main__":
    main()
