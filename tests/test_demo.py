"""`edgert demo`: headless runs on the sample, sources, fallbacks and failures with clear messages."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest

from edgert.apps.demo import DemoOptions, run_demo
from edgert.apps.sources import SAMPLE_VIDEO, CaptureThread, FrameSource, open_source

cv2 = pytest.importorskip("cv2")


def _run(**kwargs):
    lines = []
    status = run_demo(DemoOptions(**{"threads": 1, **kwargs}), out=lines.append)
    return status, "\n".join(lines)


def _frames(path):
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            return frames
        frames.append(frame)


def test_sample_video_ships():
    assert SAMPLE_VIDEO.is_file() and SAMPLE_VIDEO.stat().st_size < 2 * 2 ** 20
    assert len(_frames(SAMPLE_VIDEO)) >= 60


def test_headless_run_writes_every_frame_annotated(tmp_path):
    out = tmp_path / "out.mp4"
    status, text = _run(source="sample", headless=True, output=str(out), frames=24)
    assert status == 0, text
    assert "summary: 24 frames" in text and "p50" in text and "p90" in text
    written, original = _frames(out), _frames(SAMPLE_VIDEO)[:24]
    assert len(written) == 24 and written[0].shape == original[0].shape
    # Boxes, labels and the FPS line were drawn: frames differ from the source well beyond codec noise.
    changed = [np.mean(np.abs(w.astype(int) - o.astype(int)).max(axis=2) > 60) for w, o in zip(written, original)]
    assert np.mean(changed) > 0.003
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")], "partial file left behind"


def test_default_run_without_display_or_camera_falls_back_to_the_sample(tmp_path, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.chdir(tmp_path)
    status, text = _run(frames=5)
    assert status == 0, text
    assert "no display" in text and "bundled sample" in text
    assert len([p for p in os.listdir(tmp_path) if p.startswith("edgert-demo-") and p.endswith(".mp4")]) == 1


def test_output_is_never_clobbered_and_bad_paths_are_reported(tmp_path):
    existing = tmp_path / "keep.mp4"
    existing.write_bytes(b"user data")
    status, text = _run(source="sample", headless=True, output=str(existing), frames=2)
    assert status == 2 and "--force" in text and existing.read_bytes() == b"user data"
    status, text = _run(source="sample", headless=True, output=str(tmp_path / "nodir" / "x.mp4"), frames=2)
    assert status == 2 and "no such directory" in text
    status, text = _run(source="sample", headless=True, output=str(tmp_path), frames=2)
    assert status == 2 and "is a directory" in text
    status, text = _run(source="sample", headless=True, output=str(existing), frames=3, force=True)
    assert status == 0 and len(_frames(existing)) == 3


@pytest.mark.parametrize("source, message", [
    ("7", "no camera at index 7"),
    ("/dev/video99", "no camera at /dev/video99"),
    ("no/such/file.mp4", "no such file or folder"),
    ("webcam", "not a camera index"),
])
def test_missing_sources_fail_cleanly(tmp_path, source, message):
    status, text = _run(source=source, headless=True, output=str(tmp_path / "o.mp4"))
    assert status == 2 and message in text
    assert "Traceback" not in text


def test_corrupt_video_and_bad_images_are_handled(tmp_path):
    corrupt = tmp_path / "broken.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(2000))
    status, text = _run(source=str(corrupt), headless=True, output=str(tmp_path / "o.mp4"))
    assert status == 2 and "cannot open this video" in text

    folder = tmp_path / "frames"
    folder.mkdir()
    for i, frame in enumerate(_frames(SAMPLE_VIDEO)[:4]):
        cv2.imwrite(str(folder / f"{i}.png"), frame)
    (folder / "2b.jpg").write_bytes(b"not a jpeg")
    status, text = _run(source=str(folder), headless=True, output=str(tmp_path / "f.mp4"))
    assert status == 0, text
    assert "summary: 4 frames" in text and "1 unreadable frames skipped" in text

    status, text = _run(source=str(tmp_path / "o.mp4"), headless=True, output=str(tmp_path / "g.mp4"))
    assert status == 2 and "no such file" in text     # the failed run above left no o.mp4


def test_vlm_and_bad_model_say_what_is_missing(tmp_path):
    status, text = _run(task="classify", model="nope", source="sample", headless=True)
    assert status == 2 and "no bundled classify model named 'nope'" in text
    status, text = _run(model=str(tmp_path / "none.onnx"), source="sample", headless=True)
    assert status == 2 and "no such model file" in text


class _FastCamera(FrameSource):
    """A live source producing frames as fast as it is read (a camera faster than inference)."""
    live = True
    description = "synthetic camera"

    def __init__(self, count):
        self.count, self.made = count, 0

    def read(self):
        if self.made >= self.count:
            return None
        self.made += 1
        time.sleep(0.002)
        return np.full((8, 8, 3), self.made % 256, np.uint8)


def test_live_capture_keeps_only_the_newest_frame():
    capture = CaptureThread(_FastCamera(400))
    capture.start()
    taken = []
    while True:
        frame = capture.take(timeout=1.0)
        if frame is None and capture.finished:
            break
        if frame is not None:
            taken.append(frame.index)
            time.sleep(0.02)            # inference 10x slower than the camera
    capture.stop()
    assert capture.dropped > 200 and len(taken) + capture.dropped == 400
    assert taken == sorted(taken) and taken[-1] >= 390     # never stale: the last frame taken is the newest


def test_recorded_capture_drops_nothing():
    capture = CaptureThread(open_source("sample"))
    capture.start()
    count = 0
    while True:
        frame = capture.take(timeout=1.0)
        if frame is None and capture.finished:
            break
        count += frame is not None
    capture.stop()
    assert capture.dropped == 0 and count == len(_frames(SAMPLE_VIDEO))


def test_unplugged_camera_is_retried_then_reported(tmp_path):
    """A live stream whose device goes away (here: a file deleted while open, read as a live source)
    is reopened for reconnect_seconds, then reported as a CameraUnavailable -- not a hang or a crash."""
    import shutil

    from edgert.apps.sources import CameraUnavailable, CaptureSource

    path = tmp_path / "cam.mp4"
    shutil.copy(SAMPLE_VIDEO, path)
    source = CaptureSource(str(path), live=True, description="test camera", reconnect_seconds=0.5)
    path.unlink()
    capture = CaptureThread(source)
    capture.start()
    frames = 0
    while not capture.finished or capture._slot is not None:
        frames += capture.take(timeout=0.5) is not None
    capture.stop()
    assert frames > 0 and isinstance(capture.error, CameraUnavailable)
    assert "stopped delivering frames" in str(capture.error)


def test_recorded_source_can_play_at_its_frame_rate():
    """In a window a file plays in real time: frames are released no faster than the pace."""
    capture = CaptureThread(open_source("sample"), pace_fps=200.0)
    started = time.perf_counter()
    capture.start()
    count = 0
    while count < 40:
        frame = capture.take(timeout=1.0)
        count += frame is not None
    elapsed = time.perf_counter() - started
    capture.stop()
    assert elapsed >= 39 / 200.0


def test_cli_headless_demo_exits_cleanly(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    result = subprocess.run([sys.executable, "-m", "edgert", "demo", "--frames", "6", "--threads", "1",
                             "--output", str(tmp_path / "cli.mp4")], capture_output=True, text=True,
                            env=env, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "summary: 6 frames" in result.stdout and "Traceback" not in result.stderr
    assert len(_frames(tmp_path / "cli.mp4")) == 6


def test_vlm_demo_captions_frames_headless(tmp_path):
    pytest.importorskip("tokenizers")
    out = tmp_path / "vlm.mp4"
    status, text = _run(task="vlm", source="sample", headless=True, frames=3, output=str(out))
    assert status == 0, text
    assert "vlm (vlm_digits)" in text
    captions = [line.split("caption: ", 1)[1] for line in text.splitlines() if "caption: " in line]
    assert captions and all(c.strip() for c in captions), text
    frames = _frames(out)
    assert len(frames) == 3
    # the caption is drawn over the frame: the bottom band differs from the raw sample frame
    src = open_source("sample")
    raw = src.read()
    src.close()
    band = slice(frames[0].shape[0] - 20, frames[0].shape[0])
    assert np.abs(frames[0][band].astype(int) - raw[band].astype(int)).mean() > 5
