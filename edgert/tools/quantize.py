"""`edgert quantize`: calibration-based int8 quantization of ONNX models into QDQ form.

Built on onnxruntime.quantization: the model is first shape-inferred and optimised
(quant_pre_process, which folds BatchNormalization into Conv so it needs no quantizer of its
own), then quantize_static calibrates activation ranges on the calibration inputs and rewrites
the graph with QuantizeLinear/DequantizeLinear pairs. Weights are int8 symmetric (per output
channel by default), activations int8 asymmetric per tensor -- the int8 scheme edgert's kernels
implement.

    from edgert.tools.quantize import quantize_onnx
    report = quantize_onnx("model.onnx", "model_int8.onnx", calibration="calib_images/",
                           mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
    report.outputs[0].cosine

Afterwards the fp32 and int8 models are both run with onnxruntime on held-out inputs and the
agreement of every output is reported. Single-file models only: over 2 GB (weights in external
data files) is out of scope.
"""
from __future__ import annotations

import abc
import contextlib
import io
import logging
import os
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import onnx

from edgert.errors import BackendUnavailableError, EdgeRTError, InputError, ModelLoadError
from edgert.tools.images import LAYOUTS, Preprocess, list_images

try:
    import onnxruntime
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quant_pre_process, quantize_static)

    _CALIBRATE_METHODS = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
                          "percentile": CalibrationMethod.Percentile}
except ImportError:  # the 'quantize' extra is not installed; quantize_onnx says so
    onnxruntime = None
    CalibrationDataReader = abc.ABC

METHODS = ("minmax", "entropy", "percentile")
EVAL_BATCHES = 4  # held-out batches the fp32/int8 comparison runs on
MAX_MODEL_BYTES = 2**31  # protobuf's limit for a single-file model
_INSTALL_HINT = "pip install 'edgert[quantize]'"


def _require_onnxruntime() -> None:
    if onnxruntime is None:
        raise BackendUnavailableError(f"quantization needs onnxruntime, which is not installed ({_INSTALL_HINT})")


# ---------------------------------------------------------------------------------------------
# Calibration data


class _BatchReader(CalibrationDataReader):
    """Feeds batch `indices[i]` on the i-th get_next() call; `make_feeds` builds it on demand, so
    only one batch is in memory at a time. `on_batch` is called after each batch (progress)."""

    def __init__(self, make_feeds: Callable[[object], dict[str, np.ndarray]], indices: Sequence,
                 on_batch: Callable[[], None] | None = None):
        self._make_feeds = make_feeds
        self._indices = list(indices)
        self._on_batch = on_batch
        self.set_range(0, len(self._indices))

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self._next >= self._end:
            return None
        feeds = self._make_feeds(self._indices[self._next])
        self._next += 1
        if self._on_batch is not None:
            self._on_batch()
        return feeds

    def __len__(self) -> int:
        return len(self._indices)

    def set_range(self, start_index: int, end_index: int) -> None:
        self._next, self._end = start_index, min(end_index, len(self._indices))

    def rewind(self) -> None:
        self.set_range(0, len(self._indices))


class ImageCalibrationReader(_BatchReader):
    """Batches of images from disk, preprocessed into the model's single image input."""

    def __init__(self, input_name: str, batches: Sequence[Sequence[Path]], preprocess: Preprocess,
                 dtype=np.float32, on_batch: Callable[[], None] | None = None):
        super().__init__(lambda paths: {input_name: preprocess.batch(paths).astype(dtype, copy=False)},
                         batches, on_batch)


class RandomCalibrationReader(_BatchReader):
    """Seeded random inputs: batch i is the same for a given seed whatever else is read, so
    calibration and held-out batches never overlap and every run is reproducible."""

    def __init__(self, shapes: dict[str, tuple[int, ...]], dtypes: dict[str, np.dtype], indices: Sequence[int],
                 seed: int = 0, on_batch: Callable[[], None] | None = None):
        def make_feeds(index):
            rng = np.random.default_rng([seed, index])
            return {name: _random_array(rng, shape, dtypes[name]) for name, shape in shapes.items()}

        super().__init__(make_feeds, indices, on_batch)


