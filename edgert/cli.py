"""The `edgert` command: info, run, bench, quantize, convert, demo, models, vlm."""
from __future__ import annotations

import json
import argparse
import os
import sys
import tempfile
import zipfile

import numpy as np

from edgert.errors import EdgeRTError


def _parse_shape_overrides(items) -> dict[str, tuple]:
    shapes = {}
    for item in items or []:
        name, _, dims = item.partition("=")
        try:
            shapes[name] = tuple(int(d) for d in dims.lower().split("x"))
        except ValueError:
            raise EdgeRTError(f"--shape {item!r}: expected NAME=DxDxD, e.g. images=1x3x224x224") from None
    return shapes


def _concrete_shapes(sess, overrides) -> list[tuple]:
    unknown = sorted(set(overrides) - {t.name for t in sess.inputs})
    if unknown:
        raise EdgeRTError(f"--shape names {unknown}, but the model's inputs are {[t.name for t in sess.inputs]}")
    shapes = []
    for t in sess.inputs:
        if t.name in overrides:
            shapes.append(overrides[t.name])
        elif t.shape is None:
            raise EdgeRTError(f"input '{t.name}' has unknown rank: give --shape {t.name}=...")
        else:
            shapes.append(tuple(d if isinstance(d, int) and d > 0 else 1 for d in t.shape))
    return shapes


