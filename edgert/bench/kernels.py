"""Kernel microbenchmarks: every compiled variant on shapes taken from real networks, timed in C
(edgert._ops._kernel_bench), with the variant the dispatch table picks on this CPU marked; and
the int8 kernels this CPU dispatches to (GEMM, depthwise, stem), timed through the runtime's own
operator layer on one thread, so the rows show what this build of edgert really runs at."""
from __future__ import annotations

import time
from dataclasses import dataclass
from statistics import median
from typing import Callable

import numpy as np

from edgert._ops import _kernel_bench as KB
from edgert._ops import _kernels as K

MIN_TIME = 0.05  # seconds of timed calls per variant and case
BATCHES = 5
ELEMENTS = 28 * 28 * 256  # elementwise kernels: one 28x28x256 activation (784 KiB)
ELEMENTS_LABEL = "28x28x256 floats"


@dataclass(frozen=True)
class KernelCase:
    kind: str                          # a _kernel_bench kind: gemm, dwconv, maxpool, unary...
    label: str
    make: Callable[[str], object]      # variant name -> prepared KB.*Bench
    kernel: int = 0                    # dwconv: only variants specialised for this size/stride
    stride: int = 0                    # (or generic ones) run the case

    def accepts(self, variant: dict) -> bool:
        if variant["kind"] != self.kind:
            return False
        if self.kind == "dwconv":
            return variant["kernel"] in (0, self.kernel) and variant["stride"] in (0, self.stride)
        return True


def _gemm(label, M, N, K):
    return KernelCase("gemm", label, lambda v: KB.GemmBench(v, M, N, K))


def _dwconv(H, W, C, K, S):
    return KernelCase("dwconv", f"{K}x{K} s{S} {H}x{W}x{C}", lambda v: KB.DwconvBench(v, H, W, C, K, S), K, S)


# MobileNetV2/V3 and ResNet-18 layers at 224x224 (stems: MobileNet, ResNet).
CASES = [
    _gemm("1x1 conv 56x56 24->144", 56 * 56, 144, 24),
    _gemm("1x1 conv 14x14 96->576", 14 * 14, 576, 96),
    _gemm("1x1 conv 7x7 320->1280", 7 * 7, 1280, 320),
    _gemm("fully connected 1280->1000", 1, 1000, 1280),
    KernelCase("conv_stem", "3x3 s2 224x224 3->32", lambda v: KB.ConvStemBench(v, 224, 224, 3, 32, 3, 2)),
    KernelCase("conv_stem", "7x7 s2 224x224 3->64", lambda v: KB.ConvStemBench(v, 224, 224, 3, 64, 7, 2)),
    _dwconv(56, 56, 144, 3, 1),
    _dwconv(112, 112, 96, 3, 2),
    _dwconv(14, 14, 240, 5, 1),
    _dwconv(28, 28, 96, 5, 2),
    _dwconv(14, 14, 384, 7, 1),
    _dwconv(28, 28, 192, 7, 2),
    KernelCase("maxpool", "3x3 s2 112x112x64", lambda v: KB.PoolBench(v, 112, 112, 64, 3, 2)),
    KernelCase("avgpool", "3x3 s1 28x28x192", lambda v: KB.PoolBench(v, 28, 28, 192, 3, 1)),
    KernelCase("global_avgpool", "7x7x1280", lambda v: KB.GlobalAvgPoolBench(v, 49, 1280)),
    KernelCase("unary", ELEMENTS_LABEL, lambda v: KB.UnaryBench(v, ELEMENTS)),
    KernelCase("prelu", "28x28 x 256 channels", lambda v: KB.PreluBench(v, 28 * 28, 256)),
    KernelCase("binary", ELEMENTS_LABEL, lambda v: KB.BinaryBench(v, ELEMENTS)),
]


