"""Box-set agreement of the bundled int8 detector on edgert vs onnxruntime (the same QDQ file): the
share of generated held-out scenes whose detections are the same set (same count, labels, IoU >= 0.9
per matched box). Target: >= 99%.

    python benchmarks/detector_agreement.py [--scenes 1000] [--precision int8|fp32]
"""
from __future__ import annotations

import argparse

from edgert.tasks import Detector
from edgert.tasks.bundled import default_model
from edgert.tasks.metrics import same_box_set
from edgert.zoo.scenes import SceneConfig, generate_split


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scenes", type=int, default=1000)
    p.add_argument("--precision", default="int8", choices=("int8", "fp32"))
    p.add_argument("--score-threshold", type=float, default=0.3)
    args = p.parse_args()
    card = default_model("detect")
    side = card.input["shape"][2]
    data = generate_split(card.extra["recipe"]["seed"] + 1, "test", args.scenes, SceneConfig(size=(side, side)),
                          workers=2)
    ours = Detector.load(card.name, precision=args.precision, threads=2, score_threshold=args.score_threshold)
    peer = Detector.load(card.name, precision=args.precision, threads=2, backend="onnxruntime",
                         score_threshold=args.score_threshold)
    agree = boxes = 0
    for image in data["images"]:
        a, b = ours(image, color="rgb"), peer(image, color="rgb")
        agree += same_box_set(a, b)
        boxes += len(a)
    print(f"{card.name} {args.precision}: {agree}/{args.scenes} scenes ({100 * agree / args.scenes:.1f}%) give the "
          f"same box set on edgert and onnxruntime ({boxes} boxes on edgert, score >= {args.score_threshold})")


if __name__ == "__main__":
    main()
