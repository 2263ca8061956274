#!/usr/bin/env python3
"""Fuzz campaign for edgert's model importers and Session.run.

    python tools/fuzz.py --cases 100000 --jobs 2 --out /tmp/edgert-fuzz     # the long campaign
    python tools/fuzz.py --target tflite --cases 20000 --jobs 2              # mutated .tflite files
    python tools/fuzz.py --repro 1234 --seed 0                               # rerun one case, with traceback
    python tools/fuzz.py --engine atheris --time 600                         # coverage-guided (needs atheris)

Every case is a pure function of (target, seed, index): a mutation of a seed model (the generators
in tests/model_zoo.py; for --target tflite, those converted by edgert.exporters.tflite), a
structured random graph, or adversarial feeds for a valid model. A case
loads the model with edgert.load and, when that succeeds, runs it. Its outcome is one of
    ok        loaded and ran; the outputs are the declared ones, as arrays
    rejected  an EdgeRTError subclass, with a message (counted per class and stage)
    bug       any other exception, or run() returning something malformed
    crash     the worker process died (signal, abort, sanitizer report)
    hang      no answer within --timeout seconds (the worker is killed)
Cases run in worker subprocesses under an address-space limit (--memory-mb), so a memory blow-up
surfaces as a MemoryError, which edgert must turn into an EdgeRTError, instead of taking the
machine down. Reproducers of every distinct bug/crash/hang go to --out. The campaign fails
(exit status 1) on any bug, crash or hang.
"""
from __future__ import annotations

import argparse
import collections
import copy
import hashlib
import json
import os
import resource
import select
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]

# ------------------------------------------------------------------------------ corpus

_CORPUS: list[tuple[str, bytes]] = []


def corpus() -> list[tuple[str, bytes]]:
    """(name, serialized model) for every seed model: small networks and one graph per op case."""
    if not _CORPUS:
        sys.path.insert(0, str(REPO / "tests"))
        import model_zoo as mz

        models = [
            ("mobilenet_v2", mz.mobilenet_v2(size=32, width=0.35)),
            ("mobilenet_v2_dynamic", mz.mobilenet_v2(size=32, width=0.35, batch=None)),
            ("mobilenet_v3", mz.mobilenet_v3(size=32, width=0.35)),
            ("resnet", mz.resnet(size=32, width=0.25, layers=(1, 1, 1, 1))),
            ("exporter_cnn", mz.exporter_cnn(size=32)),
            ("all_ops", mz.all_ops_model(size=(10, 12), batch=1)),
        ]
        models += [(f"op:{case.name}", mz.op_model(case)) for case in mz.OP_CASES]
        _CORPUS.extend((name, m.SerializeToString()) for name, m in models)
    return _CORPUS


_TFLITE_CORPUS: list[tuple[str, bytes]] = []


def tflite_corpus() -> list[tuple[str, bytes]]:
    """The seed models that edgert's TFLite exporter converts, as .tflite flatbuffers."""
    if not _TFLITE_CORPUS:
        import onnx

        from edgert.exporters.tflite import onnx_to_tflite

        for name, data in corpus():
            if name.startswith("op:") and len(_TFLITE_CORPUS) > 60:
                continue
            model = onnx.ModelProto.FromString(data)
            for weights in ("fp32", "fp16"):
                try:
                    _TFLITE_CORPUS.append((f"{name}.{weights}.tflite", onnx_to_tflite(model, weights=weights)))
                except Exception:  # noqa: BLE001 - ops the exporter does not convert: not a seed
                    break
        if not _TFLITE_CORPUS:
            raise RuntimeError("the TFLite exporter converted none of the seed models")
    return _TFLITE_CORPUS


def mutate_flatbuffer(data: bytes, rng) -> tuple[bytes, list[str]]:
    """Flatbuffers are offsets all the way down: overwrite 32-bit words with hostile offsets and
    lengths, besides plain byte mutations. The file identifier (bytes 4..8) is kept so the file
    still reaches the TFLite importer."""
    b = bytearray(data)
    done = []
    for _ in range(int(rng.integers(1, 5))):
        kind = _pick(rng, ["word", "word", "word", "flip", "truncate", "zero-run"])
        at = 8 + int(rng.integers(max(len(b) - 12, 1))) & ~3
        if kind == "word" and at + 4 <= len(b):
            value = _pick(rng, [0, 1, 4, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFFFFFC, len(b), len(b) - 4,
                                len(b) + 4, 1 << 20, 1 << 30, int(rng.integers(0, 1 << 32))])
            b[at:at + 4] = int(value).to_bytes(4, "little")
        elif kind == "flip" and b:
            i = 8 + int(rng.integers(max(len(b) - 8, 1)))
            if i < len(b):
                b[i] ^= 1 << int(rng.integers(8))
        elif kind == "truncate":
            del b[max(8, int(rng.integers(len(b)))):]
        elif kind == "zero-run" and at < len(b):
            n = int(rng.integers(1, 64))
            b[at:at + n] = bytes(len(b[at:at + n]))
        done.append(kind)
    return bytes(b), done


# ------------------------------------------------------------------------------ interesting values

INTERESTING_INTS = [0, 1, -1, 2, 3, -2, 7, 255, 256, 65535, 1 << 20, (1 << 31) - 1, -(1 << 31), 1 << 31,
                    1 << 32, 1 << 40, (1 << 62), (1 << 63) - 1, -(1 << 63)]
INTERESTING_FLOATS = [0.0, -0.0, 1.0, -1.0, 0.5, 1e-45, 1e-30, 3.4e38, -3.4e38, 1e300,
                      float("nan"), float("inf"), float("-inf")]
EXTERNAL_LOCATIONS = ["/etc/passwd", "../../../../etc/passwd", "/dev/zero", "/proc/self/mem", "weights.bin",
                      "sub/../../x.bin", "", "a\x00b", "/", ".", "model.onnx"]


def _pick(rng, seq):
    return seq[int(rng.integers(len(seq)))]


def _int(rng) -> int:
    return int(_pick(rng, INTERESTING_INTS)) if rng.random() < 0.6 else int(rng.integers(-8, 9))


def _float(rng) -> float:
    return float(_pick(rng, INTERESTING_FLOATS)) if rng.random() < 0.6 else float(rng.normal() * 10)


# ------------------------------------------------------------------------------ byte mutations


