"""LFM2-compatible decoder running on the kernel interface of :mod:`edgert.lm.kernels`.

Loads a transformers LFM2 checkpoint directory (``config.json`` + ``*.safetensors``, key names as
transformers' ``Lfm2ForCausalLM`` saves them) and runs it token by token with an explicit
:class:`DecodeState`:

* ``conv`` layers (LFM2 short conv: ``B, C, x = in_proj(h)``; ``y = out_proj(C * conv(B * x))``) keep a
  rolling ``(K-1, hidden)`` state;
* ``full_attention`` layers with ``edgert_attention = "softmax"`` (LFM2 itself: GQA, q/k RMSNorm, RoPE)
  keep a KV cache, the only state that grows with the sequence;
* ``full_attention`` layers with ``edgert_attention = "gated_delta"`` keep a fixed ``(H_kv, d, d)``
  linear-attention state instead (see :mod:`edgert.lm.config`), so decode memory is constant.

Weights can be quantized at load: ``quantize="int8"`` (per output channel) or ``"q4"`` (groups of 32;
the embedding table / output head then stays int8); norms, conv taps and the gated-delta vectors stay
float32.

Every op runs on the native kernels of :mod:`edgert.lm.kernels` (``threads=`` sizes their pool).
Projections that read the same input are packed into one weight at load (``w1``/``w3``; conv
``in_proj``; attention ``q/k/v`` (+ ``b``/``a``)), so each is one GEMV per token.  A decode step
(one token) of a model without a KV cache (conv + gated-delta layers) runs as a single native call
(:class:`edgert._ops._lm.DecodeStep`) that updates the :class:`DecodeState` arrays in place.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import kernels as K
from .config import Lfm2Config
from .errors import CheckpointError
from ..errors import InputError, ModelLoadError

F32 = np.float32
_LINEAR_SUFFIXES = ("in_proj.weight", "out_proj.weight", "q_proj.weight", "k_proj.weight", "v_proj.weight",
                    "w1.weight", "w2.weight", "w3.weight", "a_proj.weight", "b_proj.weight")


# ------------------------------------------------------------------------------ checkpoint

def expected_shapes(c: Lfm2Config) -> dict:
    """Key name -> shape of every tensor the decoder reads, as transformers' Lfm2ForCausalLM names them."""
    h, f, d = c.hidden_size, c.ffn_size, c.head_dim
    hq, hkv = c.num_attention_heads, c.num_key_value_heads
    s = {"model.embed_tokens.weight": (c.vocab_size, h), "model.embedding_norm.weight": (h,)}
    if not c.tie_word_embeddings:
        s["lm_head.weight"] = (c.vocab_size, h)
    for i, t in enumerate(c.layer_types):
        p = f"model.layers.{i}."
        s[p + "operator_norm.weight"] = (h,)
        s[p + "ffn_norm.weight"] = (h,)
        s[p + "feed_forward.w1.weight"] = (f, h)
        s[p + "feed_forward.w3.weight"] = (f, h)
        s[p + "feed_forward.w2.weight"] = (h, f)
        if t == "conv":
            s[p + "conv.in_proj.weight"] = (3 * h, h)
            s[p + "conv.conv.weight"] = (h, 1, c.conv_L_cache)
            s[p + "conv.out_proj.weight"] = (h, h)
            if c.conv_bias:
                s[p + "conv.in_proj.bias"] = (3 * h,)
                s[p + "conv.conv.bias"] = (h,)
                s[p + "conv.out_proj.bias"] = (h,)
        else:
            a = p + "self_attn."
            s[a + "q_proj.weight"] = (hq * d, h)
            s[a + "k_proj.weight"] = (hkv * d, h)
            s[a + "v_proj.weight"] = (hkv * d, h)
            s[a + "out_proj.weight"] = (h, hq * d)
            s[a + "q_layernorm.weight"] = (d,)
            s[a + "k_layernorm.weight"] = (d,)
            if c.edgert_attention == "gated_delta":
                s[a + "b_proj.weight"] = (hkv, h)
                s[a + "a_proj.weight"] = (hkv, h)
                s[a + "A_log"] = (hkv,)
                s[a + "dt_bias"] = (hkv,)
    return s


