"""Robustness of the ONNX importer and Session.run against malformed models and feeds.

Every rejection must be an EdgeRTError subclass whose message names the file/node/argument at
fault; nothing else may escape, crash or hang, and no tensor is allocated before its declared size
has been checked against the data in the file.

  - targeted cases: oversized tensors, external data, wrong-typed attributes, broken graphs;
  - hypothesis (derandomized, so CI is deterministic): truncations and bit flips of the seed models,
    arbitrary feeds to Session.run;
  - a short run of the tools/fuzz.py campaign (seed 0) in worker subprocesses: no crash, no hang,
    and no exception other than an EdgeRTError anywhere (importer, passes, planner, kernels);
    the same for mutated .tflite files;
  - reproducers of what earlier long campaigns found past the importer, each now an error naming
    the node (test_bad_arguments_name_the_node).
See docs/hardening.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

import edgert
import model_zoo as mz
from edgert.errors import EdgeRTError, InputError, ModelLoadError, OperatorArgumentError, UnsupportedOperatorError

REPO = Path(__file__).resolve().parents[1]
def deterministic(examples: int) -> settings:
    """Derandomized (the same examples on every run, so CI is reproducible), no deadline."""
    return settings(derandomize=True, deadline=None, database=None, max_examples=examples,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _model(nodes, inputs, outputs, inits=(), opset=17) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _relu_model(inits=(), x_dims=(1, 4)) -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x_dims))
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    return _model([helper.make_node("Relu", ["x"], ["y"], name="relu")], [x], [y], inits)


def _add_model(b: onnx.TensorProto) -> onnx.ModelProto:
    """y = x + b, with b the initializer under test."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    return _model([helper.make_node("Add", ["x", b.name], ["y"], name="add")], [x], [y], [b])


def _rejected(model, *needles, error=ModelLoadError) -> str:
    with pytest.raises(error) as info:
        edgert.load(model, backend="edgert")
    message = str(info.value)
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"
    return message


# ------------------------------------------------------------------------------ tensor sizes


def _bare_tensor(name, data_type, dims, raw=None) -> onnx.TensorProto:
    t = onnx.TensorProto(name=name, data_type=data_type, dims=list(dims))
    if raw is not None:
        t.raw_data = raw
    return t


def test_huge_initializer_with_little_data_is_rejected_before_allocating():
    # 2^40 float32 elements declared, 4 bytes present: numpy must never be asked for 4 TiB.
    big = _bare_tensor("b", TensorProto.FLOAT, [1 << 40], raw=b"\0\0\0\0")
    tracemalloc.start()
    try:
        _rejected(_add_model(big), "'b'", "raw_data has 4 bytes", str(4 << 40))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, f"rejecting it allocated {peak} bytes"


@pytest.mark.parametrize("dims, needle", [
    ([-1, 4], "negative dimension -1"),
    ([1 << 31, 1 << 31, 1 << 31], "address space"),  # product overflows int64 if unchecked
    ([0, 1 << 62, 1 << 62], "address space"),  # empty, yet numpy cannot index it
    ([3, 4], "raw_data has 16 bytes"),
    ([2], "raw_data has 16 bytes"),
])
def test_initializer_dims_must_match_raw_data(dims, needle):
    t = _bare_tensor("b", TensorProto.FLOAT, dims, raw=np.arange(4, dtype=np.float32).tobytes())
    _rejected(_add_model(t), "'b'", needle)


@pytest.mark.parametrize("field, values, dtype", [
    ("float_data", [1.0, 2.0, 3.0], TensorProto.FLOAT),
    ("int64_data", [1, 2, 3, 4, 5], TensorProto.INT64),
    ("int32_data", [], TensorProto.INT32),
    ("double_data", [1.0] * 8, TensorProto.DOUBLE),
])
def test_typed_data_length_must_match_dims(field, values, dtype):
    t = onnx.TensorProto(name="b", data_type=dtype, dims=[1, 4])
    getattr(t, field).extend(values)
    _rejected(_add_model(t), "'b'", f"{field} has {len(values)} values", "need 4")


def test_typed_data_decodes_like_onnx():
    # float16 as bit patterns in int32_data, bool as int32, uint32 in uint64_data, int8 in int32_data.
    cases = [np.array([[1.5, -2.0, 65504.0, 0.0]], np.float16), np.array([[True, False, True, True]]),
             np.array([[0, 1, 2**32 - 1, 7]], np.uint32), np.array([[-128, 127, 0, 5]], np.int8)]
    from edgert.importers.onnx import _to_array

    for array in cases:
        t = numpy_helper.from_array(array, "t")
        typed = onnx.TensorProto(name="t", data_type=t.data_type, dims=t.dims)
        field = onnx.helper.tensor_dtype_to_field(t.data_type)
        bits = array.view(np.uint16) if array.dtype == np.float16 else array.astype(np.int64)
        getattr(typed, field).extend(bits.reshape(-1).tolist())
        for proto in (t, typed):  # raw_data and the typed field
            got = _to_array(proto, "test")
            assert got.dtype == array.dtype and got.shape == array.shape
            np.testing.assert_array_equal(got, array)
            assert got.flags.writeable  # passes may fold into constants in place


