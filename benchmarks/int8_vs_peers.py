"""int8 MobileNetV2-like 224x224: edgert vs onnxruntime (same QDQ model) vs LiteRT (the same
network as an int8 .tflite), interleaved in one process; prints p50 per runtime and the ratio of
edgert to the faster peer.

    python benchmarks/int8_vs_peers.py [--runs 80] [--workdir DIR]
"""
from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort
from ai_edge_litert.interpreter import Interpreter
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

import edgert
from edgert.bench.models import round_order
from edgert.exporters.tflite import onnx_to_tflite

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))
import model_zoo  # noqa: E402


def make_models(workdir: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
    fp32, pre, int8, tfl = (workdir / n for n in ("mbv2.onnx", "mbv2_pre.onnx", "mbv2_int8.onnx", "mbv2_int8.tflite"))
    onnx.save(model_zoo.mobilenet_v2(size=224), fp32)
    quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True)

    class Reader(CalibrationDataReader):
        def __init__(self):
            rng = np.random.default_rng(0)
            self.feeds = iter([{"input": rng.standard_normal((1, 3, 224, 224)).astype(np.float32)} for _ in range(8)])

        def get_next(self):
            return next(self.feeds, None)

    quantize_static(str(pre), str(int8), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)
    tfl.write_bytes(onnx_to_tflite(int8))
    return int8, tfl


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=80)
    ap.add_argument("--workdir", type=pathlib.Path, default=None)
    args = ap.parse_args()
    workdir = args.workdir or pathlib.Path(tempfile.mkdtemp(prefix="edgert-int8-"))
    onnx_path, tfl_path = make_models(workdir)
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    for threads in (1, 2):
        e = edgert.load(onnx_path, threads=threads)
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")  # fair when interleaved
        o = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
        it = Interpreter(model_path=str(tfl_path), num_threads=threads)
        it.allocate_tensors()
        inp = it.get_input_details()[0]
        xt = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
        if inp["dtype"] == np.int8:
            s, z = inp["quantization"]
            xt = np.clip(np.rint(xt / s) + z, -128, 127).astype(np.int8)
        runners = {"edgert": lambda: e.run({"input": x}), "onnxruntime": lambda: o.run(None, {"input": x}),
                   "litert": lambda: (it.set_tensor(inp["index"], xt), it.invoke())}
        for run in runners.values():
            for _ in range(3):
                run()
        times = {k: [] for k in runners}
        names = list(runners)
        for r in range(args.runs):  # each runtime after each other equally often
            for i in round_order(r, len(names)):
                t = time.perf_counter()
                runners[names[i]]()
                times[names[i]].append(time.perf_counter() - t)
        p50 = {k: float(np.median(v)) * 1e3 for k, v in times.items()}
        best = min(p50["onnxruntime"], p50["litert"])
        print(f"threads {threads}: " + "  ".join(f"{k} {v:.2f} ms" for k, v in p50.items())
              + f"  edgert / faster peer {p50['edgert'] / best:.3f}")


if __name__ == "__main__":
    main()
