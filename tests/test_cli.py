"""The `edgert` command line: `info`, `run` (random or given inputs, --save) and `demo`, driven
in-process through edgert.cli.main and once through `python -m edgert`.

Every user error must end in exit status 2 with one `edgert: error:` line on stderr and no
traceback; --save must never clobber an existing file (without --force) or the model itself."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import edgert
import model_zoo as mz
from edgert import cli

# `run` is always given --threads 1 and compared with a threads=1 Session, so equality is exact.
ONE_THREAD = ["--threads", "1"]


def _cli(capsys, *argv) -> tuple[int, str, str]:
    """Runs `edgert ARGV` in-process; an exception escaping main() fails the test (a traceback)."""
    capsys.readouterr()  # drop anything printed before
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


def _output_lines(out: str) -> dict[str, str]:
    """`run` prints one `NAME: DTYPE [SHAPE] min .. max .. mean ..` line per output."""
    lines = {}
    for line in out.splitlines():
        m = re.match(r"^(\S+): (\w+) (\[[\d, ]*\])(.*)$", line)
        if m:
            lines[m.group(1)] = line
    return lines


def _stats(line: str) -> dict[str, float]:
    return {k: float(v) for k, v in re.findall(r"\b(min|max|mean) (\S+)", line)}


def _direct(model_path, feeds) -> dict[str, np.ndarray]:
    return edgert.load(str(model_path), threads=1, backend="edgert").run(feeds)


# ------------------------------------------------------------------------------ models


def _two_output_model() -> onnx.ModelProto:
    """image [1, 3, 12, 10] -> a 4-D feature map and [1, 10] logits: two outputs of two ranks."""
    g = mz.GraphBuilder(seed=11)
    x = g.input("image", [1, 3, 12, 10])
    feat = g.op("Relu", [mz.conv(g, x, 3, 8, 3, stride=2)])
    logits = mz.gemm(g, g.op("Flatten", [g.op("GlobalAveragePool", [feat])], axis=1), 8, 10)
    return g.model([feat, logits], "two_outputs")


def _unknown_rank_model() -> onnx.ModelProto:
    """x of unknown rank -> Relu -> Sigmoid: nothing can be planned until a shape is given."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, None)
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["r"], name="relu"),
                               helper.make_node("Sigmoid", ["r"], ["y"], name="sigmoid")],
                              "unknown_rank", [x], [y])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _conv_macs(model: onnx.ModelProto, batch: int) -> int:
    """MACs of every Conv and Gemm, worked out from the ONNX graph with onnx's shape inference."""
    inferred = onnx.shape_inference.infer_shapes(model)
    shapes = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.output) + list(inferred.graph.input):
        shapes[vi.name] = [d.dim_value if d.HasField("dim_value") else batch
                           for d in vi.type.tensor_type.shape.dim]
    inits = {t.name: t.dims for t in model.graph.initializer}
    total = 0
    for node in model.graph.node:
        if node.op_type == "Conv":
            c_out, cin_g, kh, kw = inits[node.input[1]]
            n, _, oh, ow = shapes[node.output[0]]
            total += n * oh * ow * c_out * cin_g * kh * kw
        elif node.op_type == "Gemm":
            m, n_out = shapes[node.output[0]]
            total += m * n_out * inits[node.input[1]][1]  # transB=1: weights [N, K]
    return total


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli_models")
    protos = {
        "mobilenet": mz.mobilenet_v2(size=64, width=0.35),
        "dynamic": mz.mobilenet_v2(size=32, width=0.35, batch=None),
        "two_outputs": _two_output_model(),
        "two_inputs": mz.op_model(mz.find_case("add_same_shape")),  # x, x1: [2, 8, 7, 9]
        "unknown_rank": _unknown_rank_model(),
    }
    paths = {}
    for name, proto in protos.items():
        paths[name] = d / f"{name}.onnx"
        onnx.save(proto, paths[name])
    paths["protos"] = protos
    return paths


