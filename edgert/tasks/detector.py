"""Object detection with a FemtoDet-style (YOLOX single level) model: letterbox, run, decode, NMS."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgert.errors import EdgeRTError, ModelLoadError
from edgert.tasks.common import ImageModel, as_batch, open_session, resolve_model
from edgert.tasks.image import letterbox, normalize_nchw, to_rgb

OUTPUTS = ("cls_score", "bbox_pred", "objectness")


@dataclass(frozen=True)
class Detection:
    box: tuple[float, float, float, float]   # x1, y1, x2, y2 in the original image's pixels
    score: float
    class_id: int
    label: str


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60, 60)))


def decode_yolox(cls: np.ndarray, box: np.ndarray, obj: np.ndarray, stride: int, score_threshold: float):
    """One image's head maps (cls [C, h, w], box [4, h, w], obj [1, h, w]) -> boxes x1 y1 x2 y2 in input
    pixels, scores and class ids of every (cell, class) scoring >= score_threshold. Priors sit at
    (i * stride, j * stride), as mmdet's YOLOX with offset 0."""
    num_classes, h, w = cls.shape
    scores = _sigmoid(cls.reshape(num_classes, -1)) * _sigmoid(obj.reshape(1, -1))    # [C, h*w]
    class_ids, cells = np.nonzero(scores >= score_threshold)
    if cells.size == 0:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64)
    deltas = box.reshape(4, -1)[:, cells]
    cx = (deltas[0] + cells % w) * stride
    cy = (deltas[1] + cells // w) * stride
    half_w = np.exp(np.clip(deltas[2], -10, 10)) * stride / 2
    half_h = np.exp(np.clip(deltas[3], -10, 10)) * stride / 2
    boxes = np.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], axis=1).astype(np.float32)
    return boxes, scores[class_ids, cells].astype(np.float32), class_ids.astype(np.int64)


def nms(boxes: np.ndarray, scores: np.ndarray, class_ids: np.ndarray, iou_threshold: float,
        max_detections: int) -> np.ndarray:
    """Indices kept by per-class NMS (OpenCV's), best score first."""
    if len(boxes) == 0:
        return np.zeros(0, np.int64)
    import cv2

    xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1)
    keep = cv2.dnn.NMSBoxesBatched(xywh.tolist(), scores.tolist(), class_ids.tolist(), 0.0, float(iou_threshold))
    keep = np.asarray(keep, np.int64).reshape(-1)
    keep = keep[np.argsort(-scores[keep], kind="stable")]
    return keep[:max_detections]


class Detector(ImageModel):
    """Boxes, labels and scores for images of any size.

        det = Detector.load()                      # the bundled digit detector (int8)
        for d in det(frame_bgr):                   # OpenCV's BGR by default; color="rgb" otherwise
            print(d.label, d.score, d.box)
    """

    def __init__(self, source, session, score_threshold: float, iou_threshold: float, max_detections: int):
        super().__init__(source, session)
        pre = source.preprocess
        self.pad_value = int(pre.get("pad_value", 114))
        self.stride = int(pre.get("stride", 16))
        self.score_threshold = score_threshold
        self.iou_threshold = iou_threshold
        self.max_detections = max_detections
        names = [o.name for o in session.outputs]
        if sorted(names) != sorted(OUTPUTS):
            raise ModelLoadError(f"{source.path}: a detector needs outputs {OUTPUTS}, the model has {names}")

    @classmethod
    def load(cls, name_or_path=None, *, threads: int | None = None, backend: str = "edgert",
             precision: str | None = None, score_threshold: float = 0.3, iou_threshold: float = 0.5,
             max_detections: int = 100) -> "Detector":
        """A bundled model's name (default: the first bundled detector) or an .onnx path exported by
        `edgert convert femtodet`. precision picks a bundled model's "int8" (default) or "fp32" file."""
        _check_threshold("score_threshold", score_threshold)
        _check_threshold("iou_threshold", iou_threshold)
        if int(max_detections) < 1:
            raise EdgeRTError(f"max_detections must be positive, got {max_detections}")
        source = resolve_model(name_or_path, "detect", precision)
        return cls(source, open_session(source, threads, backend), score_threshold, iou_threshold,
                   int(max_detections))

    def label(self, class_id: int) -> str:
        return self.labels[class_id] if 0 <= class_id < len(self.labels) else str(class_id)

    def __call__(self, images, *, color: str = "bgr", score_threshold: float | None = None,
                 iou_threshold: float | None = None):
        """One image -> list[Detection]; a list of images -> a list of those (run as one batch)."""
        batch, single = as_batch(images)
        score_threshold = self.score_threshold if score_threshold is None else score_threshold
        iou_threshold = self.iou_threshold if iou_threshold is None else iou_threshold
        _check_threshold("score_threshold", score_threshold)
        _check_threshold("iou_threshold", iou_threshold)
        fitted, boxes_maps = [], []
        for image in batch:
            canvas, fit = letterbox(to_rgb(image, color), self.size, self.pad_value)
            fitted.append(canvas)
            boxes_maps.append(fit)
        results = []
        # The graph's batch dim may be fixed at 1: run image by image then.
        batch_dim = self.session.inputs[0].shape[0]
        step = len(fitted) if not (isinstance(batch_dim, int) and batch_dim > 0) else batch_dim
        for start in range(0, len(fitted), step):
            chunk = np.stack(fitted[start:start + step])
            out = self.session.run({self.input_name: normalize_nchw(chunk, self.mean, self.std, self.scale)})
            for k in range(len(chunk)):
                results.append(self._detections(out["cls_score"][k], out["bbox_pred"][k], out["objectness"][k],
                                                boxes_maps[start + k], score_threshold, iou_threshold))
        return results[0] if single else results

    def _detections(self, cls, box, obj, fit, score_threshold, iou_threshold) -> list[Detection]:
        boxes, scores, class_ids = decode_yolox(cls, box, obj, self.stride, score_threshold)
        keep = nms(boxes, scores, class_ids, iou_threshold, self.max_detections)
        image_boxes = fit.to_image(boxes[keep])
        return [Detection(tuple(float(v) for v in b), float(scores[i]), int(class_ids[i]), self.label(int(class_ids[i])))
                for b, i in zip(image_boxes, keep)]


def _check_threshold(name: str, value) -> None:
    if not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
        raise EdgeRTError(f"{name} must be a number in [0, 1], got {value!r}")
