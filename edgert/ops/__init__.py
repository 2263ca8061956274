"""ONNX operator semantics in numpy (NCHW, exactly as the ONNX spec defines them).

These implementations are the runtime's definition of each operator: the planner uses
them to fold constant subgraphs and to infer shapes, and runs them for the light
data-movement operators (Reshape, Concat, Resize, ...). Heavy operators (Conv, Gemm,
pools, activations) run on the native kernels instead; see edgert.runtime.lower.
"""
from edgert.ops.reference import REFERENCE, has_reference, run_reference
from edgert.ops import quantized  # noqa: F401  (registers the quantization operators)
from edgert.ops import sequence  # noqa: F401  (registers RMSNormalization, CausalConvWithState, LinearAttention)
from edgert.ops import ska  # noqa: F401  (registers ai.edgert SKA)

__all__ = ["REFERENCE", "has_reference", "run_reference"]