def _random_array(rng: np.random.Generator, shape, dtype: np.dtype) -> np.ndarray:
    if np.issubdtype(dtype, np.floating):
        # Unit normal: what normalised image or feature inputs look like to the first layer.
        return rng.standard_normal(shape).astype(dtype)
    if dtype == np.bool_:
        return rng.integers(0, 2, shape).astype(bool)
    return rng.integers(0, min(np.iinfo(dtype).max, 127), shape, endpoint=True).astype(dtype)


# ---------------------------------------------------------------------------------------------
# The model's inputs


@dataclass(frozen=True)
class _Input:
    name: str
    dims: tuple | None  # int for a fixed dimension, str/None for a symbolic or unknown one; None: unknown rank
    dtype: np.dtype


def _graph_inputs(model: onnx.ModelProto) -> list[_Input]:
    inits = {t.name for t in model.graph.initializer}
    inputs = []
    for vi in model.graph.input:
        if vi.name in inits:  # IR < 4 lists initialisers as inputs too
            continue
        tensor = vi.type.tensor_type
        try:
            dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type))
        except (KeyError, TypeError, ValueError):
            raise ModelLoadError(f"input '{vi.name}' is not a tensor of a numeric type") from None
        dims = None
        if tensor.HasField("shape"):
            dims = tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tensor.shape.dim)
        inputs.append(_Input(vi.name, dims, dtype))
    return inputs


def _spatial_axes(layout: str) -> tuple[int, int, int]:
    """(channel, height, width) axes of a rank-4 input."""
    return (1, 2, 3) if layout == "nchw" else (3, 1, 2)


def _fixed(d) -> bool:
    return isinstance(d, int) and d > 0


def _fill_spatial(inp: _Input, dims: list, size: tuple[int, int] | None, layout: str) -> None:
    """Puts --size into symbolic H/W of a rank-4 input; a fixed H/W must agree with it."""
    _, h_axis, w_axis = _spatial_axes(layout)
    if size is None:
        return
    if _fixed(dims[h_axis]) and _fixed(dims[w_axis]) and (dims[h_axis], dims[w_axis]) != tuple(size):
        raise InputError(f"--size {size[0]}x{size[1]} does not match input '{inp.name}', whose "
                         f"{layout.upper()} height x width is fixed at {dims[h_axis]}x{dims[w_axis]}")
    dims[h_axis], dims[w_axis] = size


def _random_shapes(inputs: list[_Input], size, layout) -> dict[str, tuple[int, ...]]:
    shapes = {}
    for inp in inputs:
        if inp.dims is None:
            raise InputError(f"input '{inp.name}' has no declared shape; random calibration needs one")
        dims = list(inp.dims)
        if dims and not _fixed(dims[0]):
            dims[0] = 1  # one sample per calibration batch
        if len(dims) == 4 and size is not None:
            _fill_spatial(inp, dims, size, layout)
        for axis, d in enumerate(dims):
            if not _fixed(d):
                raise InputError(f"input '{inp.name}' has a symbolic dimension {d!r} at axis {axis}: random "
                                 "calibration needs a fixed shape (--size HxW sets the height and width of "
                                 "an image input)")
        shapes[inp.name] = tuple(dims)
    return shapes


