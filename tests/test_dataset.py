"""Synthetic digit scenes (edgert.zoo.scenes) and tools/make_dataset.py."""
from __future__ import annotations

import importlib.util
import json
import pathlib
import re

import numpy as np
import pytest

pytest.importorskip("cv2")
pytest.importorskip("sklearn")
pytest.importorskip("skimage")

from edgert.errors import EdgeRTError  # noqa: E402
from edgert.zoo import scenes  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
CAPTION_PART = re.compile(r"(an?) (\w+) (\d) at the ([a-z ]+)")


@pytest.fixture(scope="module")
def val_scenes():
    generator = scenes.SceneGenerator(seed=5, split="val")
    return [generator.scene(i) for i in range(40)]


def same_scene(a: scenes.Scene, b: scenes.Scene) -> bool:
    return (np.array_equal(a.image, b.image) and np.array_equal(a.boxes, b.boxes) and np.array_equal(a.labels, b.labels)
            and a.colors == b.colors and a.caption == b.caption and np.array_equal(a.scans, b.scans))


def test_scenes_are_a_function_of_seed_split_and_index(val_scenes):
    again = scenes.SceneGenerator(seed=5, split="val")
    # any order, any fresh generator: scene i is the same
    assert all(same_scene(again.scene(i), val_scenes[i]) for i in (7, 0, 39))
    assert not same_scene(scenes.SceneGenerator(seed=6, split="val").scene(0), val_scenes[0])
    assert not same_scene(scenes.SceneGenerator(seed=5, split="test").scene(0), val_scenes[0])


def test_generate_split_does_not_depend_on_worker_count():
    one = scenes.generate_split(1, "test", 70, workers=1)
    two = scenes.generate_split(1, "test", 70, workers=2)
    assert sorted(one) == sorted(two)
    for key in one:
        np.testing.assert_array_equal(one[key], two[key], err_msg=key)


def test_boxes_lie_inside_the_image_and_do_not_overlap(val_scenes):
    height, width = scenes.SceneConfig().size
    objects = 0
    for scene in val_scenes:
        assert scene.image.shape == (height, width, 3) and scene.image.dtype == np.uint8
        assert scene.boxes.shape == (len(scene.labels), 4) and len(scene.colors) == len(scene.labels)
        x1, y1, x2, y2 = scene.boxes.T
        assert np.all((0 <= x1) & (x1 < x2) & (x2 <= width) & (0 <= y1) & (y1 < y2) & (y2 <= height))
        for i in range(len(scene.boxes)):
            for j in range(i):
                a, b = scene.boxes[i], scene.boxes[j]
                assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)
        objects += len(scene.labels)
    assert objects >= len(val_scenes)   # 1-4 digits per scene; placement rarely gives up


def test_labels_are_the_drawn_scans_and_splits_share_no_scan(val_scenes):
    from sklearn.datasets import load_digits

    targets = load_digits().target
    for scene in val_scenes:
        np.testing.assert_array_equal(scene.labels, targets[scene.scans])
    pools = [set(scenes.digit_pool(5, s).tolist()) for s in scenes.SPLITS]
    assert not (pools[0] & pools[1]) and not (pools[0] & pools[2]) and not (pools[1] & pools[2])
    assert sum(len(p) for p in pools) == len(targets)
    assert all(set(scene.scans.tolist()) <= pools[1] for scene in val_scenes)


def _ink_features(ink: np.ndarray, size: int = 12) -> np.ndarray:
    """The inked region cropped tight and resized: comparable between scans and rendered digits."""
    import cv2

    ys, xs = np.nonzero(ink > 0.3)
    if len(ys) == 0:
        return np.zeros(size * size, np.float32)
    ink = ink[ys.min():ys.max() + 1, xs.min():xs.max() + 1].astype(np.float32)
    out = cv2.resize(ink, (size, size), interpolation=cv2.INTER_AREA)
    return (out / max(float(out.max()), 1e-6)).reshape(-1)


def test_crops_show_the_labelled_digit():
    """A 1-nearest-neighbour classifier fitted on the train split's scans reads the test split's
    classification crops; correct labels score far above chance, shuffled labels do not."""
    import cv2
    from sklearn.datasets import load_digits
    from sklearn.neighbors import KNeighborsClassifier

    digits = load_digits()
    pool = scenes.digit_pool(0, "train")
    reference = [_ink_features(cv2.resize(digits.images[i] / 16, (32, 32), interpolation=cv2.INTER_CUBIC))
                 for i in pool]
    knn = KNeighborsClassifier(1).fit(np.asarray(reference), digits.target[pool])
    clean = scenes.SceneConfig(max_rotation=0, distractors=(0, 0), blur_probability=0, noise_probability=0)
    data = scenes.generate_split(0, "test", 60, clean, crop_size=32)
    assert data["crops"].shape == (len(data["labels"]), 32, 32, 3)
    features = []
    for crop, color in zip(data["crops"], data["colors"]):
        nominal = np.asarray(scenes.COLORS[scenes.COLOR_NAMES[color]], np.float32)
        ink = np.clip(1 - np.linalg.norm(crop.astype(np.float32) - nominal, axis=2) / 120, 0, 1)
        features.append(_ink_features(ink))
    predicted = knn.predict(np.asarray(features))
    shuffled = np.random.default_rng(0).permutation(data["labels"])
    assert np.mean(predicted == data["labels"]) >= 0.6
    assert np.mean(predicted == shuffled) <= 0.3