# ------------------------------------------------------------------------------ info


def _op_rows(out: str) -> dict[str, tuple[int, int]]:
    """Rows of the `steps after fusion` table: op -> (native, reference), whatever box drawing."""
    rows = {}
    for line in out.splitlines():
        m = re.match(r"^\W*([A-Za-z]\w*)\W+(\d+)\W+(\d+)\W*$", line)
        if m:
            rows[m.group(1)] = (int(m.group(2)), int(m.group(3)))
    return rows


def _macs(out: str) -> float:
    m = re.search(r"MACs:\s*([\d,.]+)\s*M", out)
    assert m, f"no MACs in the output:\n{out}"
    return float(m.group(1).replace(",", ""))


@pytest.mark.parametrize("fusion", ["never", "always"])
def test_info_prints_io_ops_and_macs(models, capsys, monkeypatch, fusion):
    monkeypatch.setenv("COLUMNS", "200")  # no wrapping of the tables by rich
    # Whether depthwise->1x1 pairs run fused depends on the cache size; pin it both ways.
    monkeypatch.setenv("EDGERT_DWPW_FUSION", fusion)
    rc, out, err = _cli(capsys, "info", models["mobilenet"])
    assert rc == 0, err
    proto = models["protos"]["mobilenet"]
    output_name = proto.graph.output[0].name
    assert str(models["mobilenet"]) in out
    assert "opset 17" in out
    assert re.search(r"\binput\b.*\binput\b.*\(1, 3, 64, 64\).*float32", out), out
    assert re.search(rf"\boutput\b.*\b{output_name}\b.*\(1, 1000\).*float32", out), out
    # The op table: BN and Clip fuse into the convs, so one Conv step per Conv node (one per
    # depthwise + projection pair when those run fused), all on native kernels.
    convs = [n for n in proto.graph.node if n.op_type == "Conv"]
    n_depthwise = sum(any(a.name == "group" and a.i > 1 for a in n.attribute) for n in convs)
    assert n_depthwise == 17  # MobileNetV2: every depthwise conv feeds a 1x1 projection
    n_conv_steps = len(convs) - (n_depthwise if fusion == "always" else 0)
    n_add = sum(n.op_type == "Add" for n in proto.graph.node)
    rows = _op_rows(out)
    assert rows.get("Conv") == (n_conv_steps, 0), rows
    assert rows.get("Add") == (n_add, 0), rows
    assert rows.get("Gemm") == (1, 0), rows
    assert "BatchNormalization" not in rows and "Clip" not in rows, rows
    # MACs do not depend on how the convs are grouped into steps.
    assert _macs(out) == pytest.approx(_conv_macs(proto, 1) / 1e6, abs=0.051)
    assert re.search(r"parameters: [\d,]+", out)


