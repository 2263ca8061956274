"""edgert.lm.export_onnx: the decode-step ONNX graph (opset 27 CausalConvWithState / LinearAttention,
state in/out) run by onnxruntime token by token equals edgert.lm's own decode step; its dynamic-int8
version runs and stays close; KV-cache models are refused."""

import numpy as np
import pytest

pytest.importorskip("safetensors", reason="edgert.lm reads checkpoints with safetensors (extra 'lm')")
ort = pytest.importorskip("onnxruntime")

from edgert.errors import EdgeRTError  # noqa: E402
from edgert.lm import Lfm2Model  # noqa: E402
from edgert.lm import export_onnx as E  # noqa: E402
from edgert.lm.random_init import tiny_config, write_random_checkpoint  # noqa: E402


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    p = tmp_path_factory.mktemp("lmx") / "m"
    write_random_checkpoint(p, tiny_config(["conv", "full_attention", "conv", "full_attention"], attention="gated_delta",
                                           hidden=64, heads=4, kv_heads=2, vocab=300, conv_bias=True), seed=3)
    return p


def _run_both(model, sess, tokens):
    st = model.new_state()
    model.forward([1, 2, 3, 4], st)  # a prefill first: the graph continues from edgert's state
    feeds, names = E.state_to_onnx(model, st), E.state_names(model)
    ours, theirs = [], []
    for t in tokens:
        ours.append(model.forward([t], st))
        out = sess.run(None, {"input_id": np.array([t], np.int64), **feeds})
        theirs.append(out[0][0])
        feeds = dict(zip(names, out[1:]))
    return np.stack(ours), np.stack(theirs), st, feeds


@pytest.mark.parametrize("quantize", [None, "int8"])
def test_decode_step_graph_matches_edgert(ckpt, tmp_path, quantize):
    m = Lfm2Model.load(ckpt, quantize=quantize)
    path = E.export_decode_step(m, tmp_path / "step.onnx")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    ours, theirs, st, feeds = _run_both(m, sess, [5, 9, 299, 0, 17, 42, 7, 7])
    np.testing.assert_allclose(theirs, ours, rtol=0, atol=1e-5 * np.abs(ours).max())
    final = E.state_to_onnx(m, st)
    for n in feeds:
        np.testing.assert_allclose(feeds[n], final[n], rtol=0, atol=1e-5 * max(1.0, np.abs(final[n]).max()))
    ops = {n.op_type for n in __import__("onnx").load(path).graph.node}
    assert {"CausalConvWithState", "LinearAttention", "RMSNormalization", "MatMul"} <= ops


def test_dynamic_int8_graph_runs_close_to_f32(ckpt, tmp_path):
    m = Lfm2Model.load(ckpt)
    f32 = E.export_decode_step(m, tmp_path / "f32.onnx")
    q = E.quantize_int8(f32, tmp_path / "int8.onnx")
    sess = ort.InferenceSession(str(q), providers=["CPUExecutionProvider"])
    ours, theirs, _, _ = _run_both(m, sess, [5, 9, 11])
    assert np.abs(theirs - ours).max() < 0.1 * np.abs(ours).max()
    with pytest.raises(EdgeRTError, match="overwrite"):
        E.quantize_int8(q, q)


def test_kv_cache_model_is_refused(tmp_path):
    p = tmp_path / "kv"
    write_random_checkpoint(p, tiny_config(attention="softmax"), seed=0)
    with pytest.raises(E.ExportError, match="KV cache"):
        E.build_decode_step(Lfm2Model.load(p))
