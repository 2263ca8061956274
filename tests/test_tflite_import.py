"""TFLite import: every operator edgert reads from .tflite files, built in fp32, fp16-weight, int8 and
uint8 form, run through edgert.load and compared with ai-edge-litert on the same file; whole models
made by onnx_to_tflite; malformed files.

Bounds: float outputs within 1e-4 * max|LiteRT output|. Quantized outputs: every element within one
quantization step of LiteRT (for a float output behind DEQUANTIZE the step is the scale of the
tensor it dequantizes), every element either identical to LiteRT's or a correct rounding of the
exact result (computed by the net's float "twin", see Net), and at least 99% identical wherever
LiteRT's integer kernel itself rounds exactly. Its MUL, MEAN, RESIZE_BILINEAR and AVERAGE_POOL_2D
(edge windows) kernels do not: they differ from the exact result by a step on a few percent of the
elements (up to ~17% for MEAN), and there edgert follows the exact result."""
from __future__ import annotations

import math
import struct

import numpy as np
import pytest

import edgert
from edgert.errors import EdgeRTError, ModelLoadError, UnsupportedOperatorError
from edgert.exporters.tflite import TFLiteBuilder
from edgert.importers.tflite import import_tflite

import model_zoo as mz
from litert_util import run_litert

REL_TOL = 1e-4
MIN_IDENTICAL = 0.99

# ------------------------------------------------------------------------------------ model building


def quant_for_range(lo: float, hi: float, dtype: str = "int8"):
    """Asymmetric per-tensor parameters covering [lo, hi] (and 0)."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    qmin, qmax = (-128, 127) if dtype == "int8" else (0, 255)
    scale = (hi - lo) / (qmax - qmin) if hi > lo else 1e-3
    zero_point = int(np.clip(round(qmin - lo / scale), qmin, qmax))
    return TFLiteBuilder.quant(scale, zero_point)


def quantize(x: np.ndarray, q, dtype: str) -> np.ndarray:
    info = np.iinfo(dtype)
    scale, zero_point = q.scale_array(), q.zero_point_array()
    return np.clip(np.round(x / scale) + zero_point, info.min, info.max).astype(dtype)


class Net:
    """A small .tflite model in one precision.

    fp32: float tensors. fp16: float constants stored as float16 behind DEQUANTIZE (what the TFLite
    converter writes for float16 weights). int8 / int8-pt / uint8: quantized input, activations and
    output; int8 weights symmetric per output channel (int8-pt: per tensor), uint8 weights asymmetric
    per tensor, int32 biases with scale input_scale * weight_scale. Activation ranges come from the
    fp32 build of the same net (`ranges`, measured on first use), so the rng draws the same numbers
    in every precision.

    twin=True builds the exact-arithmetic twin of a quantized net: the same graph in float32 with
    the dequantized constants and inputs, and every computed tensor rounded to its quantization grid
    by QUANTIZE -> DEQUANTIZE. Run on LiteRT's float kernels it gives the correctly rounded result
    of each quantized operator."""

    def __init__(self, precision: str, ranges=None, seed: int = 0, twin: bool = False):
        self.precision = precision
        self.quantized = precision in ("int8", "int8-pt", "uint8")
        self.twin = twin and self.quantized
        self.qdtype = "uint8" if precision == "uint8" else "int8"
        self.b = TFLiteBuilder()
        self.rng = np.random.default_rng(seed)
        self._ranges = ranges
        self.feeds: dict[str, np.ndarray] = {}
        self.steps: dict[str, float] = {}  # float output -> quantization step it carries
        self.quants: dict[str, object] = {}  # tensor name -> its quantization (twin tensors are float)
        self._rounded: dict[int, tuple] = {}  # twin: tensor -> (raw op output, quantized copy)
        self.raw: dict[str, object] = {}  # twin: tensor name -> its value before rounding

    def randn(self, *shape, std=0.5) -> np.ndarray:
        return (self.rng.standard_normal(shape) * std).astype(np.float32)

    def quant_of(self, ref):
        return self.quants.get(ref.name, ref.quant)

    def _quantized_const(self, name, values, q):
        self.quants[name] = q
        if not self.twin:
            return self.b.const(name, values, quant=q)
        shape = [1] * values.ndim
        if q.per_channel:
            shape[q.axis] = -1
        real = (values.astype(np.float64) - q.zero_point_array().reshape(shape)) * q.scale_array().reshape(shape)
        return self.b.const(name, real.astype(np.float32))

    def input(self, name, shape, lo=-1.0, hi=1.0, dtype=None, quant=None):
        x = self.rng.uniform(lo, hi, shape).astype(np.float32)
        if not self.quantized or dtype == "float32":
            self.feeds[name] = x
            return self.b.input(name, shape)
        q = quant or quant_for_range(lo, hi, self.qdtype)
        self.quants[name] = q
        xq = quantize(x, q, self.qdtype)
        if self.twin:
            self.feeds[name] = ((xq.astype(np.float64) - q.zero_point_array()) * q.scale_array()).astype(np.float32)
            return self.b.input(name, shape)
        self.feeds[name] = xq
        return self.b.input(name, shape, self.qdtype, q)

    def act(self, name, shape, like=None, quant=None, dtype=None):
        """A computed tensor: float, or quantized like `like`, with `quant`, or from its fp32 range."""
        if not self.quantized or dtype == "float32":
            return self.b.tensor(name, shape)
        if quant is None:
            quant = self.quant_of(like) if like is not None else quant_for_range(*self._ranges()[name], self.qdtype)
        self.quants[name] = quant
        if not self.twin:
            return self.b.tensor(name, shape, self.qdtype, quant)
        ref = self.b.tensor(name, shape)
        self.raw[name] = self.b.tensor(f"{name}_raw", shape)
        self._rounded[int(ref)] = (self.raw[name], self.b.tensor(f"{name}_q", shape, self.qdtype, quant))
        return ref

    def weights(self, name, w: np.ndarray, axis: int = 0):
        if self.precision == "fp32":
            return self.b.const(name, w)
        if self.precision == "fp16":
            return self._dequantized(name, w)
        if self.precision == "uint8":
            q = quant_for_range(w.min(), w.max(), "uint8")
            return self._quantized_const(name, quantize(w, q, "uint8"), q)
        if self.precision == "int8-pt":
            scale = max(float(np.abs(w).max()), 1e-6) / 127
            q = self.b.quant(scale, 0)
        else:
            others = tuple(a for a in range(w.ndim) if a != axis)
            scale = np.maximum(np.abs(w).max(axis=others), 1e-6) / 127
            q = self.b.quant(scale, np.zeros(w.shape[axis], np.int64), axis=axis)
        shape = [1] * w.ndim
        if q.per_channel:
            shape[axis] = -1
        values = np.clip(np.round(w / q.scale_array().reshape(shape)), -127, 127).astype(np.int8)
        return self._quantized_const(name, values, q)

    def bias(self, name, bias: np.ndarray, x, w):
        if not self.quantized:
            return self.weights(name, bias)
        scale = np.float64(self.quant_of(x).scale[0]) * np.asarray(self.quant_of(w).scale, np.float64)
        values = np.round(bias / scale).astype(np.int32)
        per_channel = scale.size > 1  # bias quantization follows the weights'
        q = self.b.quant(scale, np.zeros(scale.size, np.int64), axis=0 if per_channel else None)
        return self._quantized_const(name, values, q)

    def const(self, name, value: np.ndarray, like=None):
        """A float constant operand (ADD operand, PRELU alpha, concatenated constant, pad value)."""
        if self.precision == "fp32":
            return self.b.const(name, value)
        if self.precision == "fp16":
            return self._dequantized(name, value)
        q = self.quant_of(like) if like is not None else quant_for_range(value.min(), value.max(), self.qdtype)
        return self._quantized_const(name, quantize(value, q, self.qdtype), q)

    def _dequantized(self, name, value):
        half = self.b.const(f"{name}_fp16", value.astype(np.float16))
        out = self.b.tensor(name, value.shape)
        self.b.op("DEQUANTIZE", [half], [out])
        return out

    def ints(self, name, values):
        return self.b.const(name, np.asarray(values, np.int32))

    def op(self, op_type, inputs, outputs, **options):
        if op_type == "DEQUANTIZE" and inputs[0].quant is not None:
            for out in outputs:
                self.steps[out.name] = float(inputs[0].quant.scale[0])
        self.b.op(op_type, inputs, [self._rounded.get(int(o), (o,))[0] for o in outputs], **options)
        for out in outputs:  # twin: round the float result to its quantization grid
            if int(out) in self._rounded:
                raw, q = self._rounded[int(out)]
                self.b.op("QUANTIZE", [raw], [q])
                self.b.op("DEQUANTIZE", [q], [out])

    def output(self, *refs):
        for r in refs:
            self.b.output(r)

    def finish(self) -> bytes:
        return self.b.finish()


def float_ranges(data: bytes, feeds: dict) -> dict[str, tuple[float, float]]:
    """(min, max) of every float32 tensor of an fp32 model run on feeds, from LiteRT's own kernels."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interp = Interpreter(model_content=data, experimental_preserve_all_tensors=True,
                         experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interp.allocate_tensors()
    for d in interp.get_input_details():
        interp.set_tensor(d["index"], feeds[d["name"]])
    interp.invoke()
    ranges = {}
    for d in interp.get_tensor_details():
        if d["dtype"] == np.float32 and d["shape"].size and np.prod(d["shape"]) > 0:
            t = interp.get_tensor(d["index"])
            ranges[d["name"]] = (float(t.min()), float(t.max()))
    return ranges


