"""Seeded ONNX model generators for edgert's parity tests and benchmarks.

Everything here is built with onnx.helper and numpy (no torch), so the tests run anywhere onnx does.
Same arguments -> byte-identical model. Every model passes onnx.checker.check_model(full_check=True)
when it is built, so a malformed generator fails loudly instead of producing a meaningless parity test.

Models (input size, width multiplier, batch, seed, opset):
    mobilenet_v2, mobilenet_v3, resnet, exporter_cnn      whole networks
    all_ops_model                                         one chained graph using every claimed op
    OP_CASES / op_model                                   one small graph per operator variant
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

DEFAULT_OPSET = 17

# The fp32 operators edgert claims (DESIGN.md, "Tests you can trust"). The ONNX backend include list
# and the coverage tests are checked against this set.
CLAIMED_OPS = frozenset(
    """
    Conv ConvTranspose Gemm MatMul BatchNormalization Relu Clip Sigmoid HardSigmoid HardSwish PRelu
    LeakyRelu Tanh Gelu Add Sub Mul Div Sum Concat Split Slice Reshape Flatten Transpose Squeeze
    Unsqueeze MaxPool AveragePool GlobalAveragePool ReduceMean ReduceSum Resize Pad Softmax Identity
    Dropout InstanceNormalization GroupNormalization LayerNormalization
    Shape Gather Range Mod Constant ConstantOfShape Cast Expand
    """.split()
)  # the last line only where they fold to constants at load (shape arithmetic as exporters emit it)

Dims = Sequence["int | str"]


class GraphBuilder:
    """Collects nodes and initialisers; `model()` validates and returns the ModelProto."""

    def __init__(self, seed: int = 0, opset: int = DEFAULT_OPSET):
        self.rng = np.random.default_rng(seed)
        self.opset = opset
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.inputs: list[onnx.ValueInfoProto] = []
        self.value_info: list[onnx.ValueInfoProto] = []  # hints where onnx's own inference gives up
        self._counts: dict[str, int] = {}

    def _name(self, prefix: str) -> str:
        n = self._counts.get(prefix, 0)
        self._counts[prefix] = n + 1
        return f"{prefix}_{n}"

    def input(self, name: str, shape: Dims, elem_type: int = TensorProto.FLOAT) -> str:
        self.inputs.append(helper.make_tensor_value_info(name, elem_type, list(shape)))
        return name

    def const(self, value, dtype=np.float32, prefix: str = "c") -> str:
        name = self._name(prefix)
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def ints(self, values) -> str:
        return self.const(values, np.int64, "i")

    def constant_node(self, value, dtype=np.int64) -> str:
        """A Constant node (what torch.onnx emits for literals) instead of an initialiser."""
        return self.op("Constant", [], value=numpy_helper.from_array(np.asarray(value, dtype=dtype)))

    def weight(self, shape: Sequence[int], std: float) -> str:
        return self.const(self.rng.standard_normal(shape) * std, prefix="w")

    def uniform(self, shape: Sequence[int], lo: float, hi: float) -> str:
        return self.const(self.rng.uniform(lo, hi, shape), prefix="p")

    def shape(self, name: str) -> list:
        """Shape of a value by shape inference over the graph built so far (symbolic dims by name)."""
        vi = next((i for i in self.inputs if i.name == name), None)
        if vi is None:
            model = self.model([name], check=False)
            vi = onnx.shape_inference.infer_shapes(model, strict_mode=True, data_prop=True).graph.output[0]
        return [d.dim_value if d.HasField("dim_value") else d.dim_param for d in vi.type.tensor_type.shape.dim]

    def annotate(self, name: str, dims: Dims) -> str:
        self.value_info.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(dims)))
        return name

    def op(self, op_type: str, inputs: Sequence[str], outputs: int = 1, domain: str = "", **attrs):
        name = self._name(op_type.lower())
        outs = [f"{name}_y{i}" for i in range(outputs)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, name=name, domain=domain, **attrs))
        if op_type == "GroupNormalization":  # onnx has no shape inference for it; shape = input's
            self.annotate(outs[0], self.shape(inputs[0]))
        return outs[0] if outputs == 1 else outs

    def model(self, outputs: Sequence[str], name: str = "edgert_zoo", check: bool = True,
              exact_output_shapes: bool = True) -> onnx.ModelProto:
        """exact_output_shapes=False declares outputs by rank only, so the runtime has to work out
        the shape itself (and onnx's inference, wrong for e.g. ceil-mode pools whose last window
        starts in the padding, cannot mislead it)."""
        graph = helper.make_graph(self.nodes, name, self.inputs, [onnx.ValueInfoProto(name=o) for o in outputs],
                                  self.inits, value_info=self.value_info)
        model = helper.make_model_gen_version(
            graph, opset_imports=[helper.make_opsetid("", self.opset)], producer_name="edgert-tests"
        )
        if not check:
            return model
        # Strict inference fills the output types and shapes and rejects inconsistent graphs.
        model = onnx.shape_inference.infer_shapes(model, strict_mode=True, data_prop=True)
        hints = {vi.name: vi for vi in self.value_info}
        for out in model.graph.output:
            if not out.type.tensor_type.HasField("shape") and out.name in hints:
                out.type.CopyFrom(hints[out.name].type)
            if not exact_output_shapes:
                for dim in out.type.tensor_type.shape.dim:
                    dim.Clear()
        del model.graph.value_info[:]
        onnx.checker.check_model(model, full_check=True)
        return model


# ---------------------------------------------------------------------------------------------
# Layers, each written the way the opset in use spells it.


def _pair(v) -> list[int]:
    return list(v) if isinstance(v, (tuple, list)) else [v, v]


def make_divisible(v: float, divisor: int = 8) -> int:
    """torchvision's channel rounding, so width multipliers give the same widths as the real nets."""
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


