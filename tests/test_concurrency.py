"""Sessions under concurrent use, and files written by the tools under failure and contention.

test_runtime.py covers one session hammered from 4 threads with one shape and two sessions side by
side. Here: one session from 4 threads across several input shapes (plan switches while others
run) and with failing callers mixed in; proof that separate sessions' kernels run at the same time
(they release the GIL); and `edgert run --save`'s output-file guarantees: written atomically, never
over an input, never over an existing file without --force.
"""

from __future__ import annotations

import subprocess
import sys
import threading

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import edgert
import model_zoo as mz
from edgert import cli
from edgert.errors import InputError


def _run_threads(jobs, timeout=300) -> list[str]:
    """Starts one thread per job together; returns the failures they report."""
    errors: list[str] = []
    barrier = threading.Barrier(len(jobs))

    def body(job):
        try:
            barrier.wait(timeout=60)
            job()
        except Exception as e:  # noqa: BLE001 - a worker's exception is a test failure
            errors.append(f"{type(e).__name__}: {e}")

    threads = [threading.Thread(target=body, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert not any(t.is_alive() for t in threads), "a thread hung (deadlock?)"
    return errors


# ------------------------------------------------------------------------------ one session, 4 threads


def test_one_session_four_threads_different_batch_sizes():
    # Each batch size has its own plan and arena; callers switching plans must still be serialised.
    model = mz.mobilenet_v2(size=32, width=0.35, batch=None)
    sess = edgert.load(model, threads=2, backend="edgert")
    rng = np.random.default_rng(3)
    feeds = {b: {"input": rng.standard_normal((b, 3, 32, 32)).astype(np.float32)} for b in (1, 2, 3, 4)}
    expected = {b: sess.run(f) for b, f in feeds.items()}  # one session is deterministic: bit-exact

    def job(batch):
        def run():
            for i in range(15):
                b = batch if i % 2 == 0 else 1 + (batch + i) % 4  # alternate between plans
                got = sess.run(feeds[b])
                for name, want in expected[b].items():
                    if not np.array_equal(got[name], want):
                        raise AssertionError(f"batch {b}, run {i}: {name!r} differs")
        return run

    errors = _run_threads([job(b) for b in (1, 2, 3, 4)])
    assert not errors, errors[:5]


def test_failing_callers_do_not_disturb_the_others():
    model = mz.mobilenet_v2(size=32, width=0.35)
    sess = edgert.load(model, threads=2, backend="edgert")
    x = np.random.default_rng(5).standard_normal((1, 3, 32, 32)).astype(np.float32)
    want = sess.run({"input": x})
    bad_feeds = [{"input": x.astype(np.float64)}, {"input": x[..., :31]}, {"wrong": x}, {}]

    def good():
        for i in range(20):
            got = sess.run({"input": x})
            assert all(np.array_equal(got[k], v) for k, v in want.items()), f"run {i} differs"

    def bad():
        for i in range(20):
            with pytest.raises(InputError):
                sess.run(bad_feeds[i % len(bad_feeds)])

    errors = _run_threads([good, bad, good, bad])
    assert not errors, errors[:5]


# ------------------------------------------------------------------------------ sessions overlap


def _big_conv_model() -> onnx.ModelProto:
    """One 3x3 conv, 64 -> 64 channels on 96x96: ~300 M multiply-adds in one native step."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64, 96, 96])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    w = numpy_helper.from_array(np.random.default_rng(0).standard_normal((64, 64, 3, 3)).astype(np.float32) * 0.05, "w")
    node = helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1], name="conv")
    graph = helper.make_graph([node], "big_conv", [x], [y], [w])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _tiny_model() -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "tiny", [x], [y])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_separate_sessions_run_at_the_same_time():
    """While session A is inside one long native kernel, session B completes many whole runs.

    If A's kernel held the GIL, B could only run in A's few hand-offs between steps, and with a
    0.1 ms switch interval each hand-off lets B finish at most about one run. Counting B's runs that
    start and end inside A's run() proves the overlap without timing anything against a limit."""
    big = edgert.load(_big_conv_model(), threads=1, backend="edgert")
    plan = big.plan_for(big.static_input_shapes())
    assert len(plan.steps) <= 4, [s.label for s in plan.steps]  # few steps -> few GIL hand-offs
    tiny = edgert.load(_tiny_model(), threads=1, backend="edgert")
    x_big = np.random.default_rng(1).standard_normal((1, 64, 96, 96)).astype(np.float32)
    x_tiny = np.ones((1, 8), np.float32)
    big.run({"x": x_big})
    tiny.run({"x": x_tiny})

    a_inside = threading.Event()
    a_done = threading.Event()
    inside_runs = []

    def run_big():
        for _ in range(3):
            a_inside.set()
            big.run({"x": x_big})
        a_done.set()

    def run_tiny():
        a_inside.wait(60)
        while not a_done.is_set():
            tiny.run({"x": x_tiny})
            if not a_done.is_set():
                inside_runs.append(1)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)
    try:
        errors = _run_threads([run_big, run_tiny])
    finally:
        sys.setswitchinterval(old)
    assert not errors, errors
    hand_offs = 3 * (len(plan.steps) + 2)  # steps plus input copy and output copy, per run
    assert len(inside_runs) > 4 * hand_offs, (
        f"session B finished {len(inside_runs)} runs while A was in run(): A's kernels hold the GIL?")


def test_sessions_in_threads_match_serial_results():
    models = [mz.mobilenet_v2(size=32, width=0.35), mz.exporter_cnn(size=32), mz.mobilenet_v3(size=32, width=0.35)]
    sessions = [edgert.load(m, threads=1, backend="edgert") for m in models]
    rng = np.random.default_rng(9)
    feeds = [{"input": rng.standard_normal((1, 3, 32, 32)).astype(np.float32)} for _ in models]
    serial = [s.run(f) for s, f in zip(sessions, feeds)]

    def job(k):
        def run():
            for i in range(10):
                got = sessions[k].run(feeds[k])
                assert all(np.array_equal(got[n], v) for n, v in serial[k].items()), f"session {k} run {i}"
        return run

    errors = _run_threads([job(k) for k in range(len(models))])
    assert not errors, errors[:5]


# ------------------------------------------------------------------------------ `edgert run --save`


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "model.onnx"
    g = mz.GraphBuilder(seed=2)
    x = g.input("x", [1, 3, 8, 8])
    y = g.op("Relu", [mz.conv(g, x, 3, 4, 3)])
    onnx.save(g.model([y], "small"), path)
    return path


def _saved(path) -> dict:
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def test_failed_save_leaves_no_file_and_no_temporary(model_path, tmp_path, monkeypatch, capsys):
    target = tmp_path / "out.npz"
    calls = []

    def failing_write(fp, array, **kw):
        calls.append(1)
        fp.write(b"partial bytes")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np.lib.format, "write_array", failing_write)
    # a full disk is the user's error to fix: exit status 2 with a message, no traceback
    assert cli.main(["run", str(model_path), "--threads", "1", "--save", str(target)]) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert calls, "the writer was not reached"
    assert not target.exists(), "a partial output was left at the target"
    assert [p.name for p in tmp_path.iterdir()] == [], "temporary files left behind"


