"""`edgert bench`: options and errors, the registry of model names, what the table, JSON and CSV
contain, fairness mechanics (interleaving, same inputs, onnxruntime spinning), --profile, --plot
and the kernel microbenchmarks. Timings are never asserted, only their structure and consistency.

Every bench run here is tiny (32x32 inputs, 3 runs), so the module takes seconds."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import model_zoo as mz
from edgert import cli
from edgert._ops import _kernels
from edgert.bench import config as bench_config
from edgert.bench import kernels, registry, report
from edgert.bench.models import ModelBench, Result, round_order, synthetic_feeds
from edgert.bench.registry import ModelSpec
from edgert.ir import TensorInfo

FAST = ["--runs", "3", "--warmup", "1", "--threads", "1"]
STATS = {"mean", "std", "min", "p10", "p50", "p90", "p99", "max"}


def _cli(capsys, *argv) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def _assert_user_error(rc, out, err, *needles) -> None:
    assert rc == 2, f"exit status {rc}\nstdout: {out}\nstderr: {err}"
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edgert: error: "), err
    assert "Traceback" not in out + err
    for needle in needles:
        assert needle in err, f"{needle!r} not in {err!r}"


def _unsupported_model() -> onnx.ModelProto:
    """CumSum: onnxruntime runs it, edgert refuses it at load."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16])
    axis = helper.make_tensor("axis", TensorProto.INT64, [], [1])
    graph = helper.make_graph([helper.make_node("CumSum", ["x", "axis"], ["y"], name="cumsum")],
                              "unsupported", [x], [y], [axis])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("bench_models")
    paths = {
        "small": d / "small.onnx",
        "dynamic_hw": d / "dynamic_hw.onnx",
        "unsupported": d / "unsupported.onnx",
        "garbage": d / "garbage.onnx",
    }
    onnx.save(mz.mobilenet_v2(size=32, width=0.35), paths["small"])
    dyn = mz.mobilenet_v2(size=32, width=0.35, batch=None)
    for axis, name in ((2, "height"), (3, "width")):
        dim = dyn.graph.input[0].type.tensor_type.shape.dim[axis]
        dim.Clear()
        dim.dim_param = name
    onnx.save(dyn, paths["dynamic_hw"])
    onnx.save(_unsupported_model(), paths["unsupported"])
    paths["garbage"].write_bytes(b"this is not a protobuf")
    return paths


