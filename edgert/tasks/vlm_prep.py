"""Image and prompt formatting shared by edgert.tasks.VLM and the recipe that trains it (tools/train_vlm.py),
so training and inference see exactly the same inputs."""
from __future__ import annotations

import numpy as np

from edgert.errors import InputError

IMAGE_SIZE = 64                  # encoder input side (pixels)
MEAN = (0.5, 0.5, 0.5)
STD = (0.25, 0.25, 0.25)
SPECIAL_TOKENS = ("<pad>", "<bos>", "<eos>", "<sep>")   # ids 0..3
PAD, BOS, EOS, SEP = range(4)


def check_image(image, name: str = "image") -> np.ndarray:
    """An (H, W, 3) uint8 (or float in [0, 255]) ndarray, or raises InputError saying what is wrong."""
    if not isinstance(image, np.ndarray):
        raise InputError(f"{name} must be a numpy ndarray (H, W, 3), got {type(image).__name__}")
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise InputError(f"{name} must have shape (H, W, 3), got {image.shape}")
    if image.shape[0] < 8 or image.shape[1] < 8:
        raise InputError(f"{name} is {image.shape[1]}x{image.shape[0]} pixels; at least 8x8 is needed")
    if image.dtype != np.uint8:
        if not np.issubdtype(image.dtype, np.number) or image.dtype == np.bool_:
            raise InputError(f"{name} must hold numbers (uint8 pixels), got dtype {image.dtype}")
        if not np.all(np.isfinite(image)):
            raise InputError(f"{name} holds NaN or Inf values")
        image = np.clip(image, 0, 255).astype(np.uint8)
    return image[:, :, :3]


def preprocess(image: np.ndarray, color: str = "RGB", size: int = IMAGE_SIZE) -> np.ndarray:
    """Any-size (H, W, 3) image -> float32 (1, 3, size, size) encoder input (area resize, RGB,
    (x / 255 - mean) / std)."""
    import cv2

    if color not in ("RGB", "BGR"):
        raise InputError(f"color must be 'RGB' or 'BGR', got {color!r}")
    image = check_image(image)
    if color == "BGR":
        image = image[:, :, ::-1]
    if image.shape[:2] != (size, size):
        image = cv2.resize(np.ascontiguousarray(image), (size, size), interpolation=cv2.INTER_AREA)
    x = image.astype(np.float32) / np.float32(255.0)
    x = (x - np.asarray(MEAN, np.float32)) / np.asarray(STD, np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


def prompt_ids(tokenizer, prompt: str) -> list:
    """Token ids that follow the image tokens: <bos> prompt <sep>; the answer comes after."""
    ids = list(tokenizer.encode(prompt).ids) if prompt else []
    return [BOS] + ids + [SEP]
