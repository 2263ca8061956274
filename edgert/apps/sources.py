"""Frame sources for the demos: cameras, video files, image folders and the bundled sample video, and
the capture thread that hands frames to inference.

A live source (a camera) keeps only the newest frame: when inference is slower than the camera, old
frames are dropped, so latency never piles up. A recorded source (file, folder, sample) is read frame
by frame at inference speed, so every frame is processed and the annotated output has them all.
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgert.errors import EdgeRTError

SAMPLE_VIDEO = Path(__file__).resolve().parent.parent / "data" / "sample_digits.mp4"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


class SourceError(EdgeRTError):
    """A frame source cannot be opened or stopped delivering frames."""


class CameraUnavailable(SourceError):
    """No camera at the given index or device path."""


@dataclass
class Frame:
    image: np.ndarray        # BGR uint8 (OpenCV's order)
    index: int               # position in the source (frames read so far, including dropped ones)
    captured: float          # time.perf_counter() when read


class FrameSource:
    """Base class: read() -> BGR frame or None at the end; live sources may be re-opened."""
    live = False
    description = ""

    def read(self) -> np.ndarray | None:
        raise NotImplementedError

    def close(self) -> None:
        pass


def _cv2():
    import cv2

    return cv2


class CaptureSource(FrameSource):
    """A cv2.VideoCapture: a camera (index or /dev/videoN) or a video file."""

    def __init__(self, target, live: bool, description: str, reconnect_seconds: float = 3.0):
        self.target, self.live, self.description = target, live, description
        self.reconnect_seconds = reconnect_seconds
        self.bad_frames = 0
        self._cap = self._open()

    @property
    def fps(self) -> float | None:
        """The stream's frame rate when it reports a plausible one."""
        fps = self._cap.get(_cv2().CAP_PROP_FPS)
        return float(fps) if 1 <= fps <= 240 else None

    def _open(self):
        cv2 = _cv2()
        cap = cv2.VideoCapture(self.target)
        if not cap.isOpened():
            cap.release()
            if self.live:
                raise CameraUnavailable(f"no camera at {self.description} (cannot open it)")
            raise SourceError(f"{self.description}: OpenCV cannot open this video")
        return cap

    def read(self) -> np.ndarray | None:
        ok, frame = self._cap.read()
        if ok and _valid(frame):
            return frame
        if ok:                       # decoded but unusable: skip it
            self.bad_frames += 1
            return self.read() if self.bad_frames % 100 else None
        if not self.live:
            return None              # end of the file
        return self._reconnect()

    def _reconnect(self) -> np.ndarray | None:
        """A camera that stops answering (unplugged, driver hiccup): retry for reconnect_seconds."""
        deadline = time.monotonic() + self.reconnect_seconds
        self._cap.release()
        while time.monotonic() < deadline:
            time.sleep(0.25)
            try:
                self._cap = self._open()
            except CameraUnavailable:
                continue
            ok, frame = self._cap.read()
            if ok and _valid(frame):
                return frame
        raise CameraUnavailable(f"camera {self.description} stopped delivering frames (unplugged?)")

    def close(self) -> None:
        self._cap.release()


class ImageFilesSource(FrameSource):
    """Image files in order (a folder's, by name); unreadable files are skipped and counted."""

    def __init__(self, files: list[Path], description: str):
        self.files, self.description = files, description
        self.bad_frames = 0
        self._next = 0

    @classmethod
    def folder(cls, folder: Path) -> "ImageFilesSource":
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise SourceError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)}) in this folder")
        return cls(files, f"{folder} ({len(files)} images)")

    def read(self) -> np.ndarray | None:
        cv2 = _cv2()
        while self._next < len(self.files):
            path = self.files[self._next]
            self._next += 1
            image = cv2.imread(os.fspath(path), cv2.IMREAD_COLOR)
            if _valid(image):
                return image
            self.bad_frames += 1
        return None


def _valid(frame) -> bool:
    return isinstance(frame, np.ndarray) and frame.ndim == 3 and frame.shape[2] == 3 and frame.size > 0 \
        and frame.dtype == np.uint8


def open_source(spec: str) -> FrameSource:
    """'0' / '1' (camera index), '/dev/videoN', a video file, a folder of images, or 'sample'."""
    spec = str(spec)
    if spec == "sample":
        if not SAMPLE_VIDEO.is_file():
            raise SourceError(f"the bundled sample video is missing ({SAMPLE_VIDEO}); reinstall edgert")
        return CaptureSource(os.fspath(SAMPLE_VIDEO), False, f"bundled sample {SAMPLE_VIDEO.name}")
    if spec.isdigit():
        return CaptureSource(int(spec), True, f"index {spec}")
    path = Path(spec)
    if spec.startswith("/dev/video"):
        if not path.exists():
            raise CameraUnavailable(f"no camera at {spec} (no such device)")
        return CaptureSource(spec, True, spec)
    if path.is_dir():
        return ImageFilesSource.folder(path)
    if path.is_file():
        if path.suffix.lower() in IMAGE_SUFFIXES:
            return ImageFilesSource([path], str(path))
        return CaptureSource(spec, False, spec)
    if "://" in spec:                 # rtsp://, http:// streams: live
        return CaptureSource(spec, True, spec)
    if os.sep in spec or path.suffix:
        raise SourceError(f"--source {spec}: no such file or folder")
    raise SourceError(f"--source {spec!r}: not a camera index, /dev/video device, video file, image folder or 'sample'")


class CaptureThread(threading.Thread):
    """Reads a source in the background into a one-frame slot.

    live: each new frame replaces an unconsumed one (counted in `dropped`).
    recorded: the reader waits until the consumer took the previous frame; with pace_fps it also
    releases frames no faster than that rate (a file played back in real time, for a window)."""

    def __init__(self, source: FrameSource, pace_fps: float | None = None):
        super().__init__(name="edgert-capture", daemon=True)
        self.source = source
        self.pace = 1.0 / pace_fps if pace_fps else 0.0
        self._due = 0.0
        self.dropped = 0
        self.error: Exception | None = None
        self.finished = False
        self._slot: Frame | None = None
        self._cond = threading.Condition()
        self._halt = threading.Event()
        self._count = 0

    def run(self) -> None:
        try:
            while not self._halt.is_set():
                if self.pace:
                    time.sleep(max(0.0, self._due - time.perf_counter()))
                    self._due = time.perf_counter() + self.pace
                image = self.source.read()
                if image is None:
                    break
                frame = Frame(image, self._count, time.perf_counter())
                self._count += 1
                with self._cond:
                    if not self.source.live:
                        while self._slot is not None and not self._halt.is_set():
                            self._cond.wait(0.1)
                    elif self._slot is not None:
                        self.dropped += 1
                    self._slot = frame
                    self._cond.notify_all()
        except Exception as e:  # surfaced to the consumer as a message, never a thread traceback
            self.error = e
        finally:
            with self._cond:
                self.finished = True
                self._cond.notify_all()

    def take(self, timeout: float = 1.0) -> Frame | None:
        """The newest unconsumed frame, waiting up to `timeout`; None if none came (check `finished`)."""
        with self._cond:
            if self._slot is None and not self.finished:
                self._cond.wait(timeout)
            frame, self._slot = self._slot, None
            self._cond.notify_all()
            return frame

    def stop(self) -> None:
        self._halt.set()
        with self._cond:
            self._cond.notify_all()
        self.join(timeout=5)
        self.source.close()
