"""edgert.lm decoder vs transformers' Lfm2ForCausalLM (tiny configs, random weights, save_pretrained).

Needs the `lm` extra (torch, transformers, safetensors): pip install -e ".[test,lm]".
"""

import inspect

import numpy as np
import pytest

pytest.importorskip("safetensors", reason="edgert.lm reads checkpoints with safetensors (extra 'lm')")
torch = pytest.importorskip("torch", reason="parity reference needs torch (extra 'lm')")
transformers = pytest.importorskip("transformers", reason="parity reference needs transformers (extra 'lm')")
if not hasattr(transformers, "Lfm2ForCausalLM"):
    pytest.skip("this transformers has no Lfm2ForCausalLM (needs >= 4.54)", allow_module_level=True)

from edgert.lm import Lfm2Model  # noqa: E402

PROMPT, DECODE = 12, 64

CASES = {
    # conv-only stack, tied embeddings
    "conv_only": dict(layer_types=["conv", "conv", "conv"], num_attention_heads=4, num_key_value_heads=4),
    # LFM2-style hybrid: GQA (4 query heads on 2 kv heads), untied head, conv bias, longer conv
    "hybrid": dict(layer_types=["conv", "full_attention", "conv", "conv", "full_attention"],
                   num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=False, conv_bias=True,
                   conv_L_cache=4),
}


def _build(tmp_path, name, seed=0):
    torch.manual_seed(seed)
    kw = dict(CASES[name])
    cfg = transformers.Lfm2Config(vocab_size=128, hidden_size=48, intermediate_size=128,
                                  num_hidden_layers=len(kw["layer_types"]), block_multiple_of=8, **kw)
    model = transformers.Lfm2ForCausalLM(cfg).eval()
    with torch.no_grad():  # weights far from init so every path contributes
        for n, p in model.named_parameters():
            if "norm" in n:
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            else:
                p.normal_(0.0, 0.3)
    model.save_pretrained(tmp_path / name)
    return model


def _reference_logits(model, ids):
    """Logits at every position of `ids` from one uncached forward (transformers' cache for conv-only
    stacks needs an attention layer, so the reference is the full recomputation)."""
    with torch.no_grad():
        return model(torch.tensor([ids]), use_cache=False).logits[0].numpy()


@pytest.mark.parametrize("name", sorted(CASES))
def test_prefill_and_64_decode_steps_match_transformers(tmp_path, name):
    model = _build(tmp_path, name)
    rng = np.random.default_rng(1)
    ids = rng.integers(0, 128, PROMPT + DECODE).tolist()
    ref = _reference_logits(model, ids)[PROMPT - 1:]           # (1 + DECODE, V)

    ours = Lfm2Model.load(tmp_path / name)
    st = ours.new_state()
    got = [ours.forward(ids[:PROMPT], st)]
    for t in ids[PROMPT:]:
        got.append(ours.forward([t], st))
    got = np.stack(got)[: DECODE + 1]
    err = np.abs(got[:DECODE] - ref[:DECODE]).max()
    bound = 1e-3 * np.abs(ref).max()
    print(f"{name}: max |dlogit| / max |logit| = {err / np.abs(ref).max():.2e}")
    assert err <= bound, f"{name}: max |dlogit| {err:.3g} > {bound:.3g}"
    assert st.pos == PROMPT + DECODE


def test_hybrid_decode_matches_transformers_cached_decode(tmp_path):
    """Same as above, but the reference decodes with transformers' own KV + conv cache."""
    model = _build(tmp_path, "hybrid", seed=3)
    rng = np.random.default_rng(2)
    ids = rng.integers(0, 128, PROMPT + DECODE).tolist()
    ours = Lfm2Model.load(tmp_path / "hybrid")
    st = ours.new_state()
    # transformers >= 5.x names the cache argument `cache` (formerly `past_key_values`)
    arg = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
    with torch.no_grad():
        out = model(torch.tensor([ids[:PROMPT]]), use_cache=True)
        cache = getattr(out, arg, None) if getattr(out, arg, None) is not None else out.past_key_values
        ref = [out.logits[0, -1].numpy()]
        got = [ours.forward(ids[:PROMPT], st)]
        for t in ids[PROMPT:]:
            out = model(torch.tensor([[t]]), use_cache=True, **{arg: cache})
            ref.append(out.logits[0, -1].numpy())
            got.append(ours.forward([t], st))
    ref, got = np.stack(ref), np.stack(got)
    assert np.abs(got - ref).max() <= 1e-3 * np.abs(ref).max()


def test_prefill_all_positions_match(tmp_path):
    model = _build(tmp_path, "hybrid", seed=5)
    ids = np.random.default_rng(3).integers(0, 128, 40).tolist()
    ref = _reference_logits(model, ids)
    ours = Lfm2Model.load(tmp_path / "hybrid")
    got = ours.forward(ids, ours.new_state(), all_logits=True)
    assert got.shape == ref.shape
    assert np.abs(got - ref).max() <= 1e-3 * np.abs(ref).max()


def test_bfloat16_checkpoint_loads_as_its_float32_values(tmp_path):
    """Official LFM2 checkpoints are bfloat16: read (through torch) and widened exactly."""
    model = _build(tmp_path, "conv_only", seed=9)
    model.to(torch.bfloat16).save_pretrained(tmp_path / "bf16")
    model.to(torch.float32).save_pretrained(tmp_path / "f32")
    ids = list(range(1, 20))
    a = Lfm2Model.load(tmp_path / "bf16")
    b = Lfm2Model.load(tmp_path / "f32")
    np.testing.assert_array_equal(a.forward(ids, a.new_state()), b.forward(ids, b.new_state()))


def test_edgert_written_checkpoint_loads_in_transformers(tmp_path):
    """The other direction: a checkpoint written by edgert.lm.random_init is a valid Lfm2ForCausalLM."""
    from edgert.lm.random_init import tiny_config, write_random_checkpoint
    write_random_checkpoint(tmp_path / "e", tiny_config(), seed=11)
    ref_model = transformers.Lfm2ForCausalLM.from_pretrained(tmp_path / "e").eval()
    ids = list(np.random.default_rng(5).integers(0, 256, 30))
    ref = _reference_logits(ref_model, ids)
    ours = Lfm2Model.load(tmp_path / "e")
    got = ours.forward(ids, ours.new_state(), all_logits=True)
    assert np.abs(got - ref).max() <= 1e-3 * np.abs(ref).max()