@pytest.mark.parametrize("elem_type", [TensorProto.STRING, TensorProto.COMPLEX64, TensorProto.FLOAT8E4M3FN,
                                       TensorProto.INT4, TensorProto.UNDEFINED, 999])
def test_unsupported_element_types(elem_type):
    t = onnx.TensorProto(name="b", data_type=elem_type, dims=[1])
    _rejected(_add_model(t), "'b'", "unsupported tensor element type")
    x = helper.make_tensor_value_info("x", elem_type, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    _rejected(_model([helper.make_node("Relu", ["x"], ["y"])], [x], [y]), "graph input 'x'",
              "unsupported tensor element type")


@pytest.mark.parametrize("dims, needle", [([1, -3], "negative dimension -3"),
                                          ([1 << 62, 1 << 20], "address space")])
def test_input_shapes_that_cannot_exist(dims, needle):
    _rejected(_relu_model(x_dims=dims), "graph input 'x'", needle)


def test_input_shape_needing_terabytes_is_a_load_error():
    # Plausible per dimension, 4 TB in total: the planner refuses to allocate it.
    _rejected(_relu_model(x_dims=[1 << 20, 1 << 20]), "more memory than can be allocated")


# ------------------------------------------------------------------------------ external data


def _external(t: onnx.TensorProto, location: str, **extra) -> onnx.TensorProto:
    t.data_location = TensorProto.EXTERNAL
    for key, value in dict(location=location, **extra).items():
        entry = t.external_data.add()
        entry.key, entry.value = key, str(value)
    return t


def _save(model, path: Path) -> Path:
    path.write_bytes(model.SerializeToString())
    return path


def test_external_data_inside_the_model_directory_loads(tmp_path):
    values = np.arange(4, dtype=np.float32).reshape(1, 4)
    (tmp_path / "weights.bin").write_bytes(b"HEAD" + values.tobytes() + b"TAIL")
    b = _external(_bare_tensor("b", TensorProto.FLOAT, [1, 4]), "weights.bin", offset=4, length=16)
    sess = edgert.load(str(_save(_add_model(b), tmp_path / "m.onnx")), backend="edgert")
    x = np.ones((1, 4), np.float32)
    np.testing.assert_array_equal(sess.run({"x": x})["y"], x + values)


@pytest.mark.parametrize("location, extra, needle", [
    ("/etc/passwd", {}, "must be a relative path"),
    ("../../../../../etc/passwd", {}, "must be a relative path"),
    ("sub/../../secret.bin", {}, "must be a relative path"),
    ("missing.bin", {}, "not found"),
    ("weights.bin", {"offset": 8}, "holds 8 bytes"),
    ("weights.bin", {"offset": 8, "length": 16}, "outside"),
    ("weights.bin", {"length": 8}, "holds 8 bytes"),
    ("weights.bin", {"offset": "zero"}, "not integers"),
    ("weights.bin", {"offset": -4}, "outside"),
    ("", {}, "without a 'location'"),
    ("sub", {}, "not a regular file"),
])
def test_external_data_is_bounded_to_the_model_directory(tmp_path, location, extra, needle):
    (tmp_path / "weights.bin").write_bytes(np.zeros(4, np.float32).tobytes())
    (tmp_path / "sub").mkdir()
    b = _external(_bare_tensor("b", TensorProto.FLOAT, [1, 4]), location, **extra)
    _rejected(str(_save(_add_model(b), tmp_path / "m.onnx")), "'b'", needle)


def test_external_data_symlink_leaving_the_directory(tmp_path):
    outside = tmp_path / "outside.bin"
    outside.write_bytes(np.zeros(4, np.float32).tobytes())
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "link.bin").symlink_to(outside)
    b = _external(_bare_tensor("b", TensorProto.FLOAT, [1, 4]), "link.bin")
    _rejected(str(_save(_add_model(b), model_dir / "m.onnx")), "resolves outside")


def test_external_data_device_file_is_refused(tmp_path):
    (tmp_path / "zero").symlink_to("/dev/zero")  # endless data: must not be read at all
    b = _external(_bare_tensor("b", TensorProto.FLOAT, [1 << 30]), "zero")
    _rejected(str(_save(_add_model(b), tmp_path / "m.onnx")), "resolves outside")


