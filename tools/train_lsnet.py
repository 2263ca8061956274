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

import json
import os
import sys
import time

import numpy as np

from edgert.errors import EdgeRTError

LABELS = tuple(str(d) for d in range(10))
# The reduced LSNet: LSNet-T's block pattern at 64x64 input with narrower stages.
ARCH = dict(patch_size=8, embed_dim=(48, 96, 128, 160), key_dim=(16, 16, 16, 16), depth=(2, 2, 2, 2),
            num_heads=(2, 2, 2, 2))
EVAL_MARGIN = 0.2


def parse_args(argv=None):
    from edgert.zoo.recipe import parse_recipe_args, recipe_parser

    p = recipe_parser(__doc__.split("\n\n")[0], name="lsnet_digits", size=64, train=6000, val=800, epochs=16,
                      batch=64, lr=3e-3, calib=256, train_help="training scenes (each holds 1-4 digits)",
                      calib_help="training crops used to calibrate int8")
    return parse_recipe_args(p, argv)


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


def write_card(args, paths, metrics, eval_crops, sizes, history, seconds, parameters, out_dir):
    from edgert.bench.report import write_text
    from edgert.zoo.lsnet import IMAGENET_MEAN, IMAGENET_STD

    stem = args.name
    info = {
        "name": stem, "task": "classify", "labels": list(LABELS),
        "input": {"shape": [1, 3, args.size, args.size], "layout": "NCHW", "color": "RGB", "scale": 1 / 255,
                  "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)},
        "files": {k: os.path.basename(v) for k, v in paths.items()},
        "metrics": {"top1": metrics, "eval_crops": eval_crops, "eval_margin": EVAL_MARGIN},
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

    from edgert.tasks.image import normalize_nchw
    from edgert.zoo.convert import export_onnx, write_model_atomic
    from edgert.zoo.recipe import check_outputs, deterministic_torch, quantize_on_images, run_epochs, warmup_cosine
    from edgert.zoo.lsnet import IMAGENET_MEAN, IMAGENET_STD, LSNet
    from edgert.zoo.scenes import SceneConfig, crop_squares, generate_split

    os.makedirs(args.out, exist_ok=True)
    paths = output_paths(args)
    check_outputs(args, paths)
    deterministic_torch(torch, args.seed, args.threads)
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
    schedule = warmup_cosine(torch, optimizer, total_steps, warmup)
    labels = torch.from_numpy(train["labels"])
    rng = np.random.default_rng(args.seed)

    def losses(epoch):
        crops = augmented_crops(rng, train, args.size)
        order = rng.permutation(count)
        for step in range(steps_per_epoch):
            idx = order[step * args.batch:(step + 1) * args.batch]
            x = torch.from_numpy(normalize_nchw(crops[idx], IMAGENET_MEAN, IMAGENET_STD))
            yield F.cross_entropy(model(x), labels[idx], label_smoothing=0.1)

    history, seconds = run_epochs(torch, model, optimizer, schedule, epochs=args.epochs,
                                  steps_per_epoch=steps_per_epoch, clip=5.0, losses=losses)

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
    calib = augmented_crops(np.random.default_rng(args.seed + 1), train, args.size)[:args.calib]
    report = quantize_on_images(paths["fp32_portable"], paths["int8"], calib, mean=IMAGENET_MEAN, std=IMAGENET_STD,
                                size=args.size, seed=args.seed)
    print(report, flush=True)
    metrics.update(evaluate_files(paths, val_crops, val["labels"], args.threads))
    for key, value in metrics.items():
        print(f"{key:>26}: top-1 {value:.4f}")
    sizes = {k: os.path.getsize(p) for k, p in paths.items()}
    write_card(args, paths, metrics, len(val_crops), sizes, history, seconds, parameters, args.out)
    print(f"wrote {', '.join(paths.values())} and the card in {time.time() - started:.0f} s")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except EdgeRTError as e:
        print(f"train_lsnet: {e}", file=sys.stderr)
        sys.exit(2)
