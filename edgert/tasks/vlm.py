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

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgert.errors import InputError, ModelLoadError
from edgert.lm import kernels as LK
from edgert.lm.generate import (GenerationResult, GenerationStats, TokenStream, check_generation_args, decode_loop,
                                parse_stops)
from edgert.lm.generate import Token  # noqa: F401  (re-exported: the tokens a VLMStream yields)
from edgert.tasks import vlm_prep as P

F32 = np.float32
FILES = {"vision_fp32": "vision.onnx", "vision_int8": "vision_int8.onnx", "projector": "projector.safetensors",
         "lm_config": "config.json", "lm_weights": "model.safetensors", "tokenizer": "tokenizer.json"}
QUANTIZE = (None, "fp32", "int8", "q4")


@dataclass
class VLMStats(GenerationStats):
    """GenerationStats plus the image part; prompt_tokens counts the text tokens after the image
    (<bos> prompt <sep>), prefill_ms includes vision_ms, state_bytes is constant for the no-KV decoder."""
    image_tokens: int = 0
    vision_ms: float = 0.0             # encoder + projector


@dataclass
class VLMResult(GenerationResult):
    stats: VLMStats = field(default_factory=VLMStats)


VLMStream = TokenStream  # iterator of Token; result and stats are set once it is exhausted


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


def _encoder_input_side(vision, folder) -> int:
    """The encoder's square input side from its (1, 3, S, S) input; P.IMAGE_SIZE when the file leaves it open."""
    shape = getattr(vision.inputs[0], "shape", None) if getattr(vision, "inputs", None) else None
    if not shape or len(shape) != 4 or not all(isinstance(d, int) for d in shape[2:]):
        return P.IMAGE_SIZE
    if shape[1] != 3 or shape[2] != shape[3] or shape[2] < 8:
        raise ModelLoadError(f"{folder}: the vision encoder's input is {list(shape)}; expected (1, 3, S, S) RGB")
    return int(shape[2])


class VLM:
    """Image (+ prompt) -> text."""

    def __init__(self, vision, projector: dict, model, tokenizer, name: str = "vlm", quantize: str = "fp32",
                 metrics: dict | None = None, folder: Path | None = None):
        self.vision, self.projector, self.model, self.tokenizer = vision, projector, model, tokenizer
        self.name, self.quantize, self.metrics, self.folder = name, quantize, metrics or {}, folder
        self.input_name = vision.inputs[0].name if hasattr(vision, "inputs") else "image"
        self.image_size = _encoder_input_side(vision, folder)
        # The projector runs on edgert's GEMM on the decoder's pool: numpy's BLAS threads, for these
        # 16-row products, cost 10x more than the product when the cores are busy (e.g. with capture).
        self._fc = [LK.weight_f32(projector[f"fc{i}.weight"]) for i in (1, 2)]
        if projector["fc2.weight"].shape[0] != model.config.hidden_size:
            raise ModelLoadError(f"{folder}: projector width {projector['fc2.weight'].shape[0]} differs from the "
                                 f"decoder's hidden_size {model.config.hidden_size}")

    @classmethod
    def load(cls, name_or_path=None, threads: int | None = None, quantize: str | None = None,
             decoder_threads: int = 1) -> "VLM":
        """``name_or_path``: a bundled model name (default: the bundled VLM), its card or a model folder.
        ``quantize``: None/"fp32" (float), "int8" (int8 QDQ encoder + int8 decoder weights) or "q4"
        (int8 encoder + 4-bit decoder weights). ``threads``: the vision encoder's (None = all cores);
        ``decoder_threads``: the decoder's and projector's (results do not depend on it). The bundled
        decoder (hidden 128) takes ~0.09 ms a token at 1 or 2, so 1 is the default."""
        if quantize not in QUANTIZE:
            raise ModelLoadError(f"quantize={quantize!r}: expected None, 'fp32', 'int8' or 'q4'")
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
            raise ModelLoadError(f"threads must be a positive integer or None, got {threads!r}")
        if isinstance(decoder_threads, bool) or not isinstance(decoder_threads, int) or decoder_threads < 1:
            raise ModelLoadError(f"decoder_threads must be a positive integer, got {decoder_threads!r}")
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
        model = Lfm2Model.load(folder, quantize=None if quantize == "fp32" else quantize, threads=decoder_threads)
        if tokenizer.get_vocab_size() > model.config.vocab_size:
            raise ModelLoadError(f"{folder}: tokenizer has {tokenizer.get_vocab_size()} tokens, the decoder "
                                 f"{model.config.vocab_size}")
        return cls(vision, _read_projector(folder / FILES["projector"]), model, tokenizer, name, quantize, metrics,
                   folder)

    # ----------------------------------------------------------------------------- pieces
    def image_tokens(self, image, color: str = "RGB") -> np.ndarray:
        """(N, hidden) image-token embeddings of an (H, W, 3) image."""
        x = P.preprocess(image, color, self.image_size)
        out = self.vision.run({self.input_name: x})
        feats = np.asarray(next(iter(out.values())) if isinstance(out, dict) else out[0], F32)
        p = self.projector
        t = feats.reshape(feats.shape[1], -1).T                      # (grid cells, C), row-major
        if t.shape[0] != p["pos"].shape[0] or t.shape[1] != p["fc1.weight"].shape[1]:
            raise ModelLoadError(f"{self.folder}: encoder gives {t.shape} features, the projector expects "
                                 f"({p['pos'].shape[0]}, {p['fc1.weight'].shape[1]})")
        pool = getattr(self.model, "_pool", None)
        h = LK.silu(LK.gemm(np.ascontiguousarray(t), self._fc[0], p["fc1.bias"], pool))
        return (LK.gemm(h, self._fc[1], p["fc2.bias"], pool) + p["pos"]).astype(F32)

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
        n, temperature, top_k, top_p = check_generation_args(max_new_tokens, temperature, top_k, top_p, seed)
        strings, stop_ids = parse_stops(stop)
        # validate the image and prompt now, not at the first next() of a stream
        img, ids, vision_ms = self._prefix(image, prompt, color)
        gen = self._run(img, ids, vision_ms, n, temperature, top_k, top_p, seed, strings, stop_ids)
        if stream:
            return VLMStream(gen)
        while True:
            try:
                next(gen)
            except StopIteration as e:
                return e.value

    def _run(self, img, ids, vision_ms, n, temperature, top_k, top_p, seed, strings, stop_ids):
        model = self.model
        state = model.new_state()
        stats = VLMStats(image_tokens=img.shape[0], prompt_tokens=len(ids), vision_ms=vision_ms)
        if n == 0:
            stats.state_bytes, stats.stop_reason = state.nbytes, "length"
            return VLMResult("", [], stats)
        t0 = time.perf_counter()
        logits = model.forward_embeds(np.concatenate([img, model.embed_tokens(ids)]), state)
        stats.prefill_ms = vision_ms + (time.perf_counter() - t0) * 1e3
        out, text = yield from decode_loop(model, logits, state, n, (temperature, top_k, top_p),
                                           np.random.default_rng(seed), set(model.config.eos_token_id) | {P.EOS},
                                           stop_ids, strings, self.tokenizer.decode, stats)
        return VLMResult(text, out, stats)

    def __repr__(self) -> str:
        return f"VLM({self.name!r}, quantize={self.quantize!r})"


__all__ = ["VLM", "VLMResult", "VLMStats", "VLMStream", "Token"]
