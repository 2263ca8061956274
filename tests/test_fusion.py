"""Load-time fusions: the depthwise -> 1x1 fusion (ai.edgert DepthwisePointwise), always correct
whether the planner runs it fused (EDGERT_DWPW_FUSION=always) or as two convs (never), constant
scales folded into the conv before them, and HorNet's gnConv as one GnConv operator."""
from __future__ import annotations

import numpy as np
import pytest

import edgert
from model_zoo import GraphBuilder, conv, mobilenet_v2, relu6


def dw_pw_model(size, k, stride, channels, out_channels, pads, seed):
    g = GraphBuilder(seed=seed)
    x = g.input("x", [2, channels, *size])
    y = conv(g, x, channels, channels, k=k, stride=stride, group=channels, pads=pads)
    y = relu6(g, y)
    y = conv(g, y, channels, out_channels, k=1, pads=[0, 0, 0, 0])
    return g.model([y])


def _fused_steps(sess):
    plan = sess.plan_for([t.shape for t in sess.inputs])
    return [s for s in plan.steps if "+ 1x1" in s.label]


@pytest.mark.parametrize("mode", ["always", "never"])
@pytest.mark.parametrize("size,k,stride,channels,out_channels,pads", [
    ((7, 9), 3, 1, 16, 24, [1, 1, 1, 1]),
    ((13, 6), 3, 2, 9, 5, [1, 1, 1, 1]),
    ((1, 1), 3, 1, 8, 16, [1, 1, 1, 1]),
    ((12, 12), 5, 2, 33, 17, [2, 2, 2, 2]),
    ((10, 11), 7, 1, 20, 8, [3, 1, 0, 2]),
    ((31, 29), 3, 2, 40, 64, [0, 0, 1, 1]),
])
def test_depthwise_pointwise_matches_onnxruntime(monkeypatch, check_parity, random_feeds, mode, size, k, stride,
                                                 channels, out_channels, pads):
    monkeypatch.setenv("EDGERT_DWPW_FUSION", mode)
    model = dw_pw_model(size, k, stride, channels, out_channels, pads, seed=k * 10 + stride)
    sess = edgert.load(model, threads=1)
    assert any(n.op_type == "DepthwisePointwise" for n in sess._graph.nodes)
    assert bool(_fused_steps(sess)) == (mode == "always")
    check_parity(model, random_feeds(model))


def test_mobilenet_v2_fused_equals_unfused(monkeypatch, random_feeds, run_reference, assert_matches):
    model = mobilenet_v2(size=64)
    feeds = random_feeds(model)
    results = {}
    for mode in ("always", "never"):
        monkeypatch.setenv("EDGERT_DWPW_FUSION", mode)
        sess = edgert.load(model, threads=2)
        assert len(_fused_steps(sess)) == (17 if mode == "always" else 0)
        results[mode] = sess.run(feeds)
        assert_matches(results[mode], run_reference(model, feeds), what=f"fusion={mode}")
    for name, value in results["always"].items():
        np.testing.assert_allclose(value, results["never"][name], rtol=0, atol=1e-4 * np.abs(value).max())


@pytest.mark.parametrize("factor_shape, folded", [((), True), ((6, 1, 1), True), ((1, 6, 1, 1), True),
                                                  ((1, 1, 5, 7), False), ((6, 5, 7), False)])
def test_constant_scale_after_conv(factor_shape, folded, check_parity, random_feeds):
    """Conv -> Mul(constant) folds into the conv when the factor is a scalar or one value per output
    channel; any other broadcast (per pixel) stays a Mul. Both agree with onnxruntime."""
    g = GraphBuilder(seed=3)
    x = g.input("x", [2, 4, 5, 7])
    y = conv(g, x, 4, 6, k=3, pads=[1, 1, 1, 1])
    factor = g.const(np.random.default_rng(1).uniform(-2, 2, factor_shape).astype(np.float32))
    model = g.model([g.op("Mul", [y, factor])])
    sess = edgert.load(model, threads=1, backend="edgert")
    labels = [s.label for s in sess.plan_for([t.shape for t in sess.inputs]).steps]
    assert ("Mul" not in labels) == folded, labels
    check_parity(model, random_feeds(model))


def gnconv_model(dim, order, size, k=7, relu_after=False, seed=0):
    """HorNet's gnConv in standard ops, as torch.onnx writes edgert.zoo.hornet.GnConv (Split sizes
    as an input), without torch."""
    g = GraphBuilder(seed=seed)
    dims = [dim >> (order - 1 - i) for i in range(order)]
    x = g.input("x", [2, dim, *size])
    pwa, abc = g.op("Split", [conv(g, x, dim, 2 * dim, k=1), g.ints([dims[0], sum(dims)])], outputs=2, axis=1)
    gates = g.op("Split", [conv(g, abc, sum(dims), sum(dims), k=k, group=sum(dims)), g.ints(dims)], outputs=order,
                 axis=1)
    gates = [gates] if order == 1 else gates
    y = g.op("Mul", [pwa, gates[0]])
    for i in range(order - 1):
        y = g.op("Mul", [conv(g, y, dims[i], dims[i + 1], k=1), gates[i + 1]])
    y = conv(g, y, dim, dim, k=1)
    return g.model([g.op("Relu", [y]) if relu_after else y])


@pytest.mark.parametrize("dim, order, size, k, relu_after", [
    (16, 1, (5, 6), 7, False), (16, 2, (9, 11), 7, True), (32, 3, (8, 8), 5, False), (64, 5, (7, 13), 7, False),
    (32, 4, (1, 1), 3, False), (8, 3, (40, 3), 7, True),
])
def test_gnconv_is_one_operator_and_matches_the_reference(dim, order, size, k, relu_after, random_feeds,
                                                          run_reference, assert_matches):
    model = gnconv_model(dim, order, size, k, relu_after, seed=order)
    feeds = random_feeds(model)
    results = []
    for threads in (1, 2):
        sess = edgert.load(model, threads=threads)
        labels = [s.label for s in sess.plan_for([t.shape for t in sess.inputs]).steps]
        assert [lb for lb in labels if lb.startswith("GnConv")] == [f"GnConv[order {order}, {k}x{k}]"], labels
        assert not [lb for lb in labels if lb.startswith(("Split", "Mul", "Conv", "Relu"))], labels
        results.append(sess.run(feeds))
        assert_matches(results[-1], run_reference(model, feeds), what=f"{threads} threads")
    for name, value in results[0].items():
        np.testing.assert_array_equal(value, results[1][name])  # block sizes depend on the shape only


def test_gnconv_fusion_can_be_turned_off(monkeypatch, random_feeds, assert_matches):
    model = gnconv_model(32, 3, (6, 7), seed=3)
    feeds = random_feeds(model)
    fused = edgert.load(model, threads=1).run(feeds)
    monkeypatch.setenv("EDGERT_GNCONV_FUSION", "never")
    sess = edgert.load(model, threads=1)
    labels = [s.label for s in sess.plan_for([t.shape for t in sess.inputs]).steps]
    assert not [lb for lb in labels if lb.startswith("GnConv")] and labels.count("Mul") == 3, labels
    assert_matches(sess.run(feeds), fused, what="unfused vs fused")
