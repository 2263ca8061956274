"""Model names -> files: `edgert bench lsnet_t` finds lsnet_t.onnx / lsnet_t.tflite in the models
directories, so one name covers every format a model ships in."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import edgert
from edgert.errors import ModelLoadError

MODEL_FORMATS = {".onnx": "onnx", ".tflite": "tflite"}
# The file format each backend loads.
BACKEND_FORMAT = {"edgert": "onnx", "onnxruntime": "onnx", "litert": "tflite"}


@dataclass
class ModelSpec:
    name: str
    files: dict[str, Path] = field(default_factory=dict)  # format -> file

    def file_for(self, backend: str) -> Path | None:
        return self.files.get(BACKEND_FORMAT[backend])


def model_dirs() -> list[Path]:
    """Where names are looked up, first match wins: $EDGERT_MODELS (os.pathsep-separated), the
    installed package's edgert/models, and models/ of a source checkout edgert runs from."""
    package = Path(edgert.__file__).resolve().parent
    dirs = [Path(p) for p in os.environ.get("EDGERT_MODELS", "").split(os.pathsep) if p]
    dirs.append(package / "models")
    if (package.parent / "pyproject.toml").is_file():
        dirs.append(package.parent / "models")
    return dirs


def bundled_models() -> dict[str, ModelSpec]:
    found: dict[str, ModelSpec] = {}
    for directory in model_dirs():
        if not directory.is_dir():
            continue
        for path in sorted(directory.iterdir()):
            fmt = MODEL_FORMATS.get(path.suffix.lower())
            if fmt and path.is_file():
                spec = found.setdefault(path.stem, ModelSpec(path.stem))
                spec.files.setdefault(fmt, path)
    return found


def resolve_model(text: str) -> ModelSpec:
    """A model file path, or a bundled name; ModelLoadError says what exists otherwise."""
    path = Path(text)
    if path.is_file():
        fmt = MODEL_FORMATS.get(path.suffix.lower())
        if fmt is None:
            raise ModelLoadError(f"{text}: unknown model format; edgert bench loads {', '.join(MODEL_FORMATS)} files")
        return ModelSpec(path.stem, {fmt: path})
    bundled = bundled_models()
    if text in bundled:
        return bundled[text]
    if path.suffix.lower() in MODEL_FORMATS or os.sep in text:
        raise ModelLoadError(f"{text}: no such model file")
    looked = ", ".join(str(d) for d in model_dirs())
    names = ", ".join(sorted(bundled)) if bundled else "none are installed yet"
    raise ModelLoadError(f"unknown model {text!r}: not a file and not a bundled model "
                         f"(bundled models: {names}; looked in {looked})")
