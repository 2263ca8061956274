"""Official checkpoints -> ONNX files edgert (and onnxruntime) run: `edgert convert`.

    edgert convert lsnet_t lsnet_t.pth -o lsnet_t.onnx
    edgert convert lsnet_t lsnet_t_distill.pth -o lsnet_t_ort.onnx --portable
    edgert convert femtodet epoch_300.pth -o femtodet.onnx --input-size 416x416

Checkpoint containers read: a plain state_dict, {'model': state_dict} (LSNet/DeiT training
checkpoints and the released .pth files), mmdet's {'state_dict': ..., 'meta': ...} (FemtoDet), an
optional 'module.' prefix (DataParallel), and .safetensors files when the safetensors package is
installed. Files are unpickled with torch.load(weights_only=True): arbitrary Python objects, which
could run code, are refused. Keys and shapes are checked against the official architecture before
anything is loaded; every mismatch is reported at once as a ModelLoadError.

Model-specific handling, following what the official inference does:
  - LSNet distillation checkpoints (head_dist.*): the two heads are averaged, as the official model
    does in eval mode, and exported as one linear layer.
  - LSNet's stage-4 attention bias is tabulated for the checkpoint's feature grid (4x4 for 224x224
    inputs); input sizes giving another grid resize it bicubically, as the official fine-tuning
    loader does.
  - FemtoDet (mmdet) checkpoints carry the EMA hook's 'ema_*' buffers: the hook swaps the averaged
    weights into the model before saving, so the regular keys are the evaluated weights and the
    'ema_*' copies are dropped, as mmdet's non-strict loading ignores them.

The exported graph (opset 18, float32, input 'images' [N, 3, H, W] with a symbolic batch) is built
from the re-parameterised model (BN folded, RepVGG and IBE branches merged) by GraphWriter below,
which emits plain ONNX nodes and checks the graph's result against the PyTorch model before writing.
LSNet's SKA becomes one `ai.edgert` SKA node (signature in edgert.zoo.ska), or with portable=True
standard ONNX ops (Pad, Slice, Mul, Sum) that any runtime runs. Pre- and post-processing stay outside
the graph and are recorded in the model's metadata_props ('edgert.preprocess', 'edgert.labels').
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import pickle
import tempfile
import zipfile
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from edgert.errors import BackendUnavailableError, EdgeRTError, ModelLoadError
from edgert.zoo import MODELS
from edgert.zoo import ska as ska_spec

OPSET = 18
IR_VERSION = 8          # the oldest IR that carries opset 18: readable by older runtimes on devices
INPUT_NAME = "images"
MAX_LISTED = 8          # keys named per kind of mismatch before "... and N more"
# The exported graph must reproduce the PyTorch model within this fraction of its largest output.
SELF_CHECK_TOLERANCE = 1e-4


def _torch():
    try:
        import torch
    except ImportError:
        raise BackendUnavailableError("converting checkpoints needs PyTorch, which is not installed "
                                      "(pip install 'edgert[tools]')") from None
    return torch


# ------------------------------------------------------------------ checkpoints


def _safe_globals():
    """Plain-data classes found in official training checkpoints (argparse options, numpy scalars)
    that weights_only unpickling may rebuild: none of them runs code."""
    import argparse

    try:
        from numpy._core.multiarray import scalar
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import scalar
    # numpy 1.x pickles name the scalar constructor numpy.core.multiarray.scalar, numpy 2 numpy._core...
    allowed: list[Any] = [argparse.Namespace, np.dtype, (scalar, "numpy.core.multiarray.scalar"),
                          (scalar, "numpy._core.multiarray.scalar")]
    allowed += [type(np.dtype(t)) for t in ("float64", "float32", "float16", "int64", "int32", "bool")]
    return allowed


def read_checkpoint(path: str | os.PathLike) -> tuple[dict, dict]:
    """(state_dict, meta) from any supported checkpoint container; meta is mmdet's 'meta' or {}."""
    torch = _torch()
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ModelLoadError(f"{path}: no such checkpoint file")
    if path.endswith(".safetensors"):
        try:
            from safetensors.torch import load_file
        except ImportError:
            raise BackendUnavailableError(f"{path}: reading .safetensors needs the safetensors package "
                                          "(pip install safetensors)") from None
        try:
            return dict(load_file(path, device="cpu")), {}
        except Exception as e:  # safetensors raises its own error types for malformed headers
            raise ModelLoadError(f"{path}: not a readable safetensors file: {e}") from None
    # torch < 2.5 has no safe_globals; its weights_only loader then reads plain containers only.
    allow = getattr(torch.serialization, "safe_globals", None)
    try:
        with allow(_safe_globals()) if allow else contextlib.nullcontext():
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        # torch words both cases alike; the line naming a GLOBAL tells a refused object from a broken file.
        lines = [line.strip() for line in str(e).splitlines() if line.strip()]
        refused = next((line for line in lines if "GLOBAL" in line), None)
        if refused is None:
            marker = next((i for i, line in enumerate(lines) if "WeightsUnpickler error" in line), None)
            detail = lines[marker + 1] if marker is not None and marker + 1 < len(lines) else type(e).__name__
            raise ModelLoadError(f"{path}: not a readable PyTorch checkpoint ({detail})") from None
        raise ModelLoadError(
            f"{path}: the checkpoint holds Python objects besides tensors and plain containers, which edgert "
            f"does not unpickle because unpickling can run code ({refused}). If you trust the file, save just "
            "its weights: torch.save(torch.load(path, weights_only=False)['model'], 'weights.pth')") from None
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as e:
        raise ModelLoadError(f"{path}: not a readable PyTorch checkpoint: {e}") from None
    return _unwrap(obj, path)