def _image_input(inputs: list[_Input], layout: str, size) -> tuple[_Input, int, int, tuple[int, int]]:
    """(input, batch, channels, (H, W)) of the model's one image input."""
    if len(inputs) != 1:
        raise InputError(f"--calib feeds images to a model with one input; this one takes {len(inputs)} "
                         f"({', '.join(i.name for i in inputs)}): use --calib-random")
    inp = inputs[0]
    if not np.issubdtype(inp.dtype, np.floating):
        raise InputError(f"input '{inp.name}' is {inp.dtype}; --calib feeds float images (use --calib-random)")
    if inp.dims is None or len(inp.dims) != 4:
        shape = "unknown" if inp.dims is None else list(inp.dims)
        raise InputError(f"input '{inp.name}' has shape {shape}: --calib needs a rank-4 image input "
                         "(NCHW or NHWC); use --calib-random for other models")
    dims = list(inp.dims)
    c_axis, h_axis, w_axis = _spatial_axes(layout)
    channels = dims[c_axis]
    if channels not in (1, 3):
        other = "nhwc" if layout == "nchw" else "nchw"
        hint = (f"; with --layout {other} it would be {dims[_spatial_axes(other)[0]]}"
                if dims[_spatial_axes(other)[0]] in (1, 3) else "")
        raise InputError(f"input '{inp.name}' {[d if _fixed(d) else '?' for d in dims]} read as {layout.upper()} "
                         f"has {channels if _fixed(channels) else 'a symbolic number of'} channels, "
                         f"images give 1 or 3{hint}")
    _fill_spatial(inp, dims, size, layout)
    if not (_fixed(dims[h_axis]) and _fixed(dims[w_axis])):
        raise InputError(f"input '{inp.name}' has a symbolic height or width: give the image size with --size HxW")
    batch = dims[0] if _fixed(dims[0]) else 1
    return inp, batch, channels, (dims[h_axis], dims[w_axis])


# ---------------------------------------------------------------------------------------------
# Report


@dataclass
class OutputAccuracy:
    """fp32 vs int8 agreement of one model output over the held-out inputs."""

    name: str
    cosine: float  # the QDQ graph run node by node as ONNX defines it (exact int8 arithmetic)
    max_abs_error: float
    max_abs_reference: float  # largest |fp32 output|, the scale max_abs_error is read against
    cosine_onnxruntime: float  # onnxruntime's fused int8 kernels on this CPU (x86 without VNNI may saturate)


@dataclass
class QuantizeReport:
    model_path: Path
    output_path: Path
    per_channel: bool
    method: str
    calibration: str  # where the calibration batches came from, in words
    calibration_batches: int
    evaluation_batches: int
    evaluated_on_heldout: bool  # False when too few images to hold any back
    outputs: list[OutputAccuracy]
    input_bytes: int
    output_bytes: int
    fp32_nodes: int
    int8_nodes: int  # every node of the QDQ model, QuantizeLinear/DequantizeLinear included
    quantize_nodes: int
    dequantize_nodes: int
    int8_weights: int  # int8 initialisers read by a DequantizeLinear
    quantized_ops: dict[str, int]  # op type -> nodes whose data inputs are all dequantized int8
    preprocessed: bool  # quant_pre_process (shape inference + optimisation) ran
    excluded: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def min_cosine(self) -> float:
        return min((o.cosine for o in self.outputs), default=float("nan"))