def test_info_shape_sets_symbolic_dims(models, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    proto = models["protos"]["dynamic"]
    rc, out, err = _cli(capsys, "info", models["dynamic"])
    assert rc == 0, err
    assert "'batch'" in out  # the symbolic dim is shown by name
    one = _macs(out)
    assert one == pytest.approx(_conv_macs(proto, 1) / 1e6, abs=0.051)
    rc, out, err = _cli(capsys, "info", models["dynamic"], "--shape", "input=4x3x32x32")
    assert rc == 0, err
    assert _macs(out) == pytest.approx(_conv_macs(proto, 4) / 1e6, abs=0.051)
    assert _macs(out) > 3.5 * one


def test_info_unknown_rank_needs_shape(models, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    rc, out, err = _cli(capsys, "info", models["unknown_rank"])
    _assert_user_error(rc, out, err, "'x'", "--shape")
    rc, out, err = _cli(capsys, "info", models["unknown_rank"], "--shape", "x=2x5")
    assert rc == 0, err
    rows = _op_rows(out)
    assert set(rows) >= {"Relu", "Sigmoid"}, rows


@pytest.mark.parametrize("spec", ["input=4x3xthirtytwo", "input=", "input"])
def test_bad_shape_spec_is_a_user_error(models, capsys, spec):
    rc, out, err = _cli(capsys, "info", models["dynamic"], "--shape", spec)
    _assert_user_error(rc, out, err, "--shape")


# ------------------------------------------------------------------------------ run


def test_run_random_inputs_prints_every_output(models, capsys):
    path = models["two_outputs"]
    rc, out, err = _cli(capsys, "run", path, *ONE_THREAD, "--seed", "5")
    assert rc == 0, err
    lines = _output_lines(out)
    sess = edgert.load(str(path), threads=1)
    assert sorted(lines) == sorted(o.name for o in sess.outputs)
    # The printed statistics are those of a run on the documented seeded random inputs.
    expected = sess.run(cli.random_feeds(sess, [tuple(t.shape) for t in sess.inputs], seed=5))
    for name, value in expected.items():
        assert f"{name}: float32 {list(value.shape)}" in lines[name]
        stats = _stats(lines[name])
        assert stats["min"] == pytest.approx(float(value.min()), rel=1e-4, abs=1e-6)
        assert stats["max"] == pytest.approx(float(value.max()), rel=1e-4, abs=1e-6)
        assert stats["mean"] == pytest.approx(float(value.mean(dtype=np.float64)), rel=1e-4, abs=1e-6)
    # Same seed, same numbers; another seed, other numbers.
    assert _cli(capsys, "run", path, *ONE_THREAD, "--seed", "5")[1] == out
    assert _cli(capsys, "run", path, *ONE_THREAD, "--seed", "6")[1] != out


def test_run_symbolic_batch_with_shape(models, capsys, tmp_path):
    save = tmp_path / "out.npz"
    rc, out, err = _cli(capsys, "run", models["dynamic"], *ONE_THREAD, "--shape", "input=3x3x32x32",
                        "--save", save)
    assert rc == 0, err
    with np.load(save) as saved:
        (value,) = saved.values()
        assert value.shape == (3, 1000)


def test_run_unknown_rank_needs_shape(models, capsys):
    rc, out, err = _cli(capsys, "run", models["unknown_rank"])
    _assert_user_error(rc, out, err, "'x'", "--shape")
    rc, out, err = _cli(capsys, "run", models["unknown_rank"], "--shape", "x=2x3x4")
    assert rc == 0, err
    assert "y: float32 [2, 3, 4]" in out


def test_run_with_input_files_and_save(models, capsys, tmp_path):
    path = models["two_inputs"]
    rng = np.random.default_rng(123)
    data = {name: rng.standard_normal((2, 8, 7, 9)).astype(np.float32) for name in ("x", "x1")}
    for name, array in data.items():
        np.save(tmp_path / f"{name}.npy", array)
    save = tmp_path / "out.npz"
    rc, out, err = _cli(capsys, "run", path, *ONE_THREAD, "--input", f"x={tmp_path / 'x.npy'}",
                        "--input", f"x1={tmp_path / 'x1.npy'}", "--save", save)
    assert rc == 0, err
    expected = _direct(path, data)
    with np.load(save) as saved:
        assert sorted(saved.files) == sorted(expected)
        for name, value in expected.items():
            np.testing.assert_array_equal(saved[name], value)
            assert saved[name].dtype == value.dtype
    lines = _output_lines(out)
    for name, value in expected.items():
        assert _stats(lines[name])["max"] == pytest.approx(float(value.max()), rel=1e-4)
    # The given data was used, not random data.
    sess = edgert.load(str(path), threads=1)
    random_out = sess.run(cli.random_feeds(sess, [tuple(t.shape) for t in sess.inputs], seed=0))
    assert not any(np.array_equal(random_out[k], expected[k]) for k in expected)
    assert f"saved {len(expected)} outputs to {save}" in out


def test_save_writes_every_output(models, capsys, tmp_path):
    path = models["two_outputs"]
    x = np.random.default_rng(9).standard_normal((1, 3, 12, 10)).astype(np.float32)
    np.save(tmp_path / "image.npy", x)
    save = tmp_path / "both.npz"
    rc, out, err = _cli(capsys, "run", path, *ONE_THREAD, "--input", f"image={tmp_path / 'image.npy'}",
                        "--save", save)
    assert rc == 0, err
    expected = _direct(path, {"image": x})
    assert len(expected) == 2
    with np.load(save) as saved:
        assert sorted(saved.files) == sorted(expected)
        for name, value in expected.items():
            np.testing.assert_array_equal(saved[name], value)
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".edgert-")]
    assert leftovers == [], f"temporary files left behind: {leftovers}"


