"""Behaviour of edgert's native Session beyond numeric parity (test_parity_* covers that):
threads, result ownership, concurrent callers, the arena and layout plan, constant folding,
the scalar kernel path, per-shape plans, backend selection and load-time errors."""

from __future__ import annotations

import gc
import json
import os
import pathlib
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import onnx
import pytest

import edgert
import model_zoo as mz
from edgert.errors import (BackendUnavailableError, EdgeRTError, InputError, ModelLoadError,
                           UnsupportedOperatorError)

TESTS_DIR = pathlib.Path(__file__).parent


@pytest.fixture(scope="module")
def mobilenet():
    return mz.mobilenet_v2(size=32, width=0.35)


@pytest.fixture(scope="module")
def mobilenet_feeds(mobilenet):
    rng = np.random.default_rng(2024)
    return [{"input": rng.standard_normal((1, 3, 32, 32)).astype(np.float32)} for _ in range(4)]


def _plan(sess, shapes=None):
    """The plan a run with these input shapes uses (the static shapes by default)."""
    return sess.plan_for(shapes if shapes is not None else sess.static_input_shapes())


# ------------------------------------------------------------------------------ threads

TASKS = pathlib.Path("/proc/self/task")


def _tasks() -> int:
    return len(os.listdir(TASKS))


def _settled_tasks(timeout=5.0) -> int:
    """This process's OS thread count once no thread is still exiting (after a gc)."""
    gc.collect()
    deadline = time.monotonic() + timeout
    last = _tasks()
    while time.monotonic() < deadline:
        time.sleep(0.02)
        now = _tasks()
        if now == last:
            return now
        last = now
    return last


def _wait_for_tasks(expected: int, timeout=5.0) -> int:
    deadline = time.monotonic() + timeout
    while _tasks() != expected and time.monotonic() < deadline:
        time.sleep(0.01)
    return _tasks()


@pytest.mark.skipif(not TASKS.is_dir(), reason="counts OS threads through Linux /proc")
@pytest.mark.parametrize("threads", [1, 2, 3, 4])
def test_threads_starts_exactly_n_minus_one_os_threads(threads):
    # threads counts the caller, so N means N-1 workers, also when N exceeds the cores (4 on 2).
    model = mz.mobilenet_v2(size=32, width=0.35, batch=None)  # several plans, one pool
    before = _settled_tasks()
    sess = edgert.load(model, threads=threads, backend="edgert")
    assert sess.threads == threads
    assert _tasks() == before + threads - 1, f"threads={threads}: {_tasks() - before} new OS threads"
    for batch in (1, 2):  # planning and running must not start more
        sess.run({"input": np.zeros((batch, 3, 32, 32), np.float32)})
    assert _tasks() == before + threads - 1
    del sess
    gc.collect()
    assert _wait_for_tasks(before) == before, "worker threads outlived their Session"


@pytest.mark.skipif(not TASKS.is_dir(), reason="counts OS threads through Linux /proc")
def test_default_threads_is_every_usable_core():
    model = mz.op_model(mz.find_case("conv_3x3"))
    cores = len(os.sched_getaffinity(0))
    before = _settled_tasks()
    sess = edgert.load(model, backend="edgert")
    assert sess.threads == cores
    assert _tasks() == before + cores - 1
    del sess
    gc.collect()
    assert _wait_for_tasks(before) == before


@pytest.mark.parametrize("threads", [0, -1, "2", 2.0, True])
def test_bad_threads_raise_input_error(threads):
    with pytest.raises(InputError, match="threads"):
        edgert.load(mz.op_model(mz.find_case("conv_3x3")), threads=threads, backend="edgert")


def test_numpy_integer_threads_accepted():
    sess = edgert.load(mz.op_model(mz.find_case("conv_3x3")), threads=np.int64(2), backend="edgert")
    assert sess.threads == 2 and type(sess.threads) is int


# ------------------------------------------------------------------------------ result ownership


def _model_with_folded_output():
    """Two outputs: a computed one and Shape(x), which folds to a constant at plan time."""
    g = mz.GraphBuilder(seed=3)
    x = g.input("x", [2, 8, 7, 9])
    y = mz.conv(g, x, 8, 8, 3)
    return g.model([y, g.op("Shape", [x])], "folded_output")


