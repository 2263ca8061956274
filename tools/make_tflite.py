"""Convert an ONNX model to .tflite with edgert's converter (no TensorFlow needed).

    python tools/make_tflite.py model.onnx -o model.tflite            # float32 weights
    python tools/make_tflite.py model.onnx -o model_fp16.tflite --fp16
    python tools/make_tflite.py model_qdq.onnx -o model_int8.tflite   # QDQ model -> int8
    python tools/make_tflite.py femtodet_int8.onnx -o femtodet_int8.tflite --batch 1   # N x 3 x H x W input

The .tflite takes NHWC images where the ONNX model takes NCHW ones (4-D outputs are NHWC too).
The file is written atomically and an existing one is only replaced with --force.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile


def write_atomically(path: str, data: bytes) -> None:
    """Write to a temporary file next to `path`, then rename it over `path`."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".make_tflite-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # the permissions a plainly created file gets, not mkstemp's 0600
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Convert an ONNX model to .tflite (NHWC; QDQ models become int8).")
    parser.add_argument("model", help="input .onnx file")
    parser.add_argument("-o", "--output", required=True, help="output .tflite file")
    parser.add_argument("--fp16", action="store_true", help="store float weights as float16")
    parser.add_argument("--batch", type=int, default=None,
                        help="size for a symbolic batch dimension (e.g. 1 for models from `edgert convert`)")
    parser.add_argument("--force", action="store_true", help="replace the output file if it exists")
    args = parser.parse_args(argv)

    if os.path.exists(args.output) and not args.force:
        print(f"error: {args.output} exists (use --force to replace it)", file=sys.stderr)
        return 1
    from edgert.errors import EdgeRTError
    from edgert.exporters.tflite import onnx_to_tflite

    try:
        data = onnx_to_tflite(args.model, weights="fp16" if args.fp16 else "fp32", batch=args.batch)
    except EdgeRTError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    write_atomically(args.output, data)
    print(f"wrote {args.output} ({len(data) / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
