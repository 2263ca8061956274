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


# The int8 SKA edgert's passes make of a QDQ-quantized portable SKA chain (edgert/passes/ska.py):
# never read from a file. It computes exactly what the chain computes, so results stay bit-identical
# to onnxruntime running the chain: per tap, QLinearMul's requantized product of the window and the
# tap (int8), dequantized; the taps summed in float32 in tap order; the sum quantized once.
QSKA_OP_TYPE = "QSKA"
# Per-tap attributes, each a list of k*k values in tap order (i*k + j).
# A tap's dequantization uses its requantization zero point (the pass fuses only chains where they agree).
QSKA_TAP_ATTRS = ("tap_mult", "tap_zero_point", "tap_qmin", "tap_qmax", "tap_dq_scale")


def qska_reference(x: np.ndarray, w: np.ndarray, attrs: dict) -> np.ndarray:
    """x int8 [N, C, H, W], w int8 [N, G*k*k, H, W]; attrs as the QSKA node carries them. Taps outside
    the image read the input zero point, as the chain pads: their product requantizes to the tap's zero
    point and adds +0.0 to the sum (which is why the kernels may skip them)."""
    k = int(attrs["kernel_size"])
    n, c, h, width = x.shape
    groups = w.shape[1] // (k * k)
    p = (k - 1) // 2
    xc = x.astype(np.int32) - int(attrs["x_zero_point"])
    wc = (w.astype(np.int32) - int(attrs["w_zero_point"])).reshape(n, 1, groups, k * k, h, width)
    xc = np.pad(xc, ((0, 0), (0, 0), (p, p), (p, p))).reshape(n, c // groups, groups, h + 2 * p, width + 2 * p)
    total = np.zeros((n, c // groups, groups, h, width), np.float32)
    mult, zp, qmin, qmax, dq_scale = (attrs[a] for a in QSKA_TAP_ATTRS)
    for i in range(k):
        for j in range(k):
            t = i * k + j
            product = (xc[..., i:i + h, j:j + width] * wc[:, :, :, t]).astype(np.float32) * np.float32(mult[t])
            lo, hi = np.float32(qmin[t] - zp[t]), np.float32(qmax[t] - zp[t])
            total += np.rint(np.clip(product, lo, hi)) * np.float32(dq_scale[t])  # rint: half to even
    q = np.rint(total / np.float32(attrs["y_scale"])) + np.float32(attrs["y_zero_point"])
    return np.clip(q, -128, 127).astype(np.int8).reshape(n, c, h, width)


@ref(QSKA_OP_TYPE, domain=DOMAIN)
def _qska(node, inputs, opset):
    x, w = inputs
    if x.dtype != np.int8 or w.dtype != np.int8:
        raise ValueError(f"QSKA: X and W must be int8, got {x.dtype} and {w.dtype}")
    return [qska_reference(x, w, node.attrs)]
