"""The planner: IR + concrete input shapes -> a Plan (steps over one arena).

Planning walks the graph once. Nodes whose inputs are all known at plan time are folded
(Shape of a planned tensor included), heavy operators are lowered to native steps on
NHWC data, the rest run their numpy reference on zero-copy ONNX-order views. Layout
conversions are inserted only where a consumer needs the other layout, and each tensor
is converted at most once. Buffers then get arena offsets by greedy-by-size placement
over their live ranges, so tensors whose lifetimes do not overlap share memory.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from edgert._ops import _kernels as K
from edgert.errors import EdgeRTError, OperatorArgumentError, UnsupportedOperatorError
from edgert.ir import Graph, Node
from edgert.ops import has_reference, run_reference
from edgert.ops.checks import check_node
from edgert.runtime.values import NHWC, PLAIN, TO_NCHW, TO_NHWC, Buffer, Value, logical, physical_view

ALIGN = 64

# Folding a node whose output would be huge wastes load time and memory (e.g. ConstantOfShape
# of an activation-sized tensor feeding an Add): such nodes run at inference instead.
MAX_FOLD_ELEMENTS = 1 << 20


@dataclass(eq=False)
class StepSpec:
    label: str                       # op name shown by `edgert info` / profiles
    node: str                        # IR node it came from ("" for conversions)
    reads: list[Value]
    writes: list[Value]
    build: Callable[[dict], Callable[[], None]]  # physical views -> zero-arg runner
    native: bool = True
    macs: int = 0


def epilogue(node: Node, array: np.ndarray) -> np.ndarray:
    """What load-time fusion moved into a node: a bias (MatMul+Add) and an output clamp."""
    bias = node.attr("edgert_bias")
    if bias is not None:
        array = array + bias
    clamp = node.attr("edgert_clamp")
    if clamp is not None:
        array = np.clip(array, clamp[0], clamp[1])
    return array


class Planner:
    def __init__(self, graph: Graph, input_shapes: dict[str, tuple], pool, weights: dict):
        self.graph, self.pool, self.weights = graph, pool, weights
        self.opset = graph.opset
        self.values: dict[str, Value] = {}
        self.steps: list[StepSpec] = []
        self._converted: dict[tuple[int, str], Value] = {}
        self.inputs: list[Value] = []
        for info in graph.inputs:
            self.inputs.append(self.new_value(info.name, tuple(input_shapes[info.name]), info.dtype))
        for name, array in graph.constants.items():
            self.values[name] = Value(name, array.shape, array.dtype, const=array)

    # -------------------------------------------------------------- values

    def new_value(self, name: str, shape: tuple, dtype, layout: str = PLAIN) -> Value:
        v = Value(name, tuple(int(d) for d in shape), np.dtype(dtype), layout=layout)
        v.buffer = Buffer(max(v.size * v.dtype.itemsize, 1))
        v.buffer.members.append(v)
        self.values[name] = v
        return v

    def alias(self, name: str, src: Value, shape: tuple) -> Value:
        """A plain value that reinterprets src's bytes (Reshape, Flatten, Squeeze...)."""
        v = Value(name, tuple(int(d) for d in shape), src.dtype, layout=PLAIN, buffer=src.buffer)
        src.buffer.members.append(v)
        self.values[name] = v
        return v

    def constant(self, name: str, array: np.ndarray) -> Value:
        v = Value(name, array.shape, array.dtype, const=array)
        self.values[name] = v
        return v

    def as_layout(self, v: Value, layout: str) -> Value:
        """v in the requested physical layout, converting (once per tensor) when needed."""
        if v.is_const or v.layout == layout:
            return v
        key = (id(v), layout)
        if key in self._converted:
            return self._converted[key]
        if v.spatially_trivial:  # same bytes either way: a free reinterpretation
            w = Value(f"{v.name}:{layout}", v.shape, v.dtype, layout=layout, buffer=v.buffer)
            v.buffer.members.append(w)
            self._converted[key] = w
            return w
        if len(v.shape) != 4:
            raise EdgeRTError(f"internal: cannot convert rank-{len(v.shape)} '{v.name}' to {layout}")
        w = self.new_value(f"{v.name}:{layout}", v.shape, v.dtype, layout)
        n, c, h, wd = v.shape
        rows, cols = (c, h * wd) if layout == NHWC else (h * wd, c)

        native = v.dtype.itemsize in (1, 4)

        def build(views, src=v, dst=w):
            if native:
                return K.Transpose2d(self.pool, views[src], views[dst], n, rows, cols)
            s, d, perm = views[src], views[dst], (TO_NHWC if layout == NHWC else TO_NCHW)
            return lambda: np.copyto(d, s.transpose(perm))

        self.emit(StepSpec(f"to_{layout}", "", [v], [w], build, native=native))
        self._converted[key] = w
        return w

    def emit(self, step: StepSpec) -> None:
        self.steps.append(step)

    # -------------------------------------------------------------- graph walk

    def plan(self) -> "Plan":
        from edgert.runtime.lower import lowering_for  # lower.py builds on this module

        for node in self.graph.nodes:
            ins = [self.values[i] if i else None for i in node.inputs]
            check_node(node, ins, self.opset)
            if self._fold(node, ins):
                continue
            lower = lowering_for(node)
            outs = lower(self, node, ins) if lower is not None else None
            if outs is None:  # no native path for this configuration: run the reference
                outs = self.reference_step(node, ins)
            for name, v in zip(node.outputs, outs):
                if name:
                    self.values[name] = v
        return Plan(self)

    def _fold(self, node: Node, ins: list) -> bool:
        if not has_reference(node):
            return False
        if node.op_type in ("Shape", "Size") and ins[0] is not None:
            dummy = np.empty(ins[0].shape, dtype=np.uint8)  # only the shape is read
            outs = run_reference(node, [dummy], self.opset)
        elif all(v is None or v.is_const for v in ins):
            outs = run_reference(node, [None if v is None else v.const for v in ins], self.opset)
            largest_in = max((v.size for v in ins if v is not None), default=0)
            if any(o.size > MAX_FOLD_ELEMENTS and o.size > 2 * largest_in for o in outs):
                return False
            outs = [epilogue(node, o) for o in outs]
        else:
            return False
        for name, o in zip(node.outputs, outs):
            if name:
                self.constant(name, o if o.flags.c_contiguous else o.copy())
        return True


    def reference_step(self, node: Node, ins: list) -> list[Value]:
        """Run the numpy reference at inference time, on ONNX-order views of the inputs."""
        if not has_reference(node):
            raise UnsupportedOperatorError(node.op_type, node.name)
        # Shapes and dtypes: run once on zeros of the right shapes (cheap for these ops).
        probe = [None if v is None else (v.const if v.is_const else np.zeros(v.shape, v.dtype)) for v in ins]
        try:
            results = run_reference(node, probe, self.opset)
        except (UnsupportedOperatorError, OperatorArgumentError):
            raise
        except Exception as e:
            raise UnsupportedOperatorError(node.op_type, node.name, f"cannot evaluate: {e}") from None
        wanted = len([o for o in node.outputs if o])
        if len(results) < len(node.outputs) and wanted > len(results):
            raise UnsupportedOperatorError(node.op_type, node.name, f"{wanted} outputs requested, {len(results)} supported")
        keep_nhwc = _prefers_nhwc(node, ins, results)
        outs = []
        for name, r in zip(node.outputs, results):
            layout = NHWC if keep_nhwc and r.ndim == 4 else PLAIN
            outs.append(self.new_value(name or f"{node.name}:unused", r.shape, r.dtype, layout))
        runtime_ins = [v for v in ins if v is not None and not v.is_const]
        opset = self.opset

        def build(views, node=node, ins=ins, outs=outs):
            args = [None if v is None else (v.const if v.is_const else logical(views[v], v)) for v in ins]
            dests = [logical(views[o], o) for o in outs]

            def run():
                for d, r in zip(dests, run_reference(node, args, opset)):
                    np.copyto(d, epilogue(node, r), casting="unsafe")

            return run

        self.emit(StepSpec(node.op_type, node.name, runtime_ins, outs, build, native=False))
        return outs


