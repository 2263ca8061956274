"""Parity machinery shared by the test modules: onnxruntime as the reference, seeded inputs and the
one tolerance rule every float comparison uses."""

from __future__ import annotations

import pathlib
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest

# model_zoo and onnx_backend_adapter sit next to the tests; make them importable under any
# --import-mode, not only pytest's default "prepend".
sys.path.insert(0, str(pathlib.Path(__file__).parent))

# max |edgert - reference| <= REL_TOL * max |reference|, per output. The floor applies only when the
# reference output is all zeros, where a relative bound would demand bit-exact zeros.
REL_TOL = 1e-4
ZERO_FLOOR = 1e-6


def reference_session(model: onnx.ModelProto) -> ort.InferenceSession:
    so = ort.SessionOptions()
    # Unoptimised, single-threaded: the reference is onnxruntime's plain kernel for each node,
    # not its fusions, and is itself deterministic.
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 1
    so.log_severity_level = 3  # its shape-merge warnings are noise here
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def run_reference(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    sess = reference_session(model)
    return dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))


def random_feeds(model: onnx.ModelProto, seed: int = 1, dims: dict[str, int] | None = None,
                 input_range: tuple[float, float] | None = None) -> dict[str, np.ndarray]:
    """Seeded float32 inputs for every graph input; `dims` sizes the symbolic dimensions."""
    rng = np.random.default_rng(seed)
    inits = {i.name for i in model.graph.initializer}
    feeds = {}
    for vi in model.graph.input:
        if vi.name in inits:
            continue
        assert vi.type.tensor_type.elem_type == onnx.TensorProto.FLOAT, f"{vi.name}: not float32"
        shape = [d.dim_value if d.HasField("dim_value") else dims[d.dim_param]
                 for d in vi.type.tensor_type.shape.dim]
        if input_range is None:
            feeds[vi.name] = rng.standard_normal(shape).astype(np.float32)
        else:
            feeds[vi.name] = rng.uniform(*input_range, shape).astype(np.float32)
    return feeds


def assert_matches(actual: dict[str, np.ndarray], expected: dict[str, np.ndarray], what: str = "edgert"):
    assert sorted(actual) == sorted(expected), f"{what}: output names {sorted(actual)} != {sorted(expected)}"
    for name, ref in expected.items():
        out = actual[name]
        assert isinstance(out, np.ndarray), f"{what}: output {name!r} is {type(out).__name__}"
        assert out.shape == ref.shape, f"{what}: output {name!r} shape {out.shape} != {ref.shape}"
        assert out.dtype == ref.dtype, f"{what}: output {name!r} dtype {out.dtype} != {ref.dtype}"
        if ref.size == 0:
            continue
        if ref.dtype.kind != "f":
            np.testing.assert_array_equal(out, ref, err_msg=f"{what}: output {name!r}")
            continue
        scale = float(np.abs(ref).max())
        tol = REL_TOL * scale if scale > 0 else ZERO_FLOOR
        assert np.all(np.isfinite(out)), f"{what}: output {name!r} has non-finite values"
        diff = np.abs(out.astype(np.float64) - ref.astype(np.float64))
        worst = np.unravel_index(int(np.argmax(diff)), diff.shape)
        assert diff[worst] <= tol, (
            f"{what}: output {name!r} max abs error {diff[worst]:.3g} > tol {tol:.3g} "
            f"(= {REL_TOL:g} * max|ref| {scale:.3g}); worst at {tuple(int(i) for i in worst)}: "
            f"got {out[worst]!r}, expected {ref[worst]!r}"
        )


def _check_parity(model: onnx.ModelProto, feeds: dict[str, np.ndarray], threads=(1, 2)) -> dict[str, np.ndarray]:
    """Runs `model` on edgert once per thread count: each result must match onnxruntime within
    tolerance, all must be bit-identical to each other, and the caller's inputs must be untouched."""
    import edgert

    expected = run_reference(model, feeds)
    pristine = {k: v.copy() for k, v in feeds.items()}
    results = {}
    for t in threads:
        out = edgert.load(model, threads=t, backend="edgert").run(feeds)
        assert_matches(out, expected, what=f"edgert threads={t}")
        results[t] = out
    for name, value in pristine.items():
        np.testing.assert_array_equal(feeds[name], value, err_msg=f"run() modified input {name!r}")
    first, *others = threads
    for t in others:
        for name in expected:
            identical = np.array_equal(results[t][name], results[first][name])
            assert identical, (
                f"output {name!r} differs between threads={first} and threads={t} "
                f"(max diff {np.abs(results[t][name] - results[first][name]).max():.3g})"
            )
    return results[first]


@pytest.fixture
def check_parity():
    return _check_parity


@pytest.fixture(name="random_feeds")
def random_feeds_fixture():
    return random_feeds


@pytest.fixture(name="run_reference")
def run_reference_fixture():
    return run_reference


@pytest.fixture(name="assert_matches")
def assert_matches_fixture():
    return assert_matches
