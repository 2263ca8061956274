"""LFM2 config.json: the fields edgert's decoder implements, with the same defaults as transformers' Lfm2Config.

edgert extension (ignored by transformers, which keeps unknown fields as attributes):

* ``"edgert_attention": "softmax" | "gated_delta"`` -- what the ``full_attention`` layers compute.
  ``softmax`` (default) is LFM2's GQA attention with RoPE and a KV cache.  ``gated_delta`` is the
  constant-memory "no-KV" variant: the same q/k/v/out projections and q/k layernorms, then L2-normalised
  q and k and a gated-delta linear-attention recurrence (ONNX LinearAttention, update_rule gated_delta),
  with two extra per-layer weights ``self_attn.b_proj.weight (H_kv, hidden)`` (beta = sigmoid(b_proj x)),
  ``self_attn.a_proj.weight (H_kv, hidden)`` plus ``self_attn.A_log (H_kv,)`` and ``self_attn.dt_bias
  (H_kv,)`` (decay g = -exp(A_log) * softplus(a_proj x + dt_bias), as in Gated DeltaNet).  No RoPE.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from .errors import UnsupportedConfigError
from ..errors import ModelLoadError

# Fields that only describe the file / training and do not change the numbers.
_METADATA = {
    "architectures", "model_type", "dtype", "torch_dtype", "transformers_version", "initializer_range",
    "use_cache", "output_attentions", "output_hidden_states", "return_dict", "is_decoder",
    "is_encoder_decoder", "tie_encoder_decoder", "chunk_size_feed_forward", "problem_type", "id2label",
    "label2id", "tokenizer_class", "prefix", "sep_token_id", "decoder_start_token_id", "task_specific_params",
    "finetuning_task", "add_cross_attention", "cross_attention_hidden_size", "pruned_heads",
    "torchscript", "use_bfloat16", "tf_legacy_loss", "bad_words_ids", "begin_suppress_tokens",
    # legacy LFM2 (LiquidAI) fields about initialisation
    "block_mlp_init_scale", "block_out_init_scale", "block_use_xavier_init", "conv_use_xavier_init",
    "attn_implementation",
}
_USED = {
    "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
    "num_key_value_heads", "head_dim", "max_position_embeddings", "norm_eps", "conv_bias", "conv_L_cache",
    "block_multiple_of", "block_ffn_dim_multiplier", "block_auto_adjust_ff_dim", "full_attn_idxs",
    "layer_types", "rope_parameters", "rope_theta", "rope_scaling", "tie_word_embeddings", "tie_embedding",
    "block_ff_dim", "pad_token_id", "bos_token_id", "eos_token_id", "edgert_attention",
    # legacy LFM2 aliases, checked for consistency
    "block_dim", "conv_dim", "conv_dim_out", "num_heads", "block_norm_eps", "block_use_swiglu", "use_pos_enc",
}


@dataclass
class Lfm2Config:
    vocab_size: int = 65536
    hidden_size: int = 2560
    intermediate_size: int = 12288
    num_hidden_layers: int = 32
    num_attention_heads: int = 32
    num_key_value_heads: int = 8
    head_dim: int = 0
    max_position_embeddings: int = 128000
    norm_eps: float = 1e-5
    conv_bias: bool = False
    conv_L_cache: int = 3
    block_multiple_of: int = 256
    block_ffn_dim_multiplier: float = 1.0
    block_auto_adjust_ff_dim: bool = True
    layer_types: list = field(default_factory=list)
    rope_theta: float = 1000000.0
    tie_word_embeddings: bool = True
    pad_token_id: int = 0
    bos_token_id: int = 1
    eos_token_id: list = field(default_factory=lambda: [2])
    edgert_attention: str = "softmax"
    source: str = ""

    @property
    def ffn_size(self) -> int:
        """transformers' Lfm2MLP intermediate size."""
        n = self.intermediate_size
        if self.block_auto_adjust_ff_dim:
            n = int(2 * n / 3)
            if self.block_ffn_dim_multiplier is not None:
                n = int(self.block_ffn_dim_multiplier * n)
                m = self.block_multiple_of
                n = m * ((n + m - 1) // m)
        return n

    @property
    def has_attention(self) -> bool:
        return "full_attention" in self.layer_types

    @property
    def kv_cache(self) -> bool:
        """True when decode keeps a growing KV cache (softmax attention layers present)."""
        return self.has_attention and self.edgert_attention == "softmax"

    @classmethod
    def from_dict(cls, d: dict, source: str = "config.json") -> "Lfm2Config":
        bad = {}
        unknown = sorted(k for k in d if k not in _USED and k not in _METADATA and not k.startswith("_"))
        for k in unknown:
            bad[k] = "not an LFM2 field edgert implements"
        mt = d.get("model_type", "lfm2")
        if mt != "lfm2":
            bad["model_type"] = f"{mt!r} (expected 'lfm2')"

        def get(name, default):
            return d[name] if d.get(name) is not None else default

        c = cls(source=source)
        try:
            c.vocab_size = int(get("vocab_size", c.vocab_size))
            c.hidden_size = int(get("hidden_size", c.hidden_size))
            c.intermediate_size = int(get("block_ff_dim", get("intermediate_size", c.intermediate_size)))
            c.num_hidden_layers = int(get("num_hidden_layers", c.num_hidden_layers))
            c.num_attention_heads = int(get("num_attention_heads", c.num_attention_heads))
            c.num_key_value_heads = int(get("num_key_value_heads", c.num_key_value_heads))
            c.max_position_embeddings = int(get("max_position_embeddings", c.max_position_embeddings))
            c.norm_eps = float(get("norm_eps", c.norm_eps))
            c.conv_bias = bool(get("conv_bias", c.conv_bias))
            c.conv_L_cache = int(get("conv_L_cache", c.conv_L_cache))
            c.block_multiple_of = int(get("block_multiple_of", c.block_multiple_of))
            c.block_ffn_dim_multiplier = d.get("block_ffn_dim_multiplier", 1.0)
            c.block_auto_adjust_ff_dim = bool(get("block_auto_adjust_ff_dim", True))
            c.tie_word_embeddings = bool(get("tie_embedding", get("tie_word_embeddings", True)))
            c.pad_token_id = get("pad_token_id", 0)
            c.bos_token_id = get("bos_token_id", 1)
            eos = d.get("eos_token_id", 2)
            c.eos_token_id = [] if eos is None else ([int(eos)] if isinstance(eos, int) else [int(e) for e in eos])
            c.edgert_attention = str(get("edgert_attention", "softmax"))
            hd = d.get("head_dim")
            c.head_dim = int(hd) if hd else (c.hidden_size // max(c.num_attention_heads, 1))
        except (TypeError, ValueError) as e:
            raise ModelLoadError(f"{source}: malformed field value ({e})") from None

        if c.edgert_attention not in ("softmax", "gated_delta"):
            bad["edgert_attention"] = f"{c.edgert_attention!r} (expected 'softmax' or 'gated_delta')"
        lt = d.get("layer_types")
        if lt is None:
            idx = d.get("full_attn_idxs")
            idx = list(range(c.num_hidden_layers)) if idx is None else list(idx)
            lt = ["full_attention" if i in idx else "conv" for i in range(c.num_hidden_layers)]
        lt = list(lt)
        others = sorted({t for t in lt if t not in ("conv", "full_attention")})
        if others:
            bad["layer_types"] = f"layer type(s) {others} (expected 'conv' or 'full_attention')"
        if len(lt) != c.num_hidden_layers:
            bad["layer_types"] = f"{len(lt)} entries for num_hidden_layers={c.num_hidden_layers}"
        c.layer_types = lt

        rp = d.get("rope_parameters")
        rs = d.get("rope_scaling")
        theta = d.get("rope_theta")
        if isinstance(rp, dict):
            rtype = rp.get("rope_type", rp.get("type", "default"))
            if rtype != "default":
                bad["rope_parameters.rope_type"] = f"{rtype!r} (only 'default' RoPE is implemented)"
            extra = sorted(set(rp) - {"rope_type", "type", "rope_theta"})
            if extra:
                bad["rope_parameters"] = f"fields {extra} (only rope_theta with default RoPE is implemented)"
            theta = rp.get("rope_theta", theta)
        if isinstance(rs, dict) and rs.get("rope_type", rs.get("type", "default")) != "default":
            bad["rope_scaling"] = f"{rs!r} (only default RoPE is implemented)"
        c.rope_theta = float(theta) if theta is not None else 1000000.0

        # legacy aliases must agree with the fields that are used
        for alias, want in (("block_dim", c.hidden_size), ("conv_dim", c.hidden_size),
                            ("conv_dim_out", c.hidden_size), ("num_heads", c.num_attention_heads)):
            if d.get(alias) is not None and int(d[alias]) != want:
                bad[alias] = f"{d[alias]} differs from {want}"
        if d.get("block_norm_eps") is not None and not math.isclose(float(d["block_norm_eps"]), c.norm_eps):
            bad["block_norm_eps"] = f"{d['block_norm_eps']} differs from norm_eps {c.norm_eps}"
        if d.get("block_use_swiglu") is False:
            bad["block_use_swiglu"] = "false (only the SwiGLU feed-forward is implemented)"
        if d.get("use_pos_enc") is False:
            bad["use_pos_enc"] = "false (attention without RoPE is not implemented)"

        for name in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                     "num_key_value_heads", "head_dim", "conv_L_cache"):
            if getattr(c, name) <= 0:
                bad[name] = f"{getattr(c, name)} (must be positive)"
        if c.num_key_value_heads > 0 and c.num_attention_heads % max(c.num_key_value_heads, 1):
            bad["num_key_value_heads"] = (f"{c.num_key_value_heads} does not divide num_attention_heads "
                                          f"{c.num_attention_heads}")
        if c.head_dim % 2 and c.has_attention and c.edgert_attention == "softmax":
            bad["head_dim"] = f"{c.head_dim} (RoPE needs an even head_dim)"
        if bad:
            raise UnsupportedConfigError(source, bad)
        return c

    @classmethod
    def from_file(cls, path) -> "Lfm2Config":
        path = Path(path)
        try:
            d = json.loads(path.read_text())
        except FileNotFoundError:
            raise ModelLoadError(f"{path}: config.json not found") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ModelLoadError(f"{path}: cannot read config ({e})") from None
        if not isinstance(d, dict):
            raise ModelLoadError(f"{path}: config must be a JSON object")
        return cls.from_dict(d, str(path))