@pytest.fixture(scope="module")
def small_run(models, tmp_path_factory):
    """One complete two-backend run of the small model, with every output written."""
    d = tmp_path_factory.mktemp("bench_out")
    out = {"json": d / "r.json", "csv": d / "r.csv"}
    proc = subprocess.run([sys.executable, "-m", "edgert", "bench", str(models["small"]), "--runs", "3",
                           "--warmup", "1", "--threads", "1,2", "--profile", "--top", "3", "--json", out["json"],
                           "--csv", out["csv"]], capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, json.loads(out["json"].read_text()), list(csv.DictReader(out["csv"].open()))


# ------------------------------------------------------------------------------ options and errors


@pytest.mark.parametrize("argv, needles", [
    ([], ["MODEL", "--kernels"]),
    (["{small}", "--backend", "edgert,tvm"], ["--backend", "tvm", "litert"]),
    (["{small}", "--threads", "0,2"], ["--threads", "positive"]),
    (["{small}", "--threads", "two"], ["--threads"]),
    (["{small}", "--runs", "0"], ["--runs"]),
    (["{small}", "--duration", "-1"], ["--duration"]),
    (["{small}", "--input-shape", "input=1xAx3"], ["--input-shape", "NAME=DxDxD"]),
    (["{small}", "--input-shape", "nope=1x3x32x32"], ["nope", "no such input", "input"]),
    (["{small}", "--pin", "9999"], ["--pin", "may only use CPUs"]),
    (["{small}", "--pin", "a-b"], ["--pin"]),
    (["{dynamic_hw}"], ["dynamic dimension", "--input-shape input="]),
    (["{small}", "--plot", "{dir}/chart.txt"], [".png"]),
    (["{small}", "--json", "{dir}/missing/r.json"], ["does not exist"]),
    (["{small}", "--json", "{small}", "--force"], ["would overwrite a model"]),
    (["{small}", "--json", "{dir}/same", "--csv", "{dir}/same"], ["same file"]),
    (["nosuchmodel"], ["unknown model 'nosuchmodel'", "bundled models"]),
    (["{dir}/absent.onnx"], ["no such model file"]),
])
def test_user_errors_exit_2_with_one_line(capsys, models, tmp_path, argv, needles):
    argv = [a.format(dir=tmp_path, **models) for a in argv]
    rc, out, err = _cli(capsys, "bench", *argv)
    _assert_user_error(rc, out, err, *needles)


def test_existing_output_is_refused_without_force_and_replaced_with_it(capsys, models, tmp_path):
    target = tmp_path / "r.json"
    target.write_text("keep me")
    rc, out, err = _cli(capsys, "bench", models["small"], "--backend", "edgert", *FAST, "--json", target)
    _assert_user_error(rc, out, err, "exists", "--force")
    assert target.read_text() == "keep me"
    rc, out, err = _cli(capsys, "bench", models["small"], "--backend", "edgert", *FAST, "--json", target, "--force")
    assert rc == 0, err
    assert json.loads(target.read_text())["schema_version"] == bench_config.SCHEMA_VERSION


def test_runs_and_duration_are_exclusive(capsys, models):
    with pytest.raises(SystemExit) as e:
        cli.main(["bench", str(models["small"]), "--runs", "3", "--duration", "1"])
    assert e.value.code == 2


def test_option_parsing():
    assert bench_config.parse_backends("all") == bench_config.ALL_BACKENDS
    assert bench_config.parse_backends("onnxruntime, edgert,onnxruntime") == ("onnxruntime", "edgert")
    assert bench_config.parse_threads("4,1,4") == (4, 1)
    assert bench_config.parse_input_shapes(["images=1x3x224x224"]) == {"images": (1, 3, 224, 224)}
    allowed = sorted(os.sched_getaffinity(0))
    assert bench_config.parse_cpu_list(",".join(map(str, allowed))) == tuple(allowed)
    assert bench_config.parse_cpu_list(f"{allowed[0]}-{allowed[0]}") == (allowed[0],)
    assert bench_config.default_thread_counts((0,)) == (1,)
    assert bench_config.default_thread_counts((0, 1, 2, 3)) == (1, 4)


def test_atomic_output_leaves_nothing_behind_on_failure(tmp_path):
    target = tmp_path / "out.json"
    with pytest.raises(RuntimeError):
        with report.atomic_output(str(target)) as tmp:
            with open(tmp, "w") as f:
                f.write("half")
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------ model names


def test_registry_resolves_names_to_every_format(tmp_path, monkeypatch):
    (tmp_path / "lsnet_t.onnx").write_bytes(b"x")
    (tmp_path / "lsnet_t.tflite").write_bytes(b"x")
    (tmp_path / "readme.md").write_text("not a model")
    monkeypatch.setenv("EDGERT_MODELS", str(tmp_path))
    assert tmp_path in registry.model_dirs()
    spec = registry.resolve_model("lsnet_t")
    assert spec.name == "lsnet_t"
    assert spec.file_for("edgert") == spec.file_for("onnxruntime") == tmp_path / "lsnet_t.onnx"
    assert spec.file_for("litert") == tmp_path / "lsnet_t.tflite"
    assert set(registry.bundled_models()) >= {"lsnet_t"}
    with pytest.raises(registry.ModelLoadError, match=r"unknown model 'lsnet_x'.*bundled models: .*lsnet_t"):
        registry.resolve_model("lsnet_x")
    with pytest.raises(registry.ModelLoadError, match="unknown model format"):
        registry.resolve_model(str(tmp_path / "readme.md"))


def test_a_path_loads_only_that_file(models):
    spec = registry.resolve_model(str(models["small"]))
    assert spec.files == {"onnx": models["small"]}
    assert spec.file_for("litert") is None


# ------------------------------------------------------------------------------ a full run


def test_table_names_every_backend_and_the_pick(small_run):
    stdout, data, _ = small_run
    assert "small" in stdout and "edgert" in stdout and "onnxruntime" in stdout
    assert "What to pick" in stdout and "small: " in stdout
    assert "p50 vs fastest other" in stdout
    assert "note: litert: skipped" in stdout


def test_json_schema_and_environment(small_run):
    _, data, _ = small_run
    assert data["schema"] == "edgert.bench" and data["schema_version"] == bench_config.SCHEMA_VERSION
    env = data["environment"]
    assert {"model", "cores", "governor", "features", "usable_cpus"} <= set(env["cpu"])
    assert {"neon", "dotprod", "i8mm", "avx2"} <= set(env["cpu"]["features"])
    assert env["edgert_kernels"]["cpu_features"] == _kernels.cpu_features()
    assert env["edgert_kernels"]["isa"] == _kernels.dispatch_info()["isa"]
    assert env["edgert_kernels"]["qs8_gemm"] == _kernels.qs8_dispatch_info()["gemm"]
    assert env["edgert_kernels"]["qs8_dwconv"] == _kernels.qs8_dispatch_info()["dwconv"]
    assert env["edgert_kernels"]["qs8_conv_stem"] == _kernels.qs8_dispatch_info()["conv_stem"]
    assert {"python", "numpy", "edgert", "onnxruntime", "ai-edge-litert"} <= set(env["versions"])
    settings = data["settings"]
    assert settings["threads"] == [1, 2] and settings["runs"] == 3 and settings["warmup"] == 1
    assert settings["interleaved"] is True and settings["onnxruntime_spinning_when_interleaved"] is False


def test_every_model_backend_threads_has_a_result(small_run, models):
    _, data, _ = small_run
    by_key = {(r["backend"], r["threads"]): r for r in data["results"]}
    assert set(by_key) == {(b, t) for b in ("edgert", "onnxruntime", "litert") for t in (1, 2)}
    for t in (1, 2):
        assert by_key[("litert", t)]["status"] == "skipped"
        for backend in ("edgert", "onnxruntime"):
            r = by_key[(backend, t)]
            assert r["status"] == "ok", r["message"]
            assert r["runs"] == 3 and set(r["latency_ms"]) == STATS
            lat = r["latency_ms"]
            assert lat["min"] <= lat["p10"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]
            assert r["inferences_per_s"] == pytest.approx(1e3 / lat["mean"])
            assert r["init_ms"] > 0 and r["first_ms"] > 0
            assert r["file_bytes"] == models["small"].stat().st_size
            assert r["peak_rss_bytes"] > r["baseline_rss_bytes"] > 0
            assert r["rss_growth_bytes"] == r["peak_rss_bytes"] - r["baseline_rss_bytes"]
        # interleaved with edgert, onnxruntime's workers must not spin
        assert by_key[("onnxruntime", t)]["options"] == {"intra_op_spinning": False}
        e, o = by_key[("edgert", t)], by_key[("onnxruntime", t)]
        assert e["fastest_other"] == "onnxruntime" and o["fastest_other"] == "edgert"
        assert e["ratio_to_fastest_other"] == pytest.approx(1 / o["ratio_to_fastest_other"])
        assert e["ratio_to_fastest_other"] == pytest.approx(e["latency_ms"]["p50"] / o["latency_ms"]["p50"])


def test_csv_matches_json(small_run):
    _, data, rows = small_run
    assert len(rows) == len(data["results"])
    assert list(rows[0]) == report.RESULT_COLUMNS
    for row, result in zip(rows, data["results"]):
        assert (row["backend"], int(row["threads"]), row["status"]) == (result["backend"], result["threads"], result["status"])
        if result["status"] == "ok":
            assert float(row["p50_ms"]) == pytest.approx(result["latency_ms"]["p50"])


def test_profile_covers_every_step(small_run):
    stdout, data, _ = small_run
    assert [(p["model"], p["threads"]) for p in data["profiles"]] == [("small", 1), ("small", 2)]
    for prof in data["profiles"]:
        steps = prof["steps"]
        assert sorted(s["index"] for s in steps) == list(range(len(steps)))
        assert [s["ms"] for s in steps] == sorted((s["ms"] for s in steps), reverse=True)
        assert sum(s["ms"] for s in steps) == pytest.approx(prof["steps_total_ms"])
        assert sum(s["macs"] for s in steps) == prof["macs_total"] > 0
        assert any(s["gmac_per_s"] for s in steps)
    assert stdout.count("other steps") == 2  # --top 3 of more steps
    top = data["profiles"][0]["steps"][0]
    assert "[" in top["label"] and top["label"] in stdout  # labels like Conv[conv 1x1/1] are not markup


def test_alone_onnxruntime_keeps_its_default_spinning(capsys, models, tmp_path):
    rc, out, err = _cli(capsys, "bench", models["small"], "--backend", "onnxruntime", *FAST,
                        "--json", tmp_path / "r.json")
    assert rc == 0, err
    (result,) = json.loads((tmp_path / "r.json").read_text())["results"]
    assert result["options"] == {"intra_op_spinning": True} and result["ratio_to_fastest_other"] is None


def test_a_model_edgert_cannot_load_is_reported_not_fatal(capsys, models, tmp_path):
    rc, out, err = _cli(capsys, "bench", models["unsupported"], models["small"], "--backend", "edgert,onnxruntime",
                        *FAST, "--json", tmp_path / "r.json")
    assert rc == 0, err
    results = {(r["model"], r["backend"]): r for r in json.loads((tmp_path / "r.json").read_text())["results"]}
    assert results[("unsupported", "edgert")]["status"] == "error"
    assert "CumSum" in results[("unsupported", "edgert")]["message"]
    assert results[("unsupported", "onnxruntime")]["status"] == "ok"
    assert results[("small", "edgert")]["status"] == "ok"
    assert "unsupported · edgert · 1 thr" in out and "Traceback" not in out + err


def test_nothing_loadable_exits_1(capsys, models):
    rc, out, err = _cli(capsys, "bench", models["garbage"], "--backend", "edgert,onnxruntime", *FAST)
    assert rc == 1
    assert "garbage · edgert" in out and "garbage · onnxruntime" in out and "Traceback" not in out + err


def test_dynamic_input_with_shape_and_duration(capsys, models, tmp_path):
    rc, out, err = _cli(capsys, "bench", models["dynamic_hw"], "--backend", "edgert", "--threads", "1",
                        "--warmup", "0", "--duration", "0.05", "--input-shape", "input=1x3x40x24",
                        "--json", tmp_path / "r.json")
    assert rc == 0, err
    data = json.loads((tmp_path / "r.json").read_text())
    (result,) = data["results"]
    assert result["status"] == "ok" and result["runs"] >= 3
    assert data["settings"]["duration_s"] == 0.05 and data["settings"]["runs"] is None


def test_plot_without_matplotlib_is_refused_before_running(capsys, models, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    rc, out, err = _cli(capsys, "bench", models["small"], *FAST, "--plot", tmp_path / "p.png")
    _assert_user_error(rc, out, err, "--plot needs matplotlib", "pip install matplotlib")
    assert not (tmp_path / "p.png").exists()


def test_plot_writes_a_png(capsys, models, tmp_path):
    import matplotlib  # noqa: F401  (a test dependency: the plot must really be drawn)
    rc, out, err = _cli(capsys, "bench", models["small"], "--backend", "edgert,onnxruntime", *FAST,
                        "--plot", tmp_path / "p.png")
    assert rc == 0, err
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ------------------------------------------------------------------------------ fairness mechanics


class _FakeClock:
    """perf_counter_ns that only the fake sessions advance: timings independent of machine load."""

    def __init__(self):
        self.ns = 0

    def perf_counter_ns(self):
        return self.ns


class _FakeSession:
    def __init__(self, name, log, delays, clock=None):
        self.name, self.log, self.delays, self.clock = name, log, iter(delays), clock

    def run(self, feeds):
        self.log.append((self.name, id(feeds)))
        delay = next(self.delays, 0.0)
        if self.clock is None:
            time.sleep(delay)
        else:
            self.clock.ns += int(delay * 1e9)


class _NoTicker:
    def begin(self, *a):
        pass

    def advance(self, *a):
        pass

    def update(self, *a):
        pass


def test_round_order_puts_every_backend_after_every_other_equally_often():
    for count in (2, 3, 4):
        follows = {}
        sequence = [i for r in range(2 * count) for i in round_order(r, count)]
        for r in range(2 * count):
            order = round_order(r, count)
            assert sorted(order) == list(range(count))
            for before, after in zip(order, order[1:]):
                follows[before, after] = follows.get((before, after), 0) + 1
        pairs = [(a, b) for a in range(count) for b in range(count) if a != b]
        assert len(set(follows.get(p, 0) for p in pairs)) == 1, (count, follows, sequence)


def test_rounds_interleave_with_a_rotating_start_and_flag_noise(monkeypatch):
    config = bench_config.BenchConfig(backends=("edgert", "onnxruntime"), warmup=1, runs=4)
    bench = ModelBench(config, _NoTicker(), [], [])
    log, feeds = [], {}
    clock = _FakeClock()
    monkeypatch.setattr(time, "perf_counter_ns", clock.perf_counter_ns)
    steady = _FakeSession("a", log, [0.005] * 5, clock)
    jittery = _FakeSession("b", log, [0, 0.001, 0.02, 0.001, 0.02], clock)  # warmup, then 1 / 20 ms runs
    sessions = [(Result("m", "edgert", 1), steady, feeds), (Result("m", "onnxruntime", 1), jittery, feeds)]
    bench._time_interleaved(ModelSpec("m"), 1, sessions)
    order = [name for name, _ in log]
    assert order == ["a", "b"] + ["a", "b", "b", "a", "a", "b", "b", "a"]
    assert {feeds_id for _, feeds_id in log} == {id(feeds)}
    assert sessions[0][0].runs == sessions[1][0].runs == 4
    assert len(bench.warnings) == 1 and "m onnxruntime 1 thr: noisy" in bench.warnings[0]


def test_backends_taking_the_same_tensors_get_identical_inputs():
    infos = [TensorInfo("images", ("batch", 3, 8, 8), np.dtype(np.float32)),
             TensorInfo("ids", (1, 4), np.dtype(np.int64))]
    a, b = synthetic_feeds(infos, {}, 0), synthetic_feeds(infos, {}, 0)
    assert a["images"].shape == (1, 3, 8, 8) and a["ids"].dtype == np.int64 and a["ids"].min() >= 0
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])


