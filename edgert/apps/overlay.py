"""Drawing results onto BGR frames (OpenCV): boxes with labels, a classification banner, a status line."""
from __future__ import annotations

import numpy as np

# Distinct BGR colours, one per class id (cycled).
PALETTE = ((56, 56, 255), (151, 157, 255), (31, 112, 255), (29, 178, 255), (49, 210, 207), (10, 249, 72),
           (23, 204, 146), (134, 219, 61), (52, 147, 26), (187, 212, 0), (168, 153, 44), (255, 194, 0),
           (147, 69, 52), (255, 115, 100), (236, 24, 0), (255, 56, 132), (133, 0, 82), (255, 56, 203))


def _text(image, text: str, origin: tuple[int, int], color, scale: float = 0.5, background=(0, 0, 0)) -> None:
    """Text on a filled box so it reads on any background."""
    import cv2

    (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    x, y = origin
    y = max(y, h + base)
    cv2.rectangle(image, (x, y - h - base), (x + w + 2, y + base - 1), background, -1)
    cv2.putText(image, text, (x + 1, y - 1), cv2.FONT_HERSHEY_SIMPLEX, scale, color, 1, cv2.LINE_AA)


def draw_detections(image: np.ndarray, detections) -> np.ndarray:
    """Boxes and 'label score' tags of edgert.tasks.Detection items, in place; returns the image."""
    import cv2

    thickness = max(1, round(min(image.shape[:2]) / 240))
    for d in detections:
        color = PALETTE[d.class_id % len(PALETTE)]
        x1, y1, x2, y2 = (int(round(v)) for v in d.box)
        cv2.rectangle(image, (x1, y1), (x2, y2), color, thickness)
        _text(image, f"{d.label} {d.score:.2f}", (x1, y1 - 2), (255, 255, 255), background=color)
    return image


def draw_classification(image: np.ndarray, predictions, region: tuple[int, int, int, int]) -> np.ndarray:
    """The classified region and its top predictions, in place."""
    import cv2

    x1, y1, x2, y2 = region
    cv2.rectangle(image, (x1, y1), (x2 - 1, y2 - 1), (255, 255, 255), 1)
    for rank, p in enumerate(predictions[:3]):
        _text(image, f"{p.label} {p.score:.2f}", (x1 + 2, y1 + 18 * (rank + 1)),
              (255, 255, 255), background=PALETTE[p.class_id % len(PALETTE)])
    return image


def draw_status(image: np.ndarray, fps: float, latency_ms: float, extra: str = "") -> np.ndarray:
    """'FPS 12.3 | 21.4 ms' (and extra) at the top left, in place."""
    text = f"FPS {fps:4.1f} | {latency_ms:5.1f} ms" + (f" | {extra}" if extra else "")
    _text(image, text, (4, 4), (0, 255, 0))
    return image


def draw_caption(image: np.ndarray, caption: str) -> np.ndarray:
    """A caption along the bottom edge, in place."""
    _text(image, caption, (4, image.shape[0] - 6), (255, 255, 255))
    return image
