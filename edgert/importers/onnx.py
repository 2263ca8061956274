"""ONNX (.onnx file, bytes or ModelProto) -> edgert IR."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from edgert.errors import ModelLoadError, UnsupportedOperatorError
from edgert.ir import Graph, Node, TensorInfo

MIN_OPSET, MAX_OPSET = 6, 28


def _load_proto(model: Any):
    import onnx
    from google.protobuf.message import DecodeError

    if isinstance(model, onnx.ModelProto):
        return model, "<ModelProto>"
    if isinstance(model, (bytes, bytearray, memoryview)):
        source = "<bytes>"
        try:
            return onnx.load_from_string(bytes(model)), source
        except (DecodeError, ValueError, RuntimeError) as e:
            raise ModelLoadError(f"{source}: not a valid ONNX model ({e})") from None
    path = Path(os.fspath(model))
    if not path.is_file():
        raise ModelLoadError(f"{path}: no such model file")
    try:
        return onnx.load(str(path)), str(path)
    except (DecodeError, ValueError, RuntimeError, OSError) as e:
        raise ModelLoadError(f"{path}: not a valid ONNX model ({e})") from None


def _np_dtype(elem_type: int, where: str) -> np.dtype:
    import onnx

    try:
        return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(elem_type))
    except (KeyError, TypeError, ValueError):
        raise ModelLoadError(f"{where}: unsupported tensor element type {elem_type}") from None


def _tensor_info(value_info, source: str) -> TensorInfo:
    t = value_info.type
    if not t.HasField("tensor_type"):
        raise ModelLoadError(f"{source}: '{value_info.name}' is not a tensor (sequences/maps are not supported)")
    tt = t.tensor_type
    dims: tuple = ()
    if tt.HasField("shape"):
        dims = tuple(
            d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tt.shape.dim
        )
    else:
        dims = None  # unknown rank
    return TensorInfo(value_info.name, dims, _np_dtype(tt.elem_type, f"{source}: '{value_info.name}'"))


def _to_array(tensor, where: str) -> np.ndarray:
    from onnx import numpy_helper

    try:
        return np.asarray(numpy_helper.to_array(tensor))
    except Exception as e:  # malformed raw_data, wrong sizes, missing external file...
        raise ModelLoadError(f"{where}: cannot read tensor '{tensor.name}' ({e})") from None


def _attributes(node, where: str) -> dict[str, Any]:
    import onnx

    attrs: dict[str, Any] = {}
    for a in node.attribute:
        if a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS):
            raise UnsupportedOperatorError(node.op_type, where, "subgraph attributes (control flow)")
        if a.type == onnx.AttributeProto.TENSOR:
            attrs[a.name] = _to_array(a.t, where)
            continue
        value = onnx.helper.get_attribute_value(a)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        elif isinstance(value, list) and value and isinstance(value[0], bytes):
            value = [v.decode("utf-8", "replace") for v in value]
        attrs[a.name] = value
    return attrs


def _constant_value(attrs: dict[str, Any], where: str) -> np.ndarray:
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


def import_onnx(model: Any) -> Graph:
    """Read an ONNX model into a Graph. Constant nodes become constants; nothing else changes."""
    proto, source = _load_proto(model)
    opset = None
    for imp in proto.opset_import:
        if imp.domain in ("", "ai.onnx"):
            opset = imp.version
    if opset is None:
        raise ModelLoadError(f"{source}: no default-domain opset import")
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise ModelLoadError(f"{source}: opset {opset} is outside the supported range {MIN_OPSET}-{MAX_OPSET}")
    g = proto.graph
    constants = {init.name: _to_array(init, f"{source}: initializer") for init in g.initializer}
    inputs = [_tensor_info(v, source) for v in g.input if v.name not in constants]
    outputs = [_tensor_info(v, source) for v in g.output]
    if not outputs:
        raise ModelLoadError(f"{source}: the graph has no outputs")

    nodes: list[Node] = []
    used_names: set[str] = set()
    for index, n in enumerate(g.node):
        name = n.name or f"{n.op_type}_{index}"
        if name in used_names:
            name = f"{name}_{index}"
        used_names.add(name)
        attrs = _attributes(n, name)
        if n.op_type == "Constant" and n.domain in ("", "ai.onnx"):
            if len(n.output) != 1:
                raise ModelLoadError(f"{source}: Constant node '{name}' must have one output")
            constants[n.output[0]] = _constant_value(attrs, name)
            continue
        domain = "" if n.domain == "ai.onnx" else n.domain
        nodes.append(Node(n.op_type, name, list(n.input), list(n.output), attrs, domain))

    available = {t.name for t in inputs} | set(constants)
    for out in outputs:
        if out.name not in available and not any(out.name in n.outputs for n in nodes):
            raise ModelLoadError(f"{source}: graph output '{out.name}' is never produced")
    nodes = _toposort(nodes, available, source)
    graph = Graph(nodes, inputs, outputs, constants, opset, source)
    graph.remove_dead_nodes()
    return graph