class Int8Bench:
    """One dispatched int8 operator prepared on one shape (random int8 data, requantized to
    int8), with KB.*Bench's timing interface. Timed in a Python loop: the calls are tens of
    microseconds or more, so the loop's ~0.1 us per call is noise."""

    unit = "MAC"
    dispatched = True

    def __init__(self, variant: str, work: float, call: Callable[[], None]):
        self.variant, self.work, self._call = variant, work, call

    def run(self, calls: int = 1) -> None:
        """Calls the operator `calls` times (for pytest-benchmark)."""
        for _ in range(calls):
            self._call()

    def calls_for(self, seconds: float) -> int:
        self._call()  # first touch of buffers and code
        n = 1
        while self.seconds_per_call(n) * n < seconds and n < 1 << 30:
            n *= 2
        return n

    def seconds_per_call(self, calls: int) -> float:
        t0 = time.perf_counter()
        self.run(calls)
        return (time.perf_counter() - t0) / calls


def _int8_data(rng, *shape) -> np.ndarray:
    return rng.integers(-128, 128, size=shape, dtype=np.int8)


def _int8_gemm(variant: str, M: int, N: int, K_: int) -> Int8Bench:
    rng = np.random.default_rng(0)
    a, c = _int8_data(rng, M * K_), np.empty(M * N, np.int8)
    packed = K.qs8_gemm_pack(_int8_data(rng, K_, N), None, 3)
    scales = np.full(N, 1.0 / (64 * K_), np.float32)
    op = K.QS8Gemm(K.ThreadPool(1), a, packed, c, M, N, K_, K_, N, scales, 0, -128, 127)
    return Int8Bench(variant, float(M * N * K_), op)


def _int8_window(variant: str, kind: str, H: int, W: int, C_in: int, C_out: int, k: int, s: int) -> Int8Bench:
    rng = np.random.default_rng(0)
    pad = k // 2
    OH, OW = (H + 2 * pad - k) // s + 1, (W + 2 * pad - k) // s + 1
    depthwise = kind == "dwconv"
    geometry = {"batch": 1, "H": H, "W": W, "C_in": C_in, "OH": OH, "OW": OW, "C_out": C_out,
                "groups": C_in if depthwise else 1, "KH": k, "KW": k, "SH": s, "SW": s,
                "DH": 1, "DW": 1, "pad_top": pad, "pad_left": pad}
    cin_per_output = 1 if depthwise else C_in
    weights = _int8_data(rng, C_out, cin_per_output, k, k)
    pack = K.qs8_dwconv_pack if depthwise else K.qs8_conv_stem_pack
    x, y = _int8_data(rng, H * W * C_in), np.empty(OH * OW * C_out, np.int8)
    scales = np.full(C_out, 1.0 / (64 * k * k * cin_per_output), np.float32)
    op = K.QS8WindowOp(K.ThreadPool(1), kind, geometry, x, y, pack(weights, None, 3), scales,
                       input_zero_point=3)
    return Int8Bench(variant, float(OH * OW * C_out * k * k * cin_per_output), op)


# MobileNetV2's int8 layers at 224x224 (the expand 1x1 with K = 16 is requantization bound).
INT8_CASES = [
    KernelCase("qs8_gemm", "int8 1x1 conv 112x112 16->96", lambda v: _int8_gemm(v, 112 * 112, 96, 16)),
    KernelCase("qs8_gemm", "int8 1x1 conv 56x56 24->144", lambda v: _int8_gemm(v, 56 * 56, 144, 24)),
    KernelCase("qs8_gemm", "int8 1x1 conv 7x7 320->1280", lambda v: _int8_gemm(v, 7 * 7, 1280, 320)),
    KernelCase("qs8_dwconv", "int8 3x3 s1 56x56x144", lambda v: _int8_window(v, "dwconv", 56, 56, 144, 144, 3, 1)),
    KernelCase("qs8_dwconv", "int8 3x3 s2 112x112x96", lambda v: _int8_window(v, "dwconv", 112, 112, 96, 96, 3, 2)),
    KernelCase("qs8_conv_stem", "int8 3x3 s2 224x224 3->32",
               lambda v: _int8_window(v, "conv_stem", 224, 224, 3, 32, 3, 2)),
]


def _isa_of(variant_name: str) -> str:
    return variant_name.rsplit("__", 1)[-1]


def operation(variant: dict) -> str:
    """What a variant computes, without its ISA: f32_vsigmoid__avx2 -> f32_vsigmoid; tiles and
    specialisations of one family share a name (f32_gemm, f32_dwconv)."""
    if variant["kind"] in ("gemm", "dwconv", "conv_stem"):
        return "f32_" + variant["kind"]
    if variant["kind"].startswith("qs8_"):
        return variant["kind"]
    return variant["name"].split("__")[0]


