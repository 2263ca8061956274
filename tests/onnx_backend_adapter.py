"""onnx.backend.base adapter over edgert.load, so onnx.backend.test.BackendTest can drive edgert."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper
from onnx.backend.base import Backend, BackendRep

# Operand positions each op reads at run time; any other operand that arrives as a graph input is
# frozen into an initialiser before loading. The ONNX node cases feed weights, shapes, axes, pads,
# scales and clip bounds as inputs, where exported models carry them as initialisers or Constants;
# edgert packs weights and infers shapes at load, so it needs them constant like a real model has.
ALL = None
RUNTIME_OPERANDS: dict[str, tuple[int, ...] | None] = {
    "Add": ALL, "Sub": ALL, "Mul": ALL, "Div": ALL, "Sum": ALL, "Concat": ALL, "MatMul": ALL,
    # Claimed only where they fold at load, so every operand is made constant.
    "Gather": (), "Range": (), "Mod": (), "ConstantOfShape": (), "Cast": (), "Expand": (),
}
DEFAULT_RUNTIME_OPERANDS = (0,)


def _is_runtime_operand(node: onnx.NodeProto, position: int) -> bool:
    positions = RUNTIME_OPERANDS.get(node.op_type, DEFAULT_RUNTIME_OPERANDS)
    return positions is ALL or position in positions


def frozen_inputs(model: onnx.ModelProto) -> set[str]:
    """Graph inputs that only ever feed non-runtime operands."""
    uses: dict[str, list[bool]] = {}
    for node in model.graph.node:
        for position, name in enumerate(node.input):
            uses.setdefault(name, []).append(_is_runtime_operand(node, position))
    inits = {i.name for i in model.graph.initializer}
    return {vi.name for vi in model.graph.input
            if vi.name not in inits and vi.name in uses and not any(uses[vi.name])}


def freeze(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> tuple[onnx.ModelProto, dict]:
    names = frozen_inputs(model)
    if not names:
        return model, feeds
    model = onnx.ModelProto.FromString(model.SerializeToString())
    model.graph.initializer.extend(numpy_helper.from_array(np.asarray(feeds[n]), n) for n in names)
    if model.ir_version >= 4:  # before IR 4 every initialiser must also be listed as an input
        kept = [vi for vi in model.graph.input if vi.name not in names]
        del model.graph.input[:]
        model.graph.input.extend(kept)
    return model, {k: v for k, v in feeds.items() if k not in names}


class EdgeRTRep(BackendRep):
    def __init__(self, model: onnx.ModelProto):
        self._model = model
        inits = {i.name for i in model.graph.initializer}
        self._input_names = [vi.name for vi in model.graph.input if vi.name not in inits]

    def run(self, inputs, **kwargs):
        import edgert

        feeds = dict(inputs) if isinstance(inputs, dict) else dict(zip(self._input_names, inputs))
        # Loading waits for run(): frozen operands take their values from the test's inputs.
        model, feeds = freeze(self._model, feeds)
        outputs = edgert.load(model, backend="edgert").run(feeds)
        return tuple(outputs[o.name] for o in model.graph.output)


class EdgeRTBackend(Backend):
    @classmethod
    def prepare(cls, model: onnx.ModelProto, device: str = "CPU", **kwargs) -> EdgeRTRep:
        super().prepare(model, device)  # onnx.checker; kwargs carry the runner's rtol/atol, not ours
        return EdgeRTRep(model)

    @classmethod
    def supports_device(cls, device: str) -> bool:
        return device == "CPU"
