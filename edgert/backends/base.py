"""What every backend's Session shares: model I/O description and feed validation."""
from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np

from edgert.errors import InputError
from edgert.ir import TensorInfo


def default_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def resolve_threads(threads) -> int:
    if threads is None:
        return default_threads()
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise InputError(f"threads must be a positive integer or None, got {threads!r}")
    return int(threads)


class SessionBase:
    """Subclasses set self._inputs / self._outputs (lists of TensorInfo) and implement _run."""

    backend = "?"
    _inputs: list[TensorInfo]
    _outputs: list[TensorInfo]

    @property
    def inputs(self) -> list[TensorInfo]:
        return list(self._inputs)

    @property
    def outputs(self) -> list[TensorInfo]:
        return list(self._outputs)

    def check_feeds(self, feeds) -> list[np.ndarray]:
        """Feeds in model-input order, or InputError saying exactly what is wrong."""
        if not isinstance(feeds, Mapping):
            raise InputError(f"run() takes a dict of input name -> array, got {type(feeds).__name__}")
        expected = [t.name for t in self._inputs]
        extra = [k for k in feeds if k not in expected]
        missing = [k for k in expected if k not in feeds]
        if extra or missing:
            parts = []
            if missing:
                parts.append(f"missing {missing}")
            if extra:
                parts.append(f"unknown {extra}")
            raise InputError(f"input names: {', '.join(parts)}; the model takes {expected}")
        arrays = []
        for info in self._inputs:
            value = feeds[info.name]
            array = value if isinstance(value, np.ndarray) else np.asarray(value)
            if array.dtype != info.dtype:
                raise InputError(f"input '{info.name}': expected dtype {info.dtype}, got {array.dtype}")
            if info.shape is not None:
                if array.ndim != len(info.shape):
                    raise InputError(f"input '{info.name}': expected rank {len(info.shape)} {_fmt(info.shape)}, got shape {array.shape}")
                for axis, (want, got) in enumerate(zip(info.shape, array.shape)):
                    if isinstance(want, int) and want > 0 and want != got:
                        raise InputError(f"input '{info.name}': dim {axis} must be {want} {_fmt(info.shape)}, got shape {array.shape}")
            arrays.append(array)
        return arrays

    def run(self, feeds) -> dict[str, np.ndarray]:
        return self._run(self.check_feeds(feeds))

    def _run(self, arrays: list[np.ndarray]) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def __repr__(self) -> str:
        ins = ", ".join(f"{t.name}{_fmt(t.shape)}" for t in self._inputs)
        return f"<{type(self).__name__} backend={self.backend} inputs=[{ins}]>"


def _fmt(shape) -> str:
    if shape is None:
        return "[?]"
    return "[" + "x".join(str(d) if d not in (None, "") else "?" for d in shape) + "]"
