"""edgert: a fast inference runtime for vision and vision-language models on edge CPUs.

    import edgert
    sess = edgert.load("model.onnx", threads=2)
    outputs = sess.run({"images": batch})
"""
from __future__ import annotations

import warnings

from edgert.errors import (BackendUnavailableError, EdgeRTError, InputError, ModelLoadError,
                           UnsupportedOperatorError)
from edgert.ir import TensorInfo

__version__ = "0.1.0"
BACKENDS = ("edgert", "onnxruntime", "litert", "auto")

__all__ = ["load", "EdgeRTError", "ModelLoadError", "UnsupportedOperatorError", "InputError",
           "BackendUnavailableError", "TensorInfo", "BACKENDS", "__version__"]


def load(model, threads: int | None = None, backend: str = "edgert"):
    """Load an ONNX model (path, bytes or onnx.ModelProto) or a TFLite model (.tflite path or bytes).

    backend: "edgert" (native kernels), "onnxruntime", "litert", or "auto" (edgert, falling back to
    onnxruntime -- or LiteRT for a .tflite -- with a warning when the model uses something edgert cannot run).
    threads: worker threads including the caller (None = all available cores).
    """
    if backend not in BACKENDS:
        raise EdgeRTError(f"backend must be one of {BACKENDS}, got {backend!r}")
    from edgert.runtime.session import Session, is_tflite
    if backend == "litert":
        from edgert.backends.litert import LiteRTSession
        return LiteRTSession(model, threads)
    if backend == "onnxruntime":
        from edgert.backends.onnxruntime import OnnxRuntimeSession
        return OnnxRuntimeSession(model, threads)
    if backend == "edgert":
        return Session(model, threads)
    try:
        return Session(model, threads)
    except UnsupportedOperatorError as e:
        if is_tflite(model):
            from edgert.backends.litert import LiteRTSession as Fallback
        else:
            from edgert.backends.onnxruntime import OnnxRuntimeSession as Fallback
        try:
            sess = Fallback(model, threads)
        except BackendUnavailableError:
            raise e from None
        sess.fallback_reason = str(e)
        warnings.warn(f"edgert: {e}; running this model on {sess.backend} instead", RuntimeWarning, stacklevel=2)
        return sess
