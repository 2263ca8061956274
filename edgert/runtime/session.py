"""edgert's own Session: import -> optimize -> plan (per input-shape signature) -> run."""
from __future__ import annotations

import os
import threading
from collections import OrderedDict

import numpy as np

from edgert._ops import _kernels as K
from edgert.backends.base import SessionBase, resolve_threads
from edgert.errors import InputError, ModelLoadError, UnsupportedOperatorError
from edgert.importers import import_onnx
from edgert.ir import Graph
from edgert.ops import has_reference
from edgert.passes import optimize
from edgert.runtime.lower import lowering_for
from edgert.runtime.plan import Plan, Planner

# Plans are built per distinct input-shape signature; keep the most recent few.
MAX_PLANS = 8


def is_tflite(model) -> bool:
    """A .tflite path, or bytes carrying the TFLite flatbuffer identifier."""
    if isinstance(model, (bytes, bytearray, memoryview)):
        return bytes(model[4:8]) == b"TFL3"
    if isinstance(model, (str, os.PathLike)):
        return os.fspath(model).lower().endswith(".tflite")
    return False


def import_model(model) -> Graph:
    """ONNX (path, bytes, ModelProto) or TFLite (path, bytes) -> IR."""
    if is_tflite(model):
        from edgert.importers.tflite import import_tflite
        return import_tflite(model)
    return import_onnx(model)


def check_supported(graph: Graph) -> None:
    """Raise UnsupportedOperatorError at load for any op edgert cannot run at all."""
    for node in graph.nodes:
        if lowering_for(node) is None and not has_reference(node):
            domain = f" (domain '{node.domain}')" if node.domain else ""
            raise UnsupportedOperatorError(node.op_type + domain, node.name)


class Session(SessionBase):
    """Runs a model on edgert's kernels. run() may be called from several threads; calls are
    serialised per session (each plan owns one arena), and kernels release the GIL."""

    backend = "edgert"

    def __init__(self, model, threads=None):
        graph = import_model(model)
        self.source = graph.source
        self._inputs = list(graph.inputs)
        self._outputs = list(graph.outputs)
        self.opset = graph.opset
        optimize(graph)
        check_supported(graph)
        self._graph = graph
        self.threads = resolve_threads(threads)
        self._pool = K.ThreadPool(self.threads)
        self._weights: dict = {}  # packed weights, shared by every plan
        self._plans: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        static = self.static_input_shapes()
        if static is not None:  # plan (and pack weights) now, so errors surface at load
            self.plan_for(static)

    def static_input_shapes(self) -> list[tuple] | None:
        shapes = []
        for t in self._inputs:
            if t.shape is None or not all(isinstance(d, int) and d > 0 for d in t.shape):
                return None
            shapes.append(tuple(t.shape))
        return shapes

    def plan_for(self, shapes: list[tuple]) -> Plan:
        key = tuple(tuple(s) for s in shapes)
        plan = self._plans.get(key)
        if plan is None:
            planner = Planner(self._graph, {t.name: s for t, s in zip(self._inputs, key)}, self._pool, self._weights)
            try:
                plan = planner.plan()
            except (MemoryError, ValueError) as e:  # numpy: "Unable to allocate ..." / "array is too big"
                if isinstance(e, ValueError) and "too big" not in str(e) and "allocate" not in str(e):
                    raise
                raise ModelLoadError(f"{self.source}: input shapes {list(key)} need more memory than can be allocated ({e})") from None
            self._plans[key] = plan
            while len(self._plans) > MAX_PLANS:
                self._plans.popitem(last=False)
        else:
            self._plans.move_to_end(key)
        return plan

    def _run(self, arrays: list[np.ndarray]) -> dict[str, np.ndarray]:
        with self._lock:
            try:
                plan = self.plan_for([a.shape for a in arrays])
            except (UnsupportedOperatorError, ModelLoadError) as e:
                raise InputError(f"these input shapes cannot be planned: {e}") from None
            return plan.run(arrays)
