"""edgert.lm on the native kernels: the threaded f32 / int8 / q4 GEMM wrapper and every kernel against
its numpy reference, the fused one-token decode step against the per-op reference path (f32, int8, q4,
1 and 2 threads), thread-count invariance, copies of a decode state, and argument errors."""

import copy

import numpy as np
import pytest

pytest.importorskip("safetensors", reason="edgert.lm reads checkpoints with safetensors (extra 'lm')")

from edgert.errors import ModelLoadError  # noqa: E402
from edgert.lm import Lfm2Model  # noqa: E402
from edgert.lm import kernels as K  # noqa: E402
from edgert.lm.random_init import tiny_config, write_random_checkpoint  # noqa: E402
from edgert._ops import _lm  # noqa: E402

F32 = np.float32


# ------------------------------------------------------------------------------------- GEMM

@pytest.mark.parametrize("kind", ["f32", "int8", "q4"])
@pytest.mark.parametrize("m,n,k", [(1, 1, 32), (1, 37, 64), (1, 203, 96), (5, 19, 160), (3, 64, 40)])
@pytest.mark.parametrize("threads", [1, 2])
def test_gemm_matches_dequantized_reference(kind, m, n, k, threads):
    rng = np.random.default_rng(m * 1000 + n + k)
    w = rng.standard_normal((n, k)).astype(F32)
    x = rng.standard_normal((m, k)).astype(F32)
    b = rng.standard_normal(n).astype(F32)
    wq = K.make_weight(w, kind)
    pool = K.thread_pool(threads)
    ref = x.astype(np.float64) @ wq.dequantize().T.astype(np.float64) + b
    got = K.gemm(x, wq, b, pool)
    assert got.dtype == F32 and got.shape == (m, n)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5 * max(1.0, np.abs(ref).max()))
    np.testing.assert_allclose(K.gemv(x[0], wq, b, pool), ref[0], rtol=1e-5, atol=1e-5 * max(1.0, np.abs(ref).max()))
    with K.use_reference():
        np.testing.assert_allclose(K.gemm(x, wq, b, pool), ref, rtol=1e-5, atol=1e-5 * max(1.0, np.abs(ref).max()))


def test_gemm_is_independent_of_the_thread_count():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 256)).astype(F32)
    for kind in K.KINDS:
        wq = K.make_weight(rng.standard_normal((771, 256)).astype(F32), kind)
        outs = [K.gemm(x, wq, None, K.thread_pool(t)) for t in (1, 2, 3)]
        for o in outs[1:]:
            np.testing.assert_array_equal(o, outs[0])


def test_qwgemm_rejects_bad_arguments():
    w = np.zeros((8, 16), F32)
    with pytest.raises(ValueError, match="does not match"):
        _lm.qwgemm(None, 0, np.zeros((1, 15), F32), w, None, None)
    with pytest.raises(ValueError, match="int8 weights"):
        _lm.qwgemm(None, 1, np.zeros((1, 16), F32), w, np.ones(8, F32), None)
    with pytest.raises(ValueError, match="scale"):
        _lm.qwgemm(None, 1, np.zeros((1, 16), F32), w.astype(np.int8), np.ones(7, F32), None)
    with pytest.raises(ValueError, match="group"):
        _lm.qwgemm(None, 2, np.zeros((1, 16), F32), np.zeros((8, 8), np.uint8), np.ones((8, 1), F32), None, 6)
    with pytest.raises(ValueError, match="bias"):
        _lm.qwgemm(None, 0, np.zeros((1, 16), F32), w, None, np.zeros(7, F32))
    with pytest.raises(ValueError, match="unknown weight kind"):
        _lm.qwgemm(None, 5, np.zeros((1, 16), F32), w, None, None)
    with pytest.raises(TypeError, match="pool"):
        _lm.qwgemm("two", 0, np.zeros((1, 16), F32), w, None, None)
    with pytest.raises(ValueError):
        K.thread_pool(0)


# ------------------------------------------------------------------------- sequence kernels

