"""ONNX (.onnx file, bytes or ModelProto) -> edgert IR.

The importer is the boundary where untrusted bytes become trusted structure, so it checks what
the rest of edgert relies on before anything is allocated or passed on:
  - every tensor's declared size against the data the file actually holds (dims non-negative,
    raw_data length == elements * itemsize, typed-field lengths), before it is decoded;
  - external data only from regular files inside the model's own directory, within their size;
  - element types edgert can hold in numpy (no strings, complex, 8-bit floats or 2/4-bit ints);
  - nodes against their ONNX schema at the model's opset: input/output counts, attribute names
    and attribute types (so later stages can trust `kernel_shape` is a list of ints), and the
    shape-independent ranges of window attributes (positive strides, non-negative pads...);
  - graph structure: unique tensor producers, no dangling inputs, no cycles.
Every rejection is a ModelLoadError (UnsupportedOperatorError for operators) naming the source,
the node or tensor, and the argument at fault.
"""
from __future__ import annotations

import math
import os
import stat
from pathlib import Path
from typing import Any

import numpy as np

from edgert.errors import ModelLoadError, UnsupportedOperatorError
from edgert.ir import Graph, Node, TensorInfo

MIN_OPSET, MAX_OPSET = 6, 28

# protobuf cannot parse a message of 2 GiB or more; larger models keep their weights as external data.
MAX_PROTO_BYTES = (1 << 31) - 1
# No tensor can be larger than a 64-bit CPU's virtual address space (48 bits on x86-64 and
# aarch64); declaring one is an error, and the bound keeps every later size product within int64.
MAX_TENSOR_BYTES = 1 << 48

# The domain of the fused operators edgert's own passes create: reserved, never read from a file.
RESERVED_DOMAIN = "ai.edgert"

# Of that domain, the operators a file may contain (edgert convert writes them), with their
# input count, output count and integer attributes.
FILE_OPERATORS = {"SKA": (2, 1, {"kernel_size"})}

# ONNX element type -> (numpy dtype, the TensorProto field holding its values when not raw_data).
# 16-bit floats travel as their bit patterns in int32_data; bfloat16 is ml_dtypes' (an onnx dependency).
_ELEMENT_TYPES: dict[int, tuple[np.dtype, str]] = {}


def _element_types() -> dict[int, tuple[np.dtype, str]]:
    if not _ELEMENT_TYPES:
        import ml_dtypes
        from onnx import TensorProto as T

        _ELEMENT_TYPES.update({
            T.FLOAT: (np.dtype(np.float32), "float_data"),
            T.DOUBLE: (np.dtype(np.float64), "double_data"),
            T.FLOAT16: (np.dtype(np.float16), "int32_data"),
            T.BFLOAT16: (np.dtype(ml_dtypes.bfloat16), "int32_data"),
            T.INT8: (np.dtype(np.int8), "int32_data"),
            T.UINT8: (np.dtype(np.uint8), "int32_data"),
            T.INT16: (np.dtype(np.int16), "int32_data"),
            T.UINT16: (np.dtype(np.uint16), "int32_data"),
            T.INT32: (np.dtype(np.int32), "int32_data"),
            T.UINT32: (np.dtype(np.uint32), "uint64_data"),
            T.INT64: (np.dtype(np.int64), "int64_data"),
            T.UINT64: (np.dtype(np.uint64), "uint64_data"),
            T.BOOL: (np.dtype(np.bool_), "int32_data"),
        })
    return _ELEMENT_TYPES


def _type_name(elem_type: int) -> str:
    from onnx import TensorProto

    try:
        return TensorProto.DataType.Name(elem_type)
    except ValueError:
        return str(elem_type)


def _np_dtype(elem_type: int, where: str) -> np.dtype:
    entry = _element_types().get(elem_type)
    if entry is None:
        raise ModelLoadError(f"{where}: unsupported tensor element type {_type_name(elem_type)}")
    return entry[0]


# ------------------------------------------------------------------------------ reading the file


