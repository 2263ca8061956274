"""Model benchmarks: each backend loaded on its own in a fresh process (load time, first
inference, memory; see probe.py), then all of them timed together in this process on the same
inputs and thread count, runs interleaved."""
from __future__ import annotations

import gc
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from edgert.bench.config import BenchConfig, BenchError
from edgert.bench.registry import ModelSpec
from edgert.bench.stats import NOISY_SPREAD, spread, summarize
from edgert.errors import BackendUnavailableError, EdgeRTError

MIN_DURATION_ROUNDS = 3     # --duration still gives every backend a few runs
PROFILE_RUNS = 20           # step_times samples per profile (fewer if fewer rounds were timed)
OUTPUT_AGREEMENT = 1e-3     # relative difference beyond which edgert and onnxruntime disagree


@dataclass
class Result:
    """One model x backend x thread count."""
    model: str
    backend: str
    threads: int
    status: str = "ok"                  # ok | error | skipped
    message: str = ""
    file: str | None = None
    file_bytes: int | None = None
    options: dict = field(default_factory=dict)
    init_ms: float | None = None
    first_ms: float | None = None
    runs: int = 0
    latency_ms: dict | None = None      # mean std min p10 p50 p90 p99 max
    inferences_per_s: float | None = None
    baseline_rss_bytes: int | None = None  # fresh process with this backend imported
    peak_rss_bytes: int | None = None   # its peak while loading the model and running it once
    rss_growth_bytes: int | None = None  # peak - baseline
    fastest_other: str | None = None
    ratio_to_fastest_other: float | None = None  # p50 / p50 of the fastest other backend

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def unavailable_reason(backend: str) -> str | None:
    """Why a backend cannot run here (not installed), or None."""
    try:
        if backend == "onnxruntime":
            import onnxruntime  # noqa: F401
        elif backend == "litert":
            from edgert.backends.litert import _interpreter_class
            _interpreter_class()
    except BackendUnavailableError as e:
        return str(e)
    except ImportError as e:
        return f"{backend} is not installed ({e})"
    return None


