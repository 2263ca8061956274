"""SKA (small-kernel aggregation), LSNet's per-pixel dynamic convolution, as an operator of edgert's
own `ai.edgert` domain (the one operator of that domain a model file may contain; the others are
the fused operators edgert's passes create). The specification is in edgert/zoo/ska.py.
"""
from __future__ import annotations

import numpy as np

from edgert.ops.reference import ref

DOMAIN = "ai.edgert"
OP_TYPE = "SKA"
OPSET_VERSION = 1


def ska_reference(x: np.ndarray, w: np.ndarray, kernel_size: int = 3) -> np.ndarray:
    """SKA on numpy arrays: x [N, C, H, W], w [N, Cw*k*k, H, W] (or the official [N, Cw, k*k, H, W])."""
    x = np.asarray(x)
    w = np.asarray(w)
    k = int(kernel_size)
    if x.ndim != 4:
        raise ValueError(f"SKA: X must be [N, C, H, W], got shape {x.shape}")
    if k < 1 or k % 2 == 0:
        raise ValueError(f"SKA: kernel_size must be a positive odd number, got {k}")
    n, c, h, width = x.shape
    if w.ndim == 5:
        w = w.reshape(w.shape[0], -1, *w.shape[3:])
    if w.ndim != 4 or w.shape[0] != n or w.shape[2:] != (h, width) or w.shape[1] % (k * k):
        raise ValueError(f"SKA: W must be [N, Cw*{k * k}, H, W] matching X {x.shape}, got {w.shape}")
    groups = w.shape[1] // (k * k)
    if groups == 0 or c % groups:
        raise ValueError(f"SKA: X has {c} channels, not a multiple of W's {groups} weight groups")
    p = (k - 1) // 2
    padded = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    # [N, C/Cw, Cw, H+2p, W+2p]: channel c = r*Cw + g uses weight group g.
    padded = padded.reshape(n, c // groups, groups, h + 2 * p, width + 2 * p)
    kernels = w.reshape(n, 1, groups, k * k, h, width)
    out = np.zeros((n, c // groups, groups, h, width), dtype=np.result_type(x, w))
    for i in range(k):
        for j in range(k):
            out += padded[..., i:i + h, j:j + width] * kernels[:, :, :, i * k + j]
    return out.reshape(n, c, h, width)


@ref(OP_TYPE, domain=DOMAIN)
def _ska(node, inputs, opset):
    x, w = inputs
    if x.dtype != np.float32 or w.dtype != np.float32:
        raise ValueError(f"SKA: X and W must be float32, got {x.dtype} and {w.dtype}")
    return [ska_reference(x, w, node.attr("kernel_size", 3))]
