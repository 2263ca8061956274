"""Re-parameterisation shared by the zoo models: training-time branches folded into plain convs.

Every model module that can be folded has a `fuse()` method returning its inference-time
replacement; `reparameterize` applies them recursively the way the official LSNet code's
`replace_batchnorm` does, on a copy so the trainable model stays intact.
"""
from __future__ import annotations

import copy

import torch
from torch import nn


def bn_scale_shift(bn: nn.BatchNorm2d | nn.BatchNorm1d) -> tuple[torch.Tensor, torch.Tensor]:
    """(scale, shift) with bn(x) == x * scale + shift in eval mode."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return scale, bn.bias - bn.running_mean * scale


@torch.no_grad()
def fuse_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """One Conv2d (with bias) computing bn(conv(x))."""
    scale, shift = bn_scale_shift(bn)
    fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                      conv.dilation, conv.groups, bias=True, padding_mode=conv.padding_mode)
    fused.weight.copy_(conv.weight * scale[:, None, None, None])
    bias = shift if conv.bias is None else conv.bias * scale + shift
    fused.bias.copy_(bias)
    return fused


def _replace_fusable(module: nn.Module) -> None:
    for name, child in module.named_children():
        if hasattr(child, "fuse"):
            child = child.fuse()
            setattr(module, name, child)
        _replace_fusable(child)


@torch.no_grad()
def reparameterize(model: nn.Module) -> nn.Module:
    """An eval-mode copy of `model` with every fusable block folded (BN into convs, parallel branches
    into one kernel). Outputs equal the original's eval-mode outputs up to float rounding."""
    fused = copy.deepcopy(model).eval()
    if hasattr(fused, "fuse"):
        fused = fused.fuse()
    _replace_fusable(fused)
    return fused.eval()
