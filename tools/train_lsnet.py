#!/usr/bin/env python3
"""Train the bundled digit classifier: a reduced LSNet (the official blocks: RepVGG-DW + SE, LSConv with
LKP + SKA, attention in the last stage) on the classification view of edgert.zoo.scenes, then export
fp32 (SKA node and portable) and int8 ONNX with a model card.

    python tools/train_lsnet.py --out models            # the bundled recipe (about 20 min, 2 cores)
    python tools/train_lsnet.py --out /tmp/m --train 200 --val 50 --epochs 1 --force   # smoke run

Deterministic given --seed and --threads: data come from seeded generators, crops and batches from a
seeded generator, and torch runs with deterministic algorithms.

Recipe: every digit of a scene is a training example; each epoch crops it afresh around its box with a
random margin (5-50% of the box per side) and a small random shift, as Classifier sees digits framed by
hand; cross-entropy with label smoothing, AdamW with warm-up and cosine decay. Metrics use the fixed
20% margin of edgert.zoo.scenes.crop_digits on the held-out `val` split. Needs the `tools` extra
(torch, scikit-learn, scikit-image, OpenCV) and onnxruntime.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

from edgert.errors import EdgeRTError

LABELS = tuple(str(d) for d in range(10))
# The reduced LSNet: LSNet-T's block pattern at 64x64 input with narrower stages.
ARCH = dict(patch_size=8, embed_dim=(48, 96, 128, 160), key_dim=(16, 16, 16, 16), depth=(2, 2, 2, 2),
            num_heads=(2, 2, 2, 2))
EVAL_MARGIN = 0.2


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="models", help="output folder (default models/)")
    p.add_argument("--name", default="lsnet_digits")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", type=int, default=64, help="square input side in pixels (multiple of 32)")
    p.add_argument("--train", type=int, default=6000, help="training scenes (each holds 1-4 digits)")
    p.add_argument("--val", type=int, default=800, help="held-out scenes (the 'val' split) for the metrics")
    p.add_argument("--epochs", type=int, default=16)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--calib", type=int, default=256, help="training crops used to calibrate int8")
    p.add_argument("--force", action="store_true", help="overwrite existing outputs")
    args = p.parse_args(argv)
    if args.size % 32 or args.size < 64:
        p.error("--size must be a multiple of 32, at least 64")
    if min(args.train, args.val, args.epochs, args.batch, args.threads, args.calib) < 1:
        p.error("--train, --val, --epochs, --batch, --threads and --calib must be positive")
    return args


def output_paths(args) -> dict[str, str]:
    return {"fp32": os.path.join(args.out, f"{args.name}.onnx"),
            "fp32_portable": os.path.join(args.out, f"{args.name}_portable.onnx"),
            "int8": os.path.join(args.out, f"{args.name}_int8.onnx")}


def augmented_crops(rng: np.random.Generator, data, size: int) -> np.ndarray:
    """One crop per digit with a random margin and shift (see the module docstring)."""
    from edgert.zoo.scenes import crop_squares

    count = len(data["labels"])
    margins = rng.uniform(0.05, 0.5, count)
    shifts = rng.uniform(-0.08, 0.08, (count, 2))
    crops = np.zeros((count, size, size, 3), np.uint8)
    for i in range(len(data["images"])):
        rows = np.flatnonzero(data["image_index"] == i)
        crops[rows] = crop_squares(data["images"][i], data["boxes"][rows], size, margins[rows], shifts[rows])
    return crops


def top1(predicted: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.asarray(predicted) == labels))


def evaluate_files(paths: dict[str, str], crops: np.ndarray, labels: np.ndarray, threads: int) -> dict:
    """Top-1 of the exported files through edgert.tasks.Classifier, the way users run them; the SKA-node
    file runs on edgert only (onnxruntime has no kernel for the ai.edgert op)."""
    from edgert.tasks import Classifier

    metrics = {}
    for precision, path in paths.items():
        backends = ("edgert",) if precision == "fp32" else ("edgert", "onnxruntime")
        for backend in backends:
            clf = Classifier.load(path, threads=threads, backend=backend, top_k=1)
            predicted = [p[0].class_id for p in clf(list(crops), color="rgb")]
            metrics[f"{precision}_{backend}"] = top1(predicted, labels)
    return metrics


def write_card(args, paths, metrics, sizes, history, seconds, parameters, out_dir):
    from edgert.bench.report import write_text
    from edgert.zoo.lsnet import IMAGENET_MEAN, IMAGENET_STD

    stem = args.name
    info = {
        "name": stem, "task": "classify", "labels": list(LABELS),
        "input": {"shape": [1, 3, args.size, args.size], "layout": "NCHW", "color": "RGB", "scale": 1 / 255,
                  "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)},
        "files": {k: os.path.basename(v) for k, v in paths.items()},
        "metrics": {"top1": metrics, "eval_crops": int(metrics.pop("_count")), "eval_margin": EVAL_MARGIN},
        "card": f"{stem}.md",
        "architecture": {**{k: list(v) if isinstance(v, tuple) else v for k, v in ARCH.items()},
                         "parameters": parameters},
        "recipe": {"seed": args.seed, "size": args.size, "train_scenes": args.train, "val_scenes": args.val,
                   "epochs": args.epochs, "batch": args.batch, "lr": args.lr, "threads": args.threads,
                   "calibration_images": args.calib, "train_seconds": round(seconds)},
    }
    command = (f"python tools/train_lsnet.py --out {args.out} --seed {args.seed} --size {args.size} "
               f"--train {args.train} --val {args.val} --epochs {args.epochs} --batch {args.batch} "
               f"--lr {args.lr} --threads {args.threads} --calib {args.calib}")
    rows = "\n".join(f"| {k.replace('_', ' ')} | {v:.4f} |" for k, v in info["metrics"]["top1"].items())
    losses = ", ".join(f"{h:.3f}" for h in history)
    what = {"fp32": "fp32, SKA as the `ai.edgert` SKA node (edgert's native kernel)",
            "fp32_portable": "fp32, SKA as standard ONNX ops (runs on onnxruntime too)",
            "int8": "int8 QDQ of the portable export"}
    card = f"""# {stem}: LSNet digit classifier

