"""SKA benchmark: edgert's native kernel on the `ai.edgert` SKA node vs onnxruntime on the portable
decomposition `edgert convert --portable` writes (Pad, k*k shifted Slices times one kernel tap each,
Sum), on the SKA shapes of LSNet-T at 224x224 (stages 1-3: C = 64/128/256 at 56/28/14 pixels, 3x3
kernels, G = C/8 weight groups).

    python benchmarks/ska.py [--runs 200] [--threads 1,2] [--model] [--json OUT.json]

Both graphs take X [1, C, H, W] and the per-pixel kernels W [1, G*9, H, W] as inputs (so edgert's
times include converting both to NHWC and the result back, which inside a network it does not do);
the runtimes alternate in blocks of runs and the median per run is reported. --model also times the
whole LSNet-T (random weights, fp32, 224x224): edgert on the SKA-node export vs onnxruntime on the
portable one.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import edgert  # noqa: E402
from edgert.zoo.ska import ska_reference  # noqa: E402

SHAPES = [(64, 56), (128, 28), (256, 14)]  # (C, H = W) of LSNet-T's SKA at 224x224
K = 3


def ska_graph(c: int, h: int, portable: bool):
    import onnx
    import torch

    from edgert.zoo.convert import GraphWriter, Value

    groups = c // 8
    writer = GraphWriter(portable=portable)
    x = Value("x", torch.zeros(1, c, h, h))
    w = Value("w", torch.zeros(1, groups * K * K, h, h))
    y = writer.ska(x, w, K)
    model = writer.finish("ska", x, {"y": y}, "SKA benchmark", {})
    model.graph.input.append(onnx.helper.make_tensor_value_info("w", onnx.TensorProto.FLOAT, ["N", *w.t.shape[1:]]))
    return model


def _ska_case(c: int, h: int):
    rng = np.random.default_rng(0)
    feeds = {"x": rng.standard_normal((1, c, h, h)).astype(np.float32),
             "w": rng.standard_normal((1, c // 8 * K * K, h, h)).astype(np.float32)}
    ref = ska_reference(feeds["x"], feeds["w"], K)
    return ska_graph(c, h, False), ska_graph(c, h, True).SerializeToString(), feeds, ref


def _lsnet_case():
    import torch

    from edgert.zoo.convert import export_onnx
    from edgert.zoo.lsnet import lsnet

    torch.manual_seed(0)
    model = lsnet("lsnet_t").eval()
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    native = export_onnx(model, (224, 224))
    portable = export_onnx(model, (224, 224), portable=True)
    return native, portable.SerializeToString(), {native.graph.input[0].name: x}, ref


def timed(run, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        run()
        out.append(time.perf_counter() - t0)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--model", action="store_true", help="also time the whole LSNet-T")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    import onnxruntime as ort

    rows = []
    cases = [(f"SKA C={c} {h}x{h}", lambda c=c, h=h: _ska_case(c, h)) for c, h in SHAPES]
    if args.model:
        cases.append(("LSNet-T 224x224", _lsnet_case))
    for what, make in cases:
        native, portable, feeds, ref = make()
        for threads in (int(t) for t in args.threads.split(",")):
            sess = edgert.load(native, threads=threads, backend="edgert")
            opts = ort.SessionOptions()
            opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
            ort_sess = ort.InferenceSession(portable, opts, providers=["CPUExecutionProvider"])
            for got in (next(iter(sess.run(feeds).values())), ort_sess.run(None, feeds)[0]):
                np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())
            ours, theirs = [], []
            block = max(args.runs // 10, 1)
            for _ in range(10):  # alternate, so load changes hit both
                ours += timed(lambda: sess.run(feeds), block)
                theirs += timed(lambda: ort_sess.run(None, feeds), block)
            e, o = statistics.median(ours) * 1e6, statistics.median(theirs) * 1e6
            rows.append({"case": what, "threads": threads, "edgert_us": e, "onnxruntime_us": o, "ratio": e / o})
            print(f"{what:18s} threads={threads}: edgert {e:8.1f} us  onnxruntime (portable) "
                  f"{o:8.1f} us  ratio {e / o:.3f}", flush=True)
    if args.json:
        tmp = f"{args.json}.tmp{os.getpid()}"
        with open(tmp, "w") as f:
            json.dump(rows, f, indent=1)
        os.replace(tmp, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
