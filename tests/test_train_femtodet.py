"""tools/train_femtodet.py: target assignment, losses and determinism of the detector recipe."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytest.importorskip("skimage")
pytest.importorskip("pycocotools")

_SPEC = importlib.util.spec_from_file_location("train_femtodet", Path(__file__).parents[1] / "tools" / "train_femtodet.py")
train = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(train)


def test_targets_pick_central_priors_and_the_smaller_box():
    big = np.array([[0, 0, 96, 96]], np.float32)
    small = np.array([[32, 32, 64, 64]], np.float32)
    priors, positive, cls, box = train.build_targets(torch, [np.concatenate([big, small])], [np.array([3, 7])],
                                                     grid=6, stride=16, num_classes=10)
    pos = positive[0].nonzero().flatten().tolist()
    xy = {tuple(priors[p].tolist()) for p in pos}
    # priors within max(16, 0.3*side) of a centre and inside the box; (32..48, 32..48) are the small box's
    assert {(32.0, 32.0), (48.0, 48.0)} <= xy and (0.0, 0.0) not in xy
    for p in pos:
        x, y = priors[p].tolist()
        owner = 7 if 32 <= x < 64 and 32 <= y < 64 else 3
        assert cls[0, p].argmax().item() == owner
    assert positive.sum() > 0 and torch.isfinite(box[positive]).all()


def test_loss_is_finite_and_zero_iou_term_for_a_perfect_box():
    target = torch.tensor([[10.0, 20.0, 50.0, 40.0]])
    assert train.giou_loss(torch, target, target).abs().max() < 1e-6
    far = torch.tensor([[100.0, 100.0, 110.0, 110.0]])
    assert 1.0 < float(train.giou_loss(torch, far, target)) < 2.0


def test_recipe_is_deterministic_and_writes_a_complete_card(tmp_path):
    args = ["--train", "48", "--val", "8", "--epochs", "1", "--batch", "16", "--calib", "8", "--threads", "1",
            "--size", "128"]
    for run in ("a", "b"):
        assert train.main(["--out", str(tmp_path / run), *args]) == 0
    a, b = (json.loads((tmp_path / r / "femtodet_digits.json").read_text()) for r in ("a", "b"))
    assert a["metrics"] == b["metrics"] and a["recipe"]["seed"] == 0
    onnx_a = (tmp_path / "a" / "femtodet_digits.onnx").read_bytes()
    assert onnx_a == (tmp_path / "b" / "femtodet_digits.onnx").read_bytes()
    assert {"torch", "fp32_edgert", "int8_edgert", "int8_onnxruntime"} <= set(a["metrics"])
    card = (tmp_path / "a" / "femtodet_digits.md").read_text()
    assert "mAP@0.5" in card and "python tools/train_femtodet.py" in card
    with pytest.raises(train.EdgeRTError, match="--force"):
        train.main(["--out", str(tmp_path / "a"), *args])
