"""The Kivy widgets of the app: preview, status line, settings panel and describe button."""
from __future__ import annotations

import os
import sys
import time

from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.graphics.texture import Texture
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.image import Image
from kivy.uix.label import Label
from kivy.uix.slider import Slider
from kivy.uix.spinner import Spinner
from kivy.utils import platform

from edgert.errors import EdgeRTError

from describe import Describer
from main import detection_dict, open_frames, write_json_atomic
from pipeline import NONE, InferenceWorker, bundled_names, default_settings

PANEL_WIDTH = 260
THREAD_CHOICES = ("auto", "1", "2", "4")


def _label(text: str = "", **kw) -> Label:
    kw.setdefault("size_hint_y", None)
    kw.setdefault("height", 28)
    label = Label(text=text, halign="left", valign="middle", **kw)
    label.bind(size=lambda w, s: setattr(w, "text_size", s))
    return label


class ControlPanel(BoxLayout):
    def __init__(self, app: "EdgertApp", **kw):
        super().__init__(orientation="vertical", size_hint_x=None, width=PANEL_WIDTH, padding=6, spacing=4, **kw)
        s = app.worker.settings
        detectors = bundled_names("detect") + [NONE]
        classifiers = bundled_names("classify") + [NONE]
        for name, values in ((s.detector, detectors), (s.classifier, classifiers)):
            if name not in values:
                values.insert(0, name)                # a model path given on the command line
        self.add_widget(_label("Detector"))
        self.detector = Spinner(text=s.detector, values=detectors, size_hint_y=None, height=36)
        self.detector.bind(text=lambda _, v: app.worker.configure(detector=v))
        self.add_widget(self.detector)
        self.add_widget(_label("Classifier" + ("" if len(classifiers) > 1 else " (none bundled)")))
        self.classifier = Spinner(text=s.classifier, values=classifiers, size_hint_y=None, height=36)
        self.classifier.bind(text=lambda _, v: app.worker.configure(classifier=v))
        self.add_widget(self.classifier)
        self.add_widget(_label("Threads"))
        self.threads = Spinner(text=str(s.threads) if s.threads else "auto",
                               values=THREAD_CHOICES, size_hint_y=None, height=36)
        self.threads.bind(text=lambda _, v: app.worker.configure(threads=None if v == "auto" else int(v)))
        self.add_widget(self.threads)
        self.threshold_label = _label(f"Score threshold {s.score_threshold:.2f}")
        self.add_widget(self.threshold_label)
        self.threshold = Slider(min=0.01, max=0.95, step=0.01, value=s.score_threshold, size_hint_y=None, height=32)
        self.threshold.bind(value=self._threshold)
        self.add_widget(self.threshold)
        self.app = app
        self.class_label = _label("class: -", height=48)
        self.add_widget(self.class_label)
        self.describe = Button(text="Describe", size_hint_y=None, height=44)
        self.describe.bind(on_release=lambda *_: app.on_describe())
        self.add_widget(self.describe)
        self.caption = Label(text="", halign="left", valign="top")
        self.caption.bind(size=lambda w, sz: setattr(w, "text_size", sz))
        self.add_widget(self.caption)

    def _threshold(self, _, value):
        self.threshold_label.text = f"Score threshold {value:.2f}"
        self.app.worker.configure(score_threshold=round(float(value), 2))


