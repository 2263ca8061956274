"""Ready-to-use tasks on top of edgert.load: detection, classification, and the bundled models.

    from edgert.tasks import Detector, Classifier
    det = Detector.load()                 # bundled digit detector; or a path to an exported FemtoDet .onnx
    boxes = det(frame)                    # list[Detection(box, score, class_id, label)], original pixels
    vlm = VLM.load()                      # bundled tiny VLM: vlm.generate(image, stream=True)
"""
from __future__ import annotations

from edgert.tasks.bundled import BundledModel, bundled_models
from edgert.tasks.classifier import Classifier, Prediction
from edgert.tasks.detector import Detection, Detector
from edgert.tasks.vlm import VLM, VLMResult

__all__ = ["BundledModel", "Classifier", "Detection", "Detector", "Prediction", "VLM", "VLMResult", "bundled_models"]
