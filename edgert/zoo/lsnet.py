"""LSNet ("LSNet: See Large, Focus Small", CVPR 2025) image classifiers T, S and B in plain PyTorch.

The module tree, attribute names and therefore every state_dict key and shape equal the official
definition (model/lsnet.py in the LSNet repository, timm 0.5.4's SqueezeExcite), so the released
checkpoints load with strict key checking. Two differences, neither visible in the weights:
  - SKA runs as plain torch (unfold + weighted sum) instead of the official Triton GPU kernel, with
    the same math (see edgert.zoo.ska for the exact definition);
  - the attention bias table can be resized to another feature-map grid (bicubic, as the official
    fine-tuning loader does), so a 224x224 checkpoint can be exported for other input sizes.

Blocks, per stage: even depth index -> RepVGG-style depthwise 3x3 mixer + squeeze-excite; odd ->
LSConv (stages 1-3) or multi-head attention with a learned relative-position bias (stage 4).
Each block ends with a residual 1x1 FFN. `edgert.zoo.reparameterize` folds BatchNorm into convs and
the RepVGG branches into one depthwise conv; the `emit` methods describe the folded model to
edgert's ONNX writer (edgert.zoo.convert).

Input: RGB, scaled to [0, 1], normalised with the ImageNet mean/std (timm's defaults), NCHW.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from edgert.zoo.reparam import bn_scale_shift, fuse_conv_bn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# embed_dim / depth / num_heads per stage, exactly as the official lsnet_t / lsnet_s / lsnet_b.
VARIANTS = {
    "lsnet_t": dict(embed_dim=[64, 128, 256, 384], depth=[0, 2, 8, 10], num_heads=[3, 3, 3, 4]),
    "lsnet_s": dict(embed_dim=[96, 192, 320, 448], depth=[1, 2, 8, 10], num_heads=[3, 3, 3, 4]),
    "lsnet_b": dict(embed_dim=[128, 256, 384, 512], depth=[4, 6, 8, 10], num_heads=[3, 3, 3, 4]),
}
PATCH_SIZE = 8
# Every LSNet halves the resolution six times: three stride-2 convs in the stem, one per downsampling.
TOTAL_HALVINGS = 6


def halve(size: int, times: int = 1) -> int:
    """Output side of `times` stride-2, pad-1, 3x3 convs."""
    for _ in range(times):
        size = (size - 1) // 2 + 1
    return size


class ConvBN(nn.Sequential):
    """Conv2d without bias followed by BatchNorm2d (official Conv2d_BN: keys c.*, bn.*)."""

    def __init__(self, in_ch, out_ch, ks=1, stride=1, pad=0, dilation=1, groups=1, bn_weight_init=1.0):
        super().__init__()
        self.add_module("c", nn.Conv2d(in_ch, out_ch, ks, stride, pad, dilation, groups, bias=False))
        self.add_module("bn", nn.BatchNorm2d(out_ch))
        nn.init.constant_(self.bn.weight, bn_weight_init)
        nn.init.constant_(self.bn.bias, 0)

    def fuse(self) -> nn.Conv2d:
        return fuse_conv_bn(self.c, self.bn)


class BNLinear(nn.Sequential):
    """BatchNorm1d followed by Linear (official BN_Linear: keys bn.*, l.*), the classifier head."""

    def __init__(self, in_features, out_features, bias=True, std=0.02):
        super().__init__()
        self.add_module("bn", nn.BatchNorm1d(in_features))
        self.add_module("l", nn.Linear(in_features, out_features, bias=bias))
        nn.init.trunc_normal_(self.l.weight, std=std)
        if bias:
            nn.init.constant_(self.l.bias, 0)

    @torch.no_grad()
    def fuse(self) -> nn.Linear:
        scale, shift = bn_scale_shift(self.bn)
        fused = nn.Linear(self.l.in_features, self.l.out_features)
        fused.weight.copy_(self.l.weight * scale[None, :])
        bias = self.l.weight @ shift
        fused.bias.copy_(bias if self.l.bias is None else bias + self.l.bias)
        return fused


class Residual(nn.Module):
    """x + m(x); during training the branch is dropped per sample with probability `drop`."""

    def __init__(self, m: nn.Module, drop: float = 0.0):
        super().__init__()
        self.m = m
        self.drop = drop

    def forward(self, x):
        if self.training and self.drop > 0:
            keep = torch.rand(x.size(0), 1, 1, 1, device=x.device).ge_(self.drop).div(1 - self.drop)
            return x + self.m(x) * keep.detach()
        return x + self.m(x)

    def emit(self, g, x):
        return g.add(x, g.emit(self.m, x))


class FFN(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.pw1 = ConvBN(dim, hidden)
        self.act = nn.ReLU()
        self.pw2 = ConvBN(hidden, dim, bn_weight_init=0)

    def forward(self, x):
        return self.pw2(self.act(self.pw1(x)))

    def emit(self, g, x):
        return g.emit(self.pw2, g.emit(self.act, g.emit(self.pw1, x)))


class SqueezeExcite(nn.Module):
    """timm's SEModule as LSNet builds it (rd_ratio 0.25, divisor 8): keys fc1.*, fc2.*."""

    def __init__(self, channels, rd_ratio=0.25, rd_divisor=8):
        super().__init__()
        rd_channels = _make_divisible(channels * rd_ratio, rd_divisor)
        self.fc1 = nn.Conv2d(channels, rd_channels, kernel_size=1, bias=True)
        self.bn = nn.Identity()
        self.act = nn.ReLU()
        self.fc2 = nn.Conv2d(rd_channels, channels, kernel_size=1, bias=True)
        self.gate = nn.Sigmoid()

    def forward(self, x):
        s = self.fc2(self.act(self.bn(self.fc1(x.mean((2, 3), keepdim=True)))))
        return x * self.gate(s)

    def emit(self, g, x):
        s = g.global_average_pool(x)
        for layer in (self.fc1, self.bn, self.act, self.fc2, self.gate):
            s = g.emit(layer, s)
        return g.mul(x, s)