def round_order(round_index: int, count: int) -> list[int]:
    """The order in which `count` interleaved backends run in a round: the rows of a Williams
    Latin square (first row 0, 1, n-1, 2, n-2, ..., row r adds r mod n), with the rows reversed
    in every other block of `count` rounds when `count` is odd. A plain rotation keeps each
    backend right after the same neighbour within a round, so the one following a runtime whose
    workers keep spinning after its run (XNNPACK's do) would always share the cores with them;
    over 2 x count rounds this order puts every backend after every other equally often."""
    first, low, high = [0], 1, count - 1
    while len(first) < count:
        first.append(low)
        low += 1
        if len(first) < count:
            first.append(high)
            high -= 1
    order = [(k + round_index) % count for k in first]
    return order[::-1] if count % 2 and (round_index // count) % 2 else order


def open_session(backend: str, path, threads: int, interleaved: bool):
    """(session, options recorded with the result)."""
    if backend == "edgert":
        from edgert.runtime.session import Session
        return Session(str(path), threads), {}
    if backend == "onnxruntime":
        from edgert.backends.onnxruntime import OnnxRuntimeSession
        # Spinning idle workers would steal the cores the next backend's run needs.
        return OnnxRuntimeSession(str(path), threads, spinning=not interleaved), {"intra_op_spinning": not interleaved}
    from edgert.backends.litert import LiteRTSession
    return LiteRTSession(str(path), threads), {}


def concrete_shape(info, overrides: dict) -> tuple[int, ...]:
    if info.name in overrides:
        return overrides[info.name]
    if info.shape is None:
        raise BenchError(f"input '{info.name}' has unknown rank: give --input-shape {info.name}=...")
    shape = []
    for axis, dim in enumerate(info.shape):
        if isinstance(dim, (int, np.integer)) and dim > 0:
            shape.append(int(dim))
        elif axis == 0:  # a symbolic batch
            shape.append(1)
        else:
            raise BenchError(f"input '{info.name}' has a dynamic dimension {dim!r} at axis {axis}: "
                             f"give --input-shape {info.name}=DxDx...")
    return tuple(shape)


def synthetic_feeds(inputs, overrides: dict, seed: int) -> dict[str, np.ndarray]:
    """Seeded data of each input's dtype and shape (what a board without datasets can run)."""
    rng = np.random.default_rng(seed)
    feeds = {}
    for info in inputs:
        shape = concrete_shape(info, overrides)
        if np.issubdtype(info.dtype, np.floating):
            feeds[info.name] = rng.standard_normal(shape).astype(info.dtype)
        elif info.dtype == np.bool_:
            feeds[info.name] = rng.integers(0, 2, shape).astype(bool)
        else:  # small non-negative integers are valid pixels, indices and quantized values alike
            feeds[info.name] = rng.integers(0, min(np.iinfo(info.dtype).max, 127) + 1, shape).astype(info.dtype)
    return feeds


def check_input_shapes(specs: list[ModelSpec], overrides: dict) -> None:
    """Up front, from the ONNX files: every --input-shape names an input, and every dynamic
    dimension other than the batch has a value."""
    import onnx

    from edgert.ir import TensorInfo

    names = set()
    for spec in specs:
        path = spec.files.get("onnx")
        if path is None:
            continue
        try:
            graph = onnx.load(str(path), load_external_data=False).graph
        except Exception:  # noqa: BLE001 - unreadable files are reported per backend at load
            continue
        inits = {i.name for i in graph.initializer}
        for vi in graph.input:
            if vi.name in inits:
                continue
            names.add(vi.name)
            dims = tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
                         for d in vi.type.tensor_type.shape.dim)
            concrete_shape(TensorInfo(vi.name, dims, np.float32), overrides)
    unknown = sorted(set(overrides) - names)
    if unknown and names:
        raise BenchError(f"--input-shape {', '.join(unknown)}: no such input; the models take {', '.join(sorted(names))}")


def max_relative_difference(a: dict, b: dict) -> float | None:
    diffs = []
    for name, ref in b.items():
        out = a.get(name)
        if out is None or out.shape != ref.shape or ref.dtype.kind != "f" or ref.size == 0:
            continue
        scale = float(np.abs(ref).max()) or 1.0
        diffs.append(float(np.abs(out.astype(np.float64) - ref).max()) / scale)
    return max(diffs) if diffs else None