def test_external_data_needs_a_file_path():
    b = _external(_bare_tensor("b", TensorProto.FLOAT, [1, 4]), "weights.bin")
    for source in (_add_model(b), _add_model(b).SerializeToString()):
        _rejected(source, "'b'", "only read when the model is loaded from a file path")


def test_model_file_must_be_a_regular_file(tmp_path):
    _rejected(str(tmp_path), "not a regular file")
    _rejected("/dev/zero", "not a regular file")
    fifo = tmp_path / "model.onnx"
    os.mkfifo(fifo)  # no writer: opening it for a blocking read would wait forever
    _rejected(str(fifo), "not a regular file")
    b = _external(_bare_tensor("b", TensorProto.FLOAT, [1, 4]), "model.onnx")  # the FIFO, as weights
    _rejected(str(_save(_add_model(b), tmp_path / "m.onnx")), "not a regular file")
    (tmp_path / "empty.onnx").write_bytes(b"")
    _rejected(str(tmp_path / "empty.onnx"), "empty file")


# ------------------------------------------------------------------------------ nodes and attributes


def _conv_model(**attrs) -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 5, 5])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    w = numpy_helper.from_array(np.ones((2, 2, 3, 3), np.float32), "w")
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="conv")
    for key, value in attrs.items():
        node.attribute.append(value if isinstance(value, onnx.AttributeProto) else helper.make_attribute(key, value))
    return _model([node], [x], [y], [w])


def test_wrong_typed_attribute_names_node_and_attribute():
    bad = helper.make_attribute("kernel_shape", [3.0, 3.0])  # FLOATS where Conv defines INTS
    _rejected(_conv_model(kernel_shape=bad), "node 'conv' (Conv)", "'kernel_shape'", "FLOATS", "INTS")


def test_attribute_with_undefined_type():
    bad = helper.make_attribute("group", 1)
    bad.type = onnx.AttributeProto.UNDEFINED
    _rejected(_conv_model(group=bad), "'group'", "UNDEFINED")


def test_unknown_and_duplicate_attributes():
    _rejected(_conv_model(edgert_clamp=[0.0, 6.0]), "'edgert_clamp'", "not an attribute of Conv")
    model = _conv_model(group=1)
    model.graph.node[0].attribute.append(helper.make_attribute("group", 1))
    _rejected(model, "'group'", "given twice")


def test_missing_required_attribute():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.INT64, None)
    _rejected(_model([helper.make_node("Cast", ["x"], ["y"], name="cast")], [x], [y]), "'cast'", "['to']")


def test_input_and_output_counts_follow_the_schema():
    model = _conv_model()
    del model.graph.node[0].input[1:]
    _rejected(model, "node 'conv' (Conv)", "1 inputs", "2 to 3")
    model = _conv_model()
    model.graph.node[0].output.append("extra")
    _rejected(model, "node 'conv' (Conv)", "2 outputs")
    model = _conv_model()
    model.graph.node[0].input[0] = ""
    _rejected(model, "required input 0 is empty")


def _ska_model(n_inputs=2, w_shape=(1, 18, 5, 5), **attrs):
    ins = ["x", "w"][:n_inputs] + ["x"] * max(0, n_inputs - 2)
    node = helper.make_node("SKA", ins, ["y"], name="ska", domain="ai.edgert", **attrs)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 5, 5]),
                                            helper.make_tensor_value_info("w", TensorProto.FLOAT, list(w_shape))],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.edgert", 1)])


def test_ska_is_the_ai_edgert_operator_files_may_use():
    sess = edgert.load(_ska_model(kernel_size=3), threads=1, backend="edgert")
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((1, 4, 5, 5), np.float32), rng.standard_normal((1, 18, 5, 5), np.float32)
    from edgert.ops.ska import ska_reference

    np.testing.assert_allclose(sess.run({"x": x, "w": w})["y"], ska_reference(x, w, 3), rtol=1e-6, atol=1e-6)
    _rejected(_ska_model(n_inputs=3), "node 'ska' (SKA)", "takes 2 inputs")
    _rejected(_ska_model(kernel_size=3.0), "attribute 'kernel_size' is not an integer attribute")
    _rejected(_ska_model(stride=2), "attribute 'stride'")
    # W holds 3 weight groups of 9 taps: 4 channels are not a multiple of 3.
    with pytest.raises(OperatorArgumentError, match="node 'ska'.*not a multiple"):
        edgert.load(_ska_model(w_shape=(1, 27, 5, 5)), threads=1, backend="edgert")
    with pytest.raises(OperatorArgumentError, match="positive odd"):
        edgert.load(_ska_model(kernel_size=2), threads=1, backend="edgert")


