"""HorNet's recursive gated convolution (gnConv, "HorNet: Efficient High-Order Spatial Interactions
with Recursive Gated Convolutions", NeurIPS 2022) in plain PyTorch.

Attribute names and therefore state_dict keys equal the official `gnconv` (hornet.py in the HorNet
repository) with its default depthwise 7x7 mixer: proj_in, dwconv, pws.{i}, proj_out. Order n splits
the channels into widths dim/2^(n-1), ..., dim/2, dim; the gates are applied from the narrowest:

    pwa, abc = split(proj_in(x), [d0, sum(d)]);  dw = split(dwconv(abc) * s, d)
    y = pwa * dw[0];  for i < n-1: y = pws[i](y) * dw[i+1];  return proj_out(y)

Exported with torch.onnx this is standard Conv, Split and Mul, all of which run on edgert's native
kernels (tests/test_zoo.py checks orders 2-5 against PyTorch on edgert and onnxruntime).
"""
from __future__ import annotations

import torch
from torch import nn


class GnConv(nn.Module):
    def __init__(self, dim: int, order: int = 5, s: float = 1.0):
        super().__init__()
        if order < 1 or dim % 2 ** (order - 1):
            raise ValueError(f"gnConv: dim {dim} must be divisible by 2^(order-1) = {2 ** (order - 1)}")
        self.order = order
        self.dims = [dim // 2 ** i for i in range(order)][::-1]
        self.proj_in = nn.Conv2d(dim, 2 * dim, 1)
        self.dwconv = nn.Conv2d(sum(self.dims), sum(self.dims), 7, padding=3, groups=sum(self.dims))
        self.proj_out = nn.Conv2d(dim, dim, 1)
        self.pws = nn.ModuleList([nn.Conv2d(self.dims[i], self.dims[i + 1], 1) for i in range(order - 1)])
        self.scale = s

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pwa, abc = torch.split(self.proj_in(x), (self.dims[0], sum(self.dims)), dim=1)
        gates = torch.split(self.dwconv(abc) * self.scale, self.dims, dim=1)
        y = pwa * gates[0]
        for pw, gate in zip(self.pws, gates[1:]):
            y = pw(y) * gate
        return self.proj_out(y)
