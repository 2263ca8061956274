"""Model file -> IR. Importers read files and build a Graph; they do nothing else."""
from edgert.importers.onnx import import_onnx

__all__ = ["import_onnx"]