def test_caption_names_every_digit_with_its_colour_and_place(val_scenes):
    size = scenes.SceneConfig().size
    for scene in val_scenes:
        head, _, last = scene.caption.rpartition(" and ")
        phrases = (head.split(", ") if head else []) + [last]
        parts = [CAPTION_PART.fullmatch(p) for p in phrases]
        assert all(parts) and len(parts) == len(scene.labels), scene.caption
        for m in parts:
            assert m.group(1) == ("an" if m.group(2)[0] in "aeiou" else "a"), scene.caption
        described = sorted((m.group(2), int(m.group(3)), m.group(4)) for m in parts)
        actual = sorted((c, int(label), scenes.position_phrase(box, size))
                        for c, label, box in zip(scene.colors, scene.labels, scene.boxes))
        assert described == actual, scene.caption


def test_caption_wording():
    boxes = np.array([[90, 100, 110, 120], [5, 5, 20, 25], [60, 60, 70, 70]], np.float32)
    caption = scenes.caption_for(boxes, [7, 3, 1], ["blue", "red", "orange"], (128, 128))
    assert caption == "a red 3 at the top left, an orange 1 at the center and a blue 7 at the bottom right"
    assert scenes.caption_for(np.zeros((0, 4)), [], [], (128, 128)) == "no digits"
    assert scenes.position_phrase([0, 50, 10, 60], (128, 128)) == "left"
    assert scenes.position_phrase([60, 0, 70, 10], (128, 128)) == "top"


def test_config_is_validated():
    with pytest.raises(EdgeRTError, match="at least 16"):
        scenes.SceneConfig(size=(8, 8))
    with pytest.raises(EdgeRTError, match="objects"):
        scenes.SceneConfig(objects=(3, 1))
    with pytest.raises(EdgeRTError, match="split"):
        scenes.SceneGenerator(0, "holdout")


def _make_dataset():
    spec = importlib.util.spec_from_file_location("make_dataset", ROOT / "tools" / "make_dataset.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def test_make_dataset_npz(tmp_path, capsys):
    main = _make_dataset()
    out = tmp_path / "digits"
    args = [str(out), "--train", "6", "--val", "3", "--test", "2", "--size", "64x96", "--seed", "3", "--workers", "1"]
    assert main(args) == 0
    meta = json.loads((out / "meta.json").read_text())
    assert meta["counts"] == {"train": 6, "val": 3, "test": 2} and meta["size"] == [64, 96]
    with np.load(out / "val.npz") as data:
        assert data["images"].shape == (3, 64, 96, 3)
        assert len(data["captions"]) == 3
        k = len(data["labels"])
        assert data["boxes"].shape == (k, 4) and data["crops"].shape == (k, 32, 32, 3)
        assert data["image_index"].tolist() == sorted(data["image_index"].tolist())
        expected = scenes.SceneGenerator(3, "val", scenes.SceneConfig(size=(64, 96))).scene(1)
        np.testing.assert_array_equal(data["images"][1], expected.image)
        assert data["captions"][1] == expected.caption
    assert main(args) == 2
    assert "pass --force" in capsys.readouterr().err
    assert main(args + ["--force"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["digits"]   # no staging directories left


def test_make_dataset_coco(tmp_path):
    main = _make_dataset()
    out = tmp_path / "coco"
    assert main([str(out), "--train", "2", "--val", "2", "--test", "1", "--format", "coco", "--workers", "1"]) == 0
    coco = json.loads((out / "val" / "annotations.json").read_text())
    assert [c["name"] for c in coco["categories"]] == list(scenes.CLASS_NAMES)
    assert len(coco["images"]) == 2 and all((out / "val" / im["file_name"]).is_file() for im in coco["images"])
    scene = scenes.SceneGenerator(0, "val").scene(0)
    first = [a for a in coco["annotations"] if a["image_id"] == 0]
    assert [a["category_id"] - 1 for a in first] == scene.labels.tolist()
    x1, y1, x2, y2 = scene.boxes[0].tolist()
    assert first[0]["bbox"] == [x1, y1, x2 - x1, y2 - y1]
    assert coco["images"][0]["caption"] == scene.caption