class ModelBench:
    """Runs every model of a config; collects results, profiles, notes and warnings."""

    def __init__(self, config: BenchConfig, ticker, notes: list[str], warnings: list[str]):
        self.config, self.ticker, self.notes, self.warnings = config, ticker, notes, warnings
        self.results: list[Result] = []
        self.profiles: list[dict] = []
        self._disagreeing: set[str] = set()  # models already warned about
        self.unavailable = {b: unavailable_reason(b) for b in config.backends}
        for backend, reason in self.unavailable.items():
            if reason:
                self._note(f"{backend}: skipped, {reason}")

    def _note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def run(self, spec: ModelSpec) -> None:
        feeds_cache: dict = {}

        def feeds_for(session):
            key = tuple((t.name, concrete_shape(t, self.config.input_shapes), np.dtype(t.dtype).str)
                        for t in session.inputs)
            if key not in feeds_cache:  # same inputs for every backend that takes the same tensors
                feeds_cache[key] = synthetic_feeds(session.inputs, self.config.input_shapes, self.config.seed)
            return feeds_cache[key]

        model_results = []
        for threads in self.config.threads:
            group = []
            for backend in self.config.backends:
                result = Result(spec.name, backend, threads)
                path = spec.file_for(backend)
                if self.unavailable[backend]:
                    result.status, result.message = "skipped", self.unavailable[backend]
                elif path is None:
                    ext = ".tflite" if backend == "litert" else ".onnx"
                    result.status, result.message = "skipped", f"{spec.name} has no {ext} file ({backend} loads {ext} only)"
                    self._note(f"{backend}: skipped, {result.message}")
                else:
                    result.file, result.file_bytes = str(path), path.stat().st_size
                    group.append(result)
                model_results.append(result)
            self._run_group(spec, threads, group, feeds_for)
        attach_ratios(model_results)
        self.results.extend(model_results)

    # ------------------------------------------------------------------ one model x threads

    def _run_group(self, spec: ModelSpec, threads: int, group: list[Result], feeds_for) -> None:
        for result in group:
            self.ticker.begin(f"{spec.name} · {threads} thr · loading {result.backend}", None)
            self._probe(result, threads, interleaved=len(group) > 1)
        loaded = [r for r in group if r.ok]
        interleaved = len(loaded) > 1
        if interleaved and any(r.backend == "onnxruntime" for r in loaded):
            self._note("onnxruntime: intra-op spinning off while runs are interleaved (its idle workers "
                       "would otherwise spin on the cores the next backend's run needs)")
        sessions, outputs = [], {}
        for result in loaded:
            try:
                session, result.options = open_session(result.backend, result.file, threads, interleaved)
                feeds = feeds_for(session)
                outputs[result.backend] = session.run(feeds)
            except Exception as e:  # noqa: BLE001 - it loaded in the probe; report, do not abort
                self._fail(result, e)
                continue
            sessions.append((result, session, feeds))
        if "edgert" in outputs and "onnxruntime" in outputs and spec.name not in self._disagreeing:
            diff = max_relative_difference(outputs["edgert"], outputs["onnxruntime"])
            if diff is not None and diff > OUTPUT_AGREEMENT:
                self._disagreeing.add(spec.name)
                self.warnings.append(f"{spec.name}: edgert and onnxruntime outputs differ (max relative "
                                     f"difference {diff:.2g}); their timings may not compare like with like")
        if sessions:
            self._time_interleaved(spec, threads, sessions)
        edgert = next(((r, s, f) for r, s, f in sessions if r.backend == "edgert" and r.ok), None)
        if self.config.profile and edgert:
            self.ticker.begin(f"{spec.name} · {threads} thr · profiling edgert", None)
            self.profiles.append(profile_edgert(spec.name, threads, edgert[1], edgert[2],
                                                min(PROFILE_RUNS, edgert[0].runs)))
        del sessions, edgert, outputs
        gc.collect()

    def _fail(self, result: Result, error: Exception) -> None:
        result.status = "error"
        result.message = str(error) if isinstance(error, EdgeRTError) else f"{type(error).__name__}: {error}"

    def _probe(self, result: Result, threads: int, interleaved: bool) -> None:
        """Load time, first inference and memory from a fresh process (probe.py); a backend that
        fails or even crashes there becomes an error result."""
        from edgert.bench.probe import MARKER

        request = {"backend": result.backend, "path": result.file, "threads": threads, "interleaved": interleaved,
                   "input_shapes": {k: list(v) for k, v in self.config.input_shapes.items()},
                   "seed": self.config.seed}
        proc = subprocess.run([sys.executable, "-m", "edgert.bench.probe", json.dumps(request)],
                              capture_output=True, text=True)
        line = next((ln for ln in reversed(proc.stdout.splitlines()) if ln.startswith(MARKER)), None)
        if line is None:
            how = f"killed by signal {-proc.returncode}" if proc.returncode < 0 else f"exit status {proc.returncode}"
            last = (proc.stderr.strip().splitlines() or [""])[-1]
            result.status, result.message = "error", f"loading crashed ({how}){': ' + last if last else ''}"
            return
        answer = json.loads(line[len(MARKER):])
        if answer.get("fatal"):
            raise BenchError(answer["error"])
        if "error" in answer:
            result.status, result.message = "error", answer["error"]
            return
        for key, value in answer.items():
            setattr(result, key, value)

    def _time_interleaved(self, spec: ModelSpec, threads: int, sessions: list) -> None:
        """Warmup, then rounds in which every backend runs once in the order of round_order, so
        all see the same machine state and each follows every other equally often."""
        cfg = self.config
        count = len(sessions)
        times = [[] for _ in sessions]
        alive = [result.ok for result, _, _ in sessions]
        total = cfg.duration if cfg.duration is not None else cfg.warmup + cfg.runs
        self.ticker.begin(f"{spec.name} · {threads} thr · {' / '.join(r.backend for r, _, _ in sessions)}", total)
        gc_was_enabled = gc.isenabled()
        gc.disable()  # a collection inside a timed run would be charged to whichever backend ran
        try:
            for _ in range(cfg.warmup):
                for i, (result, session, feeds) in enumerate(sessions):
                    if alive[i]:
                        alive[i] = self._run_once(result, session, feeds, None)
                if cfg.runs is not None:
                    self.ticker.advance(1)
            start, rounds = time.perf_counter(), 0
            while any(alive):
                elapsed = time.perf_counter() - start
                if cfg.runs is not None and rounds >= cfg.runs:
                    break
                if cfg.duration is not None and elapsed >= cfg.duration and rounds >= MIN_DURATION_ROUNDS:
                    break
                for i in round_order(rounds, count):
                    if alive[i]:
                        result, session, feeds = sessions[i]
                        alive[i] = self._run_once(result, session, feeds, times[i])
                rounds += 1
                if cfg.runs is not None:
                    self.ticker.advance(1)
                else:
                    self.ticker.update(min(time.perf_counter() - start, cfg.duration))
        finally:
            if gc_was_enabled:
                gc.enable()
        for (result, _, _), ms in zip(sessions, times):
            if not result.ok:
                continue
            result.runs = len(ms)
            result.latency_ms = summarize(ms)
            result.inferences_per_s = 1e3 / result.latency_ms["mean"]
            if spread(result.latency_ms) > NOISY_SPREAD:
                lat = result.latency_ms
                self.warnings.append(
                    f"{spec.name} {result.backend} {threads} thr: noisy (p10 {lat['p10']:.2f} / p50 {lat['p50']:.2f} "
                    f"/ p90 {lat['p90']:.2f} ms); close other programs, use --pin or more --runs")

    def _run_once(self, result: Result, session, feeds, times) -> bool:
        try:
            t0 = time.perf_counter_ns()
            session.run(feeds)
            elapsed = time.perf_counter_ns() - t0
        except Exception as e:  # noqa: BLE001
            self._fail(result, e)
            return False
        if times is not None:
            times.append(elapsed / 1e6)
        return True