def _load_proto(model: Any) -> tuple[Any, str, Path | None]:
    """(ModelProto, source name for messages, directory external data may be read from)."""
    import onnx

    if isinstance(model, onnx.ModelProto):
        return model, "<ModelProto>", None
    if isinstance(model, (bytes, bytearray, memoryview)):
        return _parse(bytes(model), "<bytes>"), "<bytes>", None
    try:
        path = Path(os.fspath(model))
    except TypeError:
        raise ModelLoadError(f"model must be a path, bytes or onnx.ModelProto, got {type(model).__name__}") from None
    source = str(path)
    try:
        opened = _open_regular(path)
    except FileNotFoundError:
        raise ModelLoadError(f"{source}: no such model file") from None
    except (OSError, ValueError) as e:  # ValueError: a NUL byte in the path
        raise ModelLoadError(f"{source}: cannot open ({getattr(e, 'strerror', None) or e})") from None
    if opened is None:
        raise ModelLoadError(f"{source}: not a regular file")
    f, size = opened
    with f:
        if size > MAX_PROTO_BYTES:
            raise ModelLoadError(f"{source}: {size} bytes is over protobuf's 2 GiB limit "
                                 "(large models keep their weights as external data)")
        try:
            data = f.read(MAX_PROTO_BYTES + 1)
        except OSError as e:
            raise ModelLoadError(f"{source}: cannot read ({e.strerror})") from None
    return _parse(data, source), source, path.resolve().parent


