"""End-to-end FPS and latency of the headless detection demo on the bundled sample video: edgert vs
the same pipeline (capture thread, letterbox, decode, NMS, drawing, video writing) on onnxruntime, at
1 and 2 threads, runs interleaved in one process.

    python benchmarks/demo_fps.py [--repeats 3] [--precision int8|fp32]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from edgert.apps.demo import DemoOptions, run_demo
from edgert.tasks.bundled import default_model


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--precision", default="int8", choices=("int8", "fp32"))
    args = p.parse_args()
    model = str(default_model("detect").path(args.precision))
    rows: dict[tuple[str, int], list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            for threads in (1, 2):
                for backend in ("edgert", "onnxruntime"):
                    figures: dict = {}
                    out = Path(tmp) / f"{backend}-{threads}-{repeat}.mp4"
                    status = run_demo(DemoOptions(source="sample", headless=True, output=str(out), model=model,
                                                  threads=threads, backend=backend), out=lambda _: None,
                                      figures=figures)
                    if status:
                        raise SystemExit(f"demo failed on {backend}")
                    rows.setdefault((backend, threads), []).append(figures)
    print(f"headless demo, {Path(model).name}, bundled sample, median of {args.repeats} runs")
    print(f"{'backend':<12} {'threads':>7} {'FPS':>7} {'p50 ms':>8} {'p90 ms':>8}")
    med = {}
    for (backend, threads), runs in sorted(rows.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        fps = statistics.median(r["fps"] for r in runs)
        p50 = statistics.median(r["latency_p50_ms"] for r in runs)
        p90 = statistics.median(r["latency_p90_ms"] for r in runs)
        med[(backend, threads)] = (fps, p50)
        print(f"{backend:<12} {threads:>7} {fps:7.1f} {p50:8.2f} {p90:8.2f}")
    for threads in (1, 2):
        (fe, le), (fo, lo) = med[("edgert", threads)], med[("onnxruntime", threads)]
        print(f"{threads} thread(s): edgert/onnxruntime FPS x{fe / fo:.2f}, p50 latency ratio {le / lo:.2f}")


if __name__ == "__main__":
    main()
