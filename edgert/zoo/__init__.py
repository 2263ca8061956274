"""Model definitions for official checkpoints (PyTorch) and their conversion to ONNX.

    edgert convert lsnet_t lsnet_t.pth -o lsnet_t.onnx
    edgert convert femtodet epoch_300.pth -o femtodet.onnx --input-size 416x416

The architectures (edgert.zoo.lsnet, edgert.zoo.femtodet) need torch, which only the `tools` extra
installs; importing this package does not import torch. edgert.zoo.ska holds the numpy definition of
LSNet's SKA operator, which edgert exports as a custom node.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ZooModel:
    name: str
    task: str                       # "classification" or "detection"
    input_size: tuple[int, int]     # (H, W) the official evaluation uses
    summary: str


MODELS = {
    "lsnet_t": ZooModel("lsnet_t", "classification", (224, 224), "LSNet-T, 11.4M params, ImageNet-1k"),
    "lsnet_s": ZooModel("lsnet_s", "classification", (224, 224), "LSNet-S, 16.1M params, ImageNet-1k"),
    "lsnet_b": ZooModel("lsnet_b", "classification", (224, 224), "LSNet-B, 23.2M params, ImageNet-1k"),
    "femtodet": ZooModel("femtodet", "detection", (416, 416), "FemtoDet (femtodet_3stage), 69K params, VOC"),
}


def reparameterize(model):
    """Inference copy of a zoo model with BatchNorm and parallel branches folded (needs torch)."""
    from edgert.zoo.reparam import reparameterize as fold

    return fold(model)


def convert(*args, **kwargs):
    """Official checkpoint -> ONNX file; see edgert.zoo.convert.convert (needs torch)."""
    from edgert.zoo.convert import convert as run

    return run(*args, **kwargs)


__all__ = ["MODELS", "ZooModel", "convert", "reparameterize"]
