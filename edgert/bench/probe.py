"""Load time, first inference and memory of one backend, measured in a fresh process.

In the benchmarking process memory freed by earlier sessions stays resident and is reused, so a
load's RSS growth there depends on what ran before it (measured: 42 to 61 MB for the same
MobileNetV2 load). A fresh interpreter per backend gives each the same baseline: the RSS once
Python and that backend are imported. The parent runs

    python -m edgert.bench.probe '{"backend": ..., "path": ..., "threads": ..., ...}'

and reads the JSON line after MARKER from stdout (backends may print their own lines)."""
from __future__ import annotations

import gc
import json
import sys
import time

MARKER = "edgert-bench-probe: "


def import_backend(backend: str) -> None:
    """Imports what loading needs, so import time and import memory are not charged to the load."""
    if backend == "edgert":
        import edgert.runtime.session  # noqa: F401
    elif backend == "onnxruntime":
        import onnxruntime  # noqa: F401

        import edgert.backends.onnxruntime  # noqa: F401
    else:
        from edgert.backends.litert import _interpreter_class
        _interpreter_class()


def probe(backend: str, path: str, threads: int, interleaved: bool, input_shapes: dict, seed: int) -> dict:
    from edgert.bench import memory
    from edgert.bench.models import open_session, synthetic_feeds

    import_backend(backend)
    gc.collect()
    baseline = memory.current_rss()
    peak_resets = memory.reset_peak()
    t0 = time.perf_counter()
    session, options = open_session(backend, path, threads, interleaved)
    init_ms = (time.perf_counter() - t0) * 1e3
    feeds = synthetic_feeds(session.inputs, {k: tuple(v) for k, v in input_shapes.items()}, seed)
    t0 = time.perf_counter()
    session.run(feeds)
    first_ms = (time.perf_counter() - t0) * 1e3
    # Without a resettable peak (not Linux), the process peak includes the imports: still an upper bound.
    peak = memory.peak_rss() if peak_resets else max(memory.peak_rss() or 0, memory.current_rss() or 0) or None
    return {"options": options, "init_ms": init_ms, "first_ms": first_ms, "baseline_rss_bytes": baseline,
            "peak_rss_bytes": peak,
            "rss_growth_bytes": peak - baseline if peak is not None and baseline is not None else None}


def main(argv) -> int:
    from edgert.bench.config import BenchError

    request = json.loads(argv[0])
    try:
        answer = probe(**request)
    except BenchError as e:
        answer = {"error": str(e), "fatal": True}
    except Exception as e:  # noqa: BLE001 - every failure goes back to the parent as a result
        from edgert.errors import EdgeRTError
        answer = {"error": str(e) if isinstance(e, EdgeRTError) else f"{type(e).__name__}: {e}"}
    sys.stdout.write(MARKER + json.dumps(answer) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
