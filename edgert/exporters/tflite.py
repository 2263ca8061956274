"""Write .tflite flatbuffers (schema version 3) and convert ONNX models to them.

    b = TFLiteBuilder()
    x = b.input("x", shape=(1, 8, 8, 3), dtype="float32")
    w = b.const("w", np.ones((4, 3, 3, 3), np.float32))
    bias = b.const("bias", np.zeros(4, np.float32))
    y = b.tensor("y", (1, 8, 8, 4), "float32")
    b.op("CONV_2D", [x, w, bias], [y], padding="SAME", stride_w=1, stride_h=1, fused_activation="RELU6")
    b.output(y)
    data = b.finish()

    data = onnx_to_tflite("model.onnx", weights="fp16")

Operator options are keyword arguments named after the schema's option fields in snake_case
(`fused_activation` is accepted for `fused_activation_function`); enums may be given by name.
The tables are written with the generated builder functions of the `tflite` package.

onnx_to_tflite lays the model out the way TFLite's own converter does: 4-D tensors are NHWC, so
an NCHW image input becomes an NHWC input (and any 4-D output is NHWC too); other ranks keep the
ONNX order. BatchNormalization folds into the convolution before it, Relu/Clip(0, 6) into the
producer's fused activation, Shape arithmetic and Constant nodes into constants; x * HardSigmoid(x)
becomes HARD_SWISH. A QDQ model (QuantizeLinear/DequantizeLinear around the float ops, as
onnxruntime.quantization writes it) becomes an int8 model: int8 activations with the QDQ pairs'
scale/zero point, per-channel int8 weights, int32 biases, float input and output with
QUANTIZE/DEQUANTIZE at the ends; an op that stays float in the QDQ graph stays float here.

Converted: Conv (2-D; depthwise; grouped as SPLIT + CONV_2D + CONCATENATION), Gemm and MatMul with
constant weights, MatMul of two activations (BATCH_MATMUL), Add/Sub/Mul/Div, Sum (any count), Relu,
Clip, LeakyRelu, PRelu, Sigmoid, Tanh, HardSigmoid, HardSwish, Softmax, BatchNormalization,
InstanceNormalization (float: MEAN, RSQRT and elementwise ops), MaxPool/AveragePool (TFLite-expressible pads),
GlobalAverage/MaxPool, ReduceMean/Sum/Max, Reshape/Flatten/Squeeze/Unsqueeze, Transpose, Concat,
Split, Slice, Pad (constant, reflect), Resize (where a TFLite resize mode gives the same sampling),
Identity/Dropout/Cast. Anything else raises UnsupportedOperatorError naming the node; dynamic
shapes raise ModelLoadError.
"""
from __future__ import annotations

import importlib
import math
import os
import re
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np

from edgert.errors import EdgeRTError, ModelLoadError, UnsupportedOperatorError

SCHEMA_VERSION = 3
FILE_IDENTIFIER = b"TFL3"


def _tflite():
    try:
        import flatbuffers  # noqa: F401
        import tflite
    except ImportError:
        raise EdgeRTError("writing .tflite needs the 'tflite' and 'flatbuffers' packages "
                          "(pip install 'edgert[litert]')") from None
    return tflite


def _schema(table: str):
    """The generated module of one schema table (tflite/__init__ shadows them with classes)."""
    _tflite()
    return importlib.import_module(f"tflite.{table}")


# ---------------------------------------------------------------------------------------------
# Tensors and quantization parameters

_DTYPES = ("float32", "float16", "int8", "uint8", "int16", "int32", "int64", "bool")
_TENSOR_TYPE = {"float32": "FLOAT32", "float16": "FLOAT16", "int8": "INT8", "uint8": "UINT8",
                "int16": "INT16", "int32": "INT32", "int64": "INT64", "bool": "BOOL"}


def _dtype_name(dtype, where: str) -> str:
    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = str(dtype)
    if name not in _DTYPES:
        raise EdgeRTError(f"{where}: tensor type {dtype!r} is not one of {', '.join(_DTYPES)}")
    return name


@dataclass(frozen=True)
class QuantParams:
    """Affine quantization: real = scale * (q - zero_point), per tensor (axis None) or per
    slice along `axis` (one scale and zero point per index)."""

    scale: tuple
    zero_point: tuple
    axis: int | None = None

    @property
    def per_channel(self) -> bool:
        return self.axis is not None

    def scale_array(self) -> np.ndarray:
        return np.asarray(self.scale, np.float32)

    def zero_point_array(self) -> np.ndarray:
        return np.asarray(self.zero_point, np.int64)


def make_quant(scale, zero_point=0, axis: int | None = None) -> QuantParams:
    """QuantParams from scalars or arrays; scales are stored as the float32 values the file holds."""
    s = np.atleast_1d(np.asarray(scale, np.float64)).astype(np.float32).reshape(-1)
    z = np.atleast_1d(np.asarray(zero_point)).reshape(-1)
    if s.size == 0:
        raise EdgeRTError("quantization needs at least one scale")
    if not np.all(np.isfinite(s)) or np.any(s <= 0):
        raise EdgeRTError(f"quantization scales must be positive and finite, got {s[:8].tolist()}")
    if np.any(z != np.round(z)):
        raise EdgeRTError(f"zero points must be integers, got {z[:8].tolist()}")
    if z.size == 1 and s.size > 1:
        z = np.repeat(z, s.size)
    if z.size != s.size:
        raise EdgeRTError(f"{s.size} scales but {z.size} zero points")
    if axis is None and s.size > 1:
        raise EdgeRTError(f"{s.size} scales need an axis (per-channel quantization)")
    return QuantParams(tuple(float(v) for v in s), tuple(int(v) for v in z),
                       None if axis is None else int(axis))


@dataclass(frozen=True)
class TensorRef:
    """A tensor of the model being built; pass it to TFLiteBuilder.op/output (or use it as an int)."""

    index: int
    name: str
    shape: tuple
    dtype: str
    quant: QuantParams | None = None
    is_const: bool = False

    def __index__(self) -> int:
        return self.index

    @property
    def rank(self) -> int:
        return len(self.shape)


# ---------------------------------------------------------------------------------------------
# Operator options

# Builtin operator -> its options table (the BuiltinOptions union member of the same name).
_OPTIONS_TABLE = {
    "ADD": "AddOptions", "SUB": "SubOptions", "MUL": "MulOptions", "DIV": "DivOptions",
    "CONV_2D": "Conv2DOptions", "DEPTHWISE_CONV_2D": "DepthwiseConv2DOptions",
    "TRANSPOSE_CONV": "TransposeConvOptions", "FULLY_CONNECTED": "FullyConnectedOptions",
    "BATCH_MATMUL": "BatchMatMulOptions",
    "AVERAGE_POOL_2D": "Pool2DOptions", "MAX_POOL_2D": "Pool2DOptions", "L2_POOL_2D": "Pool2DOptions",
    "MEAN": "ReducerOptions", "SUM": "ReducerOptions", "REDUCE_MAX": "ReducerOptions",
    "REDUCE_MIN": "ReducerOptions", "REDUCE_PROD": "ReducerOptions",
    "RESHAPE": "ReshapeOptions", "SQUEEZE": "SqueezeOptions", "EXPAND_DIMS": "ExpandDimsOptions",
    "CONCATENATION": "ConcatenationOptions", "PACK": "PackOptions", "UNPACK": "UnpackOptions",
    "SPLIT": "SplitOptions", "SPLIT_V": "SplitVOptions", "STRIDED_SLICE": "StridedSliceOptions",
    "SLICE": "SliceOptions", "TRANSPOSE": "TransposeOptions", "GATHER": "GatherOptions",
    "PAD": "PadOptions", "PADV2": "PadV2Options", "MIRROR_PAD": "MirrorPadOptions",
    "RESIZE_BILINEAR": "ResizeBilinearOptions", "RESIZE_NEAREST_NEIGHBOR": "ResizeNearestNeighborOptions",
    "SOFTMAX": "SoftmaxOptions", "LOG_SOFTMAX": "LogSoftmaxOptions", "LEAKY_RELU": "LeakyReluOptions",
    "HARD_SWISH": "HardSwishOptions", "GELU": "GeluOptions",
    "MAXIMUM": "MaximumMinimumOptions", "MINIMUM": "MaximumMinimumOptions",
    "QUANTIZE": "QuantizeOptions", "DEQUANTIZE": "DequantizeOptions", "CAST": "CastOptions",
    "SQUARED_DIFFERENCE": "SquaredDifferenceOptions", "POW": "PowOptions",
    "DEPTH_TO_SPACE": "DepthToSpaceOptions", "SPACE_TO_DEPTH": "SpaceToDepthOptions",
}

# Option fields whose values are schema enums (given by name or number).
_ENUM_FIELDS = {
    "padding": "Padding",
    "fused_activation_function": "ActivationFunctionType",
    "mode": "MirrorPadMode",
    "weights_format": "FullyConnectedOptionsWeightsFormat",
    "quantized_bias_type": "TensorType",
    "in_data_type": "TensorType",
    "out_data_type": "TensorType",
}
_ALIASES = {"fused_activation": "fused_activation_function"}