def conv(g: GraphBuilder, x: str, cin: int, cout: int, k=3, stride=1, group=1, dilation=1,
         pads=None, bias=True, **attrs) -> str:
    kh, kw = _pair(k)
    dh, dw = _pair(dilation)
    # He init keeps activations O(1) through deep stacks, so a relative tolerance stays meaningful.
    w = g.weight((cout, cin // group, kh, kw), math.sqrt(2.0 / (cin // group * kh * kw)))
    ins = [x, w] + ([g.const(g.rng.normal(0, 0.1, cout))] if bias else [])
    if pads is None and "auto_pad" not in attrs:
        pads = [dh * (kh - 1) // 2, dw * (kw - 1) // 2] * 2
    if pads is not None:
        attrs["pads"] = pads
    return g.op("Conv", ins, kernel_shape=[kh, kw], strides=_pair(stride), dilations=[dh, dw],
                group=group, **attrs)


def batchnorm(g: GraphBuilder, x: str, c: int) -> str:
    return g.op("BatchNormalization", [x, g.uniform(c, 0.5, 1.5), g.const(g.rng.normal(0, 0.1, c)),
                                       g.const(g.rng.normal(0, 0.1, c)), g.uniform(c, 0.5, 1.5)],
                epsilon=1e-5)


def clip(g: GraphBuilder, x: str, lo: float | None, hi: float | None) -> str:
    if g.opset < 11:  # Clip-6: bounds are attributes
        attrs = {k: v for k, v in (("min", lo), ("max", hi)) if v is not None}
        return g.op("Clip", [x], **attrs)
    ins = [x, "" if lo is None else g.const(lo), "" if hi is None else g.const(hi)]
    while ins[-1] == "":
        ins.pop()
    return g.op("Clip", ins)


def relu6(g: GraphBuilder, x: str) -> str:
    return clip(g, x, 0.0, 6.0)


def hardsigmoid(g: GraphBuilder, x: str) -> str:
    return g.op("HardSigmoid", [x], alpha=1.0 / 6.0, beta=0.5)  # torch's constants


def hardswish(g: GraphBuilder, x: str) -> str:
    if g.opset < 14:  # HardSwish-14 does not exist yet; exporters emit x * HardSigmoid(x)
        return g.op("Mul", [x, hardsigmoid(g, x)])
    return g.op("HardSwish", [x])


def swish(g: GraphBuilder, x: str) -> str:
    return g.op("Mul", [x, g.op("Sigmoid", [x])])


def unsqueeze(g: GraphBuilder, x: str, axes: Sequence[int]) -> str:
    if g.opset < 13:
        return g.op("Unsqueeze", [x], axes=list(axes))
    return g.op("Unsqueeze", [x, g.ints(axes)])


def squeeze(g: GraphBuilder, x: str, axes: Sequence[int] | None) -> str:
    if axes is None:
        return g.op("Squeeze", [x])
    if g.opset < 13:
        return g.op("Squeeze", [x], axes=list(axes))
    return g.op("Squeeze", [x, g.ints(axes)])


def reduce(g: GraphBuilder, op_type: str, x: str, axes: Sequence[int] | None, keepdims=1, **attrs) -> str:
    axes_as_input = g.opset >= (18 if op_type == "ReduceMean" else 13)
    if axes is None:
        return g.op(op_type, [x], keepdims=keepdims, **attrs)
    if axes_as_input:
        return g.op(op_type, [x, g.ints(axes)], keepdims=keepdims, **attrs)
    return g.op(op_type, [x], axes=list(axes), keepdims=keepdims, **attrs)


def split(g: GraphBuilder, x: str, axis: int, sizes: Sequence[int]) -> list[str]:
    if g.opset < 13:
        return g.op("Split", [x], outputs=len(sizes), axis=axis, split=list(sizes))
    return g.op("Split", [x, g.ints(sizes)], outputs=len(sizes), axis=axis)


def dropout(g: GraphBuilder, x: str) -> str:
    if g.opset < 12:
        return g.op("Dropout", [x], ratio=0.25)
    return g.op("Dropout", [x, g.const(0.25)])


def pad(g: GraphBuilder, x: str, pads: Sequence[int], mode="constant", value: float | None = None) -> str:
    ins = [x, g.ints(pads)] + ([g.const(value)] if value is not None else [])
    return g.op("Pad", ins, mode=mode)


def resize(g: GraphBuilder, x: str, scales=None, sizes=None, **attrs) -> str:
    # Resize-11 requires roi and scales inputs even when unused; 13+ lets them be omitted.
    roi = g.const([], prefix="roi") if g.opset < 13 else ""
    if sizes is not None:
        empty_scales = g.const([], prefix="scales") if g.opset < 13 else ""
        return g.op("Resize", [x, roi, empty_scales, g.ints(sizes)], **attrs)
    return g.op("Resize", [x, roi, g.const(scales)], **attrs)


def gemm(g: GraphBuilder, x: str, cin: int, cout: int) -> str:
    """nn.Linear as torch exports it: Gemm with transB=1."""
    return g.op("Gemm", [x, g.weight((cout, cin), math.sqrt(1.0 / cin)),
                         g.const(g.rng.normal(0, 0.1, cout))], transB=1)


def torch_view_flatten(g: GraphBuilder, x: str) -> str:
    """x.view(x.size(0), -1) as torch.onnx emits it: Shape->Gather->Unsqueeze->Concat->Reshape."""
    batch = g.op("Gather", [g.op("Shape", [x]), g.constant_node(0)], axis=0)
    target = g.op("Concat", [unsqueeze(g, batch, [0]), g.constant_node([-1])], axis=0)
    n, *rest = g.shape(x)
    # Before opset 13 onnx cannot see through this chain; tell it the (static) result.
    return g.annotate(g.op("Reshape", [x, target]), [n, math.prod(rest)])


def _hw(size) -> tuple[int, int]:
    h, w = _pair(size)
    return h, w


def _batch_dim(batch: int | None) -> int | str:
    return "batch" if batch is None else batch  # None -> symbolic batch dimension


# ---------------------------------------------------------------------------------------------
# Networks. size: int or (H, W); batch=None makes the batch dimension symbolic.


def mobilenet_v2(size=224, width=1.0, batch: int | None = 1, seed=0, opset=DEFAULT_OPSET,
                 num_classes=1000) -> onnx.ModelProto:
    g = GraphBuilder(seed, opset)
    h, w = _hw(size)
    x = g.input("input", [_batch_dim(batch), 3, h, w])
    cin = make_divisible(32 * width)
    x = relu6(g, batchnorm(g, conv(g, x, 3, cin, 3, stride=2, bias=False), cin))
    # (expansion t, channels c, repeats n, first stride s), torchvision's table
    for t, c, n, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                       (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]:
        cout = make_divisible(c * width)
        for i in range(n):
            stride = s if i == 0 else 1
            hidden = cin * t
            y = x
            if t != 1:
                y = relu6(g, batchnorm(g, conv(g, y, cin, hidden, 1, bias=False), hidden))
            y = relu6(g, batchnorm(g, conv(g, y, hidden, hidden, 3, stride=stride, group=hidden,
                                           bias=False), hidden))
            y = batchnorm(g, conv(g, y, hidden, cout, 1, bias=False), cout)
            x = g.op("Add", [x, y]) if stride == 1 and cin == cout else y
            cin = cout
    last = make_divisible(1280 * max(1.0, width))
    x = relu6(g, batchnorm(g, conv(g, x, cin, last, 1, bias=False), last))
    x = g.op("Flatten", [g.op("GlobalAveragePool", [x])], axis=1)
    return g.model([gemm(g, x, last, num_classes)], "mobilenet_v2")


def _squeeze_excite(g: GraphBuilder, x: str, c: int, pool: str) -> str:
    s = g.op("GlobalAveragePool", [x]) if pool == "gap" else reduce(g, "ReduceMean", x, [2, 3])
    mid = make_divisible(c // 4)
    s = g.op("Relu", [conv(g, s, c, mid, 1)])
    return g.op("Mul", [x, hardsigmoid(g, conv(g, s, mid, c, 1))])


def mobilenet_v3(size=224, width=1.0, batch: int | None = 1, seed=0, opset=DEFAULT_OPSET,
                 num_classes=1000, se_pool="gap") -> onnx.ModelProto:
    """MobileNetV3-Small. se_pool: "gap" (GlobalAveragePool) or "mean" (ReduceMean over H, W)."""
    g = GraphBuilder(seed, opset)
    h, w = _hw(size)
    x = g.input("input", [_batch_dim(batch), 3, h, w])
    cin = make_divisible(16 * width)
    x = hardswish(g, batchnorm(g, conv(g, x, 3, cin, 3, stride=2, bias=False), cin))

    def act(y, kind):
        return g.op("Relu", [y]) if kind == "RE" else hardswish(g, y)

    # (kernel, expanded, out, use_se, activation, stride), torchvision's mobilenet_v3_small table
    for k, exp, c, use_se, kind, stride in [
        (3, 16, 16, True, "RE", 2), (3, 72, 24, False, "RE", 2), (3, 88, 24, False, "RE", 1),
        (5, 96, 40, True, "HS", 2), (5, 240, 40, True, "HS", 1), (5, 240, 40, True, "HS", 1),
        (5, 120, 48, True, "HS", 1), (5, 144, 48, True, "HS", 1), (5, 288, 96, True, "HS", 2),
        (5, 576, 96, True, "HS", 1), (5, 576, 96, True, "HS", 1),
    ]:
        exp, cout = make_divisible(exp * width), make_divisible(c * width)
        y = x
        if exp != cin:
            y = act(batchnorm(g, conv(g, y, cin, exp, 1, bias=False), exp), kind)
        y = act(batchnorm(g, conv(g, y, exp, exp, k, stride=stride, group=exp, bias=False), exp), kind)
        if use_se:
            y = _squeeze_excite(g, y, exp, se_pool)
        y = batchnorm(g, conv(g, y, exp, cout, 1, bias=False), cout)
        x = g.op("Add", [x, y]) if stride == 1 and cin == cout else y
        cin = cout
    last = 6 * cin
    x = hardswish(g, batchnorm(g, conv(g, x, cin, last, 1, bias=False), last))
    x = g.op("Flatten", [g.op("GlobalAveragePool", [x])], axis=1)
    x = dropout(g, hardswish(g, gemm(g, x, last, 1024)))
    return g.model([gemm(g, x, 1024, num_classes)], "mobilenet_v3")


def resnet(size=224, width=1.0, batch: int | None = 1, seed=0, opset=DEFAULT_OPSET,
           num_classes=1000, layers=(2, 2, 2, 2), flatten="flatten") -> onnx.ModelProto:
    """ResNet-18-like. flatten: "flatten" (torch.flatten) or "view" (x.view(x.size(0), -1) pattern)."""
    g = GraphBuilder(seed, opset)
    h, w = _hw(size)
    x = g.input("input", [_batch_dim(batch), 3, h, w])
    cin = max(8, int(64 * width))
    x = g.op("Relu", [batchnorm(g, conv(g, x, 3, cin, 7, stride=2, bias=False), cin)])
    x = g.op("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    for stage, blocks in enumerate(layers):
        cout = max(8, int(64 * width * 2**stage))
        for i in range(blocks):
            stride = 2 if stage > 0 and i == 0 else 1
            y = g.op("Relu", [batchnorm(g, conv(g, x, cin, cout, 3, stride=stride, bias=False), cout)])
            y = batchnorm(g, conv(g, y, cout, cout, 3, bias=False), cout)
            if stride != 1 or cin != cout:
                x = batchnorm(g, conv(g, x, cin, cout, 1, stride=stride, bias=False), cout)
            x = g.op("Relu", [g.op("Add", [y, x])])
            cin = cout
    x = g.op("GlobalAveragePool", [x])
    x = torch_view_flatten(g, x) if flatten == "view" else g.op("Flatten", [x], axis=1)
    return g.model([gemm(g, x, cin, num_classes)], "resnet")


def exporter_cnn(size=32, batch=1, seed=0, opset=DEFAULT_OPSET, num_classes=10) -> onnx.ModelProto:
    """A small CNN written the way torch.onnx exports one: weights in Constant nodes, Identity
    and Dropout left in, SiLU as Mul(x, Sigmoid(x)), view-flatten via Shape/Gather/Concat.
    The batch is static: the Shape->Gather chain folds only when it is."""
    g = GraphBuilder(seed, opset)
    h, w = _hw(size)
    x = g.input("input", [batch, 3, h, w])
    wc = g.constant_node(g.rng.standard_normal((16, 3, 3, 3)) * math.sqrt(2 / 27), np.float32)
    x = g.op("Relu", [g.op("Conv", [x, wc], kernel_shape=[3, 3], pads=[1, 1, 1, 1])])
    x = g.op("MaxPool", [g.op("Identity", [x])], kernel_shape=[2, 2], strides=[2, 2])
    x = swish(g, batchnorm(g, conv(g, x, 16, 32, 3, stride=2), 32))
    x = dropout(g, g.op("AveragePool", [x], kernel_shape=[2, 2], strides=[2, 2]))
    x = torch_view_flatten(g, x)
    feat = 32 * ((h // 2 + 1) // 2 // 2) * ((w // 2 + 1) // 2 // 2)
    x = dropout(g, g.op("Relu", [gemm(g, x, feat, 64)]))
    return g.model([g.op("Identity", [gemm(g, x, 64, num_classes)])], "exporter_cnn")


# ---------------------------------------------------------------------------------------------
# One graph using every claimed operator, chained the way real networks chain them.


def all_ops_model(size=(20, 24), batch=2, seed=0) -> onnx.ModelProto:
    g = GraphBuilder(seed, opset=21)  # Gelu needs 20, GroupNormalization-21 needs 21
    h, w = _hw(size)
    image = g.input("image", [batch, 3, h, w])
    tokens = g.input("tokens", [batch, 6, 16])
    outs = []

    # Conv stem: strided, BN, clip, depthwise dilated, PRelu.
    x = relu6(g, batchnorm(g, conv(g, image, 3, 16, 3, stride=2), 16))
    x = conv(g, x, 16, 16, 3, group=16, dilation=2)
    x = g.op("PRelu", [x, g.uniform((16, 1, 1), 0.05, 0.3)])
    # SAME_UPPER and SAME_LOWER branches (they put an odd total pad on opposite sides), summed with
    # a bias Expand-ed to Shape(a), which folds at load.
    a = conv(g, x, 16, 16, 3, stride=2, auto_pad="SAME_UPPER")
    b = conv(g, x, 16, 16, 3, stride=2, auto_pad="SAME_LOWER")
    bias = g.op("Expand", [g.const(g.rng.normal(0, 0.1, (1, 16, 1, 1))), g.op("Shape", [a])])
    x = g.op("Sum", [a, b, bias])
    x = g.op("LeakyRelu", [swish(g, g.op("HardSwish", [x]))], alpha=0.1)
    # Squeeze-excite with ReduceMean (axes as input) and Sigmoid gate.
    s = reduce(g, "ReduceMean", x, [2, 3])
    s = g.op("Sigmoid", [conv(g, g.op("Relu", [conv(g, s, 16, 8, 1)]), 8, 16, 1)])
    x = g.op("Mul", [x, s])
    # Pools: max with ceil_mode, average counting pads.
    p = g.op("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1)
    q = g.op("AveragePool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
             count_include_pad=1, ceil_mode=1)
    x = g.op("Concat", [p, q], axis=1)
    n_, c_, hh, ww = g.shape(x)
    # Channel shuffle (5-D Reshape/Transpose), then per-half normalisations.
    x = g.op("Reshape", [x, g.ints([n_, 2, c_ // 2, hh, ww])])
    x = g.op("Reshape", [g.op("Transpose", [x], perm=[0, 2, 1, 3, 4]), g.ints([n_, c_, hh, ww])])
    left, right = g.op("Split", [x], outputs=2, axis=1, num_outputs=2)
    half = c_ // 2
    left = g.op("InstanceNormalization", [left, g.uniform(half, 0.5, 1.5), _bias(g, half)])
    right = g.op("GroupNormalization", [right, g.uniform(half, 0.5, 1.5), _bias(g, half)], num_groups=4)
    x = g.op("Tanh", [g.op("Concat", [left, right], axis=1)])
    # Decoder-ish: transposed conv next to both Resize families, then Pad and Slice.
    up = g.op("ConvTranspose", [x, g.weight((c_, 8, 4, 4), 0.1), _bias(g, 8)],
              kernel_shape=[4, 4], strides=[2, 2], pads=[1, 1, 1, 1])
    nearest = resize(g, x, scales=[1, 1, 2, 2], mode="nearest",
                     coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    linear = resize(g, x, sizes=[n_, c_, 2 * hh, 2 * ww], mode="linear",
                    coordinate_transformation_mode="half_pixel")
    y = g.op("Concat", [up, g.op("Sub", [nearest, linear])], axis=1)
    y = pad(g, y, [0, 0, 1, 2, 0, 0, 1, 0], mode="reflect")
    y = g.op("Slice", [y, g.ints([1, 2]), g.ints([-1, 2**62]), g.ints([2, 3])])
    y = g.op("HardSigmoid", [y], alpha=0.2, beta=0.5)
    cy = g.shape(y)[1]
    # Channel mask from folded Range/Mod/Cast, divided by a channel count folded from Shape/Gather.
    steps = g.op("Range", [g.constant_node(0), g.constant_node(cy), g.constant_node(1)])
    mask = g.op("Cast", [g.op("Mod", [steps, g.ints(3)])], to=TensorProto.FLOAT)
    mask = g.op("Reshape", [mask, g.ints([1, cy, 1, 1])])
    count = g.op("Cast", [g.op("Gather", [g.op("Shape", [y]), g.ints(1)], axis=0)], to=TensorProto.FLOAT)
    y = g.op("Div", [g.op("Mul", [y, mask]), count])
    half_ones = g.op("ConstantOfShape", [g.ints([1, cy, 1, 1])],
                     value=numpy_helper.from_array(np.array([0.5], np.float32)))
    y = g.op("Add", [y, half_ones])
    outs += [y, g.op("Softmax", [y], axis=1)]
    # Head: GAP, Flatten, Gemm with transA/alpha/beta, Gelu, LayerNorm, MatMul against tokens.
    v = g.op("Flatten", [g.op("GlobalAveragePool", [y])], axis=1)  # [N, cy]
    v = g.op("Gemm", [g.op("Transpose", [v], perm=[1, 0]), g.weight((cy, 16), 0.2),
                      g.const(g.rng.normal(0, 0.1, 16))], transA=1, alpha=0.5, beta=2.0)
    v = g.op("Gelu", [v], approximate="tanh")
    outs.append(v)
    t = g.op("LayerNormalization", [tokens, g.uniform(16, 0.5, 1.5), g.const(g.rng.normal(0, .1, 16))],
             axis=-1, epsilon=1e-5)
    t = g.op("Gelu", [g.op("MatMul", [t, g.weight((16, 16), 0.25)])])
    attn = g.op("Softmax", [g.op("MatMul", [t, g.op("Transpose", [t], perm=[0, 2, 1])])], axis=-1)
    t = g.op("MatMul", [attn, t])  # [N, 6, 16]
    t = g.op("Add", [t, unsqueeze(g, v, [1])])
    t = reduce(g, "ReduceSum", t, [1], keepdims=0)  # [N, 16]
    t = squeeze(g, unsqueeze(g, t, [2, 3]), [3])  # [N, 16, 1]
    t = g.op("Identity", [dropout(g, g.op("Relu", [t]))])
    outs.append(g.op("Flatten", [t], axis=1))
    return g.model(outs, "all_ops")


# ---------------------------------------------------------------------------------------------
# Per-operator cases: one op (or one idiom) per graph, so a failure names the op and attribute.


@dataclass(frozen=True)
class OpCase:
    name: str
    build: Callable[..., str | list[str]]  # build(g, x, *extra_inputs) -> output name(s)
    shape: tuple = (2, 8, 7, 9)  # N, C, H, W: batch 2 and odd non-square spatial dims
    opset: int = DEFAULT_OPSET
    extra: tuple = field(default=())  # shapes of further runtime float inputs
    input_range: tuple | None = None  # uniform(lo, hi) inputs instead of standard normal (divisors)

    @property
    def rank(self) -> int:
        return len(self.shape)


def op_model(case: OpCase, pre_conv: bool = False, seed: int = 0) -> onnx.ModelProto:
    """pre_conv puts a 1x1 Conv in front, so the op reads a tensor the runtime holds in its internal
    (NHWC) layout rather than the caller's NCHW array; layout bugs show up only that way."""
    g = GraphBuilder(seed, case.opset)
    x = g.input("x", list(case.shape))
    extra = [g.input(f"x{i + 1}", list(s)) for i, s in enumerate(case.extra)]
    if pre_conv:
        c = case.shape[1]
        k = [1] * (case.rank - 2)
        x = g.op("Conv", [x, g.weight([c, c] + k, 1.0 / math.sqrt(c)), g.const(g.rng.normal(0, 0.1, c))],
                 kernel_shape=k)
    outs = case.build(g, x, *extra)
    return g.model([outs] if isinstance(outs, str) else outs, case.name, exact_output_shapes=False)


def _c(name, build, **kw) -> OpCase:
    return OpCase(name, build, **kw)


def _w(g, *shape, std=0.3):
    return g.weight(shape, std)


def _bias(g, n):
    return g.const(g.rng.normal(0, 0.1, n))


_RESIZE_NEAREST = [
    (ctm, nm)
    for ctm in ("half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel")
    for nm in ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")
]

OP_CASES: list[OpCase] = [
    # --- Conv: kernels, strides, dilations, groups, explicit/asymmetric/auto pads, 1-D.
    _c("conv_3x3", lambda g, x: conv(g, x, 8, 12, 3)),
    _c("conv_1x1_nobias", lambda g, x: conv(g, x, 8, 16, 1, bias=False)),
    _c("conv_1x1_s2", lambda g, x: conv(g, x, 8, 16, 1, stride=2)),
    _c("conv_5x5_s2", lambda g, x: conv(g, x, 8, 8, 5, stride=2)),
    _c("conv_7x7_s2_3ch", lambda g, x: conv(g, x, 3, 16, 7, stride=2), shape=(1, 3, 17, 15)),
    _c("conv_1x3_stride_1x2", lambda g, x: conv(g, x, 8, 8, (1, 3), stride=(1, 2))),
    _c("conv_dilation2", lambda g, x: conv(g, x, 8, 8, 3, dilation=2)),
    _c("conv_dilation_2x1", lambda g, x: conv(g, x, 8, 8, 3, dilation=(2, 1))),
    _c("conv_asym_pads", lambda g, x: conv(g, x, 8, 8, 3, stride=2, pads=[0, 1, 2, 0])),
    _c("conv_no_pad", lambda g, x: conv(g, x, 8, 8, 3, pads=[0, 0, 0, 0])),
    _c("conv_group2", lambda g, x: conv(g, x, 8, 12, 3, group=2)),
    _c("conv_group4_s2", lambda g, x: conv(g, x, 8, 8, 3, stride=2, group=4)),
    _c("conv_depthwise", lambda g, x: conv(g, x, 8, 8, 3, group=8)),
    _c("conv_depthwise_s2", lambda g, x: conv(g, x, 8, 8, 3, stride=2, group=8)),
    _c("conv_depthwise_5x5", lambda g, x: conv(g, x, 8, 8, 5, group=8)),
    _c("conv_depthwise_mult2", lambda g, x: conv(g, x, 8, 16, 3, group=8)),
    _c("conv_depthwise_dilated_s2", lambda g, x: conv(g, x, 8, 8, 3, stride=2, group=8, dilation=2)),
    _c("conv_same_upper_s2", lambda g, x: conv(g, x, 8, 8, 3, stride=2, auto_pad="SAME_UPPER")),
    _c("conv_same_lower_s2", lambda g, x: conv(g, x, 8, 8, 4, stride=2, auto_pad="SAME_LOWER")),
    _c("conv_same_upper_even_k", lambda g, x: conv(g, x, 8, 8, 2, auto_pad="SAME_UPPER")),
    _c("conv_valid", lambda g, x: conv(g, x, 8, 8, 3, stride=2, auto_pad="VALID")),
    _c("conv_large_channels", lambda g, x: conv(g, x, 67, 35, 3), shape=(1, 67, 6, 5)),
    _c("conv1d", lambda g, x: g.op("Conv", [x, _w(g, 6, 8, 3), _bias(g, 6)], kernel_shape=[3],
                                           pads=[1, 1]), shape=(2, 8, 11)),
    _c("conv1d_s2_dilated_group",
       lambda g, x: g.op("Conv", [x, _w(g, 8, 4, 3)], kernel_shape=[3], strides=[2], dilations=[2],
                         group=2, pads=[2, 1]), shape=(2, 8, 11)),
    # --- ConvTranspose.
    _c("convtranspose_k3_s2_outpad",
       lambda g, x: g.op("ConvTranspose", [x, _w(g, 8, 6, 3, 3), _bias(g, 6)], kernel_shape=[3, 3],
                         strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 1])),
    _c("convtranspose_k4_s2",
       lambda g, x: g.op("ConvTranspose", [x, _w(g, 8, 4, 4, 4)], kernel_shape=[4, 4], strides=[2, 2],
                         pads=[1, 1, 1, 1])),
    _c("convtranspose_k2_s2_nopad",
       lambda g, x: g.op("ConvTranspose", [x, _w(g, 8, 8, 2, 2), _bias(g, 8)], kernel_shape=[2, 2],
                         strides=[2, 2])),
    _c("convtranspose_group2_dilated",
       lambda g, x: g.op("ConvTranspose", [x, _w(g, 8, 3, 3, 3)], kernel_shape=[3, 3], group=2,
                         dilations=[2, 2])),
    _c("convtranspose_depthwise_s2",
       lambda g, x: g.op("ConvTranspose", [x, _w(g, 8, 1, 4, 4), _bias(g, 8)], kernel_shape=[4, 4],
                         strides=[2, 2], pads=[1, 1, 1, 1], group=8)),
    _c("convtranspose_asym_stride",
       lambda g, x: g.op("ConvTranspose", [x, _w(g, 8, 4, 3, 3)], kernel_shape=[3, 3], strides=[3, 2],
                         pads=[1, 0, 1, 1], output_padding=[1, 0])),
    _c("convtranspose_same_upper",
       lambda g, x: g.op("ConvTranspose", [x, _w(g, 8, 4, 3, 3)], kernel_shape=[3, 3], strides=[2, 2],
                         auto_pad="SAME_UPPER")),
    _c("convtranspose_output_shape",
       lambda g, x: g.op("ConvTranspose", [x, _w(g, 8, 4, 3, 3)], kernel_shape=[3, 3], strides=[2, 2],
                         output_shape=[15, 18])),
    _c("convtranspose1d",
       lambda g, x: g.op("ConvTranspose", [x, _w(g, 8, 4, 4), _bias(g, 4)], kernel_shape=[4],
                         strides=[2], pads=[1, 1]), shape=(2, 8, 11)),
    # --- Gemm / MatMul.
    _c("gemm_linear", lambda g, x: gemm(g, x, 24, 10), shape=(3, 24)),
    _c("gemm_transA_alpha_beta",
       lambda g, x: g.op("Gemm", [x, _w(g, 5, 7), _bias(g, 7)], transA=1, alpha=0.7, beta=1.5),
       shape=(5, 4)),
    _c("gemm_no_bias", lambda g, x: g.op("Gemm", [x, _w(g, 24, 6)]), shape=(3, 24)),
    _c("gemm_matrix_bias", lambda g, x: g.op("Gemm", [x, _w(g, 24, 6), _w(g, 3, 6)], beta=0.5),
       shape=(3, 24)),
    _c("gemm_column_bias", lambda g, x: g.op("Gemm", [x, _w(g, 6, 24), _w(g, 3, 1)], transB=1),
       shape=(3, 24)),
    _c("gemm_scalar_bias", lambda g, x: g.op("Gemm", [x, _w(g, 24, 6), g.const(0.75)]),
       shape=(3, 24)),
    _c("gemm_runtime_b",
       lambda g, x, b: g.op("Gemm", [x, b, _bias(g, 6)], transA=1, transB=1, alpha=2.0),
       shape=(24, 3), extra=((6, 24),)),
    _c("matmul_2d_const", lambda g, x: g.op("MatMul", [x, _w(g, 24, 10)]), shape=(3, 24)),
    _c("matmul_2d_runtime", lambda g, x, y: g.op("MatMul", [x, y]), shape=(3, 24), extra=((24, 5),)),
    _c("matmul_3d_by_2d", lambda g, x: g.op("MatMul", [x, _w(g, 16, 12)]), shape=(2, 7, 16)),
    _c("matmul_batched", lambda g, x, y: g.op("MatMul", [x, y]), shape=(2, 5, 7),
       extra=((2, 7, 3),)),
    _c("matmul_broadcast_4d", lambda g, x, y: g.op("MatMul", [x, y]), shape=(2, 1, 5, 7),
       extra=((1, 3, 7, 4),)),
    _c("matmul_nchw_last_axis", lambda g, x: g.op("MatMul", [x, _w(g, 9, 4)])),
    _c("matmul_vector_rhs", lambda g, x: g.op("MatMul", [x, _w(g, 16)]), shape=(2, 7, 16)),
    # --- Normalisation.
    _c("batchnorm_4d", lambda g, x: batchnorm(g, x, 8)),
    _c("batchnorm_2d", lambda g, x: batchnorm(g, x, 24), shape=(3, 24)),
    _c("batchnorm_3d", lambda g, x: batchnorm(g, x, 8), shape=(2, 8, 11)),
    _c("instancenorm",
       lambda g, x: g.op("InstanceNormalization", [x, g.uniform(8, 0.5, 1.5), _bias(g, 8)], epsilon=1e-3)),
    _c("instancenorm_3d",
       lambda g, x: g.op("InstanceNormalization", [x, g.uniform(8, 0.5, 1.5), _bias(g, 8)]),
       shape=(2, 8, 11)),
    _c("groupnorm_g2",
       lambda g, x: g.op("GroupNormalization", [x, g.uniform(8, 0.5, 1.5), _bias(g, 8)], num_groups=2),
       opset=21),
    _c("groupnorm_per_channel",
       lambda g, x: g.op("GroupNormalization", [x, g.uniform(8, 0.5, 1.5), _bias(g, 8)], num_groups=8,
                         epsilon=1e-3), opset=21),
    _c("groupnorm_single_group",
       lambda g, x: g.op("GroupNormalization", [x, g.uniform(8, 0.5, 1.5), _bias(g, 8)], num_groups=1),
       opset=21),
    _c("layernorm_last_axis",
       lambda g, x: g.op("LayerNormalization", [x, g.uniform(16, 0.5, 1.5), _bias(g, 16)], axis=-1),
       shape=(2, 7, 16)),
    _c("layernorm_no_bias",
       lambda g, x: g.op("LayerNormalization", [x, g.uniform(16, 0.5, 1.5)], axis=2, epsilon=1e-3),
       shape=(2, 7, 16)),
    _c("layernorm_4d_axis1",
       lambda g, x: g.op("LayerNormalization", [x, g.uniform((8, 7, 9), 0.5, 1.5), _w(g, 8, 7, 9)], axis=1)),
    _c("layernorm_4d_width",
       lambda g, x: g.op("LayerNormalization", [x, g.uniform(9, 0.5, 1.5), _bias(g, 9)], axis=-1)),
    # --- Activations.
    _c("relu", lambda g, x: g.op("Relu", [x])),
    _c("sigmoid", lambda g, x: g.op("Sigmoid", [x])),
    _c("tanh", lambda g, x: g.op("Tanh", [x])),
    _c("swish", swish),
    _c("hardsigmoid_default", lambda g, x: g.op("HardSigmoid", [x])),
    _c("hardsigmoid_torch", hardsigmoid),
    _c("hardswish", lambda g, x: g.op("HardSwish", [x])),
    _c("hardswish_as_mul_opset13", hardswish, opset=13),
    _c("leakyrelu_default", lambda g, x: g.op("LeakyRelu", [x])),
    _c("leakyrelu_0p1", lambda g, x: g.op("LeakyRelu", [x], alpha=0.1)),
    _c("prelu_per_channel", lambda g, x: g.op("PRelu", [x, g.uniform((8, 1, 1), 0.0, 0.5)])),
    _c("prelu_scalar", lambda g, x: g.op("PRelu", [x, g.const([0.25])])),
    _c("prelu_full", lambda g, x: g.op("PRelu", [x, g.uniform((8, 7, 9), -0.5, 0.5)])),
    _c("prelu_2d", lambda g, x: g.op("PRelu", [x, g.uniform(24, 0.0, 0.5)]), shape=(3, 24)),
    _c("gelu", lambda g, x: g.op("Gelu", [x]), opset=20),
    _c("gelu_tanh", lambda g, x: g.op("Gelu", [x], approximate="tanh"), opset=20),
    _c("clip_relu6", relu6),
    _c("clip_min_only", lambda g, x: clip(g, x, -0.5, None)),
    _c("clip_max_only", lambda g, x: clip(g, x, None, 0.3)),
    _c("clip_no_bounds", lambda g, x: clip(g, x, None, None)),
    _c("clip_attrs_opset10", lambda g, x: clip(g, x, -1.0, 1.5), opset=10),
    _c("clip_attr_min_opset10", lambda g, x: clip(g, x, 0.0, None), opset=10),
    # --- Elementwise arithmetic with broadcasting (constants on either side, runtime both sides).
    *[
        _c(f"{op.lower()}_{kind}", build, shape=shape, extra=extra,
           input_range=(0.5, 2.0) if op == "Div" else None)
        for op in ("Add", "Sub", "Mul", "Div")
        for kind, build, shape, extra in [
            ("same_shape", lambda g, x, y, op=op: g.op(op, [x, y]), (2, 8, 7, 9), ((2, 8, 7, 9),)),
            ("channel_const", lambda g, x, op=op: g.op(op, [x, g.uniform((8, 1, 1), 0.5, 2.0)]),
             (2, 8, 7, 9), ()),
            ("scalar_const_lhs", lambda g, x, op=op: g.op(op, [g.const(1.5), x]), (2, 8, 7, 9), ()),
            ("row_const", lambda g, x, op=op: g.op(op, [x, g.uniform(9, 0.5, 2.0)]), (2, 8, 7, 9), ()),
            ("both_broadcast", lambda g, x, y, op=op: g.op(op, [x, y]), (2, 1, 7, 1), ((1, 8, 1, 9),)),
            ("rank_mismatch", lambda g, x, y, op=op: g.op(op, [y, x]), (2, 8, 7, 9), ((7, 1),)),
        ]
    ],
    _c("sum_one", lambda g, x: g.op("Sum", [x])),
    _c("sum_two_bcast", lambda g, x: g.op("Sum", [x, g.uniform((8, 1, 1), -1, 1)])),
    _c("sum_three_runtime", lambda g, x, y, z: g.op("Sum", [x, y, z]), extra=((2, 8, 7, 9), (1, 8, 1, 1))),
    # --- Tensor plumbing.
    _c("concat_channels", lambda g, x, y: g.op("Concat", [x, y], axis=1), extra=((2, 3, 7, 9),)),
    _c("concat_height_const", lambda g, x: g.op("Concat", [x, _w(g, 2, 8, 2, 9)], axis=2)),
    _c("concat_width_neg", lambda g, x, y: g.op("Concat", [x, y, x], axis=-1), extra=((2, 8, 7, 4),)),
    _c("concat_batch", lambda g, x, y: g.op("Concat", [x, y], axis=0), extra=((1, 8, 7, 9),)),
    _c("concat_3d_last", lambda g, x, y: g.op("Concat", [x, y], axis=2), shape=(2, 8, 11),
       extra=((2, 8, 3),)),
    _c("split_channels_sizes", lambda g, x: split(g, x, 1, [2, 6])),
    _c("split_channels_attr_opset11", lambda g, x: split(g, x, 1, [3, 5]), opset=11),
    _c("split_equal_default", lambda g, x: g.op("Split", [x], outputs=2, axis=1)),
    _c("split_height", lambda g, x: split(g, x, 2, [3, 1, 3])),
    _c("split_width_num_outputs_uneven",
       lambda g, x: g.op("Split", [x], outputs=2, axis=-1, num_outputs=2), opset=18),
    _c("slice_channels", lambda g, x: g.op("Slice", [x, g.ints([2]), g.ints([7]), g.ints([1])])),
    _c("slice_spatial_step2",
       lambda g, x: g.op("Slice", [x, g.ints([1, 0]), g.ints([7, 9]), g.ints([2, 3]), g.ints([2, 2])])),
    _c("slice_negative_indices",
       lambda g, x: g.op("Slice", [x, g.ints([-5, 1]), g.ints([-1, 2**62]), g.ints([-1, 1])])),
    _c("slice_reverse",
       lambda g, x: g.op("Slice", [x, g.ints([-1]), g.ints([-2**62]), g.ints([3]), g.ints([-2])])),
    _c("slice_default_axes", lambda g, x: g.op("Slice", [x, g.ints([1, 2, 1]), g.ints([2, 8, 6])])),
    _c("reshape_flatten_neg1", lambda g, x: g.op("Reshape", [x, g.ints([2, -1])])),
    _c("reshape_zero_copy", lambda g, x: g.op("Reshape", [x, g.ints([0, 0, -1])])),
    _c("reshape_split_channels", lambda g, x: g.op("Reshape", [x, g.ints([2, 2, 4, 63])])),
    _c("reshape_to_4d", lambda g, x: g.op("Reshape", [x, g.ints([3, 4, 2, -1])]), shape=(3, 24)),
    _c("channel_shuffle",
       lambda g, x: g.op("Reshape", [g.op("Transpose", [g.op("Reshape", [x, g.ints([2, 2, 4, 7, 9])])],
                                          perm=[0, 2, 1, 3, 4]), g.ints([2, 8, 7, 9])])),
    _c("pixel_shuffle",
       lambda g, x: g.op("Reshape", [g.op("Transpose", [g.op("Reshape", [x, g.ints([2, 2, 2, 2, 7, 9])])],
                                          perm=[0, 1, 4, 2, 5, 3]), g.ints([2, 2, 14, 18])])),
    _c("flatten_axis1", lambda g, x: g.op("Flatten", [x], axis=1)),
    _c("flatten_axis0", lambda g, x: g.op("Flatten", [x], axis=0)),
    _c("flatten_axis2", lambda g, x: g.op("Flatten", [x], axis=2)),
    _c("flatten_axis_neg1", lambda g, x: g.op("Flatten", [x], axis=-1)),
    _c("transpose_to_nhwc", lambda g, x: g.op("Transpose", [x], perm=[0, 2, 3, 1])),
    _c("transpose_from_nhwc", lambda g, x: g.op("Transpose", [x], perm=[0, 3, 1, 2])),
    _c("transpose_hw", lambda g, x: g.op("Transpose", [x], perm=[0, 1, 3, 2])),
    _c("transpose_default_reverse", lambda g, x: g.op("Transpose", [x])),
    _c("transpose_3d", lambda g, x: g.op("Transpose", [x], perm=[0, 2, 1]), shape=(2, 8, 11)),
    _c("squeeze_axes", lambda g, x: squeeze(g, x, [2, -1]), shape=(2, 8, 1, 1)),
    _c("squeeze_attr_opset11", lambda g, x: squeeze(g, x, [3]), shape=(2, 8, 5, 1), opset=11),
    _c("squeeze_all", lambda g, x: squeeze(g, x, None), shape=(1, 8, 1, 5)),
    _c("unsqueeze_two", lambda g, x: unsqueeze(g, x, [0, -1])),
    _c("unsqueeze_attr_opset11", lambda g, x: unsqueeze(g, x, [1]), shape=(3, 24), opset=11),
    _c("unsqueeze_middle", lambda g, x: unsqueeze(g, x, [2]), shape=(2, 8, 11)),
    _c("identity", lambda g, x: g.op("Identity", [x])),
    _c("dropout_inference", dropout),
    _c("dropout_no_ratio", lambda g, x: g.op("Dropout", [x])),
    _c("dropout_attr_opset11", dropout, opset=11),
    # --- Pooling.
    _c("maxpool_2x2_s2", lambda g, x: g.op("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2])),
    _c("maxpool_3x3_s2_p1",
       lambda g, x: g.op("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])),
    _c("maxpool_ceil",
       lambda g, x: g.op("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)),
    _c("maxpool_dilated",
       lambda g, x: g.op("MaxPool", [x], kernel_shape=[2, 2], dilations=[2, 2])),
    _c("maxpool_same_upper",
       lambda g, x: g.op("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER")),
    _c("maxpool_asym_pads",
       lambda g, x: g.op("MaxPool", [x], kernel_shape=[3, 2], pads=[0, 1, 2, 0])),
    _c("maxpool_5x5_s1_p2",  # YOLO SPPF
       lambda g, x: g.op("MaxPool", [x], kernel_shape=[5, 5], pads=[2, 2, 2, 2])),
    _c("maxpool1d", lambda g, x: g.op("MaxPool", [x], kernel_shape=[3], strides=[2]),
       shape=(2, 8, 11)),
    _c("avgpool_2x2_s2",
       lambda g, x: g.op("AveragePool", [x], kernel_shape=[2, 2], strides=[2, 2])),
    _c("avgpool_pads_exclude",
       lambda g, x: g.op("AveragePool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])),
    _c("avgpool_pads_include",
       lambda g, x: g.op("AveragePool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
                         count_include_pad=1)),
    _c("avgpool_ceil_exclude",
       lambda g, x: g.op("AveragePool", [x], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)),
    _c("avgpool_ceil_include_pads",
       lambda g, x: g.op("AveragePool", [x], kernel_shape=[2, 2], strides=[2, 2], pads=[1, 1, 1, 1],
                         ceil_mode=1, count_include_pad=1)),
    _c("avgpool_same_upper",
       lambda g, x: g.op("AveragePool", [x], kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER")),
    _c("avgpool_same_lower_include",
       lambda g, x: g.op("AveragePool", [x], kernel_shape=[2, 2], auto_pad="SAME_LOWER",
                         count_include_pad=1)),
    _c("avgpool_asym_pads",
       lambda g, x: g.op("AveragePool", [x], kernel_shape=[2, 3], pads=[1, 0, 0, 2])),
    _c("avgpool1d", lambda g, x: g.op("AveragePool", [x], kernel_shape=[3], pads=[1, 1]),
       shape=(2, 8, 11)),
    _c("globalavgpool", lambda g, x: g.op("GlobalAveragePool", [x])),
    _c("globalavgpool_3d", lambda g, x: g.op("GlobalAveragePool", [x]), shape=(2, 8, 11)),
    # --- Reductions (axes as attribute before opset 18/13, as input after).
    *[
        _c(f"{op.lower()}_{kind}_opset{opset}",
           lambda g, x, op=op, axes=axes, keep=keep: reduce(g, op, x, axes, keepdims=keep), opset=opset)
        for op, opset in (("ReduceMean", 17), ("ReduceMean", 18), ("ReduceSum", 11), ("ReduceSum", 13))
        for kind, axes, keep in [("hw_keep", [2, 3], 1), ("hw_drop", [-2, -1], 0), ("channels", [1], 1),
                                 ("channels_drop", [1], 0), ("all", None, 0)]
    ],
    _c("reducesum_empty_axes_noop",
       lambda g, x: g.op("ReduceSum", [x, g.ints([])], noop_with_empty_axes=1), opset=13),
    _c("reducemean_last_3d", lambda g, x: reduce(g, "ReduceMean", x, [-1]), shape=(2, 7, 16)),
    # --- Softmax: opset 11 flattens everything from `axis` on, 13+ normalises one axis.
    _c("softmax_channels", lambda g, x: g.op("Softmax", [x], axis=1)),
    _c("softmax_last", lambda g, x: g.op("Softmax", [x], axis=-1)),
    _c("softmax_height", lambda g, x: g.op("Softmax", [x], axis=2)),
    _c("softmax_2d", lambda g, x: g.op("Softmax", [x], axis=1), shape=(3, 24)),
    _c("softmax_3d_middle", lambda g, x: g.op("Softmax", [x], axis=1), shape=(2, 7, 16)),
    _c("softmax_opset11_axis1_coerced", lambda g, x: g.op("Softmax", [x], axis=1), opset=11),
    _c("softmax_opset11_axis2_coerced", lambda g, x: g.op("Softmax", [x], axis=2), opset=11),
    # --- Pad.
    _c("pad_constant_value", lambda g, x: pad(g, x, [0, 0, 1, 2, 0, 0, 2, 1], value=0.5)),
    _c("pad_constant_zero", lambda g, x: pad(g, x, [0, 0, 1, 1, 0, 0, 1, 1])),
    _c("pad_channels", lambda g, x: pad(g, x, [0, 1, 0, 0, 0, 3, 0, 0], value=-1.0)),
    _c("pad_reflect", lambda g, x: pad(g, x, [0, 0, 2, 1, 0, 0, 1, 3], mode="reflect")),
    _c("pad_edge", lambda g, x: pad(g, x, [0, 0, 3, 0, 0, 0, 1, 2], mode="edge")),
    _c("pad_negative_crop", lambda g, x: pad(g, x, [0, 0, -1, 2, 0, 0, 1, -2])),
    _c("pad_3d_reflect", lambda g, x: pad(g, x, [0, 0, 2, 0, 0, 3], mode="reflect"), shape=(2, 8, 11)),
    _c("pad_axes_input",
       lambda g, x: g.op("Pad", [x, g.ints([1, 2, 2, 1]), g.const(0.25), g.ints([2, 3])]), opset=18),
    # --- Resize: every nearest (coordinate mode x rounding) pair, linear modes, scales and sizes.
    *[
        _c(f"resize_nearest_{ctm}_{nm}_{kind}",
           lambda g, x, ctm=ctm, nm=nm, sc=sc, sz=sz: resize(
               g, x, scales=sc, sizes=sz, mode="nearest", coordinate_transformation_mode=ctm, nearest_mode=nm))
        for ctm, nm in _RESIZE_NEAREST
        for kind, sc, sz in [("up2", [1, 1, 2, 2], None), ("sizes_up", None, [2, 8, 12, 20]),
                             ("sizes_down", None, [2, 8, 4, 5])]
    ],
    _c("resize_nearest_x3",
       lambda g, x: resize(g, x, scales=[1, 1, 3, 3], mode="nearest", coordinate_transformation_mode="asymmetric",
                           nearest_mode="floor")),
    _c("resize_nearest_down_half",
       lambda g, x: resize(g, x, scales=[1, 1, 0.5, 0.5], mode="nearest")),
    _c("resize_nearest_opset11",
       lambda g, x: resize(g, x, scales=[1, 1, 2, 2], mode="nearest", coordinate_transformation_mode="asymmetric",
                           nearest_mode="floor"), opset=11),
    _c("resize_nearest_sizes_opset11",
       lambda g, x: resize(g, x, sizes=[2, 8, 10, 13], mode="nearest"), opset=11),
    _c("resize_nearest_tf_half_pixel_for_nn_opset11",
       lambda g, x: resize(g, x, scales=[1, 1, 2, 2], mode="nearest",
                           coordinate_transformation_mode="tf_half_pixel_for_nn"), opset=11),
    *[
        _c(f"resize_linear_{ctm}_{kind}",
           lambda g, x, ctm=ctm, sc=sc, sz=sz: resize(g, x, scales=sc, sizes=sz, mode="linear",
                                                      coordinate_transformation_mode=ctm))
        for ctm in ("half_pixel", "align_corners", "asymmetric", "pytorch_half_pixel")
        for kind, sc, sz in [("up2", [1, 1, 2, 2], None), ("up1p5", [1, 1, 1.5, 1.5], None),
                             ("sizes_up", None, [2, 8, 12, 20]), ("sizes_down", None, [2, 8, 4, 5])]
    ],
    _c("resize_linear_opset11",
       lambda g, x: resize(g, x, scales=[1, 1, 2, 2], mode="linear", coordinate_transformation_mode="align_corners"),
       opset=11),
    _c("resize_linear_axes_opset18",
       lambda g, x: g.op("Resize", [x, "", g.const([2.0, 2.0])], mode="linear", axes=[2, 3]), opset=18),
    _c("resize_nearest_to_1x1", lambda g, x: resize(g, x, sizes=[2, 8, 1, 1], mode="nearest")),
    # --- Ops claimed where they fold at load, each feeding a runtime op so the fold is observable.
    _c("fold_view_flatten", torch_view_flatten),
    _c("fold_shape_slice_reshape",
       lambda g, x: g.op("Reshape", [x, g.op("Concat", [g.op("Shape", [x], end=2), g.ints([-1])], axis=0)]),
       opset=15),
    _c("fold_range_mod_cast_mask",
       lambda g, x: g.op("Mul", [x, g.op("Reshape", [
           g.op("Cast", [g.op("Mod", [g.op("Range", [g.ints(0), g.ints(8), g.ints(1)]), g.ints(2)])],
                to=TensorProto.FLOAT), g.ints([1, 8, 1, 1])])])),
    _c("fold_float_range_fmod",
       lambda g, x: g.op("Add", [x, g.op("Mod", [g.op("Range", [g.const(-4.0), g.const(5.0), g.const(1.0)]),
                                                 g.const(2.5)], fmod=1)])),
    _c("fold_constantofshape_from_shape",
       lambda g, x: g.op("Mul", [x, g.op("ConstantOfShape", [g.op("Shape", [x])],
                                         value=numpy_helper.from_array(np.array([1.5], np.float32)))])),
    _c("fold_expand_to_shape",
       lambda g, x: g.op("Sub", [x, g.op("Expand", [_w(g, 1, 8, 1, 1), g.op("Shape", [x])])])),
    _c("fold_cast_shape_count",
       lambda g, x: g.op("Div", [x, g.op("Cast", [g.op("Gather", [g.op("Shape", [x]), g.ints(1)], axis=0)],
                                         to=TensorProto.FLOAT)])),
    _c("fold_constant_node",
       lambda g, x: g.op("Add", [x, g.constant_node(g.rng.standard_normal((8, 1, 1)), np.float32)])),
]


def find_case(name: str) -> OpCase:
    return next(c for c in OP_CASES if c.name == name)
