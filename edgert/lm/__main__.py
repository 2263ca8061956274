"""python -m edgert.lm CKPT --prompt "..." [--max-new-tokens N] [--temperature T] [--top-k K] [--top-p P]
[--seed S] [--stop STR ...] [--quantize int8|q4] [--threads N] [--stats]: stream generated text to stdout."""

from __future__ import annotations

import argparse
import sys

from ..errors import EdgeRTError


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m edgert.lm", description="Generate text with an LFM2 checkpoint.")
    ap.add_argument("checkpoint", help="directory with config.json, *.safetensors and tokenizer.json")
    ap.add_argument("--prompt", required=True)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--temperature", type=float, default=0.0)
    ap.add_argument("--top-k", type=int, default=0)
    ap.add_argument("--top-p", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--stop", action="append", default=None, help="stop string (repeatable)")
    ap.add_argument("--quantize", choices=["int8", "q4"], default=None)
    ap.add_argument("--threads", type=int, default=1, help="threads for the matrix products (default 1)")
    ap.add_argument("--stats", action="store_true", help="print prefill ms, tokens/s and state bytes to stderr")
    a = ap.parse_args(argv)
    from .generate import TextGenerator
    try:
        gen = TextGenerator.load(a.checkpoint, quantize=a.quantize, threads=a.threads)
        stream = gen.generate(a.prompt, max_new_tokens=a.max_new_tokens, temperature=a.temperature,
                              top_k=a.top_k, top_p=a.top_p, seed=a.seed, stop=a.stop, stream=True)
        printed = 0
        for tok in stream:
            sys.stdout.write(tok.text)
            sys.stdout.flush()
            printed += len(tok.text)
        sys.stdout.write(stream.result.text[printed:] + "\n")   # text held back when an eos ended it
    except EdgeRTError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if a.stats:
        s = stream.stats
        print(f"prompt {s.prompt_tokens} tok, prefill {s.prefill_ms:.1f} ms, {s.new_tokens} new tok, "
              f"{s.tokens_per_s:.1f} tok/s, state {s.state_bytes} B, stop: {s.stop_reason}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
