"""Soak: many inferences and many Session lifetimes must not leak.

The short versions always run. EDGERT_SOAK=1 runs the full ones (10,000 inferences per model,
1,000 Session create/destroy cycles), which take minutes; their figures go in docs/hardening.md.
Leaks are measured three ways after a warm-up (first runs fill caches, pools and allocator arenas):
resident memory (RSS, after malloc_trim so freed heap pages do not count) and, on glibc, the bytes
malloc has handed out and not had back (mallinfo2: exact for native allocations, blind to arena
fragmentation) over the whole count, then tracemalloc (Python objects, exact) over a tenth as many
more; tracemalloc's own tables would otherwise show in RSS.

Session cycles start and join thread pools; each new thread may get a fresh glibc arena whose pages
RSS keeps for a while, so the short cycle test bounds RSS loosely and leaves the exact bound to
mallinfo2. The full run (EDGERT_SOAK=1) holds RSS to 1 MiB as well.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import glob
import os
import tracemalloc
import warnings

import numpy as np
import pytest

import edgert
import model_zoo as mz
from edgert.tasks.bundled import bundled_models

FULL = os.environ.get("EDGERT_SOAK") == "1"
MiB = 1 << 20
PAGE = os.sysconf("SC_PAGE_SIZE")

RUNS, WARMUP_RUNS = (10_000, 200) if FULL else (600, 100)
CYCLES, WARMUP_CYCLES = (1_000, 20) if FULL else (60, 10)


try:
    _LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    _LIBC.malloc_trim  # glibc only (musl has neither malloc_trim nor mallinfo2)
    _LIBC.mallinfo2
except (OSError, AttributeError):
    _LIBC = None
else:
    class _Mallinfo2(ctypes.Structure):
        _fields_ = [(f, ctypes.c_size_t) for f in
                    "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]

    _LIBC.mallinfo2.restype = _Mallinfo2
    _LIBC.malloc_trim.argtypes = [ctypes.c_size_t]


def rss() -> int:
    """Resident bytes, after handing freed heap pages back to the OS where the libc can."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def heap_in_use() -> int | None:
    """Bytes malloc has handed out and not had back, over all arenas and mmapped chunks (glibc)."""
    if _LIBC is None:
        return None
    info = _LIBC.mallinfo2()
    return info.uordblks + info.hblkhd


def _check_heap(heap0: int | None, what: str) -> str:
    """Asserts native heap growth since heap0 stays under 256 KiB; returns it for the report."""
    if heap0 is None:
        return "heap n/a"
    growth = heap_in_use() - heap0
    assert growth < 256 * 1024, f"native heap grew {growth / 1024:.0f} KiB over {what}"
    return f"heap {growth / 1024:+.0f} KiB"


def _traced_growth(work) -> int:
    """Bytes of Python allocations still alive after work() (tracemalloc, after a gc)."""
    tracemalloc.start()
    try:
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        work()
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


