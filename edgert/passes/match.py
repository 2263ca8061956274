"""Pattern-matching helpers shared by the load-time rewrites (fuse.py, gnconv.py)."""
from __future__ import annotations

import numpy as np

from edgert.ir import Graph, Node

# Domain of the fused operators these passes create.
EDGERT_DOMAIN = "ai.edgert"


def single_consumer(graph: Graph, name: str, users) -> Node | None:
    """The only node reading `name`, when it is not also a graph output."""
    readers = users.get(name, [])
    if len(readers) != 1 or name in graph.output_names:
        return None
    return readers[0]


def is_op(node: Node, *op_types: str) -> bool:
    """node is one of the standard ONNX operators op_types (not a same-named op of another domain)."""
    return node.domain == "" and node.op_type in op_types


def const_value(graph: Graph, name: str):
    return graph.constants.get(name) if name else None


def is_depthwise(graph: Graph, node: Node) -> bool:
    w = const_value(graph, node.inputs[1]) if is_op(node, "Conv") and len(node.inputs) > 1 else None
    return (w is not None and w.ndim == 4 and w.shape[1] == 1 and node.attr("group", 1) == w.shape[0]
            and w.dtype == np.float32)


def is_pointwise(graph: Graph, node: Node) -> bool:
    w = const_value(graph, node.inputs[1]) if is_op(node, "Conv") and len(node.inputs) > 1 else None
    return (w is not None and w.ndim == 4 and w.shape[2:] == (1, 1) and node.attr("group", 1) == 1
            and w.dtype == np.float32 and all(v == 1 for v in node.attr("strides", [1, 1]))
            and not any(node.attr("pads", [0, 0, 0, 0])) and node.attr("auto_pad", "NOTSET") in ("NOTSET", "VALID")
            and (len(node.inputs) < 3 or not node.inputs[2] or const_value(graph, node.inputs[2]) is not None))
