"""What the peer runtimes compute exactly on this CPU, for tests that compare edgert with them."""
from __future__ import annotations

import platform


def _x86_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def _ort_int8_is_exact() -> bool:
    """onnxruntime's u8 x s8 int8 kernels give the exact QDQ arithmetic for full-range int8 weights:
    on ARM (exact widening products) and on x86 with VNNI. On x86 without VNNI they sum pairs of
    products in int16 (vpmaddubsw), which saturates, so full-range models differ there from the
    exact result that edgert computes (onnxruntime recommends reduce_range on such CPUs)."""
    if platform.machine().lower() not in ("x86_64", "amd64", "i386", "i686"):
        return True
    return bool({"avx512_vnni", "avx_vnni"} & _x86_flags())


ORT_INT8_EXACT = _ort_int8_is_exact()