def _open_regular(path: Path):
    """An open binary file and its size, or None when path is not a regular file. The type is
    checked on the open descriptor, so a FIFO or device swapped in after a check is never read
    (nor waited on: the open does not block)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        return None
    return os.fdopen(fd, "rb"), info.st_size


def _parse(data: bytes, source: str):
    import onnx

    if not data:
        raise ModelLoadError(f"{source}: empty file, not an ONNX model")
    try:
        return onnx.load_model_from_string(data)
    except MemoryError:
        raise ModelLoadError(f"{source}: not enough memory to parse the model") from None
    except Exception as e:  # noqa: BLE001 - whatever the protobuf parser raises, the bytes are not a model
        raise ModelLoadError(f"{source}: not a valid ONNX model ({type(e).__name__}: {e})") from None


# ------------------------------------------------------------------------------ tensors


def _element_count(dims, where: str, itemsize: int) -> int:
    count = 1
    for d in dims:
        if d < 0:
            raise ModelLoadError(f"{where}: negative dimension {d} in dims {list(dims)}")
        count *= d
    # The bound applies to the non-zero dims too: numpy refuses even an empty array whose other
    # dims multiply past its index range.
    if math.prod(max(d, 1) for d in dims) * itemsize > MAX_TENSOR_BYTES:
        raise ModelLoadError(f"{where}: dims {list(dims)} of {itemsize}-byte elements are more than "
                             "a 64-bit address space can index")
    return count


def _external_bytes(tensor, where: str, base_dir: Path | None, nbytes: int) -> bytes:
    """The tensor's bytes from its external-data file, which must lie inside the model's directory."""
    if base_dir is None:
        raise ModelLoadError(f"{where}: refers to external data, which is only read when the model is "
                             "loaded from a file path (its directory holds the data)")
    entries = {_text(e.key, f"{where}: external data key"): _text(e.value, f"{where}: external data value")
               for e in tensor.external_data}
    location = entries.get("location", "")
    if not location:
        raise ModelLoadError(f"{where}: external data without a 'location'")
    try:
        offset = int(entries.get("offset", "0"))
        length = int(entries["length"]) if "length" in entries else None
    except ValueError:
        raise ModelLoadError(f"{where}: external data offset/length are not integers "
                             f"({entries.get('offset')!r}, {entries.get('length')!r})") from None
    relative = Path(location)
    if relative.is_absolute() or ".." in relative.parts or "\x00" in location:
        raise ModelLoadError(f"{where}: external data location {location!r} must be a relative path "
                             "inside the model's directory")
    target = (base_dir / relative).resolve()
    if base_dir != target and base_dir not in target.parents:  # a symlink pointing outside
        raise ModelLoadError(f"{where}: external data location {location!r} resolves outside the model's directory")
    try:
        opened = _open_regular(target)
    except OSError:
        raise ModelLoadError(f"{where}: external data file {location!r} not found next to the model") from None
    if opened is None:
        raise ModelLoadError(f"{where}: external data {location!r} is not a regular file")
    f, size = opened
    with f:
        if length is None:
            length = size - offset
        if offset < 0 or length < 0 or offset + length > size:
            raise ModelLoadError(f"{where}: external data range offset={offset} length={length} lies outside "
                                 f"{location!r} ({size} bytes)")
        if length != nbytes:
            raise ModelLoadError(f"{where}: external data holds {length} bytes, dims and type need {nbytes}")
        try:
            f.seek(offset)
            data = f.read(nbytes)
        except OSError as e:
            raise ModelLoadError(f"{where}: cannot read external data {location!r} ({e.strerror})") from None
    if len(data) != nbytes:
        raise ModelLoadError(f"{where}: external data {location!r} ended after {len(data)} of {nbytes} bytes")
    return data


def _to_array(tensor, where: str, base_dir: Path | None = None) -> np.ndarray:
    """Decode a TensorProto, checking its declared size against the data present first."""
    from onnx import TensorProto

    _text(tensor.name, f"{where}: tensor name")
    where = f"{where}: tensor '{tensor.name}'" if tensor.name else where
    if tensor.HasField("segment"):
        raise ModelLoadError(f"{where}: segmented tensors are not supported")
    dtype = _np_dtype(tensor.data_type, where)
    field = _element_types()[tensor.data_type][1]
    count = _element_count(tensor.dims, where, dtype.itemsize)
    shape = tuple(tensor.dims)
    nbytes = count * dtype.itemsize
    external = tensor.data_location == TensorProto.EXTERNAL
    if external:
        raw = _external_bytes(tensor, where, base_dir, nbytes)
    elif tensor.HasField("raw_data"):
        raw = tensor.raw_data
    else:
        raw = None
    if raw is not None:
        if len(raw) != nbytes:
            raise ModelLoadError(f"{where}: raw_data has {len(raw)} bytes, dims {list(shape)} of "
                                 f"{dtype} need {nbytes}")
        array = np.frombuffer(raw, dtype=dtype.newbyteorder("<")).reshape(shape)
        return array.astype(dtype)  # native byte order, writeable, owns its memory
    values = getattr(tensor, field)
    if len(values) != count:
        raise ModelLoadError(f"{where}: {field} has {len(values)} values, dims {list(shape)} need {count}")
    if tensor.data_type in (TensorProto.FLOAT16, TensorProto.BFLOAT16):  # 16-bit patterns
        return np.array(values, dtype=np.int64).astype(np.uint16).view(dtype).reshape(shape)
    if tensor.data_type == TensorProto.BOOL:
        return (np.array(values, dtype=np.int64) != 0).reshape(shape)
    source_type = np.int64 if field == "int32_data" else dtype
    with np.errstate(over="ignore"):  # out-of-range int32_data entries wrap, as onnx's own reader does
        return np.array(values, dtype=source_type).astype(dtype).reshape(shape)


# ------------------------------------------------------------------------------ value infos


def _tensor_info(value_info, source: str, kind: str) -> TensorInfo:
    _text(value_info.name, f"{source}: graph {kind} name")
    where = f"{source}: graph {kind} '{value_info.name}'"
    if not value_info.name:
        raise ModelLoadError(f"{source}: a graph {kind} has no name")
    t = value_info.type
    if not t.HasField("tensor_type"):
        raise ModelLoadError(f"{where} is not a tensor (sequences/maps are not supported)")
    tt = t.tensor_type
    dtype = _np_dtype(tt.elem_type, where)
    if not tt.HasField("shape"):
        return TensorInfo(value_info.name, None, dtype)  # unknown rank
    dims = []
    for d in tt.shape.dim:
        if d.HasField("dim_value"):
            if d.dim_value < 0:
                raise ModelLoadError(f"{where}: negative dimension {d.dim_value}")
            dims.append(d.dim_value)
        else:
            dims.append(_text(d.dim_param, f"{where}: dimension name") or None)
    static = [max(d, 1) for d in dims if isinstance(d, int)]  # zeros must not hide an overflow
    if math.prod(static) * dtype.itemsize > MAX_TENSOR_BYTES:
        raise ModelLoadError(f"{where}: shape {dims} declares more bytes than any 64-bit address space holds")
    return TensorInfo(value_info.name, tuple(dims), dtype)


# ------------------------------------------------------------------------------ nodes


def _text(value, what: str) -> str:
    """A name from the file. protobuf hands invalid UTF-8 over as bytes: reject it here, since
    names key every table after import."""
    if isinstance(value, bytes):
        raise ModelLoadError(f"{what} {value!r} is not valid UTF-8")
    return value


def _texts(values, what: str) -> list[str]:
    return [_text(v, what) for v in values]


def _default_schema(op_type: str, opset: int):
    """The ONNX schema of a default-domain operator at this opset, or None if there is none."""
    import onnx.defs

    try:
        # has() first: get_schema reports a missing operator by throwing (and translating) a C++
        # exception, a slow path for what fuzzed and custom-domain models hit constantly.
        if not onnx.defs.has(op_type, opset, ""):
            return None
        return onnx.defs.get_schema(op_type, opset, "")
    except (onnx.defs.SchemaError, TypeError, ValueError):
        return None


def _check_file_operator(node, where: str) -> None:
    """An ai.edgert node in a file: one of FILE_OPERATORS, with its arity and integer attributes."""
    from onnx import AttributeProto as A

    spec = FILE_OPERATORS.get(node.op_type)
    if spec is None:
        raise ModelLoadError(f"{where}: domain '{RESERVED_DOMAIN}' is reserved for edgert's internal operators "
                             f"(files may use {', '.join(sorted(FILE_OPERATORS))})")
    n_in, n_out, attrs = spec
    if len(node.input) != n_in or len(node.output) != n_out or not all(node.input):
        raise ModelLoadError(f"{where}: takes {n_in} inputs and {n_out} output, has {len(node.input)} and "
                             f"{len(node.output)}")
    for a in node.attribute:
        if a.name not in attrs or a.type != A.INT:
            raise ModelLoadError(f"{where}: attribute '{a.name}' is not an integer attribute of "
                                 f"{node.op_type} (it has {sorted(attrs)})")


def _check_arity(node, where: str, schema) -> None:
    """Input/output counts within the schema's bounds (later stages index inputs by position)."""
    n_in, n_out = len(node.input), len(node.output)
    if not schema.min_input <= n_in <= schema.max_input:
        raise ModelLoadError(f"{where}: {n_in} inputs, the operator takes "
                             f"{_bounds(schema.min_input, schema.max_input)}")
    if not schema.min_output <= n_out <= schema.max_output:
        raise ModelLoadError(f"{where}: {n_out} outputs, the operator has "
                             f"{_bounds(schema.min_output, schema.max_output)}")
    # Leading required inputs must be present (empty names mark absent optional inputs only).
    for i in range(min(schema.min_input, n_in)):
        if not node.input[i]:
            raise ModelLoadError(f"{where}: required input {i} is empty")