def plan(only: str | None = None) -> list[tuple[KernelCase, dict]]:
    """(case, variant) pairs to time; `only` keeps variants whose name contains it."""
    pairs = []
    for case in CASES:
        chosen = [v for v in KB.variants() if case.accepts(v) and (not only or only in v["name"])]
        order = list(dict.fromkeys(operation(v) for v in chosen))
        # variants of one operation side by side, scalar first (the table lists them by ISA)
        chosen.sort(key=lambda v: (order.index(operation(v)), v["isa"] != "scalar"))
        pairs.extend((case, v) for v in chosen)
    return pairs


def run(only: str | None = None, min_time: float | None = None, ticker=None) -> list[dict]:
    """One row per (case, variant); variants this CPU cannot run are listed, not timed.
    min_time: seconds of timed calls per row (default MIN_TIME), in BATCHES batches taken in
    turns with the other variants of the case, so all of them see the same machine state."""
    min_time = MIN_TIME if min_time is None else min_time
    pairs = plan(only)
    if ticker is not None:
        ticker.begin("kernels", len(pairs))
    rows = []
    for case in dict.fromkeys(case for case, _ in pairs):
        variants = [v for c, v in pairs if c is case]
        benches = {v["name"]: case.make(v["name"]) for v in variants if v["runnable"]}
        calls = {name: bench.calls_for(min_time / BATCHES) for name, bench in benches.items()}
        per_call = {name: [] for name in benches}
        names = list(benches)
        for batch in range(BATCHES):
            for k in range(len(names)):
                name = names[(batch + k) % len(names)]
                per_call[name].append(benches[name].seconds_per_call(calls[name]))
        for variant in variants:
            rows.append(_row(case, variant, benches.get(variant["name"]), per_call.get(variant["name"])))
            if ticker is not None:
                ticker.advance(1)
    rows.extend(_run_int8(only, min_time, ticker))
    _attach_speedups(rows)
    return rows


def int8_plan(only: str | None = None) -> list[tuple[KernelCase, dict]]:
    """(case, dispatched variant) pairs of INT8_CASES whose variant name contains `only`."""
    info = K.qs8_dispatch_info()
    pairs = []
    for case in INT8_CASES:
        name = info[case.kind.removeprefix("qs8_")]
        if not only or only in name:
            pairs.append((case, {"name": name, "kind": case.kind, "isa": _isa_of(name), "runnable": True}))
    return pairs


def _run_int8(only: str | None, min_time: float, ticker) -> list[dict]:
    pairs = int8_plan(only)
    if ticker is not None and pairs:
        ticker.begin("int8 kernels", len(pairs))
    rows = []
    for case, variant in pairs:
        bench = case.make(variant["name"])
        calls = bench.calls_for(min_time / BATCHES)
        per_call = [bench.seconds_per_call(calls) for _ in range(BATCHES)]
        rows.append(_row(case, variant, bench, per_call))
        if ticker is not None:
            ticker.advance(1)
    return rows


def _row(case: KernelCase, variant: dict, bench, per_call) -> dict:
    row = {"kind": case.kind, "operation": operation(variant), "case": case.label,
           "variant": variant["name"], "isa": variant["isa"], "runnable": variant["runnable"],
           "dispatched": False, "median_s": None, "best_s": None, "throughput": None,
           "unit": None, "speedup_vs_scalar": None, "spread": None}
    if bench is not None:
        row["dispatched"] = bool(bench.dispatched)
        row["median_s"], row["best_s"] = median(per_call), min(per_call)
        row["spread"] = (max(per_call) - min(per_call)) / row["median_s"]
        row["unit"] = "GMAC/s" if bench.unit == "MAC" else "GB/s"
        row["throughput"] = bench.work / row["median_s"] / 1e9
    return row


def _attach_speedups(rows: list[dict]) -> None:
    scalar = {(r["operation"], r["case"]): r["median_s"] for r in rows if r["isa"] == "scalar" and r["median_s"]}
    for r in rows:
        base = scalar.get((r["operation"], r["case"]))
        if base and r["median_s"]:
            r["speedup_vs_scalar"] = base / r["median_s"]
