#!/usr/bin/env python3
"""Multi-query associative recall (Zoology's MQAR): can a layer stack recall, at a query key, the value that
followed that key earlier in the sequence? Trains two small models of the same size on the same data:

  conv   every mixer is an LFM2-style gated short convolution (B*x -> causal depthwise conv -> C*)
  delta  the same, but the last mixer is gated-delta linear attention (the recurrence of ONNX opset 27's
         LinearAttention with update_rule="gated_delta", which edgert.lm's no-KV variant uses): a fixed
         d x d state per head, so memory does not grow with the sequence

and reports recall accuracy per number of key-value pairs / sequence length on held-out sequences.

    python tools/mqar.py                      # about 3 min on 2 cores
    python tools/mqar.py --steps 200 --pairs 4,8   # quick look

Sequences: D pairs "k1 v1 ... kD vD" (keys and values from disjoint halves of the vocabulary, keys distinct),
then the D keys again in random order, each followed by its value; loss and accuracy only on those values.
Deterministic given --seed and --threads. Needs torch (the `tools` extra).
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

VOCAB = 128          # token 0 unused; keys 1..63, values 64..127


def make_batch(rng: np.random.Generator, batch: int, pairs: int):
    keys = np.stack([rng.choice(np.arange(1, VOCAB // 2), pairs, replace=False) for _ in range(batch)])
    values = rng.integers(VOCAB // 2, VOCAB, (batch, pairs))
    order = np.argsort(rng.random((batch, pairs)), axis=1)
    context = np.stack([keys, values], 2).reshape(batch, -1)
    qk = np.take_along_axis(keys, order, 1)
    qv = np.take_along_axis(values, order, 1)
    queries = np.stack([qk, qv], 2).reshape(batch, -1)
    tokens = np.concatenate([context, queries], 1)                   # [B, 4D]
    targets = np.full_like(tokens, -100)
    targets[:, 2 * pairs::2] = qv                                    # predict the value after each query key
    return tokens, targets


def gated_delta(torch, q, k, v, log_decay, beta):
    """ONNX LinearAttention(update_rule="gated_delta", scale=1) over T tokens, differentiable:
    q, k [N, T, H, dk], v [N, T, H, dv], log_decay and beta [N, T, H] -> outputs [N, T, H, dv].
    State S [N, H, dk, dv]: S = exp(g) S; S += beta k (v - S^T k)^T; o = q^T S."""
    n, t, h, dk = k.shape
    state = k.new_zeros(n, h, dk, v.shape[-1])
    outs = []
    for i in range(t):
        state = torch.exp(log_decay[:, i])[..., None, None] * state
        retrieved = torch.einsum("nhkv,nhk->nhv", state, k[:, i])
        update = beta[:, i, :, None] * (v[:, i] - retrieved)
        state = state + k[:, i, :, :, None] * update[:, :, None, :]
        outs.append(torch.einsum("nhkv,nhk->nhv", state, q[:, i]))
    return torch.stack(outs, 1)


def build(torch, kind: str, dim: int, layers: int, heads: int, kernel: int):
    nn = torch.nn
    F = torch.nn.functional

    class RMSNorm(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(dim))

        def forward(self, x):
            return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * self.weight

    class ShortConv(nn.Module):
        """LFM2's gated short conv: in_proj -> (B, C, x); y = C * causal_dwconv(B * x); out_proj."""

        def __init__(self):
            super().__init__()
            self.in_proj = nn.Linear(dim, 3 * dim, bias=False)
            self.conv = nn.Conv1d(dim, dim, kernel, groups=dim, padding=kernel - 1, bias=False)
            self.out_proj = nn.Linear(dim, dim, bias=False)

        def forward(self, x):
            b, c, h = self.in_proj(x).chunk(3, -1)
            y = self.conv((b * h).transpose(1, 2))[..., :x.shape[1]].transpose(1, 2)
            return self.out_proj(c * y)

    class GatedDelta(nn.Module):
        """Gated-delta linear attention (see gated_delta) with L2-normalised q, k."""

        def __init__(self):
            super().__init__()
            self.head_dim = dim // heads
            self.qkv = nn.Linear(dim, 3 * dim, bias=False)
            self.beta = nn.Linear(dim, heads)
            self.gate = nn.Linear(dim, heads)
            self.out_proj = nn.Linear(dim, dim, bias=False)

        def forward(self, x):
            n, t, _ = x.shape
            q, k, v = self.qkv(x).view(n, t, 3, heads, self.head_dim).unbind(2)
            q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
            beta = torch.sigmoid(self.beta(x))                        # [n, t, heads]
            log_decay = -F.softplus(self.gate(x))                    # g <= 0: the state decays
            return self.out_proj(gated_delta(torch, q, k, v, log_decay, beta).reshape(n, t, dim))

    class Block(nn.Module):
        def __init__(self, mixer):
            super().__init__()
            self.norm1, self.mixer, self.norm2 = RMSNorm(), mixer, RMSNorm()
            self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.SiLU(), nn.Linear(2 * dim, dim))

        def forward(self, x):
            x = x + self.mixer(self.norm1(x))
            return x + self.mlp(self.norm2(x))

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(VOCAB, dim)
            mixers = [ShortConv() for _ in range(layers)]
            if kind == "delta":
                mixers[-1] = GatedDelta()
            self.blocks = nn.ModuleList(Block(m) for m in mixers)
            self.norm = RMSNorm()
            self.head = nn.Linear(dim, VOCAB, bias=False)

        def forward(self, tokens):
            x = self.embed(tokens)
            for block in self.blocks:
                x = block(x)
            return self.head(self.norm(x))

    return Model()