# ------------------------------------------------------------------------------ kernels


def test_kernel_rows_mark_what_dispatch_picks():
    rows = kernels.run(only="gemm", min_time=0.001)
    f32_rows = [r for r in rows if r["kind"] == "gemm"]
    cases = {r["case"] for r in f32_rows}
    assert cases == {c.label for c in kernels.CASES if c.kind == "gemm"}
    for case in cases:
        picked = [r["variant"] for r in f32_rows if r["case"] == case and r["dispatched"]]
        assert picked == [_kernels.dispatch_info()["gemm"]]
    # the int8 GEMM rows: the dispatched variant only, on every int8 GEMM case
    int8_rows = [r for r in rows if r["kind"] == "qs8_gemm"]
    assert [r["case"] for r in int8_rows] == [c.label for c in kernels.INT8_CASES if c.kind == "qs8_gemm"]
    assert {r["variant"] for r in int8_rows} == {_kernels.qs8_dispatch_info()["gemm"]}
    assert all(r["operation"] == "qs8_gemm" for r in int8_rows)
    for r in rows:
        if r["runnable"]:
            assert r["unit"] == "GMAC/s" and r["throughput"] > 0 and r["best_s"] <= r["median_s"]


def test_every_compiled_variant_has_a_case():
    from edgert._ops import _kernel_bench

    planned = {v["name"] for _, v in kernels.plan()}
    assert planned == {v["name"] for v in _kernel_bench.variants()}
    assert any(v["isa"] == "scalar" for v in _kernel_bench.variants())