def random_feeds(sess, shapes, seed=0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    feeds = {}
    for t, shape in zip(sess.inputs, shapes):
        if np.issubdtype(t.dtype, np.floating):
            feeds[t.name] = rng.standard_normal(shape).astype(t.dtype)
        elif t.dtype == np.bool_:
            feeds[t.name] = rng.integers(0, 2, shape).astype(bool)
        else:
            info = np.iinfo(t.dtype)
            feeds[t.name] = rng.integers(max(info.min, -128), min(info.max, 127), shape).astype(t.dtype)
    return feeds


def cmd_info(args) -> int:
    from rich.console import Console
    from rich.table import Table

    import edgert

    sess = edgert.load(args.model, threads=1, backend="edgert")
    console = Console()
    graph = sess._graph
    console.print(f"[bold]{args.model}[/bold]  opset {sess.opset}")
    io = Table("", "name", "shape", "dtype", title="inputs / outputs")
    for kind, infos in (("input", sess.inputs), ("output", sess.outputs)):
        for t in infos:
            io.add_row(kind, t.name, str(t.shape), str(t.dtype))
    console.print(io)
    params = sum(int(a.size) for a in graph.constants.values()
                 if np.issubdtype(a.dtype, np.floating) or a.dtype == np.int8)
    plan = sess.plan_for(_concrete_shapes(sess, _parse_shape_overrides(args.shape)))
    counts: dict[str, list[int]] = {}
    fallback_nodes = []
    for step in plan.steps:
        if not step.node:
            continue
        label = step.label.split("[")[0]
        entry = counts.setdefault(label, [0, 0])
        entry[0 if step.native else 1] += 1
        if not step.native:
            fallback_nodes.append(f"{step.node} ({step.label})")
    ops = Table("op", "native kernels", "numpy reference", title="steps after fusion")
    for label, (native, ref) in sorted(counts.items(), key=lambda kv: -sum(kv[1])):
        ops.add_row(label, str(native), str(ref))
    console.print(ops)
    macs = sum(s.macs for s in plan.steps)
    console.print(f"parameters: {params:,}   MACs: {macs / 1e6:,.1f} M   "
                  f"arena: {plan.arena_bytes / 2**20:.2f} MiB (without reuse {plan.naive_bytes / 2**20:.2f} MiB)   "
                  f"layout conversions: {sum(1 for s in plan.steps if not s.node)}")
    if fallback_nodes:
        console.print("nodes on the numpy reference path: " + ", ".join(fallback_nodes[:20])
                      + (" ..." if len(fallback_nodes) > 20 else ""))
    int8_steps = sum(1 for s in plan.steps if s.node and s.label.startswith(("QLinear", "QGemm", "QLut")))
    if int8_steps or graph.quant_report:
        console.print(f"int8: {int8_steps} steps on int8 kernels")
    if graph.quant_report:
        fp32 = Table("node", "op", "why it runs in fp32", title="quantized (QDQ) nodes left in fp32")
        for name, op, reason in graph.quant_report:
            fp32.add_row(name, op, reason)
        console.print(fp32)
    return 0


def _save_npz_atomic(path: str, arrays: dict) -> None:
    """np.load-compatible .npz written to a temp file and renamed into place. Members are
    written directly: np.savez would read output names like 'file' as its own arguments."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".edgert-", suffix=".npz", dir=directory)
    except OSError as e:
        raise EdgeRTError(f"cannot write {path}: {e.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as archive:
            for name, array in arrays.items():
                with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, np.asarray(array), allow_pickle=False)
        os.replace(tmp, path)
    except OSError as e:
        os.unlink(tmp)
        raise EdgeRTError(f"cannot write {path}: {e.strerror or e}") from None
    except BaseException:
        os.unlink(tmp)
        raise


def cmd_run(args) -> int:
    import edgert

    if args.save:  # refuse before doing any work
        target = os.path.realpath(args.save)
        if target == os.path.realpath(args.model):
            raise EdgeRTError("--save would overwrite the model")
        for item in args.input or []:
            path = item.partition("=")[2]
            if path and target == os.path.realpath(path):
                raise EdgeRTError(f"--save would overwrite the input file {path}")
        if os.path.exists(args.save) and not args.force:
            raise EdgeRTError(f"{args.save} exists; pass --force to overwrite it")
        if not os.path.isdir(os.path.dirname(os.path.abspath(args.save))):
            raise EdgeRTError(f"--save {args.save}: no such directory")
    sess = edgert.load(args.model, threads=args.threads, backend=args.backend)
    feeds = {}
    for item in args.input or []:
        name, _, path = item.partition("=")
        if not path:
            raise EdgeRTError(f"--input {item!r}: expected NAME=FILE.npy")
        try:
            feeds[name] = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise EdgeRTError(f"--input {name}: cannot read {path}: {e}") from None
    if not feeds:
        feeds = random_feeds(sess, _concrete_shapes(sess, _parse_shape_overrides(args.shape)), args.seed)
    outputs = sess.run(feeds)
    for name, out in outputs.items():
        stats = ""
        if out.size and np.issubdtype(out.dtype, np.number):
            o = out.astype(np.float64)
            stats = f" min {o.min():.5g} max {o.max():.5g} mean {o.mean():.5g}"
            if out.ndim == 2 and out.shape[1] > 1:
                stats += f" argmax {out.argmax(axis=1)[:8].tolist()}"
        print(f"{name}: {out.dtype} {list(out.shape)}{stats}")
    if args.save:
        _save_npz_atomic(args.save, outputs)
        print(f"saved {len(outputs)} outputs to {args.save}")
    return 0


def cmd_demo(args) -> int:
    from edgert.apps.demo import DemoOptions, run_demo

    return run_demo(DemoOptions(task=args.task, source=args.source, model=args.model, headless=args.headless,
                                output=args.output, frames=args.frames, threads=args.threads,
                                backend=args.backend, force=args.force, score_threshold=args.score_threshold))


def cmd_models(args) -> int:
    from edgert.tasks.bundled import bundled_models, model_dirs

    models = bundled_models()
    if args.json:
        print(json.dumps([m.summary() for m in models], indent=2))
        return 0
    if not models:
        print(f"no bundled models (looked in {', '.join(map(str, model_dirs())) or 'no models folder'})")
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table("name", "task", "input", "files", "metrics (mAP@0.5 / top-1)")
    for m in models:
        info = m.summary()
        files = ", ".join(f"{k} {v / 1e6:.2f} MB" for k, v in info["size_bytes"].items())
        # One headline number per measured variant: the first value of each metrics entry.
        metrics = "\n".join(f"{k}: {next(iter(v.values())) if isinstance(v, dict) else v:.3f}"
                             for k, v in m.metrics.items())
        table.add_row(m.name, m.task, "x".join(map(str, info["input_shape"] or [])), files, metrics)
    Console().print(table)
    return 0


def cmd_vlm(args) -> int:
    """Streams the VLM's answer about one image to stdout."""
    import cv2

    from edgert.tasks.vlm import VLM

    if not os.path.isfile(args.image):
        raise EdgeRTError(f"--image {args.image}: no such file")
    image = cv2.imread(args.image, cv2.IMREAD_COLOR)
    if image is None:
        raise EdgeRTError(f"--image {args.image}: not an image OpenCV can read")
    vlm = VLM.load(args.model, threads=args.threads, quantize=args.quantize)
    stream = vlm.generate(image, args.prompt, max_new_tokens=args.max_new_tokens, temperature=args.temperature,
                          top_k=args.top_k, top_p=args.top_p, seed=args.seed, stream=True, color="BGR")
    for tok in stream:
        sys.stdout.write(tok.text)
        sys.stdout.flush()
    sys.stdout.write("\n")
    if args.stats:
        st = stream.stats
        print(f"image tokens {st.image_tokens}, prompt tokens {st.prompt_tokens}, new tokens {st.new_tokens}; "
              f"vision {st.vision_ms:.1f} ms, prefill {st.prefill_ms:.1f} ms, {st.tokens_per_s:.1f} tokens/s; "
              f"state {st.state_bytes} bytes; stop: {st.stop_reason}", file=sys.stderr)
    return 0


def cmd_bench(args) -> int:
    import edgert.bench

    return edgert.bench.main(args)


def cmd_quantize(args) -> int:
    from edgert.tools.images import parse_channel_values, parse_size
    from edgert.tools.quantize import print_report, quantize_onnx

    report = quantize_onnx(
        args.model, args.output, calibration=args.calib if args.calib is not None else args.calib_random,
        per_channel=args.per_channel, method=args.method, exclude=args.exclude or (),
        mean=parse_channel_values(args.mean, "--mean") if args.mean else None,
        std=parse_channel_values(args.std, "--std") if args.std else None,
        size=parse_size(args.size) if args.size else None, layout=args.layout, bgr=args.bgr,
        force=args.force, seed=args.seed, progress=sys.stdout.isatty())
    print_report(report)
    return 0


def cmd_convert(args) -> int:
    from edgert.zoo.convert import parse_input_size
    from edgert.zoo.convert import convert as convert_checkpoint

    result = convert_checkpoint(args.model, args.checkpoint, args.output, num_classes=args.num_classes,
                                input_size=parse_input_size(args.input_size) if args.input_size else None,
                                portable=args.portable, force=args.force, quantize=args.quantize, calib=args.calib)
    if result.quantize_report is not None:
        from edgert.tools.quantize import print_report

        print_report(result.quantize_report)
    height, width = result.input_size
    print(f"wrote {result.path}: {result.model}, input images [N, 3, {height}, {width}], {result.num_classes} classes")
    for name, shape in result.outputs.items():
        print(f"  output {name}: {shape}")
    for note in result.notes:
        print(f"  note: {note}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    import edgert

    parser = argparse.ArgumentParser(prog="edgert", description="Fast inference for vision models on edge CPUs.")
    parser.add_argument("--version", action="version", version=f"edgert {edgert.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("info", help="inputs, outputs, ops (native vs reference), params, MACs")
    p.add_argument("model")
    p.add_argument("--shape", action="append", metavar="NAME=DxD...", help="concrete shape for a symbolic input")
    p.set_defaults(fn=cmd_info)

    p = sub.add_parser("run", help="run a model once on given or random inputs")
    p.add_argument("model")
    p.add_argument("--input", action="append", metavar="NAME=FILE.npy")
    p.add_argument("--shape", action="append", metavar="NAME=DxD...", help="shape for random inputs")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--backend", default="edgert", choices=edgert.BACKENDS)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save", metavar="OUT.npz", help="write all outputs (atomically)")
    p.add_argument("--force", action="store_true", help="overwrite an existing --save file")
    p.set_defaults(fn=cmd_run)

    p = sub.add_parser("bench", help="latency, load time and memory on edgert, onnxruntime and LiteRT; kernel speeds")
    p.add_argument("models", nargs="*", metavar="MODEL", help=".onnx / .tflite file or bundled model name")
    p.add_argument("--backend", default="all", help="comma-separated edgert,onnxruntime,litert, or all (default)")
    p.add_argument("--threads", metavar="N,N", help="thread counts to compare (default: 1 and all cores)")
    p.add_argument("--warmup", type=int, default=5, help="untimed runs per backend first (default 5)")
    timing = p.add_mutually_exclusive_group()
    timing.add_argument("--runs", type=int, help="timed runs per backend (default 50)")
    timing.add_argument("--duration", type=float, metavar="S", help="time each model and thread count for S seconds")
    p.add_argument("--input-shape", action="append", metavar="NAME=DxD...", help="shape for a dynamic input")
    p.add_argument("--json", metavar="OUT.json", help="write every number and the environment")
    p.add_argument("--csv", metavar="OUT.csv", help="one row per model x backend x threads (kernel rows with only --kernels)")
    p.add_argument("--plot", metavar="OUT.png", help="latency chart (kernel chart with only --kernels); needs matplotlib")
    p.add_argument("--force", action="store_true", help="overwrite existing output files")
    p.add_argument("--profile", action="store_true", help="time every fused edgert step")
    p.add_argument("--top", type=int, default=10, help="steps shown per --profile table (default 10)")
    p.add_argument("--pin", metavar="CPUS", help="run on these CPUs only, e.g. 2,3 or 0-3")
    p.add_argument("--kernels", action="store_true", help="microbenchmark every kernel variant")
    p.set_defaults(fn=cmd_bench)

    p = sub.add_parser("quantize", help="int8 QDQ quantization of an ONNX model, calibrated on images or random inputs",
                       description="Calibrates activation ranges with onnxruntime.quantization and writes an int8 "
                                   "QDQ model (int8 weights and activations), then compares it with the fp32 model "
                                   "on held-out inputs. Needs the 'quantize' extra (pip install 'edgert[quantize]'). "
                                   "Single-file models under 2 GB.")
    p.add_argument("model", metavar="MODEL.onnx")
    p.add_argument("-o", "--output", required=True, metavar="OUT.onnx", help="int8 model to write (atomically)")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--calib", metavar="DIR", help="folder of calibration images (models with one image input)")
    source.add_argument("--calib-random", type=int, metavar="N", help="calibrate on N seeded random inputs")
    granularity = p.add_mutually_exclusive_group()
    granularity.add_argument("--per-channel", dest="per_channel", action="store_true", default=True,
                             help="one weight scale per output channel (default)")
    granularity.add_argument("--per-tensor", dest="per_channel", action="store_false",
                             help="one weight scale per weight tensor")
    p.add_argument("--mean", metavar="R,G,B", help="per-channel mean subtracted from [0,1] pixels (default 0)")
    p.add_argument("--std", metavar="R,G,B", help="per-channel std the pixels are divided by (default 1)")
    p.add_argument("--size", metavar="HxW", help="image size for inputs with a symbolic height/width")
    p.add_argument("--layout", choices=("nchw", "nhwc"), default="nchw", help="image input layout (default nchw)")
    p.add_argument("--bgr", action="store_true", help="feed channels in BGR order (default RGB)")
    p.add_argument("--method", choices=("minmax", "entropy", "percentile"), default="minmax",
                   help="activation range calibration (default minmax)")
    p.add_argument("--exclude", nargs="+", action="extend", metavar="NODE", help="node names to keep in float")
    p.add_argument("--force", action="store_true", help="overwrite an existing OUT.onnx")
    p.add_argument("--seed", type=int, default=0, help="seed of --calib-random inputs (default 0)")
    p.set_defaults(fn=cmd_quantize)

    from edgert.zoo import MODELS

    p = sub.add_parser("convert", help="official LSNet / FemtoDet PyTorch checkpoint -> ONNX (needs torch)",
                       description="Loads an official checkpoint with strict key and shape checks, folds BatchNorm "
                                   "and re-parameterisable branches, and writes ONNX (opset 18). LSNet's SKA becomes "
                                   "one ai.edgert SKA node, or standard ONNX ops with --portable.")
    p.add_argument("model", choices=list(MODELS))
    p.add_argument("checkpoint", metavar="CKPT", help=".pth/.pt (state_dict, {'model': ...} or mmdet) or .safetensors")
    p.add_argument("-o", "--output", required=True, metavar="OUT.onnx", help="ONNX file to write (atomically)")
    p.add_argument("--num-classes", type=int, metavar="N", help="expected classes; an error if the checkpoint differs")
    p.add_argument("--input-size", metavar="HxW", help="input height x width (default: the official test size)")
    p.add_argument("--portable", action="store_true",
                   help="SKA as standard ONNX ops, so onnxruntime and other runtimes run the model")
    p.add_argument("--force", action="store_true", help="overwrite an existing OUT.onnx")
    p.add_argument("--quantize", action="store_true", help="write an int8 QDQ model calibrated on --calib images")
    p.add_argument("--calib", metavar="DIR", help="calibration images for --quantize")
    p.set_defaults(fn=cmd_convert)

    p = sub.add_parser("demo", help="live camera demo: detection (default), classification; headless on the "
                                    "bundled sample video when there is no camera or display")
    p.add_argument("task", nargs="?", default="detect", choices=("detect", "classify", "vlm"))
    p.add_argument("--source", help="camera index (0), /dev/videoN, a video file, an image folder, or 'sample' "
                                    "(default: camera 0, else the bundled sample)")
    p.add_argument("--model", help="bundled model name (edgert models) or a .onnx path")
    p.add_argument("--headless", action="store_true", help="no window: print a line per second, write a video")
    p.add_argument("--output", metavar="OUT.mp4", help="annotated video (headless default: edgert-demo-TIME.mp4)")
    p.add_argument("--frames", type=int, help="stop after N frames")
    p.add_argument("--threads", type=int, help="inference threads (default: all cores)")
    p.add_argument("--backend", default="edgert", choices=("edgert", "onnxruntime", "auto"))
    p.add_argument("--score-threshold", type=float, default=0.3, help="detection score threshold (default 0.3)")
    p.add_argument("--force", action="store_true", help="overwrite an existing --output")
    p.set_defaults(fn=cmd_demo)

    p = sub.add_parser("models", help="the trained models bundled with edgert")
    p.add_argument("--json", action="store_true", help="name, task, path, input shape, sizes, metrics as JSON")
    p.set_defaults(fn=cmd_models)

    p = sub.add_parser("vlm", help="describe an image (or answer a question about it) with the bundled VLM")
    p.add_argument("--image", required=True, help="image file")
    p.add_argument("--prompt", default="", help="question; empty (default) asks for a caption")
    p.add_argument("--model", help="bundled VLM name, its .json card or a model folder (default: the bundled one)")
    p.add_argument("--max-new-tokens", type=int, default=48)
    p.add_argument("--temperature", type=float, default=0.0, help="0 (default) is greedy")
    p.add_argument("--top-k", type=int, default=0)
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--seed", type=int)
    p.add_argument("--quantize", choices=("fp32", "int8", "q4"), help="default fp32")
    p.add_argument("--threads", type=int, help="inference threads (default: all cores)")
    p.add_argument("--stats", action="store_true", help="print prefill time, tokens/s and state size to stderr")
    p.set_defaults(fn=cmd_vlm)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.fn(args)
    except EdgeRTError as e:
        print(f"edgert: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
