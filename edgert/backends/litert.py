"""LiteRT (TFLite interpreter) behind edgert's Session API, for .tflite models.

Uses ai-edge-litert, the maintained interpreter; tflite-runtime is only a fallback since
its 2.14 wheels cannot import under numpy 2."""
from __future__ import annotations

import os

import numpy as np

from edgert.backends.base import SessionBase, resolve_threads
from edgert.errors import BackendUnavailableError, ModelLoadError
from edgert.ir import TensorInfo


def _interpreter_class():
    try:
        from ai_edge_litert.interpreter import Interpreter
        return Interpreter
    except ImportError:
        pass
    try:
        from tflite_runtime.interpreter import Interpreter
        return Interpreter
    except Exception:
        raise BackendUnavailableError("LiteRT is not installed (pip install ai-edge-litert)") from None


class LiteRTSession(SessionBase):
    backend = "litert"

    def __init__(self, model, threads=None):
        Interpreter = _interpreter_class()
        self.threads = resolve_threads(threads)
        kwargs = {"num_threads": self.threads}
        if isinstance(model, (bytes, bytearray)):
            kwargs["model_content"] = bytes(model)
        else:
            path = os.fspath(model)
            if not os.path.isfile(path):
                raise ModelLoadError(f"{path}: no such model file")
            kwargs["model_path"] = path
        try:
            self._interp = Interpreter(**kwargs)
            self._interp.allocate_tensors()
        except Exception as e:
            raise ModelLoadError(f"LiteRT cannot load the model: {e}") from None
        self._in_details = self._interp.get_input_details()
        self._out_details = self._interp.get_output_details()
        self._inputs = [self._info(d) for d in self._in_details]
        self._outputs = [self._info(d) for d in self._out_details]

    @staticmethod
    def _info(d) -> TensorInfo:
        sig = d.get("shape_signature", d["shape"])
        shape = tuple(int(s) if s >= 0 else None for s in sig)
        return TensorInfo(d["name"], shape, np.dtype(d["dtype"]))

    def _run(self, arrays):
        resized = False
        for d, a in zip(self._in_details, arrays):
            if tuple(d["shape"]) != a.shape:
                self._interp.resize_tensor_input(d["index"], a.shape)
                resized = True
        if resized:
            self._interp.allocate_tensors()
            self._in_details = self._interp.get_input_details()
            self._out_details = self._interp.get_output_details()
        for d, a in zip(self._in_details, arrays):
            self._interp.set_tensor(d["index"], a)
        self._interp.invoke()
        return {t.name: np.array(self._interp.get_tensor(d["index"])) for t, d in zip(self._outputs, self._out_details)}