def test_forced_scalar_kernels_run_and_are_picked_alone():
    code = ("import json; from edgert.bench import kernels; "
            "print(json.dumps(kernels.run(only='dwconv', min_time=0.001)))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "EDGERT_KERNELS": "scalar"})
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert rows and all(r["runnable"] == (r["isa"] == "scalar") for r in rows)
    assert {r["variant"] for r in rows if r["dispatched"]} == {"f32_dwconv__scalar", "qs8_dwconv__scalar"}
    assert {r["case"] for r in rows if r["kind"] == "qs8_dwconv"} == {
        c.label for c in kernels.INT8_CASES if c.kind == "qs8_dwconv"}


def test_kernels_cli_writes_json_and_csv(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(kernels, "MIN_TIME", 0.0005)
    rc, out, err = _cli(capsys, "bench", "--kernels", "--json", tmp_path / "k.json", "--csv", tmp_path / "k.csv")
    assert rc == 0, err
    data = json.loads((tmp_path / "k.json").read_text())
    assert data["results"] == [] and len(data["kernels"]) == len(kernels.plan()) + len(kernels.INT8_CASES)
    rows = list(csv.DictReader((tmp_path / "k.csv").open()))
    assert list(rows[0]) == report.KERNEL_COLUMNS and len(rows) == len(data["kernels"])
    assert "kernel variants" in out and "* " in out


def test_bench_covers_every_variant_the_dispatch_headers_declare():
    """A variant added to a dispatched family (or a family added to dispatch.h) must be added to
    cython_ops/_kernel_bench.pyx too; this compares the headers with what the bench can time."""
    import pathlib
    import platform
    import re

    from edgert._ops import _kernel_bench

    include = pathlib.Path(__file__).resolve().parents[1] / "cython_ops" / "include" / "edgert"
    families = re.findall(r'#include "edgert/(f32-[\w-]+)\.h"', (include / "dispatch.h").read_text())
    isas = {"scalar"} | ({"avx2", "avx512vnni"} if platform.machine() in ("x86_64", "AMD64") else set()) \
        | ({"neon"} if platform.machine() in ("aarch64", "arm64") else set())
    declared = set()
    for family in families:
        text = (include / f"{family}.h").read_text()
        for symbol in re.findall(r"\b(edgert_f32_\w+__(\w+))\s*\)?\s*[(;]", text):
            if symbol[1] in isas:
                declared.add(symbol[0].removeprefix("edgert_"))
    assert len(families) >= 5 and declared
    assert declared == {v["name"] for v in _kernel_bench.variants()}