def _bounds(lo: int, hi: int) -> str:
    if lo == hi:
        return str(lo)
    return f"at least {lo}" if hi >= (1 << 31) - 1 else f"{lo} to {hi}"


def _attributes(node, name: str, node_where: str, schema, base_dir: Path | None) -> dict[str, Any]:
    import onnx
    from onnx import AttributeProto as A

    declared = schema.attributes if schema is not None else None
    attrs: dict[str, Any] = {}
    for a in node.attribute:
        _text(a.name, f"{node_where}: attribute name")
        where = f"{node_where} attribute '{a.name}'"
        if a.name in attrs:
            raise ModelLoadError(f"{where}: given twice")
        if a.type in (A.GRAPH, A.GRAPHS):
            raise UnsupportedOperatorError(node.op_type, name, f"attribute '{a.name}': subgraphs (control flow)")
        if a.type in (A.SPARSE_TENSOR, A.SPARSE_TENSORS, A.TYPE_PROTO, A.TYPE_PROTOS, A.TENSORS):
            raise UnsupportedOperatorError(node.op_type, name,
                                           f"attribute '{a.name}' of type {A.AttributeType.Name(a.type)}")
        if declared is not None:
            spec = declared.get(a.name)
            if spec is None:
                raise ModelLoadError(f"{where}: not an attribute of {node.op_type} at this opset "
                                     f"(it has {sorted(declared) or 'none'})")
            if int(spec.type) != a.type:
                raise ModelLoadError(f"{where}: has type {_attr_type_name(a.type)}, "
                                     f"{node.op_type} defines it as {_attr_type_name(int(spec.type))}")
        if a.type == A.TENSOR:
            attrs[a.name] = _to_array(a.t, where, base_dir)
            continue
        try:
            value = onnx.helper.get_attribute_value(a)
        except Exception as e:  # noqa: BLE001 - UNDEFINED or unknown type: the attribute is unreadable
            raise ModelLoadError(f"{where}: unreadable ({e})") from None
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        elif isinstance(value, list) and value and isinstance(value[0], bytes):
            value = [v.decode("utf-8", "replace") for v in value]
        attrs[a.name] = value
    if declared is not None:
        missing = sorted(k for k, spec in declared.items() if spec.required and k not in attrs)
        if missing:
            raise ModelLoadError(f"{node_where}: required attribute(s) {missing} missing")
    return attrs


