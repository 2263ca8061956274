"""Whole-model latency of the networks docs/benchmarks.md reports, on edgert and onnxruntime, one
backend at a time (for side-by-side, interleaved numbers use `edgert bench`)."""
from __future__ import annotations

import pytest
from make_models import MODELS

from edgert.backends.base import default_threads
from edgert.bench.models import open_session, synthetic_feeds

THREADS = sorted({1, default_threads()})
ROUNDS, WARMUP = 20, 3


@pytest.mark.parametrize("threads", THREADS)
@pytest.mark.parametrize("backend", ["edgert", "onnxruntime"])
@pytest.mark.parametrize("model", list(MODELS))
def bench_model(benchmark, model_files, model, backend, threads):
    if backend == "onnxruntime":
        pytest.importorskip("onnxruntime")
    session, options = open_session(backend, model_files[model], threads, interleaved=False)
    feeds = synthetic_feeds(session.inputs, {}, seed=0)
    benchmark.group = f"{model} {threads} thr"
    benchmark.extra_info.update(backend=backend, threads=threads, **options)
    benchmark.pedantic(session.run, args=(feeds,), rounds=ROUNDS, warmup_rounds=WARMUP)
