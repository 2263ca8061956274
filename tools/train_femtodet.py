#!/usr/bin/env python3
"""Train the bundled digit detector: FemtoDet (official architecture, widen 0.25, 10 classes) on the
synthetic digit scenes of edgert.zoo.scenes, then export fp32 and int8 ONNX with a model card.

    python tools/train_femtodet.py --out models            # the bundled recipe (about 45 min, 2 cores)
    python tools/train_femtodet.py --out /tmp/m --train 256 --val 64 --epochs 1 --force   # smoke run

Deterministic given --seed and --threads: data come from seeded generators, batches from a seeded
permutation, and torch runs with deterministic algorithms.

Recipe: YOLOX-style single-level head at stride 16; positives are the priors (i*16, j*16) inside a box
and within max(16 px, 0.3 * side) of its centre (ties go to the smaller box); losses are objectness BCE
over all priors, class BCE and GIoU + L1 box terms on positives; AdamW with cosine decay. A third of
the training images are letterboxed (shrunk along one side and padded with 114), as Detector feeds
camera frames. Needs the `tools` extra (torch, scikit-learn, scikit-image, OpenCV) and pycocotools.
"""
from __future__ import annotations

import json
import os
import sys
import time

import numpy as np

from edgert.errors import EdgeRTError

LABELS = tuple(str(d) for d in range(10))


def parse_args(argv=None):
    from edgert.zoo.recipe import parse_recipe_args, recipe_parser

    p = recipe_parser(__doc__.split("\n\n")[0], name="femtodet_digits", size=256, train=5000, val=500, epochs=10,
                      batch=32, lr=4e-3, calib=200, train_help="training scenes",
                      calib_help="training images used to calibrate int8")
    return parse_recipe_args(p, argv)


# ------------------------------------------------------------------ data

def letterbox_augment(rng: np.random.Generator, image: np.ndarray, boxes: np.ndarray, pad_value: int = 114):
    """Shrink one side by a random factor and pad bottom/right, as Detector's letterbox does to a
    non-square frame."""
    import cv2

    size = image.shape[0]
    ratio = rng.uniform(0.55, 0.95)
    shrink_width = rng.random() < 0.5
    new_w, new_h = (int(size * ratio), size) if shrink_width else (size, int(size * ratio))
    out = np.full_like(image, pad_value)
    out[:new_h, :new_w] = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_AREA)
    scaled = boxes * np.array([new_w / size, new_h / size] * 2, np.float32)
    return out, scaled


def build_targets(torch, boxes_per_image, labels_per_image, grid: int, stride: int, num_classes: int):
    """Per-prior targets: positive mask [N, P], class one-hot [N, P, C], box x1y1x2y2 [N, P, 4]."""
    n = len(boxes_per_image)
    priors = torch.stack(torch.meshgrid(torch.arange(grid), torch.arange(grid), indexing="xy"), -1)
    priors = priors.reshape(-1, 2).float() * stride                       # (x, y) of prior p = j*grid + i
    positive = torch.zeros(n, grid * grid, dtype=torch.bool)
    cls_target = torch.zeros(n, grid * grid, num_classes)
    box_target = torch.zeros(n, grid * grid, 4)
    for k, (boxes, labels) in enumerate(zip(boxes_per_image, labels_per_image)):
        if len(boxes) == 0:
            continue
        b = torch.as_tensor(boxes, dtype=torch.float32)
        centre = (b[:, :2] + b[:, 2:]) / 2
        side = b[:, 2:] - b[:, :2]
        reach = torch.clamp(0.3 * side, min=float(stride))
        px, py = priors[:, None, 0], priors[:, None, 1]
        inside = (px >= b[:, 0]) & (px < b[:, 2]) & (py >= b[:, 1]) & (py < b[:, 3])
        central = ((px - centre[:, 0]).abs() <= reach[:, 0]) & ((py - centre[:, 1]).abs() <= reach[:, 1])
        candidate = inside & central                                          # [P, K]
        area = (side[:, 0] * side[:, 1])[None].expand_as(candidate)
        area = torch.where(candidate, area, torch.full_like(area, float("inf")))
        best = area.argmin(1)
        pos = candidate.any(1)
        positive[k] = pos
        box_target[k, pos] = b[best[pos]]
        cls_target[k, pos, torch.as_tensor(labels, dtype=torch.long)[best[pos]]] = 1.0
    return priors, positive, cls_target, box_target