def _attr_type_name(code: int) -> str:
    from onnx import AttributeProto

    try:
        return AttributeProto.AttributeType.Name(code)
    except ValueError:
        return str(code)


# Window operators: ONNX requires positive kernel sizes, strides and dilations, non-negative pads,
# one entry per spatial axis (two per axis for pads). These hold for any input shape, so they are
# checked here, once, instead of surfacing as a division by zero deep in a kernel.
_WINDOW_OPS = {"Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool", "ConvInteger", "QLinearConv"}
_POOL_OPS = {"MaxPool", "AveragePool", "LpPool"}


def _check_window_attributes(op_type: str, attrs: dict[str, Any], where: str) -> None:
    if op_type in _WINDOW_OPS:
        for key in ("kernel_shape", "strides", "dilations"):
            values = attrs.get(key)
            if values is not None and any(v < 1 for v in values):
                raise ModelLoadError(f"{where} attribute '{key}': {list(values)} must be positive")
        for key in ("pads", "output_padding"):
            values = attrs.get(key)
            if values is not None and any(v < 0 for v in values):
                raise ModelLoadError(f"{where} attribute '{key}': {list(values)} must not be negative")
        kernel = attrs.get("kernel_shape")
        if kernel is not None:
            rank = len(kernel)
            for key, per_axis in (("strides", 1), ("dilations", 1), ("pads", 2), ("output_padding", 1)):
                values = attrs.get(key)
                if values is not None and len(values) != per_axis * rank:
                    raise ModelLoadError(f"{where} attribute '{key}': {len(values)} values for a "
                                         f"{rank}-D kernel_shape {list(kernel)}, expected {per_axis * rank}")
            pads = attrs.get("pads")
            if op_type in _POOL_OPS and pads is not None and any(
                    p >= k for p, k in zip(pads, list(kernel) * 2)):
                # As onnxruntime requires: a window lying wholly in the padding averages nothing.
                raise ModelLoadError(f"{where} attribute 'pads': {list(pads)} must be smaller than "
                                     f"kernel_shape {list(kernel)}")
        if "group" in attrs and attrs["group"] < 1:
            raise ModelLoadError(f"{where} attribute 'group': {attrs['group']} must be positive")
    elif op_type in ("DepthToSpace", "SpaceToDepth") and attrs.get("blocksize", 1) < 1:
        raise ModelLoadError(f"{where} attribute 'blocksize': {attrs['blocksize']} must be positive")


def _constant_value(attrs: dict[str, Any], where: str) -> np.ndarray:
    present = [k for k in ("value", "value_float", "value_floats", "value_int", "value_ints",
                           "value_string", "value_strings", "sparse_value") if k in attrs]
    if len(present) != 1:
        raise ModelLoadError(f"Constant node '{where}': needs exactly one value attribute, has {present or 'none'}")
    for key, dtype in (("value", None), ("value_float", np.float32), ("value_floats", np.float32),
                       ("value_int", np.int64), ("value_ints", np.int64)):
        if key in attrs:
            return np.asarray(attrs[key], dtype=dtype)
    raise UnsupportedOperatorError("Constant", where, "only value/value_float(s)/value_int(s) are supported")


def _toposort(nodes: list[Node], available: set[str], source: str) -> list[Node]:
    """Order nodes so producers come first; reject cycles and dangling inputs."""
    producers = {o: n for n in nodes for o in n.outputs if o}
    for n in nodes:
        for i in n.inputs:
            if i and i not in available and i not in producers:
                raise ModelLoadError(f"{source}: node '{n.name}' ({n.op_type}) reads '{i}', which no node, input or initializer provides")
    order, state = [], {}  # state: 1 visiting, 2 done
    for root in nodes:
        if state.get(id(root)):
            continue
        stack = [(root, iter(root.inputs))]
        state[id(root)] = 1
        while stack:
            node, it = stack[-1]
            advanced = False
            for name in it:
                dep = producers.get(name) if name else None
                if dep is None or name in available:
                    continue
                s = state.get(id(dep))
                if s == 1:
                    raise ModelLoadError(f"{source}: the graph has a cycle through node '{dep.name}'")
                if s is None:
                    state[id(dep)] = 1
                    stack.append((dep, iter(dep.inputs)))
                    advanced = True
                    break
            if not advanced:
                stack.pop()
                state[id(node)] = 2
                order.append(node)
    return order


