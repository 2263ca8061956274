"""What the training recipes of the bundled image models (tools/train_femtodet.py, tools/train_lsnet.py)
share: their command line, the refusal to overwrite outputs, deterministic torch, the learning-rate
schedule and int8 calibration on images. torch is passed in or imported by the caller (tools extra)."""
from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np

from edgert.errors import EdgeRTError


def recipe_parser(description: str, *, name: str, size: int, train: int, val: int, epochs: int, batch: int,
                  lr: float, calib: int, train_help: str, calib_help: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--out", default="models", help="output folder (default models/)")
    p.add_argument("--name", default=name)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", type=int, default=size, help="square input side in pixels (multiple of 32)")
    p.add_argument("--train", type=int, default=train, help=train_help)
    p.add_argument("--val", type=int, default=val, help="held-out scenes (the 'val' split) for the metrics")
    p.add_argument("--epochs", type=int, default=epochs)
    p.add_argument("--batch", type=int, default=batch)
    p.add_argument("--lr", type=float, default=lr)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--calib", type=int, default=calib, help=calib_help)
    p.add_argument("--force", action="store_true", help="overwrite existing outputs")
    return p


def parse_recipe_args(p: argparse.ArgumentParser, argv=None) -> argparse.Namespace:
    args = p.parse_args(argv)
    if args.size % 32 or args.size < 64:
        p.error("--size must be a multiple of 32, at least 64")
    if min(args.train, args.val, args.epochs, args.batch, args.threads, args.calib) < 1:
        p.error("--train, --val, --epochs, --batch, --threads and --calib must be positive")
    return args


def check_outputs(args, model_paths: dict[str, str]) -> None:
    """Refuse to overwrite the model files or the card (NAME.json / NAME.md) unless --force."""
    card = [os.path.join(args.out, f"{args.name}.{e}") for e in ("json", "md")]
    existing = [p for p in list(model_paths.values()) + card if os.path.exists(p)]
    if existing and not args.force:
        raise EdgeRTError(f"{', '.join(existing)} exist; pass --force to overwrite")


def deterministic_torch(torch, seed: int, threads: int) -> None:
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)


def warmup_cosine(torch, optimizer, total_steps: int, warmup: int):
    """Linear warm-up over `warmup` steps, then cosine decay to 0 at `total_steps`."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / max(1, warmup)) * 0.5 * (
        1 + np.cos(np.pi * min(1.0, s / total_steps))))


def quantize_on_images(fp32_path: str, int8_path: str, images_rgb, *, mean, std, size: int, seed: int):
    """int8 QDQ of `fp32_path` (edgert.tools.quantize) calibrated on these uint8 RGB images."""
    import cv2

    from edgert.tools.quantize import quantize_onnx

    with tempfile.TemporaryDirectory() as calib_dir:
        for i, image in enumerate(images_rgb):
            cv2.imwrite(os.path.join(calib_dir, f"{i:05d}.png"), image[:, :, ::-1])
        return quantize_onnx(fp32_path, int8_path, calib_dir, mean=mean, std=std, size=(size, size), force=True,
                             seed=seed, progress=True)


def run_epochs(torch, model, optimizer, schedule, *, epochs: int, steps_per_epoch: int, clip: float,
               losses) -> tuple[list[float], float]:
    """The training loop: `losses(epoch)` yields one loss tensor per step of that epoch (it builds the
    batches); each is back-propagated with gradients clipped to norm `clip`, then the optimizer and the
    schedule step. A progress bar, and a line per epoch. Returns (mean loss per epoch, seconds)."""
    import time

    from rich.progress import Progress

    history = []
    started = time.time()
    with Progress() as progress:
        task = progress.add_task("training", total=steps_per_epoch * epochs)
        for epoch in range(epochs):
            model.train()
            epoch_loss = []
            for loss in losses(epoch):
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
                optimizer.step()
                schedule.step()
                epoch_loss.append(loss.item())
                progress.update(task, advance=1, description=f"epoch {epoch + 1}/{epochs} loss {loss:.3f}")
            history.append(float(np.mean(epoch_loss)))
            print(f"epoch {epoch + 1}: mean loss {history[-1]:.4f} ({time.time() - started:.0f} s)", flush=True)
    return history, time.time() - started
