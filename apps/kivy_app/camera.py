"""Kivy's own camera (kivy.core.camera: the Android camera on a phone, GStreamer/OpenCV providers on a
desktop) as an edgert.apps.sources.FrameSource, so the inference worker reads it like any other source.

Frames arrive in the UI thread (the provider updates a texture); `grab()` turns each into a BGR array:
the Android provider's own NV21 decoder (`read_frame`) where it exists, otherwise the texture's pixels.
"""
from __future__ import annotations

import threading

import numpy as np

from edgert.apps.sources import CameraUnavailable, FrameSource


class KivyCameraSource(FrameSource):
    live = True

    def __init__(self, index: int = 0, resolution=(640, 480), timeout: float = 5.0):
        from kivy.core.camera import Camera as CoreCamera

        if CoreCamera is None:
            raise CameraUnavailable("Kivy has no camera provider on this system (install opencv or gstreamer)")
        try:
            self._camera = CoreCamera(index=index, resolution=resolution, stopped=True)
            self._camera.start()
        except Exception as e:            # providers raise their own types when no camera answers
            raise CameraUnavailable(f"Kivy camera {index}: {e}") from None
        self.description = f"Kivy camera {index}"
        self.timeout = timeout
        self._frame: np.ndarray | None = None
        self._cond = threading.Condition()
        self._camera.bind(on_texture=self.grab)

    def grab(self, *_):
        """UI thread: the provider has a new frame."""
        import cv2

        camera = self._camera
        if hasattr(camera, "read_frame"):                   # Android: NV21 buffer -> BGR
            try:
                frame = camera.read_frame()
            except Exception:
                return
        else:
            texture = camera.texture
            if texture is None:
                return
            w, h = texture.size
            pixels = np.frombuffer(texture.pixels, np.uint8)
            if pixels.size != w * h * 4:
                return
            frame = cv2.cvtColor(pixels.reshape(h, w, 4)[::-1], cv2.COLOR_RGBA2BGR)
        with self._cond:
            self._frame = frame
            self._cond.notify_all()

    def read(self):
        with self._cond:
            if self._frame is None:
                self._cond.wait(self.timeout)
            frame, self._frame = self._frame, None
        if frame is None:
            raise CameraUnavailable(f"{self.description} delivered no frame in {self.timeout:.0f} s")
        return frame

    def close(self) -> None:
        try:
            self._camera.stop()
        except Exception:
            pass
