"""edgert's intermediate representation: what every importer produces and every pass rewrites."""
from edgert.ir.graph import Graph, Node, TensorInfo

__all__ = ["Graph", "Node", "TensorInfo"]
