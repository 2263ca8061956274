"""Window geometry shared by the reference ops and the native lowerings."""
from __future__ import annotations

from edgert.ir import Node


def conv_pads_2d(node: Node, in_hw, kernel, strides, dilations) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) for Conv and pools per auto_pad, as ONNX defines them."""
    auto_pad = node.attr("auto_pad", "NOTSET")
    if auto_pad in ("NOTSET", "", None):
        pads = list(node.attr("pads", [0, 0, 0, 0]))
        return pads[0], pads[1], pads[2], pads[3]
    if auto_pad == "VALID":
        return 0, 0, 0, 0
    result = []
    for i in range(2):
        extent = (kernel[i] - 1) * dilations[i] + 1
        out = -(-in_hw[i] // strides[i])
        total = max(0, (out - 1) * strides[i] + extent - in_hw[i])
        small, big = total // 2, total - total // 2
        result.append((small, big) if auto_pad == "SAME_UPPER" else (big, small))
    (t, b), (l, r) = result
    return t, l, b, r
