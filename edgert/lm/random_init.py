"""Write a randomly initialised LFM2 / edgert no-KV checkpoint (config.json + model.safetensors).

Used by the tests and benchmarks (and as the starting point of training recipes) so that every
variant -- including the gated-delta one that transformers does not define -- can be built without
torch.  Linear weights ~ N(0, 1/fan_in), norms 1, conv taps ~ N(0, 1/K), gated-delta ``A_log`` =
log U(1, 16) and ``dt_bias`` = softplus^-1 of U(1e-3, 1e-1) (the Gated DeltaNet/Mamba2 ranges).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from .config import Lfm2Config
from .model import expected_shapes


def random_tensors(config: Lfm2Config, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    out = {}
    for k, shape in expected_shapes(config).items():
        if k.endswith("norm.weight") or k.endswith("layernorm.weight"):
            a = 1.0 + 0.1 * rng.standard_normal(shape)
        elif k.endswith("A_log"):
            a = np.log(rng.uniform(1.0, 16.0, shape))
        elif k.endswith("dt_bias"):
            dt = rng.uniform(1e-3, 1e-1, shape)
            a = dt + np.log(-np.expm1(-dt))
        elif k.endswith("conv.conv.weight"):
            a = rng.standard_normal(shape) / np.sqrt(shape[-1])
        elif k.endswith(".bias"):
            a = 0.1 * rng.standard_normal(shape)
        elif k == "model.embed_tokens.weight" or k == "lm_head.weight":
            a = rng.standard_normal(shape)
        else:
            a = rng.standard_normal(shape) / np.sqrt(shape[1])
        out[k] = np.ascontiguousarray(a, dtype=np.float32)
    return out


def write_checkpoint(path, config: dict, tensors: dict) -> Path:
    """Writes ``config.json`` and ``model.safetensors`` into the directory ``path`` (created; each file is
    written to a temporary name and renamed, so a failed write leaves no half file)."""
    from safetensors.numpy import save_file

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path, suffix=".tmp")
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata={"format": "np"})
        os.replace(tmp, path / "model.safetensors")
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    fd, tmp = tempfile.mkstemp(dir=path, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(config, f, indent=2)
    os.replace(tmp, path / "config.json")
    return path


def write_random_checkpoint(path, config: dict, seed: int = 0) -> Path:
    """``config`` is a config.json dict (model_type lfm2, optional ``edgert_attention``)."""
    c = Lfm2Config.from_dict(config, source=str(Path(path) / "config.json"))
    return write_checkpoint(path, dict(config, model_type="lfm2"), random_tensors(c, seed))


def tiny_config(layer_types=("conv", "full_attention", "conv", "full_attention"), attention="softmax",
                hidden=64, heads=4, kv_heads=2, vocab=256, ffn=192, **extra) -> dict:
    """A small config.json dict (defaults: 4 layers, hidden 64)."""
    d = {"model_type": "lfm2", "vocab_size": vocab, "hidden_size": hidden, "intermediate_size": ffn,
         "num_hidden_layers": len(layer_types), "num_attention_heads": heads, "num_key_value_heads": kv_heads,
         "layer_types": list(layer_types), "block_multiple_of": 8, "norm_eps": 1e-5, "conv_L_cache": 3,
         "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0}, "tie_word_embeddings": True,
         "eos_token_id": None, "bos_token_id": 1, "pad_token_id": 0, "edgert_attention": attention}
    d.update(extra)
    return d
