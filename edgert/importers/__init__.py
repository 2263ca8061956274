"""Model file -> IR. Importers read files and build a Graph; they do nothing else."""
from edgert.importers.onnx import import_onnx
from edgert.importers.tflite import import_tflite

__all__ = ["import_onnx", "import_tflite"]
