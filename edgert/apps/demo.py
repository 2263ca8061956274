"""`edgert demo`: live detection (or classification) on a camera, a video, an image folder or the bundled
sample, in a window or headless.

Three threads: capture (edgert.apps.sources.CaptureThread, newest frame only for cameras), inference
(the task), and the main thread, which draws, shows or writes the frames and keeps the statistics.
Without a camera or a display, the default run says so and processes the bundled sample video
headless, writing an annotated video: the pipeline is visible on any machine.
"""
from __future__ import annotations

import os
import queue
import sys
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from edgert.apps import overlay
from edgert.apps.sources import CameraUnavailable, CaptureThread, FrameSource, SourceError, open_source
from edgert.errors import EdgeRTError

TASKS = ("detect", "classify", "vlm")
WINDOW = "edgert demo (q quits, s saves a snapshot, space pauses)"


class DemoError(EdgeRTError):
    """The demo cannot start or continue (no model, bad output path, ...)."""


@dataclass
class DemoOptions:
    task: str = "detect"
    source: str | None = None          # None: camera 0, falling back to the sample
    model: str | None = None
    headless: bool = False
    output: str | None = None
    frames: int | None = None
    threads: int | None = None
    backend: str = "edgert"
    force: bool = False
    score_threshold: float = 0.3


# ------------------------------------------------------------------ tasks

class DetectTask:
    def __init__(self, options: DemoOptions):
        from edgert.tasks import Detector

        self.model = Detector.load(options.model, threads=options.threads, backend=options.backend,
                                   score_threshold=options.score_threshold)
        self.name = f"detect ({self.model.name})"

    def __call__(self, image: np.ndarray):
        return self.model(image)

    def draw(self, image: np.ndarray, result) -> None:
        overlay.draw_detections(image, result)

    @staticmethod
    def describe(result) -> str:
        return f"{len(result)} boxes" + (f": {' '.join(sorted(d.label for d in result))}" if result else "")


class ClassifyTask:
    """Classifies the centred square of the frame (hold the object in the middle)."""

    def __init__(self, options: DemoOptions):
        from edgert.tasks import Classifier

        self.model = Classifier.load(options.model, threads=options.threads, backend=options.backend, top_k=3)
        self.name = f"classify ({self.model.name})"

    def __call__(self, image: np.ndarray):
        return self.model(image)

    def draw(self, image: np.ndarray, result) -> None:
        from edgert.tasks.classifier import centre_square

        overlay.draw_classification(image, result, centre_square(*image.shape[:2]))

    @staticmethod
    def describe(result) -> str:
        return f"{result[0].label} ({result[0].score:.2f})" if result else ""


class VLMTask:
    """Captions frames with the bundled VLM: each frame shows the newest finished caption (the inference
    thread captions the latest frame whenever the previous caption is done); headless runs print it."""

    def __init__(self, options: DemoOptions):
        from edgert.tasks import VLM

        if options.backend != "edgert":
            raise DemoError("edgert demo vlm runs on the edgert backend only")
        self.model = VLM.load(options.model, threads=options.threads)
        self.name = f"vlm ({self.model.name})"

    def __call__(self, image: np.ndarray):
        return self.model.generate(image, max_new_tokens=48, color="BGR").text

    def draw(self, image: np.ndarray, result) -> None:
        overlay.draw_caption(image, result)

    @staticmethod
    def describe(result) -> str:
        return f"caption: {result}"


def make_task(options: DemoOptions):
    if options.task == "detect":
        return DetectTask(options)
    if options.task == "classify":
        return ClassifyTask(options)
    if options.task == "vlm":
        return VLMTask(options)
    raise DemoError(f"unknown demo task {options.task!r}; choose one of {', '.join(TASKS)}")


# ------------------------------------------------------------------ statistics

