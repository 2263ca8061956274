"""The Kivy app (apps/kivy_app) run for real under Xvfb on the bundled sample: it must process frames,
save a screenshot of its window, and that screenshot must show the detector's boxes, in the palette
colour of each box's class, where the run's own log says the detector put them."""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "apps" / "kivy_app"

needs_kivy = pytest.mark.skipif(importlib.util.find_spec("kivy") is None,
                                reason="Kivy is not installed (pip install -e '.[app]')")
needs_xvfb = pytest.mark.skipif(shutil.which("Xvfb") is None,
                                reason="Xvfb is not installed (Debian: apt-get install xvfb libgl1-mesa-dri)")


@pytest.fixture(scope="module")
def display():
    """A private X server; its display number comes back through -displayfd."""
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x720x24", "-nolisten", "tcp"],
                              pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    with os.fdopen(read_fd) as f:
        number = f.readline().strip()
    if not number:
        server.kill()
        pytest.skip("Xvfb did not start")
    yield f":{number}"
    server.terminate()
    server.wait(timeout=10)


def run_app(display, tmp_path, *args, timeout=240):
    env = dict(os.environ, DISPLAY=display, KIVY_HOME=str(tmp_path / "kivy_home"), KIVY_NO_ARGS="1",
               KIVY_NO_FILELOG="1")
    env.pop("WAYLAND_DISPLAY", None)
    return subprocess.run([sys.executable, str(APP / "main.py"), *args], env=env, capture_output=True, text=True,
                          timeout=timeout, cwd=tmp_path)


def edge_pixels(box, frame_size):
    """(x, y) frame pixels on the four edges of a box drawn by cv2.rectangle (1 px lines), 3 px
    clear of the corners where neighbouring boxes and labels overlap."""
    w, h = frame_size
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    x1, x2 = max(0, x1), min(w - 1, x2)
    y1, y2 = max(0, y1), min(h - 1, y2)
    points = [(x, y) for x in range(x1 + 3, x2 - 2) for y in (y1, y2)]
    points += [(x, y) for y in range(y1 + 3, y2 - 2) for x in (x1, x2)]
    return points


def colour_fraction(image, points, colour, tolerance=40):
    pixels = np.array([image[y, x] for x, y in points], np.int32)
    return float(np.mean(np.abs(pixels - np.array(colour)).max(axis=1) <= tolerance))


@needs_kivy
@needs_xvfb
def test_app_draws_detector_boxes_on_the_sample(display, tmp_path):
    import cv2

    from edgert.apps.overlay import PALETTE
    from edgert.apps.sources import SAMPLE_VIDEO

    shot, log = tmp_path / "shot.png", tmp_path / "run.json"
    proc = run_app(display, tmp_path, "--source", "sample", "--frames", "15", "--screenshot", str(shot),
                   "--log", str(log), "--threads", "1", "--describe")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "frames processed" in proc.stdout, proc.stdout
    record = json.loads(log.read_text())
    assert record["error"] is None
    assert len(record["frames"]) >= 15
    shown = record["shown"]
    assert shown["index"] >= 15
    # the log's entry for the shown frame is what the detector returned for it
    logged = {f["index"]: f for f in record["frames"]}
    assert logged[shown["index"]]["detections"] == shown["detections"]
    assert shown["detections"], "the bundled detector found nothing on the sample frame"
    # describe: this edgert has no VLM (or streams a caption when it has one)
    sys.path.insert(0, str(APP))
    try:
        from describe import NO_VLM, vlm_class
    finally:
        sys.path.remove(str(APP))
    if vlm_class() is None:
        assert record["describe"] == NO_VLM
    else:
        assert record["describe"] and not record["describe"].startswith("describe failed"), record["describe"]
        assert CAPTION.match(record["describe"]), record["describe"]

    screen = cv2.imread(str(shot), cv2.IMREAD_COLOR)
    win_w, win_h = record["window"]
    assert screen.shape[:2] == (win_h, win_w)
    fw, fh = shown["frame_size"]
    rx, ry, rw, rh = shown["rect"]
    top = win_h - (ry + rh)

    # the raw frame that was shown, for the negative control
    cap = cv2.VideoCapture(str(SAMPLE_VIDEO))
    for _ in range(shown["source_index"] + 1):
        ok, raw = cap.read()
        assert ok
    cap.release()

    # Boxes are drawn in order, so a later box (NMS is per class: two classes can share a box) may
    # hide an earlier one; draw the logged boxes on the raw frame to know which edge pixels stay visible.
    from edgert.apps.overlay import draw_detections
    from edgert.tasks import Detection
    redrawn = draw_detections(raw.copy(), [Detection(tuple(d["box"]), d["score"], d["class_id"], d["label"])
                                           for d in shown["detections"]])
    checked = 0
    for det in shown["detections"]:
        colour = PALETTE[det["class_id"] % len(PALETTE)]
        points = [p for p in edge_pixels(det["box"], (fw, fh)) if tuple(redrawn[p[1], p[0]]) == colour]
        if len(points) < 20:
            continue                                   # hidden under later boxes
        checked += 1
        screen_points = [(int(rx + (x + 0.5) * rw / fw), int(top + (y + 0.5) * rh / fh)) for x, y in points]
        drawn = colour_fraction(screen, screen_points, colour)
        before = colour_fraction(raw, points, colour)
        assert drawn >= 0.6, f"box {det} drawn in only {drawn:.0%} of its edge pixels"
        assert before < 0.3, f"the raw frame already has the box colour on {before:.0%} of the edge ({det})"
    assert checked >= 1


