"""Run .tflite models with ai-edge-litert's interpreter in tests: feeds by name or position, float
feeds quantized for int8/uint8 inputs, outputs optionally dequantized, a chosen thread count."""

from __future__ import annotations

import os
from typing import Mapping, Sequence

import numpy as np
import pytest


def _interpreter_class():
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        pytest.skip("ai-edge-litert is not installed")
    return Interpreter


class LiteRTModel:
    """One loaded .tflite (path or bytes). reference=True uses TFLite's reference kernels and no
    delegate (the spec of each op); the default is what users get: built-in kernels with XNNPACK."""

    def __init__(self, model, threads: int = 1, reference: bool = False):
        Interpreter = _interpreter_class()
        kwargs = {"num_threads": threads}
        if reference:
            from ai_edge_litert.interpreter import OpResolverType
            kwargs["experimental_op_resolver_type"] = OpResolverType.BUILTIN_REF
        if isinstance(model, (bytes, bytearray)):
            kwargs["model_content"] = bytes(model)
        else:
            kwargs["model_path"] = os.fspath(model)
        self.interpreter = Interpreter(**kwargs)
        self.interpreter.allocate_tensors()
        self.inputs = self.interpreter.get_input_details()
        self.outputs = self.interpreter.get_output_details()

    @staticmethod
    def quant(detail) -> tuple[float, int] | None:
        """(scale, zero_point) of a per-tensor quantized tensor, None for float tensors."""
        scale, zero_point = detail["quantization"]
        return (float(scale), int(zero_point)) if scale else None

    def run(self, feeds: Mapping[str, np.ndarray] | Sequence[np.ndarray],
            dequantize: bool = False) -> dict[str, np.ndarray]:
        """Outputs by name, in the model's output order. Float feeds for integer inputs are
        quantized with the input's scale and zero point; dequantize=True returns integer outputs
        as floats (scale * (q - zero_point))."""
        if isinstance(feeds, Mapping):
            missing = [d["name"] for d in self.inputs if d["name"] not in feeds]
            assert not missing, f"no feed for inputs {missing}"
            arrays = [feeds[d["name"]] for d in self.inputs]
        else:
            arrays = list(feeds)
            assert len(arrays) == len(self.inputs), f"{len(arrays)} feeds for {len(self.inputs)} inputs"
        for detail, array in zip(self.inputs, arrays):
            array = np.asarray(array)
            dtype = np.dtype(detail["dtype"])
            if dtype.kind in "iu" and array.dtype.kind == "f":
                scale, zero_point = self.quant(detail)
                info = np.iinfo(dtype)
                array = np.clip(np.round(array / scale) + zero_point, info.min, info.max)
            self.interpreter.set_tensor(detail["index"], np.ascontiguousarray(array, dtype=dtype))
        self.interpreter.invoke()
        results = {}
        for detail in self.outputs:
            value = np.array(self.interpreter.get_tensor(detail["index"]))
            q = self.quant(detail)
            if dequantize and q is not None and value.dtype.kind in "iu":
                value = ((value.astype(np.float64) - q[1]) * q[0]).astype(np.float32)
            results[detail["name"]] = value
        return results


def run_litert(model, feeds, threads: int = 1, dequantize: bool = False, reference: bool = False):
    """Load `model` and run it once (see LiteRTModel.run)."""
    return LiteRTModel(model, threads=threads, reference=reference).run(feeds, dequantize=dequantize)


@pytest.fixture(name="litert")
def litert_fixture():
    """The run_litert helper, skipping the test when ai-edge-litert is not installed."""
    _interpreter_class()
    return run_litert
