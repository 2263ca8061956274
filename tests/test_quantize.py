"""`edgert quantize` and edgert.tools.quantize: int8 QDQ quantization through onnxruntime.

The quantized models are checked on their own terms (QDQ structure, int8 weights, per-channel
scales, the input range the calibration images imply) and against the fp32 model on inputs
the quantizer never saw, run node by node in onnxruntime. Every user error must end in exit
status 2 with one `edgert: error:` line and no traceback, and must leave no output behind.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from io import StringIO
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import model_zoo as mz
from edgert import cli
from edgert.errors import InputError
from edgert.tools import images
from edgert.tools.quantize import RandomCalibrationReader, quantize_onnx

# The small MobileNetV2 the end-to-end test quantizes: 32x32 input, width 0.35, 10 classes.
MNV2 = dict(size=32, width=0.35, num_classes=10)
# Random He-initialised weights make a deep depthwise network harder to quantize than a trained
# one: nothing keeps the 17 inverted-residual blocks' activations in a narrow range, and each
# per-tensor int8 activation adds rounding noise the next block amplifies. Measured on this model
# (weight seed 0) with 16 random calibration inputs, per-channel: cosine 0.984 on the held-out
# inputs, 0.987 on the test's own 8 inputs (other weight seeds of the same network: 0.969-0.978;
# calibrating on 8 inputs scaled by 0.2, i.e. on the wrong data, gives 0.92). 0.98 leaves
# the margin float-kernel differences between CPUs need (they move it by well under 0.001).
MNV2_MIN_COSINE = 0.98
# The shallow exporter_cnn quantizes almost losslessly: measured 0.9995-0.9997 (0.80 mis-calibrated).
CNN_MIN_COSINE = 0.995

# Calibration texture pixel ranges per BGR channel (cv2's order). Each image carries blocks of the
# lowest and highest value of every channel, large enough to survive resizing, so every image
# spans exactly these ranges and the calibrated input range does not depend on which are held out.
BGR_RANGES = ((0, 60), (80, 160), (180, 255))


def _cli(capsys, *argv) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def _assert_user_error(rc: int, out: str, err: str, *needles: str) -> None:
    assert rc == 2, f"exit status {rc}, expected 2\nstdout: {out}\nstderr: {err}"
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edgert: error: "), f"stderr: {err!r}"
    assert "Traceback" not in err + out
    for needle in needles:
        assert needle in err, f"{needle!r} not in the error message: {err!r}"


def _write_textures(folder: Path, count: int, hw=(40, 48), seed=0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    h, w = hw
    paths = []
    for i in range(count):
        image = np.empty((h, w, 3), np.uint8)
        for c, (lo, hi) in enumerate(BGR_RANGES):
            # Smooth blobs plus noise: a texture, not white noise.
            coarse = rng.uniform(lo, hi, (h // 8 + 1, w // 8 + 1)).astype(np.float32)
            smooth = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
            image[:, :, c] = np.clip(smooth + rng.normal(0, 8, (h, w)), lo, hi).astype(np.uint8)
        image[:12, :12] = [lo for lo, _ in BGR_RANGES]
        image[-12:, -12:] = [hi for _, hi in BGR_RANGES]
        path = folder / f"img_{i:03d}.png"
        assert cv2.imwrite(str(path), image)
        paths.append(path)
    return paths


def _save(model: onnx.ModelProto, path: Path) -> Path:
    onnx.save(model, str(path))
    return path


def _random_inputs(model: onnx.ModelProto, count: int, seed: int) -> list[dict[str, np.ndarray]]:
    """Unit-normal inputs from a seed the quantizer's calibration never uses."""
    rng = np.random.default_rng(seed)
    shape = [d.dim_value or 1 for d in model.graph.input[0].type.tensor_type.shape.dim]
    return [{model.graph.input[0].name: rng.standard_normal(shape).astype(np.float32)} for _ in range(count)]


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def _agreement(run_reference, fp32: onnx.ModelProto, int8: onnx.ModelProto, feeds_list) -> dict[str, float]:
    """Cosine per output over all feeds, both models run node by node in onnxruntime."""
    ref = [run_reference(fp32, feeds) for feeds in feeds_list]
    got = [run_reference(int8, feeds) for feeds in feeds_list]
    return {name: _cosine(np.concatenate([r[name].ravel() for r in ref]),
                          np.concatenate([g[name].ravel() for g in got])) for name in ref[0]}


