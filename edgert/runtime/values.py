"""What the planner knows about each tensor while it lowers a graph."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Physical layouts. Logical shapes are always ONNX's (NCHW); an "nhwc" value of logical
# shape (N, C, H, W) is stored as (N, H, W, C).
PLAIN, NHWC = "plain", "nhwc"
TO_NHWC = (0, 2, 3, 1)
TO_NCHW = (0, 3, 1, 2)


@dataclass(eq=False)
class Value:
    name: str
    shape: tuple
    dtype: np.dtype
    const: np.ndarray | None = None
    layout: str = PLAIN
    buffer: "Buffer | None" = None

    @property
    def physical_shape(self) -> tuple:
        if self.layout == NHWC:
            return tuple(self.shape[i] for i in TO_NHWC)
        return self.shape

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def is_const(self) -> bool:
        return self.const is not None

    @property
    def spatially_trivial(self) -> bool:
        """Rank-4 with H == W == 1: NCHW and NHWC bytes are identical."""
        return len(self.shape) == 4 and self.shape[2] == 1 and self.shape[3] == 1


@dataclass(eq=False)
class Buffer:
    """A region of the arena; several Values share one when a step only reinterprets memory."""

    nbytes: int
    first_use: int = -1
    last_use: int = -1
    offset: int = -1
    members: list = field(default_factory=list)

    def touch(self, step: int) -> None:
        if self.first_use < 0 or step < self.first_use:
            self.first_use = step
        self.last_use = max(self.last_use, step)


def physical_view(arena: np.ndarray, value: Value) -> np.ndarray:
    buf = value.buffer
    flat = arena[buf.offset: buf.offset + value.size * value.dtype.itemsize]
    return flat.view(value.dtype).reshape(value.physical_shape)


def logical(view: np.ndarray, value: Value) -> np.ndarray:
    """ONNX-order view of a physical buffer (zero-copy)."""
    return view.transpose(TO_NCHW) if value.layout == NHWC else view
