"""edgert.lm decode benchmark: tokens/s, prefill ms, state bytes, quantized logit error, and process RSS
at token 64 vs token N of one generation (LFM2 hybrid with a KV cache vs the gated-delta no-KV variant);
and per-token decode latency of edgert vs onnxruntime on the same no-KV decode-step graph.

Random-weight checkpoints of an LFM2-like shape (hidden 256, 8 layers: 6 conv + 2 attention) are written
to a temporary directory; nothing is downloaded.

    python benchmarks/lm_decode.py [--tokens 4096] [--hidden 256] [--json OUT.json]

edgert vs onnxruntime (``--ort-only`` runs just this part): a random LFM2-style no-KV model (hidden 256,
8 layers = 6 conv + 2 gated-delta attention, ffn 1024, vocab 4096, tied head) is exported with
edgert.lm.export_onnx (opset-27 CausalConvWithState / LinearAttention / RMSNormalization + MatMul, state
as graph inputs/outputs) and decoded token by token by both, feeding each its own state back; f32 and
int8 (edgert: int8 weights per channel, fp32 activations; onnxruntime: quantize_dynamic, int8 weights
per channel and activations quantized per token), 1 and 2 threads (ORT intra_op_num_threads); blocks
of tokens alternate between the two runtimes and the per-token median of each is reported.

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
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from edgert.lm import Lfm2Model, TextGenerator  # noqa: E402
from edgert.lm.random_init import tiny_config, write_random_checkpoint  # noqa: E402

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


ORT_LAYERS = ["conv", "conv", "full_attention", "conv", "conv", "conv", "full_attention", "conv"]


def ort_compare(tmp, hidden=256, vocab=4096, rounds=15, block=32, threads=(1, 2)) -> dict:
    """Per-token decode latency, edgert vs onnxruntime on the exported decode-step graph."""
    import onnxruntime as ort

    from edgert.lm import export_onnx as E

    p = pathlib.Path(tmp) / "ort_model"
    write_random_checkpoint(p, tiny_config(ORT_LAYERS, attention="gated_delta", hidden=hidden, heads=8, kv_heads=4,
                                           vocab=vocab, ffn=6 * hidden), seed=0)
    f32 = Lfm2Model.load(p)
    g32 = E.export_decode_step(f32, pathlib.Path(tmp) / "step_f32.onnx")
    g8 = E.quantize_int8(g32, pathlib.Path(tmp) / "step_int8.onnx")
    toks = np.random.default_rng(1).integers(0, vocab, rounds * block)
    out = {"model": {"hidden": hidden, "layers": ORT_LAYERS, "ffn": f32.config.ffn_size, "vocab": vocab,
                     "weights_f32_MB": round(f32.weight_bytes / 1e6, 2)},
           "ort_version": ort.__version__, "rows": []}
    for kind, graph in (("f32", g32), ("int8", g8)):
        for th in threads:
            m = Lfm2Model.load(p, quantize=None if kind == "f32" else kind, threads=th)
            so = ort.SessionOptions()
            so.intra_op_num_threads, so.inter_op_num_threads = th, 1
            sess = ort.InferenceSession(str(graph), so, providers=["CPUExecutionProvider"])
            st = m.new_state()
            m.forward([1, 2, 3], st)
            feeds, names = E.state_to_onnx(m, st), E.state_names(m)
            te, to, err = [], [], 0.0
            for r in range(rounds + 1):  # round 0 warms both up and is not counted
                blk = toks[(r % rounds) * block:(r % rounds + 1) * block]
                order = ("e", "o") if r % 2 else ("o", "e")
                for who in order:
                    for t in blk:
                        if who == "e":
                            t0 = time.perf_counter()
                            a = m.forward([int(t)], st)
                            dt = time.perf_counter() - t0
                            if r:
                                te.append(dt)
                        else:
                            t0 = time.perf_counter()
                            o = sess.run(None, {"input_id": np.array([t], np.int64), **feeds})
                            dt = time.perf_counter() - t0
                            feeds = dict(zip(names, o[1:]))
                            if r:
                                to.append(dt)
                # both have consumed the same tokens: compare the last logits
                err = max(err, float(np.abs(o[0][0] - a).max() / np.abs(a).max()))
            e_us, o_us = float(np.median(te) * 1e6), float(np.median(to) * 1e6)
            out["rows"].append({"kind": kind, "threads": th, "edgert_us": round(e_us, 1), "ort_us": round(o_us, 1),
                                "ratio": round(e_us / o_us, 3), "rel_logit_diff": float(f"{err:.3g}"), "tokens": len(te)})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=4096, help="tokens of the long (memory) generation")
    ap.add_argument("--speed-tokens", type=int, default=256, help="tokens per speed run")
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--json", type=pathlib.Path, help="also write the figures to this file (atomically)")
    ap.add_argument("--ort-only", action="store_true", help="only the edgert vs onnxruntime latency comparison")
    ap.add_argument("--ort-rounds", type=int, default=15, help="alternating blocks of 32 tokens per runtime")
    ap.add_argument("--memory-child", type=pathlib.Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_child:
        print(json.dumps(decode_run(args.memory_child, "f32", args.tokens, marks=(64,))))
        return
    out = {"hidden": args.hidden, "layers": LAYERS, "tokens": args.tokens}
    with tempfile.TemporaryDirectory() as tmp:
        cmp = ort_compare(tmp, rounds=args.ort_rounds)
    out["vs_onnxruntime"] = cmp
    mm = cmp["model"]
    print(f"== edgert vs onnxruntime {cmp['ort_version']}: no-KV decode step, hidden {mm['hidden']}, "
          f"{len(mm['layers'])} layers, ffn {mm['ffn']}, vocab {mm['vocab']} ({mm['weights_f32_MB']} MB f32)")
    for r in cmp["rows"]:
        print(f"  {r['kind']:5s} threads {r['threads']}  edgert {r['edgert_us']:8.1f} us/token  onnxruntime "
              f"{r['ort_us']:8.1f} us/token  ratio {r['ratio']:.2f}  (logit diff {r['rel_logit_diff']:.1e})")
    if args.ort_only:
        _write_json(args.json, out)
        return
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
    _write_json(args.json, out)


def _write_json(path, out) -> None:
    if path:
        fd, tmpf = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(out, f, indent=2)
        os.replace(tmpf, path)


if __name__ == "__main__":
    main()
