"""TFLite (.tflite file or bytes) -> edgert IR with ONNX semantics.

TFLite stores rank-4 activations as NHWC; the IR is ONNX-shaped (NCHW logical shapes, the
planner chooses the physical layout). Model inputs and outputs keep the NHWC shapes users
feed to LiteRT, with a Transpose after each rank-4 input and before each rank-4 output;
every axis-carrying operator is rewritten for the NCHW order in between.

Quantized (int8/uint8) operators become ONNX QDQ form: each one reads
DequantizeLinear(input) per consumer, computes in float and ends in QuantizeLinear(output),
so edgert's QDQ pass can turn the pattern into integer kernels and the numpy reference can
still evaluate it in fp32. Layout Transposes sit on the quantized side of those nodes so
that every operator's DequantizeLinear -> op -> QuantizeLinear stays contiguous.
"""
from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgert.errors import ModelLoadError, UnsupportedOperatorError
from edgert.ir import Graph, Node, TensorInfo

OPSET = 21
SCHEMA_VERSION = 3
IDENTIFIER = b"TFL3"

# TensorType enum -> numpy dtype (little-endian, as the format stores it).
_DTYPES = {
    0: np.dtype("<f4"), 1: np.dtype("<f2"), 2: np.dtype("<i4"), 3: np.dtype("u1"), 4: np.dtype("<i8"),
    6: np.dtype("?"), 7: np.dtype("<i2"), 9: np.dtype("i1"), 10: np.dtype("<f8"), 12: np.dtype("<u8"),
    15: np.dtype("<u4"), 16: np.dtype("<u2"),
}
_TYPE_NAMES = {
    0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 5: "string", 6: "bool", 7: "int16",
    8: "complex64", 9: "int8", 10: "float64", 11: "complex128", 12: "uint64", 13: "resource",
    14: "variant", 15: "uint32", 16: "uint16", 17: "int4", 18: "bfloat16",
}
F32 = np.dtype(np.float32)
# Activation types the QDQ form carries (ONNX QuantizeLinear outputs).
_QUANT_ACTIVATION = (np.dtype(np.int8), np.dtype(np.uint8), np.dtype(np.int16))

# NHWC (TFLite) <-> NCHW (IR) for rank-4 tensors. TO_IR[i] is the TFLite axis at IR position i.
TO_IR = (0, 3, 1, 2)
TO_TFL = (0, 2, 3, 1)
IR, TFL = "ir", "tfl"
INT64_MIN = -(2 ** 63)

# ActivationFunctionType
_ACT_NONE, _ACT_RELU, _ACT_RELU_N1_TO_1, _ACT_RELU6 = 0, 1, 2, 3
_ACT_NAMES = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH", 5: "SIGN_BIT"}

# Builtin options read per operator: (options table class, {key: getter}).
_OPTIONS = {
    "CONV_2D": ("Conv2DOptions", {
        "padding": "Padding", "stride_w": "StrideW", "stride_h": "StrideH", "activation": "FusedActivationFunction",
        "dilation_w": "DilationWFactor", "dilation_h": "DilationHFactor"}),
    "DEPTHWISE_CONV_2D": ("DepthwiseConv2DOptions", {
        "padding": "Padding", "stride_w": "StrideW", "stride_h": "StrideH", "activation": "FusedActivationFunction",
        "dilation_w": "DilationWFactor", "dilation_h": "DilationHFactor", "depth_multiplier": "DepthMultiplier"}),
    "FULLY_CONNECTED": ("FullyConnectedOptions", {
        "activation": "FusedActivationFunction", "weights_format": "WeightsFormat", "keep_num_dims": "KeepNumDims"}),
    "MAX_POOL_2D": ("Pool2DOptions", {
        "padding": "Padding", "stride_w": "StrideW", "stride_h": "StrideH", "filter_w": "FilterWidth",
        "filter_h": "FilterHeight", "activation": "FusedActivationFunction"}),
    "ADD": ("AddOptions", {"activation": "FusedActivationFunction"}),
    "SUB": ("SubOptions", {"activation": "FusedActivationFunction"}),
    "MUL": ("MulOptions", {"activation": "FusedActivationFunction"}),
    "CONCATENATION": ("ConcatenationOptions", {"axis": "Axis", "activation": "FusedActivationFunction"}),
    "RESIZE_BILINEAR": ("ResizeBilinearOptions", {
        "align_corners": "AlignCorners", "half_pixel_centers": "HalfPixelCenters"}),
    "RESIZE_NEAREST_NEIGHBOR": ("ResizeNearestNeighborOptions", {
        "align_corners": "AlignCorners", "half_pixel_centers": "HalfPixelCenters"}),
    "SOFTMAX": ("SoftmaxOptions", {"beta": "Beta"}),
    "STRIDED_SLICE": ("StridedSliceOptions", {
        "begin_mask": "BeginMask", "end_mask": "EndMask", "ellipsis_mask": "EllipsisMask",
        "new_axis_mask": "NewAxisMask", "shrink_axis_mask": "ShrinkAxisMask", "offset": "Offset"}),
    "SPLIT": ("SplitOptions", {"num_splits": "NumSplits"}),
    "SPLIT_V": ("SplitVOptions", {"num_splits": "NumSplits"}),
    "MEAN": ("ReducerOptions", {"keep_dims": "KeepDims"}),
    "BATCH_MATMUL": ("BatchMatMulOptions", {"adj_x": "AdjX", "adj_y": "AdjY"}),
}
_OPTIONS["AVERAGE_POOL_2D"] = _OPTIONS["MAX_POOL_2D"]


# ---------------------------------------------------------------------------------------- reading


@dataclass(eq=False)
class _Tensor:
    index: int
    name: str                       # as stored in the file, made unique (IR names derive from it)
    shape: tuple
    type_code: int
    buffer: int
    scale: np.ndarray | None = None         # float32, one per tensor or per channel
    zero_point: np.ndarray | None = None    # int64, same length as scale
    quant_axis: int = 0
    data: np.ndarray | None = None          # constant contents, TFLite layout
    sparse: bool = False
    variable: bool = False

    @property
    def dtype(self) -> np.dtype | None:
        return _DTYPES.get(self.type_code)

    @property
    def type_name(self) -> str:
        return _TYPE_NAMES.get(self.type_code, f"type {self.type_code}")

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def quantized(self) -> bool:
        dt = self.dtype
        return self.scale is not None and dt is not None and dt.kind in "iu"


@dataclass(eq=False)
class _Operator:
    index: int
    op_name: str                    # builtin name, or "CUSTOM:<code>"
    inputs: list                    # tensor indices, -1 for an absent optional input
    outputs: list
    options: dict = field(default_factory=dict)


@dataclass(eq=False)
class _Model:
    tensors: list
    operators: list
    inputs: list
    outputs: list


def _read_source(model: Any) -> tuple[bytes, str]:
    if isinstance(model, (bytes, bytearray, memoryview)):
        return bytes(model), "<bytes>"
    try:
        path = Path(os.fspath(model))
    except TypeError:
        raise ModelLoadError(f"a TFLite model is a path, bytes or bytearray, not {type(model).__name__}") from None
    if not path.is_file():
        raise ModelLoadError(f"{path}: no such model file")
    try:
        return path.read_bytes(), str(path)
    except OSError as e:
        raise ModelLoadError(f"{path}: cannot read the file ({e})") from None


