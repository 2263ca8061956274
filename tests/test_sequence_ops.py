"""Sequence-model operators (edgert.ops.sequence): RMSNormalization, CausalConvWithState and
LinearAttention (opset 27) against onnx.reference and onnx's own node test cases, the native
kernels against the numpy references, chunked prefill against the step-by-step recurrence, and
bad shapes/attributes."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

import edgert
from edgert.errors import EdgeRTError, OperatorArgumentError
from edgert.ops import sequence as seq

RULES = ("linear", "gated", "delta", "gated_delta")
OPSET = 27


def _model(node, inputs, outputs, opset=OPSET):
    graph = helper.make_graph([node], "g", inputs, outputs)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _vi(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def _la_case(rng, rule, b, t, hq, hkv, dk, dv, per_key, beta_scalar, past):
    q = rng.standard_normal((b, t, hq * dk)).astype(np.float32)
    # delta rules: L2-normalised keys keep the recurrence bounded, as in the models using them
    k = rng.standard_normal((b, t, hkv, dk)).astype(np.float32)
    if rule in ("delta", "gated_delta"):
        k /= np.linalg.norm(k, axis=-1, keepdims=True)
    k = k.reshape(b, t, hkv * dk)
    v = rng.standard_normal((b, t, hkv * dv)).astype(np.float32)
    feeds = {"q": q, "k": k, "v": v}
    names = ["q", "k", "v", "", "", ""]
    if past:
        feeds["s"] = rng.standard_normal((b, hkv, dk, dv)).astype(np.float32) * 0.5
        names[3] = "s"
    if rule in ("gated", "gated_delta"):
        feeds["g"] = -rng.uniform(0.0, 1.0, (b, t, hkv * dk if per_key else hkv)).astype(np.float32)
        names[4] = "g"
    if rule in ("delta", "gated_delta"):
        feeds["beta"] = rng.uniform(0.0, 1.0, (b, t, 1 if beta_scalar else hkv)).astype(np.float32)
        names[5] = "beta"
    while names and names[-1] == "":
        names.pop()
    return feeds, names


LA_SHAPES = [  # b, t, hq, hkv, dk, dv, per_key, beta_scalar, past
    (1, 1, 2, 2, 8, 8, False, False, True),
    (1, 7, 4, 2, 16, 12, True, False, True),
    (2, 5, 3, 1, 5, 9, False, True, False),
    (1, 33, 2, 2, 32, 32, True, True, True),
]


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("shape", LA_SHAPES)
@pytest.mark.parametrize("native", [False, True])
def test_linear_attention_matches_onnx_reference(rule, shape, native):
    rng = np.random.default_rng(hash((rule, shape)) % 2**32)
    b, t, hq, hkv, dk, dv, per_key, beta_scalar, past = shape
    feeds, names = _la_case(rng, rule, *shape)
    node = helper.make_node("LinearAttention", names, ["y", "present"], q_num_heads=hq, kv_num_heads=hkv,
                            update_rule=rule)
    model = _model(node, [_vi(n, feeds[n].shape) for n in names if n], [_vi("y", None), _vi("present", None)])
    want = ReferenceEvaluator(model).run(None, feeds)
    got = seq.onnx_linear_attention(*[feeds.get(n) if n else None for n in names] + [None] * (6 - len(names)),
                                    q_num_heads=hq, kv_num_heads=hkv, update_rule=rule, native=native)
    for w, g in zip(want, got):
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("rule", RULES)
def test_linear_attention_prefill_equals_steps(rule):
    rng = np.random.default_rng(3)
    t, hq, hkv, dk, dv = 12, 4, 2, 16, 8
    feeds, _ = _la_case(rng, rule, 1, t, hq, hkv, dk, dv, True, False, True)
    q, k, v = feeds["q"][0], feeds["k"][0], feeds["v"][0]
    g = feeds.get("g")
    beta = feeds.get("beta")
    for fn in (seq.linear_attention_ref, seq.linear_attention):
        s_all = feeds["s"][0].copy()
        y_all = fn(q, k, v, s_all, None if g is None else g[0], None if beta is None else beta[0], hq, hkv,
                   0.25, rule)
        s_step = feeds["s"][0].copy()
        steps = [fn(q[i:i + 1], k[i:i + 1], v[i:i + 1], s_step, None if g is None else g[0, i:i + 1],
                    None if beta is None else beta[0, i:i + 1], hq, hkv, 0.25, rule) for i in range(t)]
        np.testing.assert_allclose(np.concatenate(steps), y_all, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(s_step, s_all, rtol=1e-5, atol=1e-5)
    # native and numpy agree
    s1, s2 = feeds["s"][0].copy(), feeds["s"][0].copy()
    args = (None if g is None else g[0], None if beta is None else beta[0], hq, hkv, 0.25, rule)
    np.testing.assert_allclose(seq.linear_attention(q, k, v, s1, *args), seq.linear_attention_ref(q, k, v, s2, *args),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(s1, s2, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("k", [1, 2, 4])
@pytest.mark.parametrize("activation", ["none", "silu"])
@pytest.mark.parametrize("with_bias,with_past", [(True, True), (False, False), (True, False)])
@pytest.mark.parametrize("native", [False, True])
def test_causal_conv_matches_onnx_reference(k, activation, with_bias, with_past, native):
    rng = np.random.default_rng(k * 7 + with_bias * 3 + with_past)
    b, c, length = 2, 13, 9
    feeds = {"x": rng.standard_normal((b, c, length)).astype(np.float32),
             "w": rng.standard_normal((c, 1, k)).astype(np.float32)}
    names = ["x", "w", "", ""]
    if with_bias:
        feeds["bias"] = rng.standard_normal(c).astype(np.float32)
        names[2] = "bias"
    if with_past:
        feeds["s"] = rng.standard_normal((b, c, k - 1)).astype(np.float32)
        names[3] = "s"
    while names[-1] == "":
        names.pop()
    node = helper.make_node("CausalConvWithState", names, ["y", "present"], activation=activation)
    model = _model(node, [_vi(n, feeds[n].shape) for n in names if n], [_vi("y", None), _vi("present", None)])
    want = ReferenceEvaluator(model).run(None, feeds)
    got = seq.onnx_causal_conv_with_state(feeds["x"], feeds["w"], feeds.get("bias"), feeds.get("s"), activation,
                                          native=native)
    for w, g in zip(want, got):
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("fn", [seq.causal_conv, seq.causal_conv_ref])
def test_causal_conv_prefill_equals_steps(fn):
    rng = np.random.default_rng(5)
    t, c, k = 11, 37, 3
    x = rng.standard_normal((t, c)).astype(np.float32)
    w = rng.standard_normal((k, c)).astype(np.float32)
    bias = rng.standard_normal(c).astype(np.float32)
    s0 = rng.standard_normal((k - 1, c)).astype(np.float32)
    s_all, s_step = s0.copy(), s0.copy()
    y_all = fn(x, w, bias, s_all)
    y_step = np.concatenate([fn(x[i:i + 1], w, bias, s_step) for i in range(t)])
    np.testing.assert_allclose(y_step, y_all, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(s_step, s_all)
    np.testing.assert_array_equal(s_all, x[-(k - 1):])


def test_gated_conv_native_matches_numpy_and_definition():
    rng = np.random.default_rng(6)
    t, c, k = 6, 20, 3
    bcx = rng.standard_normal((t, 3 * c)).astype(np.float32)
    w = rng.standard_normal((k, c)).astype(np.float32)
    s0 = rng.standard_normal((k - 1, c)).astype(np.float32)
    s1, s2, s3 = s0.copy(), s0.copy(), s0.copy()
    y_native = seq.causal_conv_gated(bcx, w, None, s1)
    y_ref = seq.causal_conv_gated_ref(bcx, w, None, s2)
    b, gate, x = bcx[:, :c], bcx[:, c:2 * c], bcx[:, 2 * c:]
    y_def = gate * seq.causal_conv_ref(b * x, w, None, s3)
    np.testing.assert_allclose(y_native, y_ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(y_ref, y_def, rtol=0, atol=0)
    np.testing.assert_allclose(s1, s2, rtol=1e-6, atol=1e-7)


def test_rmsnorm_and_swiglu_native_match_numpy():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((5, 67)).astype(np.float32) * 3
    w = rng.standard_normal(67).astype(np.float32)
    np.testing.assert_allclose(seq.rms_norm(x, w, 1e-5), seq.rms_norm_ref(x, w, 1e-5), rtol=1e-5, atol=1e-5)
    up = rng.standard_normal(x.shape).astype(np.float32)
    np.testing.assert_allclose(seq.swiglu(x, up), seq.swiglu_ref(x, up), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("axis", [-1, -2, 1])
def test_rmsnormalization_matches_onnx_reference(axis):
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 3, 8)).astype(np.float32)
    scale = rng.standard_normal(x.shape[axis:] if axis >= 0 else x.shape[axis:]).astype(np.float32)
    node = helper.make_node("RMSNormalization", ["x", "scale"], ["y"], axis=axis, epsilon=1e-4)
    model = _model(node, [_vi("x", x.shape), _vi("scale", scale.shape)], [_vi("y", None)], opset=23)
    want = ReferenceEvaluator(model).run(None, {"x": x, "scale": scale})[0]
    np.testing.assert_allclose(seq.onnx_rms_normalization(x, scale, axis, 1e-4), want, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ onnx's own node test cases

def _collect():
    import warnings

    from onnx.backend.test.case import node as node_cases

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        every = node_cases.collect_testcases(None)
    ops = {"LinearAttention", "CausalConvWithState", "RMSNormalization"}
    return [c for c in every if c.model is not None and any(n.op_type in ops for n in c.model.graph.node)
            and not c.name.endswith("_expanded")]


NODE_CASES = _collect()


def test_node_cases_found():
    names = {c.name for c in NODE_CASES}
    assert any("linear_attention" in n for n in names)
    assert any("causal_conv" in n for n in names)
    assert any("rms_normalization" in n for n in names)


@pytest.mark.parametrize("case", NODE_CASES, ids=[c.name for c in NODE_CASES])
def test_onnx_node_case_through_edgert_load(case):
    model = case.model
    inputs, outputs = case.data_sets[0]
    names = [vi.name for vi in model.graph.input]
    feeds = dict(zip(names, inputs))
    if any(np.asarray(a).dtype != np.float32 for a in inputs):
        pytest.skip("edgert's sequence ops are fp32")
    got = edgert.load(model, backend="edgert").run(feeds)
    for vi, want in zip(model.graph.output, outputs):
        np.testing.assert_allclose(got[vi.name], want, rtol=max(case.rtol, 1e-4), atol=max(case.atol, 1e-5))


# ------------------------------------------------------------------ bad input

def _la_node_model(**attrs):
    node = helper.make_node("LinearAttention", ["q", "k", "v"], ["y", "present"], name="la0", **attrs)
    return _model(node, [_vi("q", [1, 2, 8]), _vi("k", [1, 2, 8]), _vi("v", [1, 2, 8])],
                  [_vi("y", None), _vi("present", None)])


def test_bad_linear_attention_arguments_name_the_node():
    q = np.zeros((1, 2, 8), np.float32)
    with pytest.raises(OperatorArgumentError, match="la0"):
        seq.onnx_linear_attention(q, q, q, q_num_heads=3, kv_num_heads=2, update_rule="linear", node="la0")
    with pytest.raises(OperatorArgumentError, match="decay"):
        seq.onnx_linear_attention(q, q, q, q_num_heads=2, kv_num_heads=2, update_rule="gated", node="la0")
    with pytest.raises(OperatorArgumentError, match="update_rule"):
        seq.onnx_linear_attention(q, q, q, q_num_heads=2, kv_num_heads=2, update_rule="mamba", node="la0")
    with pytest.raises(OperatorArgumentError, match="past_state"):
        seq.onnx_linear_attention(q, q, q, np.zeros((1, 2, 3, 4), np.float32), q_num_heads=2, kv_num_heads=2,
                                  update_rule="linear", node="la0")
    with pytest.raises(EdgeRTError, match="la0"):
        model = _la_node_model(q_num_heads=3, kv_num_heads=2, update_rule="linear")
        edgert.load(model, backend="edgert").run({"q": q, "k": q, "v": q})


def test_bad_causal_conv_arguments_name_the_node():
    x = np.zeros((1, 4, 5), np.float32)
    with pytest.raises(OperatorArgumentError, match="cc1.*weight"):
        seq.onnx_causal_conv_with_state(x, np.zeros((3, 1, 3), np.float32), node="cc1")
    with pytest.raises(OperatorArgumentError, match="past_state"):
        seq.onnx_causal_conv_with_state(x, np.zeros((4, 1, 3), np.float32), None, np.zeros((1, 4, 3), np.float32),
                                        node="cc1")
    with pytest.raises(OperatorArgumentError, match="activation"):
        seq.onnx_causal_conv_with_state(x, np.zeros((4, 1, 3), np.float32), activation="relu", node="cc1")


def test_native_wrappers_reject_bad_state():
    w = np.zeros((3, 4), np.float32)
    with pytest.raises(ValueError, match="state"):
        seq.causal_conv(np.zeros((2, 4), np.float32), w, None, np.zeros((3, 4), np.float32))
    with pytest.raises(ValueError, match="state"):
        seq.causal_conv(np.zeros((2, 4), np.float32), w, None, np.zeros((2, 4), np.float64))


def test_edgert_load_runs_the_native_kernels(monkeypatch):
    """The lowering, not the reference fallback, runs LinearAttention and CausalConvWithState."""
    used = []
    real = seq._native
    monkeypatch.setattr(seq, "_native", lambda: used.append(1) or real())
    rng = np.random.default_rng(11)
    conv = helper.make_node("CausalConvWithState", ["x", "w"], ["c", "cs"])
    la = helper.make_node("LinearAttention", ["q", "k", "v"], ["y", "s"], q_num_heads=2, kv_num_heads=2,
                          update_rule="linear")
    w = helper.make_tensor("w", TensorProto.FLOAT, [4, 1, 3], rng.standard_normal(12).astype(np.float32).tolist())
    graph = helper.make_graph([conv, la], "g", [_vi("x", [1, 4, 5]), _vi("q", [1, 3, 8]), _vi("k", [1, 3, 8]),
                                                _vi("v", [1, 3, 8])],
                              [_vi("c", None), _vi("cs", None), _vi("y", None), _vi("s", None)], initializer=[w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    feeds = {"x": rng.standard_normal((1, 4, 5)).astype(np.float32),
             **{n: rng.standard_normal((1, 3, 8)).astype(np.float32) for n in "qkv"}}
    got = edgert.load(model, backend="edgert").run(feeds)
    want = ReferenceEvaluator(model).run(None, feeds)
    for name, w_ in zip(["c", "cs", "y", "s"], want):
        np.testing.assert_allclose(got[name], w_, rtol=1e-5, atol=1e-5)
    assert len(used) >= 2
