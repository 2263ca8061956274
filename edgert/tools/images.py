"""Image folders -> model input tensors, shared by the tools (calibration) and the demos.

Images are decoded with OpenCV (`cv2.imread`, which returns BGR), resized to the model's input
size, converted to RGB unless the model wants BGR, scaled to [0, 1], normalised per channel as
(x - mean) / std and laid out as NCHW or NHWC. OpenCV is an optional dependency: it is only
imported when an image is actually read.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgert.errors import BackendUnavailableError, InputError

# What cv2.imread decodes on every platform opencv-python ships for.
IMAGE_SUFFIXES = frozenset({".bmp", ".dib", ".jpg", ".jpeg", ".jpe", ".png", ".webp",
                            ".tif", ".tiff", ".pbm", ".pgm", ".ppm", ".pnm"})
LAYOUTS = ("nchw", "nhwc")


def _cv2():
    try:
        import cv2
    except ImportError:
        raise BackendUnavailableError(
            "reading images needs OpenCV, which is not installed (pip install 'edgert[quantize]' "
            "or pip install opencv-python-headless)") from None
    return cv2


def list_images(directory: str | os.PathLike) -> list[Path]:
    """The image files directly inside `directory`, sorted by name (a fixed, platform-independent order)."""
    folder = Path(directory)
    if not folder.exists():
        raise InputError(f"image folder {folder}: no such directory")
    if not folder.is_dir():
        raise InputError(f"image folder {folder}: not a directory")
    paths = sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()),
                   key=lambda p: p.name)
    if not paths:
        raise InputError(f"image folder {folder} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return paths


def read_image(path: str | os.PathLike, channels: int = 3) -> np.ndarray:
    """uint8 pixels as OpenCV decodes them: HxWx3 in BGR order for channels=3, HxW gray for channels=1."""
    cv2 = _cv2()
    if not os.path.isfile(path):
        raise InputError(f"cannot read image {path}: no such file")
    image = cv2.imread(os.fspath(path), cv2.IMREAD_COLOR if channels == 3 else cv2.IMREAD_GRAYSCALE)
    if image is None:  # imread reports nothing more specific
        raise InputError(f"cannot decode image {path} (unreadable, damaged, or not an image format OpenCV reads)")
    return image


def parse_size(text: str, argument: str = "--size") -> tuple[int, int]:
    """'HxW' (or a single 'S' for a square) -> (H, W)."""
    parts = text.lower().split("x")
    try:
        dims = tuple(int(p) for p in parts)
    except ValueError:
        dims = ()
    if len(dims) == 1:
        dims = dims * 2
    if len(dims) != 2 or min(dims) < 1:
        raise InputError(f"{argument} {text!r}: expected HxW with positive integers, e.g. 224x224")
    return dims


def parse_channel_values(text: str, argument: str) -> tuple[float, ...]:
    """'0.485,0.456,0.406' -> a tuple of floats, one per channel (or one for all channels)."""
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise InputError(f"{argument} {text!r}: expected comma-separated numbers, e.g. 0.485,0.456,0.406") from None
    if not all(np.isfinite(values)):
        raise InputError(f"{argument} {text!r}: values must be finite")
    return values


@dataclass(frozen=True)
class Preprocess:
    """How an image becomes one model input (without the batch dimension).

    size: (H, W) the image is resized to. mean/std: per channel in model channel order, applied
    after scaling to [0, 1]; one value applies to every channel. bgr: feed channels in OpenCV's
    BGR order instead of RGB.
    """

    size: tuple[int, int]
    channels: int = 3
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    layout: str = "nchw"
    bgr: bool = False

    def __post_init__(self):
        if self.channels not in (1, 3):
            raise InputError(f"images can feed 1 (gray) or 3 (colour) channels, not {self.channels}")
        if self.layout not in LAYOUTS:
            raise InputError(f"layout must be one of {LAYOUTS}, got {self.layout!r}")
        if len(self.size) != 2 or min(self.size) < 1:
            raise InputError(f"image size must be (H, W) with positive sides, got {self.size}")
        for label, values in (("mean", self.mean), ("std", self.std)):
            if len(values) not in (1, self.channels):
                raise InputError(f"{label} has {len(values)} values; the model input has "
                                 f"{self.channels} channel{'s' if self.channels > 1 else ''}")
        if min(self.std) <= 0:
            raise InputError(f"std values must be positive, got {self.std}")

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """uint8 image as read_image returns it -> float32 CHW (nchw) or HWC (nhwc)."""
        cv2 = _cv2()
        height, width = self.size
        if image.shape[:2] != (height, width):
            shrinking = image.shape[0] > height and image.shape[1] > width
            # INTER_AREA averages the pixels a shrunk output pixel covers (no aliasing).
            image = cv2.resize(image, (width, height),
                               interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
        if image.ndim == 2:
            image = image[:, :, None]
        elif not self.bgr:
            image = image[:, :, ::-1]
        x = image.astype(np.float32) * np.float32(1 / 255)
        x -= np.asarray(self.mean, np.float32)
        x /= np.asarray(self.std, np.float32)
        if self.layout == "nchw":
            x = x.transpose(2, 0, 1)
        return np.ascontiguousarray(x)

    def load(self, path: str | os.PathLike) -> np.ndarray:
        return self(read_image(path, self.channels))

    def batch(self, paths) -> np.ndarray:
        """Images stacked along a new leading batch dimension."""
        return np.stack([self.load(p) for p in paths])
