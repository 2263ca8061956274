#!/usr/bin/env python3
"""Make the bundled sample video that `edgert demo` falls back to without a camera.

    python tools/make_sample_media.py                       # writes edgert/data/sample_digits.mp4
    python tools/make_sample_media.py -o /tmp/s.mp4 --scenes 2 --fps 10

A few held-out digit scenes (edgert.zoo.scenes, 'test' split, so the bundled models never trained on
them), each filmed by a slowly panning and zooming virtual camera with a little sensor noise, so the
demo shows moving boxes like a hand-held camera would. Deterministic given --seed. Needs the `tools`
extra (scikit-learn, scikit-image) for the scenes.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from edgert.errors import EdgeRTError

DEFAULT_OUTPUT = os.path.join(os.path.dirname(__file__), "..", "edgert", "data", "sample_digits.mp4")


def camera_path(rng: np.random.Generator, frames: int):
    """Per-frame (zoom, x offset, y offset) of the window: a smooth random walk inside the scene."""
    zoom = np.linspace(rng.uniform(0.8, 0.9), rng.uniform(0.92, 1.0), frames)
    if rng.random() < 0.5:
        zoom = zoom[::-1]
    start, end = rng.uniform(0, 1, 2), rng.uniform(0, 1, 2)
    t = (1 - np.cos(np.linspace(0, np.pi, frames))) / 2      # ease in and out
    offsets = start[None] + (end - start)[None] * t[:, None]
    return zoom, offsets


def film(scene_image: np.ndarray, rng: np.random.Generator, frames: int, size: tuple[int, int]) -> list[np.ndarray]:
    import cv2

    height, width = scene_image.shape[:2]
    zoom, offsets = camera_path(rng, frames)
    out = []
    for z, (ox, oy) in zip(zoom, offsets):
        win_w, win_h = width * z, height * z
        x0, y0 = ox * (width - win_w), oy * (height - win_h)
        sx, sy = size[1] / win_w, size[0] / win_h
        matrix = np.array([[sx, 0, -x0 * sx], [0, sy, -y0 * sy]], np.float32)
        frame = cv2.warpAffine(scene_image, matrix, (size[1], size[0]), flags=cv2.INTER_AREA,
                               borderMode=cv2.BORDER_REPLICATE)
        noise = rng.normal(0, 3, frame.shape)
        out.append(np.clip(frame.astype(np.float32) + noise, 0, 255).astype(np.uint8))
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-o", "--output", default=DEFAULT_OUTPUT)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--scenes", type=int, default=4)
    p.add_argument("--seconds-per-scene", type=float, default=2.5)
    p.add_argument("--fps", type=int, default=12)
    p.add_argument("--size", default="240x320", help="frame HxW")
    p.add_argument("--force", action="store_true", help="overwrite an existing output")
    args = p.parse_args(argv)
    try:
        size = tuple(int(v) for v in args.size.lower().split("x"))
        assert len(size) == 2 and min(size) >= 32
    except (ValueError, AssertionError):
        p.error(f"--size {args.size!r}: expected HxW with sides >= 32")
    if args.scenes < 1 or args.fps < 1 or args.seconds_per_scene <= 0:
        p.error("--scenes, --fps and --seconds-per-scene must be positive")
    output = os.path.abspath(args.output)
    if os.path.exists(output) and not args.force:
        raise EdgeRTError(f"{output} exists; pass --force to overwrite it")

    import cv2

    from edgert.bench.report import atomic_output
    from edgert.zoo.scenes import SceneConfig, SceneGenerator

    generator = SceneGenerator(args.seed, "test", SceneConfig(size=size, objects=(2, 4)))
    rng = np.random.default_rng(args.seed)
    frames_per_scene = max(1, int(round(args.seconds_per_scene * args.fps)))
    os.makedirs(os.path.dirname(output), exist_ok=True)
    with atomic_output(output) as tmp:
        writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*"mp4v"), args.fps, (size[1], size[0]))
        if not writer.isOpened():
            raise EdgeRTError(f"OpenCV cannot write an mp4v video to {output}")
        try:
            for index in range(args.scenes):
                for frame in film(generator.scene(index).image, rng, frames_per_scene, size):
                    writer.write(frame[:, :, ::-1])       # RGB scene -> OpenCV's BGR
        finally:
            writer.release()
    print(f"wrote {output}: {args.scenes * frames_per_scene} frames {size[1]}x{size[0]} at {args.fps} fps, "
          f"{os.path.getsize(output):,} bytes")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except EdgeRTError as e:
        print(f"make_sample_media: {e}", file=sys.stderr)
        sys.exit(2)