def mutate_bytes(data: bytes, rng, donor: bytes) -> tuple[bytes, list[str]]:
    b = bytearray(data)
    done = []
    for _ in range(int(rng.integers(1, 4))):
        kind = _pick(rng, ["truncate", "flip", "byte", "insert", "delete", "splice", "repeat", "varint"])
        if not b:
            break
        at = int(rng.integers(len(b)))
        if kind == "truncate":
            del b[at:]
        elif kind == "flip":
            for _ in range(int(rng.integers(1, 9))):
                i = int(rng.integers(len(b)))
                b[i] ^= 1 << int(rng.integers(8))
        elif kind == "byte":
            b[at] = _pick(rng, [0, 0xFF, 0x7F, 0x80, 0x01, 0x08, 0x12, 0x1A])
        elif kind == "insert":
            b[at:at] = bytes(rng.integers(0, 256, int(rng.integers(1, 16)), dtype=np.uint8))
        elif kind == "delete":
            del b[at:at + int(rng.integers(1, 64))]
        elif kind == "splice" and donor:
            j = int(rng.integers(len(donor)))
            b[at:] = donor[j:j + int(rng.integers(1, 4096))]
        elif kind == "repeat":
            chunk = b[at:at + int(rng.integers(1, 32))]
            b[at:at] = chunk * int(rng.integers(1, 64))
        elif kind == "varint":  # a length prefix becomes enormous
            b[at:at + 1] = b"\xff\xff\xff\xff\x0f"
        done.append(kind)
    return bytes(b), done


# ------------------------------------------------------------------------------ structured mutations


def _nodes_with(model, pred):
    return [n for n in model.graph.node if pred(n)]


def _set_tensor_dims(t, dims):
    del t.dims[:]
    t.dims.extend(int(max(min(d, (1 << 63) - 1), -(1 << 63))) for d in dims)


def m_initializer_dims(model, rng):
    inits = list(model.graph.initializer)
    if not inits:
        return False
    t = _pick(rng, inits)
    choice = int(rng.integers(5))
    if choice == 0:
        _set_tensor_dims(t, [1 << 40])  # 2^40 elements declared, little data
    elif choice == 1:
        _set_tensor_dims(t, [_int(rng) for _ in range(int(rng.integers(0, 5)))])
    elif choice == 2:
        _set_tensor_dims(t, list(t.dims) + [int(rng.integers(0, 4))])
    elif choice == 3:
        _set_tensor_dims(t, list(t.dims)[::-1][:max(0, len(t.dims) - 1)])
    else:
        _set_tensor_dims(t, [1 << 31, 1 << 31, 1 << 31])
    return True


def m_initializer_data(model, rng):
    inits = list(model.graph.initializer)
    if not inits:
        return False
    t = _pick(rng, inits)
    choice = int(rng.integers(5))
    if choice == 0 and t.HasField("raw_data"):
        t.raw_data = t.raw_data[: int(rng.integers(len(t.raw_data) + 1))]
    elif choice == 1:
        t.ClearField("raw_data")  # no data at all
    elif choice == 2:
        t.data_type = int(rng.integers(0, 32))
    elif choice == 3 and t.HasField("raw_data"):
        import onnx

        array = np.frombuffer(t.raw_data, dtype=np.uint8)
        t.ClearField("raw_data")
        if t.data_type == onnx.TensorProto.FLOAT:
            t.float_data.extend(float(v) for v in array[: int(rng.integers(0, 64))])
        else:
            t.int64_data.extend(int(v) for v in array[: int(rng.integers(0, 64))])
    else:  # values of interest: out-of-range indices, shapes, axes, pads, split sizes, NaN weights
        values = _tensor_values(t)
        if values is None or values.size == 0:
            return False
        flat = values.reshape(-1).copy()
        for _ in range(int(rng.integers(1, 4))):
            i = int(rng.integers(flat.size))
            if flat.dtype.kind == "f":
                flat[i] = _float(rng)
            elif flat.dtype.kind in "iu":
                info = np.iinfo(flat.dtype)
                flat[i] = int(np.clip(_int(rng), info.min, info.max))
        _store(t, flat.reshape(values.shape))
    return True


def _tensor_values(t):
    from onnx import numpy_helper

    try:
        return np.array(numpy_helper.to_array(t))
    except Exception:  # noqa: BLE001 - a tensor the mutation cannot decode is left alone
        return None


def _store(t, array):
    from onnx import numpy_helper

    fresh = numpy_helper.from_array(np.ascontiguousarray(array), t.name)
    t.CopyFrom(fresh)


def m_external_data(model, rng):
    import onnx

    inits = list(model.graph.initializer)
    if not inits:
        return False
    t = _pick(rng, inits)
    t.ClearField("raw_data")
    for f in ("float_data", "int32_data", "int64_data", "double_data", "uint64_data"):
        t.ClearField(f)
    t.data_location = onnx.TensorProto.EXTERNAL
    del t.external_data[:]
    entries = {"location": _pick(rng, EXTERNAL_LOCATIONS)}
    if rng.random() < 0.5:
        entries["offset"] = str(_int(rng)) if rng.random() < 0.8 else "zero"
    if rng.random() < 0.5:
        entries["length"] = str(_int(rng))
    for k, v in entries.items():
        e = t.external_data.add()
        e.key, e.value = k, v
    return True


def m_attribute(model, rng):
    import onnx
    from onnx import AttributeProto as A

    nodes = _nodes_with(model, lambda n: len(n.attribute) > 0)
    if not nodes:
        return False
    node = _pick(rng, nodes)
    a = _pick(rng, list(node.attribute))
    choice = int(rng.integers(7))
    if choice == 0:  # wrong type, value left in another field
        a.type = _pick(rng, [A.FLOAT, A.INT, A.STRING, A.INTS, A.FLOATS, A.TENSOR, A.UNDEFINED, A.GRAPH, A.SPARSE_TENSOR])
    elif choice == 1 and a.type == A.INTS:
        values = list(a.ints)
        if values and rng.random() < 0.7:
            values[int(rng.integers(len(values)))] = _int(rng)
        else:
            values = [_int(rng) for _ in range(int(rng.integers(0, 7)))]
        del a.ints[:]
        a.ints.extend(int(np.clip(v, -(1 << 63), (1 << 63) - 1)) for v in values)
    elif choice == 2 and a.type == A.INT:
        a.i = int(np.clip(_int(rng), -(1 << 63), (1 << 63) - 1))
    elif choice == 3 and a.type in (A.FLOAT, A.FLOATS):
        if a.type == A.FLOAT:
            a.f = _float(rng)
        else:
            del a.floats[:]
            a.floats.extend(_float(rng) for _ in range(int(rng.integers(0, 5))))
    elif choice == 4 and a.type == A.STRING:
        a.s = _pick(rng, [b"", b"SAME_UPPER", b"VALID", b"nearest", b"linear", b"cubic", b"\xff\xfe", b"reflect",
                          b"edge", b"wrap", b"x" * 1000])
    elif choice == 5:
        node.attribute.append(onnx.helper.make_attribute(_pick(rng, ["bogus", a.name, "edgert_clamp", "axis"]),
                                                         _int(rng)))
    else:
        node.attribute.remove(a)
    return True


