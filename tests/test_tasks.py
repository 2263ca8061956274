"""edgert.tasks: Detector / Classifier pre- and post-processing, the bundled models and their accuracy."""
from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgert.errors import EdgeRTError, InputError, ModelLoadError
from edgert.tasks import Classifier, Detector, bundled_models
from edgert.tasks.detector import decode_yolox, nms
from edgert.tasks.image import letterbox
from peers import ORT_INT8_EXACT

cv2 = pytest.importorskip("cv2")


def _logit(p):
    return float(np.log(p / (1 - p)))


# ------------------------------------------------------------------ decoding, NMS, letterbox

def test_decode_places_a_box_from_its_cell_and_deltas():
    classes, h, w, stride = 3, 4, 5, 16
    cls = np.full((classes, h, w), -20.0, np.float32)
    obj = np.full((1, h, w), -20.0, np.float32)
    box = np.zeros((4, h, w), np.float32)
    j, i = 2, 3                                        # row 2, column 3: prior at (48, 32)
    cls[1, j, i], obj[0, j, i] = _logit(0.9), _logit(0.8)
    box[:, j, i] = [0.5, -0.25, np.log(2.0), np.log(1.5)]
    boxes, scores, ids = decode_yolox(cls, box, obj, stride, 0.5)
    cx, cy, bw, bh = (0.5 + i) * stride, (-0.25 + j) * stride, 2 * stride, 1.5 * stride
    np.testing.assert_allclose(boxes, [[cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2]], rtol=1e-6)
    np.testing.assert_allclose(scores, [0.72], rtol=1e-5)
    assert ids.tolist() == [1]
    assert decode_yolox(cls, box, obj, stride, 0.8)[0].shape == (0, 4)


def test_nms_is_per_class_and_best_first():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10], [50, 50, 60, 60]], np.float32)
    scores = np.array([0.6, 0.9, 0.5, 0.7], np.float32)
    ids = np.array([0, 0, 1, 0])
    keep = nms(boxes, scores, ids, 0.5, 100)
    assert keep.tolist() == [1, 3, 2]                 # box 0 overlaps box 1 of its class; box 2 is another class
    assert nms(boxes, scores, ids, 0.5, 2).tolist() == [1, 3]


def test_letterbox_keeps_aspect_and_maps_back():
    image = np.zeros((100, 200, 3), np.uint8)
    canvas, fit = letterbox(image, (64, 64), 114)
    assert canvas.shape == (64, 64, 3) and fit.scale == pytest.approx(0.32)
    assert (canvas[32:, :] == 114).all() and (canvas[:32, :] == 0).all()
    back = fit.to_image(np.array([[3.2, 1.6, 64.0, 40.0]], np.float32))
    np.testing.assert_allclose(back, [[10, 5, 200, 100]], rtol=1e-6)   # clipped to the image


# ------------------------------------------------------------------ a classifier built here

