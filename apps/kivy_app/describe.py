"""The "describe" button: a caption of the current frame from edgert's vision-language model, streamed
piece by piece as `VLM.load().generate(image, prompt, stream=True)` yields text.

Versions of edgert without `edgert.tasks.VLM` get a clear message instead of a caption.
"""
from __future__ import annotations

import threading

NO_VLM = "no vision-language model in this edgert version"
PROMPT = ""          # the bundled VLM captions the image for an empty prompt


def vlm_class():
    """edgert.tasks.VLM, or None when this edgert has no vision-language model."""
    try:
        from edgert.tasks import VLM
    except ImportError:
        return None
    return VLM


class Describer:
    """Runs one caption at a time in a thread; `on_text(text_so_far, done)` is called from that thread
    after every streamed piece (the UI hands it to the Kivy clock)."""

    def __init__(self, on_text, threads: int | None = None, prompt: str = PROMPT):
        self.on_text = on_text
        self.threads = threads
        self.prompt = prompt
        self._model = None
        self._thread: threading.Thread | None = None

    @property
    def available(self) -> bool:
        return vlm_class() is not None

    @property
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def describe(self, image_bgr) -> bool:
        """Start captioning `image_bgr`; False (with on_text(NO_VLM, True)) when there is no VLM or a
        caption is still streaming."""
        VLM = vlm_class()
        if VLM is None:
            self.on_text(NO_VLM, True)
            return False
        if self.busy or image_bgr is None:
            return False
        self._thread = threading.Thread(target=self._run, args=(VLM, image_bgr.copy()), daemon=True,
                                        name="edgert-kivy-describe")
        self._thread.start()
        return True

    def _run(self, VLM, image) -> None:
        text = ""
        try:
            if self._model is None:
                self.on_text("loading the vision-language model...", False)
                self._model = VLM.load(threads=self.threads) if self.threads else VLM.load()
            for piece in self._model.generate(image, self.prompt, stream=True, color="BGR"):
                text += str(piece)
                self.on_text(text, False)
            self.on_text(text, True)
        except Exception as e:          # a failed caption is a message in the panel, never a crash
            self.on_text(f"describe failed: {e}", True)