def accuracy(torch, model, rng, pairs: int, sequences: int) -> float:
    tokens, targets = make_batch(rng, sequences, pairs)
    with torch.no_grad():
        pred = model(torch.from_numpy(tokens)).argmax(-1).numpy()
    mask = targets != -100
    return float((pred[mask] == targets[mask]).mean())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pairs", default="4,8,16", help="key-value pairs per sequence (sequence length 4x)")
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--heads", type=int, default=2)
    p.add_argument("--kernel", type=int, default=3)
    p.add_argument("--lr", type=float, default=5e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args(argv)
    pairs = [int(v) for v in args.pairs.split(",")]
    import torch

    torch.set_num_threads(args.threads)
    results = {}
    for kind in ("conv", "delta"):
        torch.manual_seed(args.seed)
        rng = np.random.default_rng(args.seed)
        model = build(torch, kind, args.dim, args.layers, args.heads, args.kernel)
        opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, args.lr, total_steps=args.steps, pct_start=0.1)
        started = time.time()
        for step in range(args.steps):
            tokens, targets = make_batch(rng, args.batch, pairs[step % len(pairs)])
            logits = model(torch.from_numpy(tokens))
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, VOCAB), torch.from_numpy(targets).reshape(-1))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            if (step + 1) % 250 == 0:
                print(f"{kind}: step {step + 1} loss {loss.item():.3f} ({time.time() - started:.0f} s)", flush=True)
        eval_rng = np.random.default_rng(args.seed + 1000)          # held-out sequences
        results[kind] = {d: accuracy(torch, model, eval_rng, d, 256) for d in pairs}
        results[kind]["params"] = sum(q.numel() for q in model.parameters())
    print(f"\nMQAR recall accuracy (held-out, 256 sequences each; {args.layers} layers, dim {args.dim})")
    print(f"{'pairs':>6} {'seq len':>8} {'conv only':>10} {'conv + gated delta':>19}")
    for d in pairs:
        print(f"{d:>6} {4 * d:>8} {results['conv'][d]:>10.3f} {results['delta'][d]:>19.3f}")
    print(f"params: conv {results['conv']['params']:,}, conv + gated delta {results['delta']['params']:,}")
    if args.json:
        from edgert.bench.report import write_text

        write_text(args.json, json.dumps({k: {str(a): b for a, b in v.items()} for k, v in results.items()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
