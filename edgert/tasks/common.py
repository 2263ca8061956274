"""What Detector and Classifier share: finding the model file and its preprocessing, opening a session."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgert.errors import EdgeRTError, InputError, ModelLoadError
from edgert.tasks.bundled import BundledModel, default_model, find_bundled
from edgert.tasks.image import check_image


@dataclass
class ModelSource:
    path: Path
    name: str
    labels: tuple[str, ...]
    preprocess: dict
    card: BundledModel | None = None


def _onnx_metadata(path: Path) -> dict[str, str]:
    if path.suffix.lower() != ".onnx":
        return {}
    import onnx

    try:
        proto = onnx.load(os.fspath(path), load_external_data=False)
    except Exception as e:  # onnx raises DecodeError, OSError, ... for a bad file
        raise ModelLoadError(f"{path}: cannot read the ONNX model ({e})") from None
    return {p.key: p.value for p in proto.metadata_props}


def resolve_model(name_or_path, task: str, precision: str | None) -> ModelSource:
    """A bundled model's name (or None for the task's default), or a path to an .onnx/.tflite file."""
    card = None
    if name_or_path is None:
        card = default_model(task)
    elif isinstance(name_or_path, (str, os.PathLike)) and Path(name_or_path).suffix.lower() in (".onnx", ".tflite"):
        path = Path(name_or_path)
        if not path.is_file():
            raise ModelLoadError(f"{path}: no such model file")
    elif isinstance(name_or_path, str):
        card = find_bundled(name_or_path, task)
    else:
        raise EdgeRTError(f"model must be a bundled model name or a path, got {type(name_or_path).__name__}")
    if card is not None:
        path = card.path(precision)
    elif precision is not None:
        raise EdgeRTError("precision= selects among a bundled model's files; a model path is used as it is")
    meta = _onnx_metadata(path)
    try:
        preprocess = json.loads(meta["edgert.preprocess"]) if "edgert.preprocess" in meta else {}
        labels = tuple(json.loads(meta["edgert.labels"])) if "edgert.labels" in meta else ()
    except ValueError as e:
        raise ModelLoadError(f"{path}: malformed edgert metadata ({e})") from None
    if card is not None:
        preprocess = {**preprocess, **card.input}
        labels = card.labels or labels
    return ModelSource(path, card.name if card else path.stem, tuple(str(x) for x in labels), preprocess, card)


def open_session(source: ModelSource, threads: int | None, backend: str):
    import edgert

    session = edgert.load(os.fspath(source.path), threads=threads, backend=backend)
    if len(session.inputs) != 1:
        raise ModelLoadError(f"{source.path}: expected one image input, the model has {len(session.inputs)}")
    shape = session.inputs[0].shape
    if len(shape) != 4 or shape[1] != 3:
        raise ModelLoadError(f"{source.path}: expected an NCHW image input with 3 channels, got shape {shape}")
    return session


def input_size(session, source: ModelSource) -> tuple[int, int]:
    """(H, W) of the model input: static dims of the graph, else the card's shape."""
    shape = session.inputs[0].shape
    if all(isinstance(d, int) and d > 0 for d in shape[2:]):
        return int(shape[2]), int(shape[3])
    card_shape = source.preprocess.get("shape")
    if card_shape and len(card_shape) == 4:
        return int(card_shape[2]), int(card_shape[3])
    raise ModelLoadError(f"{source.path}: the input has symbolic height/width {shape[2:]} and no size in its card")


def as_batch(images) -> tuple[list[np.ndarray], bool]:
    """One image or a list of images -> (list of checked images, whether a single one was given)."""
    if isinstance(images, np.ndarray) and images.ndim in (2, 3):
        return [check_image(images)], True
    if isinstance(images, (list, tuple)):
        if not images:
            raise InputError("expected an image or a non-empty list of images")
        return [check_image(im, f"image {i}") for i, im in enumerate(images)], False
    if isinstance(images, np.ndarray) and images.ndim == 4:
        return [check_image(im, f"image {i}") for i, im in enumerate(images)], False
    raise InputError(f"expected an (H, W, 3) image or a list of them, got "
                     f"{getattr(images, 'shape', type(images).__name__)}")


class ImageModel:
    """What every image task holds: the model source, its session, labels, input size and normalisation."""

    def __init__(self, source: ModelSource, session):
        self.source = source
        self.session = session
        self.name = source.name
        self.labels = source.labels
        self.size = input_size(session, source)
        pre = source.preprocess
        self.mean = pre.get("mean", (0.0, 0.0, 0.0))
        self.std = pre.get("std", (1.0, 1.0, 1.0))
        self.scale = float(pre.get("scale", 1 / 255))
        self.input_name = session.inputs[0].name