def giou_loss(torch, pred, target):
    """1 - GIoU of x1y1x2y2 boxes [M, 4]."""
    lt = torch.max(pred[:, :2], target[:, :2])
    rb = torch.min(pred[:, 2:], target[:, 2:])
    inter = (rb - lt).clamp(min=0).prod(1)
    area_p = (pred[:, 2:] - pred[:, :2]).clamp(min=0).prod(1)
    area_t = (target[:, 2:] - target[:, :2]).prod(1)
    union = area_p + area_t - inter + 1e-7
    hull = (torch.max(pred[:, 2:], target[:, 2:]) - torch.min(pred[:, :2], target[:, :2])).clamp(min=0).prod(1)
    iou = inter / union
    return 1 - (iou - (hull - union) / (hull + 1e-7))


def detection_loss(torch, outputs, targets, stride: int):
    import torch.nn.functional as F

    cls, box, obj = outputs
    n, c, h, w = cls.shape
    priors, positive, cls_target, box_target = targets
    cls = cls.permute(0, 2, 3, 1).reshape(n, h * w, c)
    box = box.permute(0, 2, 3, 1).reshape(n, h * w, 4)
    obj = obj.reshape(n, h * w)
    num_pos = max(1.0, float(positive.sum()))
    loss_obj = F.binary_cross_entropy_with_logits(obj, positive.float(), reduction="sum") / num_pos
    deltas = box[positive]
    prior = priors[None].expand(n, -1, -1)[positive]
    target = box_target[positive]
    centre = deltas[:, :2] * stride + prior
    half = torch.exp(deltas[:, 2:].clamp(max=8)) * stride / 2
    decoded = torch.cat([centre - half, centre + half], 1)
    loss_iou = giou_loss(torch, decoded, target).sum() / num_pos
    t_centre = (target[:, :2] + target[:, 2:]) / 2
    t_deltas = torch.cat([(t_centre - prior) / stride, torch.log((target[:, 2:] - target[:, :2]) / stride)], 1)
    loss_l1 = F.l1_loss(deltas, t_deltas, reduction="sum") / num_pos
    loss_cls = F.binary_cross_entropy_with_logits(cls[positive], cls_target[positive], reduction="sum") / num_pos
    return loss_obj + loss_cls + 5.0 * loss_iou + loss_l1, {
        "obj": loss_obj.item(), "cls": loss_cls.item(), "iou": loss_iou.item(), "l1": loss_l1.item()}


# ------------------------------------------------------------------ evaluation

def predict_torch(torch, model, images_nchw: np.ndarray, stride: int, batch: int = 64):
    from edgert.tasks.detector import decode_yolox, nms

    preds = []
    with torch.no_grad():
        for start in range(0, len(images_nchw), batch):
            cls, box, obj = model(torch.from_numpy(images_nchw[start:start + batch]))
            for k in range(cls.shape[0]):
                boxes, scores, ids = decode_yolox(cls[k].numpy(), box[k].numpy(), obj[k].numpy(), stride, 0.01)
                keep = nms(boxes, scores, ids, 0.65, 100)
                preds.append((boxes[keep], scores[keep], ids[keep]))
    return preds


def evaluate_files(paths: dict[str, str], data, backends=("edgert",), threads: int = 2) -> dict:
    """mAP of the exported files through edgert.tasks.Detector, the way users run them."""
    from edgert.tasks import Detector
    from edgert.tasks.metrics import detection_map

    gt = split_ground_truth(data)
    size = data["images"].shape[1:3]
    metrics = {}
    for precision, path in paths.items():
        for backend in backends:
            det = Detector.load(path, threads=threads, backend=backend, score_threshold=0.01, iou_threshold=0.65)
            preds = [det(image, color="rgb") for image in data["images"]]
            metrics[f"{precision}_{backend}"] = detection_map(gt, preds, len(LABELS), size)
    return metrics


def split_ground_truth(data):
    return [(data["boxes"][data["image_index"] == i], data["labels"][data["image_index"] == i])
            for i in range(len(data["images"]))]


# ------------------------------------------------------------------ outputs