def _classifier_onnx(path, labels, size=8):
    """GlobalAveragePool -> Flatten -> Gemm: logits are a known linear map of the mean colour."""
    weight = np.arange(3 * len(labels), dtype=np.float32).reshape(len(labels), 3) / 10 - 0.5
    nodes = [helper.make_node("GlobalAveragePool", ["images"], ["pooled"]),
             helper.make_node("Flatten", ["pooled"], ["flat"]),
             helper.make_node("Gemm", ["flat", "w"], ["logits"], transB=1)]
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("images", TensorProto.FLOAT,
                                                                            [1, 3, size, size])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, len(labels)])],
                              [numpy_helper.from_array(weight, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    helper.set_model_props(model, {"edgert.labels": json.dumps(labels),
                                   "edgert.preprocess": json.dumps({"mean": [0.5] * 3, "std": [0.25] * 3})})
    onnx.save(model, path)
    return weight


def test_classifier_topk_matches_softmax_of_the_model(tmp_path):
    labels = ["a", "b", "c", "d"]
    weight = _classifier_onnx(tmp_path / "tiny.onnx", labels)
    clf = Classifier.load(tmp_path / "tiny.onnx", threads=1, top_k=2)
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (30, 50, 3), dtype=np.uint8)
    preds = clf(image)                                # BGR in
    crop = image[:, 10:40, ::-1]                      # the centred square, as RGB
    resized = cv2.resize(np.ascontiguousarray(crop), (8, 8), interpolation=cv2.INTER_AREA)
    mean = ((resized.astype(np.float32) / 255 - 0.5) / 0.25).reshape(-1, 3).mean(0)
    logits = weight @ mean
    probs = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    order = np.argsort(-probs)[:2]
    assert [p.label for p in preds] == [labels[k] for k in order]
    np.testing.assert_allclose([p.score for p in preds], probs[order], rtol=1e-4)
    assert clf(image[:, :, ::-1], color="rgb") == preds
    assert clf([image, image], top_k=1) == [preds[:1], preds[:1]]


def test_task_errors_are_clear(tmp_path):
    _classifier_onnx(tmp_path / "tiny.onnx", ["a", "b"])
    clf = Classifier.load(tmp_path / "tiny.onnx", threads=1)
    with pytest.raises(InputError, match=r"\(H, W, 3\)"):
        clf(np.zeros((4, 4, 5), np.uint8))
    with pytest.raises(InputError, match="got str"):
        clf("frame.png")
    with pytest.raises(InputError, match="NaN"):
        clf(np.full((4, 4, 3), np.nan, np.float32))
    with pytest.raises(InputError, match="color"):
        clf(np.zeros((4, 4, 3), np.uint8), color="bgra")
    with pytest.raises(EdgeRTError, match="top_k"):
        clf(np.zeros((4, 4, 3), np.uint8), top_k=0)
    with pytest.raises(ModelLoadError, match="outputs"):
        Detector.load(tmp_path / "tiny.onnx")        # a classifier is no detector
    with pytest.raises(ModelLoadError, match="no such model file"):
        Detector.load(tmp_path / "missing.onnx")
    with pytest.raises(EdgeRTError, match="no bundled detect model named 'nope'"):
        Detector.load("nope")
    with pytest.raises(EdgeRTError, match="score_threshold"):
        Detector.load(score_threshold=1.5)


# ------------------------------------------------------------------ the bundled models

def _bundled(task):
    models = bundled_models(task)
    assert models, f"no bundled {task} model: models/ must ship one (see tools/train_*.py)"
    return models[0]


def test_bundled_models_have_cards_and_fit_the_size_budget():
    models = bundled_models()
    assert {"detect", "classify", "vlm"} <= {m.task for m in models}
    for m in models:
        info = m.summary()
        assert (m.directory / m.extra["card"]).is_file(), f"{m.name}: model card missing"
        assert all(size <= 8 * 2 ** 20 for size in info["size_bytes"].values()), info
        assert m.metrics, f"{m.name}: the card records no metrics"


@pytest.fixture(scope="module")
def heldout_scenes():
    pytest.importorskip("sklearn")
    pytest.importorskip("skimage")
    from edgert.zoo.scenes import SceneConfig, generate_split

    card = _bundled("detect")
    side = card.input["shape"][2]
    # The 'test' split: neither training nor the card's 'val' metrics used it.
    return generate_split(card.extra["recipe"]["seed"], "test", 120, SceneConfig(size=(side, side)), workers=2)


def test_bundled_detector_reaches_its_card_accuracy_on_unseen_scenes(heldout_scenes):
    pytest.importorskip("pycocotools")
    from edgert.tasks.metrics import detection_map

    card = _bundled("detect")
    data = heldout_scenes
    gt = [(data["boxes"][data["image_index"] == i], data["labels"][data["image_index"] == i])
          for i in range(len(data["images"]))]
    for precision in ("fp32", "int8"):
        det = Detector.load(card.name, precision=precision, threads=2, score_threshold=0.01, iou_threshold=0.65)
        preds = [det(image, color="rgb") for image in data["images"]]
        measured = detection_map(gt, preds, len(det.labels), data["images"].shape[1:3])["map50"]
        recorded = card.metrics[f"{precision}_edgert"]["map50"]
        # 120 scenes of another split: allow sampling noise, not a broken pipeline.
        assert measured >= recorded - 0.1, (precision, measured, recorded)


def test_bundled_detector_boxes_follow_the_image(heldout_scenes):
    """Letterbox + decode in original coordinates: the scene enlarged 2x (letterboxed back to the same
    model input), or shifted by two head cells, gives the same detections, scaled or shifted (boxes that
    the shift pushes out of the frame excepted); BGR/RGB and batching agree."""
    det = Detector.load(threads=2, score_threshold=0.6)    # confident boxes: stable under resampling
    found = [det(image, color="rgb") for image in heldout_scenes["images"][:10]]
    best = max(range(10), key=lambda i: len(found[i]))
    image, direct = heldout_scenes["images"][best], found[best]
    assert len(direct) >= 2, "the bundled detector found almost nothing in 10 held-out scenes"
    h, w = image.shape[:2]
    enlarged = cv2.resize(image, (2 * w, 2 * h), interpolation=cv2.INTER_LINEAR)
    shift = 2 * det.stride
    shifted = np.full_like(image, 114)
    shifted[shift:, shift:] = image[:-shift, :-shift]
    for frame, scale, offset in ((enlarged, 2.0, 0), (shifted, 1.0, shift)):
        moved = det(frame, color="rgb")
        for d in direct:
            target = np.asarray(d.box) * scale + offset
            if target[2] > w - 4 or target[3] > h - 4:
                continue
            match = max(moved, key=lambda m: _iou(np.asarray(m.box), target), default=None)
            assert match is not None and _iou(np.asarray(match.box), target) > 0.7, (d, moved)
    assert det(image[:, :, ::-1]) == direct
    assert det([image[:, :, ::-1], enlarged[:, :, ::-1]]) == [direct, det(enlarged[:, :, ::-1])]


def test_bundled_detector_same_boxes_on_onnxruntime(heldout_scenes):
    pytest.importorskip("onnxruntime")
    card = _bundled("detect")
    ours = Detector.load(card.name, precision="fp32", threads=1)
    peer = Detector.load(card.name, precision="fp32", threads=1, backend="onnxruntime")
    for image in heldout_scenes["images"][:10]:
        a, b = ours(image, color="rgb"), peer(image, color="rgb")
        assert [d.label for d in a] == [d.label for d in b]
        np.testing.assert_allclose([d.box for d in a], [d.box for d in b], atol=1e-2)


def _iou(a, b):
    lt, rb = np.maximum(a[:2], b[:2]), np.minimum(a[2:], b[2:])
    inter = np.prod(np.clip(rb - lt, 0, None))
    return inter / (np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2]) - inter)