def test_sequence_kernels_match_numpy_references():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((7, 48)).astype(F32)
    w = rng.standard_normal(48).astype(F32)
    np.testing.assert_allclose(K.rms_norm(x, w, 1e-5), K.rms_norm_ref(x, w, 1e-5), rtol=1e-5, atol=1e-5)
    g, u = rng.standard_normal((2, 7, 48)).astype(F32) * 4
    np.testing.assert_allclose(K.swiglu(g, u), K.swiglu_ref(g, u), rtol=1e-5, atol=1e-5)
    bcx = rng.standard_normal((6, 3 * 48)).astype(F32)
    wkc = rng.standard_normal((3, 48)).astype(F32)
    bias = rng.standard_normal(48).astype(F32)
    s0 = rng.standard_normal((2, 48)).astype(F32)
    s1, s2 = s0.copy(), s0.copy()
    np.testing.assert_allclose(K.causal_conv_gated(bcx, wkc, bias, s1), K.causal_conv_gated_ref(bcx, wkc, bias, s2),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(s1, s2, rtol=1e-6, atol=1e-6)
    q = rng.standard_normal((5, 4, 8)).astype(F32)
    k = K.l2_normalize(rng.standard_normal((5, 2, 8)).astype(F32))
    v = rng.standard_normal((5, 2, 8)).astype(F32)
    dec = -rng.uniform(0.01, 1, (5, 2)).astype(F32)
    beta = rng.uniform(0.1, 0.9, (5, 2)).astype(F32)
    st0 = rng.standard_normal((2, 8, 8)).astype(F32)
    sa, sb = st0.copy(), st0.copy()
    np.testing.assert_allclose(K.linear_attention_prefill(q, k, v, sa, "gated_delta", dec, beta),
                               K.linear_attention_prefill_ref(q, k, v, sb, "gated_delta", dec, beta), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(sa, sb, rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------------------ decode step

@pytest.fixture(scope="module")
def nokv(tmp_path_factory):
    p = tmp_path_factory.mktemp("lm") / "nokv"
    cfg = tiny_config(["conv", "full_attention", "conv", "conv", "full_attention"], attention="gated_delta",
                      hidden=128, heads=4, kv_heads=2, vocab=512, ffn=384, conv_bias=True)
    write_random_checkpoint(p, cfg, seed=1)
    return p


def _decode(m, ids, steps):
    st = m.new_state()
    out = [m.forward(ids, st)]
    for t in range(steps):
        out.append(m.forward([int(out[-1].argmax() + t) % m.config.vocab_size], st))
    return np.stack(out), st


@pytest.mark.parametrize("kind", ["f32", "int8", "q4"])
@pytest.mark.parametrize("threads", [1, 2])
def test_fused_decode_step_matches_the_reference_path(nokv, kind, threads):
    m = Lfm2Model.load(nokv, quantize=None if kind == "f32" else kind, threads=threads)
    ids = np.random.default_rng(2).integers(0, 512, 9)
    got, st = _decode(m, ids, 24)
    assert st._step is not None and st._step[0] is m  # the fused native step ran
    with K.use_reference():
        ref, st_ref = _decode(m, ids, 24)
        assert st_ref._step is None
    scale = np.abs(ref).max()
    np.testing.assert_allclose(got, ref, rtol=0, atol=2e-5 * scale)
    for i in st.la:
        np.testing.assert_allclose(st.la[i], st_ref.la[i], rtol=0, atol=2e-5 * max(1, np.abs(st_ref.la[i]).max()))
    for i in st.conv:
        np.testing.assert_allclose(st.conv[i], st_ref.conv[i], rtol=0, atol=2e-5 * max(1, np.abs(st_ref.conv[i]).max()))
    assert st.pos == st_ref.pos == 9 + 24


def test_fused_step_equals_per_op_step_and_thread_counts(nokv):
    m1 = Lfm2Model.load(nokv, threads=1)
    m2 = Lfm2Model.load(nokv, threads=2)
    ids = np.arange(5, 12)
    a, _ = _decode(m1, ids, 8)
    b, _ = _decode(m2, ids, 8)
    np.testing.assert_array_equal(a, b)
    # forward_embeds with one row takes the fused step too, and equals the per-op path (T=2 prefill
    # of a single token is impossible, so compare against forward on ids)
    st = m1.new_state()
    m1.forward(ids, st)
    e = m1.embed_tokens([17])
    st2 = copy.deepcopy(st)
    assert st2._step is None
    np.testing.assert_array_equal(m1.forward_embeds(e, st), m1.forward([17], st2))


def test_state_copies_decode_independently(nokv):
    m = Lfm2Model.load(nokv, quantize="int8")
    st = m.new_state()
    m.forward(np.arange(10), st)
    m.forward([3], st)
    fork = copy.deepcopy(st)
    a = m.forward([4], st)
    b = m.forward([4], fork)
    np.testing.assert_array_equal(a, b)
    assert fork._step[1] is not st._step[1]


def test_kv_cache_models_use_the_per_op_native_path(tmp_path):
    p = tmp_path / "kv"
    write_random_checkpoint(p, tiny_config(attention="softmax"), seed=0)
    m = Lfm2Model.load(p)
    st = m.new_state()
    m.forward([1, 2, 3], st)
    got = m.forward([4], st)
    assert st._step is None
    st_ref = m.new_state()
    with K.use_reference():
        m.forward([1, 2, 3], st_ref)
        ref = m.forward([4], st_ref)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-5 * np.abs(ref).max())


@pytest.mark.parametrize("threads", [0, -1, 1.5, "2", True])
def test_bad_thread_counts(nokv, threads):
    with pytest.raises(ModelLoadError, match="threads"):
        Lfm2Model.load(nokv, threads=threads)


def test_two_python_threads_share_one_model_and_pool(nokv):
    """Decodes on two states from two Python threads (GIL released in the kernels) take turns on the
    model's pool and give the same logits as one after the other."""
    import threading

    m = Lfm2Model.load(nokv, quantize="int8", threads=2)
    seqs = [np.arange(3, 9), np.arange(40, 47)]
    expect = [_decode(m, s, 30)[0] for s in seqs]
    got = [None, None]

    def run(i):
        got[i] = _decode(m, seqs[i], 30)[0]

    ts = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=120)
    for e, g in zip(expect, got):
        np.testing.assert_array_equal(g, e)