def test_save_refuses_to_overwrite_without_force(models, capsys, tmp_path):
    save = tmp_path / "existing.npz"
    save.write_bytes(b"precious, not an npz")
    rc, out, err = _cli(capsys, "run", models["two_outputs"], *ONE_THREAD, "--save", save)
    _assert_user_error(rc, out, err, str(save), "--force")
    assert out == "", "refused before running the model"
    assert save.read_bytes() == b"precious, not an npz"

    rc, out, err = _cli(capsys, "run", models["two_outputs"], *ONE_THREAD, "--save", save, "--force")
    assert rc == 0, err
    sess = edgert.load(str(models["two_outputs"]), threads=1)
    expected = sess.run(cli.random_feeds(sess, [tuple(t.shape) for t in sess.inputs], seed=0))
    with np.load(save) as saved:
        assert sorted(saved.files) == sorted(expected)
        for name, value in expected.items():
            np.testing.assert_array_equal(saved[name], value)


@pytest.mark.parametrize("force", [False, True], ids=["plain", "force"])
def test_save_refuses_to_overwrite_the_model(models, capsys, tmp_path, force):
    model = tmp_path / "model.onnx"
    model.write_bytes(models["two_outputs"].read_bytes())
    original = model.read_bytes()
    other_spelling = tmp_path / "sub" / ".." / "model.onnx"
    (tmp_path / "sub").mkdir()
    for target in (model, other_spelling):
        rc, out, err = _cli(capsys, "run", model, "--save", target, *(["--force"] if force else []))
        _assert_user_error(rc, out, err, "model")
        assert model.read_bytes() == original


def test_missing_model_file(capsys, tmp_path):
    missing = tmp_path / "nope.onnx"
    for command in ("run", "info"):
        rc, out, err = _cli(capsys, command, missing)
        _assert_user_error(rc, out, err, str(missing))


@pytest.mark.parametrize("spec", ["x", "x=", "=", ""])
def test_bad_input_spec(models, capsys, spec):
    rc, out, err = _cli(capsys, "run", models["two_inputs"], "--input", spec)
    _assert_user_error(rc, out, err, "--input")


def test_unreadable_npy(models, capsys, tmp_path):
    text = tmp_path / "text.npy"
    text.write_text("not a numpy file\n")
    pickled = tmp_path / "pickled.npy"
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)  # needs pickle to load
    missing = tmp_path / "missing.npy"
    for bad in (text, pickled, missing, tmp_path):  # tmp_path: a directory
        rc, out, err = _cli(capsys, "run", models["two_outputs"], "--input", f"image={bad}")
        _assert_user_error(rc, out, err, str(bad))


def test_input_data_that_does_not_fit(models, capsys, tmp_path):
    good = tmp_path / "good.npy"
    np.save(good, np.zeros((1, 3, 12, 10), np.float32))
    wrong_dtype = tmp_path / "f64.npy"
    np.save(wrong_dtype, np.zeros((1, 3, 12, 10), np.float64))
    wrong_shape = tmp_path / "shape.npy"
    np.save(wrong_shape, np.zeros((1, 3, 12, 11), np.float32))
    cases = [
        ([f"images={good}"], "images"),  # wrong input name
        ([f"image={wrong_dtype}"], "float64"),
        ([f"image={wrong_shape}"], "image"),
    ]
    for inputs, needle in cases:
        argv = [a for spec in inputs for a in ("--input", spec)]
        rc, out, err = _cli(capsys, "run", models["two_outputs"], *argv)
        _assert_user_error(rc, out, err, needle)
    # Only one of two inputs given: the other is reported missing (not silently randomised).
    rc, out, err = _cli(capsys, "run", models["two_inputs"], "--input", f"x={tmp_path / 'good.npy'}")
    _assert_user_error(rc, out, err, "x1")


