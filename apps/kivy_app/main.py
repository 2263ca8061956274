"""edgert on-device app (Kivy): camera or sample preview with detection boxes, a classification label,
FPS, a settings panel (model, threads, score threshold) and a "describe" button.

    python apps/kivy_app/main.py                      # camera (Kivy's on Android, OpenCV's on a desktop)
    python apps/kivy_app/main.py --source sample      # the bundled sample video, looped
    python apps/kivy_app/main.py --source sample --frames 30 --screenshot shot.png --log run.json

Inference runs in a worker thread (pipeline.InferenceWorker); the UI pulls the newest annotated frame
with Clock.schedule_interval. --frames N quits after N processed frames, saving a screenshot of the
window (--screenshot) and a JSON log of every processed frame's detections (--log).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

# Kivy reads sys.argv and writes log files under ~/.kivy unless told not to; set before importing it.
os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_NO_FILELOG", "1")

AUTO = "auto"


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="kivy_app", description=__doc__.split("\n\n")[0])
    p.add_argument("--source", default=AUTO,
                   help="auto (camera, else the sample), kivy (Kivy's camera), 0|/dev/videoN|video|DIR|sample")
    p.add_argument("--model", default=None, help="detector: bundled name, .onnx path or 'none'")
    p.add_argument("--classifier", default=None, help="classifier: bundled name, .onnx path or 'none'")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--backend", default="edgert")
    p.add_argument("--score-threshold", type=float, default=0.3)
    p.add_argument("--frames", type=int, default=None, help="quit after N processed frames")
    p.add_argument("--screenshot", default=None, help="with --frames: save the window as this PNG at the end")
    p.add_argument("--log", default=None, help="write a JSON log of the processed frames here at the end")
    p.add_argument("--describe", action="store_true",
                   help="with --frames: press the describe button on the last frame and log the caption")
    p.add_argument("--timeout", type=float, default=120.0, help="with --frames: give up after this many seconds")
    p.add_argument("--size", default="960x540", help="window size WxH (desktop)")
    args = p.parse_args(argv)
    if args.frames is not None and args.frames < 1:
        p.error("--frames must be positive")
    if args.screenshot and args.frames is None:
        p.error("--screenshot needs --frames (the screenshot is taken after N frames)")
    if args.screenshot and not args.screenshot.lower().endswith(".png"):
        p.error("--screenshot: use a .png file name")
    for path in (args.screenshot, args.log):
        if path and not os.path.isdir(os.path.dirname(os.path.abspath(path))):
            p.error(f"{path}: no such directory")
    if not 0.0 <= args.score_threshold <= 1.0:
        p.error("--score-threshold must be in [0, 1]")
    try:
        w, h = (int(v) for v in args.size.lower().split("x"))
        args.size = (w, h)
    except ValueError:
        p.error("--size must look like 960x540")
    return args


def open_frames(spec: str, platform: str):
    """(FrameSource, spec for reopening, note): the camera when asked or found, else the sample."""
    from edgert.apps.sources import CameraUnavailable, open_source

    if spec == "kivy" or (spec == AUTO and platform == "android"):
        from camera import KivyCameraSource

        try:
            return KivyCameraSource(), "kivy", ""
        except CameraUnavailable as e:
            if spec == "kivy":
                raise
            return open_source("sample"), "sample", f"{e}; showing the bundled sample"
    if spec == AUTO:
        try:
            return open_source("0"), "0", ""
        except CameraUnavailable as e:
            return open_source("sample"), "sample", f"{e}; showing the bundled sample"
    return open_source(spec), spec, ""


def write_json_atomic(path: str, data) -> None:
    tmp = f"{path}.partial-{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1)
    os.replace(tmp, path)


def detection_dict(d) -> dict:
    return {"box": [round(v, 2) for v in d.box], "score": round(d.score, 4), "class_id": d.class_id, "label": d.label}


def main(argv=None) -> int:
    args = parse_args(argv)
    from edgert.apps.sources import open_source
    from edgert.errors import EdgeRTError

    if args.source not in (AUTO, "kivy"):
        try:                                   # a bad --source fails before any window opens
            open_source(args.source).close()
        except EdgeRTError as e:
            print(f"kivy_app: error: {e}", file=sys.stderr)
            return 2
    from kivy.config import Config

    Config.set("graphics", "width", str(args.size[0]))
    Config.set("graphics", "height", str(args.size[1]))
    Config.set("input", "mouse", "mouse,disable_multitouch")
    from ui import EdgertApp

    app = EdgertApp(args)
    app.run()
    return app.exit_code


if __name__ == "__main__":
    sys.exit(main())