def write_card(args, paths, metrics, sizes, history, seconds, out_dir):
    from edgert.bench.report import write_text
    from edgert.zoo import femtodet

    stem = args.name
    info = {
        "name": stem, "task": "detect", "labels": list(LABELS),
        "input": {"shape": [1, 3, args.size, args.size], "layout": "NCHW", "color": "RGB", "scale": 1 / 255,
                  "mean": list(femtodet.MEAN), "std": list(femtodet.STD), "pad_value": femtodet.PAD_VALUE,
                  "stride": femtodet.STRIDE, "decode": "yolox"},
        "files": {k: os.path.basename(v) for k, v in paths.items()},
        "metrics": metrics, "card": f"{stem}.md",
        "recipe": {"seed": args.seed, "size": args.size, "train_scenes": args.train, "val_scenes": args.val,
                   "epochs": args.epochs, "batch": args.batch, "lr": args.lr, "threads": args.threads,
                   "calibration_images": args.calib, "train_seconds": round(seconds)},
    }
    command = (f"python tools/train_femtodet.py --out {args.out} --seed {args.seed} --size {args.size} "
               f"--train {args.train} --val {args.val} --epochs {args.epochs} --batch {args.batch} "
               f"--lr {args.lr} --threads {args.threads} --calib {args.calib}")
    rows = "\n".join(f"| {k.replace('_', ' ')} | {v['map50']:.3f} | {v['map50_95']:.3f} |" for k, v in metrics.items())
    losses = ", ".join(f"{h:.3f}" for h in history)
    card = f"""# {stem}: FemtoDet digit detector

A FemtoDet (the official `femtodet_3stage` architecture: FemtoNet backbone at widen factor 0.25 with IBE
depthwise convs, SharedNeck, single-level YOLOX-style head at stride 16, ReLU) trained from scratch to find the
handwritten digits 0-9 in edgert's synthetic digit scenes. Bundled so `edgert demo` and
`edgert.tasks.Detector.load()` work out of the box.

| file | precision | bytes |
|---|---|---|
""" + "\n".join(f"| `{os.path.basename(p)}` | {k} | {sizes[k]:,} |" for k, p in paths.items()) + f"""

## Input and output
- input `images` float32 [1, 3, {args.size}, {args.size}], RGB, `(pixel / 255 - mean) / std` with mean
  {tuple(round(m, 3) for m in femtodet.MEAN)} and std {round(femtodet.STD[0], 4)}; frames of other sizes are
  letterboxed (aspect kept, padded with {femtodet.PAD_VALUE} at the bottom/right), as `Detector` does.
- outputs: `cls_score` [1, 10, h, w] logits, `bbox_pred` [1, 4, h, w] (dx, dy, log w, log h) in stride units,
  `objectness` [1, 1, h, w] logit; decoding and per-class NMS in `edgert.tasks.detector`.
- labels: the digits "0" .. "9" (class id = digit).

## Data
`edgert.zoo.scenes.SceneGenerator` (seed {args.seed}): scikit-learn's handwritten digit scans (8x8, upscaled,
per-split disjoint scans) composited onto crops of scikit-image / scikit-learn sample photographs at random
scale (18-42% of the side), position, rotation (±25°), colour, blur, noise and lighting, with random shape
distractors; 1-4 digits per {args.size}x{args.size} scene. Training: {args.train} scenes of the `train` split
(a third of them letterboxed); metrics: {args.val} scenes of the held-out `val` split (disjoint digit scans,
other seeds of backgrounds and placement).

## Recipe
`{command}`

Deterministic given the seed and thread count. {args.epochs} epochs of AdamW (lr {args.lr}, cosine decay, weight
decay 5e-4), batch {args.batch}; positives are priors inside a box near its centre; objectness BCE, class BCE,
GIoU (x5) and L1 box losses. Train time {seconds / 60:.0f} min on {args.threads} threads of this build machine.
Mean loss per epoch: {losses}.
int8: `edgert.tools.quantize` (onnxruntime static QDQ, S8S8, per-channel weights) calibrated on
{args.calib} training images.

## Metrics (held-out `val` split, COCO mAP via pycocotools, score >= 0.01, NMS IoU 0.65)
| model / runtime | mAP@0.5 | mAP@0.5:0.95 |
|---|---|---|
{rows}

`torch` is the trained PyTorch model before export; the other rows run the exported files through
`edgert.tasks.Detector` on the named backend.
"""
    write_text(os.path.join(out_dir, f"{stem}.json"), json.dumps(info, indent=2) + "\n")
    write_text(os.path.join(out_dir, f"{stem}.md"), card)


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch

    from edgert.tasks.image import normalize_nchw
    from edgert.tasks.metrics import detection_map
    from edgert.zoo import femtodet
    from edgert.zoo.convert import export_onnx, write_model_atomic
    from edgert.zoo.recipe import check_outputs, deterministic_torch, quantize_on_images, run_epochs, warmup_cosine
    from edgert.zoo.scenes import SceneConfig, generate_split

    os.makedirs(args.out, exist_ok=True)
    paths = {"fp32": os.path.join(args.out, f"{args.name}.onnx"),
             "int8": os.path.join(args.out, f"{args.name}_int8.onnx")}
    check_outputs(args, paths)
    deterministic_torch(torch, args.seed, args.threads)
    config = SceneConfig(size=(args.size, args.size))
    started = time.time()
    print(f"generating {args.train} training and {args.val} held-out scenes ...", flush=True)
    train = generate_split(args.seed, "train", args.train, config, workers=args.threads)
    val = generate_split(args.seed, "val", args.val, config, workers=args.threads)
    print(f"  {time.time() - started:.0f} s", flush=True)
    train_boxes = [train["boxes"][train["image_index"] == i] for i in range(args.train)]
    train_labels = [train["labels"][train["image_index"] == i] for i in range(args.train)]

    model = femtodet.femtodet(num_classes=len(LABELS))
    with torch.no_grad():   # start objectness and classes at a 1% prior, as YOLOX does
        for conv in (model.bbox_head.multi_level_conv_cls[0], model.bbox_head.multi_level_conv_obj[0]):
            conv.bias.fill_(-4.6)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=5e-4)
    steps_per_epoch = (args.train + args.batch - 1) // args.batch
    total_steps = steps_per_epoch * args.epochs
    warmup = min(200, total_steps // 10)
    schedule = warmup_cosine(torch, optimizer, total_steps, warmup)
    grid = args.size // femtodet.STRIDE
    rng = np.random.default_rng(args.seed)

    def losses(epoch):
        order = rng.permutation(args.train)
        for start in range(0, args.train, args.batch):
            idx = order[start:start + args.batch]
            images, boxes = [], []
            for i in idx:
                image, b = train["images"][i], train_boxes[i]
                if rng.random() < 1 / 3:
                    image, b = letterbox_augment(rng, image, b)
                images.append(image)
                boxes.append(b)
            x = torch.from_numpy(normalize_nchw(np.stack(images), femtodet.MEAN, femtodet.STD))
            targets = build_targets(torch, boxes, [train_labels[i] for i in idx], grid, femtodet.STRIDE, len(LABELS))
            yield detection_loss(torch, model(x), targets, femtodet.STRIDE)[0]

    history, seconds = run_epochs(torch, model, optimizer, schedule, epochs=args.epochs,
                                  steps_per_epoch=steps_per_epoch, clip=10.0, losses=losses)

    model.eval()
    val_x = normalize_nchw(val["images"], femtodet.MEAN, femtodet.STD)
    metrics = {"torch": detection_map(split_ground_truth(val), predict_torch(torch, model, val_x, femtodet.STRIDE),
                                      len(LABELS), (args.size, args.size))}
    print(f"PyTorch mAP@0.5 {metrics['torch']['map50']:.3f}", flush=True)

    proto = export_onnx(model, (args.size, args.size), graph_name=args.name, labels=list(LABELS))
    write_model_atomic(proto, paths["fp32"])
    report = quantize_on_images(paths["fp32"], paths["int8"], train["images"][:min(args.calib, args.train)],
                                mean=femtodet.MEAN, std=femtodet.STD, size=args.size, seed=args.seed)
    print(report, flush=True)
    metrics.update(evaluate_files(paths, val, backends=("edgert", "onnxruntime"), threads=args.threads))
    for key, value in metrics.items():
        print(f"{key:>22}: mAP@0.5 {value['map50']:.3f}  mAP@0.5:0.95 {value['map50_95']:.3f}")
    sizes = {k: os.path.getsize(p) for k, p in paths.items()}
    write_card(args, paths, metrics, sizes, history, seconds, args.out)
    print(f"wrote {', '.join(paths.values())} and the card in {time.time() - started:.0f} s")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except EdgeRTError as e:
        print(f"train_femtodet: {e}", file=sys.stderr)
        sys.exit(2)