def build(case, precision: str) -> Net:
    measured = {}

    def ranges():
        if not measured:
            fp = Net("fp32")
            case(fp)
            measured.update(float_ranges(fp.finish(), fp.feeds))
        return measured

    net = Net(precision, ranges)
    case(net)
    return net


# ------------------------------------------------------------------------------------ comparison


def litert_reference(data: bytes, feeds: dict) -> dict[str, np.ndarray]:
    """LiteRT's reference kernels (the spec of each TFLite op; no XNNPACK delegate, which also
    refuses some valid int8 files, e.g. concatenation with requantized inputs)."""
    return run_litert(data, feeds, reference=True)


def run_both(data, feeds):
    expected = litert_reference(data, feeds)
    actual = edgert.load(data, threads=1, backend="edgert").run(feeds)
    return actual, expected


def assert_close(actual: dict, expected: dict, steps: dict | None = None, quantized: bool = False,
                 exact: dict | None = None, min_identical: float = MIN_IDENTICAL):
    """Float outputs: within REL_TOL * max|LiteRT|. Quantized outputs (and float outputs of
    quantized nets, in units of `steps`): within one step of LiteRT everywhere, at least
    `min_identical` identical, and, where `exact` gives the exact result in steps, every element
    that differs from LiteRT is a correct rounding of it (LiteRT's integer kernels approximate
    some operators; edgert's QDQ evaluation rounds the exact value)."""
    steps, exact = steps or {}, exact or {}
    assert sorted(actual) == sorted(expected), f"output names {sorted(actual)} != LiteRT's {sorted(expected)}"
    for name, ref in expected.items():
        out = actual[name]
        assert out.shape == ref.shape, f"{name}: shape {out.shape} != LiteRT's {ref.shape}"
        assert out.dtype == ref.dtype, f"{name}: dtype {out.dtype} != LiteRT's {ref.dtype}"
        if ref.dtype.kind == "f" and not (quantized and name in steps):
            scale = float(np.abs(ref).max())
            tol = REL_TOL * scale if scale > 0 else 1e-6
            diff = np.abs(out.astype(np.float64) - ref)
            assert np.all(np.isfinite(out)), f"{name}: non-finite values"
            assert diff.max() <= tol, (f"{name}: max abs error {diff.max():.3g} > {tol:.3g} "
                                       f"at {np.unravel_index(int(diff.argmax()), diff.shape)}")
            continue
        step = steps.get(name, 1.0)
        got, want = out.astype(np.float64) / step, ref.astype(np.float64) / step
        diff = np.abs(got - want)
        same = diff < 1e-3
        worst = np.unravel_index(int(diff.argmax()), diff.shape)
        assert diff.max() <= 1 + 1e-3, f"{name}: differs from LiteRT by {diff.max():.2f} quantization steps at {worst}"
        if name in exact:
            wrong = ~same & (np.abs(got - exact[name]) > 0.5 + 1e-3)
            if wrong.any():
                at = tuple(int(i) for i in np.argwhere(wrong)[0])
                raise AssertionError(f"{name}: {int(wrong.sum())} elements differ from LiteRT and are not a rounding "
                                     f"of the exact result, e.g. at {at}: got {got[at]}, LiteRT {want[at]}, "
                                     f"exact {exact[name][at]:.4f}")
        identical = float(np.mean(same))
        assert identical >= min_identical, f"{name}: only {identical:.1%} of {ref.size} elements identical to LiteRT"


