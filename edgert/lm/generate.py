"""Text generation on an :class:`~edgert.lm.model.Lfm2Model`: sampling, stop conditions, streaming, stats.

    gen = TextGenerator.load("ckpt_dir")                 # tokenizer.json next to config.json, if any
    res = gen.generate("a red 3", max_new_tokens=16)     # GenerationResult(text, token_ids, stats)
    for tok in gen.generate([5, 9, 2], max_new_tokens=16, temperature=0.8, top_p=0.9, seed=1, stream=True):
        ...                                              # Token(id, text, index, state_bytes) as they come

Sampling is deterministic given ``seed`` (numpy PCG64); ``temperature=0`` is greedy.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import GenerationError
from .model import Lfm2Model
from ..errors import ModelLoadError


@dataclass
class Token:
    """One generated token: its id, the text it releases, its index among the new tokens, and the
    decode-state size after it.  ``text`` is empty while a possible stop string or an incomplete UTF-8
    sequence is pending; the last token of a ``max_new_tokens`` run releases everything left.  (When
    generation ends at an eos / stop token, text still pending is in ``TokenStream.result.text``.)"""
    id: int
    text: str
    index: int
    state_bytes: int

    def __str__(self) -> str:
        return self.text


@dataclass
class GenerationStats:
    prompt_tokens: int = 0
    new_tokens: int = 0
    prefill_ms: float = 0.0
    decode_ms: float = 0.0
    tokens_per_s: float = 0.0          # decode steps per second (tokens after the first)
    state_bytes: int = 0               # conv + linear-attention state + KV cache at the end
    stop_reason: str = ""              # "length", "eos", "stop_token", "stop_string"


@dataclass
class GenerationResult:
    text: str
    token_ids: list
    stats: GenerationStats = field(default_factory=GenerationStats)


class TokenStream:
    """Iterator of :class:`Token`; ``stats`` and ``result`` are filled when it is exhausted."""

    def __init__(self, gen):
        self._gen = gen
        self.stats = None
        self.result = None

    def __iter__(self):
        return self

    def __next__(self) -> Token:
        try:
            return next(self._gen)
        except StopIteration as e:
            self.result = e.value
            self.stats = e.value.stats if e.value is not None else None
            raise


def check_generation_args(max_new_tokens, temperature, top_k, top_p, seed):
    """(max_new_tokens, temperature, top_k, top_p) validated and converted, or GenerationError."""
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, (int, np.integer)) or max_new_tokens < 0:
        raise GenerationError(f"max_new_tokens must be an integer >= 0, got {max_new_tokens!r}")
    try:
        t = float(temperature)
    except (TypeError, ValueError):
        raise GenerationError(f"temperature must be a number >= 0, got {temperature!r}") from None
    if not math.isfinite(t) or t < 0:
        raise GenerationError(f"temperature must be a finite number >= 0, got {temperature!r}")
    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 0:
        raise GenerationError(f"top_k must be an integer >= 0 (0 = off), got {top_k!r}")
    try:
        p = float(top_p)
    except (TypeError, ValueError):
        raise GenerationError(f"top_p must be a number in (0, 1], got {top_p!r}") from None
    if not (0.0 < p <= 1.0):
        raise GenerationError(f"top_p must be in (0, 1], got {top_p!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise GenerationError(f"seed must be a non-negative integer or None, got {seed!r}")
    return int(max_new_tokens), t, int(top_k), p


def parse_stops(stop):
    """``stop`` (None, a string, a token id or a list of them) as (strings, token ids)."""
    if stop is None:
        return [], set()
    items = [stop] if isinstance(stop, (str, int, np.integer)) else list(stop)
    strings, ids = [], set()
    for s in items:
        if isinstance(s, str):
            if not s:
                raise GenerationError("stop strings must be non-empty")
            strings.append(s)
        elif isinstance(s, (int, np.integer)) and not isinstance(s, bool):
            ids.add(int(s))
        else:
            raise GenerationError(f"stop entries must be strings or token ids, got {s!r}")
    return strings, ids


def decode_loop(model, logits, state, n, sampling, rng, eos, stop_ids, strings, decode, stats):
    """Samples from ``logits`` (the prefill's), then decodes one token at a time on ``state`` until eos, a
    stop token, a stop string or ``n`` tokens, yielding a :class:`Token` for each.  ``decode(ids) -> str``
    (None: no text) releases text as stop strings and UTF-8 sequences allow.  Fills the decode fields of
    ``stats`` and returns (token ids, text)."""
    temperature, top_k, top_p = sampling
    out, released, reason, text = [], "", "length", None
    decode_s, steps = 0.0, 0
    while True:
        tok = sample_token(logits, rng, temperature, top_k, top_p)
        if tok in eos:
            reason = "eos"
            break
        if tok in stop_ids:
            reason = "stop_token"
            break
        out.append(tok)
        piece = ""
        if decode is not None:
            full = decode(out)
            hit = min((full.find(s) for s in strings if s in full), default=-1)
            if hit >= 0:
                text, reason = full[:hit], "stop_string"
                yield Token(tok, text[len(released):], len(out) - 1, state.nbytes)
                break
            upto = len(full) if len(out) >= n else len(full) - _holdback(full, strings)
            if upto > len(released):
                piece, released = full[len(released):upto], full[:upto]
        yield Token(tok, piece, len(out) - 1, state.nbytes)
        if len(out) >= n:
            break
        t1 = time.perf_counter()
        logits = model.forward([tok], state)
        decode_s += time.perf_counter() - t1
        steps += 1
    if text is None:
        text = decode(out) if decode is not None else ""
    stats.new_tokens = len(out)
    stats.decode_ms = decode_s * 1e3
    stats.tokens_per_s = steps / decode_s if decode_s > 0 else 0.0
    stats.state_bytes = state.nbytes
    stats.stop_reason = reason
    return out, text


def sample_token(logits: np.ndarray, rng, temperature: float, top_k: int = 0, top_p: float = 1.0) -> int:
    """Greedy when ``temperature == 0``; otherwise softmax(logits / T) restricted to the ``top_k`` largest
    and to the smallest set whose probability reaches ``top_p``, drawn with ``rng``."""
    if temperature == 0.0:
        return int(np.argmax(logits))
    z = logits.astype(np.float64) / temperature
    v = z.shape[0]
    if 0 < top_k < v:
        kth = np.partition(z, v - top_k)[v - top_k]
        z = np.where(z < kth, -np.inf, z)
    z -= z.max()
    p = np.exp(z)
    p /= p.sum()
    if top_p < 1.0:
        order = np.argsort(-p, kind="stable")
        ps = p[order]
        before = np.cumsum(ps) - ps
        keep = order[before < top_p]
        q = np.zeros_like(p)
        q[keep] = p[keep]
        p = q / q.sum()
    c = np.cumsum(p)
    i = int(np.searchsorted(c, rng.random() * c[-1], side="right"))
    return min(i, v - 1)


def _holdback(text: str, stops) -> int:
    """How many trailing characters of ``text`` could still start a stop string (or are an incomplete
    UTF-8 sequence, decoded as U+FFFD)."""
    n = 0
    for s in stops:
        for k in range(min(len(s) - 1, len(text)), 0, -1):
            if text.endswith(s[:k]):
                n = max(n, k)
                break
    m = len(text) - len(text.rstrip("\ufffd"))
    return max(n, m)


class TextGenerator:
    """Generation front end: a model, an optional ``tokenizers.Tokenizer``, sampling and stop rules."""

    def __init__(self, model: Lfm2Model, tokenizer=None):
        self.model = model
        self.tokenizer = tokenizer

    @classmethod
    def load(cls, path, quantize=None, tokenizer=None, threads: int = 1) -> "TextGenerator":
        """Loads a checkpoint directory; ``tokenizer`` (a path or Tokenizer) defaults to its tokenizer.json;
        ``threads`` sizes the model's GEMM thread pool."""
        model = Lfm2Model.load(path, quantize=quantize, threads=threads)
        tok = tokenizer
        if tok is None and (Path(path) / "tokenizer.json").is_file():
            tok = Path(path) / "tokenizer.json"
        if isinstance(tok, (str, Path)):
            try:
                from tokenizers import Tokenizer
            except ImportError:
                raise ModelLoadError("text prompts need the 'tokenizers' package "
                                     "(pip install 'edgert[lm]' or pip install tokenizers)") from None
            try:
                tok = Tokenizer.from_file(str(tok))
            except Exception as e:  # tokenizers raises its own Exception type
                raise ModelLoadError(f"{tok}: cannot read tokenizer ({e})") from None
        return cls(model, tok)

    # ------------------------------------------------------------------------------ helpers
    def encode(self, prompt) -> list:
        if isinstance(prompt, str):
            if self.tokenizer is None:
                raise GenerationError("a text prompt needs a tokenizer (tokenizer.json next to the checkpoint); "
                                      "pass token ids instead")
            ids = list(self.tokenizer.encode(prompt).ids)
        else:
            try:
                ids = [int(i) for i in np.asarray(prompt).reshape(-1)]
            except (TypeError, ValueError):
                raise GenerationError("prompt must be a string or a sequence of token ids") from None
        if not ids:
            raise GenerationError("prompt is empty (no token ids)")
        v = self.model.config.vocab_size
        bad = [i for i in ids if i < 0 or i >= v]
        if bad:
            raise GenerationError(f"prompt token id {bad[0]} outside the vocabulary [0, {v})")
        return ids

    def decode(self, ids) -> str:
        if self.tokenizer is None:
            return ""
        return self.tokenizer.decode(list(ids))

    def _stops(self, stop):
        strings, ids = parse_stops(stop)
        if strings and self.tokenizer is None:
            raise GenerationError("stop strings need a tokenizer; pass stop token ids instead")
        return strings, ids

    # ----------------------------------------------------------------------------- generate
    def generate(self, prompt, max_new_tokens: int = 32, temperature: float = 0.0, top_k: int = 0,
                 top_p: float = 1.0, seed=None, stop=None, stream: bool = False):
        """Generates up to ``max_new_tokens`` after ``prompt`` (text or token ids).

        Stops at the config's eos token(s), at a token id in ``stop`` or once the text contains a string in
        ``stop`` (the text is cut before it).  Returns a :class:`GenerationResult`, or with ``stream=True`` a
        :class:`TokenStream` yielding :class:`Token` as they are produced.
        """
        n, t, k, p = check_generation_args(max_new_tokens, temperature, top_k, top_p, seed)
        ids = self.encode(prompt)
        strings, stop_ids = self._stops(stop)
        gen = self._run(ids, n, t, k, p, seed, strings, stop_ids)
        if stream:
            return TokenStream(gen)
        while True:
            try:
                next(gen)
            except StopIteration as e:
                return e.value

    def _run(self, ids, n, temperature, top_k, top_p, seed, strings, stop_ids):
        model = self.model
        state = model.new_state()
        stats = GenerationStats(prompt_tokens=len(ids))
        if n == 0:
            stats.state_bytes, stats.stop_reason = state.nbytes, "length"
            return GenerationResult("", [], stats)
        t0 = time.perf_counter()
        logits = model.forward(ids, state)
        stats.prefill_ms = (time.perf_counter() - t0) * 1e3
        out, text = yield from decode_loop(model, logits, state, n, (temperature, top_k, top_p),
                                           np.random.default_rng(seed), set(model.config.eos_token_id), stop_ids,
                                           strings, self.decode if self.tokenizer is not None else None, stats)
        return GenerationResult(text, out, stats)