# Reference-run ops that keep a rank-4 NHWC input in NHWC (avoiding two conversions).
_LAYOUT_TRANSPARENT = {
    "Concat", "Split", "Slice", "Resize", "Upsample", "Pad", "Softmax", "LogSoftmax",
    "InstanceNormalization", "GroupNormalization", "BatchNormalization", "ReduceMean",
    "ReduceSum", "ReduceMax", "ReduceMin", "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min",
    "Sum", "Mean", "Where", "Relu", "Clip", "Sigmoid", "Tanh", "Erf", "Sqrt", "Exp", "Neg",
    "Abs", "HardSigmoid", "HardSwish", "LeakyRelu", "Elu", "PRelu", "Gelu", "Identity",
    "Dropout", "Reciprocal", "Softplus", "Swish", "Floor", "Ceil", "Round",
}


def _prefers_nhwc(node: Node, ins: list, results: list) -> bool:
    if node.op_type not in _LAYOUT_TRANSPARENT:
        return False
    return any(v is not None and not v.is_const and v.layout == NHWC for v in ins)


class Plan:
    """Steps bound to one arena for one set of input shapes. Not thread-safe: the Session
    serialises run() per plan."""

    def __init__(self, planner: Planner):
        steps = planner.steps
        self.steps = steps
        self.inputs = planner.inputs
        graph = planner.graph
        self.outputs = [planner.values[name] for name in graph.output_names]
        buffers = self._buffers(planner)
        end = len(steps)
        for v in self.inputs:
            v.buffer.touch(0)
        for i, step in enumerate(steps):
            for v in step.reads + step.writes:
                if v.buffer is not None:
                    v.buffer.touch(i)
        for v in self.outputs:
            if v.buffer is not None:
                v.buffer.touch(end)
        self.arena_bytes = _place(buffers)
        self.naive_bytes = sum(b.nbytes for b in buffers)
        self.arena = np.empty(self.arena_bytes + ALIGN, dtype=np.uint8)
        shift = (-self.arena.ctypes.data) % ALIGN
        arena = self.arena[shift:]
        views = {}
        for b in buffers:
            for v in b.members:
                views[v] = physical_view(arena, v)
        self._input_views = [(v, views[v]) for v in self.inputs]
        self._output_views = [
            (v.name, v.const if v.is_const else logical(views[v], v)) for v in self.outputs
        ]
        self.calls = [s.build(views) for s in steps]
        for s in steps:  # build closures hold the Planner: drop them so a Plan frees without gc
            s.build = None

    @staticmethod
    def _buffers(planner: Planner) -> list[Buffer]:
        """Every buffer once (aliases and free layout reinterpretations share their source's)."""
        unique = {id(v.buffer): v.buffer for v in planner.values.values() if v.buffer is not None}
        return list(unique.values())

    def run(self, feeds: list[np.ndarray]) -> dict[str, np.ndarray]:
        for (value, view), array in zip(self._input_views, feeds):
            np.copyto(view, array)
        for call in self.calls:
            call()
        return {name: np.array(view) for name, view in self._output_views}

    def step_times(self, feeds: list[np.ndarray]) -> list[float]:
        """Seconds each step takes in one run (for profiles; run() has no timing overhead)."""
        for (value, view), array in zip(self._input_views, feeds):
            np.copyto(view, array)
        times = []
        for call in self.calls:
            t0 = time.perf_counter()
            call()
            times.append(time.perf_counter() - t0)
        return times


def _place(buffers: list[Buffer]) -> int:
    """Greedy-by-size offset assignment over live ranges; returns the arena size."""
    placed: list[Buffer] = []
    total = 0
    for b in sorted(buffers, key=lambda b: -b.nbytes):
        if b.first_use < 0:  # never touched (dead output of a multi-output node)
            b.first_use = b.last_use = 0
        size = -(-b.nbytes // ALIGN) * ALIGN
        live = sorted(
            (p for p in placed if p.first_use <= b.last_use and b.first_use <= p.last_use),
            key=lambda p: p.offset,
        )
        offset = 0
        for p in live:
            p_size = -(-p.nbytes // ALIGN) * ALIGN
            if offset + size <= p.offset:
                break
            offset = max(offset, p.offset + p_size)
        b.offset = offset
        placed.append(b)
        total = max(total, offset + size)
    return total