def m_edges(model, rng):
    nodes = list(model.graph.node)
    if not nodes:
        return False
    choice = int(rng.integers(6))
    node = _pick(rng, nodes)
    if choice == 0 and node.input:
        node.input[int(rng.integers(len(node.input)))] = "dangling_tensor"
    elif choice == 1 and len(nodes) > 1:  # an early node reads a later node's output: a cycle
        i, j = sorted(int(v) for v in rng.choice(len(nodes), 2, replace=False))
        if nodes[i].input and nodes[j].output:
            nodes[i].input[0] = nodes[j].output[0]
    elif choice == 2 and node.input:
        node.input[int(rng.integers(len(node.input)))] = _pick(rng, [""] + [o for n in nodes for o in n.output])
    elif choice == 3:
        if rng.random() < 0.5:
            node.input.append(_pick(rng, [n.output[0] for n in nodes if n.output] + [""]))
        elif node.input:
            node.input.pop()
    elif choice == 4:
        if rng.random() < 0.5 and node.output:
            node.output.append(node.output[0])
        elif len(nodes) > 1:
            other = _pick(rng, nodes)
            if other.output and node.output:
                node.output[0] = other.output[0]  # two producers of one tensor
    else:
        if node.output and rng.random() < 0.5:
            node.output[0] = node.input[0] if node.input else "self"  # reads its own output
        else:
            model.graph.node.remove(node)
    return True


def m_node(model, rng):
    nodes = list(model.graph.node)
    if not nodes:
        return False
    node = _pick(rng, nodes)
    choice = int(rng.integers(4))
    if choice == 0:
        node.op_type = _pick(rng, ["Conv", "Gather", "Split", "Reshape", "Slice", "Transpose", "Concat", "Pad",
                                   "Resize", "MaxPool", "Gemm", "MatMul", "Softmax", "Squeeze", "Unsqueeze",
                                   "Expand", "Tile", "Relu", "Add", "NotAnOp", "", "If", "Loop", "Scan"])
    elif choice == 1:
        node.domain = _pick(rng, ["ai.edgert", "com.microsoft", "ai.onnx", "ai.onnx.ml", "bogus"])
    elif choice == 2:
        model.graph.node.insert(int(rng.integers(len(nodes) + 1)), copy.deepcopy(node))
    else:
        order = list(range(len(nodes)))
        rng.shuffle(order)
        reordered = [copy.deepcopy(nodes[i]) for i in order]
        del model.graph.node[:]
        model.graph.node.extend(reordered)
    return True


def m_graph_io(model, rng):
    g = model.graph
    choice = int(rng.integers(6))
    if choice <= 2 and g.input:
        vi = _pick(rng, list(g.input))
        tt = vi.type.tensor_type
        if choice == 0:
            tt.elem_type = int(rng.integers(0, 30))
        elif choice == 1:
            if rng.random() < 0.3:
                tt.ClearField("shape")  # unknown rank
            for d in tt.shape.dim:
                r = rng.random()
                if r < 0.4:
                    d.dim_value = int(np.clip(_int(rng), -(1 << 63), (1 << 63) - 1))
                elif r < 0.6:
                    d.dim_param = _pick(rng, ["n", "batch", "h", ""])
        else:
            if rng.random() < 0.5:
                tt.shape.dim.add().dim_value = int(rng.integers(0, 4))
            elif len(tt.shape.dim):
                del tt.shape.dim[-1]
    elif choice == 3 and g.output:
        if rng.random() < 0.5:
            g.output.remove(_pick(rng, list(g.output)))
        else:
            g.output.add().CopyFrom(g.output[0])
    elif choice == 4 and g.output:
        g.output[0].name = _pick(rng, ["never_produced", ""] + [i.name for i in g.input] + [i.name for i in g.initializer])
    else:
        for imp in model.opset_import:
            if imp.domain in ("", "ai.onnx"):
                imp.version = _pick(rng, [1, 5, 6, 7, 9, 11, 13, 17, 21, 28, 29, 1000, -1])
    return True


STRUCTURED_MUTATORS = [m_initializer_dims, m_initializer_data, m_initializer_data, m_external_data,
                       m_attribute, m_attribute, m_edges, m_node, m_graph_io]


def mutate_proto(data: bytes, rng) -> tuple[bytes, list[str]]:
    import onnx

    model = onnx.ModelProto.FromString(data)
    done = []
    for _ in range(int(rng.integers(1, 4))):
        mutator = _pick(rng, STRUCTURED_MUTATORS)
        if mutator(model, rng):
            done.append(mutator.__name__)
    return model.SerializeToString(), done


# ------------------------------------------------------------------------------ structured random graphs


