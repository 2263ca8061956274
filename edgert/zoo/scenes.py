"""Synthetic digit scenes from data that packages ship: detection, classification and captions.

Handwritten digits from scikit-learn (`load_digits`: 1,797 8x8 scans, classes 0-9) are upscaled,
rotated, coloured, blurred and composited onto crops of sample photographs and textures that
scikit-image (`skimage.data`) and scikit-learn (`load_sample_images`) install with them, with
distractor shapes, sensor noise and uneven lighting. Nothing is downloaded.

Every scene is a pure function of (seed, split, index), so datasets are reproducible and can be
generated in parallel in any order. The digit scans are divided between the splits (train / val /
test never share a scan); the background photographs are shared, each scene taking a random crop.

    from edgert.zoo.scenes import SceneGenerator
    gen = SceneGenerator(seed=0, split="train")
    scene = gen.scene(0)          # .image uint8 HxWx3 RGB, .boxes [K, 4] x1 y1 x2 y2, .labels, .caption

Needs numpy, OpenCV, scikit-learn and scikit-image (the `tools` extra).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from edgert.errors import BackendUnavailableError, EdgeRTError

SPLITS = ("train", "val", "test")
SPLIT_FRACTIONS = (0.7, 0.15, 0.15)     # of the digit scans, per class
CLASS_NAMES = tuple(str(d) for d in range(10))

# Named colours the captions use; each digit is drawn near its colour (small per-channel jitter).
COLORS = {
    "red": (215, 35, 35), "green": (35, 165, 60), "blue": (35, 75, 220), "yellow": (240, 215, 40),
    "white": (245, 245, 245), "black": (20, 20, 20), "orange": (245, 135, 25), "purple": (145, 50, 190),
    "cyan": (35, 200, 215), "pink": (240, 115, 180),
}
COLOR_NAMES = tuple(COLORS)
_PALETTE = np.asarray([COLORS[n] for n in COLOR_NAMES], np.float32)
# Minimum RGB distance between a digit's colour and the mean background under it, so every
# labelled digit is visible.
MIN_CONTRAST = 110.0

# skimage.data images bundled with scikit-image (no download) that contain no digits or letters.
SKIMAGE_COLOR = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry", "retina")
SKIMAGE_GRAY = ("brick", "camera", "grass", "gravel", "moon", "coins", "clock", "cell")

# 3 x 3 grid of image regions -> caption phrase (row, column).
_ROWS = ("top", "middle", "bottom")
_COLS = ("left", "center", "right")


def position_phrase(box, size: tuple[int, int]) -> str:
    """'top left', 'top', 'center', 'bottom right', ... for the box centre in an (H, W) image."""
    height, width = size
    cx = (box[0] + box[2]) / 2 / width
    cy = (box[1] + box[3]) / 2 / height
    row = _ROWS[min(2, int(cy * 3))]
    col = _COLS[min(2, int(cx * 3))]
    if row == "middle":
        return "center" if col == "center" else col
    return row if col == "center" else f"{row} {col}"


def caption_for(boxes, labels, colors, size: tuple[int, int]) -> str:
    """'a red 3 at the top left and a blue 7 at the bottom right'; objects in reading order
    (by grid row, then left to right)."""
    if len(labels) == 0:
        return "no digits"
    height, _ = size
    order = sorted(range(len(labels)), key=lambda i: (min(2, int((boxes[i][1] + boxes[i][3]) / 2 / height * 3)),
                                                      (boxes[i][0] + boxes[i][2]) / 2))
    phrases = [f"{_article(colors[i])} {colors[i]} {int(labels[i])} at the {position_phrase(boxes[i], size)}"
               for i in order]
    if len(phrases) == 1:
        return phrases[0]
    return ", ".join(phrases[:-1]) + " and " + phrases[-1]


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


@dataclass(frozen=True)
class SceneConfig:
    size: tuple[int, int] = (128, 128)            # (H, W)
    objects: tuple[int, int] = (1, 4)             # digits per scene, inclusive
    digit_scale: tuple[float, float] = (0.18, 0.42)   # digit height / shorter image side
    max_rotation: float = 25.0                    # degrees
    distractors: tuple[int, int] = (0, 4)         # shapes per scene, inclusive
    blur_probability: float = 0.3
    noise_probability: float = 0.5

    def __post_init__(self):
        if len(self.size) != 2 or min(self.size) < 16:
            raise EdgeRTError(f"scene size must be (H, W) with sides of at least 16 pixels, got {self.size}")
        if not 0 <= self.objects[0] <= self.objects[1]:
            raise EdgeRTError(f"objects must be (min, max) with 0 <= min <= max, got {self.objects}")
        if not 0 < self.digit_scale[0] <= self.digit_scale[1] <= 1:
            raise EdgeRTError(f"digit_scale must be (min, max) within (0, 1], got {self.digit_scale}")


@dataclass
class Scene:
    image: np.ndarray                 # uint8 [H, W, 3] RGB
    boxes: np.ndarray                 # float32 [K, 4] x1, y1, x2, y2 in pixels (x2, y2 exclusive)
    labels: np.ndarray                # int64 [K] digit class
    colors: list[str] = field(default_factory=list)   # colour name per object
    caption: str = ""
    background: str = ""
    scans: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # load_digits index per object


def _cv2():
    try:
        import cv2
    except ImportError:
        raise BackendUnavailableError("scene generation needs OpenCV (pip install 'edgert[tools]')") from None
    return cv2


@functools.lru_cache(maxsize=None)
def _digits():
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise BackendUnavailableError("scene generation needs scikit-learn (pip install 'edgert[tools]')") from None
    data = load_digits()
    return data.images.astype(np.float32) / 16.0, data.target.astype(np.int64)


@functools.lru_cache(maxsize=None)
def _backgrounds(shorter_side: int) -> tuple[tuple[str, np.ndarray], ...]:
    """(name, uint8 RGB image) for every bundled photograph and texture, shrunk once so its shorter
    side is at most `shorter_side` (cropping and resizing full-size photos per scene is the slow part)."""
    cv2 = _cv2()
    try:
        import skimage.data
        from sklearn.datasets import load_sample_images
    except ImportError:
        raise BackendUnavailableError("scene generation needs scikit-image and scikit-learn "
                                      "(pip install 'edgert[tools]')") from None
    images = []
    for name in SKIMAGE_COLOR:
        images.append((name, np.ascontiguousarray(getattr(skimage.data, name)()[..., :3])))
    for name in SKIMAGE_GRAY:
        gray = np.asarray(getattr(skimage.data, name)(), dtype=np.uint8)
        images.append((name, np.ascontiguousarray(np.repeat(gray[..., None], 3, axis=2))))
    samples = load_sample_images()
    for filename, image in zip(samples.filenames, samples.images):
        images.append((filename.replace("\\", "/").rsplit("/", 1)[-1].split(".")[0], np.ascontiguousarray(image)))
    shrunk = []
    for name, image in images:
        scale = shorter_side / min(image.shape[:2])
        if scale < 1:
            size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        shrunk.append((name, image))
    return tuple(shrunk)


@functools.lru_cache(maxsize=8)
def _unit_grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates scaled to [-0.5, 0.5): (x, y), for lighting gradients."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    return xs / width - 0.5, ys / height - 0.5


@functools.lru_cache(maxsize=None)
def digit_pool(seed: int, split: str) -> np.ndarray:
    """Indices of the digit scans that belong to `split`: a seeded per-class division of load_digits."""
    if split not in SPLITS:
        raise EdgeRTError(f"split must be one of {SPLITS}, got {split!r}")
    _, targets = _digits()
    rng = np.random.default_rng([seed, 7919])
    chosen = []
    for digit in range(10):
        members = rng.permutation(np.flatnonzero(targets == digit))
        cuts = np.round(np.cumsum(SPLIT_FRACTIONS) * len(members)).astype(int)
        start = 0 if split == "train" else cuts[SPLITS.index(split) - 1]
        chosen.append(members[start:cuts[SPLITS.index(split)]])
    return np.sort(np.concatenate(chosen))


class SceneGenerator:
    """Scenes for one split; `scene(i)` depends only on (seed, split, i, config)."""

    def __init__(self, seed: int = 0, split: str = "train", config: SceneConfig | None = None):
        self.seed = int(seed)
        self.split = split
        self.config = config or SceneConfig()
        self.pool = digit_pool(self.seed, split)
        self._split_id = SPLITS.index(split)

    def rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self._split_id, int(index)])

    def scene(self, index: int) -> Scene:
        rng = self.rng(index)
        cfg = self.config
        height, width = cfg.size
        name, image = self._background(rng)
        self._distractors(rng, image)
        scans, targets = _digits()
        boxes, labels, colors, used = [], [], [], []
        for _ in range(int(rng.integers(cfg.objects[0], cfg.objects[1] + 1))):
            scan = int(rng.choice(self.pool))
            placed = self._place_digit(rng, image, scans[scan], boxes)
            if placed is not None:
                boxes.append(placed[0])
                colors.append(placed[1])
                labels.append(int(targets[scan]))
                used.append(scan)
        image = self._finish(rng, image)
        boxes_array = np.asarray(boxes, np.float32).reshape(-1, 4)
        labels_array = np.asarray(labels, np.int64)
        caption = caption_for(boxes_array, labels_array, colors, (height, width))
        return Scene(image, boxes_array, labels_array, colors, caption, name, np.asarray(used, np.int64))

    # -- stages

    def _background(self, rng) -> tuple[str, np.ndarray]:
        """A random crop of a random photograph, resized to the scene, with a colour cast; float32."""
        cv2 = _cv2()
        height, width = self.config.size
        # Crops span 30-100% of a source's shorter side, so 3x the scene side keeps every crop sharp.
        backgrounds = _backgrounds(3 * max(height, width))
        name, source = backgrounds[int(rng.integers(len(backgrounds)))]
        sh, sw = source.shape[:2]
        aspect = width / height
        crop_h = int(rng.uniform(0.3, 1.0) * min(sh, sw / aspect))
        crop_w = max(1, min(sw, int(round(crop_h * aspect))))
        crop_h = max(1, crop_h)
        y0 = int(rng.integers(0, sh - crop_h + 1))
        x0 = int(rng.integers(0, sw - crop_w + 1))
        crop = source[y0:y0 + crop_h, x0:x0 + crop_w]
        interp = cv2.INTER_AREA if crop_h > height else cv2.INTER_LINEAR
        image = cv2.resize(crop, (width, height), interpolation=interp).astype(np.float32)
        if rng.random() < 0.5:
            image = image[:, ::-1]
        if name in SKIMAGE_GRAY:  # tint gray textures: grayscale backgrounds would be a pattern of their own
            image = image * rng.uniform(0.6, 1.1, size=3).astype(np.float32)
        return name, np.ascontiguousarray(np.clip(image, 0, 255))

    def _distractors(self, rng, image: np.ndarray) -> None:
        """Filled and outlined circles, rectangles, lines and triangles in random colours."""
        cv2 = _cv2()
        height, width = self.config.size
        side = min(height, width)
        for _ in range(int(rng.integers(self.config.distractors[0], self.config.distractors[1] + 1))):
            color = tuple(float(c) for c in rng.uniform(0, 255, 3))
            thickness = -1 if rng.random() < 0.5 else int(rng.integers(1, max(2, side // 40) + 1))
            kind = int(rng.integers(4))
            cx, cy = int(rng.integers(width)), int(rng.integers(height))
            extent = int(rng.uniform(0.05, 0.25) * side)
            if kind == 0:
                cv2.circle(image, (cx, cy), max(2, extent // 2), color, thickness, cv2.LINE_AA)
            elif kind == 1:
                corner = (cx + extent, cy + int(rng.uniform(0.3, 1.5) * extent))
                cv2.rectangle(image, (cx, cy), corner, color, thickness)
            elif kind == 2:
                end = (int(rng.integers(width)), int(rng.integers(height)))
                cv2.line(image, (cx, cy), end, color, max(1, abs(thickness)), cv2.LINE_AA)
            else:
                points = (np.array([cx, cy]) + rng.integers(-extent, extent + 1, size=(3, 2))).astype(np.int32)
                cv2.fillPoly(image, [points], color, cv2.LINE_AA)

    def _place_digit(self, rng, image: np.ndarray, scan: np.ndarray, boxes: list):
        """Composite one digit where it overlaps no earlier digit; (box, colour name) or None."""
        cv2 = _cv2()
        cfg = self.config
        height, width = cfg.size
        digit_h = max(8, int(rng.uniform(*cfg.digit_scale) * min(height, width)))
        digit_w = max(6, int(digit_h * rng.uniform(0.75, 1.0)))
        glyph = cv2.resize(scan, (digit_w, digit_h), interpolation=cv2.INTER_CUBIC)
        # Rotate about the centre on a canvas large enough to keep the corners.
        diagonal = int(np.ceil(np.hypot(digit_h, digit_w))) + 2
        canvas = np.zeros((diagonal, diagonal), np.float32)
        oy, ox = (diagonal - digit_h) // 2, (diagonal - digit_w) // 2
        canvas[oy:oy + digit_h, ox:ox + digit_w] = glyph
        angle = rng.uniform(-cfg.max_rotation, cfg.max_rotation)
        matrix = cv2.getRotationMatrix2D((diagonal / 2, diagonal / 2), angle, 1.0)
        alpha = cv2.warpAffine(canvas, matrix, (diagonal, diagonal), flags=cv2.INTER_LINEAR)
        if rng.random() < cfg.blur_probability:
            alpha = cv2.GaussianBlur(alpha, (0, 0), rng.uniform(0.4, 1.2))
        alpha = np.clip(alpha * rng.uniform(1.1, 1.6), 0, 1)  # scans are faint: strengthen the strokes
        ink = np.argwhere(alpha > 0.35)
        if len(ink) == 0:
            return None
        (y1, x1), (y2, x2) = ink.min(axis=0), ink.max(axis=0) + 1
        box_h, box_w = y2 - y1, x2 - x1
        if box_h >= height or box_w >= width:
            return None
        for _ in range(20):
            top = int(rng.integers(0, height - box_h + 1))
            left = int(rng.integers(0, width - box_w + 1))
            box = (float(left), float(top), float(left + box_w), float(top + box_h))
            if not any(_overlap(box, other) for other in boxes):
                break
        else:
            return None
        # Canvas region that lands inside the image (the ink box always does; its halo may not).
        cy0, cx0 = top - y1, left - x1
        ys = slice(max(0, cy0), min(height, cy0 + diagonal))
        xs = slice(max(0, cx0), min(width, cx0 + diagonal))
        a = alpha[ys.start - cy0:ys.stop - cy0, xs.start - cx0:xs.stop - cx0, None]
        region = image[ys, xs]
        under = region[top - ys.start:top - ys.start + box_h, left - xs.start:left - xs.start + box_w]
        name = self._contrasting_color(rng, under.reshape(-1, 3).mean(axis=0))
        color = np.clip(np.asarray(COLORS[name], np.float32) + rng.uniform(-15, 15, 3), 0, 255)
        region *= 1 - a
        region += a * color.astype(np.float32)
        return box, name

    @staticmethod
    def _contrasting_color(rng, background_mean: np.ndarray) -> str:
        distances = np.linalg.norm(_PALETTE - background_mean, axis=1)
        candidates = np.flatnonzero(distances >= MIN_CONTRAST)
        if len(candidates) == 0:
            return COLOR_NAMES[int(np.argmax(distances))]
        return COLOR_NAMES[int(rng.choice(candidates))]

    def _finish(self, rng, image: np.ndarray) -> np.ndarray:
        """Lighting (gain, gradient), optional sensor noise and defocus; back to uint8."""
        cv2 = _cv2()
        height, width = self.config.size
        gain = rng.uniform(0.7, 1.25)
        xs, ys = _unit_grid(height, width)
        direction = rng.uniform(-1, 1, 2).astype(np.float32)
        ramp = xs * direction[0] + ys * direction[1]
        image *= (np.float32(gain) * (1 + np.float32(rng.uniform(0, 0.5)) * ramp))[..., None]
        if rng.random() < self.config.noise_probability:
            image += rng.standard_normal(image.shape, dtype=np.float32) * np.float32(rng.uniform(2, 10))
        if rng.random() < self.config.blur_probability / 2:
            image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.3, 0.8))
        return np.clip(image + 0.5, 0, 255).astype(np.uint8)


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def crop_digits(scene: Scene, size: int = 32, margin: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """Classification view: a square crop centred on each digit (its box plus `margin` per side,
    edge pixels repeated past the border), resized to size x size. uint8 [K, size, size, 3], labels [K]."""
    return crop_squares(scene.image, scene.boxes, size, margin), scene.labels.copy()


def crop_squares(image: np.ndarray, boxes: np.ndarray, size: int, margin=0.2, shift=None) -> np.ndarray:
    """A size x size crop per box: the square of the box's longer side plus `margin` of it per side,
    centred on the box moved by `shift` (fractions of that square's side, [K, 2] x/y); `margin` may be
    one value or one per box. Edge pixels are repeated past the image border. uint8 [K, size, size, 3]."""
    cv2 = _cv2()
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    margins = np.broadcast_to(np.asarray(margin, np.float64), (len(boxes),))
    shifts = np.zeros((len(boxes), 2)) if shift is None else np.asarray(shift, np.float64).reshape(len(boxes), 2)
    crops = np.zeros((len(boxes), size, size, 3), np.uint8)
    for i, ((x1, y1, x2, y2), m, (sx, sy)) in enumerate(zip(boxes, margins, shifts)):
        side = max(x2 - x1, y2 - y1) * (1 + 2 * m)
        cx, cy = (x1 + x2) / 2 + sx * side, (y1 + y2) / 2 + sy * side
        # Affine map from the square window to the output crop; BORDER_REPLICATE fills outside the image.
        scale = size / side
        matrix = np.array([[scale, 0, size / 2 - cx * scale], [0, scale, size / 2 - cy * scale]], np.float32)
        crops[i] = cv2.warpAffine(image, matrix, (size, size), borderMode=cv2.BORDER_REPLICATE,
                                  flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    return crops


def _generate_chunk(seed: int, split: str, config: SceneConfig, crop_size: int, start: int, stop: int) -> list:
    generator = SceneGenerator(seed, split, config)
    out = []
    for index in range(start, stop):
        scene = generator.scene(index)
        crops, _ = crop_digits(scene, crop_size)
        out.append((scene, crops))
    return out


def generate_split(seed: int, split: str, count: int, config: SceneConfig | None = None, crop_size: int = 32,
                   workers: int = 1) -> dict[str, np.ndarray]:
    """`count` scenes of `split` as arrays (identical for any `workers`):

        images [N, H, W, 3] uint8      boxes [M, 4] float32 x1 y1 x2 y2   labels [M] int64
        image_index [M] int64 (the image each box is in)   colors [M] int64 (index into COLOR_NAMES)
        captions [N] str   backgrounds [N] str   crops [M, S, S, 3] uint8 (one per box, same order)
        scan_index [M] int64 (the load_digits scan drawn for each box)
    """
    config = config or SceneConfig()
    if count < 0:
        raise EdgeRTError(f"scene count must be non-negative, got {count}")
    if crop_size < 4:
        raise EdgeRTError(f"crop size must be at least 4 pixels, got {crop_size}")
    chunk = 64
    ranges = [(start, min(count, start + chunk)) for start in range(0, count, chunk)]
    if workers > 1 and len(ranges) > 1:
        from concurrent.futures import ThreadPoolExecutor

        # Threads, not processes: OpenCV and numpy release the GIL in the pixel work, and a thread
        # needs no second import of the libraries or copy of the background photographs.
        _backgrounds(3 * max(config.size))
        with ThreadPoolExecutor(workers) as pool:
            parts = list(pool.map(lambda r: _generate_chunk(seed, split, config, crop_size, *r), ranges))
    else:
        parts = [_generate_chunk(seed, split, config, crop_size, a, b) for a, b in ranges]
    results = [item for part in parts for item in part]
    height, width = config.size
    scenes = [scene for scene, _ in results]
    boxes = [scene.boxes for scene in scenes]
    return {
        "images": np.stack([s.image for s in scenes]) if scenes else np.zeros((0, height, width, 3), np.uint8),
        "boxes": np.concatenate(boxes).astype(np.float32) if scenes else np.zeros((0, 4), np.float32),
        "labels": np.concatenate([s.labels for s in scenes]).astype(np.int64) if scenes else np.zeros(0, np.int64),
        "image_index": np.concatenate([np.full(len(b), i, np.int64) for i, b in enumerate(boxes)])
        if scenes else np.zeros(0, np.int64),
        "colors": np.asarray([COLOR_NAMES.index(c) for s in scenes for c in s.colors], np.int64),
        "captions": np.asarray([s.caption for s in scenes], dtype=str),
        "backgrounds": np.asarray([s.background for s in scenes], dtype=str),
        "crops": np.concatenate([c for _, c in results]) if results
        else np.zeros((0, crop_size, crop_size, 3), np.uint8),
        "scan_index": np.concatenate([s.scans for s in scenes]).astype(np.int64) if scenes else np.zeros(0, np.int64),
    }
