"""Detection accuracy as COCO measures it (pycocotools: tools/test extras)."""
from __future__ import annotations

import contextlib
import io

import numpy as np

from edgert.errors import BackendUnavailableError


def detection_map(ground_truth: list[tuple[np.ndarray, np.ndarray]], predictions: list, num_classes: int,
                  image_size: tuple[int, int]) -> dict[str, float]:
    """mAP@0.5 and mAP@0.5:0.95 of per-image predictions.

    ground_truth[i] = (boxes [K, 4] x1 y1 x2 y2, labels [K]); predictions[i] = list of edgert.tasks.Detection
    (or (boxes, scores, class_ids) arrays)."""
    try:
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    except ImportError as e:
        raise BackendUnavailableError(f"mAP needs pycocotools ({e}); pip install pycocotools") from None
    height, width = image_size
    images, annotations, results = [], [], []
    for i, (boxes, labels) in enumerate(ground_truth):
        images.append({"id": i, "height": height, "width": width})
        for box, label in zip(np.asarray(boxes, np.float64).reshape(-1, 4), labels):
            w, h = box[2] - box[0], box[3] - box[1]
            annotations.append({"id": len(annotations) + 1, "image_id": i, "category_id": int(label),
                                "bbox": [box[0], box[1], w, h], "area": w * h, "iscrowd": 0})
        preds = predictions[i]
        if isinstance(preds, tuple):
            rows = zip(*preds)
        else:
            rows = ((d.box, d.score, d.class_id) for d in preds)
        for box, score, cls in rows:
            x1, y1, x2, y2 = (float(v) for v in box)
            results.append({"image_id": i, "category_id": int(cls), "bbox": [x1, y1, x2 - x1, y2 - y1],
                            "score": float(score)})
    gt = COCO()
    gt.dataset = {"images": images, "annotations": annotations,
                  "categories": [{"id": c, "name": str(c)} for c in range(num_classes)]}
    with contextlib.redirect_stdout(io.StringIO()):     # pycocotools prints its progress
        gt.createIndex()
        if not results:
            return {"map50": 0.0, "map50_95": 0.0}
        dt = gt.loadRes(results)
        ev = COCOeval(gt, dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {"map50": float(ev.stats[1]), "map50_95": float(ev.stats[0])}


def _iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(2)
    area_a = (a[:, 2:] - a[:, :2]).prod(1)
    area_b = (b[:, 2:] - b[:, :2]).prod(1)
    return inter / np.maximum(area_a[:, None] + area_b[None] - inter, 1e-9)


def same_box_set(a: list, b: list, iou_threshold: float = 0.9) -> bool:
    """Whether two detection lists (edgert.tasks.Detection) are the same set: equal size, and a one-to-one
    matching (greedy by IoU, same label) with IoU >= iou_threshold for every pair."""
    if len(a) != len(b):
        return False
    if not a:
        return True
    iou = _iou_matrix(np.array([d.box for d in a], np.float64), np.array([d.box for d in b], np.float64))
    same_label = np.array([[x.class_id == y.class_id for y in b] for x in a])
    iou = np.where(same_label, iou, 0.0)
    for _ in range(len(a)):
        i, j = np.unravel_index(np.argmax(iou), iou.shape)
        if iou[i, j] < iou_threshold:
            return False
        iou[i, :] = -1.0
        iou[:, j] = -1.0
    return True