# ------------------------------------------------------------------ the bundled classifier

@pytest.fixture(scope="module")
def heldout_digits():
    """Digit crops of the 'test' split (neither training nor the card's 'val' metrics used it), framed as
    the card's metrics were."""
    pytest.importorskip("sklearn")
    pytest.importorskip("skimage")
    from edgert.zoo.scenes import SceneConfig, crop_squares, generate_split

    card = _bundled("classify")
    data = generate_split(card.extra["recipe"]["seed"], "test", 160, SceneConfig(), workers=2)
    side, margin = card.input["shape"][2], card.metrics["eval_margin"]
    crops = np.concatenate([crop_squares(data["images"][i], data["boxes"][data["image_index"] == i], side, margin)
                            for i in range(len(data["images"]))])
    return crops, data["labels"]


def test_bundled_classifier_reaches_its_card_accuracy_on_unseen_digits(heldout_digits):
    card = _bundled("classify")
    crops, labels = heldout_digits
    for precision in ("fp32", "int8"):
        clf = Classifier.load(card.name, precision=precision, threads=2, top_k=1)
        measured = np.mean([p[0].class_id for p in clf(list(crops), color="rgb")] == labels)
        recorded = card.metrics["top1"][f"{precision}_edgert"]
        # ~400 digits of another split: allow sampling noise, not a broken pipeline.
        assert measured >= recorded - 0.05, (precision, measured, recorded)


def test_bundled_classifier_matches_onnxruntime(heldout_digits):
    """fp32: the SKA-node file on edgert gives the portable file's logits on onnxruntime; int8: edgert and
    onnxruntime pick the same top-1 on the same QDQ file (1,000-crop figure in the model card's metrics)."""
    pytest.importorskip("onnxruntime")
    card = _bundled("classify")
    crops = list(heldout_digits[0][:200])
    ours = Classifier.load(card.name, precision="fp32", threads=1, top_k=10)
    peer = Classifier.load(card.name, precision="fp32_portable", threads=1, top_k=10, backend="onnxruntime")
    for a, b in zip(ours(crops[:20], color="rgb"), peer(crops[:20], color="rgb")):
        assert [p.class_id for p in a[:1]] == [p.class_id for p in b[:1]]
        np.testing.assert_allclose(sorted(p.score for p in a), sorted(p.score for p in b), atol=1e-4)
    ours = Classifier.load(card.name, precision="int8", threads=2, top_k=1)
    peer = Classifier.load(card.name, precision="int8", threads=2, top_k=1, backend="onnxruntime")
    agree = np.mean([a[0].class_id == b[0].class_id for a, b in zip(ours(crops, color="rgb"), peer(crops, color="rgb"))])
    assert agree >= 0.99, agree