def test_operator_names_and_domains():
    model = _relu_model()
    model.graph.node[0].op_type = "NotAnOp"
    _rejected(model, "NotAnOp", "not an ONNX operator at opset 17", error=UnsupportedOperatorError)
    model = _relu_model()
    model.graph.node[0].domain = "ai.edgert"  # internal fused ops cannot be smuggled in
    _rejected(model, "reserved")
    model = _relu_model()
    model.graph.node[0].domain = "com.example"
    _rejected(model, "Relu (domain 'com.example')", error=UnsupportedOperatorError)
    model = _relu_model()
    model.graph.node[0].domain = "ai.onnx"  # another spelling of the default domain
    edgert.load(model, backend="edgert")
    assert model.graph.node[0].domain == "ai.onnx", "loading must not modify the caller's ModelProto"


def test_subgraph_and_sparse_attributes_are_unsupported():
    model = _relu_model()
    model.graph.node[0].op_type = "If"
    del model.graph.node[0].input[:]
    model.graph.node[0].input.append("x")
    model.graph.node[0].attribute.append(helper.make_attribute("then_branch", helper.make_graph([], "t", [], [])))
    _rejected(model, "subgraphs", error=UnsupportedOperatorError)


@pytest.mark.parametrize("opsets, needle", [([1], "outside the supported range"), ([100], "outside"),
                                            ([], "no default-domain opset"), ([13, 17], "imported twice")])
def test_opset_imports(opsets, needle):
    model = _relu_model()
    del model.opset_import[:]
    model.opset_import.extend(helper.make_opsetid("", v) for v in opsets)
    _rejected(model, needle)


# ------------------------------------------------------------------------------ graph structure


def _chain(names_in_out) -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    nodes = [helper.make_node("Relu", [i], [o], name=f"n{k}") for k, (i, o) in enumerate(names_in_out)]
    return _model(nodes, [x], [y])


def test_cycles_and_dangling_edges():
    _rejected(_chain([("x", "a"), ("c", "b"), ("b", "c"), ("c", "y")]), "cycle")
    _rejected(_chain([("x", "a"), ("nowhere", "y")]), "'n1'", "'nowhere'")
    _rejected(_chain([("y", "y")]), "cycle")  # a node reading its own output
    _rejected(_chain([("x", "a"), ("a", "a"), ("a", "y")]), "'a'", "already produced")
    _rejected(_chain([("x", "x")]), "'x'", "already produced")  # overwriting a graph input
    _rejected(_chain([("x", "a")]), "graph output 'y' is never produced")


def test_out_of_order_nodes_are_sorted():
    sess = edgert.load(_chain([("a", "y"), ("x", "a")]), backend="edgert")
    x = np.array([[-1, 2, -3, 4]], np.float32)
    np.testing.assert_array_equal(sess.run({"x": x})["y"], np.maximum(x, 0))


def test_duplicate_graph_io_and_initializers():
    model = _relu_model()
    model.graph.input.append(model.graph.input[0])
    _rejected(model, "graph input 'x' is listed twice")
    b = numpy_helper.from_array(np.ones((1, 4), np.float32), "b")
    model = _add_model(b)
    model.graph.initializer.append(b)
    _rejected(model, "initializer 'b' is defined twice")
    model = _relu_model()
    model.graph.sparse_initializer.add().values.name = "s"
    _rejected(model, "sparse initializers")