def _check_qdq(model: onnx.ModelProto, per_channel: bool | None = None) -> None:
    """Valid ONNX, Q/DQ pairs, and every Conv/Gemm weight an int8 initialiser behind a
    DequantizeLinear (per output channel with axis 0, or one scale per tensor)."""
    onnx.checker.check_model(model, full_check=True)
    ops = Counter(n.op_type for n in model.graph.node)
    assert ops["QuantizeLinear"] > 0 and ops["DequantizeLinear"] > 0, ops
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    producer = {o: n for n in model.graph.node for o in n.output}
    weighted = [n for n in model.graph.node if n.op_type in ("Conv", "Gemm")]
    assert weighted
    for node in weighted:
        dq = producer.get(node.input[1])
        assert dq is not None and dq.op_type == "DequantizeLinear", f"{node.name}: weight not dequantized"
        weight, scale = inits[dq.input[0]], inits[dq.input[1]]
        assert weight.dtype == np.int8, f"{node.name}: weight is {weight.dtype}"
        assert np.abs(weight).max() <= 127, f"{node.name}: int8 weights are symmetric, -128 unused"
        if per_channel is None:
            continue
        axis = next((a.i for a in dq.attribute if a.name == "axis"), 1)
        if per_channel and node.op_type == "Conv":
            assert scale.shape == (weight.shape[0],) and axis == 0, f"{node.name}: scale {scale.shape} axis {axis}"
        elif not per_channel:
            assert scale.size == 1, f"{node.name}: per-tensor weight has {scale.size} scales"


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("models")
    return {"mnv2": _save(mz.mobilenet_v2(**MNV2), folder / "mnv2.onnx"),
            "cnn": _save(mz.exporter_cnn(size=32), folder / "cnn.onnx")}


# ---------------------------------------------------------------------------------------------
# End to end


def test_cli_calib_random_mobilenet_v2(models, tmp_path, capsys, run_reference):
    out = tmp_path / "mnv2_int8.onnx"
    rc, stdout, err = _cli(capsys, "quantize", models["mnv2"], "-o", out, "--calib-random", 16)
    assert rc == 0, err
    assert "calibrating" not in stdout, "progress bar drawn although stdout is not a terminal"
    assert f"wrote {out}" in stdout and "cosine" in stdout
    int8 = onnx.load(str(out))
    _check_qdq(int8, per_channel=True)
    fp32 = onnx.load(str(models["mnv2"]))
    cosines = _agreement(run_reference, fp32, int8, _random_inputs(fp32, 8, seed=1234))
    assert min(cosines.values()) > MNV2_MIN_COSINE, cosines
    # The printed figure is the cosine on the held-out inputs, and about the same.
    printed = float(re.search(re.escape(fp32.graph.output[0].name) + r"\W+([0-9.]+)", stdout).group(1))
    assert abs(printed - min(cosines.values())) < 0.01, (printed, cosines)
    assert out.stat().st_size < models["mnv2"].stat().st_size / 2.5  # int8 weights: ~4x smaller


def test_report_measures_held_out_random_inputs(models, tmp_path, run_reference):
    out = tmp_path / "cnn_int8.onnx"
    report = quantize_onnx(models["cnn"], out, 8, seed=3)
    fp32, int8 = onnx.load(str(models["cnn"])), onnx.load(str(out))
    # Held out: batches 8..11 of the seed, which calibration (batches 0..7) never saw.
    held_out = list(RandomCalibrationReader({"input": (1, 3, 32, 32)}, {"input": np.dtype(np.float32)},
                                            range(8, 12), seed=3))
    expected = _agreement(run_reference, fp32, int8, held_out)
    assert [o.name for o in report.outputs] == list(expected)
    for o in report.outputs:
        assert o.cosine == pytest.approx(expected[o.name], abs=1e-6)
        assert o.cosine > CNN_MIN_COSINE
        assert 0 < o.max_abs_error < 0.1 * o.max_abs_reference
        assert o.cosine_onnxruntime > 0.9  # fused int8 kernels; x86 without VNNI may saturate
    assert report.evaluated_on_heldout and (report.calibration_batches, report.evaluation_batches) == (8, 4)
    ops = Counter(n.op_type for n in int8.graph.node)
    assert (report.quantize_nodes, report.dequantize_nodes, report.int8_nodes) == (
        ops["QuantizeLinear"], ops["DequantizeLinear"], len(int8.graph.node))
    assert report.fp32_nodes == len(fp32.graph.node)
    assert report.quantized_ops["Conv"] == 2 and report.quantized_ops["Gemm"] == 2
    assert report.int8_weights == 4  # two Conv and two Gemm weights
    assert (report.input_bytes, report.output_bytes) == (models["cnn"].stat().st_size, out.stat().st_size)
    assert report.preprocessed


