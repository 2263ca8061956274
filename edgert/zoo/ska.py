"""SKA (small-kernel aggregation), the dynamic per-pixel convolution inside LSNet's LSConv.

LSNet's large-kernel perception branch predicts, for every pixel, a k x k kernel per weight
group; SKA applies those kernels to the input, every group of channels sharing one kernel.
`edgert convert` exports it as one node of edgert's own operator set:

    node    SKA, domain "ai.edgert", version 1
    inputs  X [N, C, H, W]            float32, the features to aggregate
            W [N, Cw * k * k, H, W]   float32, per-pixel kernels: channel g*k*k + i*k + j holds tap (i, j)
                                       of weight group g, i.e. the official [N, Cw, k*k, H, W] tensor
                                       with its two middle axes merged
    attr    kernel_size: int k (odd; LSNet uses 3)
    output  Y [N, C, H, W]            float32
    math    Y[n, c, y, x] = sum_{i,j < k} X[n, c, y + i - p, x + j - p] * W[n, (c % Cw)*k*k + i*k + j, y, x]
            with p = (k - 1) // 2 and X read as 0 outside the image. Channel c uses weight group
            c % Cw (groups interleave: with C = 8*Cw, channels g, g+Cw, g+2Cw, ... share kernel g).

This equals the official Triton kernel (`ska_fwd` in the LSNet repository: the weight offset is
(n*wc + c % wc)*ks*ks + kh*ks + kw). `ska_reference` below is the numpy specification that
native kernels and the reference operator table are checked against.
"""
from __future__ import annotations

import numpy as np

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