def attach_ratios(results: list[Result]) -> None:
    """Each result's p50 over the fastest other backend's p50 at the same thread count."""
    for result in results:
        if not result.ok:
            continue
        others = [r for r in results if r.ok and r.threads == result.threads and r.backend != result.backend]
        if others:
            best = min(others, key=lambda r: r.latency_ms["p50"])
            result.fastest_other = best.backend
            result.ratio_to_fastest_other = result.latency_ms["p50"] / best.latency_ms["p50"]


def profile_edgert(model: str, threads: int, session, feeds, runs: int) -> dict:
    """Median time of every fused step over `runs` runs (Plan.step_times), slowest first."""
    arrays = session.check_feeds(feeds)
    plan = session.plan_for([a.shape for a in arrays])
    samples = np.array([plan.step_times(arrays) for _ in range(max(runs, 1))]) * 1e3
    median = np.median(samples, axis=0)
    total = float(median.sum())
    steps = []
    for index, (step, ms) in enumerate(zip(plan.steps, median.tolist())):
        steps.append({"index": index, "label": step.label, "node": step.node, "native": step.native,
                      "macs": step.macs, "ms": ms, "share": ms / total if total else 0.0,
                      "gmac_per_s": step.macs / (ms * 1e6) if step.macs and ms > 0 else None})
    steps.sort(key=lambda s: -s["ms"])
    return {"model": model, "threads": threads, "runs": max(runs, 1), "steps_total_ms": total,
            "macs_total": sum(s.macs for s in plan.steps), "steps": steps}
