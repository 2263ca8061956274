"""Agreement of a bundled model on edgert vs onnxruntime (the same file, int8 QDQ by default) on generated
held-out data. Target: >= 99%.

    python benchmarks/agreement.py detect [--count 1000] [--precision int8|fp32]
        share of scenes whose detections are the same set (same count, labels, IoU >= 0.9 per matched box)
    python benchmarks/agreement.py classify [--count 1000] [--precision int8|fp32_portable]
        share of digit crops given the same top-1 label
"""
from __future__ import annotations

import argparse

import numpy as np

from edgert.tasks import Classifier, Detector
from edgert.tasks.bundled import default_model
from edgert.tasks.metrics import same_box_set
from edgert.zoo.scenes import SceneConfig, crop_squares, generate_split


def detect(args) -> None:
    card = default_model("detect")
    side = card.input["shape"][2]
    data = generate_split(card.extra["recipe"]["seed"] + 1, "test", args.count, SceneConfig(size=(side, side)),
                          workers=2)
    ours = Detector.load(card.name, precision=args.precision, threads=2, score_threshold=args.score_threshold)
    peer = Detector.load(card.name, precision=args.precision, threads=2, backend="onnxruntime",
                         score_threshold=args.score_threshold)
    agree = boxes = 0
    for image in data["images"]:
        a, b = ours(image, color="rgb"), peer(image, color="rgb")
        agree += same_box_set(a, b)
        boxes += len(a)
    print(f"{card.name} {args.precision}: {agree}/{args.count} scenes ({100 * agree / args.count:.1f}%) give the "
          f"same box set on edgert and onnxruntime ({boxes} boxes on edgert, score >= {args.score_threshold})")


def classify(args) -> None:
    card = default_model("classify")
    side, margin = card.input["shape"][2], card.metrics["eval_margin"]
    # The recipe seed's 'test' split: digit scans disjoint from training (another seed divides them anew).
    data = generate_split(card.extra["recipe"]["seed"], "test", args.count // 2 + 50, SceneConfig(), workers=2)
    crops = [c for i in range(len(data["images"]))
             for c in crop_squares(data["images"][i], data["boxes"][data["image_index"] == i], side, margin)]
    labels = list(data["labels"])
    if len(crops) < args.count:
        raise SystemExit(f"only {len(crops)} digits in {len(data['images'])} scenes")
    crops, labels = crops[:args.count], np.asarray(labels[:args.count])
    ours = Classifier.load(card.name, precision=args.precision, threads=2, top_k=1)
    peer = Classifier.load(card.name, precision=args.precision, threads=2, top_k=1, backend="onnxruntime")
    a = np.array([p[0].class_id for p in ours(crops, color="rgb")])
    b = np.array([p[0].class_id for p in peer(crops, color="rgb")])
    print(f"{card.name} {args.precision}: {int((a == b).sum())}/{args.count} crops ({100 * np.mean(a == b):.1f}%) "
          f"get the same top-1 on edgert and onnxruntime; top-1 accuracy edgert {np.mean(a == labels):.4f}, "
          f"onnxruntime {np.mean(b == labels):.4f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("task", choices=("detect", "classify"))
    p.add_argument("--count", type=int, default=1000, help="scenes (detect) or digit crops (classify)")
    p.add_argument("--precision", default="int8", help="the bundled file to compare (int8, fp32, fp32_portable)")
    p.add_argument("--score-threshold", type=float, default=0.3, help="detect: boxes compared")
    args = p.parse_args()
    detect(args) if args.task == "detect" else classify(args)


if __name__ == "__main__":
    main()
