"""What `edgert bench` was asked to do, validated before any work starts."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from edgert.backends.base import default_threads
from edgert.errors import EdgeRTError

SCHEMA_VERSION = 1
ALL_BACKENDS = ("edgert", "onnxruntime", "litert")
DEFAULT_RUNS = 50
DEFAULT_WARMUP = 5
PLOT_SUFFIXES = (".png", ".svg", ".pdf")


class BenchError(EdgeRTError):
    """A bench option, model name or output path is invalid."""


@dataclass
class BenchConfig:
    models: list[str] = field(default_factory=list)
    backends: tuple[str, ...] = ALL_BACKENDS
    threads: tuple[int, ...] = (1,)
    warmup: int = DEFAULT_WARMUP
    runs: int | None = DEFAULT_RUNS      # timed rounds; None when duration is set
    duration: float | None = None        # seconds of timed rounds per model x threads
    input_shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    json_path: str | None = None
    csv_path: str | None = None
    plot_path: str | None = None
    force: bool = False
    profile: bool = False
    profile_top: int = 10
    pin: tuple[int, ...] | None = None
    kernels: bool = False
    seed: int = 0

    @classmethod
    def from_args(cls, args) -> "BenchConfig":
        """From the `edgert bench` argparse namespace."""
        if not args.models and not args.kernels:
            raise BenchError("give at least one MODEL (a .onnx/.tflite file or a bundled model name) or --kernels")
        pin = parse_cpu_list(args.pin) if args.pin else None
        if args.runs is not None and args.runs < 1:
            raise BenchError(f"--runs must be at least 1, got {args.runs}")
        if args.duration is not None and not args.duration > 0:
            raise BenchError(f"--duration must be a positive number of seconds, got {args.duration}")
        if args.warmup < 0:
            raise BenchError(f"--warmup must be 0 or more, got {args.warmup}")
        if args.top < 1:
            raise BenchError(f"--top must be at least 1, got {args.top}")
        threads = parse_threads(args.threads) if args.threads else default_thread_counts(pin)
        return cls(
            models=list(args.models),
            backends=parse_backends(args.backend),
            threads=threads,
            warmup=args.warmup,
            runs=None if args.duration is not None else (args.runs or DEFAULT_RUNS),
            duration=args.duration,
            input_shapes=parse_input_shapes(args.input_shape),
            json_path=args.json, csv_path=args.csv, plot_path=args.plot, force=args.force,
            profile=args.profile, profile_top=args.top, pin=pin, kernels=args.kernels,
        )


def default_thread_counts(pin=None) -> tuple[int, ...]:
    """1 and every usable core: the two settings a board is usually run at."""
    cores = len(pin) if pin else default_threads()
    return tuple(sorted({1, cores}))


def parse_backends(text: str) -> tuple[str, ...]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if names == ["all"]:
        return ALL_BACKENDS
    unknown = [n for n in names if n not in ALL_BACKENDS]
    if unknown or not names:
        raise BenchError(f"--backend {text!r}: expected a comma-separated list of {', '.join(ALL_BACKENDS)}, or all")
    return tuple(dict.fromkeys(names))


def parse_threads(text: str) -> tuple[int, ...]:
    try:
        counts = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        counts = []
    if not counts or any(c < 1 for c in counts):
        raise BenchError(f"--threads {text!r}: expected positive integers separated by commas, e.g. 1,2,4")
    return tuple(dict.fromkeys(counts))


def parse_cpu_list(text: str) -> tuple[int, ...]:
    """'2,3' or '0-3' (the taskset -c syntax) -> CPU ids, all of which this process may use."""
    cpus: set[int] = set()
    try:
        for part in text.split(","):
            lo, _, hi = part.strip().partition("-")
            cpus.update(range(int(lo), int(hi or lo) + 1))
    except ValueError:
        raise BenchError(f"--pin {text!r}: expected CPU ids like 2,3 or 0-3") from None
    allowed = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    if allowed is None:
        raise BenchError("--pin needs CPU affinity support (Linux)")
    if not cpus or not cpus <= allowed:
        raise BenchError(f"--pin {text!r}: this process may only use CPUs {format_cpus(allowed)}")
    return tuple(sorted(cpus))


def format_cpus(cpus) -> str:
    return ",".join(str(c) for c in sorted(cpus))


def parse_input_shapes(items) -> dict[str, tuple[int, ...]]:
    shapes = {}
    for item in items or []:
        name, _, dims = item.partition("=")
        try:
            shape = tuple(int(d) for d in dims.lower().split("x"))
        except ValueError:
            shape = ()
        if not name or not shape or any(d < 1 for d in shape):
            raise BenchError(f"--input-shape {item!r}: expected NAME=DxDxD, e.g. input=1x3x224x224")
        shapes[name] = shape
    return shapes


def check_outputs(config: BenchConfig, model_files) -> None:
    """Refuse, before any work, outputs that would clobber a file (without --force), a model,
    each other, or that cannot be written."""
    models = {os.path.realpath(p) for p in model_files}
    seen = {}
    for flag, path in (("--json", config.json_path), ("--csv", config.csv_path), ("--plot", config.plot_path)):
        if path is None:
            continue
        real = os.path.realpath(path)
        if real in models:
            raise BenchError(f"{flag} {path} would overwrite a model being benchmarked")
        if real in seen:
            raise BenchError(f"{flag} and {seen[real]} name the same file {path}")
        seen[real] = flag
        if os.path.isdir(path):
            raise BenchError(f"{flag} {path} is a directory; give a file name")
        if os.path.exists(path) and not config.force:
            raise BenchError(f"{path} exists; pass --force to overwrite it")
        directory = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(directory):
            raise BenchError(f"{flag} {path}: directory {directory} does not exist")
    if config.plot_path and not config.plot_path.lower().endswith(PLOT_SUFFIXES):
        raise BenchError(f"--plot {config.plot_path}: the file name must end in {', '.join(PLOT_SUFFIXES)}")
