"""Whole-network parity against onnxruntime at several input sizes, batches and opsets, and the
Session API contract: metadata, input validation, unsupported operators, the auto fallback, broken
model files, and result ownership."""

import numpy as np
import onnx
import pytest

import edgert
import model_zoo as mz
from edgert.errors import EdgeRTError, InputError, UnsupportedOperatorError

# Small spatial sizes (odd, even and non-square) keep the suite fast; 224x224 is for benchmarks.
NETWORKS = [
    ("mobilenet_v2", dict(size=32, width=0.35, batch=1)),
    ("mobilenet_v2", dict(size=57, width=0.5, batch=2)),
    ("mobilenet_v2", dict(size=(40, 56), width=1.0, batch=1, opset=11)),
    ("mobilenet_v2", dict(size=33, width=0.75, batch=1, opset=21)),
    ("mobilenet_v3", dict(size=33, batch=1, se_pool="gap")),
    ("mobilenet_v3", dict(size=64, width=0.75, batch=2, se_pool="mean", opset=18)),
    ("mobilenet_v3", dict(size=48, batch=1, se_pool="mean", opset=13)),  # x * HardSigmoid(x)
    ("resnet", dict(size=32, width=0.25, batch=1)),
    ("resnet", dict(size=45, width=0.5, batch=2, flatten="view")),
    ("resnet", dict(size=(50, 38), width=0.25, batch=1, opset=11, flatten="view")),
    ("exporter_cnn", dict(size=32, batch=1, opset=11)),
    ("exporter_cnn", dict(size=33, batch=2, opset=13)),
    ("exporter_cnn", dict(size=(31, 40), batch=1, opset=21)),
]


def _network_id(entry):
    name, kw = entry
    return name + "-" + "-".join(f"{k}={v}" for k, v in kw.items()).replace(" ", "")


@pytest.mark.parametrize("name, kwargs", NETWORKS, ids=[_network_id(e) for e in NETWORKS])
def test_network_matches_onnxruntime(name, kwargs, check_parity, random_feeds):
    model = getattr(mz, name)(**kwargs)
    check_parity(model, random_feeds(model))


def test_zoo_is_deterministic():
    # Parity failures must reproduce: the same arguments give the same bytes, another seed does not.
    first, again = (mz.mobilenet_v3(size=32, seed=7).SerializeToString() for _ in range(2))
    assert first == again
    assert mz.mobilenet_v3(size=32, seed=8).SerializeToString() != first


@pytest.fixture(scope="module")
def dynamic_mobilenet():
    return mz.mobilenet_v2(size=32, width=0.35, batch=None)


def test_symbolic_batch_runs_at_several_batches(dynamic_mobilenet, random_feeds, run_reference, assert_matches):
    sess = edgert.load(dynamic_mobilenet, threads=2, backend="edgert")
    batch_dim = sess.inputs[0].shape[0]
    assert batch_dim is None or isinstance(batch_dim, str), f"batch dim reported as {batch_dim!r}"
    for batch in (1, 3, 2):
        feeds = random_feeds(dynamic_mobilenet, seed=batch, dims={"batch": batch})
        assert_matches(sess.run(feeds), run_reference(dynamic_mobilenet, feeds), what=f"batch={batch}")


@pytest.fixture(scope="module")
def two_input_model():
    return mz.op_model(mz.find_case("add_same_shape"))  # inputs x, x1: float32 [2, 8, 7, 9]


def test_session_metadata(two_input_model, random_feeds):
    sess = edgert.load(two_input_model, backend="edgert")
    assert [(i.name, tuple(i.shape), np.dtype(i.dtype)) for i in sess.inputs] == [
        ("x", (2, 8, 7, 9), np.float32), ("x1", (2, 8, 7, 9), np.float32)]
    assert [o.name for o in sess.outputs] == [o.name for o in two_input_model.graph.output]
    out = sess.run(random_feeds(two_input_model))
    for info in sess.outputs:
        assert np.dtype(info.dtype) == out[info.name].dtype
        if all(isinstance(d, int) for d in info.shape):
            assert tuple(info.shape) == out[info.name].shape


def test_model_sources_agree(tmp_path, two_input_model, random_feeds):
    path = tmp_path / "model.onnx"
    onnx.save(two_input_model, path)
    feeds = random_feeds(two_input_model)
    results = [edgert.load(src, backend="edgert").run(feeds)
               for src in (two_input_model, two_input_model.SerializeToString(), path, str(path))]
    for other in results[1:]:
        for name, value in results[0].items():
            assert np.array_equal(other[name], value)


def test_outputs_are_not_overwritten_by_later_runs():
    # An arena runtime that hands out views of its buffers would corrupt earlier results.
    model = mz.exporter_cnn(size=32)
    sess = edgert.load(model, backend="edgert")
    x_a, x_b = (np.random.default_rng(s).standard_normal((1, 3, 32, 32), dtype=np.float32) for s in (1, 2))
    out_a = sess.run({"input": x_a})
    first = {k: v.copy() for k, v in out_a.items()}
    sess.run({"input": x_b})
    again = sess.run({"input": x_a})
    for name in first:
        assert np.array_equal(out_a[name], first[name]), "an earlier result changed after another run()"
        assert np.array_equal(again[name], first[name]), "same input gave a different result on re-run"