@pytest.mark.parametrize("bgr", [False, True], ids=["rgb", "bgr"])
def test_calib_images_set_the_input_range(models, tmp_path, bgr, run_reference):
    paths = _write_textures(tmp_path / "calib", 12)
    mean, std = (0.2, 0.5, 0.8), (0.5, 0.25, 0.1)
    out = tmp_path / "int8.onnx"
    report = quantize_onnx(models["cnn"], out, tmp_path / "calib", mean=mean, std=std, bgr=bgr)
    int8 = onnx.load(str(out))
    _check_qdq(int8, per_channel=True)
    assert report.evaluated_on_heldout and (report.calibration_batches, report.evaluation_batches) == (10, 2)

    # The quantizer's input range must be that of the preprocessed images: pixels in model
    # channel order (RGB unless bgr), scaled to [0, 1], normalised per channel.
    ranges = BGR_RANGES if bgr else BGR_RANGES[::-1]
    lows = [(lo / 255 - m) / s for (lo, _), m, s in zip(ranges, mean, std)]
    highs = [(hi / 255 - m) / s for (_, hi), m, s in zip(ranges, mean, std)]
    rmin, rmax = min(min(lows), 0.0), max(max(highs), 0.0)
    quantize_input = next(n for n in int8.graph.node if n.op_type == "QuantizeLinear" and n.input[0] == "input")
    inits = {t.name: numpy_helper.to_array(t) for t in int8.graph.initializer}
    scale, zero_point = inits[quantize_input.input[1]], inits[quantize_input.input[2]]
    assert zero_point.dtype == np.int8
    assert float(scale) == pytest.approx((rmax - rmin) / 255, rel=1e-5)
    # zero point: rmin maps to -128 (the rounding may go either way on an exact .5)
    assert abs(-128 - rmin / float(scale) - int(zero_point)) <= 0.5 + 1e-4

    # The report measures images 5 and 11 (every sixth, held out of calibration); Preprocess
    # itself is checked against numpy in test_images_preprocess_matches_numpy.
    preprocess = images.Preprocess(size=(32, 32), mean=mean, std=std, bgr=bgr)
    held_out = [{"input": preprocess.batch([p])} for p in paths[5::6]]
    cosines = _agreement(run_reference, onnx.load(str(models["cnn"])), int8, held_out)
    assert min(cosines.values()) > CNN_MIN_COSINE
    assert report.outputs[0].cosine == pytest.approx(min(cosines.values()), abs=1e-6)


def test_cli_calib_images_nhwc_symbolic_size(tmp_path, capsys):
    """An NHWC model with symbolic batch/height/width: --layout nhwc and --size make it work;
    read as NCHW its channel axis is symbolic, and the error must point at --layout nhwc."""
    g = mz.GraphBuilder(seed=0)
    x = g.input("image", ["n", "h", "w", 3])
    x = g.op("Transpose", [x], perm=[0, 3, 1, 2])
    x = g.op("Relu", [mz.conv(g, x, 3, 8, 3)])
    x = g.op("GlobalAveragePool", [mz.conv(g, x, 8, 16, 3, stride=2)])
    model = _save(g.model([g.op("Flatten", [x], axis=1)]), tmp_path / "nhwc.onnx")
    _write_textures(tmp_path / "calib", 6)
    out = tmp_path / "int8.onnx"

    rc, stdout, err = _cli(capsys, "quantize", model, "-o", out, "--calib", tmp_path / "calib", "--size", "24x20")
    _assert_user_error(rc, stdout, err, "--layout nhwc")
    rc, stdout, err = _cli(capsys, "quantize", model, "-o", out, "--calib", tmp_path / "calib", "--layout", "nhwc")
    _assert_user_error(rc, stdout, err, "--size")
    assert not out.exists()
    rc, stdout, err = _cli(capsys, "quantize", model, "-o", out, "--calib", tmp_path / "calib",
                           "--layout", "nhwc", "--size", "24x20", "--mean", "0.5", "--std", "0.25")
    assert rc == 0, err
    _check_qdq(onnx.load(str(out)))
    assert "held-out" in stdout  # 6 images: one held back