A reduced LSNet trained from scratch to name the handwritten digit 0-9 in a square crop. It keeps the
official LSNet blocks (jameslahm/lsnet `model/lsnet.py`: stride-8 conv stem, RepVGG depthwise + squeeze-excite
blocks, LSConv = large-kernel perception (pw, dw 7x7, pw, pw + GroupNorm) + small-kernel aggregation (per-pixel
3x3 kernels shared by groups of 8 channels), attention in the last stage, BN-linear head) at a {args.size}x{args.size}
input with stages {ARCH['embed_dim']} wide and {ARCH['depth']} blocks deep ({parameters:,} parameters). Bundled
so `edgert.tasks.Classifier.load()` and `edgert demo classify` work out of the box.

| file | precision | bytes |
|---|---|---|
""" + "\n".join(f"| `{os.path.basename(p)}` | {what[k]} | {sizes[k]:,} |" for k, p in paths.items()) + f"""

## Input and output
- input `images` float32 [1, 3, {args.size}, {args.size}], RGB, `(pixel / 255 - mean) / std` with the ImageNet
  mean {IMAGENET_MEAN} and std {IMAGENET_STD}; `Classifier` takes the centred square of any image and
  resizes it to the input.
- output `logits` [1, 10] (softmax not applied); labels: the digits "0" .. "9" (class id = digit).
- Frame the digit roughly: it was trained on crops whose margin around the digit is 5-50% of its size.

## Data
The classification view of `edgert.zoo.scenes.SceneGenerator` (seed {args.seed}): scikit-learn's handwritten
digit scans (8x8, upscaled, per-split disjoint scans) composited onto crops of scikit-image / scikit-learn sample
photographs with random scale, position, rotation (±25°), colour, blur, noise, lighting and shape distractors,
then cropped around each digit. Training: every digit of {args.train} scenes of the `train` split, re-cropped
each epoch; metrics: every digit of {args.val} scenes of the held-out `val` split (disjoint digit scans), cropped
with a {EVAL_MARGIN:.0%} margin ({info['metrics']['eval_crops']} crops).

## Recipe
`{command}`

Deterministic given the seed and thread count. {args.epochs} epochs of AdamW (lr {args.lr}, warm-up then cosine
decay, weight decay 0.05), batch {args.batch}, cross-entropy with label smoothing 0.1; crops re-drawn each epoch
with a random 5-50% margin and a shift of up to 8% of the crop. Train time {seconds / 60:.0f} min on
{args.threads} threads of this build machine. Mean loss per epoch: {losses}.
Export: `edgert.zoo.convert.export_onnx` after re-parameterisation (BN folded into convs and the head,
RepVGG branches merged), checked against PyTorch. int8: `edgert.tools.quantize` (onnxruntime static QDQ,
S8S8, per-channel weights) of the portable export, calibrated on {args.calib} training crops.

## Metrics (held-out `val` split, top-1)
| model / runtime | top-1 |
|---|---|
{rows}