def exact_results(case, net: Net) -> dict[str, np.ndarray]:
    """Output name -> the exact result of each quantized output in quantization steps (clipped to
    the type's range), from the net's float twin run on LiteRT's float kernels."""
    twin = Net(net.precision, net._ranges, twin=True)
    case(twin)
    twin.output(*twin.raw.values())
    values = litert_reference(twin.finish(), twin.feeds)
    info = np.iinfo(net.qdtype)
    exact = {}
    for name, raw in twin.raw.items():
        q = twin.quants[name]
        exact[name] = np.clip(values[raw.name].astype(np.float64) / q.scale[0] + q.zero_point[0], info.min, info.max)
    return exact


def check(case, precision):
    """case.litert_exact: LiteRT's int8 kernel rounds exactly, so the 99% identical bound applies;
    case.twin: the case has a float twin (QUANTIZE/DEQUANTIZE cases do not)."""
    net = build(case, precision)
    data = net.finish()
    actual, expected = run_both(data, net.feeds)
    exact = exact_results(case, net) if net.quantized and case.twin else None
    assert_close(actual, expected, net.steps, net.quantized, exact, MIN_IDENTICAL if case.litert_exact else 0.0)


# ------------------------------------------------------------------------------------ operator cases


def _out_size(size, k, stride, padding, dilation=1):
    extent = (k - 1) * dilation + 1
    return -(-size // stride) if padding == "SAME" else (size - extent) // stride + 1


def conv2d(m, padding="SAME", stride=1, act="NONE", hw=(9, 8), cin=3, cout=8, k=3, dilation=1, bias=True, groups=1):
    x = m.input("x", (1, *hw, cin))
    w = m.weights("w", m.randn(cout, k, k, cin // groups), axis=0)
    b = m.bias("b", m.randn(cout), x, w) if bias else None
    oh, ow = (_out_size(s, k, stride, padding, dilation) for s in hw)
    y = m.act("y", (1, oh, ow, cout))
    m.op("CONV_2D", [x, w, b] if bias else [x, w], [y], padding=padding, stride_h=stride, stride_w=stride,
         dilation_h_factor=dilation, dilation_w_factor=dilation, fused_activation=act)
    m.output(y)


def depthwise(m, padding="SAME", stride=1, act="NONE", hw=(9, 8), c=6, mult=1, k=3, dilation=1):
    x = m.input("x", (1, *hw, c))
    w = m.weights("w", m.randn(1, k, k, c * mult), axis=3)
    b = m.bias("b", m.randn(c * mult), x, w)
    oh, ow = (_out_size(s, k, stride, padding, dilation) for s in hw)
    y = m.act("y", (1, oh, ow, c * mult))
    m.op("DEPTHWISE_CONV_2D", [x, w, b], [y], padding=padding, stride_h=stride, stride_w=stride,
         depth_multiplier=mult, dilation_h_factor=dilation, dilation_w_factor=dilation, fused_activation=act)
    m.output(y)


def fully_connected(m, in_shape=(8, 32), units=24, keep_num_dims=False, bias=True, act="NONE"):
    x = m.input("x", in_shape)
    depth = in_shape[-1] if keep_num_dims or len(in_shape) == 2 else math.prod(in_shape[1:])
    w = m.weights("w", m.randn(units, depth, std=0.3), axis=0)
    b = m.bias("b", m.randn(units), x, w) if bias else None
    rows = math.prod(in_shape) // depth
    y = m.act("y", (*in_shape[:-1], units) if keep_num_dims else (rows, units))
    m.op("FULLY_CONNECTED", [x, w, b], [y], keep_num_dims=keep_num_dims, fused_activation=act)
    m.output(y)


def binary(m, op="ADD", a_shape=(1, 6, 5, 8), b_shape=(1, 6, 5, 8), b_const=False, act="NONE"):
    a = m.input("a", a_shape)
    b = m.const("b", m.randn(*b_shape)) if b_const else m.input("b", b_shape, -2.0, 2.0)
    y = m.act("y", np.broadcast_shapes(a_shape, b_shape))
    m.op(op, [a, b], [y], fused_activation=act)
    m.output(y)


def pad(m, shape=(1, 5, 6, 3), paddings=((0, 0), (1, 2), (2, 0), (0, 1)), value=None):
    x = m.input("x", shape)
    out = tuple(d + sum(p) for d, p in zip(shape, paddings))
    y = m.act("y", out, like=x)
    inputs = [x, m.ints("paddings", paddings)]
    if value is not None:
        inputs.append(m.const("value", np.asarray([value], np.float32), like=x))
    m.op("PADV2" if value is not None else "PAD", inputs, [y])
    m.output(y)


def pool(m, op="MAX_POOL_2D", hw=(8, 10), c=6, k=2, stride=2, padding="VALID", act="NONE"):
    x = m.input("x", (1, *hw, c))
    oh, ow = (_out_size(s, k, stride, padding) for s in hw)
    y = m.act("y", (1, oh, ow, c), like=x)
    m.op(op, [x], [y], padding=padding, stride_h=stride, stride_w=stride, filter_height=k, filter_width=k,
         fused_activation=act)
    m.output(y)


def mean(m, shape=(1, 6, 5, 8), axes=(1, 2), keep_dims=True):
    x = m.input("x", shape)
    out = [1 if a in axes else d for a, d in enumerate(shape)] if keep_dims else \
        [d for a, d in enumerate(shape) if a not in axes]
    y = m.act("y", out)
    m.op("MEAN", [x, m.ints("axes", axes)], [y], keep_dims=keep_dims)
    m.output(y)


def reshape(m, shape=(1, 4, 4, 8), new_shape=(1, 128)):
    x = m.input("x", shape)
    y = m.act("y", new_shape, like=x)
    m.op("RESHAPE", [x, m.ints("shape", new_shape)], [y], new_shape=list(new_shape))
    m.output(y)


def concatenation(m, shapes=((1, 5, 6, 3), (1, 5, 6, 5)), axis=3, const_input=False):
    # TFLite's int8 kernel needs one quantization for all inputs and the output (uint8 requantizes).
    n = len(shapes)
    shared = quant_for_range(-n, n, m.qdtype) if m.qdtype == "int8" else None
    inputs = []
    for i, s in enumerate(shapes):
        if const_input and i == n - 1:
            inputs.append(m.const(f"c{i}", m.randn(*s), like=inputs[0] if shared else None))
        else:
            inputs.append(m.input(f"x{i}", s, -1.0 - i, 1.0 + 0.5 * i, quant=shared))
    out = list(shapes[0])
    out[axis] = sum(s[axis] for s in shapes)
    y = m.act("y", out, like=inputs[0] if shared else None)
    m.op("CONCATENATION", inputs, [y], axis=axis)
    m.output(y)


def resize(m, op="RESIZE_BILINEAR", hw=(5, 6), size=(10, 12), c=3, align_corners=False, half_pixel_centers=False):
    x = m.input("x", (1, *hw, c))
    y = m.act("y", (1, *size, c), like=x)
    m.op(op, [x, m.ints("size", size)], [y], align_corners=align_corners, half_pixel_centers=half_pixel_centers)
    m.output(y)


# TFLite's int8 kernels fix these output parameters (uint8: zero point + 128).
_FIXED_OUTPUT_QUANT = {"LOGISTIC": (1 / 256, -128), "TANH": (1 / 128, 0), "SOFTMAX": (1 / 256, -128)}


def fixed_quant(m, op):
    scale, zero_point = _FIXED_OUTPUT_QUANT[op]
    return TFLiteBuilder.quant(scale, zero_point + (128 if m.qdtype == "uint8" else 0))


def unary(m, op="RELU", shape=(1, 6, 7, 8)):
    x = m.input("x", shape, -4.0, 4.0)
    y = m.act("y", shape, quant=fixed_quant(m, op) if op in _FIXED_OUTPUT_QUANT else None)
    m.op(op, [x], [y])
    m.output(y)


def prelu(m, shape=(1, 6, 7, 8), alpha_shape=(1, 1, 8)):
    x = m.input("x", shape, -2.0, 2.0)
    alpha = m.const("alpha", np.abs(m.randn(*alpha_shape)))
    y = m.act("y", shape)
    m.op("PRELU", [x, alpha], [y])
    m.output(y)


def softmax(m, shape=(4, 50), beta=1.0):
    x = m.input("x", shape, -3.0, 3.0)
    y = m.act("y", shape, quant=fixed_quant(m, "SOFTMAX"))
    m.op("SOFTMAX", [x], [y], beta=beta)
    m.output(y)


def rsqrt(m, shape=(1, 6, 7, 8)):
    x = m.input("x", shape, 0.05, 4.0)
    y = m.act("y", shape)
    m.op("RSQRT", [x], [y])
    m.output(y)


def batch_matmul(m, a_shape=(2, 5, 7), b_shape=(2, 7, 6), adj_x=False, adj_y=False):
    """Rank-4 operands too: BATCH_MATMUL's axes are the file's own, not an NHWC image's."""
    a, b = m.input("a", a_shape, -2.0, 2.0), m.input("b", b_shape, -2.0, 2.0)
    rows = a_shape[-1] if adj_x else a_shape[-2]
    cols = b_shape[-2] if adj_y else b_shape[-1]
    batch = np.broadcast_shapes(a_shape[:-2], b_shape[:-2])
    y = m.act("y", (*batch, rows, cols))
    m.op("BATCH_MATMUL", [a, b], [y], adj_x=adj_x, adj_y=adj_y)
    m.output(y)


def quantize_dequantize(m, shape=(1, 6, 7, 8)):
    """float -> QUANTIZE -> QUANTIZE (requantize) -> DEQUANTIZE -> float (quantized precisions only)."""
    x = m.input("x", shape, -2.0, 2.0, dtype="float32")
    q1 = m.act("q1", shape, quant=quant_for_range(-2.0, 2.0, m.qdtype))
    q2 = m.act("q2", shape, quant=quant_for_range(-1.5, 2.5, m.qdtype))
    y = m.act("y", shape, dtype="float32")
    m.op("QUANTIZE", [x], [q1])
    m.op("QUANTIZE", [q1], [q2])
    m.op("DEQUANTIZE", [q2], [y])
    m.output(y, q1)


def transpose(m, shape=(1, 4, 5, 6), perm=(0, 3, 1, 2)):
    x = m.input("x", shape)
    y = m.act("y", [shape[p] for p in perm], like=x)
    m.op("TRANSPOSE", [x, m.ints("perm", perm)], [y])
    m.output(y)


def strided_slice(m, shape, begin, end, strides, out_shape, **masks):
    x = m.input("x", shape)
    y = m.act("y", out_shape, like=x)
    m.op("STRIDED_SLICE", [x, m.ints("begin", begin), m.ints("end", end), m.ints("strides", strides)], [y], **masks)
    m.output(y)


def split(m, shape=(1, 6, 7, 8), axis=3, num=2):
    x = m.input("x", shape)
    part = list(shape)
    part[axis] //= num
    outs = [m.act(f"y{i}", part, like=x) for i in range(num)]
    m.op("SPLIT", [m.ints("axis", [axis]), x], outs, num_splits=num)
    m.output(*outs)


def split_v(m, shape=(1, 6, 7, 8), axis=3, sizes=(3, -1, 2)):
    x = m.input("x", shape)
    resolved = [s if s >= 0 else shape[axis] - sum(v for v in sizes if v >= 0) for s in sizes]
    outs = [m.act(f"y{i}", [s if a == axis else d for a, d in enumerate(shape)], like=x)
            for i, s in enumerate(resolved)]
    m.op("SPLIT_V", [x, m.ints("sizes", sizes), m.ints("axis", [axis])], outs, num_splits=len(sizes))
    m.output(*outs)


def block(m):
    """Inverted residual + head: conv -> depthwise -> project -> add -> mean -> fully connected -> softmax."""
    x = m.input("x", (1, 12, 10, 8))
    w1 = m.weights("w1", m.randn(16, 1, 1, 8), 0)
    h1 = m.act("h1", (1, 12, 10, 16))
    m.op("CONV_2D", [x, w1, m.bias("b1", m.randn(16), x, w1)], [h1], padding="SAME", stride_h=1, stride_w=1,
         fused_activation="RELU6")
    w2 = m.weights("w2", m.randn(1, 3, 3, 16), 3)
    h2 = m.act("h2", (1, 12, 10, 16))
    m.op("DEPTHWISE_CONV_2D", [h1, w2, m.bias("b2", m.randn(16), h1, w2)], [h2], padding="SAME", stride_h=1,
         stride_w=1, depth_multiplier=1, fused_activation="RELU6")
    w3 = m.weights("w3", m.randn(8, 1, 1, 16, std=0.3), 0)
    h3 = m.act("h3", (1, 12, 10, 8))
    m.op("CONV_2D", [h2, w3, m.bias("b3", m.randn(8), h2, w3)], [h3], padding="SAME", stride_h=1, stride_w=1)
    h4 = m.act("h4", (1, 12, 10, 8))
    m.op("ADD", [x, h3], [h4])
    h5 = m.act("h5", (1, 8))
    m.op("MEAN", [h4, m.ints("axes", [1, 2])], [h5], keep_dims=False)
    w6 = m.weights("w6", m.randn(100, 8), 0)
    h6 = m.act("h6", (1, 100))
    m.op("FULLY_CONNECTED", [h5, w6, m.bias("b6", m.randn(100), h5, w6)], [h6])
    y = m.act("y", (1, 100), quant=fixed_quant(m, "SOFTMAX"))
    m.op("SOFTMAX", [h6], [y], beta=1.0)
    m.output(y, h4)


ALL = ("fp32", "fp16", "int8")
FLOAT = ("fp32", "fp16")
NO_WEIGHTS = ("fp32", "int8")  # ops without float constants: fp16 builds the same file as fp32


def _case(name, fn, precisions=ALL, litert_exact=True, twin=True, **kw):
    def case(m):
        fn(m, **kw)
    case.litert_exact, case.twin = litert_exact, twin
    return [pytest.param(case, p, id=f"{name}-{p}") for p in precisions]


CASES = [
    *_case("conv-same-s1", conv2d, (*ALL, "int8-pt", "uint8")),
    *_case("conv-same-s2-relu6", conv2d, (*ALL, "uint8"), stride=2, act="RELU6"),
    *_case("conv-valid-s2-relu", conv2d, ALL, padding="VALID", stride=2, act="RELU", hw=(11, 9)),
    *_case("conv-valid-s1-relu-n1-to-1", conv2d, ALL, padding="VALID", act="RELU_N1_TO_1"),
    *_case("conv-5x5-same-s2", conv2d, ALL, k=5, stride=2, hw=(10, 7)),
    *_case("conv-dilated", conv2d, ALL, dilation=2, hw=(10, 9)),
    *_case("conv-1x1", conv2d, (*ALL, "int8-pt"), k=1, cin=16, cout=12),
    *_case("conv-grouped", conv2d, FLOAT, cin=8, cout=8, groups=2),
    *_case("dwconv-same-s1", depthwise, (*ALL, "int8-pt", "uint8")),
    *_case("dwconv-same-s2-relu6", depthwise, ALL, stride=2, act="RELU6", hw=(9, 9)),
    *_case("dwconv-valid-mult2", depthwise, ALL, padding="VALID", mult=2, c=4),
    *_case("dwconv-dilated", depthwise, ALL, dilation=2, hw=(10, 11)),
    *_case("fc-2d", fully_connected, (*ALL, "int8-pt", "uint8")),
    *_case("fc-4d-input", fully_connected, ALL, in_shape=(2, 3, 3, 8), units=64),
    *_case("fc-keep-num-dims", fully_connected, ALL, in_shape=(2, 5, 16), keep_num_dims=True),
    *_case("fc-nobias-relu", fully_connected, ALL, bias=False, act="RELU"),
    *_case("add-relu", binary, (*NO_WEIGHTS, "uint8"), act="RELU"),
    *_case("add-const-channels", binary, ALL, b_shape=(8,), b_const=True),
    *_case("sub-broadcast-runtime", binary, NO_WEIGHTS, op="SUB", b_shape=(1, 1, 1, 8)),
    *_case("sub-const-hwc", binary, ALL, op="SUB", b_shape=(6, 5, 8), b_const=True, act="RELU6"),
    *_case("mul", binary, NO_WEIGHTS, op="MUL", litert_exact=False),
    *_case("mul-const-rank2", binary, ALL, op="MUL", a_shape=(16, 12), b_shape=(12,), b_const=True, litert_exact=False),
    *_case("mul-broadcast-runtime-rank3", binary, NO_WEIGHTS, op="MUL", b_shape=(5, 1), litert_exact=False),
    *_case("pad", pad, NO_WEIGHTS),
    *_case("pad-rank2", pad, NO_WEIGHTS, shape=(12, 10), paddings=((1, 0), (2, 3))),
    *_case("padv2", pad, ALL, value=0.5),
    *_case("maxpool-2x2-valid", pool, NO_WEIGHTS),
    *_case("maxpool-3x3-same-s2-relu", pool, NO_WEIGHTS, k=3, hw=(9, 9), padding="SAME", act="RELU"),
    *_case("avgpool-3x3-same-s1", pool, NO_WEIGHTS, op="AVERAGE_POOL_2D", k=3, stride=1, padding="SAME", hw=(7, 8),
           litert_exact=False),
    *_case("avgpool-3x3-valid-s2", pool, NO_WEIGHTS, op="AVERAGE_POOL_2D", k=3, hw=(11, 9), c=8),
    *_case("mean-hw-keepdims", mean, NO_WEIGHTS, shape=(1, 8, 10, 16), litert_exact=False),
    *_case("mean-hw", mean, NO_WEIGHTS, shape=(2, 8, 10, 16), keep_dims=False, litert_exact=False),
    *_case("mean-channels", mean, NO_WEIGHTS, axes=(3,), keep_dims=False, litert_exact=False),
    *_case("mean-height", mean, NO_WEIGHTS, axes=(1,), keep_dims=False, litert_exact=False),
    *_case("mean-rank3", mean, NO_WEIGHTS, shape=(4, 6, 9), axes=(1,), keep_dims=False, litert_exact=False),
    *_case("reshape-flatten", reshape, NO_WEIGHTS),
    *_case("reshape-to-4d", reshape, NO_WEIGHTS, shape=(1, 128), new_shape=(1, 4, 4, 8)),
    *_case("reshape-4d-to-4d", reshape, NO_WEIGHTS, new_shape=(1, 2, 8, 8)),
    *_case("reshape-4d-to-3d", reshape, NO_WEIGHTS, new_shape=(1, 16, 8)),
    *_case("concat-channels", concatenation, NO_WEIGHTS),
    *_case("concat-height", concatenation, NO_WEIGHTS, shapes=((1, 2, 6, 4), (1, 3, 6, 4)), axis=1),
    *_case("concat-const", concatenation, ALL, shapes=((1, 4, 5, 3), (1, 4, 5, 2)), axis=3, const_input=True),
    *_case("concat-rank2", concatenation, NO_WEIGHTS, shapes=((12, 7), (12, 9), (12, 4)), axis=1),
    *_case("resize-bilinear", resize, NO_WEIGHTS, litert_exact=False),
    *_case("resize-bilinear-align-corners", resize, NO_WEIGHTS, size=(9, 11), align_corners=True, litert_exact=False),
    *_case("resize-bilinear-half-pixel", resize, NO_WEIGHTS, half_pixel_centers=True, litert_exact=False),
    *_case("resize-bilinear-down-half-pixel", resize, NO_WEIGHTS, hw=(16, 12), size=(7, 5), half_pixel_centers=True,
           litert_exact=False),
    *_case("resize-nearest", resize, NO_WEIGHTS, op="RESIZE_NEAREST_NEIGHBOR"),
    *_case("resize-nearest-align-corners", resize, NO_WEIGHTS, op="RESIZE_NEAREST_NEIGHBOR", size=(9, 11),
           align_corners=True),
    *_case("resize-nearest-half-pixel", resize, NO_WEIGHTS, op="RESIZE_NEAREST_NEIGHBOR", size=(10, 9),
           half_pixel_centers=True),
    *_case("resize-nearest-down", resize, NO_WEIGHTS, op="RESIZE_NEAREST_NEIGHBOR", hw=(16, 12), size=(7, 5)),
    *[p for op in ("RELU", "RELU6", "RELU_N1_TO_1", "LOGISTIC", "TANH", "HARD_SWISH")
      for p in _case(op.lower(), unary, NO_WEIGHTS, op=op)],
    *_case("relu-rank2", unary, NO_WEIGHTS, op="RELU", shape=(20, 30)),
    *_case("prelu-hwc-alpha", prelu, ALL),
    *_case("prelu-channel-alpha", prelu, ALL, alpha_shape=(8,)),
    *_case("rsqrt", rsqrt, NO_WEIGHTS, litert_exact=False),
    *_case("batch-matmul", batch_matmul, NO_WEIGHTS, litert_exact=False),
    *_case("batch-matmul-adjoint-rank4-broadcast", batch_matmul, NO_WEIGHTS, a_shape=(1, 3, 4, 5),
           b_shape=(2, 1, 6, 4), adj_x=True, adj_y=True, litert_exact=False),
    *_case("softmax", softmax, NO_WEIGHTS),
    *_case("softmax-4d-beta", softmax, NO_WEIGHTS, shape=(1, 3, 4, 20), beta=0.5),
    *_case("quantize-requantize-dequantize", quantize_dequantize, ("int8", "uint8"), twin=False),
    *_case("transpose-to-nchw", transpose, NO_WEIGHTS),
    *_case("transpose-swap-hw", transpose, NO_WEIGHTS, perm=(0, 2, 1, 3)),
    *_case("transpose-reverse", transpose, NO_WEIGHTS, perm=(3, 2, 1, 0)),
    *_case("transpose-rank3", transpose, NO_WEIGHTS, shape=(4, 5, 6), perm=(2, 0, 1)),
    *_case("strided-slice", strided_slice, NO_WEIGHTS, shape=(2, 6, 7, 8), begin=(0, 1, 0, 2), end=(2, 5, 7, 8),
           strides=(1, 2, 1, 3), out_shape=(2, 2, 7, 2)),
    *_case("strided-slice-masks-negative", strided_slice, NO_WEIGHTS, shape=(2, 6, 7, 8), begin=(1, -5, 0, 0),
           end=(0, -1, 0, 0), strides=(1, 1, 2, 1), out_shape=(2, 4, 4, 8), begin_mask=0b1101, end_mask=0b1101),
    *_case("strided-slice-reverse", strided_slice, NO_WEIGHTS, shape=(2, 6, 7, 8), begin=(0, 4, 0, -1),
           end=(2, 0, 7, 0), strides=(1, -1, 1, -2), out_shape=(2, 4, 7, 4), end_mask=0b1000),
    *_case("strided-slice-shrink", strided_slice, NO_WEIGHTS, shape=(2, 6, 7, 8), begin=(1, 2, 0, 0),
           end=(2, 3, 7, 8), strides=(1, 1, 1, 1), out_shape=(7, 8), shrink_axis_mask=0b0011),
    *_case("strided-slice-new-axis", strided_slice, NO_WEIGHTS, shape=(6, 7, 8), begin=(0, 0, 0, 2),
           end=(0, 6, 0, 6), strides=(1, 2, 1, 1), out_shape=(1, 3, 7, 4), new_axis_mask=0b0001, end_mask=0b0100),
    *_case("strided-slice-ellipsis", strided_slice, NO_WEIGHTS, shape=(2, 6, 7, 8), begin=(0, 1), end=(0, 7),
           strides=(1, 2), out_shape=(2, 6, 7, 3), ellipsis_mask=0b01),
    *_case("strided-slice-offset", strided_slice, NO_WEIGHTS, shape=(2, 6, 7, 8), begin=(0, 1, 2, 0),
           end=(2, 4, 3, 8), strides=(1, 1, 1, 1), out_shape=(2, 4, 3, 8), offset=True),
    *_case("split-channels", split, NO_WEIGHTS),
    *_case("split-height", split, NO_WEIGHTS, axis=1, num=3),
    *_case("split-rank2", split, NO_WEIGHTS, shape=(10, 24), axis=1, num=4),
    *_case("split-v", split_v, NO_WEIGHTS),
    *_case("block", block, (*ALL, "uint8"), litert_exact=False),
]


@pytest.mark.parametrize("case, precision", CASES)
def test_operator_matches_litert(case, precision):
    check(case, precision)


QUANTIZED_CASES = [p for p in CASES if p.values[1] in ("int8", "int8-pt", "uint8")]


@pytest.mark.parametrize("case, precision", QUANTIZED_CASES)
def test_quantized_operator_matches_litert_without_qdq_folding(case, precision, monkeypatch):
    """The QDQ form alone (numpy reference and float kernels, no integer operators) meets the same bounds."""
    import edgert.passes.fuse

    monkeypatch.setattr(edgert.passes.fuse, "fold_qdq", lambda graph: [])
    check(case, precision)


# ------------------------------------------------------------------------------------ what the IR holds


def test_io_matches_litert(tmp_path):
    net = build(lambda m: conv2d(m, stride=2), "int8")
    path = tmp_path / "conv.tflite"
    path.write_bytes(net.finish())
    ours, theirs = edgert.load(path, backend="edgert"), edgert.load(path, backend="litert")
    assert [(t.name, t.shape, t.dtype) for t in ours.inputs] == [(t.name, t.shape, t.dtype) for t in theirs.inputs]
    assert [(t.name, t.shape, t.dtype) for t in ours.outputs] == [(t.name, t.shape, t.dtype) for t in theirs.outputs]
    assert_close(ours.run(net.feeds), theirs.run(net.feeds), quantized=True)


def _node(graph, op_type):
    found = [n for n in graph.nodes if n.op_type == op_type]
    assert len(found) == 1, f"expected one {op_type}, found {found}"
    return found[0]


def test_int8_conv_is_qdq_with_per_channel_weights():
    net = build(lambda m: conv2d(m, cin=3, cout=8, act="RELU6"), "int8")
    graph = import_tflite(net.finish())
    conv = _node(graph, "Conv")
    producers = graph.producers()
    x_dq, w_dq, b_dq = (producers[i] for i in conv.inputs)
    assert x_dq.op_type == w_dq.op_type == b_dq.op_type == "DequantizeLinear"
    weights, w_scale, w_zp = (graph.constants[i] for i in w_dq.inputs)
    assert weights.dtype == np.int8 and weights.shape == (8, 3, 3, 3)  # OIHW
    assert w_scale.shape == (8,) and w_zp.dtype == np.int8 and not w_zp.any() and w_dq.attr("axis") == 0
    bias, b_scale, b_zp = (graph.constants[i] for i in b_dq.inputs)
    x_scale = graph.constants[x_dq.inputs[1]]
    assert bias.dtype == np.int32 and b_zp.dtype == np.int32 and b_dq.attr("axis") == 0
    np.testing.assert_allclose(b_scale, x_scale * w_scale, rtol=1e-6)
    clip = graph.consumers()[conv.outputs[0]][0]
    assert clip.op_type == "Clip"
    assert graph.consumers()[clip.outputs[0]][0].op_type == "QuantizeLinear"


def test_fp16_weights_fold_to_float32_constants():
    net = build(lambda m: conv2d(m), "fp16")
    graph = import_tflite(net.finish())
    conv = _node(graph, "Conv")
    assert graph.constants[conv.inputs[1]].dtype == np.float32
    assert graph.constants[conv.inputs[2]].dtype == np.float32
    assert not {"DequantizeLinear", "Cast"} & {n.op_type for n in graph.nodes}


def test_dynamic_batch_takes_the_static_shape_in_the_file():
    b = TFLiteBuilder()
    x = b.input("x", (None, 6, 5, 4))
    y = b.tensor("y", (None, 6, 5, 4))
    b.op("RELU6", [x], [y])
    b.output(y)
    data = b.finish()
    sess = edgert.load(data, backend="edgert")
    assert sess.inputs[0].shape == (1, 6, 5, 4) and sess.outputs[0].shape == (1, 6, 5, 4)
    feeds = {"x": np.random.default_rng(0).uniform(-8, 8, (1, 6, 5, 4)).astype(np.float32)}
    assert_close(sess.run(feeds), litert_reference(data, feeds))


@pytest.mark.parametrize("op_type, activation", [("CONV_2D", "TANH"), ("ADD", "SIGN_BIT"), ("CONCATENATION", "RELU")])
def test_fused_activation_litert_does_not_apply_is_refused(op_type, activation):
    b = TFLiteBuilder()
    x = b.input("x", (1, 4, 4, 2))
    if op_type == "CONV_2D":
        w, bias = b.const("w", np.ones((2, 1, 1, 2), np.float32)), b.const("b", np.zeros(2, np.float32))
        inputs, out_shape, options = [x, w, bias], (1, 4, 4, 2), dict(padding="VALID", stride_w=1, stride_h=1)
    elif op_type == "ADD":
        inputs, out_shape, options = [x, x], (1, 4, 4, 2), {}
    else:
        inputs, out_shape, options = [x, x], (1, 4, 4, 4), dict(axis=3)
    y = b.tensor("y", out_shape)
    b.op(op_type, inputs, [y], fused_activation=activation, **options)
    b.output(y)
    with pytest.raises(UnsupportedOperatorError, match=activation):
        import_tflite(b.finish())


def test_same_padding_puts_the_extra_pixel_at_the_end():
    net = build(lambda m: conv2d(m, stride=2, hw=(8, 7), k=4), "fp32")
    conv = _node(import_tflite(net.finish()), "Conv")
    # H: out 4, total = 3*2 + 4 - 8 = 2 -> (1, 1); W: out 4, total = 3*2 + 4 - 7 = 3 -> (1, 2)
    assert conv.attr("pads") == [1, 1, 1, 2]


# ------------------------------------------------------------------------------------ whole models


def _onnx_to_tflite():
    from edgert.exporters.tflite import onnx_to_tflite
    return onnx_to_tflite


def _dequantize_steps(data: bytes) -> dict[str, float]:
    """Output name -> scale of the int8 tensor a DEQUANTIZE output is computed from."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=data)
    details = {d["index"]: d for d in interp.get_tensor_details()}
    outputs = {d["index"]: d["name"] for d in interp.get_output_details()}
    steps = {}
    for op in interp._get_ops_details():
        if op["op_name"] == "DEQUANTIZE" and op["outputs"][0] in outputs:
            scale = details[op["inputs"][0]]["quantization"][0]
            steps[outputs[op["outputs"][0]]] = float(scale)
    return steps


@pytest.mark.parametrize("weights", ["fp32", "fp16"])
def test_mobilenet_v2_float_matches_litert(weights):
    model = mz.mobilenet_v2(size=96, width=0.5, seed=0)
    data = _onnx_to_tflite()(model, weights=weights)
    sess = edgert.load(data, threads=1, backend="litert")
    (info,) = sess.inputs
    x = np.random.default_rng(0).standard_normal(info.shape).astype(np.float32)
    actual, expected = run_both(data, {info.name: x})
    assert_close(actual, expected)


class _CalibrationReader:
    def __init__(self, name, shape, count=4):
        rng = np.random.default_rng(1)
        self.batches = iter([{name: rng.standard_normal(shape).astype(np.float32)} for _ in range(count)])

    def get_next(self):
        return next(self.batches, None)


def test_mobilenet_v2_int8_matches_its_qdq_source_and_litert(tmp_path):
    """int8 MobileNetV2 (onnxruntime QDQ quantization -> onnx_to_tflite). Against the exact QDQ
    evaluation of the source model (onnxruntime, unoptimised): the per-operator bounds. Against
    LiteRT: same top-1, and no further from LiteRT than that exact evaluation is (LiteRT's integer
    kernels round some products differently and a deep random-weight network amplifies it)."""
    import onnx
    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    model = mz.mobilenet_v2(size=96, width=0.5, seed=0)
    src, dst = tmp_path / "float.onnx", tmp_path / "qdq.onnx"
    onnx.save(model, src)
    name = model.graph.input[0].name
    shape = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    quantize_static(str(src), str(dst), _CalibrationReader(name, shape), quant_format=QuantFormat.QDQ,
                    per_channel=True, activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                    calibrate_method=CalibrationMethod.MinMax)
    data = _onnx_to_tflite()(onnx.load(dst))
    (info,) = edgert.load(data, threads=1, backend="litert").inputs
    x = np.random.default_rng(0).standard_normal(info.shape).astype(info.dtype)
    actual, litert = run_both(data, {info.name: x})
    (out_name,) = litert
    steps = _dequantize_steps(data)

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    qdq = ort.InferenceSession(str(dst), so, providers=["CPUExecutionProvider"])
    (exact,) = qdq.run(None, {name: x.transpose(0, 3, 1, 2)})
    assert_close(actual, {out_name: exact}, steps, quantized=True)

    ours, theirs = actual[out_name].astype(np.float64), litert[out_name].astype(np.float64)
    assert ours.argmax() == theirs.argmax()
    assert np.abs(ours - theirs).max() <= np.abs(exact - theirs).max() + steps[out_name] * 1.001


# ------------------------------------------------------------------------------------ malformed files


@pytest.fixture(scope="module")
def model_bytes() -> bytes:
    net = Net("fp32")
    conv2d(net, stride=2)
    return net.finish()


def _root(data):
    import tflite

    return tflite.Model.GetRootAs(data, 0)


def _field(table, slot: int) -> int:
    """File position of a table field (slot = its vtable offset)."""
    o = table._tab.Offset(slot)
    assert o, f"field {slot} absent"
    return table._tab.Pos + o


def _vector_length_pos(table, slot: int) -> int:
    return table._tab.Vector(table._tab.Offset(slot)) - 4


def _patched(data: bytes, pos: int, fmt: str, value) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, pos, value)
    return bytes(out)


def _tensor(data, name):
    sub = _root(data).Subgraphs(0)
    for i in range(sub.TensorsLength()):
        if sub.Tensors(i).Name().decode() == name:
            return sub.Tensors(i)
    raise AssertionError(name)


def _load_error(data_or_path, error=ModelLoadError) -> str:
    with pytest.raises(error) as info:
        import_tflite(data_or_path)
    return str(info.value)


def test_not_a_flatbuffer():
    assert _load_error(b"\x00\x00\x00\x00TFL3" + b"\xff" * 64).startswith("<bytes>: ")
    assert "malformed" in _load_error(b"\xf0\xff\x00\x00TFL3" + b"\xff" * 64)
    assert "not a TFLite model" in _load_error(b"TFL3")


def test_wrong_identifier_names_the_file(tmp_path, model_bytes):
    path = tmp_path / "model.tflite"
    path.write_bytes(model_bytes[:4] + b"ONNX" + model_bytes[8:])
    message = _load_error(path)
    assert str(path) in message and "identifier" in message
    with pytest.raises(ModelLoadError, match="identifier"):
        edgert.load(path)


def test_missing_file(tmp_path):
    assert "no such model file" in _load_error(tmp_path / "absent.tflite")


def test_truncated_file(tmp_path, model_bytes):
    path = tmp_path / "cut.tflite"
    path.write_bytes(model_bytes[: len(model_bytes) // 2])
    assert str(path) in _load_error(path)
    with pytest.raises(ModelLoadError):
        edgert.load(path)


def test_every_truncation_fails_cleanly(model_bytes):
    failures = 0
    for cut in range(0, len(model_bytes), 5):
        try:
            import_tflite(model_bytes[:cut])
        except ModelLoadError:
            failures += 1
    assert failures >= len(range(0, len(model_bytes), 5)) - 2


def test_buffer_index_out_of_range(model_bytes):
    pos = _field(_tensor(model_bytes, "w"), 8)
    message = _load_error(_patched(model_bytes, pos, "<I", 999))
    assert "buffer 999" in message and "'w'" in message


def test_tensor_data_size_must_match_shape(model_bytes):
    w = _tensor(model_bytes, "w")
    shape_pos = w._tab.Vector(w._tab.Offset(4))
    message = _load_error(_patched(model_bytes, shape_pos, "<i", 9))  # 8 output channels -> 9
    assert "'w'" in message and "bytes" in message


def test_dynamic_dimension_is_rejected(model_bytes):
    x = _tensor(model_bytes, "x")
    message = _load_error(_patched(model_bytes, x._tab.Vector(x._tab.Offset(4)) + 4, "<i", -1))
    assert "dynamic" in message and "'x'" in message


def test_multiple_subgraphs_are_rejected(model_bytes):
    message = _load_error(_patched(model_bytes, _vector_length_pos(_root(model_bytes), 8), "<I", 2))
    assert "2 subgraphs" in message


def test_absurd_vector_length_is_rejected_before_reading(model_bytes):
    sub = _root(model_bytes).Subgraphs(0)
    assert "tensors" in _load_error(_patched(model_bytes, _vector_length_pos(sub, 4), "<I", 0x7FFFFFFF))


def test_schema_version_is_checked(model_bytes):
    assert "schema version 7" in _load_error(_patched(model_bytes, _field(_root(model_bytes), 4), "<I", 7))


def test_opcode_index_out_of_range(model_bytes):
    message = _load_error(_patched(model_bytes, _vector_length_pos(_root(model_bytes), 6), "<I", 0))
    assert "opcode index" in message


def test_tensor_index_out_of_range(model_bytes):
    op = _root(model_bytes).Subgraphs(0).Operators(0)
    message = _load_error(_patched(model_bytes, op._tab.Vector(op._tab.Offset(6)), "<i", 1234))
    assert "1234" in message and "CONV_2D" in message


def test_unsupported_builtin_names_the_op_and_its_output():
    b = TFLiteBuilder()
    x = b.input("x", (1, 4, 4, 2))
    y = b.tensor("floored", (1, 4, 4, 2))
    b.op("FLOOR", [x], [y])
    b.output(y)
    with pytest.raises(UnsupportedOperatorError) as info:
        edgert.load(b.finish(), backend="edgert")
    assert info.value.op_type == "FLOOR" and "floored" in str(info.value) and "operator 0" in str(info.value)


def test_custom_op_is_unsupported(model_bytes):
    code = _root(model_bytes).OperatorCodes(0)
    data = _patched(model_bytes, _field(code, 4), "<b", 32)  # deprecated_builtin_code = CUSTOM
    if code._tab.Offset(10):
        data = _patched(data, _field(code, 10), "<i", 32)
    with pytest.raises(UnsupportedOperatorError, match="CUSTOM"):
        import_tflite(data)


def test_random_corruption_never_escapes_as_another_error(model_bytes):
    """Flipped bytes anywhere either still import or raise ModelLoadError (seeded, 400 files)."""
    rng = np.random.default_rng(7)
    for trial in range(400):
        data = bytearray(model_bytes)
        for _ in range(int(rng.integers(1, 4))):
            data[int(rng.integers(8, len(data)))] = int(rng.integers(0, 256))
        try:
            import_tflite(bytes(data))
        except EdgeRTError:
            pass
        except Exception as e:  # pragma: no cover - the failure message is the point
            raise AssertionError(f"trial {trial}: {type(e).__name__}: {e}") from e
