"""Image classification: centre crop, resize, normalise, run, softmax, top-k."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgert.errors import EdgeRTError, ModelLoadError
from edgert.tasks.common import ImageModel, as_batch, open_session, resolve_model
from edgert.tasks.image import normalize_nchw, to_rgb


@dataclass(frozen=True)
class Prediction:
    label: str
    score: float        # softmax probability
    class_id: int


def centre_square(height: int, width: int, fraction: float = 1.0) -> tuple[int, int, int, int]:
    """x1, y1, x2, y2 of the centred square covering `fraction` of the shorter side."""
    side = max(1, int(round(min(height, width) * fraction)))
    x1, y1 = (width - side) // 2, (height - side) // 2
    return x1, y1, x1 + side, y1 + side


class Classifier(ImageModel):
    """Top-k labels for images of any size: the centred square crop is resized to the model input.

        clf = Classifier.load()                    # the bundled digit classifier (int8)
        print(clf(frame_bgr, top_k=3))             # [Prediction(label, score, class_id), ...]
    """

    def __init__(self, source, session, top_k: int):
        super().__init__(source, session)
        self.top_k = top_k
        if len(session.outputs) != 1:
            raise ModelLoadError(f"{source.path}: a classifier has one output (logits), the model has "
                                 f"{[o.name for o in session.outputs]}")

    @classmethod
    def load(cls, name_or_path=None, *, threads: int | None = None, backend: str = "edgert",
             precision: str | None = None, top_k: int = 5) -> "Classifier":
        """A bundled model's name (default: the first bundled classifier) or an .onnx path (e.g. from
        `edgert convert lsnet_t`). precision picks a bundled model's "int8" (default) or "fp32" file."""
        _check_top_k(top_k)
        source = resolve_model(name_or_path, "classify", precision)
        return cls(source, open_session(source, threads, backend), int(top_k))

    def __call__(self, images, *, color: str = "bgr", top_k: int | None = None):
        """One image -> list[Prediction] (best first); a list of images -> a list of those."""
        import cv2

        batch, single = as_batch(images)
        top_k = self.top_k if top_k is None else top_k
        _check_top_k(top_k)
        height, width = self.size
        prepared = []
        for image in batch:
            x1, y1, x2, y2 = centre_square(*image.shape[:2])
            crop = np.ascontiguousarray(to_rgb(image, color)[y1:y2, x1:x2])
            interp = cv2.INTER_AREA if crop.shape[0] > height else cv2.INTER_LINEAR
            prepared.append(cv2.resize(crop, (width, height), interpolation=interp))
        batch_dim = self.session.inputs[0].shape[0]
        step = batch_dim if isinstance(batch_dim, int) and batch_dim > 0 else len(prepared)
        results = []
        for start in range(0, len(prepared), step):
            x = normalize_nchw(np.stack(prepared[start:start + step]), self.mean, self.std, self.scale)
            logits = self.session.run({self.input_name: x})[self.session.outputs[0].name]
            for row in logits.reshape(len(x), -1):
                results.append(self._top(row, top_k))
        return results[0] if single else results

    def _top(self, logits: np.ndarray, top_k: int) -> list[Prediction]:
        z = logits.astype(np.float64) - logits.max()
        probs = np.exp(z) / np.exp(z).sum()
        order = np.argsort(-probs, kind="stable")[:top_k]
        return [Prediction(self.labels[i] if i < len(self.labels) else str(i), float(probs[i]), int(i)) for i in order]


def _check_top_k(top_k) -> None:
    if not isinstance(top_k, int) or top_k < 1:
        raise EdgeRTError(f"top_k must be a positive integer, got {top_k!r}")