MODELS = {
    "mobilenet_v2": lambda: mz.mobilenet_v2(size=64, width=0.5),
    "mobilenet_v2_dynamic": lambda: mz.mobilenet_v2(size=32, width=0.35, batch=None),
}
# Every ONNX file a bundled model ships (detectors fp32 and int8, the VLM's vision encoders).
for _m in bundled_models():
    for _precision, _file in _m.files.items():
        if _file.endswith(".onnx"):
            MODELS[f"{_m.name}:{_precision}"] = lambda m=_m, p=_precision: str(m.path(p))


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads RSS from Linux /proc")
@pytest.mark.parametrize("name", sorted(MODELS))
def test_inference_does_not_leak(name):
    sess = edgert.load(MODELS[name](), threads=2, backend="edgert")
    rng = np.random.default_rng(0)
    batches = (1, 2) if "dynamic" in name else (1,)
    shape = {b: [d if isinstance(d, int) else b for d in sess.inputs[0].shape] for b in batches}
    feeds = [{sess.inputs[0].name: rng.standard_normal(shape[b]).astype(np.float32)} for b in batches]
    for i in range(WARMUP_RUNS):
        sess.run(feeds[i % len(feeds)])
    # RSS first, without tracemalloc: its own trace tables would count as growth.
    rss0, heap0 = rss(), heap_in_use()
    for i in range(RUNS):
        sess.run(feeds[i % len(feeds)])
    growth_rss = rss() - rss0
    heap = _check_heap(heap0, f"{RUNS} runs")
    traced_runs = max(RUNS // 10, 100)
    growth_traced = _traced_growth(lambda: [sess.run(feeds[i % len(feeds)]) for i in range(traced_runs)])
    print(f"\n{name}: {RUNS} runs after {WARMUP_RUNS} warm-up: RSS {growth_rss / 1024:+.0f} KiB "
          f"(now {rss() / MiB:.0f} MiB), {heap}; Python objects over {traced_runs} more runs "
          f"{growth_traced / 1024:+.1f} KiB")
    assert growth_rss < MiB, f"RSS grew {growth_rss / MiB:.2f} MiB over {RUNS} runs"
    assert growth_traced < 64 * 1024, f"Python memory grew {growth_traced} bytes over {traced_runs} runs"


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads RSS from Linux /proc")
@pytest.mark.parametrize("name", [m.name for m in bundled_models("vlm")])
def test_vlm_generation_does_not_leak(name):
    """Whole generations (vision encoder, prefill, decode with its recurrent state) on fresh images."""
    pytest.importorskip("tokenizers")
    pytest.importorskip("safetensors")
    from edgert.tasks import VLM

    vlm = VLM.load(name, threads=1)
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (96, 96, 3), np.uint8) for _ in range(8)]
    generations, warmup = (1_000, 20) if FULL else (40, 10)

    def generate(i):
        vlm.generate(images[i % len(images)], "" if i % 2 else "how many digits?", max_new_tokens=24)

    for i in range(warmup):
        generate(i)
    rss0, heap0 = rss(), heap_in_use()
    for i in range(generations):
        generate(i)
    growth_rss = rss() - rss0
    heap = _check_heap(heap0, f"{generations} generations")
    traced = max(generations // 10, 10)
    growth_traced = _traced_growth(lambda: [generate(i) for i in range(traced)])
    print(f"\n{name}: {generations} generations after {warmup} warm-up: RSS {growth_rss / 1024:+.0f} KiB, {heap}; "
          f"Python objects over {traced} more {growth_traced / 1024:+.1f} KiB")
    assert growth_rss < MiB, f"RSS grew {growth_rss / MiB:.2f} MiB over {generations} generations"
    assert growth_traced < 64 * 1024, f"Python memory grew {growth_traced} bytes over {traced} generations"


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads RSS from Linux /proc")
def test_session_create_destroy_does_not_leak():
    model = mz.mobilenet_v2(size=32, width=0.35).SerializeToString()
    x = {"input": np.ones((1, 3, 32, 32), np.float32)}

    def cycle():
        sess = edgert.load(model, threads=2, backend="edgert")
        sess.run(x)
        del sess

    for _ in range(WARMUP_CYCLES):
        cycle()
    gc.collect()
    rss0, heap0 = rss(), heap_in_use()
    for _ in range(CYCLES):
        cycle()
    gc.collect()
    growth_rss = rss() - rss0
    heap = _check_heap(heap0, f"{CYCLES} cycles")
    traced_cycles = max(CYCLES // 10, 20)
    growth_traced = _traced_growth(lambda: [cycle() for _ in range(traced_cycles)])
    print(f"\n{CYCLES} Session create/run/destroy cycles after {WARMUP_CYCLES} warm-up: RSS "
          f"{growth_rss / 1024:+.0f} KiB, {heap}; Python objects over {traced_cycles} more cycles "
          f"{growth_traced / 1024:+.1f} KiB")
    # Without mallinfo2 (not glibc) RSS is the only native measure, so it keeps the tight bound.
    rss_bound = MiB if FULL or heap0 is None else 8 * MiB
    assert growth_rss < rss_bound, f"RSS grew {growth_rss / MiB:.2f} MiB over {CYCLES} cycles"
    assert growth_traced < 64 * 1024, f"Python memory grew {growth_traced} bytes over {traced_cycles} cycles"


def test_failed_loads_do_not_leak():
    # Rejected models must not leave half-built sessions (thread pools, packed weights) behind.
    good = mz.mobilenet_v2(size=32, width=0.35)
    good.graph.node[-1].input[0] = "dangling"  # fails late: after every initializer was decoded
    bad = good.SerializeToString()
    for _ in range(5):
        with pytest.raises(edgert.ModelLoadError):
            edgert.load(bad, threads=2, backend="edgert")
    def fail():
        for _ in range(CYCLES):
            with pytest.raises(edgert.ModelLoadError):
                edgert.load(bad, threads=2, backend="edgert")

    growth = _traced_growth(fail)
    assert growth < 64 * 1024, f"Python memory grew {growth} bytes over {CYCLES} failed loads"


@pytest.mark.skipif(not glob.glob("/sys/devices/system/cpu/cpu0/cache/index*"), reason="reads Linux sysfs")
def test_planning_leaves_no_file_open():
    model = mz.mobilenet_v2(size=32, width=0.35)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        edgert.load(model, threads=1, backend="edgert")
        gc.collect()
    unclosed = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert not unclosed, f"{len(unclosed)} files left open, e.g. {unclosed[0]}"
