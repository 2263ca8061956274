"""edgert.tasks.VLM: a small vision-language model -- vision encoder (ONNX, run by edgert.load), MLP
projector to image tokens, and an LFM2-compatible decoder (edgert.lm) fed through ``forward_embeds``.

    from edgert.tasks import VLM
    vlm = VLM.load()                                   # the bundled vlm_digits; or a model folder / card
    res = vlm.generate(image)                          # GenerationResult(text, token_ids, stats)
    for tok in vlm.generate(frame_bgr, "how many digits?", color="BGR", stream=True):
        print(tok.text, end="", flush=True)

A model folder holds ``vision.onnx`` (and ``vision_int8.onnx``), ``projector.safetensors``, the decoder's
``config.json`` + ``model.safetensors`` (transformers LFM2 layout) and ``tokenizer.json``.  The sequence
the decoder sees is ``<image tokens> <bos> prompt <sep>``, then the answer up to ``<eos>``.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgert.errors import InputError, ModelLoadError
from edgert.tasks import vlm_prep as P

F32 = np.float32
FILES = {"vision_fp32": "vision.onnx", "vision_int8": "vision_int8.onnx", "projector": "projector.safetensors",
         "lm_config": "config.json", "lm_weights": "model.safetensors", "tokenizer": "tokenizer.json"}
QUANTIZE = (None, "fp32", "int8", "q4")


@dataclass
class Token:
    """A generated token; ``str(token)`` is the text it releases (empty while a stop string may follow)."""
    id: int
    text: str
    index: int
    state_bytes: int

    def __str__(self) -> str:
        return self.text


@dataclass
class VLMStats:
    image_tokens: int = 0
    prompt_tokens: int = 0             # text tokens after the image: <bos> prompt <sep>
    new_tokens: int = 0
    vision_ms: float = 0.0             # encoder + projector
    prefill_ms: float = 0.0            # vision + decoder prefill over image and prompt tokens
    decode_ms: float = 0.0
    tokens_per_s: float = 0.0          # decode steps per second (tokens after the first)
    state_bytes: int = 0               # decoder state at the end (constant for the no-KV decoder)
    stop_reason: str = ""


@dataclass
class VLMResult:
    text: str
    token_ids: list
    stats: VLMStats


class VLMStream:
    """Iterator of :class:`Token`; ``result`` and ``stats`` are set once it is exhausted."""

    def __init__(self, gen):
        self._gen, self.result, self.stats = gen, None, None

    def __iter__(self):
        return self

    def __next__(self) -> Token:
        try:
            return next(self._gen)
        except StopIteration as e:
            self.result = e.value
            self.stats = e.value.stats
            raise


def _resolve(name_or_path) -> tuple[Path, str, dict]:
    """(model folder, display name, metrics) of a bundled name, a card .json or a model folder."""
    from edgert.tasks.bundled import default_model, find_bundled

    if name_or_path is None:
        card = default_model("vlm")
    else:
        p = Path(name_or_path)
        if p.is_dir():
            return p, p.name, {}
        if p.suffix == ".json" and p.is_file():
            from edgert.tasks.bundled import _read_card

            card = _read_card(p)
            if card.task != "vlm":
                raise ModelLoadError(f"{p}: a {card.task} model card, not a vlm one")
        elif p.exists():
            raise ModelLoadError(f"{p}: expected a VLM model folder or its .json card")
        elif isinstance(name_or_path, str) and "/" not in name_or_path and not name_or_path.endswith(".json"):
            card = find_bundled(name_or_path, "vlm")
        else:
            raise ModelLoadError(f"{p}: no such VLM model folder or card")
    folder = card.directory / Path(card.files["lm_config"]).parent
    return folder, card.name, dict(card.metrics)


def _read_projector(path: Path) -> dict:
    try:
        from safetensors import SafetensorError
        from safetensors.numpy import load_file
    except ImportError:
        raise ModelLoadError("the VLM needs the 'safetensors' package (pip install 'edgert[lm]')") from None
    try:
        t = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise ModelLoadError(f"{path}: cannot read the projector ({e})") from None
    need = ("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "pos")
    missing = [k for k in need if k not in t]
    if missing:
        raise ModelLoadError(f"{path}: projector keys missing: {', '.join(missing)}")
    t = {k: np.asarray(v, F32) for k, v in t.items()}
    ok = (t["fc1.weight"].ndim == 2 and t["fc1.bias"].shape == t["fc1.weight"].shape[:1]
          and t["fc2.weight"].ndim == 2 and t["fc2.weight"].shape[1] == t["fc1.weight"].shape[0]
          and t["fc2.bias"].shape == t["fc2.weight"].shape[:1] and t["pos"].ndim == 2
          and t["pos"].shape[1] == t["fc2.weight"].shape[0])
    if not ok:
        raise ModelLoadError(f"{path}: projector tensors have inconsistent shapes "
                             f"({ {k: v.shape for k, v in t.items()} })")
    if not all(np.all(np.isfinite(v)) for v in t.values()):
        raise ModelLoadError(f"{path}: projector holds NaN or Inf values")
    return t


def _holdback(text: str, stops) -> int:
    n = 0
    for s in stops:
        for k in range(min(len(s) - 1, len(text)), 0, -1):
            if text.endswith(s[:k]):
                n = max(n, k)
                break
    return max(n, len(text) - len(text.rstrip("\ufffd")))


class VLM:
    """Image (+ prompt) -> text."""

    def __init__(self, vision, projector: dict, model, tokenizer, name: str = "vlm", quantize: str = "fp32",
                 metrics: dict | None = None, folder: Path | None = None):
        self.vision, self.projector, self.model, self.tokenizer = vision, projector, model, tokenizer
        self.name, self.quantize, self.metrics, self.folder = name, quantize, metrics or {}, folder
        self.input_name = vision.inputs[0].name if hasattr(vision, "inputs") else "image"
        if projector["fc2.weight"].shape[0] != model.config.hidden_size:
            raise ModelLoadError(f"{folder}: projector width {projector['fc2.weight'].shape[0]} differs from the "
                                 f"decoder's hidden_size {model.config.hidden_size}")

    @classmethod
    def load(cls, name_or_path=None, threads: int | None = None, quantize: str | None = None) -> "VLM":
        """``name_or_path``: a bundled model name (default: the bundled VLM), its card or a model folder.
        ``quantize``: None/"fp32" (float), "int8" (int8 QDQ encoder + int8 decoder weights) or "q4"
        (int8 encoder + 4-bit decoder weights)."""
        if quantize not in QUANTIZE:
            raise ModelLoadError(f"quantize={quantize!r}: expected None, 'fp32', 'int8' or 'q4'")
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
            raise ModelLoadError(f"threads must be a positive integer or None, got {threads!r}")
        folder, name, metrics = _resolve(name_or_path)
        quantize = quantize or "fp32"
        vision_file = FILES["vision_fp32" if quantize == "fp32" else "vision_int8"]
        needed = [vision_file, FILES["projector"], FILES["lm_config"], FILES["lm_weights"], FILES["tokenizer"]]
        missing = [f for f in needed if not (folder / f).is_file()]
        if missing:
            raise ModelLoadError(f"{folder}: VLM file(s) missing: {', '.join(missing)}")
        import edgert
        from edgert.lm import Lfm2Model

        try:
            from tokenizers import Tokenizer
        except ImportError:
            raise ModelLoadError("the VLM needs the 'tokenizers' package (pip install 'edgert[lm]')") from None
        try:
            tokenizer = Tokenizer.from_file(str(folder / FILES["tokenizer"]))
        except Exception as e:  # tokenizers raises its own Exception type
            raise ModelLoadError(f"{folder / FILES['tokenizer']}: cannot read tokenizer ({e})") from None
        vision = edgert.load(str(folder / vision_file), threads=threads)
        model = Lfm2Model.load(folder, quantize=None if quantize == "fp32" else quantize)
        if tokenizer.get_vocab_size() > model.config.vocab_size:
            raise ModelLoadError(f"{folder}: tokenizer has {tokenizer.get_vocab_size()} tokens, the decoder "
                                 f"{model.config.vocab_size}")
        return cls(vision, _read_projector(folder / FILES["projector"]), model, tokenizer, name, quantize, metrics,
                   folder)

    # ----------------------------------------------------------------------------- pieces
    def image_tokens(self, image, color: str = "RGB") -> np.ndarray:
        """(N, hidden) image-token embeddings of an (H, W, 3) image."""
        x = P.preprocess(image, color)
        out = self.vision.run({self.input_name: x})
        feats = np.asarray(next(iter(out.values())) if isinstance(out, dict) else out[0], F32)
        p = self.projector
        t = feats.reshape(feats.shape[1], -1).T                      # (grid cells, C), row-major
        if t.shape[0] != p["pos"].shape[0] or t.shape[1] != p["fc1.weight"].shape[1]:
            raise ModelLoadError(f"{self.folder}: encoder gives {t.shape} features, the projector expects "
                                 f"({p['pos'].shape[0]}, {p['fc1.weight'].shape[1]})")
        h = t @ p["fc1.weight"].T + p["fc1.bias"]
        h = h / (F32(1.0) + np.exp(-h))
        return (h @ p["fc2.weight"].T + p["fc2.bias"] + p["pos"]).astype(F32)

    def _prefix(self, image, prompt: str, color: str):
        if not isinstance(prompt, str):
            raise InputError(f"prompt must be a string, got {type(prompt).__name__}")
        t0 = time.perf_counter()
        img = self.image_tokens(image, color)
        vision_ms = (time.perf_counter() - t0) * 1e3
        ids = P.prompt_ids(self.tokenizer, prompt)
        return img, ids, vision_ms

    def logits(self, image, prompt: str = "", answer: str | list = "", color: str = "RGB") -> np.ndarray:
        """Decoder logits (N_image + len(prompt ids) + len(answer ids), vocab) at every position
        (teacher forcing); for tests and accuracy measurements."""
        img, ids, _ = self._prefix(image, prompt, color)
        ans = list(self.tokenizer.encode(answer).ids) if isinstance(answer, str) else [int(a) for a in answer]
        emb = np.concatenate([img, self.model.embed_tokens(ids + ans)]) if ids + ans else img
        return self.model.forward_embeds(emb, self.model.new_state(), all_logits=True)

    def answer_token_accuracy(self, image, prompt: str, answer: str, color: str = "RGB") -> tuple[int, int]:
        """(correct, total) greedy next-token predictions over the answer's tokens and <eos>."""
        ans = list(self.tokenizer.encode(answer).ids)
        lg = self.logits(image, prompt, ans, color)
        start = lg.shape[0] - len(ans) - 1
        pred = np.argmax(lg[start:], axis=1)
        want = np.asarray(ans + [P.EOS])
        return int(np.sum(pred == want)), len(want)

    # ----------------------------------------------------------------------------- generate
    def generate(self, image, prompt: str = "", max_new_tokens: int = 32, temperature: float = 0.0,
                 top_k: int = 0, top_p: float = 1.0, seed=None, stop=None, stream: bool = False,
                 color: str = "RGB"):
        """Text about ``image`` (any-size (H, W, 3) uint8, ``color`` "RGB" or "BGR"); ``prompt`` "" asks for a
        caption.  Greedy at ``temperature=0``; else sampling with top_k / top_p, deterministic given ``seed``.
        Stops at <eos>, a stop string or token id in ``stop``, or after ``max_new_tokens``.
        Returns a :class:`VLMResult` or, with ``stream=True``, a :class:`VLMStream` of :class:`Token`."""
        from edgert.lm import GenerationError

        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, (int, np.integer)) \
                or max_new_tokens < 0:
            raise GenerationError(f"max_new_tokens must be an integer >= 0, got {max_new_tokens!r}")
        try:
            temperature = float(temperature)
            top_p = float(top_p)
        except (TypeError, ValueError):
            raise GenerationError(f"temperature and top_p must be numbers, got {temperature!r}, {top_p!r}") from None
        if not math.isfinite(temperature) or temperature < 0:
            raise GenerationError(f"temperature must be a finite number >= 0, got {temperature!r}")
        if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 0:
            raise GenerationError(f"top_k must be an integer >= 0 (0 = off), got {top_k!r}")
        if not 0.0 < top_p <= 1.0:
            raise GenerationError(f"top_p must be in (0, 1], got {top_p!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise GenerationError(f"seed must be a non-negative integer or None, got {seed!r}")
        strings, stop_ids = [], set()
        for s in ([] if stop is None else [stop] if isinstance(stop, (str, int, np.integer)) else list(stop)):
            if isinstance(s, str) and s:
                strings.append(s)
            elif isinstance(s, (int, np.integer)) and not isinstance(s, bool):
                stop_ids.add(int(s))
            else:
                raise GenerationError(f"stop entries must be non-empty strings or token ids, got {s!r}")
        # validate the image and prompt now, not at the first next() of a stream
        img, ids, vision_ms = self._prefix(image, prompt, color)
        gen = self._run(img, ids, vision_ms, int(max_new_tokens), temperature, int(top_k), top_p, seed,
                        strings, stop_ids)
        if stream:
            return VLMStream(gen)
        while True:
            try:
                next(gen)
            except StopIteration as e:
                return e.value

    def _run(self, img, ids, vision_ms, n, temperature, top_k, top_p, seed, strings, stop_ids):
        from edgert.lm import sample_token

        model = self.model
        rng = np.random.default_rng(seed)
        eos = set(model.config.eos_token_id) | {P.EOS}
        state = model.new_state()
        stats = VLMStats(image_tokens=img.shape[0], prompt_tokens=len(ids), vision_ms=vision_ms)
        out, text, released, reason = [], "", "", "length"
        if n == 0:
            stats.state_bytes, stats.stop_reason = state.nbytes, reason
            return VLMResult("", [], stats)
        t0 = time.perf_counter()
        logits = model.forward_embeds(np.concatenate([img, model.embed_tokens(ids)]), state)
        stats.prefill_ms = vision_ms + (time.perf_counter() - t0) * 1e3
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
            text = self.tokenizer.decode(out)
            hit = min((text.find(s) for s in strings if s in text), default=-1)
            if hit >= 0:
                text = text[:hit]
                piece, released, reason = text[len(released):], text, "stop_string"
                yield Token(tok, piece, len(out) - 1, state.nbytes)
                break
            upto = len(text) if len(out) >= n else len(text) - _holdback(text, strings)
            piece = ""
            if upto > len(released):
                piece, released = text[len(released):upto], text[:upto]
            yield Token(tok, piece, len(out) - 1, state.nbytes)
            if len(out) >= n:
                break
            t1 = time.perf_counter()
            logits = model.forward([tok], state)
            decode_s += time.perf_counter() - t1
            steps += 1
        stats.new_tokens = len(out)
        stats.decode_ms = decode_s * 1e3
        stats.tokens_per_s = steps / decode_s if decode_s > 0 else 0.0
        stats.state_bytes = state.nbytes
        stats.stop_reason = reason
        return VLMResult(text, out, stats)

    def __repr__(self) -> str:
        return f"VLM({self.name!r}, quantize={self.quantize!r})"


__all__ = ["VLM", "VLMResult", "VLMStats", "VLMStream", "Token"]