def _safetensors_files(path: Path) -> list:
    index = path / "model.safetensors.index.json"
    if index.is_file():
        try:
            wm = json.loads(index.read_text())["weight_map"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ModelLoadError(f"{index}: cannot read the shard index ({e})") from None
        files = [path / n for n in sorted(set(wm.values()))]
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise ModelLoadError(f"{index}: shard file(s) not found: {', '.join(missing)}")
        return files
    files = sorted(path.glob("*.safetensors"))
    if not files:
        raise ModelLoadError(f"{path}: no *.safetensors file next to config.json")
    return files


def _to_f32(f, key, fname):
    sl = f.get_slice(key)
    dt = sl.get_dtype()
    if dt in ("F32", "F16", "F64"):
        return np.asarray(f.get_tensor(key), dtype=F32)
    if dt == "BF16":
        try:
            import torch  # bf16 has no numpy dtype; torch is how such checkpoints are written
            from safetensors import safe_open
        except ImportError:
            raise CheckpointError(fname, [fname], reason=f"key {key} is bfloat16, which needs torch to read; "
                                  "convert the checkpoint to float32/float16 or install torch") from None
        with safe_open(str(fname), framework="pt") as ft:
            return ft.get_tensor(key).float().numpy()
    raise CheckpointError(fname, [fname], reason=f"key {key} has dtype {dt} (expected a float type)")


def read_checkpoint(path, config: Lfm2Config) -> dict:
    """Reads and checks every tensor :func:`expected_shapes` lists; raises :class:`CheckpointError`
    naming the files with all missing and mis-shaped keys."""
    try:
        from safetensors import SafetensorError, safe_open
    except ImportError:
        raise ModelLoadError("reading LFM2 checkpoints needs the 'safetensors' package "
                             "(pip install 'edgert[lm]' or pip install safetensors)") from None
    path = Path(path)
    files = _safetensors_files(path)
    want = expected_shapes(config)
    where, shapes = {}, {}
    for fn in files:
        try:
            with safe_open(str(fn), framework="np") as f:
                for k in f.keys():
                    where[k] = fn
                    shapes[k] = tuple(f.get_slice(k).get_shape())
        except (SafetensorError, OSError, ValueError) as e:
            raise CheckpointError(path, [fn], reason=f"cannot read safetensors file ({e})") from None
    missing = [k for k in want if k not in where]
    mis = {k: (want[k], shapes[k]) for k in want if k in shapes and shapes[k] != want[k]}
    if missing or mis:
        raise CheckpointError(path, files, missing=missing, mis_shaped=mis)
    out = {}
    for fn in files:
        keys = [k for k in want if where[k] == fn]
        if not keys:
            continue
        with safe_open(str(fn), framework="np") as f:
            for k in keys:
                a = _to_f32(f, k, fn)
                if not np.all(np.isfinite(a)):
                    raise CheckpointError(path, [fn], reason=f"key {k} holds NaN or Inf values")
                out[k] = a
    return out


# ---------------------------------------------------------------------------------- state

class DecodeState:
    """Everything a generation carries from token to token (batch 1)."""

    def __init__(self, model: "Lfm2Model"):
        c = model.config
        self.pos = 0
        self._step = None  # (model, native decode step, the state arrays it was built on)
        self.conv = {}
        self.k_cache, self.v_cache = {}, {}
        self.la = {}
        for i, t in enumerate(c.layer_types):
            if t == "conv":
                self.conv[i] = np.zeros((c.conv_L_cache - 1, c.hidden_size), F32)
            elif c.edgert_attention == "gated_delta":
                self.la[i] = np.zeros((c.num_key_value_heads, c.head_dim, c.head_dim), F32)
            else:
                self.k_cache[i] = np.zeros((0, c.num_key_value_heads, c.head_dim), F32)
                self.v_cache[i] = np.zeros((0, c.num_key_value_heads, c.head_dim), F32)

    def __getstate__(self):
        # copies (copy.deepcopy, pickle) carry the arrays; the native step is rebuilt on first use
        d = dict(self.__dict__)
        d["_step"] = None
        return d

    def __setstate__(self, d):
        self.__dict__.update(d)

    @property
    def nbytes(self) -> int:
        """Bytes held by the recurrent state and the KV cache (allocated capacity)."""
        n = sum(a.nbytes for a in self.conv.values()) + sum(a.nbytes for a in self.la.values())
        n += sum(a.nbytes for a in self.k_cache.values()) + sum(a.nbytes for a in self.v_cache.values())
        return int(n)

    def _append_kv(self, i, k, v):
        kc, vc = self.k_cache[i], self.v_cache[i]
        need = self.pos + k.shape[0]
        if need > kc.shape[0]:
            cap = max(need, 2 * kc.shape[0], 16)
            nk = np.zeros((cap,) + kc.shape[1:], F32)
            nv = np.zeros((cap,) + vc.shape[1:], F32)
            nk[: self.pos] = kc[: self.pos]
            nv[: self.pos] = vc[: self.pos]
            self.k_cache[i], self.v_cache[i] = kc, vc = nk, nv
        kc[self.pos:need] = k
        vc[self.pos:need] = v
        return kc[:need], vc[:need]


# ---------------------------------------------------------------------------------- model

class Lfm2Model:
    """An LFM2 decoder.  ``forward(ids, state)`` consumes tokens and returns their logits."""

    def __init__(self, config: Lfm2Config, tensors: dict, quantize=None, path="", threads: int = 1):
        if quantize not in (None, "f32", "int8", "q4"):
            raise ModelLoadError(f"quantize={quantize!r}: expected None, 'int8' or 'q4'")
        if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
            raise ModelLoadError(f"threads={threads!r}: expected an integer >= 1")
        self.threads = int(threads)
        self._pool = K.thread_pool(self.threads)
        self.config = c = config
        self.path = str(path)
        self.quantize = quantize or "f32"
        kind = self.quantize
        emb = tensors["model.embed_tokens.weight"]
        # The embedding table / output head stays at 8 bits under q4 (logits are most sensitive to it).
        head_kind = "int8" if kind == "q4" else kind
        self.embed = K.make_weight(emb, head_kind)
        self.lm_head = self.embed if c.tie_word_embeddings else K.make_weight(tensors["lm_head.weight"], head_kind)
        self.final_norm = np.ascontiguousarray(tensors["model.embedding_norm.weight"], F32)
        vec = lambda k: None if tensors.get(k) is None else np.ascontiguousarray(tensors[k], F32)  # noqa: E731
        self.layers = []
        for i, t in enumerate(c.layer_types):
            p = f"model.layers.{i}."
            # w13 = [w1; w3]: one GEMV for gate and up (rows quantize independently, so packing the
            # rows together gives the same numbers as two weights).
            L = {"type": t,
                 "op_norm": vec(p + "operator_norm.weight"), "ffn_norm": vec(p + "ffn_norm.weight"),
                 "w13": K.make_weight(np.concatenate([tensors[p + "feed_forward.w1.weight"],
                                                      tensors[p + "feed_forward.w3.weight"]]), kind),
                 "w2": K.make_weight(tensors[p + "feed_forward.w2.weight"], kind)}
            if t == "conv":
                L["in_proj"] = K.make_weight(tensors[p + "conv.in_proj.weight"], kind)
                L["out_proj"] = K.make_weight(tensors[p + "conv.out_proj.weight"], kind)
                # tap-major (K, C), as the kernel reads it (the checkpoint's (C, 1, K) transposed)
                L["conv_w_kc"] = np.ascontiguousarray(tensors[p + "conv.conv.weight"][:, 0, :].T)
                L["in_b"] = vec(p + "conv.in_proj.bias")
                L["conv_b"] = vec(p + "conv.conv.bias")
                L["out_b"] = vec(p + "conv.out_proj.bias")
            else:
                a = p + "self_attn."
                rows = [tensors[a + n + ".weight"] for n in ("q_proj", "k_proj", "v_proj")]
                L["out_proj"] = K.make_weight(tensors[a + "out_proj.weight"], kind)
                L["q_ln"] = vec(a + "q_layernorm.weight")
                L["k_ln"] = vec(a + "k_layernorm.weight")
                if c.edgert_attention == "gated_delta":
                    # [q; k; v; b; a]: every projection of the normed input in one GEMV
                    rows += [tensors[a + "b_proj.weight"], tensors[a + "a_proj.weight"]]
                    L["neg_A"] = -np.exp(tensors[a + "A_log"]).astype(F32)
                    L["dt_bias"] = vec(a + "dt_bias")
                L["qkv"] = K.make_weight(np.concatenate(rows), kind)
            self.layers.append(L)
        d = c.head_dim
        self.inv_freq = (F32(1.0) / (F32(c.rope_theta) ** (np.arange(0, d, 2, dtype=F32) / F32(d)))).astype(F32)

    # -------------------------------------------------------------------------- loading
    @classmethod
    def load(cls, path, quantize=None, threads: int = 1) -> "Lfm2Model":
        """Loads a checkpoint directory (config.json + *.safetensors); ``threads`` for the GEMMs."""
        path = Path(path)
        if not path.is_dir():
            raise ModelLoadError(f"{path}: not a checkpoint directory (expected config.json + *.safetensors)")
        config = Lfm2Config.from_file(path / "config.json")
        tensors = read_checkpoint(path, config)
        return cls(config, tensors, quantize=quantize, path=path, threads=threads)

    @property
    def weight_bytes(self) -> int:
        n = self.embed.nbytes + (0 if self.lm_head is self.embed else self.lm_head.nbytes) + self.final_norm.nbytes
        for L in self.layers:
            for v in L.values():
                if isinstance(v, K.Weight):
                    n += v.nbytes
                elif isinstance(v, np.ndarray):
                    n += v.nbytes
        return int(n)

    def new_state(self) -> DecodeState:
        return DecodeState(self)

    # -------------------------------------------------------------------------- compute
    def _rope(self, x, pos0):
        """Rotary embedding (transformers' rotate_half convention) on x (T, H, D) at positions pos0.."""
        t = x.shape[0]
        pos = np.arange(pos0, pos0 + t, dtype=F32)
        freqs = pos[:, None] * self.inv_freq[None, :]
        emb = np.concatenate([freqs, freqs], axis=-1)
        cos, sin = np.cos(emb)[:, None, :], np.sin(emb)[:, None, :]
        half = x.shape[-1] // 2
        rot = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)
        return x * cos + rot * sin

    def _conv(self, L, i, x, state):
        bcx = K.gemm(x, L["in_proj"], L["in_b"], self._pool)
        co = K.causal_conv_gated(bcx, L["conv_w_kc"], L["conv_b"], state.conv[i])
        return K.gemm(co, L["out_proj"], L["out_b"], self._pool)

    def _attention(self, L, i, x, state):
        c = self.config
        t, d, hq, hkv = x.shape[0], c.head_dim, c.num_attention_heads, c.num_key_value_heads
        proj = K.gemm(x, L["qkv"], None, self._pool)
        nq, nk = hq * d, hkv * d
        q = K.rms_norm(proj[:, :nq].reshape(t, hq, d), L["q_ln"], c.norm_eps)
        k = K.rms_norm(proj[:, nq:nq + nk].reshape(t, hkv, d), L["k_ln"], c.norm_eps)
        v = proj[:, nq + nk:nq + 2 * nk].reshape(t, hkv, d)
        if c.edgert_attention == "gated_delta":
            q, k = K.l2_normalize(q), K.l2_normalize(k)
            ba = proj[:, nq + 2 * nk:]
            beta = K.sigmoid(ba[:, :hkv])
            g = L["neg_A"] * K.softplus(ba[:, hkv:] + L["dt_bias"])
            st = state.la[i]
            if t == 1:
                o = K.linear_attention_step(q[0], k[0], v[0], st, "gated_delta", g[0], beta[0])[None]
            else:
                o = K.linear_attention_prefill(q, k, v, st, "gated_delta", g, beta)
            return K.gemm(o.reshape(t, hq * d), L["out_proj"], None, self._pool)
        q = self._rope(q, state.pos)
        k = self._rope(k, state.pos)
        kc, vc = state._append_kv(i, k, v)
        n = kc.shape[0]
        g = hq // hkv
        qg = q.reshape(t, hkv, g, d).transpose(1, 2, 0, 3)                # (Hkv, g, T, D)
        s = np.matmul(qg, kc.transpose(1, 2, 0)[:, None]) * F32(d ** -0.5)  # (Hkv, g, T, N)
        if t > 1:
            qpos = state.pos + np.arange(t)[:, None]
            s = np.where(np.arange(n)[None, :] > qpos, F32(-np.inf), s)
        s = s - s.max(axis=-1, keepdims=True)
        p = np.exp(s)
        p /= p.sum(axis=-1, keepdims=True)
        o = np.matmul(p, vc.transpose(1, 0, 2)[:, None])                  # (Hkv, g, T, D)
        return K.gemm(o.transpose(2, 0, 1, 3).reshape(t, hq * d), L["out_proj"], None, self._pool)

    def forward(self, ids, state: DecodeState, all_logits: bool = False) -> np.ndarray:
        """Consumes token ids (T,) after ``state``; returns logits (T, V) or, by default, (V,) of the last."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        if ids.size == 0:
            raise InputError("forward() needs at least one token id")
        if ids.min() < 0 or ids.max() >= self.config.vocab_size:
            bad = int(ids[(ids < 0) | (ids >= self.config.vocab_size)][0])
            raise InputError(f"token id {bad} outside the vocabulary [0, {self.config.vocab_size})")
        if ids.size == 1:
            step = self._fast_step(state)
            if step is not None:
                logits = step.token(int(ids[0]))
                state.pos += 1
                return logits[None] if all_logits else logits
        return self.forward_embeds(self.embed.rows(ids).astype(F32), state, all_logits)

    def embed_tokens(self, ids) -> np.ndarray:
        """Token embeddings (T, hidden), e.g. to splice image tokens in front of a text prompt."""
        return self.embed.rows(np.asarray(ids, dtype=np.int64).reshape(-1)).astype(F32)

    def forward_embeds(self, x: np.ndarray, state: DecodeState, all_logits: bool = False) -> np.ndarray:
        """Like :meth:`forward` on input embeddings ``x (T, hidden)`` (image tokens of a VLM, say)."""
        c = self.config
        x = np.asarray(x, dtype=F32)
        if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] != c.hidden_size:
            raise InputError(f"embeddings must have shape (T>=1, {c.hidden_size}), got {x.shape}")
        if not np.all(np.isfinite(x)):
            raise InputError("embeddings hold NaN or Inf values")
        if x.shape[0] == 1:
            step = self._fast_step(state)
            if step is not None:
                logits = step.embeds(x[0])
                state.pos += 1
                return logits[None] if all_logits else logits
        for i, L in enumerate(self.layers):
            hn = K.rms_norm(x, L["op_norm"], c.norm_eps)
            if L["type"] == "conv":
                x = x + self._conv(L, i, hn, state)
            else:
                x = x + self._attention(L, i, hn, state)
            hn = K.rms_norm(x, L["ffn_norm"], c.norm_eps)
            gu = K.gemm(hn, L["w13"], None, self._pool)
            f = c.ffn_size
            x = x + K.gemm(K.swiglu(gu[:, :f], gu[:, f:]), L["w2"], None, self._pool)
        state.pos += x.shape[0]
        if not all_logits:
            x = x[-1:]
        x = K.rms_norm(x, self.final_norm, c.norm_eps)
        logits = K.gemm(x, self.lm_head, None, self._pool)
        return logits if all_logits else logits[0]

    # -------------------------------------------------------------------------- fused decode step
    def _fast_step(self, state: DecodeState):
        """The native one-token step bound to ``state``'s arrays, or None where the model needs the
        per-op path (a KV cache, reference mode, q4 weights whose input is not whole groups)."""
        if K.reference_mode() or self.config.edgert_attention != "gated_delta" or self.embed.kind == "q4":
            return None
        arrays = [state.conv[i] if L["type"] == "conv" else state.la[i] for i, L in enumerate(self.layers)]
        cached = state._step
        if cached is not None and cached[0] is self and all(a is b for a, b in zip(cached[2], arrays)):
            return cached[1]
        if not hasattr(self, "_step_plan"):
            self._step_plan = self._build_step_plan()
        if self._step_plan is None:
            return None
        from edgert._ops import _lm
        step = _lm.DecodeStep(self._pool, self._step_plan[0], self._step_plan[1], arrays)
        state._step = (self, step, arrays)
        return step

    def _build_step_plan(self):
        weights = [self.lm_head] + [v for L in self.layers for v in L.values() if isinstance(v, K.Weight)]
        if any(K.native_k(w) != w.shape[1] for w in weights):
            return None
        c = self.config
        e = self.embed
        model = {"hidden": c.hidden_size, "ffn": c.ffn_size, "heads": c.num_attention_heads,
                 "kv_heads": c.num_key_value_heads, "head_dim": c.head_dim, "eps": float(c.norm_eps),
                 "final_norm": self.final_norm, "head": K.native_weight(self.lm_head),
                 "embed": (e.kind, e.data, e.scale, e.group)}
        layers = []
        for L in self.layers:
            d = {"type": L["type"], "op_norm": L["op_norm"], "ffn_norm": L["ffn_norm"],
                 "w13": K.native_weight(L["w13"]), "w2": K.native_weight(L["w2"])}
            if L["type"] == "conv":
                d.update(in_proj=K.native_weight(L["in_proj"], L["in_b"]),
                         out_proj=K.native_weight(L["out_proj"], L["out_b"]),
                         conv_w=L["conv_w_kc"], conv_b=L["conv_b"])
            else:
                d.update(qkvba=K.native_weight(L["qkv"]), out_proj=K.native_weight(L["out_proj"]),
                         q_ln=L["q_ln"], k_ln=L["k_ln"], neg_A=L["neg_A"], dt_bias=L["dt_bias"])
            layers.append(d)
        return model, layers
