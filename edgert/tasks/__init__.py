"""Ready-to-use tasks on top of edgert.load: detection, classification, and the bundled models.

    from edgert.tasks import Detector, Classifier
    det = Detector.load()                 # bundled digit detector; or a path to an exported FemtoDet .onnx
    boxes = det(frame)                    # list[Detection(box, score, class_id, label)], original pixels
"""
from __future__ import annotations

from edgert.tasks.bundled import BundledModel, bundled_models
from edgert.tasks.classifier import Classifier, Prediction
from edgert.tasks.detector import Detection, Detector

__all__ = ["BundledModel", "Classifier", "Detection", "Detector", "Prediction", "bundled_models"]
