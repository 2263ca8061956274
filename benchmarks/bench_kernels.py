"""Every kernel variant this CPU can run, on the shapes of `edgert bench --kernels`, and the
dispatched int8 kernels of its int8 rows.

Each call runs the variant once from C (KernelBench.run), so the only Python in the loop is one
call per kernel invocation, far below the microseconds the smallest case takes; the int8 rows
call the runtime's operator (Int8Bench.run), tens of microseconds or more per call."""
from __future__ import annotations

import pytest

from edgert.bench import kernels

PAIRS = [(case, variant) for case, variant in kernels.plan() if variant["runnable"]] + kernels.int8_plan()


@pytest.mark.parametrize("case, variant", PAIRS,
                         ids=[f"{v['name']}[{c.label}]".replace(" ", "_") for c, v in PAIRS])
def bench_kernel(benchmark, case, variant):
    bench = case.make(variant["name"])
    benchmark.group = f"{kernels.operation(variant)} {case.label}"
    benchmark.extra_info.update(variant=variant["name"], isa=variant["isa"], dispatched=bool(bench.dispatched))
    benchmark(bench.run)
    unit = "GMAC/s" if bench.unit == "MAC" else "GB/s"
    benchmark.extra_info[unit] = bench.work / benchmark.stats.stats.median / 1e9