# ------------------------------------------------------------------------------ the model


def _default_opset(proto, source: str) -> int:
    opset = None
    for imp in proto.opset_import:
        if _text(imp.domain, f"{source}: opset import domain") in ("", "ai.onnx"):
            if opset is not None and imp.version != opset:
                raise ModelLoadError(f"{source}: the default domain is imported twice (opsets {opset} and {imp.version})")
            opset = imp.version
    if opset is None:
        raise ModelLoadError(f"{source}: no default-domain opset import")
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise ModelLoadError(f"{source}: opset {opset} is outside the supported range {MIN_OPSET}-{MAX_OPSET}")
    return opset


def import_onnx(model: Any) -> Graph:
    """Read an ONNX model into a Graph. Constant nodes become constants; nothing else changes."""
    proto, source, base_dir = _load_proto(model)
    opset = _default_opset(proto, source)
    g = proto.graph
    if len(g.sparse_initializer):
        raise ModelLoadError(f"{source}: sparse initializers ('{g.sparse_initializer[0].values.name}') are not supported")
    constants: dict[str, np.ndarray] = {}
    for init in g.initializer:
        if not _text(init.name, f"{source}: initializer name"):
            raise ModelLoadError(f"{source}: an initializer has no name")
        if init.name in constants:
            raise ModelLoadError(f"{source}: initializer '{init.name}' is defined twice")
        constants[init.name] = _to_array(init, f"{source}: initializer", base_dir)
    inputs = [_tensor_info(v, source, "input") for v in g.input if v.name not in constants]
    outputs = [_tensor_info(v, source, "output") for v in g.output]
    if not outputs:
        raise ModelLoadError(f"{source}: the graph has no outputs")
    for kind, infos in (("input", inputs), ("output", outputs)):
        names = [t.name for t in infos]
        if len(set(names)) != len(names):
            duplicate = next(n for n in names if names.count(n) > 1)
            raise ModelLoadError(f"{source}: graph {kind} '{duplicate}' is listed twice")

    nodes: list[Node] = []
    used_names: set[str] = set()
    produced = {t.name for t in inputs} | set(constants)  # every tensor has one producer
    for index, n in enumerate(g.node):
        what = f"{source}: node {index}"
        _text(n.name, f"{what} name")
        _text(n.op_type, f"{what} operator")
        _text(n.domain, f"{what} domain")
        _texts(n.input, f"{what} input")
        _texts(n.output, f"{what} output")
        name = n.name or f"{n.op_type}_{index}"
        if name in used_names:
            name = f"{name}_{index}"
        used_names.add(name)
        where = f"{source}: node '{name}' ({n.op_type})"
        if n.domain == RESERVED_DOMAIN:
            _check_file_operator(n, where)
        domain = "" if n.domain == "ai.onnx" else n.domain
        schema = None
        if domain == "":
            schema = _default_schema(n.op_type, opset)
            if schema is None:
                raise UnsupportedOperatorError(n.op_type, name, f"not an ONNX operator at opset {opset}")
            _check_arity(n, where, schema)
        attrs = _attributes(n, name, where, schema, base_dir)
        if domain == "":
            _check_window_attributes(n.op_type, attrs, where)
        for out in n.output:
            if out and out in produced:
                raise ModelLoadError(f"{where}: output '{out}' is already produced by another node, "
                                     "a graph input or an initializer")
            produced.add(out)
        if n.op_type == "Constant" and domain == "":
            value = _constant_value(attrs, name)
            if n.output[0]:
                constants[n.output[0]] = value
            continue
        nodes.append(Node(n.op_type, name, list(n.input), list(n.output), attrs, domain))

    available = {t.name for t in inputs} | set(constants)
    for out in outputs:
        if out.name not in produced:
            raise ModelLoadError(f"{source}: graph output '{out.name}' is never produced")
    nodes = _toposort(nodes, available, source)
    graph = Graph(nodes, inputs, outputs, constants, opset, source)
    graph.remove_dead_nodes()
    return graph