def random_graph(rng) -> tuple[bytes, list[str]]:
    """A short chain of ops on one input, each with parameters that are sometimes out of range."""
    from onnx import AttributeProto, TensorProto, helper, numpy_helper

    rank = int(rng.integers(1, 5))
    shape = [int(rng.integers(1, 6)) for _ in range(rank)]
    dynamic = rng.random() < 0.3
    dims = [("d%d" % i if dynamic and rng.random() < 0.5 else s) for i, s in enumerate(shape)]
    nodes, inits, names = [], [], []
    x = "x"
    counter = [0]

    def const(value, dtype=np.int64):
        counter[0] += 1
        name = f"k{counter[0]}"
        inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def out():
        counter[0] += 1
        return f"t{counter[0]}"

    def axis(r):
        return int(rng.integers(-r - 2, r + 2)) if rng.random() < 0.3 else int(rng.integers(-r, r)) if r else 0

    cur_rank = rank
    for _ in range(int(rng.integers(1, 5))):
        op = _pick(rng, ["Gather", "Split", "Concat", "Slice", "Reshape", "Transpose", "Squeeze", "Unsqueeze",
                         "Flatten", "Softmax", "ReduceMean", "Pad", "Resize", "Expand", "Tile", "Conv", "MaxPool",
                         "AveragePool", "MatMul", "Gemm", "Clip", "Cast", "Div", "Mod", "LayerNormalization",
                         "GroupNormalization", "DepthToSpace", "Range", "ConstantOfShape", "Where", "Add"])
        y = out()
        r = cur_rank
        if op == "Gather":
            n = int(rng.integers(0, 4))
            idx = rng.integers(-12, 12, n) if rng.random() < 0.7 else np.array([_int(rng) for _ in range(n)])
            nodes.append(helper.make_node(op, [x, const(idx)], [y], axis=axis(r)))
        elif op == "Split":
            parts = [int(rng.integers(-1, 5)) for _ in range(int(rng.integers(1, 4)))]
            outs = [y] + [out() for _ in parts[1:]]
            nodes.append(helper.make_node(op, [x, const(parts)], outs, axis=axis(r)))
        elif op == "Concat":
            other = const(rng.standard_normal([int(rng.integers(1, 4)) for _ in range(r)]), np.float32)
            nodes.append(helper.make_node(op, [x, other], [y], axis=axis(r)))
        elif op == "Slice":
            k = int(rng.integers(1, r + 2))
            ins = [x, const([_int(rng) for _ in range(k)]), const([_int(rng) for _ in range(k)]),
                   const([axis(r) for _ in range(k)]), const([_pick(rng, [1, -1, 2, 0, _int(rng)]) for _ in range(k)])]
            nodes.append(helper.make_node(op, ins, [y]))
        elif op == "Reshape":
            target = [_pick(rng, [-1, 0, 1, 2, 3, 6, _int(rng)]) for _ in range(int(rng.integers(1, 5)))]
            nodes.append(helper.make_node(op, [x, const(target)], [y], allowzero=int(rng.integers(2))))
        elif op == "Transpose":
            perm = list(rng.permutation(r)) if rng.random() < 0.6 else [axis(r) for _ in range(int(rng.integers(0, r + 2)))]
            node = helper.make_node(op, [x], [y])
            node.attribute.append(helper.make_attribute("perm", [int(p) for p in perm], attr_type=AttributeProto.INTS))
            nodes.append(node)
        elif op in ("Squeeze", "Unsqueeze"):
            nodes.append(helper.make_node(op, [x, const([axis(r + 1) for _ in range(int(rng.integers(1, 3)))])], [y]))
        elif op in ("Flatten", "Softmax"):
            nodes.append(helper.make_node(op, [x], [y], axis=axis(r)))
        elif op == "ReduceMean":
            nodes.append(helper.make_node(op, [x], [y], axes=[axis(r)], keepdims=int(rng.integers(2))))
        elif op == "Pad":
            pads = [int(rng.integers(-3, 4)) if rng.random() < 0.8 else _int(rng) for _ in range(2 * r)]
            mode = _pick(rng, ["constant", "reflect", "edge", "wrap", "bogus"])
            nodes.append(helper.make_node(op, [x, const(pads)], [y], mode=mode))
        elif op == "Resize":
            scales = [_pick(rng, [1.0, 2.0, 0.5, 0.0, -1.0, 1e6, float("nan"), float("inf")]) for _ in range(r)]
            mode = _pick(rng, ["nearest", "linear", "cubic"])
            nodes.append(helper.make_node(op, [x, "", const(scales, np.float32)], [y], mode=mode))
        elif op == "Expand":
            nodes.append(helper.make_node(op, [x, const([_pick(rng, [1, 2, 3, 0, -1, 1 << 20, _int(rng)]) for _ in range(r)])], [y]))
        elif op == "Tile":
            nodes.append(helper.make_node(op, [x, const([_pick(rng, [1, 2, 0, -1, 1 << 16, _int(rng)]) for _ in range(r)])], [y]))
        elif op in ("Conv", "MaxPool", "AveragePool"):
            k = int(rng.integers(0, 5))
            attrs = {"kernel_shape": [k] * max(r - 2, 1)}
            if rng.random() < 0.5:
                attrs["strides"] = [_pick(rng, [1, 2, 0, -1, 1 << 40])] * max(r - 2, 1)
            if rng.random() < 0.5:
                attrs["pads"] = [_pick(rng, [0, 1, 3, -1, 1 << 30])] * (2 * max(r - 2, 1))
            if rng.random() < 0.3:
                attrs["dilations"] = [_pick(rng, [1, 2, 0, -2])] * max(r - 2, 1)
            if op == "Conv":
                cin = shape[1] if len(shape) > 1 else 1
                group = _pick(rng, [1, 1, cin, 2, 0, -1])
                attrs["group"] = group
                cout = int(rng.integers(1, 5))
                w = const(rng.standard_normal([cout, max(cin // max(group, 1), 1)] + [max(k, 1)] * max(r - 2, 1)), np.float32)
                nodes.append(helper.make_node(op, [x, w], [y], **attrs))
            else:
                if op == "MaxPool" and rng.random() < 0.3:
                    attrs["ceil_mode"] = 1
                nodes.append(helper.make_node(op, [x], [y], **attrs))
        elif op in ("MatMul", "Gemm"):
            k = shape[-1] if rng.random() < 0.6 else int(rng.integers(1, 6))
            w = const(rng.standard_normal([k, int(rng.integers(1, 5))]), np.float32)
            if op == "Gemm":
                nodes.append(helper.make_node(op, [x, w], [y], transB=int(rng.integers(2))))
            else:
                nodes.append(helper.make_node(op, [x, w], [y]))
        elif op == "Clip":
            lo, hi = _float(rng), _float(rng)
            nodes.append(helper.make_node(op, [x, const(lo, np.float32), const(hi, np.float32)], [y]))
        elif op == "Cast":
            nodes.append(helper.make_node(op, [x], [y], to=int(rng.integers(0, 30))))
        elif op in ("Div", "Mod"):
            nodes.append(helper.make_node("Cast", [x], [y + "i"], to=TensorProto.INT32))
            divisor = const(rng.integers(-1, 2, [1]), np.int32)
            nodes.append(helper.make_node(op, [y + "i", divisor], [y + "q"], **({"fmod": 0} if op == "Mod" else {})))
            nodes.append(helper.make_node("Cast", [y + "q"], [y], to=TensorProto.FLOAT))
        elif op in ("LayerNormalization", "GroupNormalization"):
            c = shape[1] if len(shape) > 1 else shape[0]
            if op == "LayerNormalization":
                scale = const(np.ones(shape[-1] if rng.random() < 0.7 else 3), np.float32)
                nodes.append(helper.make_node(op, [x, scale], [y], axis=axis(r)))
            else:
                groups = _pick(rng, [1, c, 3, 0, -1])
                nodes.append(helper.make_node(op, [x, const(np.ones(c), np.float32), const(np.zeros(c), np.float32)],
                                              [y], num_groups=groups))
        elif op == "DepthToSpace":
            nodes.append(helper.make_node(op, [x], [y], blocksize=_pick(rng, [1, 2, 3, 0, -1])))
        elif op in ("Range", "ConstantOfShape"):
            if op == "Range":
                start, limit, delta = _float(rng), _float(rng), _pick(rng, [1.0, 0.0, -1.0, 1e-30, _float(rng)])
                ins = [const(start, np.float32), const(limit, np.float32), const(delta, np.float32)]
                nodes.append(helper.make_node(op, ins, [y + "r"]))
            else:
                nodes.append(helper.make_node(op, [const([_pick(rng, [1, 2, 0, 1 << 20, 1 << 40, -1]) for _ in range(2)])],
                                              [y + "r"]))
            nodes.append(helper.make_node("Add", [x, y + "r"], [y]))  # broadcast into the chain
        elif op == "Where":
            cond = const(rng.integers(0, 2, shape[-1:]).astype(bool), np.bool_)
            nodes.append(helper.make_node(op, [cond, x, const(_float(rng), np.float32)], [y]))
        else:  # Add with a broadcast that may not fit
            other = const(rng.standard_normal([_pick(rng, [1, 2, 3, 5]) for _ in range(int(rng.integers(0, r + 2)))]), np.float32)
            nodes.append(helper.make_node(op, [x, other], [y]))
        names.append(op)
        x = y
        cur_rank = max(1, r + int(rng.integers(-1, 2)))  # a guess: rank changes are part of the fuzz
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)]
    outputs = [helper.make_tensor_value_info(x, TensorProto.FLOAT, None)]
    graph = helper.make_graph(nodes, "fuzz", inputs, outputs, inits)
    opset = _pick(rng, [13, 17, 18, 21])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    return model.SerializeToString(), names


# ------------------------------------------------------------------------------ feeds


def _array_for(rng, shape, dtype, special: bool):
    size = int(np.prod(shape, dtype=np.float64))
    if size > (1 << 22):  # larger than 16 MiB of float32: a zero-stride view, as large as declared
        return np.lib.stride_tricks.as_strided(np.zeros(1, dtype), shape, (0,) * len(shape))
    if dtype.kind == "f":
        a = rng.standard_normal(shape).astype(dtype)
        if special and a.size:
            mask = rng.random(a.shape) < 0.3
            a[mask] = rng.choice(np.array([np.nan, np.inf, -np.inf, 3.4e38, -3.4e38, 1e-45], dtype))
        return a
    if dtype == np.bool_:
        return rng.integers(0, 2, shape).astype(bool)
    if dtype.kind not in "iu":  # e.g. ml_dtypes' bfloat16
        return rng.standard_normal(shape).astype(dtype)
    info = np.iinfo(dtype)
    lo, hi = (info.min, info.max) if special else (max(info.min, -8), min(info.max, 8))
    return rng.integers(lo, hi, shape, dtype=dtype, endpoint=True)


def _concrete(rng, declared):
    if declared is None:
        return [int(rng.integers(1, 4)) for _ in range(int(rng.integers(0, 5)))]
    return [d if isinstance(d, int) else int(_pick(rng, [1, 1, 2, 3, 0])) for d in declared]


def make_feeds(sess, rng) -> tuple[object, str]:
    """Feeds for sess: well-formed (maybe with NaN/Inf), or broken in one way."""
    feeds = {t.name: _array_for(rng, _concrete(rng, t.shape), np.dtype(t.dtype), rng.random() < 0.3)
             for t in sess.inputs}
    if rng.random() < 0.65 or not feeds:
        return feeds, "well-formed"
    name = _pick(rng, list(feeds))
    a = feeds[name]
    kind = _pick(rng, ["dtype", "rank", "dim", "noncontig", "fortran", "bigendian", "missing", "extra",
                       "not-a-dict", "list", "object", "readonly", "zero-size", "huge", "0-d"])
    if kind == "dtype":
        feeds[name] = a.astype(_pick(rng, [np.float64, np.int32, np.float16, np.bool_, np.int64, np.uint8]))
    elif kind == "rank":
        feeds[name] = a.reshape(a.shape + (1,)) if rng.random() < 0.5 else a.reshape(-1)
    elif kind == "dim" and a.ndim:
        shape = list(a.shape)
        shape[int(rng.integers(a.ndim))] += int(rng.integers(1, 3))
        feeds[name] = np.zeros(shape, a.dtype)
    elif kind == "noncontig" and a.ndim:
        big = np.repeat(a, 2, axis=-1)
        feeds[name] = big[..., ::2]
    elif kind == "fortran":
        feeds[name] = np.asfortranarray(a)
    elif kind == "bigendian":
        feeds[name] = a.astype(a.dtype.newbyteorder(">"))
    elif kind == "missing":
        del feeds[name]
    elif kind == "extra":
        feeds["not_an_input"] = a
    elif kind == "not-a-dict":
        return list(feeds.values()), kind
    elif kind == "list":
        feeds[name] = a.tolist()
    elif kind == "object":
        feeds[name] = np.empty(a.shape, dtype=object)
    elif kind == "readonly":
        a = np.array(a)
        a.flags.writeable = False
        feeds[name] = a
    elif kind == "zero-size" and a.ndim:
        shape = list(a.shape)
        shape[int(rng.integers(a.ndim))] = 0
        feeds[name] = np.zeros(shape, a.dtype)
    elif kind == "huge" and a.ndim:
        shape = list(a.shape)
        shape[-1] = 1 << 30
        feeds[name] = np.lib.stride_tricks.as_strided(np.zeros(1, a.dtype), shape, (0,) * len(shape))
    elif kind == "0-d":
        feeds[name] = np.asarray(a.reshape(-1)[0] if a.size else 0, a.dtype)
    return feeds, kind


# ------------------------------------------------------------------------------ one case


@dataclass
class Case:
    index: int
    kind: str        # bytes | proto | graph | run
    seed_model: str
    steps: list[str]
    model: bytes


TARGETS = ("onnx", "tflite")


def make_case(seed: int, index: int, target: str = "onnx") -> Case:
    with np.errstate(all="ignore"):  # interesting values overflow narrow dtypes on purpose
        if target == "tflite":
            rng = np.random.default_rng([seed, index, 7])
            name, data = _pick(rng, tflite_corpus())
            if rng.random() < 0.1:
                return Case(index, "run", name, ["adversarial feeds"], data)
            mutated, steps = mutate_flatbuffer(data, rng)
            return Case(index, "tflite", name, steps, mutated)
        return _make_case(seed, index)


def _make_case(seed: int, index: int) -> Case:
    rng = np.random.default_rng([seed, index])
    models = corpus()
    name, data = _pick(rng, models)
    r = rng.random()
    if r < 0.25:
        donor = _pick(rng, models)[1]
        mutated, steps = mutate_bytes(data, rng, donor)
        return Case(index, "bytes", name, steps, mutated)
    if r < 0.7:
        mutated, steps = mutate_proto(data, rng)
        return Case(index, "proto", name, steps, mutated)
    if r < 0.9:
        graph, ops = random_graph(rng)
        return Case(index, "graph", "random", ops, graph)
    return Case(index, "run", name, ["adversarial feeds"], data)


def _where(tb) -> str:
    """file:function of the innermost edgert frame (or the innermost frame) of a traceback."""
    frames = traceback.extract_tb(tb)
    inside = [f for f in frames if "/edgert/" in f.filename.replace(os.sep, "/")]
    frame = (inside or frames or [None])[-1]
    if frame is None:
        return "?"
    path = frame.filename.replace(os.sep, "/")
    short = path[path.rfind("/edgert/") + 1:] if "/edgert/" in path else os.path.basename(path)
    return f"{short}:{frame.name}"


def run_case(case: Case, seed: int) -> dict:
    """Outcome of one case, in this process. Never raises (except KeyboardInterrupt)."""
    import edgert

    rng = np.random.default_rng([seed, case.index, 1])
    threads = int(rng.integers(1, 3))
    stage = "load"
    feeds_kind = ""
    try:
        sess = edgert.load(case.model, threads=threads, backend="edgert")
        stage = "run"
        for _ in range(2 if case.kind == "run" else 1):
            try:
                feeds, feeds_kind = make_feeds(sess, rng)
            except Exception as e:  # noqa: BLE001 - the generator's failure (e.g. out of memory), not edgert's
                return {"status": "skipped", "stage": "feeds", "message": f"{type(e).__name__}: {e}"}
            out = sess.run(feeds)
            problem = _check_outputs(sess, out)
            if problem:
                return {"status": "bug", "stage": stage, "error": "BadOutputs", "message": problem,
                        "where": "run", "feeds": feeds_kind}
        return {"status": "ok", "stage": stage, "feeds": feeds_kind}
    except edgert.EdgeRTError as e:
        message = str(e)
        status = "rejected" if message.strip() else "bug"  # an empty message helps nobody
        return {"status": status, "stage": stage, "error": type(e).__name__, "message": message[:300],
                "where": _where(e.__traceback__) if status == "bug" else "", "feeds": feeds_kind}
    except KeyboardInterrupt:
        raise
    except BaseException as e:  # noqa: BLE001 - anything else escaping edgert is what we hunt
        return {"status": "bug", "stage": stage, "error": type(e).__name__, "message": str(e)[:300],
                "where": _where(e.__traceback__), "feeds": feeds_kind}


def _check_outputs(sess, out) -> str | None:
    if not isinstance(out, dict):
        return f"run() returned {type(out).__name__}"
    want = [t.name for t in sess.outputs]
    if sorted(out) != sorted(want):
        return f"run() returned outputs {sorted(out)}, the model declares {want}"
    for k, v in out.items():
        if not isinstance(v, np.ndarray):
            return f"output {k!r} is {type(v).__name__}"
    return None


def signature(result: dict) -> str:
    return f"{result['stage']} {result.get('error', '?')} @ {result.get('where', '?')}"


# ------------------------------------------------------------------------------ workers


def worker_main(args) -> int:
    """Reads case indices from stdin, answers one JSON line each on the original stdout."""
    answer = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything edgert or numpy prints goes to stderr, not into the protocol
    corpus()
    if args.target == "tflite":
        tflite_corpus()
    import edgert  # noqa: F401 - imported before the limit, like an application would
    if args.memory_mb > 0:
        limit = args.memory_mb << 20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    answer.write("ready\n")  # importing edgert may build it first: case timeouts start after this
    for line in sys.stdin:
        index = int(line)
        try:
            case = make_case(args.seed, index, args.target)
        except Exception as e:  # noqa: BLE001 - the generator's own failure, not edgert's: reported apart
            result = {"status": "skipped", "stage": "generate", "kind": "?", "message": f"{type(e).__name__}: {e}"}
        else:
            result = dict(run_case(case, args.seed), kind=case.kind)
        result["index"] = index
        result["maxrss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        answer.write(json.dumps(result) + "\n")
    return 0


STARTING = -1  # Worker.index while the worker imports edgert and builds the corpus


class Worker:
    def __init__(self, args, log):
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--seed", str(args.seed),
               "--memory-mb", str(args.memory_mb), "--target", args.target]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                     cwd=REPO, start_new_session=True)
        self.buffer = b""
        self.index: int | None = STARTING
        self.deadline = time.monotonic() + args.startup_timeout
        self.done = 0

    def send(self, index: int, timeout: float) -> None:
        self.index = index
        self.deadline = time.monotonic() + timeout
        self.proc.stdin.write(f"{index}\n".encode())
        self.proc.stdin.flush()

    def read_line(self) -> bytes | None:
        """A complete line if one is buffered; b'' on EOF; None if more is needed."""
        if b"\n" not in self.buffer:
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                return b""
            self.buffer += chunk
        if b"\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\n", 1)
            return line
        return None

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()

    def close(self) -> None:
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.kill()