def _snake(camel: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", camel).lower()


def _camel(snake: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in snake.split("_"))


def _option_fields(table: str) -> dict[str, str]:
    """snake_case field name -> CamelCase, from the generated `<Table>Add<Field>` functions."""
    module = _schema(table)
    prefix = f"{table}Add"
    return {_snake(name[len(prefix):]): name[len(prefix):] for name in dir(module) if name.startswith(prefix)}


def _enum_value(enum: str, value, field: str, op_type: str) -> int:
    cls = getattr(_schema(enum), enum)
    if isinstance(value, str):
        key = value.upper()
        if not hasattr(cls, key):
            names = sorted(k for k in vars(cls) if k.isupper())
            raise EdgeRTError(f"{op_type}: {field}={value!r} is not one of {names}")
        return int(getattr(cls, key))
    return int(value)


@dataclass
class _Options:
    table: str
    fields: dict  # CamelCase field -> value (enum names resolved, vectors as tuples)


def _check_options(op_type: str, options: dict) -> _Options | None:
    table = _OPTIONS_TABLE.get(op_type)
    if table is None:
        if options:
            raise EdgeRTError(f"{op_type} takes no options, got {sorted(options)}")
        return None
    known = _option_fields(table)
    fields = {}
    for key, value in options.items():
        field = _ALIASES.get(key, key)
        if field not in known:
            raise EdgeRTError(f"{op_type}: unknown option {key!r}; {table} has {sorted(known)}")
        if field in _ENUM_FIELDS:
            value = _enum_value(_ENUM_FIELDS[field], value, field, op_type)
        elif isinstance(value, (list, tuple, np.ndarray)):
            value = tuple(int(v) for v in np.asarray(value).reshape(-1))
        elif isinstance(value, (bool, np.bool_)):
            value = bool(value)
        elif isinstance(value, (int, np.integer)):
            value = int(value)
        elif isinstance(value, (float, np.floating)):
            value = float(value)
        else:
            raise EdgeRTError(f"{op_type}: option {key}={value!r} has an unsupported type")
        fields[known[field]] = value
    return _Options(table, fields)


# ---------------------------------------------------------------------------------------------
# Operator versions: what TFLite's converter records for the features an operator uses
# (tensorflow/lite/tools/versioning/op_version.cc), so runtimes pick the right kernel.

_INT8_VERSION_2 = {
    "ADD", "SUB", "AVERAGE_POOL_2D", "MAX_POOL_2D", "CONCATENATION", "SOFTMAX", "MEAN", "SUM",
    "REDUCE_MAX", "REDUCE_MIN", "MIRROR_PAD", "RELU", "RELU6", "LOGISTIC", "TANH", "MAXIMUM",
    "MINIMUM", "SPLIT_V", "SLICE", "GATHER", "PACK", "UNPACK", "DEPTH_TO_SPACE", "SPACE_TO_DEPTH",
    "BATCH_MATMUL", "ARG_MAX", "ARG_MIN",
}


def _op_version(op_type: str, inputs: list, outputs: list, fields: dict) -> int:
    def dtype(refs, i):
        return refs[i].dtype if i < len(refs) and refs[i] is not None else None

    x, w, y = dtype(inputs, 0), dtype(inputs, 1), dtype(outputs, 0)
    rank = inputs[0].rank if inputs and inputs[0] is not None else 0
    if op_type == "CONV_2D":
        if x == "int8" and w == "int8" and y == "int8":
            return 3
        if x == "float32" and w == "int8":
            return 5 if inputs[1].quant is not None and inputs[1].quant.per_channel else 2
        return 1
    if op_type == "DEPTHWISE_CONV_2D":
        if x == "int8" and w == "int8" and y == "int8":
            return 3
        return 2 if fields.get("DilationWFactor", 1) != 1 or fields.get("DilationHFactor", 1) != 1 else 1
    if op_type == "FULLY_CONNECTED":
        if len(inputs) < 3 or inputs[2] is None:
            return 6
        if fields.get("KeepNumDims"):
            return 5
        return 4 if x == "int8" and w == "int8" else 1
    if op_type == "DEQUANTIZE":
        if x in ("int16", "float16"):
            return 3
        if x == "int8":
            return 5 if inputs[0].quant is not None and inputs[0].quant.per_channel else 2
        return 1
    if op_type == "QUANTIZE":
        return 2 if y == "int16" else 1
    if op_type == "MUL":
        if x == "int8":
            sx, sw, sy = inputs[0].quant, inputs[1].quant, outputs[0].quant
            if sx and sw and sy and sx.scale[0] * sw.scale[0] / sy.scale[0] >= 1.0:
                return 3
            return 2
        return 1
    if op_type == "RESIZE_BILINEAR":
        return 3 if fields.get("HalfPixelCenters") else (2 if x == "int8" else 1)
    if op_type == "RESIZE_NEAREST_NEIGHBOR":
        if fields.get("HalfPixelCenters") or fields.get("AlignCorners"):
            return 3
        return 2 if x == "int8" else 1
    if op_type in ("TRANSPOSE", "STRIDED_SLICE", "PAD", "PADV2"):
        if rank > 4:
            return 4
        return 2 if x == "int8" else 1
    if op_type == "SPLIT":  # input 0 is the axis
        return {"int8": 2, "int32": 3}.get(w, 1)
    if op_type in _INT8_VERSION_2:
        return 2 if x == "int8" else 1
    return 1


# ---------------------------------------------------------------------------------------------
# The builder


@dataclass
class _Tensor:
    name: str
    shape: tuple
    signature: tuple | None  # shape_signature when some dimension is dynamic (-1)
    dtype: str
    quant: QuantParams | None
    data: bytes | None


@dataclass
class _Op:
    op_type: str
    inputs: list  # tensor indices, -1 for an omitted optional input
    outputs: list
    options: _Options | None


class TFLiteBuilder:
    """Collects tensors and operators of one subgraph and serialises them as a .tflite model.

    Operators must be added in execution order: each op's inputs are graph inputs, constants or
    outputs of earlier ops. Tensor names are unique.
    """

    def __init__(self, description: str = "edgert"):
        self._tfl = _tflite()
        self.description = description
        self._tensors: list[_Tensor] = []
        self._names: dict[str, int] = {}
        self._ops: list[_Op] = []
        self._inputs: list[int] = []
        self._outputs: list[int] = []
        self._produced: set[int] = set()

    # -- tensors ---------------------------------------------------------------------------

    @staticmethod
    def quant(scale, zero_point=0, axis: int | None = None) -> QuantParams:
        return make_quant(scale, zero_point, axis)

    def input(self, name: str, shape: Sequence, dtype="float32", quant: QuantParams | None = None) -> TensorRef:
        """A subgraph input. None or -1 in `shape` marks a dynamic dimension."""
        ref = self.tensor(name, shape, dtype, quant)
        self._inputs.append(ref.index)
        return ref

    def tensor(self, name: str, shape: Sequence, dtype="float32", quant: QuantParams | None = None) -> TensorRef:
        """A tensor an operator computes (or a graph input, via input())."""
        dtype = _dtype_name(dtype, f"tensor '{name}'")
        dims = tuple(-1 if d is None else int(d) for d in shape)
        if any(d < -1 for d in dims):
            raise EdgeRTError(f"tensor '{name}': invalid shape {tuple(shape)}")
        signature = dims if -1 in dims else None
        static = tuple(1 if d == -1 else d for d in dims)
        return self._add(_Tensor(name, static, signature, dtype, self._check_quant(name, quant, static, dtype), None))

    def const(self, name: str, value, quant: QuantParams | None = None, dtype=None) -> TensorRef:
        """A constant tensor stored in its own buffer (float64 values are stored as float32)."""
        array = np.asarray(value)
        if dtype is None and array.dtype == np.float64:
            dtype = "float32"
        dtype = _dtype_name(array.dtype if dtype is None else dtype, f"constant '{name}'")
        array = np.ascontiguousarray(array.astype(dtype, copy=False))
        quant = self._check_quant(name, quant, array.shape, dtype)
        return self._add(_Tensor(name, tuple(int(d) for d in array.shape), None, dtype, quant,
                                 array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()))

    def _check_quant(self, name: str, quant: QuantParams | None, shape: tuple, dtype: str):
        if quant is None:
            return None
        if not isinstance(quant, QuantParams):
            raise EdgeRTError(f"tensor '{name}': quant must come from TFLiteBuilder.quant()")
        if quant.per_channel:
            if not -len(shape) <= quant.axis < len(shape):
                raise EdgeRTError(f"tensor '{name}': quantization axis {quant.axis} outside rank {len(shape)}")
            axis = quant.axis % len(shape)
            if shape[axis] != len(quant.scale):
                raise EdgeRTError(f"tensor '{name}': {len(quant.scale)} scales for dimension {axis} of "
                                  f"size {shape[axis]}")
            quant = QuantParams(quant.scale, quant.zero_point, axis)
        info = np.iinfo(dtype) if dtype in ("int8", "uint8", "int16", "int32", "int64") else None
        if info is not None and any(not info.min <= z <= info.max for z in quant.zero_point):
            raise EdgeRTError(f"tensor '{name}': zero point outside the {dtype} range")
        return quant

    def _add(self, tensor: _Tensor) -> TensorRef:
        if not isinstance(tensor.name, str) or not tensor.name:
            raise EdgeRTError("tensor names must be non-empty strings")
        if tensor.name in self._names:
            raise EdgeRTError(f"tensor name '{tensor.name}' is used twice")
        index = len(self._tensors)
        self._tensors.append(tensor)
        self._names[tensor.name] = index
        return self._ref(index)

    def _ref(self, index: int) -> TensorRef:
        t = self._tensors[index]
        return TensorRef(index, t.name, t.signature or t.shape, t.dtype, t.quant, t.data is not None)

    def _index(self, ref, what: str) -> int:
        try:
            index = int(ref.__index__())
        except (AttributeError, TypeError):
            raise EdgeRTError(f"{what}: expected a tensor from this builder, got {ref!r}") from None
        if not 0 <= index < len(self._tensors):
            raise EdgeRTError(f"{what}: tensor index {index} is not in this model")
        return index

    def rename(self, ref, name: str) -> TensorRef:
        """Give a tensor a different (unique) name."""
        index = self._index(ref, "rename")
        if name != self._tensors[index].name:
            if name in self._names:
                raise EdgeRTError(f"tensor name '{name}' is used twice")
            del self._names[self._tensors[index].name]
            self._tensors[index].name = name
            self._names[name] = index
        return self._ref(index)

    def has_name(self, name: str) -> bool:
        return name in self._names

    def is_input(self, ref) -> bool:
        return self._index(ref, "is_input") in self._inputs

    def is_output(self, ref) -> bool:
        return self._index(ref, "is_output") in self._outputs

    @property
    def num_tensors(self) -> int:
        return len(self._tensors)

    # -- operators -------------------------------------------------------------------------

    def op(self, op_type: str, inputs: Iterable, outputs: Iterable, **options) -> None:
        """Append a builtin operator. None (or -1) in `inputs` omits an optional input."""
        op_type = op_type.upper()
        if not hasattr(self._tfl.BuiltinOperator, op_type):
            raise EdgeRTError(f"'{op_type}' is not a TFLite builtin operator")
        ins = []
        for i, ref in enumerate(inputs):
            if ref is None or (isinstance(ref, int) and ref == -1):
                ins.append(-1)
                continue
            index = self._index(ref, f"{op_type} input {i}")
            t = self._tensors[index]
            if t.data is None and index not in self._produced and index not in self._inputs:
                raise EdgeRTError(f"{op_type} input {i} '{t.name}' is not computed yet "
                                  "(add operators in execution order)")
            ins.append(index)
        outs = []
        for i, ref in enumerate(outputs):
            index = self._index(ref, f"{op_type} output {i}")
            t = self._tensors[index]
            if t.data is not None or index in self._inputs:
                raise EdgeRTError(f"{op_type} output '{t.name}' is a constant or graph input")
            if index in self._produced:
                raise EdgeRTError(f"{op_type} output '{t.name}' is already computed by another operator")
            outs.append(index)
        if not outs:
            raise EdgeRTError(f"{op_type} needs at least one output")
        opts = _check_options(op_type, options)
        self._produced.update(outs)
        self._ops.append(_Op(op_type, ins, outs, opts))

    def output(self, ref) -> None:
        index = self._index(ref, "output")
        if index not in self._outputs:
            self._outputs.append(index)

    @property
    def num_ops(self) -> int:
        return len(self._ops)

    # -- serialisation ---------------------------------------------------------------------

    def finish(self) -> bytes:
        """The model as .tflite bytes."""
        import flatbuffers

        if not self._outputs:
            raise EdgeRTError("the model has no outputs (call output())")
        for index in self._outputs:
            t = self._tensors[index]
            if index not in self._produced and index not in self._inputs and t.data is None:
                raise EdgeRTError(f"output '{t.name}' is computed by no operator")
        fb = flatbuffers.Builder(1024 + sum(len(t.data) for t in self._tensors if t.data))
        codes, op_code_index = self._operator_codes()
        buffers = [self._buffer(fb, None)]
        buffer_of = {}
        for i, t in enumerate(self._tensors):
            if t.data is not None:
                buffer_of[i] = len(buffers)
                buffers.append(self._buffer(fb, t.data))
        tensors = [self._tensor(fb, t, buffer_of.get(i, 0)) for i, t in enumerate(self._tensors)]
        operators = [self._operator(fb, op, op_code_index[id(op)]) for op in self._ops]
        subgraph = self._subgraph(fb, tensors, operators)
        code_offsets = [self._operator_code(fb, code, version) for code, version in codes]
        signature = self._signature(fb)
        description = fb.CreateString(self.description)

        model = _schema("Model")
        vectors = {}
        for key, items in (("OperatorCodes", code_offsets), ("Subgraphs", [subgraph]),
                           ("Buffers", buffers), ("SignatureDefs", [signature])):
            getattr(model, f"ModelStart{key}Vector")(fb, len(items))
            for off in reversed(items):
                fb.PrependUOffsetTRelative(off)
            vectors[key] = fb.EndVector()
        model.ModelStart(fb)
        model.ModelAddVersion(fb, SCHEMA_VERSION)
        model.ModelAddOperatorCodes(fb, vectors["OperatorCodes"])
        model.ModelAddSubgraphs(fb, vectors["Subgraphs"])
        model.ModelAddDescription(fb, description)
        model.ModelAddBuffers(fb, vectors["Buffers"])
        model.ModelAddSignatureDefs(fb, vectors["SignatureDefs"])
        fb.Finish(model.ModelEnd(fb), file_identifier=FILE_IDENTIFIER)
        return bytes(fb.Output())

    def _operator_codes(self):
        codes: list[tuple[int, int]] = []
        position: dict[tuple[int, int], int] = {}
        op_code_index = {}
        for op in self._ops:
            code = int(getattr(self._tfl.BuiltinOperator, op.op_type))
            ins = [None if i < 0 else self._ref(i) for i in op.inputs]
            outs = [self._ref(i) for i in op.outputs]
            key = (code, _op_version(op.op_type, ins, outs, op.options.fields if op.options else {}))
            if key not in position:
                position[key] = len(codes)
                codes.append(key)
            op_code_index[id(op)] = position[key]
        return codes, op_code_index

    @staticmethod
    def _int_vector(fb, values, width: int = 4):
        fb.StartVector(width, len(values), width)
        prepend = fb.PrependInt32 if width == 4 else fb.PrependInt64
        for v in reversed(values):
            prepend(int(v))
        return fb.EndVector()

    @staticmethod
    def _float_vector(fb, values):
        fb.StartVector(4, len(values), 4)
        for v in reversed(values):
            fb.PrependFloat32(float(v))
        return fb.EndVector()

    def _buffer(self, fb, data: bytes | None):
        mod = _schema("Buffer")
        vec = None
        if data:
            # Constant data starts 16-byte aligned, so kernels may read it in place with SIMD loads.
            fb.StartVector(1, len(data), 16)
            fb.head = fb.head - len(data)
            fb.Bytes[fb.head:fb.head + len(data)] = data
            vec = fb.EndVector()
        mod.BufferStart(fb)
        if vec is not None:
            mod.BufferAddData(fb, vec)
        return mod.BufferEnd(fb)

    def _quantization(self, fb, q: QuantParams):
        mod = _schema("QuantizationParameters")
        scale = self._float_vector(fb, q.scale)
        zero_point = self._int_vector(fb, q.zero_point, width=8)
        mod.QuantizationParametersStart(fb)
        mod.QuantizationParametersAddScale(fb, scale)
        mod.QuantizationParametersAddZeroPoint(fb, zero_point)
        if q.per_channel:
            mod.QuantizationParametersAddQuantizedDimension(fb, q.axis)
        return mod.QuantizationParametersEnd(fb)

    def _tensor(self, fb, t: _Tensor, buffer: int):
        mod = _schema("Tensor")
        name = fb.CreateString(t.name)
        shape = self._int_vector(fb, t.shape)
        signature = self._int_vector(fb, t.signature) if t.signature else None
        quant = self._quantization(fb, t.quant) if t.quant is not None else None
        mod.TensorStart(fb)
        mod.TensorAddShape(fb, shape)
        mod.TensorAddType(fb, int(getattr(self._tfl.TensorType, _TENSOR_TYPE[t.dtype])))
        mod.TensorAddBuffer(fb, buffer)
        mod.TensorAddName(fb, name)
        if quant is not None:
            mod.TensorAddQuantization(fb, quant)
        if signature is not None:
            mod.TensorAddShapeSignature(fb, signature)
        return mod.TensorEnd(fb)

    def _options(self, fb, opts: _Options):
        mod = _schema(opts.table)
        vectors = {}
        for field, value in opts.fields.items():
            if isinstance(value, tuple):
                vectors[field] = self._int_vector(fb, value)
        getattr(mod, f"{opts.table}Start")(fb)
        for field, value in opts.fields.items():
            getattr(mod, f"{opts.table}Add{field}")(fb, vectors.get(field, value))
        return getattr(mod, f"{opts.table}End")(fb)

    def _operator(self, fb, op: _Op, opcode_index: int):
        mod = _schema("Operator")
        inputs = self._int_vector(fb, op.inputs)
        outputs = self._int_vector(fb, op.outputs)
        options = self._options(fb, op.options) if op.options is not None else None
        mod.OperatorStart(fb)
        mod.OperatorAddOpcodeIndex(fb, opcode_index)
        mod.OperatorAddInputs(fb, inputs)
        mod.OperatorAddOutputs(fb, outputs)
        if options is not None:
            mod.OperatorAddBuiltinOptionsType(fb, int(getattr(self._tfl.BuiltinOptions, op.options.table)))
            mod.OperatorAddBuiltinOptions(fb, options)
        return mod.OperatorEnd(fb)

    def _subgraph(self, fb, tensors, operators):
        mod = _schema("SubGraph")
        vectors = {}
        for key, items in (("Tensors", tensors), ("Operators", operators)):
            getattr(mod, f"SubGraphStart{key}Vector")(fb, len(items))
            for off in reversed(items):
                fb.PrependUOffsetTRelative(off)
            vectors[key] = fb.EndVector()
        inputs = self._int_vector(fb, self._inputs)
        outputs = self._int_vector(fb, self._outputs)
        name = fb.CreateString("main")
        mod.SubGraphStart(fb)
        mod.SubGraphAddTensors(fb, vectors["Tensors"])
        mod.SubGraphAddInputs(fb, inputs)
        mod.SubGraphAddOutputs(fb, outputs)
        mod.SubGraphAddOperators(fb, vectors["Operators"])
        mod.SubGraphAddName(fb, name)
        return mod.SubGraphEnd(fb)

    def _operator_code(self, fb, code: int, version: int):
        mod = _schema("OperatorCode")
        placeholder = int(self._tfl.BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES)
        mod.OperatorCodeStart(fb)
        # Codes past 127 do not fit the deprecated int8 field, which then holds the placeholder.
        mod.OperatorCodeAddDeprecatedBuiltinCode(fb, min(code, placeholder))
        mod.OperatorCodeAddBuiltinCode(fb, code)
        mod.OperatorCodeAddVersion(fb, version)
        return mod.OperatorCodeEnd(fb)

    def _signature(self, fb):
        """The 'serving_default' signature TFLite's converter writes: tensor names by role."""
        mod, tmap = _schema("SignatureDef"), _schema("TensorMap")

        def maps(indices):
            offsets = []
            for index in indices:
                name = fb.CreateString(self._tensors[index].name)
                tmap.TensorMapStart(fb)
                tmap.TensorMapAddName(fb, name)
                tmap.TensorMapAddTensorIndex(fb, index)
                offsets.append(tmap.TensorMapEnd(fb))
            fb.StartVector(4, len(offsets), 4)
            for off in reversed(offsets):
                fb.PrependUOffsetTRelative(off)
            return fb.EndVector()

        inputs, outputs = maps(self._inputs), maps(self._outputs)
        key = fb.CreateString("serving_default")
        mod.SignatureDefStart(fb)
        mod.SignatureDefAddInputs(fb, inputs)
        mod.SignatureDefAddOutputs(fb, outputs)
        mod.SignatureDefAddSignatureKey(fb, key)
        mod.SignatureDefAddSubgraphIndex(fb, 0)
        return mod.SignatureDefEnd(fb)


# ---------------------------------------------------------------------------------------------
# ONNX -> TFLite
#
# Layout: a 4-D ONNX value (N, C, H, W) is held as an NHWC TFLite tensor; every other rank keeps
# the ONNX order. _perm(rank)[i] is the ONNX dimension that TFLite dimension i holds.

_NHWC = (0, 2, 3, 1)
_ANY = object()  # emit(): choose the output quantization from the operator


def _perm(rank: int) -> tuple:
    return _NHWC if rank == 4 else tuple(range(rank))


def _tfl_shape(shape: Sequence[int]) -> tuple:
    return tuple(int(shape[p]) for p in _perm(len(shape)))


def _tfl_axis(axis: int, rank: int) -> int:
    return _perm(rank).index(axis % rank)


def _tfl_array(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array.transpose(_NHWC)) if array.ndim == 4 else array


def _is_reshape(shape: Sequence[int], perm: Sequence[int]) -> bool:
    """A transpose that keeps the non-unit dimensions in order moves no data: a reshape does it."""
    moved = [p for p in perm if shape[p] != 1]
    return moved == sorted(moved)


def _load_onnx(model):
    import onnx
    from google.protobuf.message import DecodeError

    if isinstance(model, onnx.ModelProto):
        return model, "<ModelProto>"
    if isinstance(model, (bytes, bytearray, memoryview)):
        try:
            return onnx.load_from_string(bytes(model)), "<bytes>"
        except (DecodeError, ValueError, RuntimeError) as e:
            raise ModelLoadError(f"<bytes>: not a valid ONNX model ({e})") from None
    path = os.fspath(model)
    if not os.path.isfile(path):
        raise ModelLoadError(f"{path}: no such model file")
    try:
        return onnx.load(path), path
    except (DecodeError, ValueError, RuntimeError, OSError) as e:
        raise ModelLoadError(f"{path}: not a valid ONNX model ({e})") from None


@dataclass
class _Node:
    op_type: str
    name: str
    inputs: list
    outputs: list
    attrs: dict
    domain: str
    proto: Any

    def attr(self, key: str, default=None):
        return self.attrs.get(key, default)


@dataclass
class _QConst:
    """A quantized constant: integer values and their quantization (from DequantizeLinear)."""

    values: np.ndarray
    scale: np.ndarray
    zero_point: np.ndarray
    axis: int | None  # None: per tensor

    def dequantize(self) -> np.ndarray:
        v = self.values.astype(np.float64)
        if self.axis is None:
            return ((v - self.zero_point.reshape(())) * self.scale.reshape(())).astype(np.float32)
        shape = [1] * v.ndim
        shape[self.axis] = -1
        return ((v - self.zero_point.reshape(shape)) * self.scale.reshape(shape)).astype(np.float32)


@dataclass
class _Ctx:
    """How one ONNX node is being converted."""

    node: _Node
    quantized: bool            # int8 in, int8 out
    outputs: list              # the ONNX values the node finally defines (after a fused activation)
    targets: list              # int8: the QuantParams of each output (from its QuantizeLinear)
    quantize_nodes: list       # int8: the QuantizeLinear nodes absorbed, per output
    activation: str = "NONE"   # fused activation function
    first_tensor: int = 0      # tensors from this index on were created for this node

    @property
    def target(self) -> QuantParams | None:
        return self.targets[0] if self.quantized else None


# LiteRT's int8 ADD / SUB need input scale < 2^19 x output scale (left shift 20, twice the larger
# input scale); a margin of 2x keeps the multiplier clear of its rounding.
ADD_INPUT_SCALE_LIMIT = 2.0 ** 18

_FUSABLE = {"Conv", "Gemm", "MatMul", "Add", "Sub", "Mul", "Div", "MaxPool", "AveragePool", "Concat"}
# Operators whose int8 kernel copies or gathers values without rescaling: output params = input's.
_SAME_QUANT = {"RESHAPE", "TRANSPOSE", "PAD", "PADV2", "MIRROR_PAD", "MAX_POOL_2D", "AVERAGE_POOL_2D",
               "SPLIT", "SPLIT_V", "STRIDED_SLICE", "RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR",
               "SQUEEZE", "MAXIMUM", "MINIMUM"}
# int8 kernels with a fixed output quantization (scale, zero point).
_FIXED_QUANT = {"LOGISTIC": (1 / 256, -128), "SOFTMAX": (1 / 256, -128), "TANH": (1 / 128, 0)}
# ONNX operators this converter can emit in int8 when QDQ pairs surround them.
_INT8_OPS = {"Conv", "Gemm", "MatMul", "Add", "Sub", "Mul", "Div", "Relu", "Clip", "Sigmoid", "Tanh",
             "HardSwish", "HardSigmoid", "LeakyRelu", "PRelu", "Softmax", "MaxPool", "AveragePool",
             "GlobalAveragePool", "GlobalMaxPool", "ReduceMean", "ReduceMax", "Flatten", "Reshape",
             "Squeeze", "Unsqueeze", "Transpose", "Concat", "Pad", "Resize", "Split", "Slice"}
# Kept as nodes even with constant inputs: the QDQ structure is what int8 conversion reads, and
# random generators are not constants.
_NEVER_FOLD = {"QuantizeLinear", "DequantizeLinear", "RandomNormal", "RandomUniform", "RandomNormalLike",
               "RandomUniformLike", "Bernoulli", "Multinomial"}
_FLOAT_LOWEST = float(np.finfo(np.float32).min)
_ONNX_FLOAT = 1  # onnx.TensorProto.FLOAT (onnx is imported only when converting)


def onnx_to_tflite(model, weights: str = "fp32", batch: int | None = None) -> bytes:
    """Convert an ONNX model (path, bytes or ModelProto) with static shapes to .tflite bytes.

    weights: "fp32", or "fp16" to store float constants as float16 behind DEQUANTIZE operators
    (what TFLite's float16 post-training quantization writes). QDQ models become int8 models
    whatever `weights` says. 4-D inputs and outputs are NHWC in the result (see the module notes).
    batch: the size given to a symbolic leading (batch) dimension of the inputs and outputs, as
    `edgert convert` writes them (TFLite models have fixed shapes); other symbolic dimensions
    still raise ModelLoadError.
    """
    if weights not in ("fp32", "fp16"):
        raise EdgeRTError(f"weights must be 'fp32' or 'fp16', got {weights!r}")
    proto, source = _load_onnx(model)
    if batch is not None:
        proto = _fix_batch(proto, batch, source)
    return _Converter(proto, source, fp16=weights == "fp16").convert()


def _fix_batch(proto, batch: int, source: str):
    """A copy of `proto` whose inputs' and outputs' symbolic leading dimension is `batch` (the
    intermediate shapes are inferred again from them)."""
    import onnx

    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise EdgeRTError(f"{source}: batch must be a positive integer, got {batch!r}")
    fixed = onnx.ModelProto()
    fixed.CopyFrom(proto)
    del fixed.graph.value_info[:]
    for vi in list(fixed.graph.input) + list(fixed.graph.output):
        dims = vi.type.tensor_type.shape.dim
        if len(dims) and not dims[0].HasField("dim_value"):
            dims[0].dim_value = batch
    return fixed


class _Converter:
    def __init__(self, proto, source: str, fp16: bool):
        import onnx
        from onnx import numpy_helper

        self.source, self.fp16 = source, fp16
        self.opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)
        if self.opset is None:
            raise ModelLoadError(f"{source}: no default-domain opset import")
        try:
            proto = onnx.shape_inference.infer_shapes(proto, strict_mode=False, data_prop=True)
        except Exception as e:  # inference raises a variety of errors on inconsistent graphs
            raise ModelLoadError(f"{source}: ONNX shape inference failed ({e})") from None
        graph = proto.graph
        self.consts: dict[str, np.ndarray] = {}
        for init in graph.initializer:
            try:
                self.consts[init.name] = np.asarray(numpy_helper.to_array(init))
            except Exception as e:
                raise ModelLoadError(f"{source}: cannot read initializer '{init.name}' ({e})") from None
        self.shapes: dict[str, tuple] = {}
        self.dims: dict[str, list] = {}  # as declared, symbolic dimensions included (for messages)
        for vi in list(graph.input) + list(graph.value_info) + list(graph.output):
            tt = vi.type.tensor_type
            if not tt.HasField("shape"):
                continue
            dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in tt.shape.dim]
            self.dims[vi.name] = dims
            if all(isinstance(d, int) and d > 0 for d in dims):
                self.shapes[vi.name] = tuple(dims)
        self.graph_inputs = [vi for vi in graph.input if vi.name not in self.consts]
        self.graph_outputs = [vi.name for vi in graph.output]
        self.nodes: list[_Node] = []
        used = set()
        for i, n in enumerate(graph.node):
            name = n.name or f"{n.op_type}_{i}"
            if name in used:
                name = f"{name}_{i}"
            used.add(name)
            attrs = {}
            for a in n.attribute:
                if a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS):
                    raise UnsupportedOperatorError(n.op_type, name, "control flow (subgraph attributes)")
                value = onnx.helper.get_attribute_value(a)
                if a.type == onnx.AttributeProto.TENSOR:
                    value = np.asarray(numpy_helper.to_array(value))
                elif isinstance(value, bytes):
                    value = value.decode()
                attrs[a.name] = value
            domain = "" if n.domain == "ai.onnx" else n.domain
            self.nodes.append(_Node(n.op_type, name, list(n.input), list(n.output), attrs, domain, n))

        self.b = TFLiteBuilder(description="edgert onnx_to_tflite")
        self.values: dict[str, TensorRef] = {}      # ONNX value -> TFLite tensor (float or int8)
        self.dq_views: dict[str, TensorRef] = {}    # DequantizeLinear output -> the int8 tensor it reads
        self.qconsts: dict[str, _QConst] = {}       # QuantizeLinear of a constant / DequantizeLinear of one
        self._dequantized: dict[int, TensorRef] = {}
        self._const_cache: dict[tuple, TensorRef] = {}
        self._reserved = set(self.graph_outputs)  # only the graph outputs themselves get these names
        self.consumers: dict[str, list[_Node]] = {}
        self.done: set[int] = set()  # ids of nodes converted (or absorbed into another's conversion)

    # -- driver ----------------------------------------------------------------------------

    def convert(self) -> bytes:
        for vi in self.graph_inputs:
            shape = self.shape(vi.name)
            elem = vi.type.tensor_type.elem_type
            if elem != _ONNX_FLOAT:
                raise ModelLoadError(f"{self.source}: input '{vi.name}' is not float32 (element type {elem})")
            self.values[vi.name] = self.b.input(vi.name, _tfl_shape(shape), "float32")
        self._fold_constants()
        self._fold_batchnorm()
        self._fuse_hardswish()
        for node in self.nodes:
            for name in node.inputs:
                if name:
                    self.consumers.setdefault(name, []).append(node)
        for node in self.nodes:
            if id(node) in self.done:
                continue
            self.done.add(id(node))
            if node.domain:
                raise UnsupportedOperatorError(f"{node.domain}.{node.op_type}", node.name,
                                               "only default-domain ONNX operators convert")
            handler = getattr(self, f"_op_{node.op_type}", None)
            if handler is None:
                if node.op_type in ("Shape", "Size", "Gather", "Range", "ConstantOfShape", "Expand"):
                    reason = "its inputs are not constant (dynamic shapes?), so it does not fold"
                else:
                    reason = "no TFLite conversion"
                raise UnsupportedOperatorError(node.op_type, node.name, reason)
            if node.op_type in ("QuantizeLinear", "DequantizeLinear"):
                handler(node)
                continue
            ctx = self._context(node)
            handler(node, ctx)
        for name in self.graph_outputs:
            self.b.output(self._graph_output(name))
        return self.b.finish()

    def _graph_output(self, name: str) -> TensorRef:
        if name in self.values:
            ref = self.values[name]
        elif name in self.dq_views:
            ref = self._dequantize(self.dq_views[name], name)
        else:
            raise ModelLoadError(f"{self.source}: output '{name}' is a constant; a .tflite output must be computed")
        if self.b.is_input(ref) or self.b.is_output(ref):
            # An output that is an input (or another output) still needs a tensor of its own.
            copy = self.b.tensor(self._unique(name) if self.b.has_name(name) else name, ref.shape, ref.dtype, ref.quant)
            self.b.op("RESHAPE", [ref, self.int_const(ref.shape, f"{name}/shape")], [copy], new_shape=ref.shape)
            return copy
        if ref.name != name and not self.b.has_name(name):
            ref = self.b.rename(ref, name)
        return ref

    # -- graph preparation -----------------------------------------------------------------

    def _fold_constants(self) -> None:
        """Evaluate nodes whose inputs are all known (shape arithmetic, Constant nodes)."""
        kept = []
        for node in self.nodes:
            if node.op_type == "Constant" and not node.domain:
                self.consts[node.outputs[0]] = self._constant_attr(node)
                continue
            foldable = not node.domain and node.op_type not in _NEVER_FOLD and (
                all(not i or i in self.consts for i in node.inputs)
                or (node.op_type in ("Shape", "Size") and node.inputs[0] in self.shapes))
            if not foldable:
                kept.append(node)
                continue
            for name, value in zip(node.outputs, self._evaluate(node)):
                if name:
                    self.consts[name] = value
                    self.shapes[name] = tuple(value.shape)
        self.nodes = kept

    def _constant_attr(self, node: _Node) -> np.ndarray:
        for key, dtype in (("value", None), ("value_float", np.float32), ("value_floats", np.float32),
                           ("value_int", np.int64), ("value_ints", np.int64)):
            if key in node.attrs:
                return np.asarray(node.attrs[key], dtype=dtype)
        raise UnsupportedOperatorError("Constant", node.name, "only value/value_float(s)/value_int(s) convert")

    def _evaluate(self, node: _Node) -> list:
        if node.op_type == "Shape":
            shape = np.array(self.shapes[node.inputs[0]], np.int64)
            return [shape[node.attr("start", 0):node.attr("end", len(shape))]]
        if node.op_type == "Size":
            return [np.array(math.prod(self.shapes[node.inputs[0]]), np.int64)]
        import onnx
        from onnx import helper
        from onnx.reference import ReferenceEvaluator

        feeds = {i: self.consts[i] for i in node.inputs if i}
        graph = helper.make_graph(
            [node.proto], "fold",
            [helper.make_tensor_value_info(k, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
             for k, v in feeds.items()],
            [helper.make_value_info(o, onnx.TypeProto()) for o in node.outputs if o])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)])
        try:
            return [np.asarray(v) for v in ReferenceEvaluator(model).run(None, feeds)]
        except Exception as e:
            raise UnsupportedOperatorError(node.op_type, node.name, f"cannot fold its constant inputs ({e})") from None

    def _single_consumer(self, name: str) -> _Node | None:
        if name in self.graph_outputs:
            return None
        users = [n for n in self.nodes if name in n.inputs]
        return users[0] if len(users) == 1 else None

    def _fold_batchnorm(self) -> None:
        """Conv -> BatchNormalization (inference) becomes one Conv with scaled weights and bias."""
        removed = set()
        for node in self.nodes:
            if node.op_type != "Conv" or node.inputs[1] not in self.consts:
                continue
            bn = self._single_consumer(node.outputs[0])
            if bn is None or bn.op_type != "BatchNormalization" or bn.attr("training_mode", 0):
                continue
            params = [self.consts.get(n) for n in bn.inputs[1:5]]
            weights = self.consts[node.inputs[1]]
            if any(p is None for p in params) or weights.dtype != np.float32 or any(bn.outputs[1:]):
                continue
            scale, shift, mean, var = (p.astype(np.float64) for p in params)
            mul = scale / np.sqrt(var + bn.attr("epsilon", 1e-5))
            bias = self.consts[node.inputs[2]].astype(np.float64) if len(node.inputs) > 2 and node.inputs[2] else 0.0
            w_name, b_name = f"{node.name}/w_bn", f"{node.name}/b_bn"
            self.consts[w_name] = (weights * mul.reshape((-1,) + (1,) * (weights.ndim - 1))).astype(np.float32)
            self.consts[b_name] = ((bias - mean) * mul + shift).astype(np.float32)
            node.inputs = [node.inputs[0], w_name, b_name]
            node.outputs = [bn.outputs[0]]
            removed.add(id(bn))
        self.nodes = [n for n in self.nodes if id(n) not in removed]

    def _fuse_hardswish(self) -> None:
        """Mul(x, HardSigmoid(x; 1/6, 1/2)) -> HardSwish(x): how exporters wrote HardSwish before
        opset 14 and how onnxruntime's optimizer rewrites it. In QDQ models a QuantizeLinear ->
        DequantizeLinear pair may sit between the gate and the Mul, and x may be read through two
        DequantizeLinear nodes of the same quantized tensor."""
        producers = {o: n for n in self.nodes for o in n.outputs}

        def source(name: str):
            """What a value is, looking through DequantizeLinear (same input and parameters)."""
            node = producers.get(name)
            if node is not None and node.op_type == "DequantizeLinear":
                return tuple(node.inputs)
            return name

        removed = set()
        for node in self.nodes:
            if node.op_type != "Mul":
                continue
            for gate_name, x in (node.inputs, node.inputs[::-1]):
                chain, name = [], gate_name
                dq = producers.get(name)
                if dq is not None and dq.op_type == "DequantizeLinear":
                    q = producers.get(dq.inputs[0])
                    if (q is None or q.op_type != "QuantizeLinear" or self._single_consumer(name) is not node
                            or self._single_consumer(q.outputs[0]) is not dq):
                        continue
                    chain, name = [dq, q], q.inputs[0]
                gate = producers.get(name)
                if (gate is None or gate.op_type != "HardSigmoid" or not self._is_hardswish_gate(gate)
                        or source(gate.inputs[0]) != source(x)
                        or self._single_consumer(name) is not (chain[-1] if chain else node)):
                    continue
                node.op_type, node.inputs, node.attrs = "HardSwish", [x], {}
                removed.update(id(n) for n in chain + [gate])
                break
        self.nodes = [n for n in self.nodes if id(n) not in removed]

    @staticmethod
    def _is_hardswish_gate(node: _Node) -> bool:
        return math.isclose(node.attr("alpha", 0.2), 1 / 6, rel_tol=1e-5) and math.isclose(node.attr("beta", 0.5), 0.5)

    # -- per-node context: float or int8, fused activation ---------------------------------

    def _activation_kind(self, node: _Node) -> str | None:
        if node.op_type == "Relu":
            return "RELU"
        if node.op_type != "Clip":
            return None
        lo, hi = self._clip_bounds(node)
        if lo == 0.0 and hi is None:
            return "RELU"
        if lo == 0.0 and hi == 6.0:
            return "RELU6"
        if lo == -1.0 and hi == 1.0:
            return "RELU_N1_TO_1"
        return None

    def _clip_bounds(self, node: _Node) -> tuple:
        if self.opset < 11:
            lo, hi = node.attr("min"), node.attr("max")
        else:
            bounds = []
            for i in (1, 2):
                name = node.inputs[i] if len(node.inputs) > i else ""
                if name and name not in self.consts:
                    raise UnsupportedOperatorError("Clip", node.name, "bounds must be constant")
                bounds.append(float(self.consts[name]) if name else None)
            lo, hi = bounds
        lo = None if lo is None or lo <= _FLOAT_LOWEST else float(lo)
        hi = None if hi is None or hi >= -_FLOAT_LOWEST else float(hi)
        return lo, hi

    def _users(self, name: str) -> list:
        return self.consumers.get(name, [])

    def _fused_activation(self, node: _Node):
        """(activation, nodes it absorbs, final output) when the node's only consumer is
        Relu/Clip, looking through a QuantizeLinear -> DequantizeLinear pair in QDQ models."""
        name, absorbed = node.outputs[0], []
        while True:
            users = self._users(name)
            if len(users) != 1 or name in self.graph_outputs:
                return None
            user = users[0]
            if user.op_type == "QuantizeLinear" and not absorbed:
                dq = self._users(user.outputs[0])
                if (len(dq) != 1 or dq[0].op_type != "DequantizeLinear" or user.outputs[0] in self.graph_outputs):
                    return None
                absorbed += [user, dq[0]]
                name = dq[0].outputs[0]
                continue
            kind = self._activation_kind(user)
            if kind is None:
                return None
            return kind, absorbed + [user], user.outputs[0]

    def _quantize_node_params(self, node: _Node) -> QuantParams:
        scale = self.consts.get(node.inputs[1])
        zp_name = node.inputs[2] if len(node.inputs) > 2 else ""
        zp = self.consts.get(zp_name) if zp_name else np.array(0, np.uint8)  # ONNX default: uint8
        if scale is None or zp is None:
            raise UnsupportedOperatorError(node.op_type, node.name, "scale and zero point must be constant")
        if zp.dtype != np.int8:
            raise UnsupportedOperatorError(node.op_type, node.name,
                                           f"{zp.dtype} activations; quantize with QInt8 activations")
        if scale.size != 1:
            raise UnsupportedOperatorError(node.op_type, node.name, "per-axis activation quantization")
        return make_quant(scale.reshape(-1)[0], int(zp.reshape(-1)[0]))

    def _context(self, node: _Node) -> _Ctx:
        """Fused activation, and int8 when every activation input is dequantized int8 and every
        output is read only by QuantizeLinear nodes (with equal parameters), which it absorbs."""
        fused = self._fused_activation(node) if node.op_type in _FUSABLE else None
        outputs = [fused[2]] if fused else list(node.outputs)
        ctx = _Ctx(node, False, outputs, [], [], fused[0] if fused else "NONE", self.b.num_tensors)
        if fused:
            self.done.update(id(n) for n in fused[1])
        activations = [i for i in node.inputs if i and i not in self.consts and i not in self.qconsts]
        if node.op_type not in _INT8_OPS or not activations or not all(i in self.dq_views for i in activations):
            return ctx
        targets, quantize_nodes = [], []
        for out in outputs:
            users = self._users(out)
            if (not out or out in self.graph_outputs or not users
                    or any(u.op_type != "QuantizeLinear" for u in users)):
                return ctx
            params = {self._quantize_node_params(u) for u in users}
            if len(params) != 1:
                return ctx
            targets.append(params.pop())
            quantize_nodes.append(users)
        ctx.quantized, ctx.targets, ctx.quantize_nodes = True, targets, quantize_nodes
        self.done.update(id(q) for users in quantize_nodes for q in users)
        return ctx

    # -- values ----------------------------------------------------------------------------

    def shape(self, name: str) -> tuple:
        if name in self.consts:
            return tuple(self.consts[name].shape)
        if name in self.qconsts:
            return tuple(self.qconsts[name].values.shape)
        if name not in self.shapes:
            dims = self.dims.get(name)
            detail = f" (declared {dims})" if dims else ""
            raise ModelLoadError(f"{self.source}: '{name}' has no static shape{detail}; onnx_to_tflite "
                                 "needs fixed input sizes (dynamic shapes are not supported)")
        return self.shapes[name]

    def _unique(self, name: str) -> str:
        candidate, i = name, 1
        while self.b.has_name(candidate) or candidate in self._reserved:
            candidate, i = f"{name}_{i}", i + 1
        return candidate

    def const_array(self, name: str) -> np.ndarray | None:
        """The float (or integer) value of a constant input, dequantized if it is quantized."""
        if not name:
            return None
        if name in self.consts:
            return self.consts[name]
        if name in self.qconsts:
            return self.qconsts[name].dequantize()
        return None

    def activation(self, ctx: _Ctx, name: str) -> TensorRef:
        """An activation input in the node's mode: int8 for quantized nodes, float32 otherwise."""
        if ctx.quantized:
            return self.dq_views[name]
        if name in self.values:
            ref = self.values[name]
            if ref.dtype != "float32":
                raise UnsupportedOperatorError(ctx.node.op_type, ctx.node.name,
                                               f"input '{name}' is {ref.dtype} without a DequantizeLinear")
            return ref
        if name in self.dq_views:
            return self._dequantize(self.dq_views[name], self._unique(f"{name}"))
        value = self.const_array(name)
        if value is not None:
            return self.float_const(value, name)
        raise ModelLoadError(f"{self.source}: node '{ctx.node.name}' reads '{name}', which nothing computed")

    def _dequantize(self, ref: TensorRef, name: str) -> TensorRef:
        if ref.index not in self._dequantized:
            out = self.b.tensor(self._unique(name) if self.b.has_name(name) else name, ref.shape, "float32")
            self.b.op("DEQUANTIZE", [ref], [out])
            self._dequantized[ref.index] = out
        return self._dequantized[ref.index]

    def float_const(self, array: np.ndarray, name: str, layout: bool = True) -> TensorRef:
        """A float32 constant in TFLite layout; with fp16 weights, a float16 buffer and DEQUANTIZE."""
        array = np.asarray(array, np.float32)
        if layout:
            array = _tfl_array(array)
        key = (name, array.shape, array.tobytes())
        if key not in self._const_cache:
            # float16 storage only where every value is in its range (not e.g. a -FLT_MAX pad value).
            if self.fp16 and (array.size == 0 or float(np.abs(array).max()) <= float(np.finfo(np.float16).max)):
                half = self.b.const(self._unique(f"{name}_fp16"), array.astype(np.float16))
                ref = self.b.tensor(self._unique(name), array.shape, "float32")
                self.b.op("DEQUANTIZE", [half], [ref])
            else:
                ref = self.b.const(self._unique(name), array)
            self._const_cache[key] = ref
        return self._const_cache[key]

    def int_const(self, values, name: str, dtype="int32") -> TensorRef:
        return self.b.const(self._unique(name), np.asarray(values, dtype))

    def quantized_const(self, ctx: _Ctx, name: str, shape: tuple, quant: QuantParams | None = None) -> TensorRef:
        """An int8 constant operand of a quantized elementwise op, reshaped to `shape` (ONNX order)
        and laid out like the activations; float constants are quantized per tensor here, and any
        with `quant` when given."""
        if quant is not None:
            values = _quantize(np.asarray(self.const_array(name), np.float64), quant)
        else:
            values, quant = self._int8_const(name)
        values = _tfl_array(values.reshape(shape)) if len(shape) else values.reshape(shape)
        return self.b.const(self._unique(name), values.astype(np.int8), quant=quant)

    def _int8_const(self, name: str) -> tuple[np.ndarray, QuantParams]:
        """(int8 values, quantization) of a constant elementwise operand: its own per-tensor int8
        values where the QDQ file has them, else quantized per tensor here."""
        qc = self.qconsts.get(name)
        if qc is not None and qc.axis is None and qc.values.dtype == np.int8:
            return qc.values, make_quant(qc.scale.reshape(-1)[0], int(qc.zero_point.reshape(-1)[0]))
        return _quantize_per_tensor(self.const_array(name))

    # -- emission --------------------------------------------------------------------------

    def emit(self, ctx: _Ctx, op: str, inputs: list, shape: Sequence[int], quant=_ANY, dtype: str | None = None,
             name: str | None = None, **options) -> TensorRef:
        source = inputs[0] if inputs and isinstance(inputs[0], TensorRef) else None
        if dtype is None:
            if op in _SAME_QUANT and source is not None:
                dtype = source.dtype
            else:
                dtype = "int8" if ctx.quantized else "float32"
        if quant is _ANY:
            quant = None
            if dtype == "int8":
                if op in _SAME_QUANT:
                    quant = source.quant
                elif op in _FIXED_QUANT:
                    quant = make_quant(*_FIXED_QUANT[op])
                else:
                    quant = ctx.target
        ref = self.b.tensor(self._unique(name or f"{ctx.node.name}/{op.lower()}"), shape, dtype, quant)
        self.b.op(op, inputs, [ref], **options)
        return ref

    def bind(self, ctx: _Ctx, index: int, ref: TensorRef) -> None:
        """Make `ref` the value of the node's index-th output (requantized to its QuantizeLinear's
        parameters when the operator produced others)."""
        onnx_name = ctx.outputs[index]
        if ctx.quantized:
            target = ctx.targets[index]
            if ref.quant != target:
                ref = self.emit(ctx, "QUANTIZE", [ref], ref.shape, quant=target, dtype="int8",
                                name=f"{onnx_name}/requantized")
            keys = [q.outputs[0] for q in ctx.quantize_nodes[index]]
        else:
            keys = [onnx_name]
        if ref.index >= ctx.first_tensor and not ref.is_const and not self.b.has_name(onnx_name):
            ref = self.b.rename(ref, onnx_name)  # tensors carry the ONNX names where they can
        for key in keys:
            self.values[key] = ref

    def alias(self, source: str, target: str) -> None:
        for table in (self.values, self.dq_views, self.qconsts, self.consts):
            if source in table:
                table[target] = table[source]
        if source in self.shapes:
            self.shapes[target] = self.shapes[source]

    def transpose(self, ctx: _Ctx, ref: TensorRef, perm: Sequence[int]) -> TensorRef:
        """out.shape[i] = ref.shape[perm[i]]; a reshape when no data moves."""
        perm = tuple(int(p) for p in perm)
        if perm == tuple(range(len(perm))):
            return ref
        shape = tuple(ref.shape[p] for p in perm)
        if _is_reshape(ref.shape, perm):
            return self.reshape(ctx, ref, shape)
        return self.emit(ctx, "TRANSPOSE", [ref, self.int_const(perm, f"{ctx.node.name}/perm")], shape)

    def reshape(self, ctx: _Ctx, ref: TensorRef, shape: Sequence[int]) -> TensorRef:
        shape = tuple(int(s) for s in shape)
        if shape == tuple(ref.shape):
            return ref
        return self.emit(ctx, "RESHAPE", [ref, self.int_const(shape, f"{ctx.node.name}/shape")], shape,
                         new_shape=shape)

    def relayout(self, ctx: _Ctx, ref: TensorRef, held: Sequence[int]) -> TensorRef:
        """`ref` holds ONNX dimensions `held` (held[i]: the ONNX dim in TFLite dim i); return it in
        the standard layout for its rank."""
        want = _perm(len(held))
        return self.transpose(ctx, ref, [list(held).index(d) for d in want])

    def to_onnx_order(self, ctx: _Ctx, ref: TensorRef) -> TensorRef:
        return self.transpose(ctx, ref, [_perm(ref.rank).index(d) for d in range(ref.rank)])

    def onnx_reshape(self, ctx: _Ctx, ref: TensorRef, shape: Sequence[int]) -> TensorRef:
        """ONNX Reshape semantics (row-major over ONNX order) on a laid-out tensor."""
        pre = [_perm(ref.rank).index(d) for d in range(ref.rank)]
        post = list(_perm(len(shape)))
        if _is_reshape(ref.shape, pre) and _is_reshape(tuple(shape), post):
            return self.reshape(ctx, ref, _tfl_shape(shape))
        plain = self.transpose(ctx, ref, pre)
        return self.transpose(ctx, self.reshape(ctx, plain, shape), post)

    # -- operand helpers -------------------------------------------------------------------

    def weight(self, ctx: _Ctx, index: int, what: str = "weights"):
        """(values, QuantParams or None) of a constant weight input, in ONNX layout: int8 values
        for a quantized node, float32 otherwise."""
        node = ctx.node
        name = node.inputs[index] if len(node.inputs) > index else ""
        if not name or (name not in self.consts and name not in self.qconsts):
            raise UnsupportedOperatorError(node.op_type, node.name,
                                           f"{what} '{name}' are not constant (non-constant weights do not convert)")
        if not ctx.quantized:
            return self.const_array(name).astype(np.float32), None
        qc = self.qconsts.get(name)
        if qc is None:
            return _quantize_per_channel(self.consts[name].astype(np.float32), 0)
        if qc.values.dtype != np.int8:
            raise UnsupportedOperatorError(node.op_type, node.name, f"{what} are {qc.values.dtype}, not int8")
        if np.any(qc.zero_point != 0):
            raise UnsupportedOperatorError(node.op_type, node.name, f"{what} have non-zero zero points")
        if qc.axis is None:
            return qc.values, make_quant(qc.scale.reshape(-1)[0], 0)
        return qc.values, make_quant(qc.scale, 0, qc.axis)

    def operand(self, ctx: _Ctx, name: str, rank: int, quant: QuantParams | None = None) -> TensorRef:
        """Input of a broadcasting elementwise op whose output has `rank`: constants and lower-rank
        activations are given that rank (leading 1s) and the standard layout; `quant` re-quantizes
        an int8 constant."""
        value = self.const_array(name)
        if value is not None:
            shape = (1,) * (rank - value.ndim) + tuple(value.shape)
            if ctx.quantized:
                return self.quantized_const(ctx, name, shape if value.size > 1 else (), quant)
            if value.size == 1:
                return self.float_const(value.reshape(()), name)
            return self.float_const(value.reshape(shape), name)
        ref = self.activation(ctx, name)
        if ref.rank < rank:
            onnx_shape = (1,) * (rank - ref.rank) + tuple(self.shape(name))
            ref = self.onnx_reshape(ctx, ref, onnx_shape)
        return ref

    def requantize(self, ctx: _Ctx, ref: TensorRef, quant: QuantParams) -> TensorRef:
        if ref.quant == quant:
            return ref
        return self.emit(ctx, "QUANTIZE", [ref], ref.shape, quant=quant, dtype="int8",
                         name=f"{ref.name}/requantized")

    def weight_tensor(self, values: np.ndarray, wq: QuantParams | None, axis: int, name: str) -> TensorRef:
        """Weights already in TFLite layout; int8 ones get one scale per output channel on `axis`."""
        if wq is None:
            return self.float_const(values, name, layout=False)
        scales = _channel_scales(wq, values.shape[axis])
        return self.b.const(self._unique(name), values.astype(np.int8), quant=make_quant(scales, 0, axis))

    def bias_values(self, ctx: _Ctx, index: int, channels: int) -> np.ndarray:
        node = ctx.node
        src = node.inputs[index] if len(node.inputs) > index else ""
        if not src:
            return np.zeros(channels)
        value = self.const_array(src)
        if value is None:
            raise UnsupportedOperatorError(node.op_type, node.name, f"bias '{src}' is not constant")
        if value.size not in (1, channels):
            raise UnsupportedOperatorError(node.op_type, node.name,
                                           f"bias of shape {value.shape} for {channels} outputs")
        return np.broadcast_to(np.asarray(value, np.float64).reshape(-1), (channels,))

    def bias_tensor(self, ctx: _Ctx, values: np.ndarray, x: TensorRef, wq: QuantParams | None, name: str):
        """Float bias, or int32 with scale input_scale * weight_scale per channel (TFLite's rule)."""
        if not ctx.quantized:
            return self.float_const(values.astype(np.float32), name)
        scale = (np.float32(x.quant.scale[0]) * _channel_scales(wq, len(values))).astype(np.float32)
        q = np.clip(np.round(values / scale.astype(np.float64)), -2**31, 2**31 - 1).astype(np.int32)
        return self.b.const(self._unique(name), q, quant=make_quant(scale, 0, 0))

    def window_input(self, ctx: _Ctx, x: TensorRef, spatial, kernel, strides, dilations, pads,
                     fill: float | None = None, allow_same: bool = True):
        """TFLite padding for a windowed op with explicit ONNX pads [(begin, end)] per spatial dim:
        VALID, SAME when the pads are TFLite's SAME pads, else a PAD (PADV2 with `fill`) + VALID."""
        if all(b == 0 and e == 0 for b, e in pads):
            return x, "VALID"
        same = [_same_pads(n, k, s, d) for n, k, s, d in zip(spatial, kernel, strides, dilations)]
        if allow_same and list(map(tuple, pads)) == same:
            return x, "SAME"
        if any(b < 0 or e < 0 for b, e in pads):
            raise UnsupportedOperatorError(ctx.node.op_type, ctx.node.name, "negative pads")
        paddings = np.array([[0, 0], *pads, [0, 0]], np.int32)
        shape = tuple(int(d + b + e) for d, (b, e) in zip(x.shape, paddings))
        const = self.int_const(paddings, f"{ctx.node.name}/paddings")
        if fill is None:
            return self.emit(ctx, "PAD", [x, const], shape), "VALID"
        if x.dtype == "int8":  # PADV2 wants the fill in the input's quantization
            value = self.b.const(self._unique(f"{ctx.node.name}/pad_value"), _quantize(fill, x.quant), quant=x.quant)
        else:
            value = self.float_const(np.array(fill, np.float32), f"{ctx.node.name}/pad_value")
        return self.emit(ctx, "PADV2", [x, const, value], shape), "VALID"

    def explicit_pads(self, node: _Node, spatial, kernel, strides, dilations) -> list:
        auto_pad = node.attr("auto_pad", "NOTSET")
        if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            pads = [_same_pads(n, k, s, d) for n, k, s, d in zip(spatial, kernel, strides, dilations)]
            return pads if auto_pad == "SAME_UPPER" else [(e, b) for b, e in pads]
        if auto_pad == "VALID":
            return [(0, 0)] * len(spatial)
        p = list(node.attr("pads", [0] * 2 * len(spatial)))
        n = len(spatial)
        return [(int(p[i]), int(p[i + n])) for i in range(n)]

    def check_window_output(self, ctx: _Ctx, x: TensorRef, padding: str, kernel, strides, dilations, want):
        got = _window_output(x.shape[1:3], kernel, strides, dilations, padding)
        if tuple(got) != tuple(want):
            raise UnsupportedOperatorError(ctx.node.op_type, ctx.node.name,
                                           f"output size {tuple(want)} differs from TFLite's {tuple(got)} "
                                           "for these pads")

    # -- quantization nodes ------------------------------------------------------------------

    def _op_QuantizeLinear(self, node: _Node) -> None:
        src, out = node.inputs[0], node.outputs[0]
        if src in self.consts:  # a float weight quantized in the graph: fold it
            scale = self.consts.get(node.inputs[1])
            zp_name = node.inputs[2] if len(node.inputs) > 2 else ""
            if scale is None or (zp_name and zp_name not in self.consts):
                raise UnsupportedOperatorError(node.op_type, node.name, "scale and zero point must be constant")
            zp = self.consts[zp_name] if zp_name else np.zeros((), np.uint8)
            value = self.consts[src].astype(np.float64)
            axis = node.attr("axis", 1) % value.ndim if scale.size > 1 else None
            shape = [1] * value.ndim
            if axis is not None:
                shape[axis] = -1
            info = np.iinfo(zp.dtype)
            q = np.round(value / scale.reshape(shape)) + zp.reshape(shape).astype(np.float64)
            self.qconsts[out] = _QConst(np.clip(q, info.min, info.max).astype(zp.dtype),
                                        scale.reshape(-1).astype(np.float32), zp.reshape(-1), axis)
            return
        quant = self._quantize_node_params(node)
        ctx = _Ctx(node, True, [out], [quant], [[node]], first_tensor=self.b.num_tensors)
        if src in self.dq_views:
            ref = self.requantize(ctx, self.dq_views[src], quant)
        else:
            x = self.activation(_Ctx(node, False, [out], [], []), src)
            ref = self.emit(ctx, "QUANTIZE", [x], x.shape, quant=quant, dtype="int8", name=out)
        self.values[out] = ref

    def _op_DequantizeLinear(self, node: _Node) -> None:
        src, out = node.inputs[0], node.outputs[0]
        scale = self.consts.get(node.inputs[1])
        zp_name = node.inputs[2] if len(node.inputs) > 2 else ""
        if scale is None or (zp_name and zp_name not in self.consts):
            raise UnsupportedOperatorError(node.op_type, node.name, "scale and zero point must be constant")
        if src in self.consts or src in self.qconsts:
            values = self.consts[src] if src in self.consts else self.qconsts[src].values
            zp = self.consts[zp_name] if zp_name else np.zeros((), values.dtype)
            axis = node.attr("axis", 1) % values.ndim if scale.size > 1 else None
            self.qconsts[out] = _QConst(values, scale.reshape(-1).astype(np.float32), zp.reshape(-1), axis)
            self.shapes[out] = tuple(values.shape)
            return
        ref = self.values.get(src)
        if ref is None or ref.dtype != "int8":
            raise UnsupportedOperatorError(node.op_type, node.name, f"input '{src}' is not an int8 activation")
        zp = self.consts[zp_name] if zp_name else np.zeros((), np.uint8)
        if make_quant(scale.reshape(-1)[0], int(zp.reshape(-1)[0])) != ref.quant:
            raise UnsupportedOperatorError(node.op_type, node.name,
                                           "its scale/zero point differ from the QuantizeLinear that made its input")
        self.dq_views[out] = ref

    # -- convolution and matrix products ---------------------------------------------------

    def _op_Conv(self, node: _Node, ctx: _Ctx) -> None:
        xs = self.shape(node.inputs[0])
        if len(xs) != 4:
            raise UnsupportedOperatorError("Conv", node.name, f"{len(xs) - 2}-D convolution (only 2-D converts)")
        x = self.activation(ctx, node.inputs[0])
        w, wq = self.weight(ctx, 1)
        if wq is not None and wq.per_channel and wq.axis != 0:
            raise UnsupportedOperatorError("Conv", node.name, "weights quantized along an axis other than 0")
        cout, cin_group, kh, kw = w.shape
        group, cin = int(node.attr("group", 1)), xs[1]
        strides = [int(s) for s in node.attr("strides", [1, 1])]
        dilations = [int(d) for d in node.attr("dilations", [1, 1])]
        pads = self.explicit_pads(node, xs[2:], (kh, kw), strides, dilations)
        x, padding = self.window_input(ctx, x, xs[2:], (kh, kw), strides, dilations, pads)
        ys = self.shape(node.outputs[0])
        self.check_window_output(ctx, x, padding, (kh, kw), strides, dilations, ys[2:])
        options = dict(padding=padding, stride_h=strides[0], stride_w=strides[1], dilation_h_factor=dilations[0],
                       dilation_w_factor=dilations[1], fused_activation_function=ctx.activation)
        bias = self.bias_values(ctx, 2, cout)
        out_shape = _tfl_shape(ys)
        if group == 1:
            wref = self.weight_tensor(np.ascontiguousarray(w.transpose(0, 2, 3, 1)), wq, 0, f"{node.name}/weights")
            bref = self.bias_tensor(ctx, bias, x, wq, f"{node.name}/bias")
            y = self.emit(ctx, "CONV_2D", [x, wref, bref], out_shape, **options)
        elif cin_group == 1 and group == cin:
            wref = self.weight_tensor(np.ascontiguousarray(w.transpose(1, 2, 3, 0)), wq, 3, f"{node.name}/weights")
            bref = self.bias_tensor(ctx, bias, x, wq, f"{node.name}/bias")
            y = self.emit(ctx, "DEPTHWISE_CONV_2D", [x, wref, bref], out_shape, depth_multiplier=cout // cin, **options)
        else:
            y = self._grouped_conv(ctx, x, w, wq, bias, group, out_shape, options)
        self.bind(ctx, 0, y)

    def _grouped_conv(self, ctx, x, w, wq, bias, group, out_shape, options) -> TensorRef:
        """Grouped convolution as TFLite's converter writes it: SPLIT, one CONV_2D per group, CONCATENATION."""
        node = ctx.node
        cout = w.shape[0]
        if x.shape[3] % group or cout % group:
            raise UnsupportedOperatorError("Conv", node.name, f"{group} groups do not divide the channels")
        parts = [self.b.tensor(self._unique(f"{node.name}/group{g}_in"), (*x.shape[:3], x.shape[3] // group),
                               x.dtype, x.quant) for g in range(group)]
        self.b.op("SPLIT", [self.int_const(3, f"{node.name}/split_axis"), x], parts, num_splits=group)
        step = cout // group
        outs = []
        for g, part in enumerate(parts):
            sl = slice(g * step, (g + 1) * step)
            gq = None
            if wq is not None:
                scales = _channel_scales(wq, cout)[sl]
                gq = make_quant(scales, 0, 0)
            wref = self.weight_tensor(np.ascontiguousarray(w[sl].transpose(0, 2, 3, 1)), gq, 0,
                                      f"{node.name}/weights{g}")
            bref = self.bias_tensor(ctx, bias[sl], part, gq, f"{node.name}/bias{g}")
            outs.append(self.emit(ctx, "CONV_2D", [part, wref, bref], (*out_shape[:3], step),
                                  name=f"{node.name}/group{g}", **options))
        return self.emit(ctx, "CONCATENATION", outs, out_shape, axis=3)

    def _fully_connected(self, ctx: _Ctx, x: TensorRef, w: np.ndarray, wq, bias: np.ndarray, out_shape,
                         keep_num_dims: bool) -> TensorRef:
        """w: [out, in] (TFLite's layout); int8 weights quantized per output row."""
        if wq is not None and wq.per_channel and wq.axis != 0:
            raise UnsupportedOperatorError(ctx.node.op_type, ctx.node.name,
                                           "weights are quantized along the input dimension")
        name = ctx.node.name
        wref = self.weight_tensor(np.ascontiguousarray(w), wq, 0, f"{name}/weights")
        bref = self.bias_tensor(ctx, bias, x, wq, f"{name}/bias")
        return self.emit(ctx, "FULLY_CONNECTED", [x, wref, bref], out_shape,
                         fused_activation_function=ctx.activation, keep_num_dims=keep_num_dims)

    def _op_Gemm(self, node: _Node, ctx: _Ctx) -> None:
        if node.attr("transA", 0):
            raise UnsupportedOperatorError("Gemm", node.name, "transA=1")
        if len(self.shape(node.inputs[0])) != 2:
            raise UnsupportedOperatorError("Gemm", node.name, "input is not 2-D")
        x = self.activation(ctx, node.inputs[0])
        w, wq = self.weight(ctx, 1)
        alpha, beta = float(node.attr("alpha", 1.0)), float(node.attr("beta", 1.0))
        if not node.attr("transB", 0):
            w = w.T
            if wq is not None and wq.per_channel:
                wq = make_quant(wq.scale, wq.zero_point, 1 - wq.axis)
        if alpha != 1.0:
            if ctx.quantized:
                raise UnsupportedOperatorError("Gemm", node.name, "alpha != 1 with int8 weights")
            w = w * np.float32(alpha)
        bias = self.bias_values(ctx, 2, w.shape[0]) * beta
        y = self._fully_connected(ctx, x, w, wq, bias, _tfl_shape(self.shape(ctx.node.outputs[0])), False)
        self.bind(ctx, 0, y)

    def _op_MatMul(self, node: _Node, ctx: _Ctx) -> None:
        xs = self.shape(node.inputs[0])
        if node.inputs[1] not in self.consts and node.inputs[1] not in self.qconsts:
            self._batch_matmul(node, ctx)
            return
        w, wq = self.weight(ctx, 1)
        if w.ndim != 2 or len(xs) < 2:
            raise UnsupportedOperatorError("MatMul", node.name, "only [..., K] x [K, N] with constant [K, N] converts")
        if wq is not None and wq.per_channel:
            wq = make_quant(wq.scale, wq.zero_point, 1 - wq.axis)
        x = self.to_onnx_order(ctx, self.activation(ctx, node.inputs[0]))
        ys = self.shape(node.outputs[0])
        y = self._fully_connected(ctx, x, w.T, wq, np.zeros(w.shape[1]), ys, len(xs) > 2)
        self.bind(ctx, 0, self.relayout(ctx, y, range(len(ys))))

    def _batch_matmul(self, node: _Node, ctx: _Ctx) -> None:
        """MatMul of two activations (attention's q @ k^T, attn @ v): BATCH_MATMUL on both in
        ONNX order, batch dimensions broadcasting."""
        ys = self.shape(node.outputs[0])
        if any(len(self.shape(name)) < 2 for name in node.inputs[:2]):
            raise UnsupportedOperatorError("MatMul", node.name, "a 1-D operand of a MatMul of two activations")
        a, b = (self.to_onnx_order(ctx, self.operand(ctx, name, len(ys))) for name in node.inputs[:2])
        y = self.emit(ctx, "BATCH_MATMUL", [a, b], tuple(ys), adj_x=False, adj_y=False)
        self.bind(ctx, 0, self.relayout(ctx, y, range(len(ys))))

    # -- elementwise -----------------------------------------------------------------------

    def _binary(self, node: _Node, ctx: _Ctx, op: str) -> None:
        a, b = node.inputs[:2]
        ys = self.shape(node.outputs[0])
        if op == "DIV" and self.const_array(b) is not None:  # x / c -> x * (1/c), as int8 has no DIV
            reciprocal = f"{node.name}/reciprocal"
            self.consts[reciprocal] = (1.0 / self.const_array(b).astype(np.float64)).astype(np.float32)
            op, b = "MUL", reciprocal
        elif op == "DIV" and ctx.quantized:
            raise UnsupportedOperatorError("Div", node.name, "int8 division by a tensor")
        if ctx.quantized and op in ("ADD", "SUB"):
            ins = [self._add_operand(ctx, name, len(ys)) for name in (a, b)]
        else:
            ins = [self.operand(ctx, a, len(ys)), self.operand(ctx, b, len(ys))]
        y = self.emit(ctx, op, ins, _tfl_shape(ys), fused_activation_function=ctx.activation)
        self.bind(ctx, 0, y)

    def _add_operand(self, ctx: _Ctx, name: str, rank: int) -> TensorRef:
        """operand() of an int8 ADD / SUB. LiteRT aborts the process while preparing one unless
        every input scale is below 2^19 x the output scale. A constant beyond that (onnxruntime's
        quantizer gives an all-zero constant, such as an untrained attention bias, scale 1) is
        quantized to a finer scale that holds its values; an activation cannot be."""
        out_scale = float(ctx.target.scale[0])
        limit = ADD_INPUT_SCALE_LIMIT * out_scale
        value = self.const_array(name)
        if value is None:
            ref = self.operand(ctx, name, rank)
            if ref.quant is not None and float(ref.quant.scale[0]) >= limit:
                raise UnsupportedOperatorError(ctx.node.op_type, ctx.node.name,
                                               f"input '{name}' has int8 scale {float(ref.quant.scale[0]):.3g}, over "
                                               f"2^19 x the output's {out_scale:.3g}: LiteRT's int8 ADD cannot run it")
            return ref
        if float(self._int8_const(name)[1].scale[0]) < limit:
            return self.operand(ctx, name, rank)
        value = np.asarray(value, np.float64)
        lo, hi = min(float(value.min()), 0.0), max(float(value.max()), 0.0)
        scale = (hi - lo) / 255.0 if hi > lo else out_scale
        if scale >= limit:
            raise UnsupportedOperatorError(ctx.node.op_type, ctx.node.name,
                                           f"constant '{name}' spans [{lo:.3g}, {hi:.3g}], too wide for an int8 ADD "
                                           f"whose output scale is {out_scale:.3g}")
        quant = make_quant(scale, int(np.clip(np.round(-128 - lo / scale), -128, 127)))
        return self.operand(ctx, name, rank, quant=quant)

    def _op_Add(self, node, ctx):
        self._binary(node, ctx, "ADD")

    def _op_Sub(self, node, ctx):
        self._binary(node, ctx, "SUB")

    def _op_Mul(self, node, ctx):
        self._binary(node, ctx, "MUL")

    def _op_Div(self, node, ctx):
        self._binary(node, ctx, "DIV")

    def _op_Sum(self, node, ctx):
        if len(node.inputs) == 1:
            self.alias(node.inputs[0], node.outputs[0])
            return
        if len(node.inputs) == 2:
            self._binary(node, ctx, "ADD")
            return
        # More inputs: ADDs left to right (ONNX's order; Sum stays float in a QDQ model, as
        # onnxruntime's quantizer leaves it). ADD_N would need equal shapes.
        ys = self.shape(node.outputs[0])
        terms = [self.operand(ctx, name, len(ys)) for name in node.inputs]
        acc = terms[0]
        for term in terms[1:-1]:
            acc = self.emit(ctx, "ADD", [acc, term], tuple(np.broadcast_shapes(acc.shape, term.shape)))
        self.bind(ctx, 0, self.emit(ctx, "ADD", [acc, terms[-1]], _tfl_shape(ys),
                                    fused_activation_function=ctx.activation))

    def _unary(self, node: _Node, ctx: _Ctx, op: str, **options) -> None:
        x = self.activation(ctx, node.inputs[0])
        self.bind(ctx, 0, self.emit(ctx, op, [x], x.shape, **options))

    def _op_Relu(self, node, ctx):
        self._unary(node, ctx, "RELU")

    def _op_Sigmoid(self, node, ctx):
        self._unary(node, ctx, "LOGISTIC")

    def _op_Tanh(self, node, ctx):
        self._unary(node, ctx, "TANH")

    def _op_HardSwish(self, node, ctx):
        self._unary(node, ctx, "HARD_SWISH")

    def _op_LeakyRelu(self, node, ctx):
        self._unary(node, ctx, "LEAKY_RELU", alpha=float(node.attr("alpha", 0.01)))

    def _op_Clip(self, node: _Node, ctx: _Ctx) -> None:
        kind = self._activation_kind(node)
        if kind is not None:
            self._unary(node, ctx, kind)
            return
        lo, hi = self._clip_bounds(node)
        y = self.activation(ctx, node.inputs[0])
        for op, bound in (("MAXIMUM", lo), ("MINIMUM", hi)):
            if bound is None:
                continue
            if y.dtype == "int8":
                value = self.b.const(self._unique(f"{node.name}/{op.lower()}"),
                                     np.array(_quantize(bound, y.quant), np.int8), quant=y.quant)
            else:
                value = self.float_const(np.array(bound, np.float32), f"{node.name}/{op.lower()}")
            y = self.emit(ctx, op, [y, value], y.shape)
        self.bind(ctx, 0, y)

    def _op_HardSigmoid(self, node: _Node, ctx: _Ctx) -> None:
        """max(0, min(1, alpha * x + beta)); torch's (1/6, 1/2) as relu6(x + 3) / 6."""
        x = self.activation(ctx, node.inputs[0])
        alpha, beta = float(node.attr("alpha", 0.2)), float(node.attr("beta", 0.5))
        name = node.name
        if self._is_hardswish_gate(node) and not ctx.quantized:
            three = self.float_const(np.array(3.0, np.float32), f"{name}/three")
            sixth = self.float_const(np.array(1 / 6, np.float32), f"{name}/sixth")
            t = self.emit(ctx, "ADD", [x, three], x.shape, fused_activation_function="RELU6")
            self.bind(ctx, 0, self.emit(ctx, "MUL", [t, sixth], x.shape))
            return
        target = ctx.target
        if ctx.quantized and alpha > 0 and _representable(target, -0.5 * target.scale[0], 1 + 0.5 * target.scale[0]):
            # int8: alpha * x exactly (scale alpha * s_x, same zero point), then + beta into the
            # output parameters, whose range within [0, 1] (what a QuantizeLinear after HardSigmoid
            # has) makes saturation the clamp.
            c = self.b.const(self._unique(f"{name}/alpha"), np.array(127, np.int8), quant=make_quant(alpha / 127, 0))
            scaled = make_quant(alpha * x.quant.scale[0], x.quant.zero_point[0])
            t = self.emit(ctx, "MUL", [x, c], x.shape, quant=scaled)
            values, quant = _quantize_per_tensor(np.array(beta))
            bias = self.b.const(self._unique(f"{name}/beta"), values, quant=quant)
            self.bind(ctx, 0, self.emit(ctx, "ADD", [t, bias], x.shape, quant=target))
            return
        if ctx.quantized:
            raise UnsupportedOperatorError("HardSigmoid", name,
                                           "int8 needs alpha > 0 and an output range within [0, 1]")
        t = self.emit(ctx, "MUL", [x, self.float_const(np.array(alpha, np.float32), f"{name}/alpha")], x.shape)
        t = self.emit(ctx, "ADD", [t, self.float_const(np.array(beta, np.float32), f"{name}/beta")], x.shape)
        t = self.emit(ctx, "MAXIMUM", [t, self.float_const(np.array(0.0, np.float32), f"{name}/zero")], x.shape)
        t = self.emit(ctx, "MINIMUM", [t, self.float_const(np.array(1.0, np.float32), f"{name}/one")], x.shape)
        self.bind(ctx, 0, t)

    def _op_PRelu(self, node: _Node, ctx: _Ctx) -> None:
        x = self.activation(ctx, node.inputs[0])
        slope = self.const_array(node.inputs[1])
        if slope is None:
            raise UnsupportedOperatorError("PRelu", node.name, "slope is not constant")
        rank = x.rank
        slope = slope.reshape((1,) * (rank - slope.ndim) + slope.shape) if slope.ndim < rank else slope
        if ctx.quantized:
            values, quant = _quantize_per_tensor(slope)
            alpha = self.b.const(self._unique(f"{node.name}/alpha"), _tfl_array(values), quant=quant)
        else:
            alpha = self.float_const(slope, f"{node.name}/alpha")
        self.bind(ctx, 0, self.emit(ctx, "PRELU", [x, alpha], x.shape))

    def _op_Softmax(self, node: _Node, ctx: _Ctx) -> None:
        xs = self.shape(node.inputs[0])
        rank = len(xs)
        axis = int(node.attr("axis", -1 if self.opset >= 13 else 1)) % rank
        x = self.activation(ctx, node.inputs[0])
        if self.opset < 13 and axis != rank - 1:
            # Softmax-1/11 normalises the flattened [prod(:axis), prod(axis:)] matrix.
            flat = self.onnx_reshape(ctx, x, (math.prod(xs[:axis]), math.prod(xs[axis:])))
            y = self.emit(ctx, "SOFTMAX", [flat], flat.shape, beta=1.0)
            self.bind(ctx, 0, self.onnx_reshape(ctx, y, xs))
            return
        t_axis = _tfl_axis(axis, rank)
        order = [d for d in range(rank) if d != t_axis] + [t_axis]
        moved = self.transpose(ctx, x, order)
        y = self.emit(ctx, "SOFTMAX", [moved], moved.shape, beta=1.0)
        self.bind(ctx, 0, self.transpose(ctx, y, [order.index(d) for d in range(rank)]))

    def _op_BatchNormalization(self, node: _Node, ctx: _Ctx) -> None:
        params = [self.const_array(n) for n in node.inputs[1:5]]
        if any(p is None for p in params) or node.attr("training_mode", 0):
            raise UnsupportedOperatorError("BatchNormalization", node.name, "statistics must be constant (inference)")
        scale, shift, mean, var = (p.astype(np.float64) for p in params)
        mul = scale / np.sqrt(var + node.attr("epsilon", 1e-5))
        add = shift - mean * mul
        x = self.activation(ctx, node.inputs[0])
        rank = x.rank
        shape = (1, -1) + (1,) * (rank - 2)
        m = self.float_const(mul.astype(np.float32).reshape(shape), f"{node.name}/scale")
        a = self.float_const(add.astype(np.float32).reshape(shape), f"{node.name}/shift")
        y = self.emit(ctx, "MUL", [x, m], x.shape)
        self.bind(ctx, 0, self.emit(ctx, "ADD", [y, a], x.shape))

    def _op_InstanceNormalization(self, node: _Node, ctx: _Ctx) -> None:
        """TFLite has no normalization operator: MEAN over the spatial axes, the centred values'
        mean square, RSQRT, then the per-channel scale and bias, in float32 (what GroupNorm
        exports, a Reshape to [N, groups, -1] around it, become)."""
        params = [self.const_array(n) if n else None for n in node.inputs[1:3]]
        if any(p is None for p in params):
            raise UnsupportedOperatorError("InstanceNormalization", node.name, "scale and bias must be constant")
        xs = self.shape(node.inputs[0])
        rank = len(xs)
        if rank < 3:
            raise UnsupportedOperatorError("InstanceNormalization", node.name, f"input of rank {rank}")
        x = self.activation(ctx, node.inputs[0])
        axes = self.int_const(sorted(_tfl_axis(a, rank) for a in range(2, rank)), f"{node.name}/axes")
        stats = _tfl_shape(tuple(xs[:2]) + (1,) * (rank - 2))
        mean = self.emit(ctx, "MEAN", [x, axes], stats, keep_dims=True)
        centred = self.emit(ctx, "SUB", [x, mean], x.shape)
        var = self.emit(ctx, "MEAN", [self.emit(ctx, "MUL", [centred, centred], x.shape), axes], stats,
                        keep_dims=True)
        eps = self.float_const(np.array(node.attr("epsilon", 1e-5), np.float32), f"{node.name}/epsilon")
        inv_std = self.emit(ctx, "RSQRT", [self.emit(ctx, "ADD", [var, eps], stats)], stats)
        y = self.emit(ctx, "MUL", [centred, inv_std], x.shape)
        channel = (1, -1) + (1,) * (rank - 2)
        scale, bias = (np.asarray(p, np.float32).reshape(channel) for p in params)
        y = self.emit(ctx, "MUL", [y, self.float_const(scale, f"{node.name}/scale")], x.shape)
        self.bind(ctx, 0, self.emit(ctx, "ADD", [y, self.float_const(bias, f"{node.name}/bias")], x.shape))

    # -- pooling and reductions ------------------------------------------------------------

    def _pool(self, node: _Node, ctx: _Ctx, op: str) -> None:
        xs = self.shape(node.inputs[0])
        if len(xs) != 4:
            raise UnsupportedOperatorError(node.op_type, node.name, "only 2-D pooling converts")
        if len(node.outputs) > 1 and node.outputs[1]:
            raise UnsupportedOperatorError(node.op_type, node.name, "the Indices output")
        kernel = [int(k) for k in node.attr("kernel_shape")]
        strides = [int(s) for s in node.attr("strides", [1, 1])]
        if any(d != 1 for d in node.attr("dilations", [1, 1])):
            raise UnsupportedOperatorError(node.op_type, node.name, "dilated pooling")
        pads = self.explicit_pads(node, xs[2:], kernel, strides, [1, 1])
        ys = self.shape(node.outputs[0])
        if node.attr("ceil_mode", 0):
            # Windows that ceil mode adds past the end see extra padding.
            extra = [max(0, (o - 1) * s + k - (n + b + e))
                     for o, s, k, n, (b, e) in zip(ys[2:], strides, kernel, xs[2:], pads)]
            if any(extra) and op == "AVERAGE_POOL_2D":
                raise UnsupportedOperatorError(node.op_type, node.name, "ceil_mode that adds windows")
            pads = [(b, e + x) for (b, e), x in zip(pads, extra)]
        x = self.activation(ctx, node.inputs[0])
        if op == "MAX_POOL_2D":
            x, padding = self.window_input(ctx, x, xs[2:], kernel, strides, [1, 1], pads, fill=_FLOAT_LOWEST)
        elif node.attr("count_include_pad", 0):
            x, padding = self.window_input(ctx, x, xs[2:], kernel, strides, [1, 1], pads, allow_same=False)
        else:
            same = [_same_pads(n, k, s, 1) for n, k, s in zip(xs[2:], kernel, strides)]
            if any(b or e for b, e in pads) and [tuple(p) for p in pads] != same:
                raise UnsupportedOperatorError(node.op_type, node.name, "pads that are not TFLite's SAME with "
                                               "count_include_pad=0")
            padding = "SAME" if any(b or e for b, e in pads) else "VALID"
        self.check_window_output(ctx, x, padding, kernel, strides, [1, 1], ys[2:])
        y = self.emit(ctx, op, [x], _tfl_shape(ys), padding=padding, stride_h=strides[0], stride_w=strides[1],
                      filter_height=kernel[0], filter_width=kernel[1], fused_activation_function=ctx.activation)
        self.bind(ctx, 0, y)

    def _op_MaxPool(self, node, ctx):
        self._pool(node, ctx, "MAX_POOL_2D")

    def _op_AveragePool(self, node, ctx):
        self._pool(node, ctx, "AVERAGE_POOL_2D")

    def _reduce(self, node: _Node, ctx: _Ctx, op: str, axes, keepdims: bool) -> None:
        xs = self.shape(node.inputs[0])
        rank = len(xs)
        axes = sorted({int(a) % rank for a in (range(rank) if axes is None else axes)})
        x = self.activation(ctx, node.inputs[0])
        t_axes = self.int_const(sorted(_tfl_axis(a, rank) for a in axes), f"{node.name}/axes")
        ys = self.shape(node.outputs[0])
        if keepdims:
            y = self.emit(ctx, op, [x, t_axes], _tfl_shape(ys), keep_dims=True)
        else:
            remaining = [d for d in range(rank) if d not in axes]
            held = [d for d in _perm(rank) if d not in axes]
            y = self.emit(ctx, op, [x, t_axes], tuple(xs[d] for d in held), keep_dims=False)
            y = self.relayout(ctx, y, [remaining.index(d) for d in held])
        self.bind(ctx, 0, y)

    def _reduce_axes(self, node: _Node, input_from: int):
        """Reduction axes: an input from opset `input_from` on, an attribute before. None: all."""
        if self.opset >= input_from:
            name = node.inputs[1] if len(node.inputs) > 1 else ""
            if name and self.const_array(name) is None:
                raise UnsupportedOperatorError(node.op_type, node.name, "axes are not constant")
            axes = self.const_array(name) if name else None
            if axes is not None and axes.size == 0:
                axes = None
        else:
            axes = node.attr("axes")
        if axes is None and node.attr("noop_with_empty_axes", 0):
            return []
        return None if axes is None else [int(a) for a in np.asarray(axes).reshape(-1)]

    def _op_ReduceMean(self, node, ctx):
        axes = self._reduce_axes(node, 18)
        if axes == []:
            self.alias(node.inputs[0], node.outputs[0])
            return
        self._reduce(node, ctx, "MEAN", axes, bool(node.attr("keepdims", 1)))

    def _op_ReduceSum(self, node, ctx):
        axes = self._reduce_axes(node, 13)
        if axes == []:
            self.alias(node.inputs[0], node.outputs[0])
            return
        self._reduce(node, ctx, "SUM", axes, bool(node.attr("keepdims", 1)))

    def _op_ReduceMax(self, node, ctx):
        axes = self._reduce_axes(node, 18)
        if axes == []:
            self.alias(node.inputs[0], node.outputs[0])
            return
        self._reduce(node, ctx, "REDUCE_MAX", axes, bool(node.attr("keepdims", 1)))

    def _op_GlobalAveragePool(self, node, ctx):
        self._reduce(node, ctx, "MEAN", range(2, len(self.shape(node.inputs[0]))), True)

    def _op_GlobalMaxPool(self, node, ctx):
        self._reduce(node, ctx, "REDUCE_MAX", range(2, len(self.shape(node.inputs[0]))), True)

    # -- data movement ---------------------------------------------------------------------

    def _reshape_to_output(self, node: _Node, ctx: _Ctx) -> None:
        x = self.activation(ctx, node.inputs[0])
        self.bind(ctx, 0, self.onnx_reshape(ctx, x, self.shape(node.outputs[0])))

    def _op_Reshape(self, node, ctx):
        self._reshape_to_output(node, ctx)

    def _op_Flatten(self, node, ctx):
        self._reshape_to_output(node, ctx)

    def _op_Squeeze(self, node, ctx):
        self._reshape_to_output(node, ctx)

    def _op_Unsqueeze(self, node, ctx):
        self._reshape_to_output(node, ctx)

    def _op_Identity(self, node, ctx):
        self.alias(node.inputs[0], node.outputs[0])

    def _op_Dropout(self, node, ctx):
        if len(node.outputs) > 1 and node.outputs[1] and self._users(node.outputs[1]):
            raise UnsupportedOperatorError("Dropout", node.name, "the mask output")
        self.alias(node.inputs[0], node.outputs[0])

    def _op_Cast(self, node, ctx):
        source = self.values.get(node.inputs[0])
        if int(node.attr("to", 0)) != _ONNX_FLOAT or (source is not None and source.dtype != "float32"):
            raise UnsupportedOperatorError("Cast", node.name, "only float32 -> float32 converts")
        self.alias(node.inputs[0], node.outputs[0])

    def _op_Transpose(self, node: _Node, ctx: _Ctx) -> None:
        rank = len(self.shape(node.inputs[0]))
        perm = [int(p) for p in node.attr("perm", list(range(rank))[::-1])]
        x = self.activation(ctx, node.inputs[0])
        p = _perm(rank)
        self.bind(ctx, 0, self.transpose(ctx, x, [p.index(perm[p[i]]) for i in range(rank)]))

    def _op_Concat(self, node: _Node, ctx: _Ctx) -> None:
        ys = self.shape(node.outputs[0])
        rank = len(ys)
        inputs = []
        for name in node.inputs:
            if not name or 0 in self.shape(name):
                continue
            value = self.const_array(name)
            if value is not None and ctx.quantized:
                inputs.append(self.b.const(self._unique(name), _tfl_array(_quantize(value, ctx.target)),
                                           quant=ctx.target))
            elif value is not None:
                inputs.append(self.float_const(value, name))
            else:
                ref = self.activation(ctx, name)
                # int8 CONCATENATION copies bytes: every input needs the output's parameters.
                inputs.append(self.requantize(ctx, ref, ctx.target) if ctx.quantized else ref)
        y = self.emit(ctx, "CONCATENATION", inputs, _tfl_shape(ys), axis=_tfl_axis(int(node.attr("axis")), rank),
                      fused_activation_function=ctx.activation)
        self.bind(ctx, 0, y)

    def _op_Split(self, node: _Node, ctx: _Ctx) -> None:
        xs = self.shape(node.inputs[0])
        rank = len(xs)
        axis = int(node.attr("axis", 0)) % rank
        x = self.activation(ctx, node.inputs[0])
        shapes = [_tfl_shape(self.shape(o)) for o in node.outputs]
        sizes = [self.shape(o)[axis] for o in node.outputs]
        t_axis = _tfl_axis(axis, rank)
        outs = [self.b.tensor(self._unique(f"{node.name}/out{i}"), s, x.dtype, x.quant) for i, s in enumerate(shapes)]
        axis_const = self.int_const(t_axis, f"{node.name}/axis")
        if len(set(sizes)) == 1:
            self.b.op("SPLIT", [axis_const, x], outs, num_splits=len(outs))
        else:
            self.b.op("SPLIT_V", [x, self.int_const(sizes, f"{node.name}/sizes"), axis_const], outs,
                      num_splits=len(outs))
        for i, out in enumerate(outs):
            self.bind(ctx, i, out)

    def _op_Slice(self, node: _Node, ctx: _Ctx) -> None:
        xs = self.shape(node.inputs[0])
        rank = len(xs)
        if self.opset >= 10:
            args = []
            for i in range(1, 5):
                name = node.inputs[i] if len(node.inputs) > i else ""
                if name and self.const_array(name) is None:
                    raise UnsupportedOperatorError("Slice", node.name, "starts/ends/axes/steps must be constant")
                args.append(None if not name else [int(v) for v in self.const_array(name).reshape(-1)])
            starts, ends, axes, steps = args
        else:
            starts, ends, axes, steps = node.attr("starts"), node.attr("ends"), node.attr("axes"), None
        axes = list(range(len(starts))) if axes is None else axes
        steps = [1] * len(starts) if steps is None else steps
        begin, end, stride = [0] * rank, list(xs), [1] * rank
        for s, e, a, st in zip(starts, ends, axes, steps):
            a %= rank
            begin[a], end[a], stride[a] = slice(s, e, st).indices(xs[a])
        p = _perm(rank)
        end_mask = sum(1 << i for i in range(rank) if stride[p[i]] < 0 and end[p[i]] < 0)
        x = self.activation(ctx, node.inputs[0])
        args = [self.int_const([v[d] for d in p], f"{node.name}/{what}")
                for v, what in ((begin, "begin"), ([max(e, 0) for e in end], "end"), (stride, "strides"))]
        y = self.emit(ctx, "STRIDED_SLICE", [x, *args], _tfl_shape(self.shape(node.outputs[0])), end_mask=end_mask)
        self.bind(ctx, 0, y)

    def _op_Pad(self, node: _Node, ctx: _Ctx) -> None:
        xs = self.shape(node.inputs[0])
        rank = len(xs)
        mode = node.attr("mode", "constant")
        if self.opset < 11:
            pads, value, axes = node.attr("pads"), float(node.attr("value", 0.0)), None
        else:
            arrays = []
            for i in (1, 2, 3):
                name = node.inputs[i] if len(node.inputs) > i else ""
                if name and self.const_array(name) is None:
                    raise UnsupportedOperatorError("Pad", node.name, "pads/value/axes must be constant")
                arrays.append(self.const_array(name) if name else None)
            pads = [int(v) for v in arrays[0].reshape(-1)]
            value = 0.0 if arrays[1] is None or arrays[1].size == 0 else float(arrays[1].reshape(-1)[0])
            axes = None if arrays[2] is None else [int(a) % rank for a in arrays[2].reshape(-1)]
        axes = list(range(rank)) if axes is None else axes
        n = len(axes)
        begin, end = [0] * rank, [0] * rank
        for i, a in enumerate(axes):
            begin[a], end[a] = pads[i], pads[i + n]
        if any(v < 0 for v in begin + end):
            raise UnsupportedOperatorError("Pad", node.name, "negative pads (cropping)")
        p = _perm(rank)
        paddings = self.int_const([[begin[d], end[d]] for d in p], f"{node.name}/paddings")
        x = self.activation(ctx, node.inputs[0])
        shape = _tfl_shape(self.shape(node.outputs[0]))
        if mode == "reflect":
            y = self.emit(ctx, "MIRROR_PAD", [x, paddings], shape, mode="REFLECT")
        elif mode != "constant":
            raise UnsupportedOperatorError("Pad", node.name, f"mode '{mode}'")
        elif value == 0.0:
            y = self.emit(ctx, "PAD", [x, paddings], shape)
        elif x.dtype == "int8":
            fill = self.b.const(self._unique(f"{node.name}/value"), np.array(_quantize(value, x.quant), np.int8),
                                quant=x.quant)
            y = self.emit(ctx, "PADV2", [x, paddings, fill], shape)
        else:
            fill = self.float_const(np.array(value, np.float32), f"{node.name}/value")
            y = self.emit(ctx, "PADV2", [x, paddings, fill], shape)
        self.bind(ctx, 0, y)

    def _op_Resize(self, node: _Node, ctx: _Ctx) -> None:
        xs, ys = self.shape(node.inputs[0]), self.shape(node.outputs[0])
        if len(xs) != 4 or xs[:2] != ys[:2]:
            raise UnsupportedOperatorError("Resize", node.name, "only resizing H and W of a 4-D tensor converts")
        mode = node.attr("mode", "nearest")
        if mode not in ("nearest", "linear"):
            raise UnsupportedOperatorError("Resize", node.name, f"mode '{mode}'")
        if node.attr("antialias", 0):
            raise UnsupportedOperatorError("Resize", node.name, "antialias")
        ctm = node.attr("coordinate_transformation_mode", "half_pixel") if self.opset >= 11 else "asymmetric"
        nearest_mode = node.attr("nearest_mode", "round_prefer_floor")
        scales_index = 2 if self.opset >= 11 else 1  # Resize-10: (X, scales)
        scales_name = node.inputs[scales_index] if len(node.inputs) > scales_index else ""
        scales = self.const_array(scales_name) if scales_name else None
        if scales is not None and scales.size:
            scales = [float(s) for s in scales.reshape(-1)][-2:]
        else:
            scales = [ys[2] / xs[2], ys[3] / xs[3]]
        onnx_maps = [_onnx_resize_matrix(mode, ctm, nearest_mode, n, o, s)
                     for n, o, s in zip(xs[2:], ys[2:], scales)]
        candidates = ((False, False), (False, True), (True, False))  # (align_corners, half_pixel_centers)
        choice = None
        if all(m is not None for m in onnx_maps):
            choice = next((c for c in candidates if all(
                np.allclose(m, _tflite_resize_matrix(mode, *c, n, o), atol=1e-5)
                for m, n, o in zip(onnx_maps, xs[2:], ys[2:]))), None)
        if choice is None:
            raise UnsupportedOperatorError("Resize", node.name, f"{mode} with coordinate_transformation_mode "
                                           f"'{ctm}' has no TFLite equivalent for these sizes")
        x = self.activation(ctx, node.inputs[0])
        op = "RESIZE_NEAREST_NEIGHBOR" if mode == "nearest" else "RESIZE_BILINEAR"
        size = self.int_const(ys[2:], f"{node.name}/size")
        y = self.emit(ctx, op, [x, size], _tfl_shape(ys), align_corners=choice[0], half_pixel_centers=choice[1])
        self.bind(ctx, 0, y)


# ---------------------------------------------------------------------------------------------
# Numeric helpers


def _same_pads(size: int, kernel: int, stride: int, dilation: int) -> tuple:
    """TFLite's SAME padding (begin, end) for one spatial dimension: the extra pixel goes at the end."""
    effective = (kernel - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def _window_output(spatial, kernel, strides, dilations, padding: str) -> list:
    out = []
    for n, k, s, d in zip(spatial, kernel, strides, dilations):
        effective = (k - 1) * d + 1
        out.append(-(-n // s) if padding == "SAME" else (n - effective) // s + 1)
    return out


def _quantize(value, quant: QuantParams) -> np.ndarray:
    q = np.round(np.asarray(value, np.float64) / quant.scale[0]) + quant.zero_point[0]
    return np.clip(q, -128, 127).astype(np.int8)


def _representable(quant: QuantParams, lo: float, hi: float) -> bool:
    """Whether the int8 range of `quant` starts at or above `lo` and ends at or below `hi`."""
    s, z = quant.scale[0], quant.zero_point[0]
    return (-128 - z) * s >= lo and (127 - z) * s <= hi


def _quantize_per_tensor(value: np.ndarray):
    """Asymmetric int8 over the value's range (including 0, which must be exact)."""
    value = np.asarray(value, np.float64)
    lo, hi = min(float(value.min()), 0.0), max(float(value.max()), 0.0)
    scale = (hi - lo) / 255.0 if hi > lo else 1.0
    zero_point = int(np.clip(np.round(-128 - lo / scale), -128, 127))
    quant = make_quant(scale, zero_point)
    return _quantize(value, quant), quant


def _quantize_per_channel(value: np.ndarray, axis: int):
    """Symmetric int8 per slice along `axis`, TFLite's scheme for weights."""
    moved = np.moveaxis(np.asarray(value, np.float64), axis, 0)
    peak = np.abs(moved.reshape(moved.shape[0], -1)).max(axis=1)
    scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    shape = [1] * value.ndim
    shape[axis] = -1
    q = np.clip(np.round(value / scale.astype(np.float64).reshape(shape)), -127, 127).astype(np.int8)
    return q, make_quant(scale, 0, axis)


def _channel_scales(quant: QuantParams, channels: int) -> np.ndarray:
    scales = quant.scale_array()
    return np.repeat(scales, channels) if scales.size == 1 else scales


def _onnx_resize_matrix(mode, ctm, nearest_mode, in_len, out_len, scale):
    """[out, in] interpolation weights of ONNX Resize along one axis; None for unsupported modes."""
    x = np.arange(out_len, dtype=np.float64)
    if ctm == "half_pixel":
        coords = (x + 0.5) / scale - 0.5
    elif ctm == "pytorch_half_pixel":
        coords = (x + 0.5) / scale - 0.5 if out_len > 1 else np.zeros(out_len)
    elif ctm == "align_corners":
        coords = x * (in_len - 1) / (out_len - 1) if out_len > 1 else np.zeros(out_len)
    elif ctm == "asymmetric":
        coords = x / scale
    elif ctm == "tf_half_pixel_for_nn":
        coords = (x + 0.5) / scale
    else:
        return None
    m = np.zeros((out_len, in_len))
    if mode == "nearest":
        rounding = {"round_prefer_floor": lambda c: np.ceil(c - 0.5), "round_prefer_ceil": lambda c: np.floor(c + 0.5),
                    "floor": np.floor, "ceil": np.ceil}.get(nearest_mode)
        if rounding is None:
            return None
        idx = np.clip(rounding(coords), 0, in_len - 1).astype(int)
        m[np.arange(out_len), idx] = 1.0
        return m
    coords = np.clip(coords, 0, in_len - 1)
    lo = np.floor(coords).astype(int)
    hi = np.minimum(lo + 1, in_len - 1)
    frac = coords - lo
    np.add.at(m, (np.arange(out_len), lo), 1 - frac)
    np.add.at(m, (np.arange(out_len), hi), frac)
    return m


def _tflite_resize_matrix(mode, align_corners: bool, half_pixel: bool, in_len, out_len):
    """[out, in] interpolation weights of TFLite's RESIZE_NEAREST_NEIGHBOR / RESIZE_BILINEAR."""
    x = np.arange(out_len, dtype=np.float32)
    if align_corners and out_len > 1:
        scale = np.float32((in_len - 1) / (out_len - 1))
    else:
        scale = np.float32(in_len / out_len)
    m = np.zeros((out_len, in_len))
    if mode == "nearest":
        v = (x + np.float32(0.5 if half_pixel else 0.0)) * scale
        idx = np.floor(v + np.float32(0.5)) if align_corners else np.floor(v)  # round half away from zero (v >= 0)
        idx = np.minimum(idx, in_len - 1)
        if half_pixel:
            idx = np.maximum(idx, 0)
        m[np.arange(out_len), idx.astype(int)] = 1.0
        return m
    v = (x + np.float32(0.5)) * scale - np.float32(0.5) if half_pixel else x * scale
    floor = np.floor(v)
    lo = np.maximum(floor, 0).astype(int)
    hi = np.minimum(np.ceil(v), in_len - 1).astype(int)
    frac = (v - floor).astype(np.float64)
    np.add.at(m, (np.arange(out_len), lo), 1 - frac)
    np.add.at(m, (np.arange(out_len), hi), frac)
    return m