class _FlatbufferReader:
    """Copies the parts of a TFLite flatbuffer the importer needs into plain Python objects.

    The generated `tflite` reader classes trust every offset in the file, so each vector
    length is checked against the file size before it is walked, and any out-of-range read
    surfaces as a ModelLoadError naming the file."""

    def __init__(self, data: bytes, source: str):
        self.data, self.source = data, source

    def fail(self, problem: str) -> ModelLoadError:
        return ModelLoadError(f"{self.source}: {problem}")

    def count(self, n: int, element_bytes: int, what: str) -> int:
        if n < 0 or n * element_bytes > len(self.data):
            raise self.fail(f"malformed flatbuffer: {what} claims {n} entries, more than the file holds")
        return n

    def read(self) -> _Model:
        import tflite

        data = self.data
        if len(data) < 8:
            raise self.fail(f"not a TFLite model (file is only {len(data)} bytes)")
        if data[4:8] != IDENTIFIER:
            raise self.fail(f"not a TFLite model (file identifier {data[4:8]!r}, expected {IDENTIFIER!r})")
        try:
            return self._read(tflite)
        except ModelLoadError:
            raise
        except (struct.error, IndexError, ValueError, TypeError, OverflowError, AttributeError) as e:
            raise self.fail(f"malformed or truncated flatbuffer ({type(e).__name__}: {e})") from None

    def _read(self, tflite) -> _Model:
        root = struct.unpack_from("<I", self.data, 0)[0]
        if root + 4 > len(self.data):
            raise self.fail("malformed flatbuffer: root table offset points past the end of the file")
        model = tflite.Model.GetRootAs(self.data, 0)
        if model.Version() != SCHEMA_VERSION:
            raise self.fail(f"TFLite schema version {model.Version()}, edgert reads version {SCHEMA_VERSION}")
        n_sub = self.count(model.SubgraphsLength(), 4, "subgraphs")
        if n_sub != 1:
            raise self.fail(f"the model has {n_sub} subgraphs; edgert imports single-subgraph models "
                            "(control flow such as WHILE/IF is not supported)")
        op_names = self._operator_codes(model)
        n_buffers = self.count(model.BuffersLength(), 4, "buffers")
        sub = model.Subgraphs(0)
        n_tensors = self.count(sub.TensorsLength(), 4, "tensors")
        tensors = []
        used_names: set[str] = set()
        for i in range(n_tensors):
            tensors.append(self._tensor(model, sub.Tensors(i), i, n_buffers, used_names))
        inputs = self._index_list(sub.InputsAsNumpy(), sub.InputsLength(), n_tensors, "subgraph inputs")
        outputs = self._index_list(sub.OutputsAsNumpy(), sub.OutputsLength(), n_tensors, "subgraph outputs")
        operators = []
        for i in range(self.count(sub.OperatorsLength(), 4, "operators")):
            operators.append(self._operator(sub.Operators(i), i, op_names, n_tensors))
        return _Model(tensors, operators, inputs, outputs)

    def _operator_codes(self, model) -> list[str]:
        from tflite.utils import BUILTIN_OPCODE2NAME

        names = []
        for i in range(self.count(model.OperatorCodesLength(), 4, "operator codes")):
            code = model.OperatorCodes(i)
            # Codes above 127 live in builtin_code; deprecated_builtin_code holds the rest.
            builtin = max(int(code.BuiltinCode()), int(code.DeprecatedBuiltinCode()))
            if builtin == 32:  # CUSTOM
                custom = code.CustomCode()
                names.append("CUSTOM:" + (custom.decode("utf-8", "replace") if custom else "?"))
            else:
                names.append(BUILTIN_OPCODE2NAME.get(builtin, f"BUILTIN_{builtin}"))
        return names

    def _index_list(self, array, length: int, n_tensors: int, what: str, optional: bool = False) -> list[int]:
        if length == 0:
            return []
        self.count(length, 4, what)
        values = [int(v) for v in np.asarray(array).reshape(-1)]
        low = -1 if optional else 0
        for v in values:
            if not low <= v < n_tensors:
                raise self.fail(f"{what}: tensor index {v} is out of range (the subgraph has {n_tensors} tensors)")
        return values

    def _tensor(self, model, t, index: int, n_buffers: int, used_names: set) -> _Tensor:
        raw = t.Name()
        name = (raw.decode("utf-8", "replace") if raw else "") or f"tensor_{index}"
        while name in used_names:  # LiteRT allows duplicates; IR names must be unique
            name = f"{name}_{index}"
        used_names.add(name)
        shape = ()
        if t.ShapeLength():
            self.count(t.ShapeLength(), 4, f"shape of tensor '{name}'")
            shape = tuple(int(d) for d in t.ShapeAsNumpy())
        for d in shape:
            if d < 0:
                raise self.fail(f"tensor '{name}' has an unresolved dynamic dimension in shape {list(shape)}")
        buffer = int(t.Buffer())
        if not 0 <= buffer < n_buffers:
            raise self.fail(f"tensor '{name}' refers to buffer {buffer}, but the model has {n_buffers} buffers")
        tensor = _Tensor(index, name, shape, int(t.Type()), buffer,
                         sparse=t.Sparsity() is not None, variable=bool(t.IsVariable()))
        self._quantization(t.Quantization(), tensor)
        tensor.data = self._buffer_data(model.Buffers(buffer), tensor)
        return tensor

    def _quantization(self, q, tensor: _Tensor) -> None:
        if q is None or q.ScaleLength() == 0 or tensor.dtype is None or tensor.dtype.kind not in "iu":
            return  # float tensors may carry leftover min/max/scale metadata: ignored
        n = self.count(q.ScaleLength(), 4, f"quantization scales of tensor '{tensor.name}'")
        scale = np.asarray(q.ScaleAsNumpy(), dtype=np.float32).reshape(-1).copy()
        n_zp = q.ZeroPointLength()
        if n_zp == 0:
            zp = np.zeros(n, np.int64)
        else:
            self.count(n_zp, 8, f"zero points of tensor '{tensor.name}'")
            zp = np.asarray(q.ZeroPointAsNumpy(), dtype=np.int64).reshape(-1).copy()
            if zp.size == 1 and n > 1:
                zp = np.full(n, zp[0], np.int64)
        if zp.size != n:
            raise self.fail(f"tensor '{tensor.name}' has {n} quantization scales but {zp.size} zero points")
        if not np.all(np.isfinite(scale)) or np.any(scale <= 0):
            raise self.fail(f"tensor '{tensor.name}' has a non-positive or non-finite quantization scale")
        axis = int(q.QuantizedDimension())
        if n > 1 and not 0 <= axis < max(tensor.rank, 1):
            raise self.fail(f"tensor '{tensor.name}' is quantized along axis {axis}, outside its rank {tensor.rank}")
        if n > 1 and tensor.shape[axis] != n:
            raise self.fail(f"tensor '{tensor.name}' has {n} quantization scales for {tensor.shape[axis]} "
                            f"channels along axis {axis}")
        tensor.scale, tensor.zero_point, tensor.quant_axis = scale, zp, axis

    def _buffer_data(self, buf, tensor: _Tensor) -> np.ndarray | None:
        offset = int(buf.Offset()) if hasattr(buf, "Offset") else 0
        if offset > 1:  # large models keep buffers after the flatbuffer: (offset, size) into the file
            size = int(buf.Size())
            if offset + size > len(self.data):
                raise self.fail(f"buffer of tensor '{tensor.name}' lies outside the file "
                                f"(offset {offset} + size {size} > {len(self.data)} bytes)")
            raw_start, nbytes = offset, size
        else:
            nbytes = buf.DataLength()
            if nbytes == 0:
                return None
            self.count(nbytes, 1, f"data of tensor '{tensor.name}'")
            raw_start = buf._tab.Vector(buf._tab.Offset(4))
            if raw_start + nbytes > len(self.data):
                raise self.fail(f"buffer of tensor '{tensor.name}' runs past the end of the file")
        if nbytes == 0:
            return None
        dtype = tensor.dtype
        if dtype is None:
            raise self.fail(f"tensor '{tensor.name}' holds {tensor.type_name} data, which edgert does not read")
        expected = math.prod(tensor.shape) * dtype.itemsize
        if expected != nbytes:
            raise self.fail(f"tensor '{tensor.name}': buffer holds {nbytes} bytes, but shape {list(tensor.shape)} "
                            f"of {tensor.type_name} needs {expected}")
        array = np.frombuffer(self.data, dtype=dtype, count=nbytes // dtype.itemsize, offset=raw_start)
        return array.astype(dtype.newbyteorder("="), copy=True).reshape(tensor.shape)

    def _operator(self, op, index: int, op_names: list, n_tensors: int) -> _Operator:
        code = int(op.OpcodeIndex())
        if not 0 <= code < len(op_names):
            raise self.fail(f"operator {index} uses opcode index {code}, "
                            f"but the model has {len(op_names)} operator codes")
        name = op_names[code]
        where = f"of operator {index} ({name})"
        inputs = self._index_list(op.InputsAsNumpy(), op.InputsLength(), n_tensors, f"inputs {where}", optional=True)
        outputs = self._index_list(op.OutputsAsNumpy(), op.OutputsLength(), n_tensors, f"outputs {where}")
        return _Operator(index, name, inputs, outputs, self._options(op, name, index))

    def _options(self, op, name: str, index: int) -> dict:
        spec = _OPTIONS.get(name)
        if spec is None:
            return {}
        import tflite

        class_name, getters = spec
        cls = getattr(tflite, class_name)
        expected = getattr(tflite.BuiltinOptions, class_name)
        kind = int(op.BuiltinOptionsType())
        options = cls()
        if kind == 0:  # absent: the schema defaults
            options.Init(*_empty_table())
        elif kind != expected:
            raise self.fail(f"operator {index} ({name}) carries builtin options of union type {kind}, "
                            f"expected {expected}")
        else:
            table = op.BuiltinOptions()
            options.Init(table.Bytes, table.Pos)
        return {key: getattr(options, getter)() for key, getter in getters.items()}


_EMPTY_TABLE = None


def _empty_table() -> tuple[bytes, int]:
    """A flatbuffer table with no fields: reading options from it yields the schema defaults."""
    global _EMPTY_TABLE
    if _EMPTY_TABLE is None:
        import flatbuffers

        builder = flatbuffers.Builder(16)
        builder.StartObject(0)
        builder.Finish(builder.EndObject())
        buf = bytes(builder.Output())
        _EMPTY_TABLE = (buf, struct.unpack_from("<I", buf, 0)[0])
    return _EMPTY_TABLE


# ---------------------------------------------------------------------------------------- conversion


def _compose(first, then) -> list[int]:
    """Permutation equal to transposing by `first`, then by `then`."""
    return [first[i] for i in then]


def _ir_axis(axis: int, rank: int) -> int:
    """Position in the IR (NCHW) order of TFLite axis `axis` of a tensor of this rank."""
    return TO_IR.index(axis) if rank == 4 else axis


class _Converter:
    def __init__(self, model: _Model, source: str):
        self.model, self.source = model, source
        self.tensors = model.tensors
        self.nodes: list[Node] = []
        self.constants: dict[str, np.ndarray] = {}
        self.names: set[str] = {t.name for t in self.tensors}
        self.stored: dict[int, str] = {}          # tensor index -> IR value (IR layout, quantized dtype if quantized)
        self.folded: dict[int, np.ndarray] = {}   # tensors made constant at import (float16 DEQUANTIZE)
        self.const_alias: dict[int, _Tensor] = {}  # DEQUANTIZE of a quantized constant -> that constant
        self.converted: dict[tuple, str] = {}     # (tensor, layout, rank) -> converted stored-dtype value
        self.const_names: dict[tuple, str] = {}
        self.quant_names: dict[int, tuple[str, str]] = {}
        self.op: _Operator | None = None
        self.op_label = ""
        self.op_first_node = 0
        self.temps: set[str] = set()
        self.graph_outputs = set(model.outputs)

    # ------------------------------------------------------------------ naming and emission

    def fresh(self, base: str) -> str:
        name, k = base, 1
        while name in self.names:
            k += 1
            name = f"{base}:{k}"
        self.names.add(name)
        return name

    def emit(self, op_type: str, inputs: list[str], n_out: int = 1, **attrs) -> list[str]:
        node_name = self.fresh(f"{self.op_label}/{op_type}")
        outputs = [self.fresh(f"{self.op_label}/{op_type}:out{i}" if n_out > 1 else f"{self.op_label}/{op_type}:out")
                   for i in range(n_out)]
        self.nodes.append(Node(op_type, node_name, list(inputs), outputs, attrs))
        self.temps.update(outputs)
        return outputs

    def emit1(self, op_type: str, inputs: list[str], **attrs) -> str:
        return self.emit(op_type, inputs, 1, **attrs)[0]

    def const(self, base: str, array: np.ndarray) -> str:
        name = self.fresh(base)
        self.constants[name] = np.ascontiguousarray(array)
        return name

    def shared_const(self, array: np.ndarray, base: str) -> str:
        """One constant per distinct small value (clip bounds, reshape shapes, axes)."""
        array = np.ascontiguousarray(array)
        key = (array.dtype.str, array.shape, array.tobytes())
        if key not in self.const_names:
            self.const_names[key] = self.const(base, array)
        return self.const_names[key]

    def int64s(self, values, base: str) -> str:
        return self.shared_const(np.asarray(list(values), dtype=np.int64), base)

    def scalar(self, value: float) -> str:
        return self.shared_const(np.asarray(value, dtype=np.float32), f"const_{value:g}")

    # ------------------------------------------------------------------ errors

    def where(self) -> str:
        op = self.op
        outs = [self.tensors[i].name for i in op.outputs]
        return f"operator {op.index} (output '{outs[0]}')" if outs else f"operator {op.index}"

    def unsupported(self, detail: str) -> UnsupportedOperatorError:
        return UnsupportedOperatorError(self.op.op_name, self.where(), detail)

    def invalid(self, detail: str) -> ModelLoadError:
        return ModelLoadError(f"{self.source}: {self.op.op_name} {self.where()}: {detail}")

    # ------------------------------------------------------------------ tensors

    def tensor(self, position: int, required: bool = True) -> _Tensor | None:
        ins = self.op.inputs
        index = ins[position] if position < len(ins) else -1
        if index < 0:
            if required:
                raise self.invalid(f"input {position} is missing")
            return None
        return self.tensors[index]

    def output(self, position: int = 0) -> _Tensor:
        if position >= len(self.op.outputs):
            raise self.invalid(f"output {position} is missing")
        return self.tensors[self.op.outputs[position]]

    def expect_inputs(self, low: int, high: int | None = None) -> None:
        n = len(self.op.inputs)
        high = low if high is None else high
        if not low <= n <= high:
            want = str(low) if low == high else f"{low} to {high}"
            raise self.invalid(f"has {n} inputs, expected {want}")

    def expect_shape(self, t: _Tensor, shape) -> None:
        shape = tuple(int(d) for d in shape)
        if tuple(t.shape) != shape:
            raise self.invalid(f"the file declares output '{t.name}' with shape {list(t.shape)}, "
                               f"but the operator produces {list(shape)}")

    def constant_info(self, t: _Tensor) -> tuple[np.ndarray, _Tensor | None] | None:
        """(data in TFLite layout, the quantized tensor describing it or None), or None at run time."""
        if t.index in self.folded:
            return self.folded[t.index], None
        if t.index in self.const_alias:
            src = self.const_alias[t.index]
            return src.data, src
        if t.data is not None:
            if t.sparse:
                raise self.unsupported(f"sparse constant tensor '{t.name}'")
            return t.data, (t if t.quantized else None)
        return None

    def const_ints(self, t: _Tensor, what: str) -> np.ndarray:
        """Integer constant contents (shapes, axes, paddings, slice bounds) as int64."""
        info = self.constant_info(t)
        if info is None:
            raise self.unsupported(f"{what} ('{t.name}') must be a constant tensor")
        if info[0].dtype.kind not in "iu":
            raise self.invalid(f"{what} ('{t.name}') must be integers, is {info[0].dtype}")
        return info[0].astype(np.int64)

    def quant_params(self, t: _Tensor) -> tuple[str, str]:
        """Scalar (scale, zero point) constants of a per-tensor quantized activation."""
        if t.index not in self.quant_names:
            if t.scale.size != 1:
                raise self.unsupported(f"activation tensor '{t.name}' is quantized per channel")
            dtype = t.dtype.newbyteorder("=")
            info = np.iinfo(dtype)
            zp = int(t.zero_point[0])
            if not info.min <= zp <= info.max:
                raise ModelLoadError(f"{self.source}: tensor '{t.name}' has zero point {zp} outside {dtype}")
            scale = self.const(f"{t.name}:scale", np.asarray(t.scale[0], np.float32))
            zero = self.const(f"{t.name}:zero_point", np.asarray(zp, dtype))
            self.quant_names[t.index] = (scale, zero)
        return self.quant_names[t.index]

    def check_activation(self, t: _Tensor) -> None:
        if t.variable:
            raise self.unsupported(f"variable tensor '{t.name}'")
        if t.quantized:
            if t.dtype not in _QUANT_ACTIVATION:
                raise self.unsupported(f"quantized {t.type_name} activation '{t.name}'")
        elif t.dtype != F32:
            raise self.unsupported(f"tensor '{t.name}' is {t.type_name}; edgert imports float32 and "
                                   "int8/uint8 quantized activations")

    # ------------------------------------------------------------------ reading operands

    def read(self, t: _Tensor, layout: str = IR, rank: int | None = None) -> str:
        """A float32 value of tensor t: IR layout (NCHW for rank 4) or TFLite layout, optionally
        broadcast-expanded to `rank` dims first (leading 1s, as numpy broadcasting aligns)."""
        rank = t.rank if rank is None or rank < t.rank else rank
        info = self.constant_info(t)
        if info is not None:
            return self._read_const(t, info, layout, rank)
        self.check_activation(t)
        value = self._converted(t, layout, rank)
        if t.quantized:
            scale, zero = self.quant_params(t)
            value = self.emit1("DequantizeLinear", [value, scale, zero])
        return value

    def produced(self, t: _Tensor) -> str:
        """The IR value an earlier operator (or the graph input) stored for t."""
        if t.index not in self.stored:
            raise ModelLoadError(f"{self.source}: {self.op.op_name} {self.where()} reads tensor '{t.name}' "
                                 "before any operator produces it")
        return self.stored[t.index]

    def _converted(self, t: _Tensor, layout: str, rank: int) -> str:
        """t's stored value expanded to `rank` and put in `layout`, on its stored dtype."""
        value = self.produced(t)
        if rank == t.rank and (rank != 4 or layout == IR):
            return value
        key = (t.index, layout, rank)
        if key not in self.converted:
            if rank != t.rank:  # runtime broadcast operand: add the leading dims in TFLite order
                value = self.emit1("Reshape", [value, self.int64s((1,) * (rank - t.rank) + t.shape, "shape")])
            elif t.rank == 4:
                value = self.emit1("Transpose", [value], perm=list(TO_TFL))
            if rank == 4 and layout == IR and t.rank != 4:
                value = self.emit1("Transpose", [value], perm=list(TO_IR))
            self.temps.discard(value)  # shared by later consumers: never renamed
            self.converted[key] = value
        return self.converted[key]

    def _read_const(self, t: _Tensor, info, layout: str, rank: int) -> str:
        array, qsrc = info
        if array.dtype == np.float16:
            array = array.astype(np.float32)
        if array.ndim < rank:
            array = array.reshape((1,) * (rank - array.ndim) + array.shape)
        axis = None
        if qsrc is not None and qsrc.scale.size > 1:
            axis = qsrc.quant_axis + (rank - qsrc.rank)
        if array.ndim == 4 and layout == IR:
            array = array.transpose(TO_IR)
            axis = None if axis is None else TO_IR.index(axis)
        if qsrc is None:
            if array.dtype != F32:
                raise self.unsupported(f"constant '{t.name}' is {array.dtype}; a float operand is needed here")
            return self._cached_const(t, layout, rank, array)
        data = self._cached_const(t, layout, rank, array)
        return self.dequantize_const(qsrc, data, axis)

    def _cached_const(self, t: _Tensor, layout: str, rank: int, array: np.ndarray) -> str:
        key = ("tensor", t.index, layout, rank)
        if key not in self.const_names:
            self.const_names[key] = self.const(t.name if layout == TFL or t.rank != 4 else f"{t.name}:nchw", array)
        return self.const_names[key]

    def dequantize_const(self, q: _Tensor, data: str, axis: int | None, channels: int | None = None) -> str:
        """DequantizeLinear of a constant; per channel along `axis` when the tensor has several
        scales (or `channels` asks for a per-channel form, as weights always get)."""
        dtype = np.dtype(self.constants[data].dtype)
        if channels is not None:
            scale = np.broadcast_to(q.scale, (channels,)).astype(np.float32)
            zp = np.broadcast_to(q.zero_point, (channels,)).astype(dtype)
            attrs = {"axis": 0 if axis is None else axis}
        elif q.scale.size > 1:
            scale, zp, attrs = q.scale.astype(np.float32), q.zero_point.astype(dtype), {"axis": axis}
        else:
            scale, zp, attrs = np.asarray(q.scale[0], np.float32), np.asarray(q.zero_point[0], dtype), {}
        info = np.iinfo(dtype)
        if np.any(q.zero_point < info.min) or np.any(q.zero_point > info.max):
            raise ModelLoadError(f"{self.source}: tensor '{q.name}' has zero points outside {dtype}")
        return self.emit1("DequantizeLinear", [data, self.const(f"{q.name}:scale", scale),
                                               self.const(f"{q.name}:zero_point", zp)], **attrs)

    def weights(self, t: _Tensor, transform, channels: int, quant_axis_in_file: int) -> str:
        """Constant weights in ONNX order (transform maps the TFLite array); quantized weights become
        DequantizeLinear(int constant, scale[channels], zero points, axis=0)."""
        info = self.constant_info(t)
        if info is None:
            raise self.unsupported(f"weights '{t.name}' must be a constant tensor")
        array, qsrc = info
        if array.dtype == np.float16:
            array = array.astype(np.float32)
        data = self.const(f"{t.name}:onnx", transform(array))
        if qsrc is None:
            if array.dtype != F32:
                raise self.unsupported(f"weights '{t.name}' are {array.dtype} without quantization parameters")
            return data
        if qsrc.scale.size > 1 and qsrc.quant_axis != quant_axis_in_file:
            raise self.unsupported(f"weights '{t.name}' are quantized along axis {qsrc.quant_axis}, "
                                   f"expected the output-channel axis {quant_axis_in_file}")
        return self.dequantize_const(qsrc, data, 0, channels=channels)

    def bias(self, t: _Tensor | None, x: _Tensor, w: _Tensor, channels: int) -> str | None:
        """Bias as a float value; int32 biases of quantized operators dequantize with
        scale = input_scale * weight_scale, the scale TFLite's integer kernels use."""
        if t is None:
            return None
        info = self.constant_info(t)
        if info is None:
            raise self.unsupported(f"bias '{t.name}' must be a constant tensor")
        array, qsrc = info
        if array.size != channels:
            raise self.invalid(f"bias '{t.name}' has {array.size} values for {channels} output channels")
        array = array.reshape(channels)
        if array.dtype.kind == "f":
            return self.const(t.name, array.astype(np.float32))
        if array.dtype != np.int32:
            raise self.unsupported(f"{array.dtype} bias '{t.name}' (int32 and float biases are supported)")
        w_info = self.constant_info(w)
        w_q = w_info[1] if w_info is not None else None
        if x.quantized and w_q is not None:
            w_scale = np.broadcast_to(w_q.scale.astype(np.float64), (channels,))
            scale = (np.float64(x.scale[0]) * w_scale).astype(np.float32)
        elif qsrc is not None:
            scale = np.broadcast_to(qsrc.scale, (channels,)).astype(np.float32)
        else:
            raise self.invalid(f"int32 bias '{t.name}' without quantized input and weights")
        data = self.const(f"{t.name}:int32", array)
        zero = self.const(f"{t.name}:zero_point", np.zeros(channels, np.int32))
        return self.emit1("DequantizeLinear", [data, self.const(f"{t.name}:scale", scale), zero], axis=0)

    # ------------------------------------------------------------------ writing results

    def write(self, t: _Tensor, value: str, layout: str = IR) -> None:
        """Store float32 `value` (in `layout`) as tensor t: quantize when t is quantized, then move
        rank-4 results to the IR layout."""
        if t.index in self.stored or t.index in self.folded or t.index in self.const_alias or t.data is not None:
            raise ModelLoadError(f"{self.source}: tensor '{t.name}' is written by more than one operator "
                                 "or is also a constant")
        self.check_activation(t)
        if t.quantized:
            scale, zero = self.quant_params(t)
            value = self.emit1("QuantizeLinear", [value, scale, zero])
        if t.rank == 4 and layout == TFL:
            value = self.emit1("Transpose", [value], perm=list(TO_IR))
        self.bind(t, value)

    def stored_name(self, t: _Tensor) -> str:
        # A rank-4 graph output is transposed back to NHWC under its own name at the end.
        if t.rank == 4 and t.index in self.graph_outputs:
            return self.fresh(f"{t.name}:nchw")
        return t.name

    def bind(self, t: _Tensor, value: str) -> None:
        target = self.stored_name(t)
        if value in self.temps:  # produced by this operator: give it the tensor's name
            for node in self.nodes[self.op_first_node:]:
                node.inputs = [target if i == value else i for i in node.inputs]
                node.outputs = [target if o == value else o for o in node.outputs]
            self.temps.discard(value)
        else:
            self.nodes.append(Node("Identity", self.fresh(f"{self.op_label}/Identity"), [value], [target]))
        self.stored[t.index] = target

    def activation(self, value: str, code: int) -> str:
        if code == _ACT_NONE:
            return value
        if code == _ACT_RELU:
            return self.emit1("Relu", [value])
        if code == _ACT_RELU6:
            return self.emit1("Clip", [value, self.scalar(0.0), self.scalar(6.0)])
        if code == _ACT_RELU_N1_TO_1:
            return self.emit1("Clip", [value, self.scalar(-1.0), self.scalar(1.0)])
        # LiteRT's kernels for these operators clamp for the RELU family only and silently skip a
        # fused TANH or SIGN_BIT; rather than guess which result the file means, refuse it.
        raise self.unsupported(f"fused activation {_ACT_NAMES.get(code, code)} (LiteRT does not apply it on "
                               f"{self.op.op_name})")

    # ------------------------------------------------------------------ graph

    def convert(self) -> Graph:
        model = self.model
        inputs = []
        for index in model.inputs:
            t = self.tensors[index]
            if t.data is not None:
                raise ModelLoadError(f"{self.source}: graph input '{t.name}' is a constant tensor")
            if (t.quantized and t.dtype not in _QUANT_ACTIVATION) or (not t.quantized and t.dtype != F32):
                raise ModelLoadError(f"{self.source}: graph input '{t.name}' is {t.type_name}; edgert imports "
                                     "float32 and int8/uint8 quantized inputs")
            if index in self.graph_outputs:
                raise ModelLoadError(f"{self.source}: tensor '{t.name}' is both a graph input and a graph output")
            inputs.append(TensorInfo(t.name, tuple(t.shape), t.dtype.newbyteorder("=")))
            if t.rank == 4:  # users feed NHWC, as LiteRT takes it
                stored = self.fresh(f"{t.name}:nchw")
                self.nodes.append(Node("Transpose", self.fresh(f"{t.name}/to_nchw"), [t.name], [stored],
                                       {"perm": list(TO_IR)}))
                self.stored[index] = stored
            else:
                self.stored[index] = t.name
        for op in model.operators:
            self.op = op
            self.op_label = self.fresh(f"{op.op_name.split(':')[0]}_{op.index}")
            self.op_first_node = len(self.nodes)
            self.temps = set()
            handler = _HANDLERS.get(op.op_name)
            if handler is None:
                kind = "custom operator" if op.op_name.startswith("CUSTOM:") else "operator"
                raise self.unsupported(f"edgert does not import this TFLite {kind}")
            handler(self)
        outputs = self._bind_outputs()
        graph = Graph(self.nodes, inputs, outputs, self.constants, OPSET, self.source)
        graph.remove_dead_nodes()
        return graph

    def _bind_outputs(self) -> list[TensorInfo]:
        """Each output under its tensor name, rank-4 ones transposed back to NHWC."""
        outputs = []
        if not self.model.outputs:
            raise ModelLoadError(f"{self.source}: the model has no outputs")
        if len(set(self.model.outputs)) != len(self.model.outputs):
            raise ModelLoadError(f"{self.source}: a tensor is listed twice among the graph outputs")
        for index in self.model.outputs:
            t = self.tensors[index]
            self.op = _Operator(len(self.model.operators), "OUTPUT", [], [index])
            self.op_label = self.fresh(f"{t.name}/output")
            self.op_first_node = len(self.nodes)
            self.temps = set()
            if t.index in self.stored:
                value = self.stored[t.index]
            elif self.constant_info(t) is not None:
                value = self.read(t) if t.index in self.const_alias else self._plain_constant(t)
            else:
                raise ModelLoadError(f"{self.source}: graph output '{t.name}' is never produced")
            if t.rank == 4:
                self.nodes.append(Node("Transpose", self.fresh(f"{t.name}/to_nhwc"), [value], [t.name],
                                       {"perm": list(TO_TFL)}))
            elif value != t.name:
                self.nodes.append(Node("Identity", self.fresh(f"{t.name}/output"), [value], [t.name]))
            dtype = F32 if t.index in self.folded or t.index in self.const_alias else t.dtype.newbyteorder("=")
            outputs.append(TensorInfo(t.name, tuple(t.shape), dtype))
        return outputs

    def _plain_constant(self, t: _Tensor) -> str:
        array = self.constant_info(t)[0]
        return self._cached_const(t, IR, t.rank, array.transpose(TO_IR) if array.ndim == 4 else array)


# ---------------------------------------------------------------------------------------- operators

_HANDLERS: dict = {}


def handles(*names: str):
    def register(fn):
        for n in names:
            _HANDLERS[n] = fn
        return fn

    return register


def _padding(c: _Converter, code: int, in_hw, kernel, strides, dilations) -> tuple[list[int], list[int]]:
    """ONNX pads [top, left, bottom, right] and the output (H, W) for TFLite SAME/VALID padding.
    SAME puts the odd pixel at the end, as TFLite does."""
    begins, ends, out = [], [], []
    for size, k, s, d in zip(in_hw, kernel, strides, dilations):
        if k <= 0 or s <= 0 or d <= 0:
            raise c.invalid(f"kernel {list(kernel)}, strides {list(strides)} and dilations {list(dilations)} "
                            "must be positive")
        extent = (k - 1) * d + 1
        if code == 0:  # SAME
            o = -(-size // s)
            total = max((o - 1) * s + extent - size, 0)
            begins.append(total // 2)
            ends.append(total - total // 2)
        elif code == 1:  # VALID
            if size < extent:
                raise c.invalid(f"window {extent} is larger than the input ({size}) with VALID padding")
            o = (size - extent) // s + 1
            begins.append(0)
            ends.append(0)
        else:
            raise c.invalid(f"unknown padding type {code}")
        out.append(o)
    return begins + ends, out


def _spatial_input(c: _Converter, x: _Tensor) -> None:
    if x.rank != 4:
        raise c.invalid(f"input '{x.name}' must be rank 4 (NHWC), has shape {list(x.shape)}")


@handles("CONV_2D")
def _conv2d(c: _Converter) -> None:
    c.expect_inputs(2, 3)
    x, w, b, y = c.tensor(0), c.tensor(1), c.tensor(2, required=False), c.output()
    opts = c.op.options
    _spatial_input(c, x)
    if w.rank != 4:
        raise c.invalid(f"weights '{w.name}' must be [out, kh, kw, in], have shape {list(w.shape)}")
    c_out, kh, kw, c_in_g = w.shape
    n, h, wd, c_in = x.shape
    if c_in_g == 0 or c_in == 0 or c_in % c_in_g or c_out % (c_in // c_in_g):
        raise c.invalid(f"input channels {c_in} do not fit weights {list(w.shape)}")
    groups = c_in // c_in_g
    strides, dilations = [opts["stride_h"], opts["stride_w"]], [opts["dilation_h"], opts["dilation_w"]]
    pads, out_hw = _padding(c, opts["padding"], (h, wd), (kh, kw), strides, dilations)
    c.expect_shape(y, (n, *out_hw, c_out))
    weights = c.weights(w, lambda a: a.transpose(0, 3, 1, 2), c_out, 0)
    inputs = [c.read(x), weights]
    bias = c.bias(b, x, w, c_out)
    if bias is not None:
        inputs.append(bias)
    value = c.emit1("Conv", inputs, kernel_shape=[kh, kw], strides=strides, dilations=dilations, pads=pads,
                    group=groups)
    c.write(y, c.activation(value, opts["activation"]))


@handles("DEPTHWISE_CONV_2D")
def _depthwise_conv2d(c: _Converter) -> None:
    c.expect_inputs(2, 3)
    x, w, b, y = c.tensor(0), c.tensor(1), c.tensor(2, required=False), c.output()
    opts = c.op.options
    _spatial_input(c, x)
    if w.rank != 4 or w.shape[0] != 1:
        raise c.invalid(f"depthwise weights '{w.name}' must be [1, kh, kw, channels], have shape {list(w.shape)}")
    _, kh, kw, c_out = w.shape
    n, h, wd, c_in = x.shape
    if c_in == 0 or c_out % c_in:
        raise c.invalid(f"{c_out} output channels are not a multiple of the {c_in} input channels")
    strides, dilations = [opts["stride_h"], opts["stride_w"]], [opts["dilation_h"], opts["dilation_w"]]
    pads, out_hw = _padding(c, opts["padding"], (h, wd), (kh, kw), strides, dilations)
    c.expect_shape(y, (n, *out_hw, c_out))
    # [1, kh, kw, C*m] -> [C*m, 1, kh, kw]: output channel c*m + j reads input channel c, as group=C does.
    weights = c.weights(w, lambda a: a.reshape(kh, kw, c_out).transpose(2, 0, 1)[:, None], c_out, 3)
    inputs = [c.read(x), weights]
    bias = c.bias(b, x, w, c_out)
    if bias is not None:
        inputs.append(bias)
    value = c.emit1("Conv", inputs, kernel_shape=[kh, kw], strides=strides, dilations=dilations, pads=pads, group=c_in)
    c.write(y, c.activation(value, opts["activation"]))


@handles("FULLY_CONNECTED")
def _fully_connected(c: _Converter) -> None:
    c.expect_inputs(2, 3)
    x, w, b, y = c.tensor(0), c.tensor(1), c.tensor(2, required=False), c.output()
    opts = c.op.options
    if opts["weights_format"] != 0:
        raise c.unsupported("shuffled weights format (only DEFAULT is supported)")
    if w.rank != 2:
        raise c.invalid(f"weights '{w.name}' must be [units, depth], have shape {list(w.shape)}")
    units, depth = w.shape
    size = math.prod(x.shape)
    if depth == 0 or size % depth:
        raise c.invalid(f"input shape {list(x.shape)} does not flatten to rows of {depth}")
    rows = size // depth
    value = c.read(x, TFL)  # TFLite flattens the NHWC order
    if x.rank != 2 or x.shape[1] != depth:
        value = c.emit1("Reshape", [value, c.int64s([rows, depth], "shape")])
    if c.constant_info(w) is not None:
        weights = c.weights(w, lambda a: a, units, 0)
    else:
        weights = c.read(w)
    inputs = [value, weights]
    bias = c.bias(b, x, w, units)
    if bias is not None:
        inputs.append(bias)
    value = c.emit1("Gemm", inputs, transB=1)
    shape = (*x.shape[:-1], units) if opts["keep_num_dims"] else (rows, units)
    c.expect_shape(y, shape)
    if len(shape) != 2:
        value = c.emit1("Reshape", [value, c.int64s(shape, "shape")])
    c.write(y, c.activation(value, opts["activation"]), TFL)


@handles("ADD", "SUB", "MUL")
def _binary(c: _Converter) -> None:
    c.expect_inputs(2)
    a, b, y = c.tensor(0), c.tensor(1), c.output()
    try:
        shape = np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise c.invalid(f"shapes {list(a.shape)} and {list(b.shape)} do not broadcast") from None
    c.expect_shape(y, shape)
    # ONNX broadcasting aligns trailing axes, which for rank 4 are W, not TFLite's C: expand the
    # lower-rank operand to rank 4 in NHWC order before it moves to NCHW.
    rank = 4 if len(shape) == 4 else None
    op_type = {"ADD": "Add", "SUB": "Sub", "MUL": "Mul"}[c.op.op_name]
    value = c.emit1(op_type, [c.read(a, IR, rank), c.read(b, IR, rank)])
    c.write(y, c.activation(value, c.op.options["activation"]))


@handles("RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1", "LOGISTIC", "TANH", "HARD_SWISH")
def _unary(c: _Converter) -> None:
    c.expect_inputs(1)
    x, y = c.tensor(0), c.output()
    c.expect_shape(y, x.shape)
    value = c.read(x)
    name = c.op.op_name
    if name == "RELU":
        value = c.emit1("Relu", [value])
    elif name in ("RELU6", "RELU_N1_TO_1", "RELU_0_TO_1"):
        lo, hi = {"RELU6": (0.0, 6.0), "RELU_N1_TO_1": (-1.0, 1.0), "RELU_0_TO_1": (0.0, 1.0)}[name]
        value = c.emit1("Clip", [value, c.scalar(lo), c.scalar(hi)])
    else:
        value = c.emit1({"LOGISTIC": "Sigmoid", "TANH": "Tanh", "HARD_SWISH": "HardSwish"}[name], [value])
    c.write(y, value)


@handles("RSQRT")
def _rsqrt(c: _Converter) -> None:
    """1 / sqrt(x) (edgert's exporter writes it for LSNet's GroupNorm)."""
    c.expect_inputs(1)
    x, y = c.tensor(0), c.output()
    c.expect_shape(y, x.shape)
    c.write(y, c.emit1("Reciprocal", [c.emit1("Sqrt", [c.read(x)])]))


@handles("BATCH_MATMUL")
def _batch_matmul(c: _Converter) -> None:
    """Product of the last two axes in TFLite's own axis order (adj_x / adj_y transpose them),
    the leading axes broadcasting; rank-4 operands are not NHWC images here, so they are read
    and written in the file's order."""
    c.expect_inputs(2)
    a, b, y = c.tensor(0), c.tensor(1), c.output()
    if a.rank < 2 or b.rank < 2:
        raise c.invalid(f"operands of rank {a.rank} and {b.rank}; BATCH_MATMUL needs rank >= 2")
    opts = c.op.options
    values, shapes = [], []
    for t, adjoint in ((a, opts["adj_x"]), (b, opts["adj_y"])):
        value, shape = c.read(t, TFL), list(t.shape)
        if adjoint:
            perm = list(range(t.rank - 2)) + [t.rank - 1, t.rank - 2]
            value, shape = c.emit1("Transpose", [value], perm=perm), [shape[i] for i in perm]
        values.append(value)
        shapes.append(shape)
    (m, k), (k2, n) = shapes[0][-2:], shapes[1][-2:]
    if k != k2:
        raise c.invalid(f"inner dimensions differ: {shapes[0]} x {shapes[1]}")
    try:
        batch = np.broadcast_shapes(tuple(shapes[0][:-2]), tuple(shapes[1][:-2]))
    except ValueError:
        raise c.invalid(f"batch dimensions of {shapes[0]} and {shapes[1]} do not broadcast") from None
    c.expect_shape(y, (*batch, m, n))
    c.write(y, c.emit1("MatMul", values), TFL)


@handles("PRELU")
def _prelu(c: _Converter) -> None:
    c.expect_inputs(2)
    x, alpha, y = c.tensor(0), c.tensor(1), c.output()
    try:
        shape = np.broadcast_shapes(x.shape, alpha.shape)
    except ValueError:
        raise c.invalid(f"alpha shape {list(alpha.shape)} does not broadcast to {list(x.shape)}") from None
    if tuple(shape) != tuple(x.shape):
        raise c.invalid(f"alpha shape {list(alpha.shape)} would change the output shape {list(x.shape)}")
    c.expect_shape(y, x.shape)
    value = c.emit1("PRelu", [c.read(x), c.read(alpha, IR, x.rank)])
    c.write(y, value)


@handles("SOFTMAX")
def _softmax(c: _Converter) -> None:
    c.expect_inputs(1)
    x, y = c.tensor(0), c.output()
    if x.rank == 0:
        raise c.invalid("softmax of a scalar")
    c.expect_shape(y, x.shape)
    value = c.read(x)
    beta = float(c.op.options["beta"])
    if beta != 1.0:
        value = c.emit1("Mul", [value, c.scalar(beta)])
    c.write(y, c.emit1("Softmax", [value], axis=_ir_axis(x.rank - 1, x.rank)))


@handles("MAX_POOL_2D", "AVERAGE_POOL_2D")
def _pool(c: _Converter) -> None:
    c.expect_inputs(1)
    x, y = c.tensor(0), c.output()
    opts = c.op.options
    _spatial_input(c, x)
    n, h, wd, ch = x.shape
    kernel, strides = [opts["filter_h"], opts["filter_w"]], [opts["stride_h"], opts["stride_w"]]
    pads, out_hw = _padding(c, opts["padding"], (h, wd), kernel, strides, (1, 1))
    c.expect_shape(y, (n, *out_hw, ch))
    attrs = dict(kernel_shape=kernel, strides=strides, pads=pads)
    if c.op.op_name == "AVERAGE_POOL_2D":
        op_type = "AveragePool"
        attrs["count_include_pad"] = 0  # TFLite averages over the valid pixels only
    else:
        op_type = "MaxPool"
    value = c.emit1(op_type, [c.read(x)], **attrs)
    c.write(y, c.activation(value, opts["activation"]))


def _axes(c: _Converter, t: _Tensor, rank: int, what: str) -> list[int]:
    values = c.const_ints(t, what).reshape(-1)
    axes = []
    for a in values:
        a = int(a)
        if not -rank <= a < rank:
            raise c.invalid(f"{what} {a} is out of range for rank {rank}")
        axes.append(a % rank)
    return axes


@handles("MEAN")
def _mean(c: _Converter) -> None:
    c.expect_inputs(2)
    x, y = c.tensor(0), c.output()
    axes = sorted(set(_axes(c, c.tensor(1), x.rank, "axis")))
    keep = bool(c.op.options["keep_dims"])
    if not axes:  # nothing to reduce
        c.expect_shape(y, x.shape)
        c.write(y, c.read(x))
        return
    kept = [a for a in range(x.rank) if a not in axes]
    c.expect_shape(y, [1 if a in axes else d for a, d in enumerate(x.shape)] if keep else [x.shape[a] for a in kept])
    ir_axes = sorted(_ir_axis(a, x.rank) for a in axes)
    remaining_ir = [a for a in range(x.rank) if a not in ir_axes]
    # Without keepdims the IR result lists the kept axes in IR order; where that differs from
    # the TFLite order (e.g. keeping W and C of NHWC), reduce with keepdims and reshape in NHWC.
    direct = keep or x.rank != 4 or [TO_IR[a] for a in remaining_ir] == kept
    value = c.emit1("ReduceMean", [c.read(x), c.int64s(ir_axes, "axes")], keepdims=int(keep or not direct))
    if direct:
        c.write(y, value)
        return
    value = c.emit1("Transpose", [value], perm=list(TO_TFL))
    value = c.emit1("Reshape", [value, c.int64s(y.shape, "shape")])
    c.write(y, value, TFL)


@handles("RESHAPE")
def _reshape(c: _Converter) -> None:
    c.expect_inputs(1, 2)
    x, y = c.tensor(0), c.output()
    if math.prod(x.shape) != math.prod(y.shape):
        raise c.invalid(f"cannot reshape {list(x.shape)} to the declared output shape {list(y.shape)}")
    shape_t = c.tensor(1, required=False)
    if shape_t is not None and c.constant_info(shape_t) is not None:
        requested = [int(v) for v in c.const_ints(shape_t, "shape").reshape(-1)]
        if requested and requested.count(-1) <= 1 and all(d >= -1 for d in requested):
            known = math.prod(d for d in requested if d != -1)
            if -1 in requested and known:
                requested[requested.index(-1)] = math.prod(x.shape) // known
            if requested != list(y.shape):
                raise c.invalid(f"shape tensor {requested} disagrees with the declared output shape {list(y.shape)}")
    # Reshape reorders nothing in TFLite's NHWC order: do it there.
    value = c.read(x, TFL)
    if tuple(x.shape) != tuple(y.shape):
        value = c.emit1("Reshape", [value, c.int64s(y.shape, "shape")])
    c.write(y, value, TFL)


@handles("CONCATENATION")
def _concatenation(c: _Converter) -> None:
    if not c.op.inputs:
        raise c.invalid("has no inputs")
    xs = [c.tensor(i) for i in range(len(c.op.inputs))]
    y = c.output()
    rank = y.rank
    axis = int(c.op.options["axis"])
    if not -rank <= axis < rank or rank == 0:
        raise c.invalid(f"axis {axis} is out of range for rank {rank}")
    axis %= rank
    for x in xs:
        if x.rank != rank or any(d != e for i, (d, e) in enumerate(zip(x.shape, y.shape)) if i != axis):
            raise c.invalid(f"input '{x.name}' with shape {list(x.shape)} does not concatenate into {list(y.shape)}")
    c.expect_shape(y, [sum(x.shape[axis] for x in xs) if i == axis else d for i, d in enumerate(y.shape)])
    if c.op.options["activation"] != _ACT_NONE:
        # LiteRT refuses it (builtin kernels) or skips it (XNNPACK): no defined result to match.
        raise c.unsupported(f"fused activation {_ACT_NAMES.get(c.op.options['activation'])} on CONCATENATION")
    c.write(y, c.emit1("Concat", [c.read(x) for x in xs], axis=_ir_axis(axis, rank)))


@handles("PAD", "PADV2")
def _pad(c: _Converter) -> None:
    c.expect_inputs(2, 3 if c.op.op_name == "PADV2" else 2)
    x, y = c.tensor(0), c.output()
    paddings = c.const_ints(c.tensor(1), "paddings")
    if paddings.shape != (x.rank, 2):
        raise c.invalid(f"paddings must be a [{x.rank}, 2] tensor, got shape {list(paddings.shape)}")
    if np.any(paddings < 0):
        raise c.invalid("paddings must be non-negative")
    c.expect_shape(y, [d + int(paddings[i].sum()) for i, d in enumerate(x.shape)])
    order = TO_IR if x.rank == 4 else range(x.rank)
    pads = [int(paddings[a, 0]) for a in order] + [int(paddings[a, 1]) for a in order]
    inputs = [c.read(x), c.int64s(pads, "pads")]
    value_t = c.tensor(2, required=False)
    if value_t is not None:
        info = c.constant_info(value_t)
        if info is None:
            raise c.unsupported(f"pad value '{value_t.name}' must be a constant tensor")
        array, qsrc = info
        if array.size != 1:
            raise c.invalid(f"pad value '{value_t.name}' must hold one value, holds {array.size}")
        v = float(array.reshape(-1)[0])
        if qsrc is not None:
            v = (v - float(qsrc.zero_point[0])) * float(qsrc.scale[0])
        inputs.append(c.scalar(v))
    c.write(y, c.emit1("Pad", inputs, mode="constant"))


@handles("RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR")
def _resize(c: _Converter) -> None:
    c.expect_inputs(2)
    x, y = c.tensor(0), c.output()
    _spatial_input(c, x)
    size_t = c.tensor(1)
    if c.constant_info(size_t) is not None:
        size = [int(v) for v in c.const_ints(size_t, "size").reshape(-1)]
        if len(size) != 2 or min(size) <= 0:
            raise c.invalid(f"size must be two positive integers, got {size}")
    else:  # computed at run time in the file; the declared output shape is static
        size = list(y.shape[1:3])
    n, _, _, ch = x.shape
    c.expect_shape(y, (n, *size, ch))
    align, half = bool(c.op.options["align_corners"]), bool(c.op.options["half_pixel_centers"])
    if align and half:
        raise c.unsupported("align_corners together with half_pixel_centers")
    attrs: dict = {}
    if c.op.op_name == "RESIZE_BILINEAR":
        attrs["mode"] = "linear"
        # TFLite's half-pixel sampling clamps to the edge like ONNX half_pixel does.
        attrs["coordinate_transformation_mode"] = "align_corners" if align else "half_pixel" if half else "asymmetric"
    else:
        attrs["mode"] = "nearest"
        if align:  # round((i) * (in-1)/(out-1)), halves away from zero
            attrs.update(coordinate_transformation_mode="align_corners", nearest_mode="round_prefer_ceil")
        elif half:  # floor((i + 0.5) * in/out)
            attrs.update(coordinate_transformation_mode="tf_half_pixel_for_nn", nearest_mode="floor")
        else:  # floor(i * in/out)
            attrs.update(coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    sizes = c.int64s([n, ch, *size], "sizes")
    c.write(y, c.emit1("Resize", [c.read(x), "", "", sizes], **attrs))


@handles("QUANTIZE")
def _quantize(c: _Converter) -> None:
    c.expect_inputs(1)
    x, y = c.tensor(0), c.output()
    if not y.quantized:
        raise c.invalid(f"output '{y.name}' has no quantization parameters")
    c.expect_shape(y, x.shape)
    # float -> QuantizeLinear; int -> int (requantize) -> DequantizeLinear + QuantizeLinear
    c.write(y, c.read(x))


@handles("DEQUANTIZE")
def _dequantize(c: _Converter) -> None:
    c.expect_inputs(1)
    x, y = c.tensor(0), c.output()
    c.expect_shape(y, x.shape)
    if y.dtype != F32:
        raise c.invalid(f"output '{y.name}' is {y.type_name}, expected float32")
    info = c.constant_info(x)
    if info is not None:
        array, qsrc = info
        if array.dtype == np.float16:  # fp16 weights: fold to float32 now
            c.folded[y.index] = array.astype(np.float32)
        elif qsrc is not None:  # consumers read DequantizeLinear(int constant)
            c.const_alias[y.index] = qsrc
        else:
            raise c.invalid(f"constant '{x.name}' is neither float16 nor quantized")
        return
    if x.dtype == np.float16:
        c.write(y, c.emit1("Cast", [c.produced(x)], to=1))
        return
    if not x.quantized:
        raise c.invalid(f"input '{x.name}' is {x.type_name} without quantization parameters")
    c.write(y, c.read(x))


@handles("TRANSPOSE")
def _transpose(c: _Converter) -> None:
    c.expect_inputs(2)
    x, y = c.tensor(0), c.output()
    perm = _axes(c, c.tensor(1), x.rank, "perm")
    if sorted(perm) != list(range(x.rank)):
        raise c.invalid(f"perm {perm} is not a permutation of {x.rank} axes")
    c.expect_shape(y, [x.shape[p] for p in perm])
    if x.rank == 4:  # IR -> NHWC, TFLite's perm, NHWC -> IR as one permutation
        perm = _compose(_compose(TO_TFL, perm), TO_IR)
    c.write(y, c.emit1("Transpose", [c.read(x)], perm=perm))


def _strided_slice_spec(c: _Converter, x: _Tensor, begin, end, strides, opts) -> tuple[list, list[int]]:
    """TFLite's strided-slice semantics resolved against x's shape.

    Returns ([(start, stop, step)] per input axis, output shape). A stop of -1 with a negative
    step means "through index 0"."""
    n = len(begin)
    ellipsis, new_axis, shrink = opts["ellipsis_mask"], opts["new_axis_mask"], opts["shrink_axis_mask"]
    begin_mask, end_mask, offset = opts["begin_mask"], opts["end_mask"], bool(opts["offset"])
    if ellipsis & (ellipsis - 1):
        raise c.invalid("more than one ellipsis in ellipsis_mask")
    # Expand the sparse spec (with ellipsis and new axes) into one entry per output-side axis.
    dense = []  # (kind, sparse index) with kind in "axis", "new", "full"
    added = sum(1 for i in range(n) if new_axis >> i & 1 and not ellipsis >> i & 1)
    consumed = sum(1 for i in range(n) if not new_axis >> i & 1 and not ellipsis >> i & 1)
    if consumed > x.rank:
        raise c.invalid(f"slices {consumed} axes of a rank-{x.rank} input")
    for i in range(n):
        if ellipsis >> i & 1:
            dense.extend(("full", i) for _ in range(x.rank - consumed))
        elif new_axis >> i & 1:
            dense.append(("new", i))
        else:
            dense.append(("axis", i))
    if not ellipsis:
        dense.extend(("full", -1) for _ in range(x.rank - consumed))
    if len(dense) - added != x.rank:
        raise c.invalid("begin/end/strides do not match the input rank")
    slices, out_shape, axis = [], [], 0
    for kind, i in dense:
        if kind == "new":
            out_shape.append(1)
            continue
        size = x.shape[axis]
        axis += 1
        if kind == "full":
            slices.append((0, size, 1))
            out_shape.append(size)
            continue
        step = int(strides[i])
        if step == 0:
            raise c.invalid("stride 0")
        start = int(begin[i])
        start = start + size if start < 0 else start
        start = min(max(start, 0), size) if step > 0 else min(max(start, -1), size - 1)
        if begin_mask >> i & 1:
            start = 0 if step > 0 else size - 1
        if shrink >> i & 1:
            if not 0 <= start < size:
                raise c.invalid(f"shrink index {int(begin[i])} is out of range for a dimension of {size}")
            slices.append((start, start + 1, 1))
            continue
        stop = int(end[i]) + (start if offset else 0)
        stop = stop + size if stop < 0 else stop
        stop = min(max(stop, 0), size) if step > 0 else min(max(stop, -1), size - 1)
        if end_mask >> i & 1:
            stop = size if step > 0 else -1
        slices.append((start, stop, step))
        out_shape.append(max(0, -(-(stop - start) // step)))
    return slices, out_shape


@handles("STRIDED_SLICE")
def _strided_slice(c: _Converter) -> None:
    c.expect_inputs(4)
    x, y = c.tensor(0), c.output()
    begin, end, strides = (c.const_ints(c.tensor(i), name).reshape(-1)
                           for i, name in ((1, "begin"), (2, "end"), (3, "strides")))
    if not len(begin) == len(end) == len(strides):
        raise c.invalid(f"begin/end/strides have lengths {len(begin)}, {len(end)}, {len(strides)}")
    slices, out_shape = _strided_slice_spec(c, x, begin, end, strides, c.op.options)
    c.expect_shape(y, out_shape)
    sliced_shape = [len(range(*s)) for s in slices]  # a stop of -1 with a negative step runs through 0
    # Same rank in and out: slice in the IR layout. Otherwise slice in NHWC and reshape there.
    layout = IR if tuple(sliced_shape) == tuple(out_shape) else TFL
    active = [(a, s) for a, s in enumerate(slices) if s != (0, x.shape[a], 1)]
    value = c.read(x, layout)
    if active:
        axes = [_ir_axis(a, x.rank) if layout == IR else a for a, _ in active]
        starts = [s[0] for _, s in active]
        stops = [INT64_MIN if s[1] < 0 else s[1] for _, s in active]
        steps = [s[2] for _, s in active]
        value = c.emit1("Slice", [value, c.int64s(starts, "starts"), c.int64s(stops, "ends"),
                                  c.int64s(axes, "axes"), c.int64s(steps, "steps")])
    if layout == TFL and tuple(sliced_shape) != tuple(out_shape):
        value = c.emit1("Reshape", [value, c.int64s(out_shape, "shape")])
    c.write(y, value, layout)


def _emit_split(c: _Converter, x: _Tensor, axis: int, sizes: list[int]) -> None:
    outs = [c.output(i) for i in range(len(c.op.outputs))]
    if len(outs) != len(sizes):
        raise c.invalid(f"{len(outs)} outputs for {len(sizes)} splits")
    for out, size in zip(outs, sizes):
        c.expect_shape(out, [size if i == axis else d for i, d in enumerate(x.shape)])
    values = c.emit("Split", [c.read(x), c.int64s(sizes, "split")], len(sizes), axis=_ir_axis(axis, x.rank))
    for out, value in zip(outs, values):
        c.write(out, value)


@handles("SPLIT")
def _split(c: _Converter) -> None:
    c.expect_inputs(2)
    x = c.tensor(1)
    axes = _axes(c, c.tensor(0), x.rank, "axis")
    if len(axes) != 1:
        raise c.invalid("axis must hold one value")
    num = int(c.op.options["num_splits"])
    dim = x.shape[axes[0]]
    if num <= 0 or dim % num:
        raise c.invalid(f"cannot split a dimension of {dim} into {num} equal parts")
    _emit_split(c, x, axes[0], [dim // num] * num)


@handles("SPLIT_V")
def _split_v(c: _Converter) -> None:
    c.expect_inputs(3)
    x = c.tensor(0)
    sizes = [int(v) for v in c.const_ints(c.tensor(1), "size_splits").reshape(-1)]
    axes = _axes(c, c.tensor(2), x.rank, "axis")
    if len(axes) != 1:
        raise c.invalid("axis must hold one value")
    dim = x.shape[axes[0]]
    if sizes.count(-1) == 1:
        sizes[sizes.index(-1)] = dim - sum(s for s in sizes if s != -1)
    if any(s < 0 for s in sizes) or sum(sizes) != dim:
        raise c.invalid(f"size_splits {sizes} do not add up to the dimension {dim}")
    _emit_split(c, x, axes[0], sizes)


# ---------------------------------------------------------------------------------------- entry point


def import_tflite(model: Any) -> Graph:
    """Read a .tflite model (path, bytes or bytearray) into a Graph with ONNX operators.

    Inputs and outputs keep the names, NHWC shapes and dtypes LiteRT reports for the file."""
    data, source = _read_source(model)
    parsed = _FlatbufferReader(data, source).read()
    return _Converter(parsed, source).convert()
