"""Image preparation shared by the task wrappers: colour order, letterbox and normalisation."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgert.errors import InputError

COLORS = ("bgr", "rgb")


def check_image(image, where: str = "image") -> np.ndarray:
    """A uint8 (or float in 0..255) H x W x 3 array, or H x W grayscale (expanded to 3 channels)."""
    if not isinstance(image, np.ndarray):
        raise InputError(f"{where}: expected a numpy array (H, W, 3), got {type(image).__name__}")
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (3, 4) or image.shape[0] < 1 or image.shape[1] < 1:
        raise InputError(f"{where}: expected an image of shape (H, W, 3), got {image.shape}")
    if image.dtype != np.uint8 and not np.issubdtype(image.dtype, np.floating):
        raise InputError(f"{where}: expected uint8 or float pixels, got {image.dtype}")
    if np.issubdtype(image.dtype, np.floating) and not np.isfinite(image).all():
        raise InputError(f"{where}: the image has NaN or infinite pixels")
    return image[:, :, :3]


def to_rgb(image: np.ndarray, color: str) -> np.ndarray:
    color = color.lower()
    if color not in COLORS:
        raise InputError(f"color must be one of {COLORS}, got {color!r}")
    return image[:, :, ::-1] if color == "bgr" else image


@dataclass(frozen=True)
class Letterbox:
    """How an image was fitted into the model input: resized by `scale`, padded at bottom/right."""
    scale: float
    height: int
    width: int

    def to_image(self, boxes: np.ndarray) -> np.ndarray:
        """Model-input x1 y1 x2 y2 boxes -> original image coordinates, clipped to the image."""
        out = boxes / self.scale
        out[:, 0::2] = np.clip(out[:, 0::2], 0, self.width)
        out[:, 1::2] = np.clip(out[:, 1::2], 0, self.height)
        return out


def letterbox(rgb: np.ndarray, size: tuple[int, int], pad_value: int) -> tuple[np.ndarray, Letterbox]:
    """Resize keeping the aspect ratio so the image fits (H, W), pad the rest with pad_value."""
    import cv2

    height, width = rgb.shape[:2]
    scale = min(size[0] / height, size[1] / width)
    new_h, new_w = max(1, round(height * scale)), max(1, round(width * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(np.ascontiguousarray(rgb), (new_w, new_h), interpolation=interp)
    canvas = np.full((size[0], size[1], 3), pad_value, resized.dtype)
    canvas[:new_h, :new_w] = resized
    return canvas, Letterbox(scale, height, width)


def normalize_nchw(images: np.ndarray, mean, std, scale: float = 1 / 255) -> np.ndarray:
    """[N, H, W, 3] pixels -> float32 [N, 3, H, W], (x * scale - mean) / std per channel."""
    x = images.astype(np.float32) * np.float32(scale)
    x -= np.asarray(mean, np.float32)
    x /= np.asarray(std, np.float32)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