def print_report(report: QuantizeReport, console=None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    sample = "held-out batches" if report.evaluated_on_heldout else "calibration batches (none held out)"
    table = Table("output", "cosine", "max abs error", "max |fp32|", "cosine (ort kernels)",
                  title=f"fp32 vs int8 on {report.evaluation_batches} {sample}")
    for o in report.outputs:
        table.add_row(o.name, f"{o.cosine:.5f}", f"{o.max_abs_error:.4g}", f"{o.max_abs_reference:.4g}",
                      f"{o.cosine_onnxruntime:.5f}")
    console.print(table)

    # Text lines are not wrapped at the console width (paths stay copyable); tables fit it.
    def say(text: str, **kwargs) -> None:
        console.print(text, soft_wrap=True, markup=False, **kwargs)

    weights = "per-channel" if report.per_channel else "per-tensor"
    say(f"calibration: {report.calibration_batches} batches ({report.calibration}), {report.method}, "
        f"{weights} int8 weights")
    ratio = report.input_bytes / report.output_bytes if report.output_bytes else float("nan")
    say(f"size: {report.input_bytes / 1e6:.2f} MB -> {report.output_bytes / 1e6:.2f} MB ({ratio:.1f}x smaller)")
    ops = ", ".join(f"{op} {n}" for op, n in sorted(report.quantized_ops.items(), key=lambda kv: (-kv[1], kv[0])))
    say(f"nodes: {report.fp32_nodes} -> {report.int8_nodes} ({report.quantize_nodes} QuantizeLinear, "
        f"{report.dequantize_nodes} DequantizeLinear, {report.int8_weights} int8 weights); "
        f"int8 ops: {ops or 'none'}")
    if report.excluded:
        say(f"kept in float: {', '.join(report.excluded)}")
    for note in report.notes:
        say(f"note: {note}", style="dim")
    say(f"wrote {report.output_path}")


def _accuracy(name: str, ref: list[np.ndarray], spec: list[np.ndarray], fused: list[np.ndarray]) -> OutputAccuracy:
    a = np.concatenate([np.ravel(x) for x in ref]).astype(np.float64)

    def cosine(b: np.ndarray) -> float:
        na, nb = np.linalg.norm(a), np.linalg.norm(b)
        if na == 0 or nb == 0:
            return 1.0 if na == nb else 0.0
        return float(np.clip(a @ b / (na * nb), -1.0, 1.0))

    b = np.concatenate([np.ravel(x) for x in spec]).astype(np.float64)
    c = np.concatenate([np.ravel(x) for x in fused]).astype(np.float64)
    return OutputAccuracy(name=name, cosine=cosine(b), max_abs_error=float(np.abs(a - b).max(initial=0.0)),
                          max_abs_reference=float(np.abs(a).max(initial=0.0)), cosine_onnxruntime=cosine(c))


def _node_counts(fp32: onnx.ModelProto, int8: onnx.ModelProto) -> dict:
    nodes = list(int8.graph.node)
    dequantized = {n.output[0] for n in nodes if n.op_type == "DequantizeLinear"}
    int8_inits = {t.name for t in int8.graph.initializer if t.data_type == onnx.TensorProto.INT8}
    floats = (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE, onnx.TensorProto.BFLOAT16)
    # Shapes, axes and other integer initialisers are never quantized; every other input of an
    # int8 op is a dequantized tensor.
    integer_constants = {t.name for t in int8.graph.initializer if t.data_type not in floats}

    def is_int8(node) -> bool:
        data = [i for i in node.input if i and i not in integer_constants]
        return bool(data) and all(i in dequantized for i in data)

    ops = Counter(n.op_type for n in nodes if n.op_type not in ("QuantizeLinear", "DequantizeLinear") and is_int8(n))
    return dict(fp32_nodes=len(fp32.graph.node), int8_nodes=len(nodes),
                quantize_nodes=sum(n.op_type == "QuantizeLinear" for n in nodes),
                dequantize_nodes=sum(n.op_type == "DequantizeLinear" for n in nodes),
                int8_weights=len({n.input[0] for n in nodes
                                  if n.op_type == "DequantizeLinear" and n.input[0] in int8_inits}),
                quantized_ops=dict(ops))


# ---------------------------------------------------------------------------------------------
# The pipeline


class _CollectWarnings(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage().strip())


@contextlib.contextmanager
def _onnxruntime_quiet(notes: list[str]):
    """onnxruntime.quantization prints calibration chatter with print() and warns through the
    root logger (whose first use would also install a stderr handler for the whole process).
    Keep both off the user's terminal; the warnings become report notes."""
    handler = _CollectWarnings()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        root.removeHandler(handler)
        notes.extend(f"onnxruntime: {m}" for m in dict.fromkeys(handler.messages) if m)


def _load_model(path: Path) -> onnx.ModelProto:
    if not path.exists():
        raise ModelLoadError(f"{path}: no such model file")
    if not path.is_file():
        raise ModelLoadError(f"{path}: not a file")
    if path.stat().st_size >= MAX_MODEL_BYTES:
        raise ModelLoadError(f"{path}: models over 2 GB are out of scope for edgert quantize")
    try:
        model = onnx.load(os.fspath(path), load_external_data=False)
    except Exception as e:  # protobuf raises DecodeError, RuntimeWarning-ish ValueErrors, ...
        raise ModelLoadError(f"{path}: not an ONNX model ({type(e).__name__}: {e})") from None
    if not model.graph.node or not model.opset_import:
        raise ModelLoadError(f"{path}: not an ONNX model (no graph nodes or opset)")
    if any(onnx.external_data_helper.uses_external_data(t) for t in model.graph.initializer):
        raise ModelLoadError(f"{path}: weights in external data files are not supported by edgert quantize "
                             "(single-file models under 2 GB only)")
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as e:
        raise ModelLoadError(f"{path}: invalid ONNX model: {str(e).strip().splitlines()[0]}") from None
    return model


def _check_output_path(model_path: Path, out_path: Path, force: bool) -> None:
    if out_path.exists() and out_path.is_dir():
        raise InputError(f"output {out_path} is a directory; give a file name, e.g. {out_path / 'model_int8.onnx'}")
    if not out_path.parent.is_dir():
        raise InputError(f"output {out_path}: directory {out_path.parent} does not exist")
    if out_path.resolve() == model_path.resolve() or (out_path.exists() and os.path.samefile(out_path, model_path)):
        raise InputError(f"output {out_path} is the input model; write the int8 model to another file")
    if out_path.exists() and not force:
        raise InputError(f"output {out_path} exists; pass --force (force=True) to overwrite it")


def _preprocess(model_path: Path, workdir: Path, notes: list[str]) -> Path | None:
    """quant_pre_process into workdir; None when onnxruntime cannot process this model (the
    original is quantized instead). Symbolic shape inference needs sympy and rejects some
    graphs, so it is retried without it before giving up."""
    target = workdir / "preprocessed.onnx"
    failure = None
    for skip_symbolic in (False, True):
        try:
            quant_pre_process(os.fspath(model_path), os.fspath(target), skip_symbolic_shape=skip_symbolic)
            return target
        except Exception as e:  # any failure here only costs the optimisation, not the quantization
            failure = f"{type(e).__name__}: {str(e).strip()[:300]}"
    notes.append(f"shape inference/optimisation before quantization failed ({failure}); "
                 "the model was quantized as it is")
    return None


def _session(path: Path, optimized: bool):
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    options.graph_optimization_level = (onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL if optimized
                                        else onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL)
    try:
        return onnxruntime.InferenceSession(os.fspath(path), options, providers=["CPUExecutionProvider"])
    except Exception as e:
        raise ModelLoadError(f"onnxruntime cannot load {path}: {str(e).strip()[:500]}") from None


def _new_file_mode() -> int:
    """The mode open() would give a new file (mkstemp's temp files are 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@dataclass
class _Calibration:
    """Which batches calibrate, which are compared afterwards, and how to read them."""

    reader: Callable[..., CalibrationDataReader]  # (batch ids, on_batch=None) -> reader
    calibration_ids: list
    eval_ids: list
    heldout: bool  # eval_ids are not among calibration_ids
    description: str


def _random_calibration(inputs: list[_Input], count, seed: int, size, layout: str) -> _Calibration:
    if count < 1:
        raise InputError(f"--calib-random needs at least 1 sample, got {count}")
    shapes = _random_shapes(inputs, size, layout)
    dtypes = {i.name: i.dtype for i in inputs}
    count = int(count)
    return _Calibration(
        reader=lambda ids, on_batch=None: RandomCalibrationReader(shapes, dtypes, ids, seed, on_batch),
        calibration_ids=list(range(count)),
        eval_ids=list(range(count, count + EVAL_BATCHES)),  # the next indices: never calibrated on
        heldout=True, description=f"random inputs, seed {seed}")


def _image_calibration(inputs: list[_Input], folder, mean, std, size, layout: str, bgr: bool,
                       notes: list[str]) -> _Calibration:
    paths = list_images(folder)
    inp, batch, channels, hw = _image_input(inputs, layout, size)
    preprocess = Preprocess(size=hw, channels=channels, mean=tuple(mean or (0.0,)), std=tuple(std or (1.0,)),
                            layout=layout, bgr=bgr)
    batches = [paths[i:i + batch] for i in range(0, len(paths) - batch + 1, batch)]
    if not batches:
        raise InputError(f"the model's batch size is fixed at {batch}, but {folder} holds only "
                         f"{len(paths)} image{'s' if len(paths) != 1 else ''}")
    unused = len(paths) % batch
    if unused:
        notes.append(f"{unused} of {len(paths)} images were not used: they do not fill a batch of {batch}")
    # Hold back every step-th batch, spread over the folder, for the fp32/int8 comparison.
    held = min(EVAL_BATCHES, len(batches) // 5)
    if held:
        step = len(batches) // held
        eval_set = {step * k + step - 1 for k in range(held)}
    else:
        eval_set = set(range(min(EVAL_BATCHES, len(batches))))
        notes.append(f"{len(batches)} batches are too few to hold any back (5 needed); "
                     "accuracy was measured on calibration images")
    return _Calibration(
        reader=lambda ids, on_batch=None: ImageCalibrationReader(inp.name, ids, preprocess, inp.dtype, on_batch),
        calibration_ids=[b for i, b in enumerate(batches) if not (held and i in eval_set)],
        eval_ids=[b for i, b in enumerate(batches) if i in eval_set],
        heldout=held > 0,
        description=f"{len(paths) - unused} images from {folder}" + (f", {held * batch} held out" if held else ""))


def _kept_in_float(source: Path, exclude: Sequence[str], notes: list[str]) -> list[str]:
    """The excluded nodes that still exist after optimisation (e.g. BatchNormalization is folded
    into the Conv before it, and cannot be excluded on its own)."""
    present = {n.name for n in onnx.load(os.fspath(source), load_external_data=False).graph.node}
    for name in exclude:
        if name not in present:
            notes.append(f"node {name} was merged into another node by optimisation; it could not be kept in float")
    return [name for name in exclude if name in present]


def _compare(model_path: Path, int8_path: Path, calibration: _Calibration) -> list[OutputAccuracy]:
    """Per-output agreement on the evaluation batches. Reference: the fp32 model node by node."""
    fp32 = _session(model_path, optimized=False)
    spec, fused = _session(int8_path, optimized=False), _session(int8_path, optimized=True)
    names = [o.name for o in fp32.get_outputs()]
    collected = {name: ([], [], []) for name in names}
    for feeds in calibration.reader(calibration.eval_ids):
        try:
            results = [s.run(names, feeds) for s in (fp32, spec, fused)]
        except Exception as e:
            raise ModelLoadError(f"onnxruntime failed running the models: {str(e).strip()[:500]}") from None
        for name, *values in zip(names, *results):
            for bucket, value in zip(collected[name], values):
                bucket.append(np.asarray(value))
    return [_accuracy(name, *collected[name]) for name in names]


def quantize_onnx(model_path: str | os.PathLike, out_path: str | os.PathLike,
                  calibration: str | os.PathLike | int, *, per_channel: bool = True, method: str = "minmax",
                  exclude: Sequence[str] = (), mean: Sequence[float] | None = None,
                  std: Sequence[float] | None = None, size: tuple[int, int] | None = None, layout: str = "nchw",
                  bgr: bool = False, force: bool = False, seed: int = 0, progress: bool = False,
                  console=None) -> QuantizeReport:
    """Quantizes an fp32 ONNX model to an int8 QDQ model at out_path (written atomically).

    calibration: a folder of images (single-image-input models), or an int N for N seeded
    random inputs of the model's input shapes and dtypes (any model).
    Image options: mean/std per channel after scaling pixels to [0, 1] (default 0 and 1),
    size (H, W) for models with a symbolic height/width, layout of the input ("nchw" or
    "nhwc"), bgr to feed OpenCV's BGR order instead of RGB. `size` and `layout` also fill the
    symbolic height/width of random inputs.
    method: "minmax", "entropy" or "percentile" calibration of activation ranges.
    exclude: names of nodes left in float.
    progress: show a progress bar over calibration batches on `console` (rich; stdout by default).
    """
    _require_onnxruntime()
    if method not in METHODS:
        raise InputError(f"method must be one of {METHODS}, got {method!r}")
    if layout not in LAYOUTS:
        raise InputError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    model_path, out_path = Path(model_path), Path(out_path)
    model = _load_model(model_path)
    _check_output_path(model_path, out_path, force)
    node_names = {n.name for n in model.graph.node if n.name}
    unknown = [name for name in exclude if name not in node_names]
    if unknown:
        raise InputError(f"--exclude names nodes the model does not have: {', '.join(unknown)}")
    inputs = _graph_inputs(model)
    if not inputs:
        raise ModelLoadError(f"{model_path}: the model has no inputs, so there is nothing to calibrate")

    notes: list[str] = []
    if isinstance(calibration, (int, np.integer)) and not isinstance(calibration, bool):
        if mean is not None or std is not None or bgr:
            raise InputError("--mean, --std and --bgr describe --calib images; random calibration does not use them")
        plan = _random_calibration(inputs, calibration, seed, size, layout)
    elif isinstance(calibration, (str, os.PathLike)):
        plan = _image_calibration(inputs, calibration, mean, std, size, layout, bgr, notes)
    else:
        raise InputError(f"calibration must be an image folder or a number of random samples, got {calibration!r}")

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    # Bound to the real stdout now: onnxruntime's prints are redirected while the bar runs.
    console = console or Console(file=sys.stdout)
    bar = Progress(TextColumn("calibrating"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=console, disable=not progress, transient=True,
                   redirect_stdout=False, redirect_stderr=False)
    task = bar.add_task("calibrating", total=len(plan.calibration_ids))
    extra_options = {}
    if method != "minmax":
        # Histogram methods keep every activation of the batches in one collect pass; merging the
        # histograms every `stride` batches bounds that memory (the stride must divide the count).
        count = len(plan.calibration_ids)
        extra_options["CalibStridedMinMax"] = max(d for d in range(1, min(count, 16) + 1) if count % d == 0)

    fd, tmp_name = tempfile.mkstemp(prefix=f".{out_path.name}.", suffix=".tmp", dir=out_path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with tempfile.TemporaryDirectory(prefix="edgert-quantize-") as workdir, _onnxruntime_quiet(notes):
            source = _preprocess(model_path, Path(workdir), notes)
            preprocessed = source is not None
            source = source or model_path
            kept = _kept_in_float(source, exclude, notes) if exclude and preprocessed else list(exclude)
            try:
                with bar:
                    quantize_static(
                        os.fspath(source), os.fspath(tmp), plan.reader(plan.calibration_ids, lambda: bar.advance(task)),
                        quant_format=QuantFormat.QDQ, per_channel=per_channel,
                        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, nodes_to_exclude=kept,
                        calibrate_method=_CALIBRATE_METHODS[method], extra_options=extra_options)
            except EdgeRTError:
                raise
            except Exception as e:
                raise ModelLoadError(f"onnxruntime could not quantize {model_path}: "
                                     f"{type(e).__name__}: {str(e).strip()[:500]}") from None
        outputs = _compare(model_path, tmp, plan)
        int8_model = onnx.load(os.fspath(tmp))
        os.chmod(tmp, _new_file_mode())
        os.replace(tmp, out_path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return QuantizeReport(
        model_path=model_path, output_path=out_path, per_channel=per_channel, method=method,
        calibration=plan.description, calibration_batches=len(plan.calibration_ids),
        evaluation_batches=len(plan.eval_ids), evaluated_on_heldout=plan.heldout, outputs=outputs,
        input_bytes=model_path.stat().st_size, output_bytes=out_path.stat().st_size, preprocessed=preprocessed,
        excluded=kept, notes=notes, **_node_counts(model, int8_model))