# ------------------------------------------------------------------------------ --save edge cases


def test_save_into_missing_directory_is_a_user_error(models, capsys, tmp_path):
    target = tmp_path / "no_such_dir" / "out.npz"
    rc, out, err = _cli(capsys, "run", models["two_outputs"], "--save", target)
    _assert_user_error(rc, out, err, "no_such_dir")


def _renamed_output_model(name: str) -> onnx.ModelProto:
    g = mz.GraphBuilder(seed=0)
    g.input("x", [1, 4])
    g.nodes.append(helper.make_node("Relu", ["x"], [name], name="relu"))
    return g.model([name])


@pytest.mark.parametrize("output_name", ["file", "allow_pickle"])
def test_save_keeps_outputs_named_like_savez_arguments(capsys, tmp_path, output_name):
    # np.savez(f, **outputs) would take these names as its own keyword arguments.
    model = tmp_path / "m.onnx"
    onnx.save(_renamed_output_model(output_name), model)
    save = tmp_path / "out.npz"
    x = np.linspace(-1, 1, 4, dtype=np.float32).reshape(1, 4)
    np.save(tmp_path / "x.npy", x)
    rc, out, err = _cli(capsys, "run", model, "--input", f"x={tmp_path / 'x.npy'}", "--save", save)
    assert rc == 0, err
    with np.load(save) as saved:
        assert saved.files == [output_name]
        np.testing.assert_array_equal(saved[output_name], np.maximum(x, 0))


# ------------------------------------------------------------------------------ demo, entry point


def test_demo_exits_zero(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)                 # the headless default writes edgert-demo-TIME.mp4 here
    monkeypatch.delenv("DISPLAY", raising=False)
    rc, out, err = _cli(capsys, "demo", "--frames", "3", "--threads", "1")
    assert rc == 0, out + err
    assert "summary: 3 frames" in out and err == ""
    assert len(list(tmp_path.glob("edgert-demo-*.mp4"))) == 1


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"edgert {edgert.__version__}"


def test_python_m_edgert_entry_point(models, tmp_path):
    env = dict(os.environ, COLUMNS="200")  # same EDGERT_KERNELS as this process: exact comparison
    save = tmp_path / "out.npz"
    ok = subprocess.run([sys.executable, "-m", "edgert", "run", str(models["two_outputs"]), "--threads", "1",
                         "--save", str(save)], capture_output=True, text=True, cwd=tmp_path, env=env,
                        timeout=120)
    assert ok.returncode == 0, ok.stderr
    sess = edgert.load(str(models["two_outputs"]), threads=1)
    expected = sess.run(cli.random_feeds(sess, [tuple(t.shape) for t in sess.inputs], seed=0))
    assert sorted(_output_lines(ok.stdout)) == sorted(expected)
    with np.load(save) as saved:
        for name, value in expected.items():
            np.testing.assert_array_equal(saved[name], value)

    bad = subprocess.run([sys.executable, "-m", "edgert", "run", str(tmp_path / "missing.onnx")],
                         capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert bad.returncode == 2
    assert bad.stderr.startswith("edgert: error: ") and "Traceback" not in bad.stderr, bad.stderr


@pytest.mark.parametrize("command", ["info", "run"])
def test_shape_for_an_unknown_input_is_a_user_error(models, capsys, command):
    rc, out, err = _cli(capsys, command, models["dynamic"], "--shape", "inptu=4x3x32x32")
    _assert_user_error(rc, out, err, "inptu")