def test_non_contiguous_input(run_reference, assert_matches):
    model = mz.exporter_cnn(size=32)
    big = np.random.default_rng(3).standard_normal((1, 3, 64, 32), dtype=np.float32)
    x = big[:, :, ::2, :]  # a strided view, as slicing a camera frame gives
    assert not x.flags.c_contiguous
    out = edgert.load(model, backend="edgert").run({"input": x})
    assert_matches(out, run_reference(model, {"input": np.ascontiguousarray(x)}))


# --- input validation -------------------------------------------------------------------------

GOOD = np.zeros((2, 8, 7, 9), np.float32)
BAD_FEEDS = {
    "wrong_name": {"x": GOOD, "X1": GOOD},
    "missing_input": {"x": GOOD},
    "extra_input": {"x": GOOD, "x1": GOOD, "x2": GOOD},
    "float64": {"x": GOOD, "x1": GOOD.astype(np.float64)},
    "int32": {"x": GOOD.astype(np.int32), "x1": GOOD},
    "rank_too_low": {"x": GOOD, "x1": GOOD[0]},
    "rank_too_high": {"x": GOOD[None], "x1": GOOD},
    "wrong_static_dim": {"x": GOOD, "x1": np.zeros((2, 8, 7, 10), np.float32)},
    "wrong_batch": {"x": np.zeros((1, 8, 7, 9), np.float32), "x1": GOOD},
}


@pytest.mark.parametrize("feeds", BAD_FEEDS.values(), ids=BAD_FEEDS.keys())
def test_bad_inputs_raise_input_error(two_input_model, feeds):
    sess = edgert.load(two_input_model, backend="edgert")
    with pytest.raises(InputError):
        sess.run(feeds)


def test_symbolic_batch_still_checks_static_dims(dynamic_mobilenet):
    sess = edgert.load(dynamic_mobilenet, backend="edgert")
    with pytest.raises(InputError):
        sess.run({"input": np.zeros((2, 4, 32, 32), np.float32)})


# --- unsupported operators and the auto fallback -----------------------------------------------


def _det_model():
    g = mz.GraphBuilder(seed=0, opset=17)
    x = g.input("x", [2, 3, 3])
    return g.model([g.op("Det", [g.op("Tanh", [x])])])


def _custom_op_model():
    g = mz.GraphBuilder(seed=0, opset=17)
    x = g.input("x", [1, 4])
    y = g.op("FancyActivation", [g.op("Relu", [x])], domain="com.example.vendor")
    model = g.model([y], check=False)  # no schema to check a vendor op against
    model.opset_import.append(onnx.helper.make_opsetid("com.example.vendor", 1))
    model.graph.output[0].type.CopyFrom(onnx.helper.make_tensor_type_proto(onnx.TensorProto.FLOAT, [1, 4]))
    return model


@pytest.mark.parametrize("make, op_type", [(_det_model, "Det"), (_custom_op_model, "FancyActivation")])
def test_unsupported_operator_is_named(make, op_type):
    model = make()
    node = next(n for n in model.graph.node if n.op_type == op_type)
    with pytest.raises(UnsupportedOperatorError) as info:
        edgert.load(model, backend="edgert")
    assert op_type in str(info.value) and node.name in str(info.value), str(info.value)


def test_auto_backend_falls_back_for_unsupported_ops(run_reference, assert_matches):
    model = _det_model()
    feeds = {"x": np.random.default_rng(4).standard_normal((2, 3, 3), dtype=np.float32)}
    with pytest.warns(RuntimeWarning, match="Det"):  # the fallback is announced, naming the op
        sess = edgert.load(model, backend="auto")
    assert_matches(sess.run(feeds), run_reference(model, feeds), what="auto")


def test_onnxruntime_backend_matches_reference(run_reference, assert_matches, random_feeds):
    model = mz.exporter_cnn(size=32)
    feeds = random_feeds(model)
    assert_matches(edgert.load(model, backend="onnxruntime").run(feeds), run_reference(model, feeds),
                   what="backend=onnxruntime")


# --- broken model files ---------------------------------------------------------------------------


def _broken_models():
    good = mz.exporter_cnn(size=32).SerializeToString()
    rng = np.random.default_rng(5)
    return {
        "truncated": good[: len(good) // 2],
        "garbage": rng.integers(0, 256, 4096, dtype=np.uint8).tobytes(),
        "empty": b"",
        "text": b"this is not an onnx model\n",
    }


@pytest.mark.parametrize("kind", ["truncated", "garbage", "empty", "text"])
@pytest.mark.parametrize("as_path", [True, False], ids=["path", "bytes"])
def test_broken_model_raises_edgert_error(kind, as_path, tmp_path):
    data = _broken_models()[kind]
    source = data
    if as_path:
        source = tmp_path / f"{kind}.onnx"
        source.write_bytes(data)
    with pytest.raises(EdgeRTError):
        edgert.load(source, backend="edgert")