@dataclass
class Stats:
    started: float = field(default_factory=time.perf_counter)
    latencies_ms: list = field(default_factory=list)        # inference time per processed frame
    end_to_end_ms: list = field(default_factory=list)       # capture -> drawn
    frames: int = 0
    _last_report: float = 0.0
    _window: list = field(default_factory=list)              # result times within the last second

    def add(self, latency_ms: float, captured: float) -> None:
        now = time.perf_counter()
        self.frames += 1
        self.latencies_ms.append(latency_ms)
        self.end_to_end_ms.append((now - captured) * 1e3)
        self._window = [t for t in self._window if now - t < 1.0] + [now]

    @property
    def fps(self) -> float:
        if len(self._window) < 2:
            return 0.0
        return (len(self._window) - 1) / max(1e-9, self._window[-1] - self._window[0])

    def due(self) -> bool:
        """True once per second of wall time."""
        now = time.perf_counter()
        if now - self._last_report >= 1.0:
            self._last_report = now
            return True
        return False

    def line(self, extra: str) -> str:
        elapsed = time.perf_counter() - self.started
        p50 = float(np.percentile(self.latencies_ms[-50:], 50)) if self.latencies_ms else 0.0
        return f"[{elapsed:5.1f} s] {self.frames:5d} frames  {self.fps:5.1f} FPS  latency {p50:6.1f} ms  {extra}"

    def figures(self) -> dict:
        """The summary as numbers (benchmarks/demo_fps.py)."""
        elapsed = time.perf_counter() - self.started
        lat = np.asarray(self.latencies_ms or [np.nan])
        return {"frames": self.frames, "seconds": elapsed, "fps": self.frames / elapsed if elapsed else 0.0,
                "latency_p50_ms": float(np.percentile(lat, 50)), "latency_p90_ms": float(np.percentile(lat, 90)),
                "end_to_end_p50_ms": float(np.percentile(np.asarray(self.end_to_end_ms or [np.nan]), 50))}

    def summary(self, capture: CaptureThread) -> str:
        elapsed = time.perf_counter() - self.started
        if not self.frames:
            return "no frames processed"
        lat = np.asarray(self.latencies_ms)
        e2e = np.asarray(self.end_to_end_ms)
        bad = getattr(capture.source, "bad_frames", 0)
        return (f"summary: {self.frames} frames in {elapsed:.1f} s, mean {self.frames / elapsed:.1f} FPS; "
                f"inference latency p50 {np.percentile(lat, 50):.1f} ms, p90 {np.percentile(lat, 90):.1f} ms; "
                f"capture-to-output p50 {np.percentile(e2e, 50):.1f} ms"
                + (f"; {capture.dropped} older frames dropped (newest-frame policy)" if capture.source.live else "")
                + (f"; {bad} unreadable frames skipped" if bad else ""))


# ------------------------------------------------------------------ output video

class VideoOutput:
    """An annotated video written to a temporary file beside `path`, renamed into place at the end."""

    def __init__(self, path: str, fps: float, force: bool):
        self.path = os.path.abspath(path)
        directory = os.path.dirname(self.path)
        if os.path.isdir(self.path):
            raise DemoError(f"--output {path}: is a directory")
        if os.path.exists(self.path) and not force:
            raise DemoError(f"--output {path}: exists; pass --force to overwrite it")
        if not os.path.isdir(directory):
            raise DemoError(f"--output {path}: no such directory {directory}")
        if not os.access(directory, os.W_OK):
            raise DemoError(f"--output {path}: the directory {directory} is not writable")
        if not self.path.lower().endswith((".mp4", ".avi", ".mkv")):
            raise DemoError(f"--output {path}: use an .mp4, .avi or .mkv file name")
        self.fps = fps
        stem, suffix = os.path.splitext(os.path.basename(self.path))
        self.tmp = os.path.join(directory, f".{stem}.partial-{os.getpid()}{suffix}")
        self._writer = None

    def write(self, image: np.ndarray) -> None:
        import cv2

        if self._writer is None:
            fourcc = cv2.VideoWriter_fourcc(*("mp4v" if self.tmp.lower().endswith(".mp4") else "MJPG"))
            self._writer = cv2.VideoWriter(self.tmp, fourcc, self.fps, (image.shape[1], image.shape[0]))
            if not self._writer.isOpened():
                self._writer = None
                raise DemoError(f"cannot write the video {self.path} (OpenCV could not open a writer)")
        self._writer.write(image)

    def finish(self, keep: bool) -> str | None:
        """Close; rename into place when keep and anything was written, else remove the partial file."""
        if self._writer is None:
            return None
        self._writer.release()
        self._writer = None
        if keep:
            os.replace(self.tmp, self.path)
            return self.path
        os.unlink(self.tmp)
        return None


def default_output() -> str:
    return os.path.abspath(time.strftime("edgert-demo-%Y%m%d-%H%M%S.mp4"))


