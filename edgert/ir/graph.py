"""Graph, Node and tensor descriptions.

A Graph is a topologically ordered list of Nodes over named tensors. Constant tensors
(weights, folded values) live in `Graph.constants` as numpy arrays; everything else is
described by `TensorInfo` (dtype and a shape whose dims are ints, or None/str when
symbolic). Empty input names mark absent optional inputs, as in ONNX.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np


class TensorInfo(NamedTuple):
    """Public description of a model input or output."""

    name: str
    shape: tuple
    dtype: np.dtype


@dataclass
class Node:
    op_type: str
    name: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any] = field(default_factory=dict)
    domain: str = ""

    def attr(self, key: str, default: Any = None) -> Any:
        return self.attrs.get(key, default)

    def __repr__(self) -> str:
        return f"{self.op_type}('{self.name}': {self.inputs} -> {self.outputs})"


@dataclass
class Graph:
    nodes: list[Node]
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]
    constants: dict[str, np.ndarray]
    opset: int
    source: str = "<memory>"
    # (node, op_type, reason) for quantized (QDQ) groups left in fp32 by the QDQ pass.
    quant_report: list = field(default_factory=list)

    def consumers(self) -> dict[str, list[Node]]:
        users: dict[str, list[Node]] = {}
        for node in self.nodes:
            for name in node.inputs:
                if name:
                    users.setdefault(name, []).append(node)
        return users

    def producers(self) -> dict[str, Node]:
        return {out: node for node in self.nodes for out in node.outputs if out}

    @property
    def output_names(self) -> list[str]:
        return [t.name for t in self.outputs]

    def remove_dead_nodes(self) -> None:
        """Drop nodes none of whose outputs reach a graph output."""
        live = set(self.output_names)
        kept = []
        for node in reversed(self.nodes):
            if any(o in live for o in node.outputs):
                kept.append(node)
                live.update(i for i in node.inputs if i)
        self.nodes = kept[::-1]
        self.constants = {k: v for k, v in self.constants.items() if k in live}
