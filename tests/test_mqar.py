"""tools/mqar.py: the task's construction, and its gated-delta layer against ONNX LinearAttention's recurrence."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
_SPEC = importlib.util.spec_from_file_location("mqar", Path(__file__).parents[1] / "tools" / "mqar.py")
mqar = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(mqar)


def test_batches_ask_for_the_value_that_followed_each_key():
    tokens, targets = mqar.make_batch(np.random.default_rng(0), 8, 5)
    assert tokens.shape == targets.shape == (8, 20)
    for seq, tgt in zip(tokens, targets):
        pairs = dict(zip(seq[0:10:2], seq[1:10:2]))
        assert len(pairs) == 5 and all(1 <= k < mqar.VOCAB // 2 <= v for k, v in pairs.items())
        queried = seq[10::2]
        assert sorted(queried) == sorted(pairs)
        np.testing.assert_array_equal(tgt[10::2], [pairs[k] for k in queried])
        assert (tgt[:10] == -100).all() and (tgt[11::2] == -100).all()


def test_gated_delta_layer_is_onnx_linear_attention_gated_delta():
    from edgert.lm.kernels import linear_attention_prefill

    rng = np.random.default_rng(1)
    n, t, h, d = 2, 7, 3, 4
    q, k, v = (rng.standard_normal((n, t, h, d)).astype(np.float32) for _ in range(3))
    log_decay = -rng.random((n, t, h)).astype(np.float32)
    beta = rng.random((n, t, h)).astype(np.float32)
    ours = mqar.gated_delta(torch, *(torch.from_numpy(a) for a in (q, k, v, log_decay, beta))).numpy()
    for b in range(n):
        state = np.zeros((h, d, d), np.float32)
        ref = linear_attention_prefill(q[b], k[b], v[b], state, "gated_delta", log_decay[b], beta[b], scale=1.0)
        np.testing.assert_allclose(ours[b], ref, rtol=1e-5, atol=1e-5)
