"""tools/train_lsnet.py: augmentation and determinism of the classifier recipe."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytest.importorskip("skimage")
pytest.importorskip("onnxruntime")

_SPEC = importlib.util.spec_from_file_location("train_lsnet", Path(__file__).parents[1] / "tools" / "train_lsnet.py")
train = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(train)


def test_augmented_crops_frame_each_digit_differently_each_draw():
    from edgert.zoo.scenes import SceneConfig, crop_squares, generate_split

    data = generate_split(0, "train", 6, SceneConfig())
    a = train.augmented_crops(np.random.default_rng(0), data, 64)
    b = train.augmented_crops(np.random.default_rng(1), data, 64)
    assert a.shape == (len(data["labels"]), 64, 64, 3) and a.dtype == np.uint8
    assert not np.array_equal(a, b)                       # a fresh margin and shift per draw
    assert np.array_equal(a, train.augmented_crops(np.random.default_rng(0), data, 64))
    # With no margin jitter and no shift the crop is crop_digits' view.
    i = int(data["image_index"][0])
    rows = data["image_index"] == i
    fixed = crop_squares(data["images"][i], data["boxes"][rows], 32, 0.2)
    assert np.array_equal(fixed, data["crops"][rows])


def test_recipe_is_deterministic_and_writes_a_complete_card(tmp_path):
    args = ["--train", "40", "--val", "8", "--epochs", "1", "--batch", "16", "--calib", "8", "--threads", "1"]
    for run in ("a", "b"):
        assert train.main(["--out", str(tmp_path / run), *args]) == 0
    a, b = (json.loads((tmp_path / r / "lsnet_digits.json").read_text()) for r in ("a", "b"))
    assert a["metrics"] == b["metrics"] and a["recipe"]["seed"] == 0 and a["task"] == "classify"
    for name in ("lsnet_digits.onnx", "lsnet_digits_portable.onnx"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert set(a["metrics"]["top1"]) == {"torch", "fp32_edgert", "fp32_portable_edgert", "fp32_portable_onnxruntime",
                                         "int8_edgert", "int8_onnxruntime"}
    # Every exported file gives the PyTorch model's predictions (int8: all but a few of 8 scenes' digits).
    top1 = a["metrics"]["top1"]
    assert top1["fp32_edgert"] == top1["fp32_portable_onnxruntime"] == top1["torch"]
    card = (tmp_path / "a" / "lsnet_digits.md").read_text()
    assert "top-1" in card and "python tools/train_lsnet.py" in card
    with pytest.raises(train.EdgeRTError, match="--force"):
        train.main(["--out", str(tmp_path / "a"), *args])