class EdgertApp(App):
    title = "edgert"

    def __init__(self, args, **kw):
        super().__init__(**kw)
        self.args = args
        self.exit_code = 0
        self.frames_log: list[dict] = []
        self.shown: dict | None = None
        self.frozen = False
        self.started = time.perf_counter()
        self.note = ""
        self._texture = None
        self._last_raw = None

    # ---- building
    def build(self):
        if platform == "android":            # the CAMERA permission must also be granted at run time
            from android.permissions import Permission, request_permissions

            request_permissions([Permission.CAMERA])
        try:
            source, spec, self.note = open_frames(self.args.source, platform)
        except EdgeRTError as e:                 # e.g. --source kivy without a camera
            print(f"kivy_app: error: {e}", file=sys.stderr, flush=True)
            self.exit_code = 2
            if self.args.frames:                    # automated run: quit; interactive: show the message
                Clock.schedule_once(lambda _dt: self.stop(), 0.1)
            self.worker = None
            return Label(text=str(e), halign="center")
        self.source_description = source.description
        settings = default_settings(detector=self.args.model, classifier=self.args.classifier,
                                    threads=self.args.threads, backend=self.args.backend,
                                    score_threshold=self.args.score_threshold)
        self.worker = InferenceWorker(spec, settings, loop=True, source=source, on_frame=self._record)
        self.describer = Describer(self._caption_from_thread, threads=self.args.threads)
        root = BoxLayout(orientation="horizontal")
        left = BoxLayout(orientation="vertical")
        self.preview = Image(fit_mode="contain")
        left.add_widget(self.preview)
        self.status = _label(f"{self.source_description} | starting", height=30)
        left.add_widget(self.status)
        root.add_widget(left)
        self.panel = ControlPanel(self)
        root.add_widget(self.panel)
        self.worker.start()
        Clock.schedule_interval(self._pull, 1 / 60)
        return root

    # ---- worker results (UI thread)
    def _record(self, result) -> None:
        """Worker thread: every processed frame goes to the log."""
        if self.args.log:
            self.frames_log.append({"index": result.index, "source_index": result.source_index,
                                    "latency_ms": round(result.latency_ms, 3),
                                    "detections": [detection_dict(d) for d in result.detections]})

    def _pull(self, _dt) -> None:
        worker = self.worker
        if self.args.frames and not self.frozen and time.perf_counter() - self.started > self.args.timeout:
            self._fail(f"no {self.args.frames} frames within {self.args.timeout:.0f} s "
                       f"({worker.processed} processed; {worker.error or worker.status})")
            return
        if worker.error:
            self.status.text = f"{self.source_description} | {worker.error}"
            if self.args.frames and not self.frozen:
                self._fail(worker.error)
            return
        if self.frozen:
            return
        result = worker.latest()
        if result is None:
            return
        self._show(result)
        if self.args.frames and result.index >= self.args.frames:
            self.frozen = True
            worker.pause(True)
            if self.args.describe:
                self.on_describe()
            # let Kivy draw this frame (and a streamed caption) before reading the window back
            Clock.schedule_once(self._finish, 0.5)

    def _show(self, result) -> None:
        image = result.image
        h, w = image.shape[:2]
        if self._texture is None or self._texture.size != (w, h):
            self._texture = Texture.create(size=(w, h), colorfmt="bgr")
            self._texture.flip_vertical()
            self._texture.mag_filter = "nearest"
        self._texture.blit_buffer(image.tobytes(), colorfmt="bgr", bufferfmt="ubyte")
        self.preview.texture = self._texture
        self.preview.canvas.ask_update()
        self._last_raw = result.raw
        labels = " ".join(d.label for d in result.detections)
        errors = "; ".join(self.worker.model_errors)
        self.status.text = (f"{self.source_description} | FPS {result.fps:.1f} | {result.latency_ms:.1f} ms | "
                            f"{len(result.detections)} boxes {labels}" + (f" | {errors}" if errors else "")
                            + (f" | {self.note}" if self.note else ""))
        if result.predictions:
            top = result.predictions[0]
            self.panel.class_label.text = f"class: {top.label} ({top.score:.2f})"
        elif self.worker.settings.classifier == NONE:
            self.panel.class_label.text = "class: no classifier selected"
        self.shown = {"index": result.index, "source_index": result.source_index, "frame_size": [w, h],
                      "detections": [detection_dict(d) for d in result.detections]}

    def _image_rect(self) -> list[float]:
        """Where the frame is drawn, in window pixels (x, y from the bottom-left, width, height)."""
        nw, nh = self.preview.norm_image_size
        return [self.preview.center_x - nw / 2, self.preview.center_y - nh / 2, nw, nh]

    # ---- describe
    def on_describe(self) -> None:
        if not self.describer.describe(self._last_raw):
            if self.describer.available and self.describer.busy:
                self.panel.caption.text += "\n(still describing)"

    def _caption_from_thread(self, text: str, done: bool) -> None:
        Clock.schedule_once(lambda _dt: setattr(self.panel.caption, "text", text), 0)

    # ---- automated runs
    def _finish(self, _dt) -> None:
        if self.describer.busy and time.perf_counter() - self.started < self.args.timeout:
            Clock.schedule_once(self._finish, 0.5)         # the caption is still streaming
            return
        shot = None
        if self.args.screenshot:
            target = os.path.abspath(self.args.screenshot)
            written = Window.screenshot(name=os.path.join(os.path.dirname(target),
                                                          f".{os.path.basename(target)[:-4]}-partial.png"))
            if not written or not os.path.isfile(written):
                self._fail("Window.screenshot wrote no file")
                return
            os.replace(written, target)
            shot = target
        self._write_log(shot)
        print(f"kivy_app: {self.worker.processed} frames processed; shown frame {self.shown['index']} with "
              f"{len(self.shown['detections'])} boxes" + (f"; screenshot {shot}" if shot else ""), flush=True)
        self.stop()

    def _write_log(self, shot, error: str | None = None) -> None:
        if not self.args.log:
            return
        shown = dict(self.shown or {}, rect=self._image_rect()) if self.shown else None
        s = self.worker.settings
        write_json_atomic(self.args.log, {
            "source": self.source_description, "window": list(Window.size), "screenshot": shot, "shown": shown,
            "settings": {"detector": s.detector, "classifier": s.classifier, "threads": s.threads,
                         "score_threshold": s.score_threshold, "backend": s.backend},
            "describe": self.panel.caption.text, "error": error, "frames": list(self.frames_log)})

    def _fail(self, message: str) -> None:
        print(f"kivy_app: error: {message}", file=sys.stderr, flush=True)
        self.exit_code = 1
        self.frozen = True
        self._write_log(None, message)
        self.stop()

    def on_stop(self):
        if self.worker is not None:
            self.worker.stop()
