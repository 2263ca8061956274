"""The trained models that ship with edgert (the repository's `models/` folder, installed as
`edgert/models`): each is described by a JSON card next to its files.

    {"name": "femtodet_digits", "task": "detect", "labels": [...],
     "input": {"shape": [1, 3, 256, 256], "layout": "NCHW", "color": "RGB", "mean": [...], "std": [...]},
     "files": {"fp32": "femtodet_digits.onnx", "int8": "femtodet_digits_int8.onnx"},
     "metrics": {...}, "card": "femtodet_digits.md"}
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from edgert.errors import EdgeRTError, ModelLoadError

TASKS = ("detect", "classify", "vlm")


@dataclass(frozen=True)
class BundledModel:
    name: str
    task: str
    directory: Path
    files: dict[str, str]
    labels: tuple[str, ...] = ()
    input: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)      # task-specific fields of the card (e.g. decode)

    def path(self, precision: str | None = None) -> Path:
        """The file for `precision` ("int8", "fp32", ...); default int8 when shipped, else fp32."""
        if precision is None:
            precision = "int8" if "int8" in self.files else next(iter(self.files))
        if precision not in self.files:
            raise EdgeRTError(f"model {self.name!r} ships {', '.join(self.files)}, not {precision!r}")
        return self.directory / self.files[precision]

    def summary(self) -> dict:
        """What `edgert models --json` prints for this model."""
        return {"name": self.name, "task": self.task, "path": str(self.path()),
                "files": {k: str(self.directory / v) for k, v in self.files.items()},
                "input_shape": self.input.get("shape"), "labels": list(self.labels),
                "size_bytes": {k: (self.directory / v).stat().st_size for k, v in self.files.items()},
                "metrics": self.metrics}


def model_dirs() -> list[Path]:
    """Where bundled models are looked for: $EDGERT_MODELS, the installed package's models/, and the
    source checkout's models/ (editable installs)."""
    package = Path(__file__).resolve().parent.parent
    dirs = [Path(p) for p in os.environ.get("EDGERT_MODELS", "").split(os.pathsep) if p]
    dirs += [package / "models", package.parent / "models"]
    seen, out = set(), []
    for d in dirs:
        if d.is_dir() and d.resolve() not in seen:
            seen.add(d.resolve())
            out.append(d)
    return out


def _read_card(path: Path) -> BundledModel:
    try:
        card = json.loads(path.read_text())
        files = {str(k): str(v) for k, v in card["files"].items()}
        model = BundledModel(name=str(card["name"]), task=str(card["task"]), directory=path.parent, files=files,
                             labels=tuple(str(x) for x in card.get("labels", ())), input=dict(card.get("input", {})),
                             metrics=dict(card.get("metrics", {})),
                             extra={k: v for k, v in card.items()
                                    if k not in ("name", "task", "files", "labels", "input", "metrics")})
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise ModelLoadError(f"{path}: not a valid edgert model card ({e})") from None
    if model.task not in TASKS:
        raise ModelLoadError(f"{path}: task must be one of {TASKS}, got {model.task!r}")
    missing = [f for f in files.values() if not (path.parent / f).is_file()]
    if missing:
        raise ModelLoadError(f"{path}: files listed in the card are missing: {', '.join(missing)}")
    return model


def bundled_models(task: str | None = None) -> list[BundledModel]:
    """Every bundled model (first found wins for a name), optionally of one task."""
    found: dict[str, BundledModel] = {}
    for directory in model_dirs():
        for card in sorted(directory.glob("*.json")):
            model = _read_card(card)
            found.setdefault(model.name, model)
    return [m for m in found.values() if task is None or m.task == task]


def find_bundled(name: str, task: str) -> BundledModel:
    models = bundled_models()
    for model in models:
        if model.name == name:
            if model.task != task:
                raise EdgeRTError(f"model {name!r} is a {model.task} model, not {task}")
            return model
    names = ", ".join(m.name for m in models if m.task == task) or "none"
    raise EdgeRTError(f"no bundled {task} model named {name!r} (bundled: {names}); pass a path to a model file")


def default_model(task: str) -> BundledModel:
    models = bundled_models(task)
    if not models:
        raise EdgeRTError(f"no bundled {task} model found in {[str(d) for d in model_dirs()] or 'any models folder'}")
    return models[0]
