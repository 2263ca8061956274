"""onnxruntime behind edgert's Session API (reference backend, fallback and bench peer)."""
from __future__ import annotations

import os

import numpy as np

from edgert.backends.base import SessionBase, resolve_threads
from edgert.errors import BackendUnavailableError, ModelLoadError
from edgert.ir import TensorInfo

_ORT_TYPES = {
    "tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64,
    "tensor(int8)": np.int8, "tensor(uint8)": np.uint8, "tensor(int16)": np.int16,
    "tensor(int32)": np.int32, "tensor(int64)": np.int64, "tensor(bool)": np.bool_,
}


class OnnxRuntimeSession(SessionBase):
    backend = "onnxruntime"

    def __init__(self, model, threads=None, spinning: bool = True):
        try:
            import onnxruntime as ort
        except ImportError:
            raise BackendUnavailableError("onnxruntime is not installed (pip install onnxruntime)") from None
        self.threads = resolve_threads(threads)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        if not spinning:  # idle workers sleep instead of spinning (fair interleaved benchmarks)
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if not isinstance(model, (bytes, bytearray)):
            if hasattr(model, "SerializeToString"):
                model = model.SerializeToString()
            else:
                path = os.fspath(model)
                if not os.path.isfile(path):
                    raise ModelLoadError(f"{path}: no such model file")
                model = path
        try:
            self._sess = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
        except Exception as e:
            raise ModelLoadError(f"onnxruntime cannot load the model: {e}") from None
        self._inputs = [self._info(i) for i in self._sess.get_inputs()]
        self._outputs = [self._info(o) for o in self._sess.get_outputs()]

    @staticmethod
    def _info(arg) -> TensorInfo:
        shape = None if arg.shape is None else tuple(arg.shape)
        # Types without a numeric numpy equivalent (strings, ...) are reported as object.
        return TensorInfo(arg.name, shape, np.dtype(_ORT_TYPES.get(arg.type, np.object_)))

    def _run(self, arrays):
        feeds = {t.name: a for t, a in zip(self._inputs, arrays)}
        outs = self._sess.run(None, feeds)
        return {t.name: np.asarray(o) for t, o in zip(self._outputs, outs)}