def test_failed_forced_save_keeps_the_old_file(model_path, tmp_path, monkeypatch):
    target = tmp_path / "out.npz"
    target.write_bytes(b"previous results")

    def failing_write(fp, array, **kw):
        raise OSError(5, "I/O error")

    monkeypatch.setattr(np.lib.format, "write_array", failing_write)
    assert cli.main(["run", str(model_path), "--threads", "1", "--save", str(target), "--force"]) == 2
    assert target.read_bytes() == b"previous results"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.npz"]


def test_save_never_writes_through_a_symlink_to_the_model(model_path, tmp_path, capsys):
    original = model_path.read_bytes()
    link = tmp_path / "out.npz"
    link.symlink_to(model_path)
    assert cli.main(["run", str(model_path), "--threads", "1", "--save", str(link)]) == 2  # exists: no --force
    assert model_path.read_bytes() == original
    cli.main(["run", str(model_path), "--threads", "1", "--save", str(link), "--force"])
    assert model_path.read_bytes() == original, "the model was overwritten through a symlink"


def test_forced_save_never_overwrites_an_input_file(model_path, tmp_path, capsys):
    data = tmp_path / "x.npy"
    np.save(data, np.ones((1, 3, 8, 8), np.float32))
    original = data.read_bytes()
    rc = cli.main(["run", str(model_path), "--threads", "1", "--input", f"x={data}", "--save", str(data), "--force"])
    assert data.read_bytes() == original and rc == 2


def test_forced_save_onto_a_directory_is_a_user_error(model_path, tmp_path, capsys):
    target = tmp_path / "results"
    target.mkdir()
    rc = cli.main(["run", str(model_path), "--threads", "1", "--save", str(target), "--force"])
    assert rc == 2 and target.is_dir()
    assert "Traceback" not in capsys.readouterr().err


def test_concurrent_forced_saves_leave_one_complete_file(model_path, tmp_path):
    target = tmp_path / "out.npz"
    procs = [subprocess.Popen([sys.executable, "-m", "edgert", "run", str(model_path), "--threads", "1",
                               "--seed", str(seed), "--save", str(target), "--force"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for seed in range(3)]
    try:
        # Generous: with an editable install each process may first wait for a rebuild of the extension.
        results = [p.communicate(timeout=900) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, (out, err) in zip(procs, results):
        assert p.returncode == 0, err
    saved = _saved(target)  # a complete, readable archive from exactly one of the writers
    sess = edgert.load(str(model_path), threads=1, backend="edgert")
    candidates = [sess.run(cli.random_feeds(sess, [(1, 3, 8, 8)], seed)) for seed in range(3)]
    assert any(all(np.array_equal(saved[k], c[k]) for k in c) and sorted(saved) == sorted(c) for c in candidates)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.npz"]
