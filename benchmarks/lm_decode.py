"""edgert.lm decode benchmark: tokens/s, prefill ms, state bytes, quantized logit error, and process RSS
at token 64 vs token N of one generation (LFM2 hybrid with a KV cache vs the gated-delta no-KV variant).

Random-weight checkpoints of an LFM2-like shape (hidden 256, 8 layers: 6 conv + 2 attention) are written
to a temporary directory; nothing is downloaded.

    python benchmarks/lm_decode.py [--tokens 4096] [--hidden 256] [--json OUT.json]

The memory run happens in a fresh child process per model (so memory freed by earlier runs and kept by
the allocator cannot hide growth).  BLAS runs single-threaded (OPENBLAS_NUM_THREADS=1 unless set), the
decode setting of a small edge CPU; timings on a shared machine are noisy, the memory figures are not.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from edgert.lm import Lfm2Model, TextGenerator  # noqa: E402
from edgert.lm.random_init import tiny_config, write_random_checkpoint

LAYERS = ["conv", "conv", "full_attention", "conv", "conv", "full_attention", "conv", "conv"]


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def quant_error(path, kind, ids) -> dict:
    f = Lfm2Model.load(path)
    q = Lfm2Model.load(path, quantize=kind)
    a = f.forward(ids, f.new_state(), all_logits=True)
    b = q.forward(ids, q.new_state(), all_logits=True)
    return {"rel_max_logit_err": float(np.abs(a - b).max() / np.abs(a).max()),
            "top1_agreement": float((a.argmax(1) == b.argmax(1)).mean()),
            "weight_bytes": q.weight_bytes, "weight_bytes_f32": f.weight_bytes}


def decode_run(path, kind, tokens, marks=(64,)) -> dict:
    gen = TextGenerator(Lfm2Model.load(path, quantize=None if kind == "f32" else kind))
    prompt = list(range(3, 35))
    rss, state = {}, {}
    stream = gen.generate(prompt, max_new_tokens=tokens, temperature=1.0, seed=0, stream=True)
    for tok in stream:
        n = tok.index + 1
        if n in marks or n == tokens:
            rss[n] = rss_bytes()
            state[n] = tok.state_bytes
    s = stream.stats
    return {"prefill_ms": round(s.prefill_ms, 3), "tokens_per_s": round(s.tokens_per_s, 1),
            "new_tokens": s.new_tokens, "state_bytes": state, "rss_bytes": rss}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=4096, help="tokens of the long (memory) generation")
    ap.add_argument("--speed-tokens", type=int, default=256, help="tokens per speed run")
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--json", type=pathlib.Path, help="also write the figures to this file (atomically)")
    ap.add_argument("--memory-child", type=pathlib.Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_child:
        print(json.dumps(decode_run(args.memory_child, "f32", args.tokens, marks=(64,))))
        return
    out = {"hidden": args.hidden, "layers": LAYERS, "tokens": args.tokens}
    ids = np.random.default_rng(0).integers(0, 2048, 96)
    with tempfile.TemporaryDirectory() as tmp:
        for att in ("softmax", "gated_delta"):
            p = pathlib.Path(tmp) / att
            write_random_checkpoint(p, tiny_config(LAYERS, attention=att, hidden=args.hidden, heads=8, kv_heads=4,
                                                   vocab=2048, ffn=3 * args.hidden * 2), seed=0)
            res = {"quant": {k: quant_error(p, k, ids) for k in ("int8", "q4")},
                   "speed": {k: decode_run(p, k, args.speed_tokens) for k in ("f32", "int8", "q4")}}
            child = subprocess.run([sys.executable, __file__, "--tokens", str(args.tokens), "--memory-child", str(p)],
                                   check=True, capture_output=True, text=True)
            mem = json.loads(child.stdout.strip().splitlines()[-1])
            mem = {k: {int(n): v for n, v in d.items()} if isinstance(d, dict) else d for k, d in mem.items()}
            r64, rn = mem["rss_bytes"][64], mem["rss_bytes"][args.tokens]
            res["memory"] = {"state_bytes_64": mem["state_bytes"][64], f"state_bytes_{args.tokens}":
                             mem["state_bytes"][args.tokens], "rss_64": r64, f"rss_{args.tokens}": rn,
                             "rss_growth_bytes": rn - r64, "rss_growth_below_1MiB": (rn - r64) < (1 << 20)}
            out[att] = res
            print(f"== {att}: " + ("KV cache" if att == "softmax" else "no KV (constant state)"))
            for k, q in res["quant"].items():
                print(f"  {k:5s} rel max logit err {q['rel_max_logit_err']:.4f}  top-1 agree "
                      f"{q['top1_agreement']:.3f}  weights {q['weight_bytes'] / 1e6:.2f} MB "
                      f"(f32 {q['weight_bytes_f32'] / 1e6:.2f} MB)")
            for k, s in res["speed"].items():
                print(f"  {k:5s} prefill(32) {s['prefill_ms']:.2f} ms  decode {s['tokens_per_s']:.0f} tok/s")
            m = res["memory"]
            print(f"  state bytes @64 {m['state_bytes_64']}  @{args.tokens} {m[f'state_bytes_{args.tokens}']}")
            print(f"  RSS @64 {r64 / 2**20:.2f} MiB  @{args.tokens} {rn / 2**20:.2f} MiB  "
                  f"growth {(rn - r64) / 2**10:.1f} KiB")
    if args.json:
        fd, tmpf = tempfile.mkstemp(dir=args.json.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(out, f, indent=2)
        os.replace(tmpf, args.json)


if __name__ == "__main__":
    main()
