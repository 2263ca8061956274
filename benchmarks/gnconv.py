"""gnConv benchmark: HorNet's recursive gated convolution (edgert.zoo.hornet.GnConv, random
weights, exported with torch.onnx) on edgert as one fused GnConv operator vs the same graph as
separate steps (EDGERT_GNCONV_FUSION=never: 1x1 convs, Split copies, depthwise, gate Muls), and vs
onnxruntime, at HorNet-T's stage shapes for a 224x224 image.

    python benchmarks/gnconv.py [--runs 200] [--threads 1,2]

The three sessions alternate in blocks of runs (edgert bench's round order, onnxruntime's
spinning workers off, as `edgert bench` does when interleaving); the median per run is reported.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import edgert  # noqa: E402
from edgert.backends.onnxruntime import OnnxRuntimeSession  # noqa: E402
from edgert.bench.models import round_order  # noqa: E402

# (order, dim, H = W): HorNet-T's gnConv orders 2-5 over its four stages at 224x224
SHAPES = [(2, 64, 56), (3, 128, 28), (4, 256, 14), (5, 512, 7)]


def export(order: int, dim: int, hw: int, path: str) -> np.ndarray:
    import torch

    from edgert.zoo.hornet import GnConv

    torch.manual_seed(order)
    model = GnConv(dim, order=order, s=1.0 / 3).eval()
    x = torch.randn(1, dim, hw, hw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), path, input_names=["x"], output_names=["y"], opset_version=18, dynamo=False)
    return x.numpy()


def load_edgert(path: str, threads: int, fused: bool):
    before = os.environ.get("EDGERT_GNCONV_FUSION")
    os.environ["EDGERT_GNCONV_FUSION"] = "auto" if fused else "never"
    try:
        return edgert.load(path, threads=threads)
    finally:
        if before is None:
            del os.environ["EDGERT_GNCONV_FUSION"]
        else:
            os.environ["EDGERT_GNCONV_FUSION"] = before


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--threads", default="1,2")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="edgert-gnconv-")
    print(f"{'order, dim, HxW':>18} {'threads':>7} {'fused':>9} {'unfused':>9} {'onnxruntime':>11} "
          f"{'fused/unfused':>13} {'fused/ORT':>9}")
    for order, dim, hw in SHAPES:
        path = os.path.join(tmp, f"gnconv{order}.onnx")
        x = export(order, dim, hw, path)
        for threads in (int(t) for t in args.threads.split(",")):
            o = OnnxRuntimeSession(path, threads, spinning=False)
            runners = {"fused": load_edgert(path, threads, True), "unfused": load_edgert(path, threads, False)}
            labels = [s.label for s in runners["fused"].plan_for([x.shape]).steps]
            assert any(lb.startswith("GnConv") for lb in labels), labels
            runs = {"fused": lambda: runners["fused"].run({"x": x}), "unfused": lambda: runners["unfused"].run({"x": x}),
                    "ort": lambda: o.run({"x": x})}
            times = {k: [] for k in runs}
            names = list(runs)
            block = max(1, args.runs // 12)
            for rnd in range(13):  # round 0 warms up
                for name in (names[i] for i in round_order(rnd, len(names))):
                    fn = runs[name]
                    for _ in range(block):
                        t0 = time.perf_counter()
                        fn()
                        if rnd:
                            times[name].append(time.perf_counter() - t0)
            med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
            print(f"{f'{order}, {dim}, {hw}x{hw}':>18} {threads:>7} {med['fused']:>7.3f}ms {med['unfused']:>7.3f}ms "
                  f"{med['ort']:>9.3f}ms {med['fused'] / med['unfused']:>13.2f} {med['fused'] / med['ort']:>9.2f}")


if __name__ == "__main__":
    main()