def display_available() -> str | None:
    """None if an OpenCV window can be opened, else why not."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return "no display (DISPLAY is not set)"
    import cv2

    try:
        cv2.namedWindow(WINDOW, cv2.WINDOW_NORMAL)
    except cv2.error:
        return "this OpenCV build has no window support (opencv-python-headless); pip install opencv-python for one"
    return None


# ------------------------------------------------------------------ the run

def _choose_source(options: DemoOptions, say) -> tuple[FrameSource, bool]:
    """The frame source and whether to run headless."""
    headless_reason = None if options.headless else display_available()
    headless = options.headless or headless_reason is not None
    if options.source is not None:
        if headless_reason:
            say(f"{headless_reason}: running headless")
        return open_source(options.source), headless
    if headless_reason:
        say(f"{headless_reason}: running headless on the bundled sample video")
        return open_source("sample"), True
    try:
        return open_source("0"), headless
    except CameraUnavailable as e:
        say(f"{e}: running headless on the bundled sample video instead")
        return open_source("sample"), True


def _source_fps(source: FrameSource) -> float:
    return getattr(source, "fps", None) or 15.0


class InferenceThread(threading.Thread):
    """Takes the newest frame, runs the task, queues (frame, result, latency) for the main thread."""

    def __init__(self, task, capture: CaptureThread, results: queue.Queue):
        super().__init__(name="edgert-inference", daemon=True)
        self.task, self.capture, self.results = task, capture, results
        self.error: Exception | None = None
        self.stopping = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                frame = self.capture.take(timeout=0.2)
                if frame is None:
                    if self.capture.finished:
                        break
                    continue
                started = time.perf_counter()
                result = self.task(frame.image)
                item = (frame, result, (time.perf_counter() - started) * 1e3)
                while not self.stopping.is_set():
                    try:
                        self.results.put(item, timeout=0.2)
                        break
                    except queue.Full:
                        continue
        except Exception as e:  # reported by the main thread
            self.error = e
        finally:
            while True:               # end marker, unless the main thread has stopped reading
                try:
                    self.results.put(None, timeout=0.2)
                    break
                except queue.Full:
                    if self.stopping.is_set():
                        break


def run_demo(options: DemoOptions, out=print, figures: dict | None = None) -> int:
    """Runs the demo; returns the process exit status (0 ok, 1 runtime failure, 2 bad setup).
    `figures`, when given, receives the summary as numbers (Stats.figures)."""
    try:
        task = make_task(options)
        source, headless = _choose_source(options, out)
    except EdgeRTError as e:
        out(f"edgert demo: {e}")
        return 2
    output = None
    try:
        if options.frames is not None and options.frames < 1:
            raise DemoError(f"--frames must be positive, got {options.frames}")
        if headless or options.output:
            output = VideoOutput(options.output or default_output(), _source_fps(source), options.force)
    except EdgeRTError as e:
        source.close()
        out(f"edgert demo: {e}")
        return 2
    out(f"edgert demo: {task.name} on {source.description}, " + ("headless" if headless else "in a window") +
        (f", writing {output.path}" if output else ""))
    # In a window, a file plays at its own frame rate; headless runs go as fast as inference allows.
    capture = CaptureThread(source, pace_fps=None if headless or source.live else _source_fps(source))
    results: queue.Queue = queue.Queue(maxsize=4)
    inference = InferenceThread(task, capture, results)
    stats = Stats()
    status, failed = 0, None
    capture.start()
    inference.start()
    try:
        failed = _main_loop(task, results, stats, output, headless, options, out)
    except KeyboardInterrupt:
        out("interrupted")
    except EdgeRTError as e:
        failed = str(e)
    finally:
        inference.stopping.set()
        capture.stop()
        inference.join(timeout=5)
        if not headless:
            import cv2

            cv2.destroyAllWindows()
    for thread, what in ((capture, "capture"), (inference, "inference")):
        if thread.error is not None and failed is None:
            failed = f"{what} failed: {thread.error}"
    if failed:
        out(f"edgert demo: {failed}")
        status = 1
    written = output.finish(keep=stats.frames > 0) if output else None
    out(stats.summary(capture))
    if figures is not None:
        figures.update(stats.figures())
    if written:
        out(f"annotated video: {written}")
    return status


def _main_loop(task, results: queue.Queue, stats: Stats, output, headless: bool, options: DemoOptions, out):
    """Draw, show/write and count results until the source ends, --frames is reached or q is pressed."""
    import cv2

    paused, shown = False, None
    while True:
        try:
            item = results.get(timeout=0.05)
        except queue.Empty:
            item = "empty"
        if item is None:
            return None
        if item != "empty" and not paused:
            frame, result, latency = item
            stats.add(latency, frame.captured)
            image = frame.image.copy()
            task.draw(image, result)
            overlay.draw_status(image, stats.fps, latency)
            shown = image
            if output is not None:
                output.write(image)
            if stats.due():
                out(stats.line(task.describe(result)))
            if options.frames is not None and stats.frames >= options.frames:
                return None
        if not headless:
            if shown is not None:   # small frames (a 320x240 webcam mode, the sample) shown at least 480 high
                zoom = max(1, 480 // shown.shape[0])
                cv2.imshow(WINDOW, shown if zoom == 1 else cv2.resize(shown, None, fx=zoom, fy=zoom,
                                                                      interpolation=cv2.INTER_NEAREST))
            key = cv2.waitKey(1) & 0xFF
            if key in (ord("q"), 27):
                return None
            if key == ord(" "):
                paused = not paused
            if key == ord("s") and shown is not None:
                path = os.path.abspath(time.strftime("edgert-snapshot-%Y%m%d-%H%M%S.png"))
                out(f"snapshot: {path}" if cv2.imwrite(path, shown) else f"cannot write the snapshot {path}")
            if cv2.getWindowProperty(WINDOW, cv2.WND_PROP_VISIBLE) < 1:
                return None      # the window was closed
