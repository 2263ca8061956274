#!/usr/bin/env python3
"""Generate the synthetic digit-scene dataset (edgert.zoo.scenes) as files.

    python tools/make_dataset.py data/digits --train 8000 --val 1000 --test 1000 --seed 0
    python tools/make_dataset.py data/digits-coco --format coco

npz format, one file per split (OUT/train.npz, val.npz, test.npz), arrays as generate_split returns:
    images [N, H, W, 3] uint8 RGB; boxes [M, 4] float32 x1 y1 x2 y2 (pixels, x2/y2 exclusive);
    labels [M] int64 digit; image_index [M] int64; colors [M] int64 (index into meta.json "colors");
    captions [N] str; backgrounds [N] str; crops [M, S, S, 3] uint8, the classification view
    (one centred crop per box, labels[i] is crops[i]'s class); scan_index [M] int64 (load_digits scan).
coco format, per split: OUT/SPLIT/images/NNNNNN.png, OUT/SPLIT/annotations.json (COCO detection:
    bbox [x, y, w, h]; category_id = digit + 1, name = the digit; each image entry has its "caption")
    and OUT/SPLIT/classification.npz (crops, labels).
OUT/meta.json records the seed, sizes and counts, so the same command regenerates identical data.

Needs the `tools` extra (OpenCV, scikit-learn, scikit-image).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

import numpy as np

from edgert.errors import EdgeRTError
from edgert.zoo import scenes


def _parse_size(text: str) -> tuple[int, int]:
    try:
        parts = [int(p) for p in text.lower().split("x")]
    except ValueError:
        parts = []
    if len(parts) == 1:
        parts *= 2
    if len(parts) != 2:
        raise EdgeRTError(f"--size {text!r}: expected HxW or S, e.g. 128x128")
    return parts[0], parts[1]


def _parse_range(text: str, argument: str) -> tuple[int, int]:
    try:
        low, _, high = text.partition("-")
        values = (int(low), int(high or low))
    except ValueError:
        raise EdgeRTError(f"{argument} {text!r}: expected N or MIN-MAX, e.g. 1-4") from None
    return values


def _save_npz(path: str, arrays: dict) -> None:
    """Written beside `path` and renamed into place, so a reader never sees half a file."""
    fd, tmp = tempfile.mkstemp(prefix=".make_dataset-", suffix=".npz", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)   # mkstemp's 0600 would make the file private
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_coco(directory: str, data: dict, size: tuple[int, int]) -> None:
    import cv2

    images_dir = os.path.join(directory, "images")
    os.makedirs(images_dir, exist_ok=True)
    height, width = size
    images, annotations = [], []
    for i, (image, caption) in enumerate(zip(data["images"], data["captions"])):
        name = f"{i:06d}.png"
        if not cv2.imwrite(os.path.join(images_dir, name), image[:, :, ::-1]):
            raise EdgeRTError(f"cannot write {os.path.join(images_dir, name)}")
        images.append({"id": i, "file_name": f"images/{name}", "height": height, "width": width,
                       "caption": str(caption), "background": str(data["backgrounds"][i])})
    for k, (box, label, image_id, color) in enumerate(zip(data["boxes"], data["labels"], data["image_index"],
                                                          data["colors"])):
        x1, y1, x2, y2 = (float(v) for v in box)
        annotations.append({"id": k + 1, "image_id": int(image_id), "category_id": int(label) + 1,
                            "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1), "iscrowd": 0,
                            "color": scenes.COLOR_NAMES[int(color)]})
    coco = {"images": images, "annotations": annotations,
            "categories": [{"id": d + 1, "name": name} for d, name in enumerate(scenes.CLASS_NAMES)]}
    with open(os.path.join(directory, "annotations.json"), "w") as f:
        json.dump(coco, f)
    _save_npz(os.path.join(directory, "classification.npz"), {"crops": data["crops"], "labels": data["labels"]})


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Synthetic digit scenes: detection, classification and captions.")
    parser.add_argument("out", help="output directory (created)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", default="128x128", help="scene size HxW (default 128x128)")
    parser.add_argument("--train", type=int, default=8000)
    parser.add_argument("--val", type=int, default=1000)
    parser.add_argument("--test", type=int, default=1000)
    parser.add_argument("--objects", default="1-4", help="digits per scene, N or MIN-MAX (default 1-4)")
    parser.add_argument("--crop-size", type=int, default=32, help="side of the classification crops (default 32)")
    parser.add_argument("--format", choices=("npz", "coco"), default="npz")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="threads (default: all cores)")
    parser.add_argument("--force", action="store_true", help="replace an existing output directory")
    args = parser.parse_args(argv)
    try:
        config = scenes.SceneConfig(size=_parse_size(args.size), objects=_parse_range(args.objects, "--objects"))
        counts = {"train": args.train, "val": args.val, "test": args.test}
        if min(counts.values()) < 0:
            raise EdgeRTError(f"scene counts must be non-negative, got {counts}")
        out = os.path.abspath(args.out)
        occupied = os.path.isfile(out) or (os.path.isdir(out) and bool(os.listdir(out)))
        if occupied and not args.force:
            raise EdgeRTError(f"{args.out} exists; pass --force to replace it")
        # Build next to the target and swap it in at the end: an interrupted run leaves no half dataset.
        parent = os.path.dirname(out)
        if not os.path.isdir(parent):
            raise EdgeRTError(f"{args.out}: no such directory {parent}")
        staging = tempfile.mkdtemp(prefix=".make_dataset-", dir=parent)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(staging, 0o777 & ~umask)   # mkdtemp's 0700 would make the dataset private
        try:
            for split, count in counts.items():
                start = time.perf_counter()
                data = scenes.generate_split(args.seed, split, count, config, args.crop_size, max(1, args.workers))
                if args.format == "npz":
                    _save_npz(os.path.join(staging, f"{split}.npz"), data)
                else:
                    write_coco(os.path.join(staging, split), data, config.size)
                print(f"{split}: {count} scenes, {len(data['labels'])} digits in {time.perf_counter() - start:.1f}s")
            meta = {"generator": "edgert.zoo.scenes", "seed": args.seed, "size": list(config.size),
                    "objects": list(config.objects), "crop_size": args.crop_size, "counts": counts,
                    "format": args.format, "classes": list(scenes.CLASS_NAMES), "colors": list(scenes.COLOR_NAMES)}
            with open(os.path.join(staging, "meta.json"), "w") as f:
                json.dump(meta, f, indent=2)
            if os.path.exists(out):
                shutil.rmtree(out) if os.path.isdir(out) else os.unlink(out)
            os.replace(staging, out)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    except EdgeRTError as e:
        print(f"make_dataset: error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
