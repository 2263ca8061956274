"""Writes the networks docs/benchmarks.md measures (fp32, 224x224, seeded, from tests/model_zoo.py)
into a directory, so the documented numbers can be reproduced without shipping .onnx files.

    python benchmarks/make_models.py /tmp/edgert-models
"""
from __future__ import annotations

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))
import model_zoo  # noqa: E402

MODELS = {
    "mobilenet_v2": lambda: model_zoo.mobilenet_v2(size=224),
    "mobilenet_v3": lambda: model_zoo.mobilenet_v3(size=224),
    "resnet18": lambda: model_zoo.resnet(size=224),
}


def write_models(directory) -> list[pathlib.Path]:
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, build in MODELS.items():
        path = directory / f"{name}.onnx"
        path.write_bytes(build().SerializeToString())
        paths.append(path)
    return paths


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    for path in write_models(sys.argv[1]):
        print(path)
