"""The machine a benchmark ran on, as recorded in its JSON: numbers mean nothing without it."""
from __future__ import annotations

import glob
import os
import platform
from importlib import metadata

import edgert

# /proc/cpuinfo "CPU part" of the Arm cores edge boards carry (Pi 3/4/5, Jetson, phones).
ARM_PARTS = {
    "0xd03": "Cortex-A53", "0xd04": "Cortex-A35", "0xd05": "Cortex-A55", "0xd07": "Cortex-A57",
    "0xd08": "Cortex-A72", "0xd09": "Cortex-A73", "0xd0a": "Cortex-A75", "0xd0b": "Cortex-A76",
    "0xd0d": "Cortex-A77", "0xd41": "Cortex-A78", "0xd44": "Cortex-X1", "0xd46": "Cortex-A510",
    "0xd47": "Cortex-A710", "0xd4d": "Cortex-A715", "0xd80": "Cortex-A520", "0xd81": "Cortex-A720",
}
# cpuinfo flag -> feature name (x86 "flags", Arm "Features").
CPUINFO_FEATURES = {"avx2": "avx2", "fma": "fma", "avx512f": "avx512f", "avx512_vnni": "avx512_vnni", "asimd": "neon",
                    "asimddp": "dotprod", "i8mm": "i8mm", "sve": "sve"}
PACKAGES = ("numpy", "onnx", "onnxruntime", "ai-edge-litert", "tflite-runtime", "rich")


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def _cpuinfo_fields(text: str) -> dict[str, str]:
    """The first value of each key (cores repeat the same block)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip().lower(), value.strip())
    return fields


def cpu_model(cpuinfo: str | None) -> str:
    fields = _cpuinfo_fields(cpuinfo or "")
    for key in ("model name", "hardware", "processor", "cpu model"):
        value = fields.get(key, "")
        if value and not value.isdigit():  # Arm's "processor" is the core index
            return value
    part = ARM_PARTS.get(fields.get("cpu part", "").lower())
    return part or platform.processor() or platform.machine()


def cpu_features(cpuinfo: str | None) -> dict[str, bool]:
    """What the hardware advertises; without /proc/cpuinfo, what edgert's own detection saw."""
    from edgert._ops import _kernels

    fields = _cpuinfo_fields(cpuinfo or "")
    flags = set((fields.get("flags") or fields.get("features") or "").split())
    if flags:
        return {name: flag in flags for flag, name in CPUINFO_FEATURES.items()}
    seen = _kernels.cpu_features()
    return {"avx2": seen["avx2_fma"], "fma": seen["avx2_fma"], "avx512_vnni": seen["avx512_vnni"], "neon": seen["neon"],
            "dotprod": seen["neon_dot"], "i8mm": seen["neon_i8mm"]}


def governors() -> list[str] | None:
    """Distinct cpufreq governors of all cores, or None where cpufreq is not exposed (VMs)."""
    values = {(_read(p) or "").strip() for p in glob.glob("/sys/devices/system/cpu/cpu[0-9]*/cpufreq/scaling_governor")}
    values.discard("")
    return sorted(values) or None


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version(), "edgert": edgert.__version__}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def memory_total_bytes() -> int | None:
    for line in (_read("/proc/meminfo") or "").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return None


def collect() -> dict:
    from edgert._ops import _kernels

    cpuinfo = _read("/proc/cpuinfo")
    board = (_read("/proc/device-tree/model") or "").strip("\x00\n ") or None
    usable = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    qs8 = _kernels.qs8_dispatch_info()
    return {
        "cpu": {
            "model": cpu_model(cpuinfo),
            "board": board,
            "machine": platform.machine(),
            "cores": os.cpu_count(),
            "usable_cpus": usable,
            "governor": governors(),
            "features": cpu_features(cpuinfo),
        },
        "edgert_kernels": {
            **_kernels.dispatch_info(),
            "qs8_gemm": qs8["gemm"],
            "qs8_dwconv": qs8["dwconv"],
            "qs8_conv_stem": qs8["conv_stem"],
            "cpu_features": _kernels.cpu_features(),
            "EDGERT_KERNELS": os.environ.get("EDGERT_KERNELS"),
        },
        "memory_total_bytes": memory_total_bytes(),
        "os": platform.platform(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "versions": package_versions(),
    }