def _field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field (wire type 2)."""
    size, length = bytearray(), len(payload)
    while True:
        size.append((length & 0x7F) | (0x80 if length > 0x7F else 0))
        length >>= 7
        if not length:
            break
    return bytes([(number << 3) | 2]) + bytes(size) + payload


def test_deep_recursion_in_the_file_is_a_load_error():
    # If-nodes nested 300 deep through their then_branch, written as raw protobuf (the Python
    # protobuf objects refuse to build it): beyond the parser's recursion limit, a load error.
    graph = b""
    for _ in range(300):
        attribute = _field(1, b"then_branch") + _field(6, graph) + b"\xa0\x01\x05"  # type = GRAPH
        graph = _field(1, _field(4, b"If") + _field(5, attribute))  # GraphProto.node
    model = b"\x08\x08" + _field(8, b"\x10\x11") + _field(7, graph)  # ir_version 8, opset 17, graph
    _rejected(model, "<bytes>", "not a valid ONNX model")


# ------------------------------------------------------------------------------ Session.run inputs


@pytest.fixture(scope="module")
def small_session():
    return edgert.load(mz.mobilenet_v2(size=32, width=0.35, batch=None), threads=2, backend="edgert")


@pytest.mark.parametrize("special", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_inputs_run(small_session, special):
    clean = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    x = clean.copy()
    x[0, :, 5:9, 5:9] = special
    (logits,) = small_session.run({"input": x}).values()
    assert logits.shape == (2, 1000) and logits.dtype == np.float32
    (reference,) = small_session.run({"input": clean}).values()
    # The clean image in the batch is unaffected by its neighbour's NaN/Inf (same plan: bit-exact).
    np.testing.assert_array_equal(logits[1], reference[1])


@deterministic(60)
@given(dtype=st.sampled_from([np.float32, np.float64, np.float16, np.int32, np.int64, np.uint8, np.bool_]),
       shape=st.lists(st.integers(0, 40), min_size=0, max_size=5),
       layout=st.sampled_from(["c", "fortran", "strided", "big-endian", "readonly", "list"]))
def test_run_with_arbitrary_feeds(small_session, dtype, shape, layout):
    array = np.ones(shape, dtype)
    if layout == "fortran":
        array = np.asfortranarray(array)
    elif layout == "strided" and array.ndim:
        array = np.repeat(array, 2, axis=-1)[..., ::2]
    elif layout == "big-endian":
        array = array.astype(array.dtype.newbyteorder(">"))
    elif layout == "readonly":
        array.flags.writeable = False
    feed = array.tolist() if layout == "list" else array
    try:
        out = small_session.run({"input": feed})
    except InputError as e:
        assert "input" in str(e)
        return
    (logits,) = out.values()
    assert logits.shape == (array.shape[0], 1000)


def test_feeds_that_are_not_a_dict(small_session):
    for feeds in ([np.zeros((1, 3, 32, 32), np.float32)], None, "input", {"input": None}, {"input": object()}):
        with pytest.raises(InputError):
            small_session.run(feeds)


# ------------------------------------------------------------------------------ file mutations

_SEEDS = {
    "conv": mz.op_model(mz.find_case("conv_3x3")).SerializeToString(),
    "exporter_cnn": mz.exporter_cnn(size=16).SerializeToString(),
}


def _load_and_run(data: bytes) -> None:
    try:
        sess = edgert.load(data, threads=1, backend="edgert")
    except EdgeRTError as e:
        assert str(e).strip(), f"{type(e).__name__} without a message"
        return
    feeds = {}
    for t in sess.inputs:
        shape = [d if isinstance(d, int) else 1 for d in (t.shape or [])]
        if int(np.prod(shape)) > 1 << 22:
            return  # a plausible mutation to a huge static input: run() would be slow, not wrong
        feeds[t.name] = np.ones(shape, t.dtype)
    try:
        sess.run(feeds)
    except EdgeRTError:
        pass


@deterministic(150)
@given(seed=st.sampled_from(sorted(_SEEDS)), data=st.data())
def test_truncated_files(seed, data):
    blob = _SEEDS[seed]
    _load_and_run(blob[: data.draw(st.integers(0, len(blob) - 1))])


@deterministic(200)
@given(seed=st.sampled_from(sorted(_SEEDS)), data=st.data())
def test_bit_flipped_files(seed, data):
    blob = bytearray(_SEEDS[seed])
    # Flips in the structure (the first bytes and around names/attributes) matter more than in weights.
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(blob) - 1))
        blob[pos] ^= 1 << data.draw(st.integers(0, 7))
    _load_and_run(bytes(blob))


# ------------------------------------------------------------------------------ the campaign, short

def _fuzz_env() -> dict:
    env = dict(os.environ)
    env.setdefault("PYTHONHASHSEED", "0")
    return env


def test_short_campaign(tmp_path):
    report = tmp_path / "fuzz.json"
    # Under ASan (tools/sanitize.sh) the address-space limit would starve the sanitizer's shadow memory.
    memory = "0" if os.environ.get("EDGERT_SANITIZE") else "3072"
    proc = subprocess.run([sys.executable, str(REPO / "tools" / "fuzz.py"), "--cases", "300", "--seed", "0",
                           "--jobs", "1", "--timeout", "60", "--memory-mb", memory, "--json", str(report),
                           "--out", str(tmp_path / "repro")], capture_output=True, text=True, env=_fuzz_env(),
                          timeout=900)
    assert report.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads(report.read_text())
    assert summary["cases"] == 300, summary
    assert not summary["crashes"], f"crashes: {summary['crashes']}\n{proc.stdout[-3000:]}"
    assert not summary["hangs"], f"hangs: {summary['hangs']}\n{proc.stdout[-3000:]}"
    assert not summary["bugs"], (f"a non-EdgeRTError escaped (reproduce with tools/fuzz.py --repro INDEX "
                                 f"--seed 0): {summary['bugs']}")
    # The campaign exercises both sides: models that load and run, and models that are rejected.
    assert summary["ok"] > 20 and sum(summary["rejected"].values()) > 50, summary


def test_short_tflite_campaign(tmp_path):
    pytest.importorskip("edgert.importers.tflite")
    pytest.importorskip("edgert.exporters.tflite")
    report = tmp_path / "fuzz.json"
    memory = "0" if os.environ.get("EDGERT_SANITIZE") else "3072"
    proc = subprocess.run([sys.executable, str(REPO / "tools" / "fuzz.py"), "--target", "tflite", "--cases", "200",
                           "--seed", "0", "--timeout", "60", "--memory-mb", memory, "--json", str(report)],
                          capture_output=True, text=True, env=_fuzz_env(), timeout=900)
    assert report.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads(report.read_text())
    assert summary["cases"] == 200, summary
    assert not summary["crashes"] and not summary["hangs"], proc.stdout[-3000:]
    assert summary["ok"] > 10 and sum(summary["rejected"].values()) > 20, summary


# ------------------------------------------------------------------------------ past the importer
# Minimal reproducers of what the campaign found past the importer (planner, lowering, passes,
# numpy reference): numpy exceptions escaping, or out-of-range axes silently taken modulo the rank
# (onnxruntime rejects each of them). Each is now an EdgeRTError naming the node (edgert.ops.checks).


def _io(shape, name="x", dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


def _const(name, value, dtype=np.int64):
    return numpy_helper.from_array(np.asarray(value, dtype=dtype), name)


def _single(op, inputs, x_shape, inits=(), out_dtype=TensorProto.FLOAT, domain="", **attrs):
    node = helper.make_node(op, inputs, ["y"], name="n", domain=domain or None, **attrs)
    return _model([node], [_io(x_shape)], [_io(None, "y", out_dtype)], inits)


def _folded(op, inputs, inits, **attrs):
    """op over constants only (folded at load), added to the graph input."""
    nodes = [helper.make_node(op, inputs, ["c"], name="n", **attrs), helper.make_node("Add", ["x", "c"], ["y"], name="add")]
    return _model(nodes, [_io([1])], [_io(None, "y")], inits)


BAD_ARGUMENTS = [
    # (id, model, run-time input shape or None for load, what the message says)
    ("reshape-incompatible", lambda: _single("Reshape", ["x", "s"], [2, 3], [_const("s", [4, 4])]), None,
     "cannot reshape [2, 3] (6 elements) to [4, 4]"),
    ("reshape-copy-dim-beyond-rank", lambda: _single("Reshape", ["x", "s"], [2, 3], [_const("s", [6, 1, 0])]), None,
     "entry 2 copies a dimension"),
    ("reshape-0d-shape", lambda: _single("Reshape", ["x", "s"], [2, 3], [_const("s", 6)]), None,
     "must be 1-D"),
    ("squeeze-non-unit-axis", lambda: _single("Squeeze", ["x", "a"], [2, 3], [_const("a", [0])]), None,
     "cannot squeeze axis 0 of size 2"),
    ("constant-of-shape-negative", lambda: _folded("ConstantOfShape", ["s"], [_const("s", [-1, 2])]), None,
     "negative dimension"),
    ("range-zero-delta", lambda: _folded("Range", ["a", "b", "d"], [_const(n, v, np.float32) for n, v in
                                                                   (("a", 0), ("b", 10), ("d", 0))]), None,
     "delta must not be 0"),
    ("range-huge", lambda: _folded("Range", ["a", "b", "d"], [_const(n, v, np.float32) for n, v in
                                                             (("a", 0), ("b", 3e38), ("d", 1))]), None,
     "more than this machine's memory"),
    ("expand-incompatible", lambda: _folded("Expand", ["v", "s"], [_const("v", np.ones((2, 8, 7)), np.float32),
                                                                   _const("s", [1, 8, 1, 1])]), None,
     "do not broadcast"),
    ("add-broadcast-mismatch", lambda: _single("Add", ["x", "b"], [3, 5, 4], [_const("b", np.ones(3), np.float32)]),
     None, "do not broadcast"),
    ("matmul-inner-mismatch", lambda: _single("MatMul", ["x", "w"], [5, 4], [_const("w", np.ones((2, 3)), np.float32)]),
     None, "inner dimensions differ"),
    ("cast-unknown-type", lambda: _folded("Cast", ["v"], [_const("v", [1.0], np.float32)], to=1000), None,
     "not an ONNX element type"),
    ("concat-huge-axis", lambda: _folded("Concat", ["v", "v"], [_const("v", np.ones((2, 3)), np.float32)], axis=1 << 40),
     None, "out of range for a rank-2 input"),
    ("gather-index-out-of-range", lambda: _folded("Gather", ["v", "i"], [_const("v", np.ones(3), np.float32),
                                                                      _const("i", [7])]), None,
     "index 7 is out of range"),
    ("batchnorm-param-size", lambda: _single("BatchNormalization", ["x", "a", "b", "c", "d"], [1, 3, 2, 2],
                                             [_const(k, np.ones(5), np.float32) for k in "abcd"]), None,
     "must be [3], one value per channel"),
    # Out-of-range axes and sizes once taken modulo the rank.
    ("unsqueeze-axis-out-of-range", lambda: _single("Unsqueeze", ["x", "a"], [2, 3], [_const("a", [5])]), None,
     "axes entry 5 is out of range"),
    ("gather-axis-out-of-range", lambda: _single("Gather", ["x", "i"], [2, 3], [_const("i", [0])], axis=5), None,
     "axis 5 is out of range"),
    ("softmax-axis-out-of-range", lambda: _single("Softmax", ["x"], [2, 3], axis=3), None,
     "axis 3 is out of range"),
    ("reduce-axis-out-of-range", lambda: _single("ReduceMean", ["x"], [2, 3], axes=[4]), None,
     "axes entry 4 is out of range"),
    ("flatten-axis-out-of-range", lambda: _single("Flatten", ["x"], [2, 3], axis=5), None,
     "axis 5 is out of range for a rank-2 input (valid: -2..2)"),
    ("split-sizes-do-not-add-up", lambda: _model([helper.make_node("Split", ["x", "s"], ["y", "z"], name="n", axis=1)],
                                                 [_io([2, 6])], [_io(None, "y"), _io(None, "z")], [_const("s", [2, 2])]),
     None, "do not add up"),
    ("pass-ignores-domain", lambda: _single("Clip", [], [2, 3], domain="ai.onnx.ml"), None,
     "domain 'ai.onnx.ml'"),
    ("run-squeeze-dynamic", lambda: _single("Squeeze", ["x", "a"], ["n", 3], [_const("a", [0])]), (2, 3),
     "cannot squeeze axis 0"),
    ("batchnorm-param-rank-2", lambda: _single("BatchNormalization", ["x", "a", "b", "c", "d"], [1, 3, 2, 2],
                                               [_const(k, np.ones((3, 1)), np.float32) for k in "abcd"]), None,
     "of shape [3, 1] must be [3]"),
    ("clip-min-not-scalar", lambda: _single("Clip", ["x", "m"], [2, 3], [_const("m", np.zeros(0), np.float32)]), None,
     "min of shape [0] must be a scalar"),
    ("reduce-float-axes", lambda: _single("ReduceSum", ["x", "a"], [2, 3], [_const("a", [np.nan, 1.0], np.float64)]),
     None, "axes must be an integer tensor"),
    ("conv-huge-pads", lambda: _single("Conv", ["x", "w"], [1, 2, 5, 5], [_const("w", np.ones((4, 2, 3, 3)), np.float32)],
                                       pads=[0, 0, 0, 1 << 62]), None, "more than this machine's memory"),
    ("resize-negative-scale", lambda: _single("Resize", ["x", "", "s"], [2, 3], [_const("s", [1e6, -1.0], np.float32)]),
     None, "must be positive"),
    ("resize-huge-output", lambda: _single("Resize", ["x", "", "s"], [2, 3], [_const("s", [1e6, 1e6], np.float32)]),
     None, "more than this machine's memory"),
    # Custom-domain nodes named like ONNX operators are not lowered as ONNX operators.
    ("custom-domain-conv", lambda: _single("Conv", ["x"], [1, 2, 5, 5], domain="com.microsoft"), None,
     "Conv (domain 'com.microsoft')"),
    ("custom-domain-mul", lambda: _single("Mul", ["x", "x"], [2, 3], domain="com.microsoft"), None,
     "Mul (domain 'com.microsoft')"),
    ("cast-to-string", lambda: _single("Cast", ["x"], [2, 3], to=TensorProto.STRING), None, "casting to STRING"),
    # Window attributes checked against the input's rank and size (no kernel_shape to check them against).
    ("conv-transpose-short-strides", lambda: _single("ConvTranspose", ["x", "w"], [1, 2, 5, 5],
                                                     [_const("w", np.ones((2, 2, 2, 2)), np.float32)], strides=[2]),
     None, "'strides' has 1 values, a 2-D input needs 2"),
    ("conv-transpose-output-shape-too-large", lambda: _single("ConvTranspose", ["x", "w"], [1, 2, 5, 5],
                                                              [_const("w", np.ones((2, 2, 3, 3)), np.float32)],
                                                              output_shape=[15, 18]),
     None, "does not fit the transposed convolution's full output [7, 7]"),
    ("conv-weights-channel-mismatch", lambda: _single("Conv", ["x", "w"], [1, 3, 5, 5],
                                                      [_const("w", np.ones((4, 2, 3, 3)), np.float32)]),
     None, "do not fit 3 input channels"),
    ("conv-window-larger-than-input", lambda: _single("Conv", ["x", "w"], [1, 2, 2, 2],
                                                      [_const("w", np.ones((4, 2, 3, 3)), np.float32)]),
     None, "larger than the padded input"),
]


@pytest.mark.parametrize("build, run_shape, needle", [
    pytest.param(build, shape, needle, id=name) for name, build, shape, needle in BAD_ARGUMENTS])
def test_bad_arguments_name_the_node(build, run_shape, needle):
    model = build()
    with pytest.raises(EdgeRTError) as info:
        sess = edgert.load(model, threads=1, backend="edgert")
        if run_shape is None:
            pytest.fail("loaded without an error")
        sess.run({"x": np.ones(run_shape, np.float32)})
    assert "'n'" in str(info.value), f"the message should name node 'n': {info.value}"
    assert needle in str(info.value), info.value


@pytest.mark.parametrize("op, attrs, needle", [
    ("Conv", {"strides": [0, 1]}, "'strides': [0, 1] must be positive"),
    ("Conv", {"dilations": [1, -2]}, "'dilations'"),
    ("Conv", {"pads": [1, 1, -1, 1]}, "must not be negative"),
    ("Conv", {"kernel_shape": [3, 3], "strides": [1]}, "1 values for a 2-D kernel_shape"),
    ("Conv", {"group": 0}, "'group': 0 must be positive"),
    ("MaxPool", {"kernel_shape": [2, 2], "pads": [2, 0, 0, 0]}, "smaller than kernel_shape"),
    ("AveragePool", {"kernel_shape": [3, 3], "pads": [1 << 30] * 4}, "smaller than kernel_shape"),
    ("MaxPool", {"kernel_shape": [0, 2]}, "'kernel_shape': [0, 2] must be positive"),
])
def test_window_attributes_out_of_range(op, attrs, needle):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 5, 5])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    inputs, inits = ["x"], []
    if op == "Conv":
        inits = [numpy_helper.from_array(np.ones((2, 2, 3, 3), np.float32), "w")]
        inputs.append("w")
    attrs = dict({"kernel_shape": [3, 3]}, **attrs)
    model = _model([helper.make_node(op, inputs, ["y"], name="win", **attrs)], [x], [y], inits)
    _rejected(model, f"node 'win' ({op})", needle)


def test_tflite_conv_with_zero_input_channels_is_a_load_error():
    tflite = pytest.importorskip("edgert.exporters.tflite")
    b = tflite.TFLiteBuilder()
    x = b.input("x", [1, 4, 4, 0])
    w = b.const("w", np.zeros((2, 3, 3, 1), np.float32))
    y = b.tensor("y", [1, 2, 2, 2])
    b.op("CONV_2D", [x, w], [y], padding="VALID", stride_h=1, stride_w=1)
    b.output(y)
    with pytest.raises(ModelLoadError):
        edgert.load(b.finish(), backend="edgert")


@pytest.mark.parametrize("build", [
    pytest.param(lambda: _single("Gather", ["x", "i"], [2, 3], [_const("i", [9])], axis=1), id="gather-index"),
    pytest.param(lambda: _model([helper.make_node("Split", ["x", "s"], ["y", "z"], name="n", axis=4)],
                                [_io([2, 6])], [_io(None, "y"), _io(None, "z")], [_const("s", [3, 3])]),
                 id="split-axis"),
    pytest.param(lambda: _single("Transpose", ["x"], [2, 3], perm=[0, 0]), id="transpose-perm"),
    pytest.param(lambda: _single("Slice", ["x", "s", "e", "a", "st"], [2, 3],
                                 [_const("s", [0]), _const("e", [2]), _const("a", [1]), _const("st", [0])]),
                 id="slice-zero-step"),
    pytest.param(lambda: _single("Concat", ["x", "c"], [2, 3], [_const("c", np.ones((2, 3, 1)), np.float32)], axis=1),
                 id="concat-ranks"),
    pytest.param(lambda: _single("Resize", ["x", "", "s"], [1, 1, 2, 2], [_const("s", [1, 1, np.nan, 2], np.float32)]),
                 id="resize-nan-scale"),
    pytest.param(lambda: _single("Tile", ["x", "r"], [2, 3], [_const("r", [1 << 20, 1 << 20])]), id="tile-terabytes"),
    pytest.param(lambda: _single("Expand", ["x", "s"], [1, 1], [_const("s", [1 << 20, 1 << 20])]), id="expand-terabytes"),
    pytest.param(lambda: _single("Conv", ["x", "w"], [1, 3, 5, 5], [_const("w", np.ones((2, 4, 3, 3)), np.float32)]),
                 id="conv-channels"),
    pytest.param(lambda: _single("MatMul", ["x", "w"], [3], [_const("w", np.ones(4), np.float32)]), id="matmul-inner"),
])
def test_out_of_range_arguments_are_load_errors(build):
    _rejected(build(), "'n'", error=EdgeRTError)