def test_repeated_runs_identical_and_fresh(run_reference, assert_matches):
    model = _model_with_folded_output()
    sess = edgert.load(model, threads=2, backend="edgert")
    x = np.random.default_rng(5).standard_normal((2, 8, 7, 9)).astype(np.float32)
    first = sess.run({"x": x})
    assert_matches(first, run_reference(model, {"x": x}))
    pristine = {k: v.copy() for k, v in first.items()}
    arena = _plan(sess).arena
    for name, value in first.items():
        assert not np.shares_memory(value, arena), f"{name!r} is a view of the arena"
        value[...] = 7  # the caller owns the result and may scribble on it
    for _ in range(3):
        again = sess.run({"x": x})
        for name, value in pristine.items():
            np.testing.assert_array_equal(again[name], value, err_msg=f"{name!r} after mutating a result")
            assert not np.shares_memory(again[name], first[name])
            assert again[name].flags.writeable and again[name].flags.owndata


# ------------------------------------------------------------------------------ concurrency


def _hammer(jobs: list, n_runs: int) -> list[str]:
    """Runs each job(i) n_runs times, one Python thread per job, all started together."""
    errors: list[str] = []
    barrier = threading.Barrier(len(jobs))

    def worker(job):
        try:
            barrier.wait(timeout=30)
            for i in range(n_runs):
                problem = job(i)
                if problem:
                    errors.append(problem)
                    return
        except Exception as e:  # noqa: BLE001 - any failure in a worker is a test failure
            errors.append(f"{type(e).__name__}: {e}")

    workers = [threading.Thread(target=worker, args=(job,)) for job in jobs]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert not any(w.is_alive() for w in workers), "a worker hung (deadlock?)"
    return errors


def _same(got: dict, want: dict, who: str) -> str | None:
    if sorted(got) != sorted(want):
        return f"{who}: outputs {sorted(got)}"
    for name, value in want.items():
        if not np.array_equal(got[name], value):
            return f"{who}: {name!r} differs by up to {np.abs(got[name] - value).max():.3g}"
    return None


def test_threads_sharing_one_session(mobilenet, mobilenet_feeds, run_reference, assert_matches):
    sess = edgert.load(mobilenet, threads=2, backend="edgert")
    expected = [sess.run(f) for f in mobilenet_feeds]  # one session, deterministic: bit-exact
    for f, e in zip(mobilenet_feeds, expected):
        assert_matches(e, run_reference(mobilenet, f))
    out_name = sess.outputs[0].name
    assert not np.array_equal(expected[0][out_name], expected[1][out_name]), "feeds must differ"

    def job_for(k):
        return lambda i: _same(sess.run(mobilenet_feeds[k]), expected[k], f"thread {k} run {i}")

    errors = _hammer([job_for(k) for k in range(4)], n_runs=20)
    assert not errors, errors[:5]


def test_two_sessions_concurrently(mobilenet, mobilenet_feeds, run_reference, assert_matches):
    other = mz.exporter_cnn(size=32)
    other_feeds = {"input": np.random.default_rng(8).standard_normal((1, 3, 32, 32)).astype(np.float32)}
    a = edgert.load(mobilenet, threads=2, backend="edgert")
    b = edgert.load(other, threads=2, backend="edgert")
    want_a, want_b = a.run(mobilenet_feeds[0]), b.run(other_feeds)
    assert_matches(want_a, run_reference(mobilenet, mobilenet_feeds[0]))
    assert_matches(want_b, run_reference(other, other_feeds))
    errors = _hammer([lambda i: _same(a.run(mobilenet_feeds[0]), want_a, f"session A run {i}"),
                      lambda i: _same(b.run(other_feeds), want_b, f"session B run {i}")], n_runs=20)
    assert not errors, errors[:5]


# ------------------------------------------------------------------------------ plan: arena, layouts