def _unwrap(obj, path: str) -> tuple[dict, dict]:
    torch = _torch()
    if not isinstance(obj, dict):
        raise ModelLoadError(f"{path}: expected a state_dict or a dict holding one, found {type(obj).__name__}")
    meta = {}
    if isinstance(obj.get("state_dict"), dict):        # mmdet / mmcv
        state, meta = obj["state_dict"], obj.get("meta") if isinstance(obj.get("meta"), dict) else {}
    elif isinstance(obj.get("model"), dict):           # LSNet / DeiT training script and releases
        state = obj["model"]
    elif obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        state = obj
    else:
        raise ModelLoadError(f"{path}: no weights found: expected a state_dict, or a dict with 'model' or "
                             f"'state_dict'; top-level keys are {_listing(sorted(map(str, obj)))}")
    not_tensors = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if not_tensors:
        raise ModelLoadError(f"{path}: state_dict entries that are not tensors: {_listing(not_tensors)}")
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return dict(state), meta


def _listing(items: list[str]) -> str:
    shown = ", ".join(items[:MAX_LISTED])
    return shown + (f" ... and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else "")


def load_weights(model, state: dict, source: str, model_name: str) -> None:
    """Copy `state` into `model` after checking every key and shape; all mismatches in one ModelLoadError.

    Only BatchNorm's num_batches_tracked may be absent: it counts training steps and affects no output."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    misshaped = [f"{k} {list(state[k].shape)} (expected {list(expected[k].shape)})"
                 for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    problems = []
    for label, keys in (("missing", missing), ("unexpected", unexpected), ("mis-shaped", misshaped)):
        if keys:
            problems.append(f"{len(keys)} {label} key{'s' if len(keys) > 1 else ''}: {_listing(keys)}")
    if problems:
        raise ModelLoadError(f"{source}: does not match the official {model_name} architecture: " + "; ".join(problems))
    model.load_state_dict(state, strict=False)


def _classes_from(state: dict, key: str, source: str, num_classes: int | None) -> int | None:
    weight = state.get(key)
    found = int(weight.shape[0]) if weight is not None and weight.ndim >= 1 else None
    if num_classes is not None and found is not None and found != num_classes:
        raise ModelLoadError(f"{source}: --num-classes {num_classes}, but the checkpoint's classifier has "
                             f"{found} classes ({key} {list(weight.shape)})")
    return found if found is not None else num_classes


def build_lsnet(name: str, state: dict, source: str, num_classes: int | None = None):
    """The official LSNet variant `name` holding `state` (eval mode)."""
    from edgert.zoo.lsnet import lsnet

    classes = _classes_from(state, "head.l.weight", source, num_classes) or 1000
    distillation = any(k.startswith("head_dist.") for k in state)
    # The attention bias table is [heads, R*R] for the R x R stage-4 grid the checkpoint was trained
    # on; a model built for input 64*R has that grid, so the table loads unchanged.
    grid = 4
    table = next((v for k, v in state.items() if k.endswith("attention_biases")), None)
    if table is not None and table.ndim == 2 and math.isqrt(table.shape[1]) ** 2 == table.shape[1]:
        grid = max(1, math.isqrt(table.shape[1]))
    model = lsnet(name, num_classes=classes, distillation=distillation, img_size=64 * grid)
    load_weights(model, state, source, name)
    return model.eval()


def build_femtodet(state: dict, source: str, num_classes: int | None = None):
    """FemtoDet (femtodet_3stage config; the large COCO model's width is recognised too) holding `state`."""
    from edgert.zoo.femtodet import ARCH_SETTINGS, femtodet, make_divisible

    state = {k: v for k, v in state.items() if not k.startswith("ema_")}
    classes = _classes_from(state, "bbox_head.multi_level_conv_cls.0.weight", source, num_classes) or 20
    widen = 0.25
    last = state.get("backbone.layer7.0.conv.2.conv.weight")
    if last is not None:
        widths = {make_divisible(ARCH_SETTINGS[-1][1] * w, 8): w for w in (0.25, 0.5, 0.75, 1.0)}
        widen = widths.get(int(last.shape[0]), widen)
    model = femtodet(classes, widen)
    load_weights(model, state, source, "femtodet")
    return model.eval()


# ------------------------------------------------------------------ ONNX writing


class Value(NamedTuple):
    """A tensor of the graph being written: its ONNX name and its value on the example input."""
    name: str
    t: Any


class GraphWriter:
    """Writes ONNX nodes while computing every value in PyTorch on an example input.

    Model modules describe themselves through `emit(writer, x) -> Value`; plain torch layers are
    handled by `emit` here. Each method computes its result with the torch operation that has the
    ONNX node's semantics, so the shadow values give exact shapes for Reshape/Resize constants and
    let `export_onnx` check the whole graph against the model before anything is written."""

    def __init__(self, portable: bool = False):
        self.portable = portable
        self.nodes: list = []
        self.initializers: list = []
        self.domains: dict[str, int] = {}
        self._counts: dict[str, int] = {}

    # -- bookkeeping

    def _fresh(self, hint: str) -> str:
        count = self._counts.get(hint, 0)
        self._counts[hint] = count + 1
        return f"{hint}_{count}"

    def constant(self, value, hint: str = "const") -> str:
        import onnx.numpy_helper

        array = value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)
        if array.dtype.kind == "f":
            array = array.astype(np.float32)
        name = self._fresh(hint)
        self.initializers.append(onnx.numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def tensor(self, value, hint: str = "const") -> Value:
        """A float constant as a Value, for use as an operand."""
        import torch

        value = torch.as_tensor(value, dtype=torch.float32).detach()
        return Value(self.constant(value, hint), value)

    def node(self, op_type: str, inputs: list[str], results, hint: str | None = None, domain: str = "", **attrs):
        """Append one node; `results` is its torch output (or a list of them). Returns Value(s)."""
        import onnx.helper

        many = isinstance(results, (list, tuple))
        outputs = [self._fresh(hint or op_type.lower()) for _ in (results if many else [results])]
        self.nodes.append(onnx.helper.make_node(op_type, inputs, outputs, name=outputs[0], domain=domain, **attrs))
        values = [Value(n, r) for n, r in zip(outputs, results if many else [results])]
        return values if many else values[0]

    # -- modules

    def emit(self, module, x):
        from torch import nn

        if hasattr(module, "emit"):
            return module.emit(self, x)
        if isinstance(module, nn.Sequential):
            for layer in module:
                x = self.emit(layer, x)
            return x
        if isinstance(module, nn.Identity):
            return x
        if isinstance(module, nn.Conv2d):
            return self.conv(x, module)
        if isinstance(module, nn.ReLU):
            return self.relu(x)
        if isinstance(module, nn.Sigmoid):
            return self.node("Sigmoid", [x.name], x.t.sigmoid())
        if isinstance(module, nn.BatchNorm2d):
            return self.batch_norm(x, module)
        if isinstance(module, nn.GroupNorm):
            return self.group_norm(x, module)
        if isinstance(module, nn.Linear):
            return self.linear(x, module.weight, module.bias)
        raise TypeError(f"no ONNX form for {type(module).__name__}")

    # -- operators

    def conv(self, x: Value, conv) -> Value:
        if conv.padding_mode != "zeros" or isinstance(conv.padding, str):
            raise TypeError(f"conv with padding {conv.padding!r} / mode {conv.padding_mode!r} has no ONNX form here")
        inputs = [x.name, self.constant(conv.weight, "weight")]
        if conv.bias is not None:
            inputs.append(self.constant(conv.bias, "bias"))
        pads = list(conv.padding) * 2
        return self.node("Conv", inputs, conv(x.t), "conv", kernel_shape=list(conv.kernel_size),
                         strides=list(conv.stride), pads=pads, dilations=list(conv.dilation), group=conv.groups)

    def relu(self, x: Value) -> Value:
        return self.node("Relu", [x.name], x.t.relu())

    def add(self, a: Value, b: Value) -> Value:
        return self.node("Add", [a.name, b.name], a.t + b.t)

    def mul(self, a: Value, b: Value) -> Value:
        return self.node("Mul", [a.name, b.name], a.t * b.t)

    def sum(self, values: list[Value]) -> Value:
        import torch

        return self.node("Sum", [v.name for v in values], torch.stack([v.t for v in values]).sum(0))

    def global_average_pool(self, x: Value) -> Value:
        return self.node("GlobalAveragePool", [x.name], x.t.mean((2, 3), keepdim=True), "pool")

    def flatten(self, x: Value) -> Value:
        return self.node("Flatten", [x.name], x.t.flatten(1), axis=1)

    def linear(self, x: Value, weight, bias) -> Value:
        import torch.nn.functional as F

        inputs = [x.name, self.constant(weight, "weight"), self.constant(bias, "bias")]
        return self.node("Gemm", inputs, F.linear(x.t, weight, bias), "gemm", transB=1)

    def batch_norm(self, x: Value, bn) -> Value:
        import torch.nn.functional as F

        inputs = [x.name] + [self.constant(t, hint) for t, hint in (
            (bn.weight, "bn_scale"), (bn.bias, "bn_bias"), (bn.running_mean, "bn_mean"), (bn.running_var, "bn_var"))]
        result = F.batch_norm(x.t, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps)
        return self.node("BatchNormalization", inputs, result, "bn", epsilon=float(bn.eps))

    def group_norm(self, x: Value, gn) -> Value:
        """GroupNorm as Reshape -> InstanceNormalization -> Reshape -> per-channel affine: every
        opset-18 runtime has these (GroupNormalization gets per-channel scale only in opset 21)."""
        import torch
        import torch.nn.functional as F

        n, c = x.t.shape[:2]
        groups = gn.num_groups
        grouped = self.reshape(x, [0, groups, -1])
        ones = self.constant(torch.ones(groups), "gn_ones")
        zeros = self.constant(torch.zeros(groups), "gn_zeros")
        normed = self.node("InstanceNormalization", [grouped.name, ones, zeros],
                           F.instance_norm(grouped.t, eps=gn.eps), "gn", epsilon=float(gn.eps))
        y = self.reshape(normed, [0, *x.t.shape[1:]])
        broadcast = [c] + [1] * (x.t.ndim - 2)
        y = self.mul(y, self.tensor(gn.weight.reshape(broadcast), "gn_scale"))
        return self.add(y, self.tensor(gn.bias.reshape(broadcast), "gn_bias"))

    def reshape(self, x: Value, shape: list[int]) -> Value:
        """Reshape; 0 keeps that input dimension (the batch stays symbolic), -1 is inferred."""
        target = [x.t.shape[i] if d == 0 else d for i, d in enumerate(shape)]
        return self.node("Reshape", [x.name, self.constant(np.asarray(shape, np.int64), "shape")],
                         x.t.reshape(target), "reshape")

    def transpose(self, x: Value, perm: list[int]) -> Value:
        return self.node("Transpose", [x.name], x.t.permute(*perm), perm=list(perm))

    def matmul(self, a: Value, b: Value) -> Value:
        return self.node("MatMul", [a.name, b.name], a.t @ b.t)

    def softmax(self, x: Value, axis: int) -> Value:
        return self.node("Softmax", [x.name], x.t.softmax(dim=axis), axis=axis)

    def split(self, x: Value, sizes: list[int], axis: int) -> list[Value]:
        parts = list(x.t.split(sizes, dim=axis))
        return self.node("Split", [x.name, self.constant(np.asarray(sizes, np.int64), "split")], parts, axis=axis)

    def resize_nearest(self, x: Value, size: tuple[int, int]) -> Value:
        """torch's default F.interpolate (legacy 'nearest': source index floor(i * in / out))."""
        import torch
        import torch.nn.functional as F

        # Full-rank sizes: the batch and channel dims read from the input (the batch is symbolic), then
        # (H, W). Resize's `axes` attribute would avoid this, but not every runtime and quantizer handles it.
        shape = self.node("Shape", [x.name], torch.tensor(x.t.shape), "shape")
        leading = self.node("Slice", [shape.name, self.constant(np.asarray([0], np.int64), "starts"),
                                      self.constant(np.asarray([2], np.int64), "ends")], shape.t[:2], "slice")
        spatial = self.constant(np.asarray(size, np.int64), "sizes")
        sizes = self.node("Concat", [leading.name, spatial], torch.tensor([*x.t.shape[:2], *size]), "sizes", axis=0)
        return self.node("Resize", [x.name, "", "", sizes.name], F.interpolate(x.t, size), "resize",
                         mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")

    def ska(self, x: Value, w: Value, kernel_size: int) -> Value:
        """LSNet's SKA: X [N, C, H, W], W [N, Cw*k*k, H, W] (see edgert.zoo.ska)."""
        from edgert.zoo.lsnet import ska

        n, c, h, width = x.t.shape
        k = kernel_size
        groups = w.t.shape[1] // (k * k)
        if self.portable:
            return self._ska_portable(x, w, k, groups)
        self.domains[ska_spec.DOMAIN] = ska_spec.OPSET_VERSION
        result = ska(x.t, w.t.reshape(n, groups, k * k, h, width))
        return self.node(ska_spec.OP_TYPE, [x.name, w.name], result, "ska", domain=ska_spec.DOMAIN, kernel_size=k)

    def _ska_portable(self, x: Value, w: Value, k: int, groups: int) -> Value:
        """The same sum written as k*k shifted slices of the zero-padded input times one kernel tap each."""
        import torch.nn.functional as F

        n, c, h, width = x.t.shape
        p = (k - 1) // 2
        pads = self.constant(np.asarray([0, 0, p, p, 0, 0, p, p], np.int64), "pads")
        padded = self.node("Pad", [x.name, pads], F.pad(x.t, [p, p, p, p]), "ska_pad")
        # channel c = r*Cw + g uses kernel group g: [N, C/Cw, Cw, H+2p, W+2p] against [N, 1, Cw, H, W]
        padded = self.reshape(padded, [0, c // groups, groups, h + 2 * p, width + 2 * p])
        taps = self.transpose(self.reshape(w, [0, groups, k * k, h, width]), [0, 2, 1, 3, 4])
        taps = self.split(taps, [1] * (k * k), axis=1)
        terms = []
        for i in range(k):
            for j in range(k):
                starts = self.constant(np.asarray([i, j], np.int64), "starts")
                ends = self.constant(np.asarray([i + h, j + width], np.int64), "ends")
                axes = self.constant(np.asarray([3, 4], np.int64), "axes")
                window = self.node("Slice", [padded.name, starts, ends, axes],
                                   padded.t[:, :, :, i:i + h, j:j + width], "ska_window")
                terms.append(self.mul(window, taps[i * k + j]))
        return self.reshape(self.sum(terms), [0, c, h, width])

    # -- the model

    def finish(self, graph_name: str, x: Value, outputs: dict[str, Value], doc: str, metadata: dict[str, str]):
        import onnx
        import onnx.helper

        renames = {v.name: name for name, v in outputs.items()}
        for node in self.nodes:
            node.output[:] = [renames.get(o, o) for o in node.output]
            node.input[:] = [renames.get(i, i) for i in node.input]

        def info(name, tensor):
            return onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, ["N", *tensor.shape[1:]])

        graph = onnx.helper.make_graph(self.nodes, graph_name, [info(x.name, x.t)],
                                       [info(name, v.t) for name, v in outputs.items()], self.initializers)
        opsets = [onnx.helper.make_opsetid("", OPSET)]
        opsets += [onnx.helper.make_opsetid(d, v) for d, v in sorted(self.domains.items())]
        model = onnx.helper.make_model(graph, opset_imports=opsets, producer_name="edgert",
                                       doc_string=doc, ir_version=IR_VERSION)
        for key, value in metadata.items():
            model.metadata_props.add(key=key, value=value)
        return model


def _model_family(model) -> str:
    from edgert.zoo.femtodet import FemtoDet
    from edgert.zoo.lsnet import LSNet

    if isinstance(model, LSNet):
        return "lsnet"
    if isinstance(model, FemtoDet):
        return "femtodet"
    raise TypeError(f"export_onnx takes an edgert.zoo LSNet or FemtoDet, not {type(model).__name__}")


def export_onnx(model, input_size: tuple[int, int], portable: bool = False, graph_name: str | None = None,
                labels: list[str] | None = None):
    """ONNX ModelProto of a zoo model at (H, W), after re-parameterisation, checked against PyTorch.

    LSNet's attention bias is re-tabulated for the input size first (see LSNet.set_input_size)."""
    torch = _torch()
    from edgert.zoo.reparam import reparameterize

    family = _model_family(model)
    height, width = input_size
    deploy = reparameterize(model)
    if family == "lsnet":
        deploy.set_input_size(height, width)
    example = torch.randn(1, 3, height, width, generator=torch.Generator().manual_seed(0))
    writer = GraphWriter(portable=portable)
    with torch.no_grad():
        emitted = writer.emit(deploy, Value(INPUT_NAME, example))
        expected = deploy(example)
    if family == "lsnet":
        from edgert.zoo.lsnet import IMAGENET_MEAN, IMAGENET_STD

        outputs = {"logits": emitted}
        expected = [expected]
        preprocess = {"color": "RGB", "scale": 1 / 255, "mean": IMAGENET_MEAN, "std": IMAGENET_STD,
                      "resize": "bicubic, shorter side to H/0.9, then centre crop (the official crop_pct 0.9)"}
        doc = "LSNet image classifier; output 'logits' [N, classes] (softmax not applied)."
    else:
        from edgert.zoo import femtodet

        outputs = dict(zip(femtodet.FemtoDet.OUTPUT_NAMES, emitted))
        preprocess = {"color": "RGB", "scale": 1 / 255, "mean": femtodet.MEAN, "std": femtodet.STD,
                      "resize": f"keep aspect ratio, pad to a square with {femtodet.PAD_VALUE} at the bottom/right",
                      "stride": femtodet.STRIDE, "decode": "yolox"}
        doc = ("FemtoDet detector, raw head maps at stride 16: cls_score [N, classes, h, w] class logits, "
               "bbox_pred [N, 4, h, w] (dx, dy, log w, log h) in stride units, objectness [N, 1, h, w] logit. "
               "Decode cell (i, j): cx = (dx + i) * 16, cy = (dy + j) * 16, w = exp(log w) * 16, "
               "h = exp(log h) * 16, score = sigmoid(cls) * sigmoid(objectness); then per-class NMS.")
    for (name, value), reference in zip(outputs.items(), expected):
        scale = float(reference.abs().max()) or 1.0
        error = float((value.t - reference).abs().max())
        if value.t.shape != reference.shape or error > SELF_CHECK_TOLERANCE * scale:
            raise EdgeRTError(f"internal error: the ONNX graph's '{name}' differs from the PyTorch model "
                              f"(max error {error:.3g}, shapes {tuple(value.t.shape)} vs {tuple(reference.shape)})")
    metadata = {"edgert.preprocess": json.dumps(preprocess)}
    if labels:
        metadata["edgert.labels"] = json.dumps(list(labels))
    return writer.finish(graph_name or family, Value(INPUT_NAME, example), outputs, doc, metadata)


# ------------------------------------------------------------------ the command


def parse_input_size(text: str) -> tuple[int, int]:
    """'HxW' or 'S' -> (H, W)."""
    parts = text.lower().split("x")
    try:
        size = tuple(int(p) for p in parts)
    except ValueError:
        size = ()
    if len(size) == 1:
        size = size * 2
    if len(size) != 2 or min(size) < 1:
        raise EdgeRTError(f"--input-size {text!r}: expected HxW (or S for a square) with positive sides, e.g. 224x224")
    return size


def _check_output_path(checkpoint: str, output: str, force: bool) -> None:
    out = os.path.abspath(output)
    same = os.path.realpath(out) == os.path.realpath(checkpoint) or (
        os.path.exists(out) and os.path.exists(checkpoint) and os.path.samefile(out, checkpoint))
    if same:
        raise EdgeRTError(f"{output}: the output would overwrite the checkpoint it is converted from")
    if os.path.isdir(out):
        raise EdgeRTError(f"{output}: is a directory; give the .onnx file to write")
    if os.path.exists(out) and not force:
        raise EdgeRTError(f"{output} exists; pass --force to overwrite it")
    if not os.path.isdir(os.path.dirname(out)):
        raise EdgeRTError(f"{output}: no such directory {os.path.dirname(out)}")


def write_model_atomic(model, path: str) -> None:
    """Serialise to a temporary file beside `path`, then rename it into place."""
    directory = os.path.dirname(os.path.abspath(path))
    data = model.SerializeToString()
    try:
        fd, tmp = tempfile.mkstemp(prefix=".edgert-", suffix=".onnx", dir=directory)
    except OSError as e:
        raise EdgeRTError(f"cannot write {path}: {e.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)   # mkstemp's 0600 would make the model private
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


@dataclass
class Conversion:
    """What `convert` wrote."""
    path: str
    model: str
    input_size: tuple[int, int]
    num_classes: int
    portable: bool
    outputs: dict[str, list] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    quantize_report: Any = None     # edgert.tools.quantize's report when quantize=True


def convert(model_name: str, checkpoint: str | os.PathLike, output: str | os.PathLike, *,
            num_classes: int | None = None, input_size: tuple[int, int] | None = None, portable: bool = False, force: bool = False,
            quantize: bool = False, calib: str | os.PathLike | None = None) -> Conversion:
    """Official checkpoint of `model_name` (a key of edgert.zoo.MODELS) -> ONNX file at `output`.

    quantize=True writes an int8 QDQ model instead, calibrated on the images in `calib` with the
    model's own normalisation (edgert.tools.quantize); it needs the portable SKA form, since
    calibration runs on onnxruntime."""
    if model_name not in MODELS:
        raise EdgeRTError(f"unknown model {model_name!r}; edgert converts {', '.join(MODELS)}")
    if quantize and calib is None:
        raise EdgeRTError("--quantize needs --calib DIR, a folder of calibration images")
    if calib is not None and not quantize:
        raise EdgeRTError("--calib is only used with --quantize")
    if quantize and model_name.startswith("lsnet") and not portable:
        raise EdgeRTError("--quantize calibrates on onnxruntime, which cannot run edgert's SKA node: add --portable")
    if num_classes is not None and num_classes < 1:
        raise EdgeRTError(f"--num-classes must be positive, got {num_classes}")
    checkpoint, output = os.fspath(checkpoint), os.fspath(output)
    _check_output_path(checkpoint, output, force)
    size = tuple(input_size) if input_size is not None else MODELS[model_name].input_size
    if len(size) != 2 or min(size) < 1:
        raise EdgeRTError(f"input size must be (H, W) with positive sides, got {size}")
    state, meta = read_checkpoint(checkpoint)
    labels = None
    notes = []
    if model_name == "femtodet":
        dropped = sum(1 for k in state if k.startswith("ema_"))
        model = build_femtodet(state, checkpoint, num_classes)
        if dropped:
            notes.append(f"dropped {dropped} ema_* buffers (the EMA hook's copies of the raw training weights)")
        classes = meta.get("CLASSES")
        if isinstance(classes, (list, tuple)) and len(classes) == model.num_classes:
            labels = [str(c) for c in classes]
        num = model.num_classes
    else:
        model = build_lsnet(model_name, state, checkpoint, num_classes)
        if model.distillation:
            notes.append("distillation head averaged with the classifier head (official eval behaviour)")
        grid = model.attention_modules()[0].grid if model.attention_modules() else None
        from edgert.zoo.lsnet import TOTAL_HALVINGS, halve

        wanted = (halve(size[0], TOTAL_HALVINGS), halve(size[1], TOTAL_HALVINGS))
        if grid is not None and grid != wanted:
            notes.append(f"attention bias resized from the checkpoint's {grid[0]}x{grid[1]} grid to "
                         f"{wanted[0]}x{wanted[1]} for input {size[0]}x{size[1]}")
        num = model.num_classes
    proto = export_onnx(model, size, portable=portable, graph_name=model_name, labels=labels)
    outputs = {o.name: [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim] for o in proto.graph.output}
    result = Conversion(output, model_name, size, num, portable, outputs, notes)
    if not quantize:
        write_model_atomic(proto, output)
        return result
    result.quantize_report = _quantize(proto, output, calib, size, force)
    return result


def _quantize(proto, output: str, calib, size: tuple[int, int], force: bool):
    try:
        from edgert.tools.quantize import quantize_onnx
    except ImportError as e:
        raise BackendUnavailableError(f"--quantize: edgert's quantization tool cannot be imported ({e})") from None
    preprocess = json.loads(next(p.value for p in proto.metadata_props if p.key == "edgert.preprocess"))
    directory = os.path.dirname(os.path.abspath(output))
    fd, fp32_path = tempfile.mkstemp(prefix=".edgert-fp32-", suffix=".onnx", dir=directory)
    os.close(fd)
    try:
        write_model_atomic(proto, fp32_path)
        return quantize_onnx(fp32_path, output, os.fspath(calib), mean=preprocess["mean"], std=preprocess["std"],
                             size=size, force=force)
    finally:
        os.unlink(fp32_path)