def _make_divisible(value, divisor):
    # timm's make_divisible with round_limit=0: nearest multiple of divisor, at least divisor.
    return max(divisor, int(value + divisor / 2) // divisor * divisor)


def _relative_bias_index(height: int, width: int) -> torch.Tensor:
    """[H*W, H*W] index into a bias table over offsets (|dy|, |dx|), stored row-major as dy*W + dx.

    For a square grid this is the official table: offsets are numbered in first-seen order while
    every point is compared with point (0, 0) first, which is exactly row-major order."""
    ys, xs = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    ys, xs = ys.reshape(-1), xs.reshape(-1)
    return (ys[:, None] - ys[None, :]).abs() * width + (xs[:, None] - xs[None, :]).abs()


class Attention(nn.Module):
    """Multi-head attention over the stage-4 grid with a learned bias per head and relative offset."""

    def __init__(self, dim, key_dim, num_heads=8, attn_ratio=4, resolution=14):
        super().__init__()
        self.num_heads = num_heads
        self.scale = key_dim ** -0.5
        self.key_dim = key_dim
        self.nh_kd = key_dim * num_heads
        self.d = int(attn_ratio * key_dim)
        self.dh = self.d * num_heads
        self.attn_ratio = attn_ratio
        self.qkv = ConvBN(dim, self.dh + self.nh_kd * 2, ks=1)
        self.proj = nn.Sequential(nn.ReLU(), ConvBN(self.dh, dim, bn_weight_init=0))
        self.dw = ConvBN(self.nh_kd, self.nh_kd, 3, 1, 1, groups=self.nh_kd)
        self.grid = (resolution, resolution)
        self.attention_biases = nn.Parameter(torch.zeros(num_heads, resolution * resolution))
        self.register_buffer("attention_bias_idxs", _relative_bias_index(resolution, resolution))

    @torch.no_grad()
    def resize_grid(self, height: int, width: int) -> None:
        """Re-tabulate the position bias for an H x W feature map: the [heads, dy, dx] table is
        resized bicubically (as the official loader does for a new resolution) when the grid changes."""
        if (height, width) == self.grid:
            return
        table = self.attention_biases.reshape(1, self.num_heads, *self.grid)
        table = F.interpolate(table, size=(height, width), mode="bicubic", align_corners=False)
        self.attention_biases = nn.Parameter(table.reshape(self.num_heads, height * width))
        self.attention_bias_idxs = _relative_bias_index(height, width).to(self.attention_bias_idxs.device)
        self.grid = (height, width)

    def position_bias(self, height: int, width: int) -> torch.Tensor:
        """[heads, H*W, H*W] bias added to the attention logits."""
        if (height, width) != self.grid:
            raise ValueError(f"attention bias is tabulated for a {self.grid[0]}x{self.grid[1]} grid, the "
                             f"feature map is {height}x{width}: call resize_grid({height}, {width}) first")
        return self.attention_biases[:, self.attention_bias_idxs]

    def forward(self, x):
        b, _, h, w = x.shape
        n = h * w
        q, k, v = self.qkv(x).split([self.nh_kd, self.nh_kd, self.dh], dim=1)
        q = self.dw(q)
        q, k, v = (t.reshape(b, self.num_heads, -1, n) for t in (q, k, v))
        attn = (q.transpose(-2, -1) @ k) * self.scale + self.position_bias(h, w)
        attn = attn.softmax(dim=-1)
        return self.proj((v @ attn.transpose(-2, -1)).reshape(b, -1, h, w))

    def emit(self, g, x):
        _, _, h, w = x.t.shape
        n = h * w
        q, k, v = g.split(g.emit(self.qkv, x), [self.nh_kd, self.nh_kd, self.dh], axis=1)
        q = g.emit(self.dw, q)
        q, k, v = (g.reshape(t, [0, self.num_heads, -1, n]) for t in (q, k, v))
        logits = g.matmul(g.transpose(q, [0, 1, 3, 2]), k)
        logits = g.mul(logits, g.tensor(self.scale, "scale"))
        logits = g.add(logits, g.tensor(self.position_bias(h, w), "position_bias"))
        attn = g.softmax(logits, axis=-1)
        out = g.reshape(g.matmul(v, g.transpose(attn, [0, 1, 3, 2])), [0, self.dh, h, w])
        return g.emit(self.proj, out)


class RepVGGDW(nn.Module):
    """Depthwise 3x3 + depthwise 1x1 + identity, folded into one depthwise 3x3 for inference."""

    def __init__(self, dim):
        super().__init__()
        self.conv = ConvBN(dim, dim, 3, 1, 1, groups=dim)
        self.conv1 = ConvBN(dim, dim, 1, 1, 0, groups=dim)
        self.dim = dim

    def forward(self, x):
        return self.conv(x) + self.conv1(x) + x

    @torch.no_grad()
    def fuse(self) -> nn.Conv2d:
        conv = self.conv.fuse()
        conv1 = self.conv1.fuse()
        center = F.pad(conv1.weight, [1, 1, 1, 1])
        identity = F.pad(torch.ones_like(conv1.weight), [1, 1, 1, 1])
        conv.weight.copy_(conv.weight + center + identity)
        conv.bias.copy_(conv.bias + conv1.bias)
        return conv


def ska(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Small-kernel aggregation: x [N, C, H, W], w [N, Cw, k*k, H, W] -> [N, C, H, W].

    out[n, c] = sum over taps t of unfold(x)[n, c, t] * w[n, c % Cw, t], the official kernel's math."""
    n, c, h, width = x.shape
    groups, taps = w.shape[1], w.shape[2]
    k = math.isqrt(taps)
    cols = F.unfold(x, k, padding=(k - 1) // 2).reshape(n, c // groups, groups, taps, h, width)
    return (cols * w.reshape(n, 1, groups, taps, h, width)).sum(dim=3).reshape(n, c, h, width)


class SKA(nn.Module):
    def forward(self, x, w):
        return ska(x, w)


class LKP(nn.Module):
    """Large-kernel perception: pw -> dw 7x7 -> pw -> per-pixel k x k kernels (GroupNorm per kernel)."""

    def __init__(self, dim, lks, sks, groups):
        super().__init__()
        self.cv1 = ConvBN(dim, dim // 2)
        self.act = nn.ReLU()
        self.cv2 = ConvBN(dim // 2, dim // 2, ks=lks, pad=(lks - 1) // 2, groups=dim // 2)
        self.cv3 = ConvBN(dim // 2, dim // 2)
        self.cv4 = nn.Conv2d(dim // 2, sks ** 2 * dim // groups, kernel_size=1)
        self.norm = nn.GroupNorm(num_groups=dim // groups, num_channels=sks ** 2 * dim // groups)
        self.sks = sks
        self.groups = groups
        self.dim = dim

    def forward(self, x):
        x = self.act(self.cv3(self.cv2(self.act(self.cv1(x)))))
        w = self.norm(self.cv4(x))
        b, _, h, width = w.size()
        return w.view(b, self.dim // self.groups, self.sks ** 2, h, width)

    def emit(self, g, x):
        """The kernels as SKA's 4-D W input [N, Cw*k*k, H, W] (the 5-D view merged back)."""
        for layer in (self.cv1, self.act, self.cv2, self.cv3, self.act, self.cv4, self.norm):
            x = g.emit(layer, x)
        return x


class LSConv(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.lkp = LKP(dim, lks=7, sks=3, groups=8)
        self.ska = SKA()
        self.bn = nn.BatchNorm2d(dim)

    def forward(self, x):
        return self.bn(self.ska(x, self.lkp(x))) + x

    def emit(self, g, x):
        y = g.ska(x, g.emit(self.lkp, x), kernel_size=self.lkp.sks)
        return g.add(g.emit(self.bn, y), x)


class Block(nn.Module):
    def __init__(self, ed, kd, nh=8, ar=4, resolution=14, stage=-1, depth=-1):
        super().__init__()
        if depth % 2 == 0:
            self.mixer = RepVGGDW(ed)
            self.se = SqueezeExcite(ed, 0.25)
        else:
            self.se = nn.Identity()
            if stage == 3:
                self.mixer = Residual(Attention(ed, kd, nh, ar, resolution=resolution))
            else:
                self.mixer = LSConv(ed)
        self.ffn = Residual(FFN(ed, int(ed * 2)))

    def forward(self, x):
        return self.ffn(self.se(self.mixer(x)))

    def emit(self, g, x):
        return g.emit(self.ffn, g.emit(self.se, g.emit(self.mixer, x)))


class LSNet(nn.Module):
    def __init__(self, img_size=224, patch_size=16, in_chans=3, num_classes=1000,
                 embed_dim=(64, 128, 192, 256), key_dim=(16, 16, 16, 16), depth=(1, 2, 3, 4),
                 num_heads=(4, 4, 4, 4), distillation=False):
        super().__init__()
        e0 = embed_dim[0]
        self.patch_embed = nn.Sequential(
            ConvBN(in_chans, e0 // 4, 3, 2, 1), nn.ReLU(),
            ConvBN(e0 // 4, e0 // 2, 3, 2, 1), nn.ReLU(),
            ConvBN(e0 // 2, e0, 3, 2, 1))
        resolution = img_size // patch_size
        attn_ratio = [embed_dim[i] / (key_dim[i] * num_heads[i]) for i in range(len(embed_dim))]
        self.blocks1 = nn.Sequential()
        self.blocks2 = nn.Sequential()
        self.blocks3 = nn.Sequential()
        self.blocks4 = nn.Sequential()
        stages = [self.blocks1, self.blocks2, self.blocks3, self.blocks4]
        for i, (ed, kd, dpth, nh, ar) in enumerate(zip(embed_dim, key_dim, depth, num_heads, attn_ratio)):
            for d in range(dpth):
                stages[i].append(Block(ed, kd, nh, ar, resolution, stage=i, depth=d))
            if i != len(depth) - 1:  # downsampling opens the next stage: dw 3x3 stride 2, then pw
                stages[i + 1].append(ConvBN(ed, ed, ks=3, stride=2, pad=1, groups=ed))
                stages[i + 1].append(ConvBN(ed, embed_dim[i + 1], ks=1, stride=1, pad=0))
                resolution = (resolution - 1) // 2 + 1
        self.head = BNLinear(embed_dim[-1], num_classes) if num_classes > 0 else nn.Identity()
        self.distillation = distillation
        if distillation:
            self.head_dist = BNLinear(embed_dim[-1], num_classes) if num_classes > 0 else nn.Identity()
        self.num_classes = num_classes
        self.num_features = embed_dim[-1]

    def attention_modules(self) -> list[Attention]:
        return [m for m in self.modules() if isinstance(m, Attention)]

    def set_input_size(self, height: int, width: int) -> None:
        """Tabulate the stage-4 attention bias for this input size (see Attention.resize_grid)."""
        for attention in self.attention_modules():
            attention.resize_grid(halve(height, TOTAL_HALVINGS), halve(width, TOTAL_HALVINGS))

    def forward_features(self, x):
        x = self.patch_embed(x)
        for stage in (self.blocks1, self.blocks2, self.blocks3, self.blocks4):
            x = stage(x)
        return F.adaptive_avg_pool2d(x, 1).flatten(1)

    def forward(self, x):
        x = self.forward_features(x)
        if not self.distillation:
            return self.head(x)
        logits = self.head(x), self.head_dist(x)
        # The official model trains both heads and averages them for evaluation.
        return logits if self.training else (logits[0] + logits[1]) / 2

    def emit(self, g, x):
        for stage in (self.patch_embed, self.blocks1, self.blocks2, self.blocks3, self.blocks4):
            x = g.emit(stage, x)
        x = g.flatten(g.global_average_pool(x))
        if not self.distillation:
            return g.emit(self.head, x)
        if not (isinstance(self.head, nn.Linear) and isinstance(self.head_dist, nn.Linear)):
            raise TypeError("LSNet.emit needs the folded model: run edgert.zoo.reparameterize first")
        # Averaging two linear heads is one linear head with the averaged weights.
        return g.linear(x, (self.head.weight + self.head_dist.weight) / 2, (self.head.bias + self.head_dist.bias) / 2)


def lsnet(variant: str, num_classes: int = 1000, distillation: bool = False, img_size: int = 224) -> LSNet:
    """The official lsnet_t / lsnet_s / lsnet_b (random weights); img_size sets the attention grid."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown LSNet variant {variant!r}; expected one of {sorted(VARIANTS)}")
    return LSNet(img_size=img_size, patch_size=PATCH_SIZE, num_classes=num_classes, distillation=distillation,
                 **VARIANTS[variant])


def lsnet_t(**kwargs) -> LSNet:
    return lsnet("lsnet_t", **kwargs)


def lsnet_s(**kwargs) -> LSNet:
    return lsnet("lsnet_s", **kwargs)


def lsnet_b(**kwargs) -> LSNet:
    return lsnet("lsnet_b", **kwargs)
