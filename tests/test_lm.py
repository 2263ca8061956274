"""edgert.lm without torch: kernels vs onnx.reference (opset 27), the no-KV variant, quantization error,
generation (sampling, stop rules, streaming, determinism, constant state), and load errors."""

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

pytest.importorskip("safetensors", reason="edgert.lm reads checkpoints with safetensors (extra 'lm')")

from edgert.errors import EdgeRTError, InputError  # noqa: E402
from edgert.lm import (CheckpointError, GenerationError, Lfm2Model, TextGenerator,  # noqa: E402
                       UnsupportedConfigError, sample_token)
from edgert.lm import kernels as K  # noqa: E402
from edgert.lm.random_init import random_tensors, tiny_config, write_checkpoint, write_random_checkpoint  # noqa: E402
from edgert.lm.config import Lfm2Config  # noqa: E402

ReferenceEvaluator = pytest.importorskip("onnx.reference").ReferenceEvaluator


# ------------------------------------------------------------------------------------- kernels

def _run_ref(node, inputs: dict, outputs):
    vi = [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in inputs]
    vo = [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in outputs]
    g = helper.make_graph([node], "g", vi, vo)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 27)])
    return ReferenceEvaluator(m).run(None, inputs)


@pytest.mark.parametrize("k,t,c", [(3, 7, 5), (4, 1, 8), (2, 9, 3), (1, 4, 6)])
def test_causal_conv_matches_onnx_reference(k, t, c):
    rng = np.random.default_rng(k * 100 + t)
    x = rng.standard_normal((t, c)).astype(np.float32)
    w = rng.standard_normal((c, k)).astype(np.float32)
    b = rng.standard_normal(c).astype(np.float32)
    past = rng.standard_normal((k - 1, c)).astype(np.float32)
    node = helper.make_node("CausalConvWithState", ["x", "w", "b", "s"], ["y", "s2"])
    ry, rs = _run_ref(node, {"x": x.T[None], "w": w[:, None, :], "b": b, "s": past.T[None]}, ["y", "s2"])
    st = past.copy()
    y = K.causal_conv_prefill(x, w, b, st)
    np.testing.assert_allclose(y, ry[0].T, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(st, rs[0].T, rtol=1e-6, atol=1e-6)
    st2 = past.copy()
    ys = np.stack([K.causal_conv_step(x[i], w, b, st2) for i in range(t)])
    np.testing.assert_allclose(ys, ry[0].T, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(st2, st, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("rule", ["linear", "gated", "delta", "gated_delta"])
@pytest.mark.parametrize("hq,hkv,per_dim", [(4, 2, False), (2, 2, True), (3, 1, False)])
def test_linear_attention_matches_onnx_reference(rule, hq, hkv, per_dim):
    rng = np.random.default_rng(hash((rule, hq, hkv, per_dim)) % 2**32)
    t, dk, dv = 6, 5, 3
    q = rng.standard_normal((t, hq, dk)).astype(np.float32)
    k = K.l2_normalize(rng.standard_normal((t, hkv, dk)).astype(np.float32))
    v = rng.standard_normal((t, hkv, dv)).astype(np.float32)
    past = rng.standard_normal((hkv, dk, dv)).astype(np.float32)
    dshape = (t, hkv, dk) if per_dim else (t, hkv)
    decay = -rng.uniform(0.01, 1.0, dshape).astype(np.float32)
    beta = rng.uniform(0.1, 0.9, (t, hkv)).astype(np.float32)
    ins = {"q": q.reshape(1, t, -1), "k": k.reshape(1, t, -1), "v": v.reshape(1, t, -1), "s": past[None]}
    names = ["q", "k", "v", "s"]
    gated, delta = rule in ("gated", "gated_delta"), rule in ("delta", "gated_delta")
    names.append("g" if gated else "")
    names.append("b" if delta else "")
    if gated:
        ins["g"] = decay.reshape(1, t, -1)
    if delta:
        ins["b"] = beta.reshape(1, t, -1)
    while names[-1] == "":
        names.pop()
    node = helper.make_node("LinearAttention", names, ["o", "s2"], q_num_heads=hq, kv_num_heads=hkv,
                            update_rule=rule)
    ro, rs = _run_ref(node, ins, ["o", "s2"])
    st = past.copy()
    o = K.linear_attention_prefill(q, k, v, st, rule, decay if gated else None, beta if delta else None)
    np.testing.assert_allclose(o.reshape(1, t, -1), ro, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(st, rs[0], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("shape", [(7, 32), (5, 70), (3, 1), (16, 64)])
def test_weight_quantization_error_within_half_step(shape):
    w = np.random.default_rng(shape[1]).standard_normal(shape).astype(np.float32)
    w8 = K.quantize_int8(w)
    assert w8.data.dtype == np.int8 and w8.scale.shape == (shape[0],)
    assert np.all(np.abs(w8.dequantize() - w) <= w8.scale[:, None] / 2 + 1e-6)
    w4 = K.quantize_q4(w)
    assert w4.data.dtype == np.uint8 and w4.data.shape == (shape[0], -(-shape[1] // 32) * 16)
    step = np.repeat(w4.scale, 32, axis=1)[:, : shape[1]]
    assert np.all(np.abs(w4.dequantize() - w) <= step / 2 + 1e-6)
    x = np.random.default_rng(0).standard_normal((3, shape[1])).astype(np.float32)
    for wq in (w8, w4):
        np.testing.assert_allclose(K.gemm(x, wq), x @ wq.dequantize().T, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(K.gemv(x[0], wq), x[0] @ wq.dequantize().T, rtol=1e-4, atol=1e-4)
        np.testing.assert_array_equal(wq.rows([0, shape[0] - 1]), wq.dequantize()[[0, shape[0] - 1]])


# ---------------------------------------------------------------------------------- model

@pytest.fixture
def ckpt(tmp_path):
    def make(attention="softmax", seed=0, **kw):
        p = tmp_path / f"{attention}_{seed}_{len(kw)}"
        write_random_checkpoint(p, tiny_config(attention=attention, **kw), seed=seed)
        return p
    return make


@pytest.mark.parametrize("attention", ["softmax", "gated_delta"])
def test_prefill_chunks_equal_token_by_token(ckpt, attention):
    m = Lfm2Model.load(ckpt(attention))
    ids = np.random.default_rng(0).integers(0, 256, 30)
    full = m.forward(ids, m.new_state(), all_logits=True)
    st = m.new_state()
    parts = [m.forward(ids[:11], st, all_logits=True)]
    parts += [m.forward(ids[i:i + 1], st, all_logits=True) for i in range(11, 20)]
    parts.append(m.forward(ids[20:], st, all_logits=True))
    np.testing.assert_allclose(np.concatenate(parts), full, rtol=1e-4, atol=1e-4 * np.abs(full).max())


def test_gated_delta_layer_matches_onnx_linear_attention(ckpt):
    """The no-KV attention layer equals its projections fed through ONNX LinearAttention (gated_delta)."""
    p = ckpt("gated_delta", layer_types=["full_attention"])
    m = Lfm2Model.load(p)
    c, L = m.config, m.layers[0]
    x = np.random.default_rng(1).standard_normal((9, c.hidden_size)).astype(np.float32)
    ours = m._attention(L, 0, x, m.new_state())
    t, d = x.shape[0], c.head_dim
    from edgert.lm.model import read_checkpoint
    W = {n: w for n, w in read_checkpoint(p, c).items() if ".self_attn." in n}
    a = "model.layers.0.self_attn."
    q = K.l2_normalize(K.rms_norm_ref((x @ W[a + "q_proj.weight"].T).reshape(t, -1, d), L["q_ln"], c.norm_eps))
    k = K.l2_normalize(K.rms_norm_ref((x @ W[a + "k_proj.weight"].T).reshape(t, -1, d), L["k_ln"], c.norm_eps))
    v = x @ W[a + "v_proj.weight"].T
    beta = 1 / (1 + np.exp(-(x @ W[a + "b_proj.weight"].T)))
    g = L["neg_A"] * np.log1p(np.exp(x @ W[a + "a_proj.weight"].T + L["dt_bias"]))
    node = helper.make_node("LinearAttention", ["q", "k", "v", "", "g", "b"], ["o"], update_rule="gated_delta",
                            q_num_heads=c.num_attention_heads, kv_num_heads=c.num_key_value_heads)
    (o,) = _run_ref(node, {"q": q.reshape(1, t, -1), "k": k.reshape(1, t, -1), "v": v[None],
                           "g": g[None].astype(np.float32), "b": beta[None].astype(np.float32)}, ["o"])
    np.testing.assert_allclose(ours, o[0] @ W[a + "out_proj.weight"].T, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("attention", ["softmax", "gated_delta"])
@pytest.mark.parametrize("kind,bound", [("int8", 0.05), ("q4", 0.3)])
def test_quantized_logit_error(ckpt, attention, kind, bound):
    """Measured max |dlogit| / max |logit| over 76 positions (printed; benchmarks/lm_decode.py reports it)."""
    p = ckpt(attention, seed=1, hidden=128, ffn=384, vocab=512)
    ids = np.random.default_rng(4).integers(0, 512, 76)
    f = Lfm2Model.load(p)
    q = Lfm2Model.load(p, quantize=kind)
    a = f.forward(ids, f.new_state(), all_logits=True)
    b = q.forward(ids, q.new_state(), all_logits=True)
    rel = float(np.abs(a - b).max() / np.abs(a).max())
    agree = float((a.argmax(1) == b.argmax(1)).mean())
    print(f"{attention} {kind}: rel logit err {rel:.4f}, top-1 agreement {agree:.3f}, "
          f"weights {q.weight_bytes} B vs {f.weight_bytes} B")
    assert 0 < rel <= bound and agree >= 0.9
    assert q.weight_bytes < (0.3 if kind == "int8" else 0.2) * f.weight_bytes


def test_state_memory_constant_for_no_kv_and_growing_with_kv(ckpt):
    gen = TextGenerator(Lfm2Model.load(ckpt("gated_delta")))
    sizes = {}
    for tok in gen.generate([3, 4, 5], max_new_tokens=4096, temperature=1.0, seed=0, stream=True):
        if tok.index in (63, 4095):
            sizes[tok.index + 1] = tok.state_bytes
    assert sizes[64] == sizes[4096] > 0
    kv = TextGenerator(Lfm2Model.load(ckpt("softmax")))
    kv_sizes = [t.state_bytes for t in kv.generate([3], max_new_tokens=200, stream=True)]
    assert kv_sizes[-1] > kv_sizes[0]
    conv_only = TextGenerator(Lfm2Model.load(ckpt("softmax", layer_types=["conv", "conv"])))
    s = [t.state_bytes for t in conv_only.generate([3], max_new_tokens=100, stream=True)]
    assert s[0] == s[-1] == 2 * 2 * 64 * 4          # two (K-1=2, hidden=64) float32 states


# ------------------------------------------------------------------------------ generation

@pytest.fixture
def tok_ckpt(tmp_path):
    tokenizers = pytest.importorskip("tokenizers", reason="text prompts need tokenizers (extra 'lm')")
    from tokenizers import decoders, models, pre_tokenizers, trainers
    tk = tokenizers.Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    tr = trainers.BpeTrainer(vocab_size=120, special_tokens=["<pad>", "<bos>", "<eos>"])
    tk.train_from_iterator(["a red 3 at the top left and a 7 at the bottom right", "a blue square"] * 30, tr)
    p = tmp_path / "tok"
    write_random_checkpoint(p, tiny_config(vocab=tk.get_vocab_size()), seed=2)
    tk.save(str(p / "tokenizer.json"))
    return p


def test_generate_text_stream_and_determinism(tok_ckpt):
    g = TextGenerator.load(tok_ckpt)
    kw = dict(max_new_tokens=24, temperature=6.0, top_k=40, top_p=0.95, seed=7)
    r1 = g.generate("a red 3", **kw)
    r2 = g.generate("a red 3", **kw)
    assert r1.token_ids == r2.token_ids and r1.text == r2.text and len(r1.token_ids) == 24
    assert g.generate("a red 3", **dict(kw, seed=8)).token_ids != r1.token_ids
    s = g.generate("a red 3", **kw, stream=True)
    toks = list(s)
    assert [t.id for t in toks] == r1.token_ids and "".join(t.text for t in toks) == r1.text
    assert s.result.text == r1.text and s.stats.new_tokens == 24
    st = r1.stats
    assert st.prompt_tokens == len(g.encode("a red 3")) and st.prefill_ms > 0 and st.tokens_per_s > 0
    assert st.state_bytes > 0 and st.stop_reason == "length"


def test_greedy_follows_argmax_and_top_k1_is_greedy(tok_ckpt):
    g = TextGenerator.load(tok_ckpt)
    r = g.generate([5, 6, 7], max_new_tokens=10)
    m, st = g.model, g.model.new_state()
    logits, ids = m.forward([5, 6, 7], st), []
    for _ in range(10):
        ids.append(int(np.argmax(logits)))
        logits = m.forward([ids[-1]], st)
    assert r.token_ids == ids
    assert g.generate([5, 6, 7], max_new_tokens=10, temperature=1.5, top_k=1, seed=3).token_ids == ids
    assert g.generate([5, 6, 7], max_new_tokens=10, temperature=1.5, top_p=1e-9, seed=3).token_ids == ids


def test_sampling_distribution_follows_softmax():
    logits = np.array([0.0, 1.0, 2.0, -1.0])
    rng = np.random.default_rng(0)
    counts = np.bincount([sample_token(logits, rng, 1.0) for _ in range(20000)], minlength=4) / 20000
    p = np.exp(logits) / np.exp(logits).sum()
    assert np.abs(counts - p).max() < 0.015
    counts = np.bincount([sample_token(logits, rng, 1.0, top_k=2) for _ in range(5000)], minlength=4)
    assert counts[0] == counts[3] == 0 and counts[1] > 0 and counts[2] > 0


def test_stop_string_and_stop_token(tok_ckpt):
    g = TextGenerator.load(tok_ckpt)
    full = g.generate("a blue", max_new_tokens=30)
    ids, text = full.token_ids, full.text
    stop_tok = ids[6]
    r = g.generate("a blue", max_new_tokens=30, stop=[stop_tok])
    assert r.token_ids == ids[: ids.index(stop_tok)] and r.stats.stop_reason == "stop_token"
    clean = text.replace("\ufffd", "")
    assert len(clean) >= 12, text
    needle = clean[6:9]
    r = g.generate("a blue", max_new_tokens=30, stop=needle)
    assert r.text == text[: text.find(needle)] and r.stats.stop_reason == "stop_string"
    assert len(r.token_ids) < len(ids)
    streamed = "".join(t.text for t in g.generate("a blue", max_new_tokens=30, stop=needle, stream=True))
    assert streamed == r.text


def test_eos_from_config_stops(tmp_path):
    p = tmp_path / "eos"
    write_random_checkpoint(p, tiny_config(), seed=4)
    greedy = TextGenerator.load(p).generate([9, 10], max_new_tokens=20).token_ids
    cfg = json.loads((p / "config.json").read_text())
    cfg["eos_token_id"] = [greedy[3]]
    (p / "config.json").write_text(json.dumps(cfg))
    r = TextGenerator.load(p).generate([9, 10], max_new_tokens=20)
    assert r.token_ids == greedy[: greedy.index(greedy[3])] and r.stats.stop_reason == "eos"


@pytest.mark.parametrize("kw,match", [
    (dict(max_new_tokens=-1), "max_new_tokens"), (dict(temperature=-0.5), "temperature"),
    (dict(temperature=float("nan")), "temperature"), (dict(top_k=-2), "top_k"), (dict(top_p=0.0), "top_p"),
    (dict(top_p=1.5), "top_p"), (dict(seed=-1), "seed"), (dict(stop=[""]), "stop"), (dict(stop=[1.5]), "stop"),
])
def test_bad_generate_arguments(ckpt, kw, match):
    g = TextGenerator(Lfm2Model.load(ckpt()))
    with pytest.raises(GenerationError, match=match):
        g.generate([1, 2], **kw)


def test_bad_prompts(ckpt):
    g = TextGenerator(Lfm2Model.load(ckpt()))
    with pytest.raises(GenerationError, match="tokenizer"):
        g.generate("text without tokenizer")
    with pytest.raises(GenerationError, match="empty"):
        g.generate([])
    with pytest.raises(GenerationError, match="outside the vocabulary"):
        g.generate([1, 999])
    with pytest.raises(GenerationError, match="stop strings need a tokenizer"):
        g.generate([1], stop="x")


# ---------------------------------------------------------------------------------- errors

def test_missing_and_misshaped_keys_are_listed_with_the_file(tmp_path):
    cfg = tiny_config()
    c = Lfm2Config.from_dict(cfg)
    t = random_tensors(c)
    del t["model.layers.1.self_attn.q_layernorm.weight"]
    del t["model.embedding_norm.weight"]
    t["model.layers.0.conv.in_proj.weight"] = np.zeros((10, 64), np.float32)
    write_checkpoint(tmp_path / "bad", cfg, t)
    with pytest.raises(CheckpointError) as ei:
        Lfm2Model.load(tmp_path / "bad")
    e = ei.value
    assert isinstance(e, EdgeRTError)
    assert sorted(e.missing) == ["model.embedding_norm.weight", "model.layers.1.self_attn.q_layernorm.weight"]
    assert e.mis_shaped == {"model.layers.0.conv.in_proj.weight": ((192, 64), (10, 64))}
    msg = str(e)
    assert "model.safetensors" in msg and "q_layernorm" in msg and "(192, 64)" in msg


def test_config_that_the_checkpoint_does_not_match(tmp_path):
    """A conv-only checkpoint loaded with a config that says attention: the attention keys are missing."""
    write_random_checkpoint(tmp_path / "m", tiny_config(layer_types=["conv", "conv"]))
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    cfg["layer_types"] = ["conv", "full_attention"]
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="self_attn.q_proj.weight"):
        Lfm2Model.load(tmp_path / "m")


@pytest.mark.parametrize("change,field", [
    ({"rope_parameters": {"rope_type": "yarn", "rope_theta": 1e6, "factor": 4.0}}, "rope_parameters"),
    ({"layer_types": ["conv", "sliding_attention", "conv", "conv"]}, "layer_types"),
    ({"some_new_field": 3}, "some_new_field"),
    ({"edgert_attention": "mamba"}, "edgert_attention"),
    ({"model_type": "llama"}, "model_type"),
    ({"num_key_value_heads": 3}, "num_key_value_heads"),
    ({"block_use_swiglu": False}, "block_use_swiglu"),
])
def test_unsupported_config_fields_are_named(tmp_path, change, field):
    cfg = dict(tiny_config(), **change)
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(UnsupportedConfigError) as ei:
        Lfm2Config.from_file(tmp_path / "config.json")
    assert any(k.startswith(field) for k in ei.value.fields) and field in str(ei.value)
    assert str(tmp_path / "config.json") in str(ei.value)


def test_legacy_lfm2_config_fields(tmp_path):
    """Older LFM2 configs: full_attn_idxs, block_ff_dim, tie_embedding, rope_theta at top level."""
    d = {"model_type": "lfm2", "vocab_size": 100, "hidden_size": 32, "block_dim": 32, "conv_dim": 32,
         "num_hidden_layers": 3, "num_attention_heads": 4, "num_heads": 4, "num_key_value_heads": 2,
         "full_attn_idxs": [1], "block_ff_dim": 96, "intermediate_size": 10, "tie_embedding": False,
         "rope_theta": 10000.0, "block_use_swiglu": True, "block_mlp_init_scale": 1.0, "torch_dtype": "bfloat16"}
    c = Lfm2Config.from_dict(d)
    assert c.layer_types == ["conv", "full_attention", "conv"] and c.intermediate_size == 96
    assert c.tie_word_embeddings is False and c.rope_theta == 10000.0


def test_load_errors_for_missing_files(tmp_path):
    with pytest.raises(EdgeRTError, match="not a checkpoint directory"):
        Lfm2Model.load(tmp_path / "nope")
    (tmp_path / "a").mkdir()
    with pytest.raises(EdgeRTError, match="config.json not found"):
        Lfm2Model.load(tmp_path / "a")
    (tmp_path / "a" / "config.json").write_text(json.dumps(tiny_config()))
    with pytest.raises(EdgeRTError, match="no \\*.safetensors"):
        Lfm2Model.load(tmp_path / "a")
    (tmp_path / "a" / "model.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{notjson")
    with pytest.raises(CheckpointError, match="model.safetensors"):
        Lfm2Model.load(tmp_path / "a")
    (tmp_path / "a" / "config.json").write_text("{broken")
    with pytest.raises(EdgeRTError, match="cannot read config"):
        Lfm2Model.load(tmp_path / "a")


def test_nan_weights_rejected(tmp_path):
    cfg = tiny_config(layer_types=["conv"])
    t = random_tensors(Lfm2Config.from_dict(cfg))
    t["model.layers.0.feed_forward.w2.weight"][0, 0] = np.nan
    write_checkpoint(tmp_path / "n", cfg, t)
    with pytest.raises(CheckpointError, match="w2.weight holds NaN"):
        Lfm2Model.load(tmp_path / "n")


def test_forward_embeds_equals_forward_on_ids(ckpt):
    m = Lfm2Model.load(ckpt())
    ids = [4, 8, 15, 16, 23, 42]
    a = m.forward(ids, m.new_state(), all_logits=True)
    b = m.forward_embeds(m.embed_tokens(ids), m.new_state(), all_logits=True)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(InputError, match="shape"):
        m.forward_embeds(np.zeros((3, 7), np.float32), m.new_state())
    with pytest.raises(InputError, match="NaN"):
        m.forward_embeds(np.full((1, 64), np.nan, np.float32), m.new_state())


def test_forward_rejects_bad_ids(ckpt):
    m = Lfm2Model.load(ckpt())
    with pytest.raises(InputError, match="outside the vocabulary"):
        m.forward([300], m.new_state())
    with pytest.raises(InputError, match="at least one"):
        m.forward([], m.new_state())


def test_cli_streams_text_and_stats(tok_ckpt, capsys):
    from edgert.lm.__main__ import main
    assert main([str(tok_ckpt), "--prompt", "a red 3", "--max-new-tokens", "8", "--stats"]) == 0
    out, err = capsys.readouterr()
    ref = TextGenerator.load(tok_ckpt).generate("a red 3", max_new_tokens=8).text
    assert out == ref + "\n" and "tok/s" in err and "state" in err
    assert main([str(tok_ckpt / "missing"), "--prompt", "x"]) == 2
    assert "not a checkpoint directory" in capsys.readouterr().err


def test_truncated_or_corrupt_safetensors(tmp_path):
    p = write_random_checkpoint(tmp_path / "t", tiny_config(layer_types=["conv"]))
    f = p / "model.safetensors"
    with open(f, "r+b") as fh:
        fh.truncate(f.stat().st_size - 100)
    with pytest.raises(CheckpointError, match="model.safetensors.*cannot read"):
        Lfm2Model.load(p)
    with open(f, "r+b") as fh:
        fh.write(b"\xff" * 8)                        # absurd header length
    with pytest.raises(CheckpointError, match="cannot read"):
        Lfm2Model.load(p)
