"""Latency of edgert vs onnxruntime on the same ONNX file, in one process.

Runs are interleaved (edgert, onnxruntime, edgert, ...) after a warmup so both see the same
machine state; reports the median of each and the ratio edgert / onnxruntime.

    python benchmarks/compare_backends.py MODEL.onnx [--threads 1 2] [--runs 50]
    python benchmarks/compare_backends.py --mobilenet-v2 224     # generated fp32 MobileNetV2
"""
from __future__ import annotations

import argparse
import pathlib
import statistics
import sys
import tempfile
import time

import numpy as np

import edgert
from edgert.backends.onnxruntime import OnnxRuntimeSession


def median_ms(sessions, feeds, runs, warmup):
    for s in sessions:
        for _ in range(warmup):
            s.run(feeds)
    times = [[] for _ in sessions]
    for _ in range(runs):
        for i, s in enumerate(sessions):
            t0 = time.perf_counter()
            s.run(feeds)
            times[i].append((time.perf_counter() - t0) * 1e3)
    return [statistics.median(t) for t in times], [min(t) for t in times]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", nargs="?")
    ap.add_argument("--mobilenet-v2", type=int, metavar="SIZE", help="benchmark a generated MobileNetV2 at SIZE")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--ort-spinning", action="store_true", help="leave onnxruntime's spinning workers on")
    args = ap.parse_args(argv)
    if args.mobilenet_v2:
        sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))
        from model_zoo import mobilenet_v2

        model = mobilenet_v2(size=args.mobilenet_v2).SerializeToString()
        name = f"MobileNetV2-like fp32 {args.mobilenet_v2}x{args.mobilenet_v2}"
    elif args.model:
        model, name = args.model, args.model
    else:
        ap.error("give a MODEL or --mobilenet-v2 SIZE")
    print(name)
    for threads in args.threads:
        ours = edgert.load(model, threads=threads, backend="edgert")
        # onnxruntime's idle workers spin after each run; interleaved, that spinning would steal
        # the cores edgert's run needs, so they sleep here (as edgert's pool does when idle).
        ort = OnnxRuntimeSession(model, threads=threads, spinning=args.ort_spinning)
        rng = np.random.default_rng(0)
        feeds = {t.name: rng.standard_normal([d if isinstance(d, int) else 1 for d in t.shape]).astype(t.dtype)
                 for t in ours.inputs}
        (m_e, m_o), (b_e, b_o) = median_ms([ours, ort], feeds, args.runs, args.warmup)
        print(f"threads={threads}: edgert {m_e:7.2f} ms (best {b_e:.2f})  onnxruntime {m_o:7.2f} ms "
              f"(best {b_o:.2f})  ratio {m_e / m_o:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