def test_arena_reuses_memory(mobilenet):
    plan = _plan(edgert.load(mobilenet, threads=1, backend="edgert"))
    assert 0 < plan.arena_bytes < plan.naive_bytes
    # Liveness reuse on a 50-layer chain is worth far more than a few percent.
    assert plan.arena_bytes <= 0.5 * plan.naive_bytes, (plan.arena_bytes, plan.naive_bytes)
    assert plan.arena.nbytes >= plan.arena_bytes


def _conversions(plan) -> list:
    return [s for s in plan.steps if not s.node]


def test_mobilenet_v2_layout_conversions(mobilenet):
    # The whole network runs NHWC: the only tensor that has to change layout is the NCHW image
    # (its [N, C, 1, 1] pooled features are the same bytes in either layout). That takes exactly
    # one conversion, unless the stem conv gathers its taps from the NCHW image in place, which
    # makes it zero.
    plan = _plan(edgert.load(mobilenet, threads=1, backend="edgert"))
    conversions = _conversions(plan)
    convs = [s for s in plan.steps if s.label.startswith("Conv")]
    stem_reads_image = any(v is plan.inputs[0] for v in convs[0].reads)
    expected = 0 if stem_reads_image else 1
    assert len(conversions) == expected, [s.label for s in conversions]
    for step in conversions:
        assert step.label == "to_nhwc" and step.reads == [plan.inputs[0]], step.label


def test_one_conversion_when_the_image_is_not_read_in_place():
    # 8 input channels: the first conv reads NHWC, so the image is converted once and nothing else is.
    model = mz.op_model(mz.find_case("conv_3x3"))
    plan = _plan(edgert.load(model, threads=1, backend="edgert"))
    assert [s.label for s in _conversions(plan)] == ["to_nhwc"]


def test_shape_chain_folds_at_load(run_reference, assert_matches, random_feeds):
    # torch's x.view(x.size(0), -1): Shape -> Gather -> Unsqueeze -> Concat -> Reshape.
    model = mz.exporter_cnn(size=32)
    chain = {n.name: n.op_type for n in model.graph.node
             if n.op_type in ("Shape", "Gather", "Unsqueeze", "Concat")}
    assert sorted(set(chain.values())) == ["Concat", "Gather", "Shape", "Unsqueeze"]
    sess = edgert.load(model, threads=1, backend="edgert")
    plan = _plan(sess)
    left = [(s.label, s.node) for s in plan.steps
            if s.node in chain or s.label.split("[")[0] in ("Shape", "Gather", "Unsqueeze", "Concat")]
    assert left == [], f"shape arithmetic still runs at inference: {left}"
    on_numpy = [(s.label, s.node) for s in plan.steps if not s.native]
    assert on_numpy == [], f"steps on the numpy reference path: {on_numpy}"
    feeds = random_feeds(model)
    assert_matches(sess.run(feeds), run_reference(model, feeds))


# ------------------------------------------------------------------------------ scalar kernels

SCALAR_SCRIPT = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, sys.argv[1])
    import edgert
    from edgert._ops import _kernels as K
    import model_zoo as mz
    from conftest import assert_matches, random_feeds, run_reference

    checked = []
    for name, model in [("mobilenet_v2", mz.mobilenet_v2(size=33, width=0.5, batch=2)),
                        ("mobilenet_v3", mz.mobilenet_v3(size=32, width=0.5))]:
        feeds = random_feeds(model, seed=7)
        out = edgert.load(model, threads=2, backend="edgert").run(feeds)
        assert_matches(out, run_reference(model, feeds), what=f"{name} on scalar kernels")
        checked.append(name)
    print(json.dumps({"dispatch": K.dispatch_info(), "cpu": K.cpu_features(), "checked": checked}))
