"""FemtoDet ("FemtoDet: An Object Detection Baseline for Energy Versus Performance Tradeoffs", ICCV 2023)
in plain PyTorch, as configs/femtoDet/femtodet_3stage.py of the official repository builds it:

  backbone  FemtoNet (MobileNetV2-style inverted residuals, widen factor 0.25, ReLU) whose depthwise
            convs are IBE convs (conv -> BN + BN(conv - sigmoid(theta) * centre-difference)); outputs
            of layers 3, 5 and 7 (strides 8, 16, 32)
  neck      SharedNeck: 1x1 conv per level, nearest resize to the stride-16 grid, sum, depthwise-
            separable 3x3 conv (64 channels)
  head      SharedDetHead: YOLOX-style single level (stride 16) without stacked convs: 1x1 convs for
            class logits, box deltas and objectness

Module attributes mirror mmcv/mmdet's (ConvModule: conv/bn/activate; DepthwiseSeparableConvModule:
depthwise_conv/pointwise_conv), so an mmdet checkpoint's keys (backbone.*, neck.*, bbox_head.*) and
shapes load unchanged. `edgert.zoo.reparameterize` folds every BN and the IBE difference branch
into single convs, as the official (commented) inference path of IBEConvModule does.

The exported graph ends at the raw head maps; decoding stays outside it:
  inputs   images [N, 3, H, W]: RGB, letterboxed to a square (pad value 114) by the test pipeline,
           normalised as (x/255 - MEAN) / STD with MEAN = (0.485, 0.456, 0.406), STD = 58.82/255
  outputs  cls_score [N, classes, H/16, W/16]  class logits
           bbox_pred [N, 4, H/16, W/16]        (dx, dy, log w, log h) in units of the stride
           objectness [N, 1, H/16, W/16]       objectness logit
  decode   for the cell at column i, row j (stride s = 16, prior offset 0):
           cx = (dx + i) * s, cy = (dy + j) * s, w = exp(log w) * s, h = exp(log h) * s;
           score = sigmoid(cls) * sigmoid(objectness) per class; the official test config keeps
           score >= 0.01 and applies per-class NMS with IoU 0.65.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from edgert.zoo.reparam import bn_scale_shift, fuse_conv_bn

STRIDE = 16
MEAN = (0.485, 0.456, 0.406)                 # the config's (123.675, 116.28, 103.53) / 255
STD = (58.82 / 255,) * 3
PAD_VALUE = 114
TEST_SIZE = (416, 416)
VOC_CLASSES = ("aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
               "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
               "train", "tvmonitor")
# FemtoNet's [expand ratio, channels, blocks, stride, groups of the projecting 1x1] per layer.
ARCH_SETTINGS = [[1, 16, 1, 1, 1], [4, 24, 2, 2, 1], [4, 32, 2, 2, 1], [4, 64, 3, 2, 1],
                 [4, 96, 2, 1, 1], [4, 160, 2, 2, 2], [4, 320, 1, 1, 2]]
OUT_INDICES = (2, 4, 6)
NECK_BASE_CHANNELS = (32, 96, 320)
HEAD_CHANNELS = 64


def make_divisible(value, divisor, min_value=None, min_ratio=0.9):
    """mmdet's channel rounding: nearest multiple of `divisor`, never below min_ratio * value."""
    min_value = divisor if min_value is None else min_value
    new_value = max(min_value, int(value + divisor / 2) // divisor * divisor)
    return new_value + divisor if new_value < min_ratio * value else new_value


class ConvModule(nn.Module):
    """mmcv's ConvModule with BN: conv (no bias) -> bn -> optional ReLU (`activate`)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, groups=1, act=True):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)
        self.activate = nn.ReLU() if act else None

    def forward(self, x):
        x = self.bn(self.conv(x))
        return self.activate(x) if self.activate is not None else x

    def fuse(self) -> nn.Module:
        conv = fuse_conv_bn(self.conv, self.bn)
        return nn.Sequential(conv, nn.ReLU()) if self.activate is not None else conv


class DepthwiseSeparableConvModule(nn.Module):
    """mmcv's depthwise-separable conv: depthwise ConvModule then pointwise ConvModule, both BN + ReLU."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0):
        super().__init__()
        self.depthwise_conv = ConvModule(in_channels, in_channels, kernel_size, stride, padding, groups=in_channels)
        self.pointwise_conv = ConvModule(in_channels, out_channels, 1)

    def forward(self, x):
        return self.pointwise_conv(self.depthwise_conv(x))

    def fuse(self) -> nn.Module:
        return nn.Sequential(self.depthwise_conv.fuse(), self.pointwise_conv.fuse())


class IBEConv(nn.Module):
    """FemtoDet's IBE (instance boundary enhancement) conv, official IBEConvModule:
    relu(bn(conv(x)) + bn2(conv(x) - sigmoid(theta) * conv1x1(x, sum of each kernel)))."""

    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, padding=1, groups=1):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.act = nn.ReLU()
        self.theta = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        out = self.conv(x)
        kernel_sum = self.conv.weight.sum(dim=(2, 3), keepdim=True)
        out_diff = F.conv2d(x, kernel_sum, stride=self.conv.stride, padding=0, groups=self.conv.groups)
        return self.act(self.bn(out) + self.bn2(out - torch.sigmoid(self.theta) * out_diff))

    @torch.no_grad()
    def fuse(self) -> nn.Module:
        k, pad = self.conv.kernel_size, self.conv.padding
        if k[0] != k[1] or k[0] % 2 == 0 or pad != (k[0] // 2, k[1] // 2):
            raise ValueError(f"IBE re-parameterisation needs an odd square kernel with 'same' padding, got "
                             f"kernel {k} padding {pad}")
        # The 1x1 difference conv (no padding, same stride) samples the kernel's centre tap, so it
        # folds into the kernel's centre: conv(x) - theta*diff(x) = conv'(x) with that tap reduced.
        weight = self.conv.weight
        centre = torch.zeros_like(weight)
        centre[:, :, k[0] // 2, k[1] // 2] = weight.sum(dim=(2, 3))
        weight_diff = weight - torch.sigmoid(self.theta) * centre
        s1, b1 = bn_scale_shift(self.bn)
        s2, b2 = bn_scale_shift(self.bn2)
        fused = nn.Conv2d(self.conv.in_channels, self.conv.out_channels, k, self.conv.stride, pad,
                          groups=self.conv.groups, bias=True)
        fused.weight.copy_(weight * s1[:, None, None, None] + weight_diff * s2[:, None, None, None])
        fused.bias.copy_(b1 + b2)
        return nn.Sequential(fused, nn.ReLU())


class InvertedResidual(nn.Module):
    """MobileNetV2 block: [1x1 expand] -> IBE depthwise 3x3 -> 1x1 project (grouped), residual if shapes allow."""

    def __init__(self, in_channels, out_channels, stride, expand_ratio, groups=1):
        super().__init__()
        self.stride = stride
        self.use_res_connect = stride == 1 and in_channels == out_channels
        hidden = int(round(in_channels * expand_ratio))
        layers = []
        if expand_ratio != 1:
            layers.append(ConvModule(in_channels, hidden, 1))
        layers.append(IBEConv(hidden, hidden, 3, stride=stride, padding=1, groups=hidden))
        layers.append(ConvModule(hidden, out_channels, 1, groups=groups, act=False))
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_res_connect else self.conv(x)

    def emit(self, g, x):
        y = g.emit(self.conv, x)
        return g.add(x, y) if self.use_res_connect else y


class FemtoNet(nn.Module):
    def __init__(self, widen_factor=0.25, out_indices=OUT_INDICES):
        super().__init__()
        self.out_indices = tuple(out_indices)
        channels = make_divisible(32 * widen_factor, 8)
        self.conv1 = ConvModule(3, channels, 3, stride=2, padding=1)
        self.layers = []
        for i, (expand, width, blocks, stride, groups) in enumerate(ARCH_SETTINGS):
            out_channels = make_divisible(width * widen_factor, 8)
            layer = []
            for b in range(blocks):
                layer.append(InvertedResidual(channels, out_channels, stride if b == 0 else 1, expand, groups))
                channels = out_channels
            self.add_module(f"layer{i + 1}", nn.Sequential(*layer))
            self.layers.append(f"layer{i + 1}")

    def forward(self, x):
        x = self.conv1(x)
        outs = []
        for i, name in enumerate(self.layers):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def emit(self, g, x):
        x = g.emit(self.conv1, x)
        outs = []
        for i, name in enumerate(self.layers[:max(self.out_indices) + 1]):
            x = g.emit(getattr(self, name), x)
            if i in self.out_indices:
                outs.append(x)
        return outs


class SharedNeck(nn.Module):
    """Laterals to a common width, nearest-resized to level `fixed_size_idx`, summed, then one
    depthwise-separable conv (the config's num_outs=1, add=True form)."""

    def __init__(self, in_channels, out_channels=HEAD_CHANNELS, fixed_size_idx=1):
        super().__init__()
        self.in_channels = list(in_channels)
        self.fixed_size_idx = fixed_size_idx
        self.lateral_convs = nn.ModuleList(ConvModule(c, out_channels, 1) for c in in_channels)
        self.stacked_convs = DepthwiseSeparableConvModule(out_channels, out_channels, 3, padding=1)

    def forward(self, inputs):
        laterals = [conv(x) for conv, x in zip(self.lateral_convs, inputs)]
        size = laterals[self.fixed_size_idx].shape[-2:]
        laterals = [F.interpolate(x, size) for x in laterals]
        return (self.stacked_convs(torch.stack(laterals, 1).sum(1)),)

    def emit(self, g, inputs):
        laterals = [g.emit(conv, x) for conv, x in zip(self.lateral_convs, inputs)]
        size = tuple(laterals[self.fixed_size_idx].t.shape[-2:])
        laterals = [x if tuple(x.t.shape[-2:]) == size else g.resize_nearest(x, size) for x in laterals]
        return [g.emit(self.stacked_convs, g.sum(laterals))]


class SharedDetHead(nn.Module):
    """One level, no stacked convs: class, box and objectness 1x1 predictors on the neck output."""

    def __init__(self, num_classes, in_channels=HEAD_CHANNELS):
        super().__init__()
        self.num_classes = num_classes
        self.multi_level_cls_convs = nn.ModuleList([nn.Sequential()])
        self.multi_level_reg_convs = nn.ModuleList([nn.Sequential()])
        self.multi_level_conv_cls = nn.ModuleList([nn.Conv2d(in_channels, num_classes, 1)])
        self.multi_level_conv_reg = nn.ModuleList([nn.Conv2d(in_channels, 4, 1)])
        self.multi_level_conv_obj = nn.ModuleList([nn.Conv2d(in_channels, 1, 1)])

    def forward(self, feats):
        x = feats[0]
        cls_feat = self.multi_level_cls_convs[0](x)
        reg_feat = self.multi_level_reg_convs[0](x)
        return (self.multi_level_conv_cls[0](cls_feat), self.multi_level_conv_reg[0](reg_feat),
                self.multi_level_conv_obj[0](reg_feat))

    def emit(self, g, feats):
        x = feats[0]
        cls_feat = g.emit(self.multi_level_cls_convs[0], x)
        reg_feat = g.emit(self.multi_level_reg_convs[0], x)
        return (g.emit(self.multi_level_conv_cls[0], cls_feat), g.emit(self.multi_level_conv_reg[0], reg_feat),
                g.emit(self.multi_level_conv_obj[0], reg_feat))


class FemtoDet(nn.Module):
    """backbone -> neck -> bbox_head; forward returns (cls_score, bbox_pred, objectness) maps."""

    OUTPUT_NAMES = ("cls_score", "bbox_pred", "objectness")

    def __init__(self, num_classes=len(VOC_CLASSES), widen_factor=0.25):
        super().__init__()
        self.num_classes = num_classes
        self.widen_factor = widen_factor
        self.backbone = FemtoNet(widen_factor)
        self.neck = SharedNeck([int(c * widen_factor) for c in NECK_BASE_CHANNELS], HEAD_CHANNELS)
        self.bbox_head = SharedDetHead(num_classes, HEAD_CHANNELS)

    def forward(self, x):
        return self.bbox_head(self.neck(self.backbone(x)))

    def emit(self, g, x):
        return g.emit(self.bbox_head, g.emit(self.neck, g.emit(self.backbone, x)))


def femtodet(num_classes: int = len(VOC_CLASSES), widen_factor: float = 0.25) -> FemtoDet:
    """FemtoDet as femtodet_3stage.py configures it (random weights); widen_factor 1.0 is the large COCO model."""
    return FemtoDet(num_classes, widen_factor)