def test_quantized_ska_chains_run_as_one_bit_exact_kernel(heldout_digits, monkeypatch):
    """The int8 portable SKA chains of the bundled classifier (onnxruntime's QDQ quantizer's output) run as
    the native QSKA kernel, and the logits equal onnxruntime's and the numpy QSKA reference's exactly."""
    ort = pytest.importorskip("onnxruntime")
    import edgert
    from edgert.runtime import lower

    card = _bundled("classify")
    path = str(card.path("int8"))
    side = card.input["shape"][-1]
    crops = np.stack([cv2.resize(c, (side, side)) for c in heldout_digits[0][:16]]).astype(np.float32)
    crops = crops.transpose(0, 3, 1, 2) / 255.0
    feeds = {"images": crops}
    sess = edgert.load(path, threads=2, backend="edgert")
    labels = [s.label for s in sess.plan_for([crops.shape]).steps]
    assert labels.count("QSKA[3x3]") == 3 and not any(label.startswith("Slice") for label in labels), labels
    native = sess.run(feeds)["logits"]
    monkeypatch.setitem(lower.LOWERINGS, ("ai.edgert", "QSKA"), [lambda p, node, ins: None])
    reference = edgert.load(path, threads=1, backend="edgert")
    assert "QSKA" in [s.label for s in reference.plan_for([crops.shape]).steps]  # now the numpy reference
    np.testing.assert_array_equal(reference.run(feeds)["logits"], native)
    if ORT_INT8_EXACT:  # elsewhere onnxruntime saturates this full-range model (tests/peers.py)
        expected = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, feeds)[0]
        np.testing.assert_array_equal(native, expected)


def test_bundled_classifier_reads_the_centre_of_any_frame(heldout_digits):
    """A digit crop in the middle of a wider BGR frame, or enlarged, keeps its label (Classifier takes the
    centred square and resizes it to the input)."""
    clf = Classifier.load(threads=2, top_k=1)
    crops, labels = heldout_digits
    confident = [i for i, p in enumerate(clf(list(crops[:40]), color="rgb")) if p[0].score > 0.7
                 and p[0].class_id == labels[i]]
    assert len(confident) >= 20
    for i in confident[:10]:
        crop = crops[i]
        side = crop.shape[0]
        wide = np.zeros((side, 3 * side, 3), np.uint8)
        wide[:, side:2 * side] = crop
        enlarged = cv2.resize(crop, (4 * side, 4 * side), interpolation=cv2.INTER_CUBIC)
        for frame in (wide, enlarged):
            assert clf(frame[:, :, ::-1])[0].class_id == labels[i]


def test_models_command_lists_the_bundled_models(capsys):
    from edgert.cli import main

    assert main(["models", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    names = {m["name"]: m for m in listed}
    detector = names[_bundled("detect").name]
    assert detector["task"] == "detect" and len(detector["input_shape"]) == 4 and detector["input_shape"][1] == 3
    assert detector["path"].endswith("_int8.onnx") and all(v > 0 for v in detector["size_bytes"].values())
    classifier = names[_bundled("classify").name]
    assert classifier["task"] == "classify" and classifier["path"].endswith("_int8.onnx")
    assert main(["models"]) == 0 and _bundled("detect").name in capsys.readouterr().out


def test_same_box_set_matches_one_to_one_by_label_and_iou():
    from edgert.tasks import Detection
    from edgert.tasks.metrics import same_box_set

    a = [Detection((0, 0, 10, 10), 0.9, 1, "1"), Detection((20, 20, 30, 30), 0.8, 2, "2")]
    nudged = [Detection((20.2, 20, 30.2, 30), 0.7, 2, "2"), Detection((0, 0, 10, 10.3), 0.9, 1, "1")]
    assert same_box_set(a, nudged) and same_box_set([], [])
    assert not same_box_set(a, nudged[:1])
    assert not same_box_set(a, [Detection((0, 0, 10, 10), 0.9, 2, "2"), nudged[0]])       # label differs
    assert not same_box_set(a, [Detection((0, 0, 10, 13), 0.9, 1, "1"), nudged[0]])       # IoU 0.77


def test_bundled_int8_detector_gives_the_same_boxes_as_onnxruntime(heldout_scenes):
    """The int8 kernels match onnxruntime's on the same QDQ file: box sets agree (1,000-scene figure:
    benchmarks/agreement.py detect)."""
    pytest.importorskip("onnxruntime")
    if not ORT_INT8_EXACT:
        pytest.skip("onnxruntime's int8 kernels saturate full-range weights on this CPU (x86 without VNNI), so "
                    "its boxes are not the model's; edgert's int8 kernels are checked against their exact "
                    "definition in tests/test_quantized.py")
    from edgert.tasks.metrics import same_box_set

    card = _bundled("detect")
    ours = Detector.load(card.name, precision="int8", threads=2)
    peer = Detector.load(card.name, precision="int8", threads=2, backend="onnxruntime")
    images = heldout_scenes["images"]
    agree = sum(same_box_set(ours(im, color="rgb"), peer(im, color="rgb")) for im in images)
    assert agree >= 0.97 * len(images), f"{agree}/{len(images)}"