""")


def test_scalar_kernels_end_to_end():
    env = dict(os.environ, EDGERT_KERNELS="scalar")
    proc = subprocess.run([sys.executable, "-c", SCALAR_SCRIPT, str(TESTS_DIR)], capture_output=True,
                          text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["dispatch"]["isa"] == "scalar", report
    assert "scalar" in report["dispatch"]["gemm"], report
    assert not any(report["cpu"].values()), f"SIMD features still visible: {report['cpu']}"
    assert report["checked"] == ["mobilenet_v2", "mobilenet_v3"]


# ------------------------------------------------------------------------------ plans per shape


def test_one_plan_per_batch_size(run_reference, assert_matches, random_feeds):
    model = mz.mobilenet_v2(size=32, width=0.35, batch=None)
    sess = edgert.load(model, threads=2, backend="edgert")
    assert len(sess._plans) == 0, "nothing to plan before the batch size is known"
    results, packed = {}, None
    for count, batch in enumerate((1, 3, 2), start=1):
        feeds = random_feeds(model, seed=batch, dims={"batch": batch})
        results[batch] = (feeds, sess.run(feeds))
        assert_matches(results[batch][1], run_reference(model, feeds), what=f"batch={batch}")
        assert len(sess._plans) == count, f"after batch {batch}: {len(sess._plans)} plans"
        packed = packed or dict(sess._weights)
        assert {k: id(v) for k, v in sess._weights.items()} == {k: id(v) for k, v in packed.items()}
    plans = {b: sess.plan_for([(b, 3, 32, 32)]) for b in (1, 3, 2)}
    assert len({id(p) for p in plans.values()}) == 3
    for batch, (feeds, first) in results.items():  # going back to a batch reuses its plan
        again = sess.run(feeds)
        for name in first:
            np.testing.assert_array_equal(again[name], first[name])
        assert sess.plan_for([(batch, 3, 32, 32)]) is plans[batch]
    assert len(sess._plans) == 3
    # Each plan has its own arena, sized for its batch (the packed weights are shared, above).
    assert plans[3].arena_bytes > plans[2].arena_bytes > plans[1].arena_bytes


# ------------------------------------------------------------------------------ backends, load errors


def test_litert_backend_on_onnx_file(tmp_path):
    path = tmp_path / "model.onnx"
    onnx.save(mz.op_model(mz.find_case("conv_3x3")), path)
    with pytest.raises(EdgeRTError) as info:
        edgert.load(str(path), backend="litert")
    # Without LiteRT installed: BackendUnavailableError; with it: it cannot load an ONNX file.
    assert isinstance(info.value, (BackendUnavailableError, ModelLoadError)), repr(info.value)


def test_unknown_backend(tmp_path):
    path = tmp_path / "model.onnx"
    onnx.save(mz.op_model(mz.find_case("conv_3x3")), path)
    with pytest.raises(EdgeRTError, match="nope") as info:
        edgert.load(str(path), backend="nope")
    for name in edgert.BACKENDS:
        assert name in str(info.value)


def test_conv_weight_as_graph_input_is_unsupported():
    g = mz.GraphBuilder(seed=0)
    x = g.input("x", [1, 3, 8, 8])
    w = g.input("w", [4, 3, 3, 3])  # weights fed at run time, not an initializer
    g.op("Conv", [x, w], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    model = g.model(["conv_0_y0"])
    with pytest.raises(UnsupportedOperatorError) as info:
        edgert.load(model, backend="edgert")
    assert info.value.op_type == "Conv" and info.value.node == "conv_0"
    assert "Conv" in str(info.value) and "conv_0" in str(info.value)


def _depthwise_model(input_dims):
    from onnx import TensorProto, helper, numpy_helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, input_dims)
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    w = numpy_helper.from_array(np.ones((64, 1, 3, 3), np.float32), "w")
    node = helper.make_node("Conv", ["x", "w"], ["y"], group=64, pads=[1, 1, 1, 1])
    graph = helper.make_graph([node], "huge", [x], [y], [w])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_shapes_too_large_to_allocate_are_errors_not_crashes():
    from edgert.errors import ModelLoadError

    # Planning checks each node's output size (edgert.ops.checks) before anything is allocated.
    with pytest.raises(ModelLoadError, match="output shape .1, 64, 200000, 200000. needs .* more than this machine's memory"):
        edgert.load(_depthwise_model([1, 64, 200000, 200000]))
    sess = edgert.load(_depthwise_model(["n", 64, "h", "w"]))
    assert sess.run({"x": np.ones((1, 64, 2, 2), np.float32)})["y"].shape == (1, 64, 2, 2)
    huge = np.lib.stride_tricks.as_strided(np.zeros(1, np.float32), (1, 64, 100000, 100000), (0, 0, 0, 0))
    with pytest.raises(InputError, match="cannot be planned: Conv node 'Conv_0'.* more than this machine's memory"):
        sess.run({"x": huge})


# ------------------------------------------------------------------------------ data movement

def _movement_model(dtype):
    """Pad (negative and positive pads, a fill value), Slice (negative step), a 5-D Transpose, Split and
    Concat on one runtime tensor of `dtype`."""
    from onnx import TensorProto, helper, numpy_helper

    elem = {np.float32: TensorProto.FLOAT, np.int8: TensorProto.INT8}[dtype]
    c = lambda name, v: numpy_helper.from_array(np.asarray(v, np.int64), name)  # noqa: E731
    nodes = [
        helper.make_node("Pad", ["x", "pads", "fill"], ["p"]),
        helper.make_node("Slice", ["p", "starts", "ends", "axes", "steps"], ["s"]),
        helper.make_node("Reshape", ["s", "shape5"], ["r"]),
        helper.make_node("Transpose", ["r"], ["t"], perm=[0, 2, 1, 4, 3]),
        helper.make_node("Split", ["t", "parts"], ["a", "b"], axis=1),
        helper.make_node("Concat", ["b", "a", "b"], ["y"], axis=1),
    ]
    inits = [c("pads", [0, 0, 2, -1, 0, 1, -1, 3]), numpy_helper.from_array(np.asarray(7, dtype), "fill"),
             c("starts", [-1, 1]), c("ends", [-100, 9]), c("axes", [2, 3]), c("steps", [-2, 1]),
             c("shape5", [2, 7, 4, 2, 4]), c("parts", [1, 3])]
    graph = helper.make_graph(nodes, "movement", [helper.make_tensor_value_info("x", elem, [2, 6, 7, 9])],
                              [helper.make_tensor_value_info("y", elem, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


@pytest.mark.parametrize("dtype", [np.float32, np.int8])
def test_data_movement_runs_as_plan_time_copies(dtype):
    model = _movement_model(dtype)
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((2, 6, 7, 9)) * 40).astype(dtype)
    # The same in numpy (onnx.reference rejects negative pads).
    p = np.pad(x[:, :, :-1, 1:], ((0, 0), (0, 1), (2, 0), (0, 3)), constant_values=7)
    t = p[:, :, 7::-2, 1:9].reshape(2, 7, 4, 2, 4).transpose(0, 2, 1, 4, 3)
    expected = np.concatenate([t[:, 1:], t[:, :1], t[:, 1:]], axis=1)
    sess = edgert.load(model, threads=1, backend="edgert")
    labels = [s.label for s in _plan(sess).steps if s.node]
    assert labels == ["Pad[copy]", "Slice[copy]", "Transpose[copy]", "Split[copy]", "Concat[copy]"], labels
    for _ in range(2):    # the second run reuses the arena: padding is written every run
        np.testing.assert_array_equal(sess.run({"x": x})["y"], expected)


def test_row_reductions_run_natively():
    """InstanceNormalization and Softmax (last axis; NHWC channels after a conv; opset 11's flattened
    trailing axes) run on the f32-rownorm kernels and agree with onnxruntime; a NaN poisons its row only."""
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(4)
    inits = [numpy_helper.from_array(rng.uniform(0.5, 1.5, 6).astype(np.float32), "scale"),
             numpy_helper.from_array(rng.standard_normal(6).astype(np.float32), "bias"),
             numpy_helper.from_array(rng.standard_normal((6, 6, 1, 1)).astype(np.float32), "w")]
    nodes = [helper.make_node("InstanceNormalization", ["x", "scale", "bias"], ["n"], epsilon=1e-3),
             helper.make_node("Softmax", ["n"], ["last"], axis=-1),
             helper.make_node("Conv", ["x", "w"], ["c"]),
             helper.make_node("Softmax", ["c"], ["channels"], axis=1)]
    outs = [helper.make_tensor_value_info(name, TensorProto.FLOAT, None) for name in ("last", "channels")]
    graph = helper.make_graph(nodes, "rows", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 6, 5, 7])],
                              outs, inits)
    x = (rng.standard_normal((2, 6, 5, 7)) * 3 + 2).astype(np.float32)
    for opset in (18, 11):
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
        sess = edgert.load(model, threads=2, backend="edgert")
        labels = [s.label for s in _plan(sess).steps if s.node]
        assert labels.count("Softmax[softmax]") == 2 and "InstanceNormalization[instnorm]" in labels, labels
        expected = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})
        got = sess.run({"x": x})
        for name, ref in zip(("last", "channels"), expected):
            np.testing.assert_allclose(got[name], ref, rtol=1e-5, atol=1e-6, err_msg=f"{name}, opset {opset}")
        if opset == 18:
            poisoned = x.copy()
            poisoned[1, 2, 3, 4] = np.nan
            channels = sess.run({"x": poisoned})["channels"]
            assert np.isnan(channels[1, :, 3, 4]).all()  # the pixel's channel row
            channels[1, :, 3, 4] = 0
            assert np.isfinite(channels).all()


@pytest.mark.parametrize("dtype", [np.float32, np.int8])
def test_nearest_resize_runs_as_plan_time_gathers(dtype):
    """Upsampling by scales, and shrinking one axis while growing the other by sizes (half_pixel,
    round_prefer_ceil): gathers that agree with onnxruntime bit for bit, run after run."""
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    elem = {np.float32: TensorProto.FLOAT, np.int8: TensorProto.INT8}[dtype]
    inits = [numpy_helper.from_array(np.asarray([1, 1, 2, 3], np.float32), "scales"),
             numpy_helper.from_array(np.asarray([2, 5, 4, 11], np.int64), "sizes")]
    nodes = [helper.make_node("Resize", ["x", "", "scales"], ["up"], mode="nearest",
                              coordinate_transformation_mode="asymmetric", nearest_mode="floor"),
             helper.make_node("Resize", ["x", "", "", "sizes"], ["odd"], mode="nearest",
                              coordinate_transformation_mode="half_pixel", nearest_mode="round_prefer_ceil")]
    outs = [helper.make_tensor_value_info(name, elem, None) for name in ("up", "odd")]
    graph = helper.make_graph(nodes, "resize", [helper.make_tensor_value_info("x", elem, [2, 5, 7, 6])], outs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    x = (np.random.default_rng(6).standard_normal((2, 5, 7, 6)) * 40).astype(dtype)
    sess = edgert.load(model, threads=1, backend="edgert")
    assert [s.label for s in _plan(sess).steps if s.node] == ["Resize[nearest]"] * 2
    expected = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    for _ in range(2):
        got = sess.run({"x": x})
        np.testing.assert_array_equal(got["up"], expected[0])
        np.testing.assert_array_equal(got["odd"], expected[1])


def test_nearest_resize_of_an_nhwc_tensor():
    """After a conv the tensor is NHWC inside edgert: the gathers run on the physical axes."""
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(8)
    inits = [numpy_helper.from_array(rng.standard_normal((5, 5, 1, 1)).astype(np.float32), "w"),
             numpy_helper.from_array(np.asarray([1, 1, 2, 3], np.float32), "scales"),
             numpy_helper.from_array(np.asarray([2, 5, 3, 9], np.int64), "sizes")]
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]),
             helper.make_node("Resize", ["c", "", "scales"], ["up"], mode="nearest"),
             helper.make_node("Resize", ["c", "", "", "sizes"], ["odd"], mode="nearest",
                              coordinate_transformation_mode="align_corners", nearest_mode="ceil")]
    outs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("up", "odd")]
    graph = helper.make_graph(nodes, "resize_nhwc", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 5, 7, 6])],
                              outs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    x = rng.standard_normal((2, 5, 7, 6)).astype(np.float32)
    sess = edgert.load(model, threads=2, backend="edgert")
    assert [s.label for s in _plan(sess).steps if s.node].count("Resize[nearest]") == 2
    expected = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    got = sess.run({"x": x})
    np.testing.assert_allclose(got["up"], expected[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got["odd"], expected[1], rtol=1e-5, atol=1e-5)