`torch` is the trained PyTorch model before export; the other rows run the exported files through
`edgert.tasks.Classifier` on the named backend (onnxruntime cannot run the SKA-node file).
"""
    write_text(os.path.join(out_dir, f"{stem}.json"), json.dumps(info, indent=2) + "\n")
    write_text(os.path.join(out_dir, f"{stem}.md"), card)


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch
    import torch.nn.functional as F
    from rich.progress import Progress

    from edgert.tasks.image import normalize_nchw
    from edgert.zoo.convert import export_onnx, write_model_atomic
    from edgert.zoo.lsnet import IMAGENET_MEAN, IMAGENET_STD, LSNet
    from edgert.zoo.scenes import SceneConfig, crop_squares, generate_split

    os.makedirs(args.out, exist_ok=True)
    paths = output_paths(args)
    existing = [p for p in list(paths.values()) + [os.path.join(args.out, f"{args.name}.{e}") for e in ("json", "md")]
                if os.path.exists(p)]
    if existing and not args.force:
        raise EdgeRTError(f"{', '.join(existing)} exist; pass --force to overwrite")

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    config = SceneConfig()
    started = time.time()
    print(f"generating {args.train} training and {args.val} held-out scenes ...", flush=True)
    train = generate_split(args.seed, "train", args.train, config, workers=args.threads)
    val = generate_split(args.seed, "val", args.val, config, workers=args.threads)
    val_crops = np.concatenate([crop_squares(val["images"][i], val["boxes"][val["image_index"] == i], args.size,
                                             EVAL_MARGIN) for i in range(args.val)])
    print(f"  {len(train['labels'])} training and {len(val_crops)} held-out digits, "
          f"{time.time() - started:.0f} s", flush=True)

    model = LSNet(img_size=args.size, num_classes=len(LABELS), **ARCH)
    parameters = sum(p.numel() for p in model.parameters())
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.05)
    count = len(train["labels"])
    steps_per_epoch = max(1, count // args.batch)     # full batches only: BatchNorm needs more than one row
    total_steps = steps_per_epoch * args.epochs
    warmup = min(300, total_steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / max(1, warmup)) * 0.5 * (
        1 + np.cos(np.pi * min(1.0, s / total_steps))))
    labels = torch.from_numpy(train["labels"])
    rng = np.random.default_rng(args.seed)
    history = []
    train_started = time.time()
    with Progress() as progress:
        task = progress.add_task("training", total=total_steps)
        for epoch in range(args.epochs):
            model.train()
            crops = augmented_crops(rng, train, args.size)
            order = rng.permutation(count)
            epoch_loss = []
            for step in range(steps_per_epoch):
                idx = order[step * args.batch:(step + 1) * args.batch]
                x = torch.from_numpy(normalize_nchw(crops[idx], IMAGENET_MEAN, IMAGENET_STD))
                loss = F.cross_entropy(model(x), labels[idx], label_smoothing=0.1)
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
                optimizer.step()
                schedule.step()
                epoch_loss.append(loss.item())
                progress.update(task, advance=1, description=f"epoch {epoch + 1}/{args.epochs} loss {loss:.3f}")
            history.append(float(np.mean(epoch_loss)))
            print(f"epoch {epoch + 1}: mean loss {history[-1]:.4f} ({time.time() - train_started:.0f} s)", flush=True)
    seconds = time.time() - train_started

    model.eval()
    with torch.no_grad():
        val_x = torch.from_numpy(normalize_nchw(val_crops, IMAGENET_MEAN, IMAGENET_STD))
        predicted = torch.cat([model(val_x[s:s + 256]).argmax(1) for s in range(0, len(val_x), 256)]).numpy()
    metrics = {"torch": top1(predicted, val["labels"])}
    print(f"PyTorch top-1 {metrics['torch']:.4f}", flush=True)

    for precision, portable in (("fp32", False), ("fp32_portable", True)):
        proto = export_onnx(model, (args.size, args.size), portable=portable, graph_name=args.name,
                            labels=list(LABELS))
        write_model_atomic(proto, paths[precision])
    from edgert.tools.quantize import quantize_onnx

    with tempfile.TemporaryDirectory() as calib_dir:
        import cv2

        calib = augmented_crops(np.random.default_rng(args.seed + 1), train, args.size)[:args.calib]
        for i, crop in enumerate(calib):
            cv2.imwrite(os.path.join(calib_dir, f"{i:05d}.png"), crop[:, :, ::-1])
        report = quantize_onnx(paths["fp32_portable"], paths["int8"], calib_dir, mean=IMAGENET_MEAN,
                               std=IMAGENET_STD, size=(args.size, args.size), force=True, seed=args.seed,
                               progress=True)
    print(report, flush=True)
    metrics.update(evaluate_files(paths, val_crops, val["labels"], args.threads))
    for key, value in metrics.items():
        print(f"{key:>26}: top-1 {value:.4f}")
    metrics["_count"] = len(val_crops)
    sizes = {k: os.path.getsize(p) for k, p in paths.items()}
    write_card(args, paths, metrics, sizes, history, seconds, parameters, args.out)
    print(f"wrote {', '.join(paths.values())} and the card in {time.time() - started:.0f} s")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except EdgeRTError as e:
        print(f"train_lsnet: {e}", file=sys.stderr)
        sys.exit(2)