def test_fixed_batch_groups_images(tmp_path):
    """A model with batch 2 gets images two at a time; with too few batches to hold any back,
    the comparison runs on calibration batches and the report says so."""
    model = _save(mz.exporter_cnn(size=16, batch=2), tmp_path / "b2.onnx")
    _write_textures(tmp_path / "calib", 7, hw=(16, 16))
    report = quantize_onnx(model, tmp_path / "int8.onnx", tmp_path / "calib")
    assert (report.calibration_batches, report.evaluation_batches) == (3, 3)
    assert not report.evaluated_on_heldout
    assert any("1 of 7 images were not used" in n for n in report.notes)
    assert any("too few to hold any back" in n for n in report.notes)


# ---------------------------------------------------------------------------------------------
# Options


def test_per_tensor_and_per_channel(models, tmp_path, capsys, run_reference):
    fp32 = onnx.load(str(models["cnn"]))
    feeds = _random_inputs(fp32, 4, seed=99)
    for flag, per_channel in (("--per-tensor", False), ("--per-channel", True)):
        out = tmp_path / f"{flag[2:]}.onnx"
        rc, stdout, err = _cli(capsys, "quantize", models["cnn"], "-o", out, "--calib-random", 8, flag)
        assert rc == 0, err
        assert f"{flag[2:]} int8 weights" in stdout
        int8 = onnx.load(str(out))
        _check_qdq(int8, per_channel=per_channel)
        assert min(_agreement(run_reference, fp32, int8, feeds).values()) > CNN_MIN_COSINE


@pytest.mark.parametrize("method", ["entropy", "percentile"])
def test_histogram_methods(models, tmp_path, method, run_reference):
    out = tmp_path / "int8.onnx"
    # 10 batches: the histograms are merged every 5 (a stride must divide the count).
    report = quantize_onnx(models["cnn"], out, 10, method=method)
    fp32, int8 = onnx.load(str(models["cnn"])), onnx.load(str(out))
    _check_qdq(int8)
    assert report.method == method
    assert min(_agreement(run_reference, fp32, int8, _random_inputs(fp32, 4, seed=7)).values()) > 0.99


def test_exclude_keeps_nodes_in_float(models, tmp_path, capsys):
    out = tmp_path / "int8.onnx"
    rc, stdout, err = _cli(capsys, "quantize", models["cnn"], "-o", out, "--calib-random", 4,
                           "--exclude", "gemm_1", "batchnormalization_0")
    assert rc == 0, err
    assert "kept in float: gemm_1" in stdout
    assert "batchnormalization_0 was merged" in stdout  # folded into conv_1 before quantization
    int8 = onnx.load(str(out))
    producer = {o: n for n in int8.graph.node for o in n.output}
    gemm = next(n for n in int8.graph.node if n.name == "gemm_1")
    assert gemm.input[1] not in producer  # the float weight initialiser, no DequantizeLinear
    floats = {t.name for t in int8.graph.initializer if t.data_type == TensorProto.FLOAT}
    assert gemm.input[1] in floats


def test_progress_bar_on_a_terminal(models, tmp_path):
    from rich.console import Console

    screen = StringIO()
    quantize_onnx(models["cnn"], tmp_path / "int8.onnx", 3, progress=True,
                  console=Console(file=screen, force_terminal=True, width=100))
    assert "calibrating" in screen.getvalue() and "3/3" in screen.getvalue()


# ---------------------------------------------------------------------------------------------
# Output safety


