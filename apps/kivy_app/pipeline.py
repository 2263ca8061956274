"""The app's inference side, free of Kivy: frames from a source, detection and classification in a
worker thread, annotated frames handed to the UI through a one-result slot.

The UI thread never runs a model: it calls `InferenceWorker.latest()` from a Kivy clock callback and
shows whatever finished last. Settings changes (model, threads, threshold) are queued and applied by
the worker between frames, so reloading a model never blocks the preview either.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace

import numpy as np

from edgert.apps import overlay
from edgert.apps.sources import CaptureThread, FrameSource, open_source
from edgert.errors import EdgeRTError

NONE = "none"


@dataclass(frozen=True)
class Settings:
    detector: str = NONE            # bundled detector name, a model path, or "none"
    classifier: str = NONE          # bundled classifier name, a model path, or "none"
    threads: int | None = None      # None: edgert's default
    score_threshold: float = 0.3
    backend: str = "edgert"


@dataclass
class Result:
    index: int                       # processed-frame counter (1, 2, ...)
    source_index: int                # the frame's position in its source
    image: np.ndarray                # annotated BGR frame
    detections: list = field(default_factory=list)
    predictions: list = field(default_factory=list)
    latency_ms: float = 0.0          # detector + classifier time of this frame
    fps: float = 0.0                 # processed frames per second over the last second
    raw: np.ndarray | None = None    # the frame before drawing (the describe button captions this)


def bundled_names(task: str) -> list[str]:
    from edgert.tasks import bundled_models

    try:
        return [m.name for m in bundled_models(task)]
    except EdgeRTError:
        return []


def default_settings(**overrides) -> Settings:
    """The first bundled detector and classifier (or "none" where edgert ships none)."""
    detectors, classifiers = bundled_names("detect"), bundled_names("classify")
    base = Settings(detector=detectors[0] if detectors else NONE, classifier=classifiers[0] if classifiers else NONE)
    return replace(base, **{k: v for k, v in overrides.items() if v is not None})


class Models:
    """The loaded detector/classifier for one Settings; load errors become a message, not an exception."""

    def __init__(self, settings: Settings):
        from edgert.tasks import Classifier, Detector

        self.settings = settings
        self.detector = self.classifier = None
        self.errors: list[str] = []
        if settings.detector != NONE:
            try:
                self.detector = Detector.load(settings.detector, threads=settings.threads, backend=settings.backend,
                                              score_threshold=settings.score_threshold)
            except EdgeRTError as e:
                self.errors.append(f"detector: {e}")
        if settings.classifier != NONE:
            try:
                self.classifier = Classifier.load(settings.classifier, threads=settings.threads,
                                                  backend=settings.backend, top_k=3)
            except EdgeRTError as e:
                self.errors.append(f"classifier: {e}")

    def same_files(self, settings: Settings) -> bool:
        """True when `settings` needs no reload (only the threshold differs)."""
        return replace(self.settings, score_threshold=settings.score_threshold) == settings


class InferenceWorker(threading.Thread):
    """Takes the newest frame of `source`, runs the models, draws, and keeps the result for the UI.

    A recorded source (the sample video, a file) starts over at its end when `loop` is set, so the
    preview keeps running; `on_frame(result)` (if given) sees every result in the worker thread."""

    def __init__(self, source_spec: str, settings: Settings, loop: bool = True, source: FrameSource | None = None,
                 on_frame=None):
        super().__init__(name="edgert-kivy-inference", daemon=True)
        self.source_spec = source_spec
        self.loop = loop
        self.on_frame = on_frame
        self.status = "starting"
        self.error: str | None = None          # a fatal error (source gone): the UI shows it
        self.model_errors: list[str] = []
        self.processed = 0
        self._settings = settings
        self._models: Models | None = None
        self._lock = threading.Lock()
        self._latest: Result | None = None
        self._halt = threading.Event()
        self._paused = threading.Event()
        self._times: list[float] = []
        self._capture = CaptureThread(source if source is not None else open_source(source_spec))
        self._capture.start()

    # ---- called from the UI thread
    def configure(self, **changes) -> None:
        with self._lock:
            self._settings = replace(self._settings, **changes)

    @property
    def settings(self) -> Settings:
        with self._lock:
            return self._settings

    def latest(self) -> Result | None:
        """The newest result not yet taken (None if nothing new)."""
        with self._lock:
            result, self._latest = self._latest, None
            return result

    def pause(self, paused: bool) -> None:
        (self._paused.set if paused else self._paused.clear)()

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=10)
        self._capture.stop()

    # ---- the worker thread
    def _models_for(self, settings: Settings) -> Models:
        if self._models is None or not self._models.same_files(settings):
            self.status = "loading models"
            self._models = Models(settings)
            self.model_errors = self._models.errors
        self.status = "running"
        return self._models

    def _next_frame(self):
        while not self._halt.is_set():
            frame = self._capture.take(timeout=0.5)
            if frame is not None:
                return frame
            if self._capture.finished:
                if self._capture.error is not None:
                    raise self._capture.error
                if not self.loop or self._capture.source.live:
                    return None
                self._capture.stop()                    # end of the recording: start it over
                self._capture = CaptureThread(open_source(self.source_spec))
                self._capture.start()
        return None

    def run(self) -> None:
        try:
            while not self._halt.is_set():
                if self._paused.is_set():
                    time.sleep(0.05)
                    continue
                frame = self._next_frame()
                if frame is None:
                    self.status = "source ended"
                    break
                settings = self.settings
                models = self._models_for(settings)
                self._publish(self._process(frame, models, settings))
        except Exception as e:     # shown in the window; the app keeps its UI alive
            self.error = f"{type(e).__name__}: {e}" if not isinstance(e, EdgeRTError) else str(e)
            self.status = "stopped"

    def _process(self, frame, models: Models, settings: Settings) -> Result:
        start = time.perf_counter()
        detections = models.detector(frame.image, score_threshold=settings.score_threshold) \
            if models.detector is not None else []
        predictions = models.classifier(frame.image, top_k=3) if models.classifier is not None else []
        latency_ms = (time.perf_counter() - start) * 1e3
        now = time.perf_counter()
        self._times = [t for t in self._times if now - t < 1.0] + [now]
        fps = (len(self._times) - 1) / max(1e-9, self._times[-1] - self._times[0]) if len(self._times) > 1 else 0.0
        image = frame.image.copy()
        overlay.draw_detections(image, detections)
        overlay.draw_status(image, fps, latency_ms)
        self.processed += 1
        return Result(self.processed, frame.index, image, detections, predictions, latency_ms, fps, frame.image)

    def _publish(self, result: Result) -> None:
        if self.on_frame is not None:
            self.on_frame(result)
        with self._lock:
            self._latest = result