@dataclass
class Summary:
    cases: int = 0
    ok: int = 0
    rejected: collections.Counter = field(default_factory=collections.Counter)
    bugs: dict = field(default_factory=dict)          # signature -> {"count", "index", "message"}
    crashes: dict = field(default_factory=dict)
    hangs: dict = field(default_factory=dict)
    skipped: int = 0
    peak_rss_kib: int = 0
    peak_rss_index: int = -1                          # the case that raised a worker's RSS to the peak
    by_kind: collections.Counter = field(default_factory=collections.Counter)

    def add(self, kind: str, result: dict) -> None:
        self.cases += 1
        if result.get("maxrss_kib", 0) > self.peak_rss_kib:
            self.peak_rss_kib, self.peak_rss_index = result["maxrss_kib"], result.get("index", -1)
        status = result["status"]
        self.by_kind[f"{kind}:{status}"] += 1
        if status == "ok":
            self.ok += 1
        elif status == "rejected":
            self.rejected[f"{result['error']} ({result['stage']})"] += 1
        elif status == "skipped":
            self.skipped += 1
        else:
            table = {"bug": self.bugs, "crash": self.crashes, "hang": self.hangs}[status]
            sig = signature(result)
            entry = table.setdefault(sig, {"count": 0, "index": result["index"], "message": result.get("message", "")})
            entry["count"] += 1

    def as_dict(self) -> dict:
        return {"cases": self.cases, "ok": self.ok, "rejected": dict(self.rejected), "bugs": self.bugs,
                "crashes": self.crashes, "hangs": self.hangs, "skipped": self.skipped,
                "peak_rss_kib": self.peak_rss_kib, "peak_rss_index": self.peak_rss_index, "by_kind": dict(self.by_kind)}

    @property
    def failed(self) -> bool:
        return bool(self.bugs or self.crashes or self.hangs)

    def text(self, seconds: float, command: str) -> str:
        lines = [f"command: {command}",
                 f"cases: {self.cases} in {seconds:.0f} s ({self.cases / max(seconds, 1e-9):.0f}/s)",
                 f"loaded and ran: {self.ok}",
                 f"rejected with an EdgeRTError: {sum(self.rejected.values())}"]
        for name, n in self.rejected.most_common():
            lines.append(f"  {name}: {n}")
        lines.append(f"bugs (non-EdgeRTError or malformed result): {sum(e['count'] for e in self.bugs.values())}"
                     f" in {len(self.bugs)} distinct places")
        for sig, e in sorted(self.bugs.items(), key=lambda kv: -kv[1]["count"]):
            lines.append(f"  {sig}: {e['count']} (e.g. case {e['index']}: {e['message'][:120]})")
        lines.append(f"crashes: {sum(e['count'] for e in self.crashes.values())}")
        for sig, e in self.crashes.items():
            lines.append(f"  {sig}: {e['count']} (e.g. case {e['index']})")
        lines.append(f"hangs: {sum(e['count'] for e in self.hangs.values())}")
        for sig, e in self.hangs.items():
            lines.append(f"  {sig}: {e['count']} (e.g. case {e['index']})")
        if self.skipped:
            lines.append(f"skipped (the case generator failed): {self.skipped}")
        lines.append(f"peak worker RSS: {self.peak_rss_kib / 1024:.0f} MiB (reached at case {self.peak_rss_index})")
        kinds = collections.Counter()
        for key, n in self.by_kind.items():
            kinds[key.split(":")[0]] += n
        lines.append("case kinds: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
        return "\n".join(lines)


def save_reproducer(out: Path, seed: int, target: str, result: dict, command: str) -> None:
    """<out>/<status>-<hash>.onnx|.tflite plus a .json describing it; written atomically, never replaced."""
    sig = signature(result)
    stem = f"{result['status']}-{hashlib.sha1(sig.encode()).hexdigest()[:10]}"
    if (out / f"{stem}.json").exists():
        return
    case = make_case(seed, result["index"], target)
    meta = dict(result, signature=sig, seed=seed, kind=case.kind, seed_model=case.seed_model, steps=case.steps,
                repro=f"python tools/fuzz.py --target {target} --repro {result['index']} --seed {seed}",
                campaign=command)
    _write_atomic(out / f"{stem}.{'tflite' if target == 'tflite' else 'onnx'}", case.model)
    _write_atomic(out / f"{stem}.json", (json.dumps(meta, indent=2) + "\n").encode())


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".fuzz-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _terminate(signum, frame):
    raise KeyboardInterrupt


def campaign(args) -> int:
    out = Path(args.out) if args.out else None
    if out is not None:
        if out.exists() and any(out.iterdir()) and not args.force:
            print(f"fuzz: {out} exists and is not empty; pass --force to add to it", file=sys.stderr)
            return 2
        out.mkdir(parents=True, exist_ok=True)
    for target in (args.summary, args.json):
        if target and os.path.exists(target) and not args.force:
            print(f"fuzz: {target} exists; pass --force to overwrite it", file=sys.stderr)
            return 2
    command = " ".join(["python tools/fuzz.py"] + sys.argv[1:])
    log = open(out / "workers.log", "ab") if out is not None else subprocess.DEVNULL
    summary = Summary()
    pending = iter(range(args.start, args.start + args.cases))
    signal.signal(signal.SIGTERM, _terminate)  # so `finally` below stops the workers
    workers = [Worker(args, log) for _ in range(args.jobs)]
    started = time.monotonic()
    last_report = started
    finished = interrupted = False

    def record(result):
        kind = result.get("kind")
        if kind is None:  # a crash or hang: the worker said nothing, so regenerate the case here
            try:
                kind = make_case(args.seed, result["index"], args.target).kind
            except Exception:  # noqa: BLE001 - the generator's failure is counted by the worker
                kind = "?"
        summary.add(kind, result)
        if result["status"] in ("bug", "crash", "hang") and out is not None:
            save_reproducer(out, args.seed, args.target, result, command)

    try:
        while True:
            for i, w in enumerate(workers):
                if w.index is None and not finished:
                    if w.done >= args.recycle:  # a fresh process: memory growth cannot pile up
                        w.close()
                        workers[i] = Worker(args, log)
                        continue
                    index = next(pending, None)
                    if index is None:
                        finished = True
                    else:
                        w.send(index, args.timeout)
            busy = [w for w in workers if w.index is not None]
            if not busy:
                break
            wait = max(0.0, min(w.deadline for w in busy) - time.monotonic())
            readable, _, _ = select.select([w.proc.stdout for w in busy], [], [], wait)
            for i, w in enumerate(workers):
                if w.index is None:
                    continue
                if w.proc.stdout in readable:
                    line = w.read_line()
                    if line is None:
                        continue
                    if w.index == STARTING:
                        if line != b"ready":
                            raise SystemExit(f"fuzz: a worker failed to start (exit status {w.proc.wait()}); "
                                             f"see {out / 'workers.log' if out else 'its stderr (use --out)'}")
                        w.index = None
                        continue
                    if line == b"":  # the worker died mid-case
                        code = w.proc.wait()
                        what = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
                        record({"status": "crash", "stage": "?", "error": what, "where": "worker",
                                "index": w.index, "message": what})
                        workers[i] = Worker(args, log)
                        continue
                    result = json.loads(line)
                    w.index = None
                    w.done += 1
                    record(result)
                elif time.monotonic() > w.deadline:
                    if w.index == STARTING:
                        raise SystemExit(f"fuzz: a worker did not start within {args.startup_timeout:g} s")
                    record({"status": "hang", "stage": "?", "error": f"over {args.timeout:g} s", "where": "worker",
                            "index": w.index, "message": ""})
                    w.kill()
                    workers[i] = Worker(args, log)
            now = time.monotonic()
            if args.progress and now - last_report > args.progress:
                last_report = now
                print(f"[{now - started:.0f} s] {summary.cases} cases, {summary.ok} ok, "
                      f"{sum(summary.rejected.values())} rejected, {len(summary.bugs)} bug sites, "
                      f"{len(summary.crashes)} crash sites, {len(summary.hangs)} hang sites", flush=True)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        for w in workers:
            if w.proc.poll() is None:
                w.kill() if w.index is not None else w.close()
    text = summary.text(time.monotonic() - started, command)
    if interrupted:
        text += "\ninterrupted: the counts cover the cases finished so far"
    print(text)
    if args.summary:
        _write_atomic(Path(args.summary), (text + "\n").encode())
    if args.json:
        _write_atomic(Path(args.json), (json.dumps(summary.as_dict(), indent=1) + "\n").encode())
    return 130 if interrupted else 1 if summary.failed else 0


def repro(args) -> int:
    """Run one case here and print the full traceback of whatever it raises."""
    import edgert

    case = make_case(args.seed, args.repro, args.target)
    print(f"case {case.index}: {case.kind} of {case.seed_model}: {case.steps}")
    if args.save:
        if os.path.exists(args.save) and not args.force:
            print(f"fuzz: {args.save} exists; pass --force to overwrite it", file=sys.stderr)
            return 2
        _write_atomic(Path(args.save), case.model)
    rng = np.random.default_rng([args.seed, case.index, 1])
    threads = int(rng.integers(1, 3))
    try:
        sess = edgert.load(case.model, threads=threads, backend="edgert")
        for _ in range(2 if case.kind == "run" else 1):
            feeds, kind = make_feeds(sess, rng)
            print(f"feeds ({kind}):", {k: (getattr(v, 'shape', '?'), getattr(v, 'dtype', type(v).__name__))
                                       for k, v in (feeds.items() if isinstance(feeds, dict) else [])})
            out = sess.run(feeds)
            print("outputs:", {k: (v.shape, v.dtype) for k, v in out.items()})
    except edgert.EdgeRTError as e:
        print(f"rejected: {type(e).__name__}: {e}")
    return 0


def atheris_main(args) -> int:
    """Coverage-guided fuzzing of edgert.load + run on raw bytes, seeded with the corpus."""
    try:
        import atheris
    except ImportError:
        print("fuzz: --engine atheris needs `pip install atheris`", file=sys.stderr)
        return 2
    with atheris.instrument_imports():
        import edgert
    seeds = Path(tempfile.mkdtemp(prefix="edgert-atheris-"))
    for i, (_, data) in enumerate(tflite_corpus() if args.target == "tflite" else corpus()):
        (seeds / f"seed{i}").write_bytes(data)

    def one(data: bytes) -> None:
        try:
            sess = edgert.load(data, threads=1, backend="edgert")
            feeds, _ = make_feeds(sess, np.random.default_rng(len(data)))
            sess.run(feeds)
        except edgert.EdgeRTError:
            pass

    if args.memory_mb > 0:
        limit = args.memory_mb << 20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    artifacts = Path(args.out) if args.out else seeds  # libFuzzer writes crash-* inputs here
    artifacts.mkdir(parents=True, exist_ok=True)
    print(f"fuzz: corpus and new inputs in {seeds}, failing inputs in {artifacts}", file=sys.stderr)
    argv = [sys.argv[0], str(seeds), f"-max_total_time={args.time}", f"-timeout={int(args.timeout)}",
            "-rss_limit_mb=0", f"-artifact_prefix={artifacts}{os.sep}"]
    atheris.Setup(argv, one)
    atheris.Fuzz()
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", type=int, default=1000, help="number of cases (default 1000)")
    p.add_argument("--start", type=int, default=0, help="first case index (default 0)")
    p.add_argument("--seed", type=int, default=0, help="campaign seed (default 0)")
    p.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--timeout", type=float, default=20.0, help="seconds per case before it counts as a hang")
    p.add_argument("--startup-timeout", type=float, default=600.0,
                   help="seconds a worker may take to import edgert (which may build it first)")
    p.add_argument("--memory-mb", type=int, default=3072,
                   help="address-space limit per worker in MiB (0: none; needed under ASan)")
    p.add_argument("--recycle", type=int, default=5000, help="restart a worker after this many cases")
    p.add_argument("--out", help="directory for reproducers and the workers' stderr log")
    p.add_argument("--summary", help="also write the summary to this file")
    p.add_argument("--json", metavar="FILE", help="write the counts and every bug/crash/hang site as JSON")
    p.add_argument("--force", action="store_true", help="write into a non-empty --out / over --summary, --json")
    p.add_argument("--progress", type=float, default=0, metavar="S", help="print progress every S seconds")
    p.add_argument("--repro", type=int, metavar="INDEX", help="run case INDEX here, with a traceback")
    p.add_argument("--save", metavar="FILE.onnx", help="with --repro: write the case's model to FILE")
    p.add_argument("--target", choices=TARGETS, default="onnx",
                   help="which importer the cases feed: onnx (default) or tflite (mutated .tflite files)")
    p.add_argument("--engine", choices=["cases", "atheris"], default="cases")
    p.add_argument("--time", type=int, default=600, help="seconds for --engine atheris")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.jobs < 1 or args.cases < 0 or args.timeout <= 0:
        p.error("--jobs must be >= 1, --cases >= 0 and --timeout > 0")
    if args.worker:
        return worker_main(args)
    if args.repro is not None:
        return repro(args)
    if args.engine == "atheris":
        return atheris_main(args)
    return campaign(args)


if __name__ == "__main__":
    sys.exit(main())