def test_existing_output_needs_force(models, tmp_path, capsys):
    out = tmp_path / "int8.onnx"
    out.write_bytes(b"previous")
    rc, stdout, err = _cli(capsys, "quantize", models["cnn"], "-o", out, "--calib-random", 2)
    _assert_user_error(rc, stdout, err, "exists", "--force")
    assert out.read_bytes() == b"previous"
    rc, stdout, err = _cli(capsys, "quantize", models["cnn"], "-o", out, "--calib-random", 2, "--force")
    assert rc == 0, err
    _check_qdq(onnx.load(str(out)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["int8.onnx"]  # no temp file left
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # an ordinary new file, not mkstemp's 0600


def test_refuses_to_overwrite_the_input(models, tmp_path, capsys):
    model = _save(onnx.load(str(models["cnn"])), tmp_path / "m.onnx")
    before = model.read_bytes()
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.onnx").symlink_to(model)
    for alias in (model, tmp_path / "sub" / ".." / "m.onnx", tmp_path / "link.onnx"):
        rc, stdout, err = _cli(capsys, "quantize", model, "-o", alias, "--calib-random", 2, "--force")
        _assert_user_error(rc, stdout, err, "is the input model")
    assert model.read_bytes() == before


def test_failure_leaves_no_partial_output(models, tmp_path, capsys):
    """A damaged image mid-calibration: the error names it, an existing OUT is untouched even
    with --force, and no temp file is left in the output folder."""
    _write_textures(tmp_path / "calib", 4)
    (tmp_path / "calib" / "img_002.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(40))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "int8.onnx"
    out.write_bytes(b"previous")
    rc, stdout, err = _cli(capsys, "quantize", models["cnn"], "-o", out, "--calib", tmp_path / "calib", "--force")
    _assert_user_error(rc, stdout, err, "img_002.png")
    assert out.read_bytes() == b"previous"
    assert [p.name for p in out_dir.iterdir()] == ["int8.onnx"]


def test_model_onnxruntime_cannot_run_leaves_nothing(tmp_path, capsys):
    """Valid ONNX (the checker accepts it) that fails when run: Reshape of 192 values to 5x7."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [5, 7])
    w = numpy_helper.from_array(np.ones((3, 3, 1, 1), np.float32), "w")
    shape = numpy_helper.from_array(np.array([5, 7], np.int64), "shape")
    graph = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
                               helper.make_node("Reshape", ["c", "shape"], ["y"], name="reshape")],
                              "broken", [x], [y], [w, shape])
    model = _save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), tmp_path / "broken.onnx")
    onnx.checker.check_model(onnx.load(str(model)))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    rc, stdout, err = _cli(capsys, "quantize", model, "-o", out_dir / "int8.onnx", "--calib-random", 2)
    _assert_user_error(rc, stdout, err)
    assert list(out_dir.iterdir()) == []


# ---------------------------------------------------------------------------------------------
# Bad input


def _two_input_model() -> onnx.ModelProto:
    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, [1, 3, 8, 8])
    b = helper.make_tensor_value_info("b", TensorProto.FLOAT, [1, 3, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 8, 8])
    graph = helper.make_graph([helper.make_node("Add", ["a", "b"], ["y"], name="add")], "two", [a, b], [y])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _vector_model() -> onnx.ModelProto:
    g = mz.GraphBuilder(seed=0)
    return g.model([mz.gemm(g, g.input("features", [1, 16]), 16, 4)])


@pytest.mark.parametrize("args, needles", [
    (["--calib-random", "0"], ["at least 1"]),
    (["--calib", "{tmp}/missing"], ["missing", "no such directory"]),
    (["--calib", "{tmp}/empty"], ["holds no images"]),
    (["--calib", "{tmp}/textures", "--mean", "0.5,0.5"], ["mean has 2 values", "3 channels"]),
    (["--calib", "{tmp}/textures", "--mean", "a,b,c"], ["--mean 'a,b,c'"]),
    (["--calib", "{tmp}/textures", "--std", "0.2,0,0.2"], ["std values must be positive"]),
    (["--calib", "{tmp}/textures", "--size", "0x3"], ["--size '0x3'"]),
    (["--calib", "{tmp}/textures", "--size", "24x24"], ["does not match", "32x32"]),
    (["--calib-random", "2", "--mean", "0.5"], ["--mean, --std and --bgr describe --calib images"]),
    (["--calib-random", "2", "--exclude", "conv_0", "no_such_node"], ["no_such_node"]),
], ids=["zero-samples", "missing-dir", "empty-dir", "mean-count", "mean-text", "std-zero", "size-text",
        "size-mismatch", "mean-random", "exclude-unknown"])
def test_bad_arguments(models, tmp_path, capsys, args, needles):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("not an image")
    _write_textures(tmp_path / "textures", 2)
    out = tmp_path / "int8.onnx"
    argv = [a.format(tmp=tmp_path) for a in args]
    rc, stdout, err = _cli(capsys, "quantize", models["cnn"], "-o", out, *argv)
    _assert_user_error(rc, stdout, err, *needles)
    assert not out.exists()


@pytest.mark.parametrize("kind, needles", [
    ("missing", ["no such model file"]),
    ("text", ["not an ONNX model"]),
    ("empty", ["not an ONNX model"]),
    ("two-inputs", ["one input", "takes 2", "--calib-random"]),
    ("vector", ["rank-4 image input", "--calib-random"]),
])
def test_bad_models(tmp_path, capsys, kind, needles):
    model = tmp_path / "model.onnx"
    if kind == "text":
        model.write_text("this is not a model\n" * 10)
    elif kind == "empty":
        model.write_bytes(b"")
    elif kind == "two-inputs":
        _save(_two_input_model(), model)
    elif kind == "vector":
        _save(_vector_model(), model)
    _write_textures(tmp_path / "calib", 2)
    rc, stdout, err = _cli(capsys, "quantize", model, "-o", tmp_path / "out.onnx", "--calib", tmp_path / "calib")
    _assert_user_error(rc, stdout, err, *needles)
    assert not (tmp_path / "out.onnx").exists()


@pytest.mark.parametrize("argv", [
    ["m.onnx", "--calib-random", "2"],  # no -o
    ["m.onnx", "-o", "o.onnx"],  # no calibration source
    ["m.onnx", "-o", "o.onnx", "--calib", "d", "--calib-random", "2"],  # both sources
    ["m.onnx", "-o", "o.onnx", "--calib-random", "2", "--per-tensor", "--per-channel"],
    ["m.onnx", "-o", "o.onnx", "--calib-random", "2", "--method", "mse"],
], ids=["no-output", "no-source", "two-sources", "two-granularities", "unknown-method"])
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["quantize", *argv])
    assert exc.value.code == 2
    assert "usage: edgert quantize" in capsys.readouterr().err


def test_without_onnxruntime_names_the_extra(models, tmp_path):
    """With onnxruntime not importable (sys.modules entry None), the command says what to install."""
    code = ("import sys; sys.modules['onnxruntime'] = None\n"
            "from edgert.cli import main\n"
            f"sys.exit(main(['quantize', {str(models['cnn'])!r}, '-o', {str(tmp_path / 'o.onnx')!r}, "
            "'--calib-random', '2']))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": ""})
    _assert_user_error(proc.returncode, proc.stdout, proc.stderr, "onnxruntime", "pip install 'edgert[quantize]'")


# ---------------------------------------------------------------------------------------------
# edgert.tools.images


def test_images_preprocess_matches_numpy(tmp_path):
    rng = np.random.default_rng(5)
    pixels = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    path = tmp_path / "x.png"
    cv2.imwrite(str(path), pixels)  # PNG is lossless: the file holds exactly these BGR pixels
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    x = pixels.astype(np.float64) / 255
    rgb = (x[:, :, ::-1] - mean) / std
    bgr = (x - mean) / std

    got = images.Preprocess(size=(20, 30), mean=mean, std=std).load(path)
    assert got.dtype == np.float32 and got.shape == (3, 20, 30)
    np.testing.assert_allclose(got, rgb.transpose(2, 0, 1), rtol=1e-5, atol=1e-5)
    got = images.Preprocess(size=(20, 30), mean=mean, std=std, layout="nhwc", bgr=True).load(path)
    assert got.shape == (20, 30, 3)
    np.testing.assert_allclose(got, bgr, rtol=1e-5, atol=1e-5)
    gray = images.Preprocess(size=(10, 15), channels=1).load(path)
    assert gray.shape == (1, 10, 15) and 0 <= gray.min() and gray.max() <= 1
    assert images.Preprocess(size=(20, 30)).batch([path, path]).shape == (2, 3, 20, 30)


def test_images_list_and_read(tmp_path):
    for name in ("b.PNG", "a.jpg", "c.bmp"):
        assert cv2.imwrite(str(tmp_path / name), np.zeros((4, 4, 3), np.uint8))
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "sub.png").mkdir()  # a folder named like an image is not one
    assert [p.name for p in images.list_images(tmp_path)] == ["a.jpg", "b.PNG", "c.bmp"]
    (tmp_path / "d.png").write_bytes(b"not a png")
    with pytest.raises(InputError, match="d.png"):
        images.read_image(tmp_path / "d.png")
    with pytest.raises(InputError, match="no such file"):
        images.read_image(tmp_path / "e.png")
    assert images.parse_size("224x160") == (224, 160) and images.parse_size("96") == (96, 96)
    assert images.parse_channel_values("0.5, 1,2", "--mean") == (0.5, 1.0, 2.0)
    with pytest.raises(InputError, match="--size"):
        images.parse_size("224x")
    with pytest.raises(InputError, match="layout"):
        images.Preprocess(size=(4, 4), layout="chw")