def test_describe_without_a_vlm_says_so():
    sys.path.insert(0, str(APP))
    try:
        from describe import NO_VLM, Describer, vlm_class
    finally:
        sys.path.remove(str(APP))
    if vlm_class() is not None:
        pytest.skip("this edgert has a vision-language model")
    messages = []
    describer = Describer(lambda text, done: messages.append((text, done)))
    assert describer.describe(np.zeros((8, 8, 3), np.uint8)) is False
    assert messages == [(NO_VLM, True)]
    assert not describer.available


def _pipeline():
    sys.path.insert(0, str(APP))
    try:
        import pipeline
    finally:
        sys.path.remove(str(APP))
    return pipeline


def _results(worker, count, timeout=60.0):
    import time

    out, deadline = [], time.monotonic() + timeout
    while len(out) < count and time.monotonic() < deadline and worker.error is None:
        result = worker.latest()
        if result is None:
            time.sleep(0.01)
        else:
            out.append(result)
    assert worker.error is None, worker.error
    return out


def test_worker_applies_settings_between_frames():
    """The app's inference side without Kivy: boxes from the bundled detector on the sample, then a
    higher threshold (only boxes above it), then no detector at all (no boxes), without a restart."""
    from edgert.tasks import bundled_models

    if not bundled_models("detect"):
        pytest.skip("no bundled detector")
    pipeline = _pipeline()
    settings = pipeline.default_settings(threads=1, score_threshold=0.05)
    worker = pipeline.InferenceWorker("sample", settings)
    worker.start()
    try:
        first = _results(worker, 5)
        assert any(r.detections for r in first)
        assert all(d.score >= 0.05 for r in first for d in r.detections)
        assert all(r.image.shape == r.raw.shape and r.image.dtype == np.uint8 for r in first)
        assert any(not np.array_equal(r.image, r.raw) for r in first)       # boxes and status drawn
        worker.configure(score_threshold=0.6)
        _results(worker, 2)                     # a frame may have been in flight with the old value
        strict = _results(worker, 5)
        assert all(d.score >= 0.6 for r in strict for d in r.detections)
        worker.configure(detector=pipeline.NONE)
        _results(worker, 2)
        assert all(not r.detections for r in _results(worker, 5))
    finally:
        worker.stop()


def test_worker_reports_a_bad_model_as_a_message():
    pipeline = _pipeline()
    worker = pipeline.InferenceWorker("sample", pipeline.Settings(detector="/no/such/model.onnx", threads=1))
    worker.start()
    try:
        results = _results(worker, 2)
        assert results and not results[0].detections
        assert worker.model_errors and "model.onnx" in worker.model_errors[0]
    finally:
        worker.stop()


CAPTION = __import__("re").compile(r"^(no digits|an? [a-z]+ \d at the [a-z ]+?(( and|,) an? [a-z]+ \d at the [a-z ]+?)*)$")


def test_describe_streams_the_vlm_caption():
    sys.path.insert(0, str(APP))
    try:
        from describe import Describer, vlm_class
    finally:
        sys.path.remove(str(APP))
    VLM = vlm_class()
    if VLM is None:
        pytest.skip("this edgert has no vision-language model")
    from edgert.zoo.scenes import SceneConfig, SceneGenerator

    scene = SceneGenerator(5, "test", SceneConfig(size=(96, 96), objects=(1, 2))).scene(0)
    bgr = np.ascontiguousarray(scene.image[:, :, ::-1])
    messages = []
    describer = Describer(lambda text, done: messages.append((text, done)), threads=1)
    assert describer.describe(bgr) is True
    describer._thread.join(timeout=120)
    expected = VLM.load(threads=1).generate(scene.image).text
    assert messages[-1] == (expected, True)
    streamed = [t for t, done in messages if not done and not t.startswith("loading")]
    assert len(streamed) >= 3 and streamed[-1] == expected      # text grew piece by piece
    assert all(expected.startswith(t) for t in streamed)
    assert CAPTION.match(expected), expected
