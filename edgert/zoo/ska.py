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

from edgert.ops.ska import DOMAIN, OP_TYPE, OPSET_VERSION, ska_reference

__all__ = ["DOMAIN", "OP_TYPE", "OPSET_VERSION", "ska_reference"]
