"""What `edgert bench` shows and writes: rich tables, the pick, JSON and CSV."""
from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from contextlib import contextmanager
from dataclasses import asdict

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from edgert.bench.config import SCHEMA_VERSION

MB = 2**20


class Ticker:
    """One progress bar on stderr, retitled for each phase; silent when stderr is not a terminal."""

    def __init__(self, console: Console):
        self._progress = Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                                  TimeElapsedColumn(), console=console, transient=True,
                                  disable=not console.is_terminal)
        self._task = None

    def __enter__(self):
        self._progress.start()
        self._task = self._progress.add_task("", total=None)
        return self

    def __exit__(self, *exc):
        self._progress.stop()

    def begin(self, description: str, total) -> None:
        self._progress.reset(self._task, description=description, total=total, completed=0)

    def advance(self, steps: float) -> None:
        self._progress.advance(self._task, steps)

    def update(self, completed: float) -> None:
        self._progress.update(self._task, completed=completed)


@contextmanager
def atomic_output(path: str):
    """Yields a temporary path beside `path`; it replaces `path` only if the block succeeds, so a
    failed or interrupted write never leaves a truncated file."""
    directory = os.path.dirname(os.path.abspath(path))
    suffix = os.path.splitext(path)[1]
    fd, tmp = tempfile.mkstemp(prefix=".edgert-bench-", suffix=suffix, dir=directory)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would make the result private
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_text(path: str, text: str) -> None:
    with atomic_output(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(text)


# ------------------------------------------------------------------------------ JSON / CSV

def payload(config, environment, specs, results, profiles, kernel_rows, notes, warnings, started) -> dict:
    return {
        "schema": "edgert.bench",
        "schema_version": SCHEMA_VERSION,
        "created_utc": started,
        "environment": environment,
        "settings": {
            "backends": list(config.backends), "threads": list(config.threads), "warmup": config.warmup,
            "runs": config.runs, "duration_s": config.duration,
            "input_shapes": {k: list(v) for k, v in config.input_shapes.items()},
            "pin": list(config.pin) if config.pin else None, "input_seed": config.seed,
            "interleaved": True,  # every round runs each backend once; the starting backend rotates
            "onnxruntime_spinning_when_interleaved": False,
            "gc_disabled_while_timing": True,
            "memory": "per backend, in a fresh process: baseline = RSS once the backend is imported, "
                      "peak = while loading the model and running it once, growth = peak - baseline",
        },
        "models": [{"name": s.name, "files": {fmt: str(p) for fmt, p in s.files.items()}} for s in specs],
        "results": [asdict(r) for r in results],
        "profiles": profiles,
        "kernels": kernel_rows,
        "notes": notes,
        "warnings": warnings,
    }


def to_json(data: dict) -> str:
    return json.dumps(data, indent=2, sort_keys=False) + "\n"


RESULT_COLUMNS = ["model", "backend", "threads", "status", "message", "file", "file_bytes", "options",
                  "init_ms", "first_ms", "runs", "mean_ms", "std_ms", "min_ms", "p10_ms", "p50_ms",
                  "p90_ms", "p99_ms", "max_ms", "inferences_per_s", "baseline_rss_bytes", "peak_rss_bytes",
                  "rss_growth_bytes", "fastest_other", "ratio_to_fastest_other"]
KERNEL_COLUMNS = ["kind", "operation", "case", "variant", "isa", "runnable", "dispatched", "median_s",
                  "best_s", "throughput", "unit", "speedup_vs_scalar", "spread"]


def results_csv(results) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, RESULT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in results:
        row = {k: v for k, v in asdict(r).items() if k in RESULT_COLUMNS}
        row["options"] = json.dumps(r.options, sort_keys=True) if r.options else ""
        for stat, value in (r.latency_ms or {}).items():
            row[f"{stat}_ms"] = value
        writer.writerow(row)
    return out.getvalue()


def kernels_csv(rows) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, KERNEL_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


# ------------------------------------------------------------------------------ terminal

def _ms(value) -> str:
    return "" if value is None else f"{value:.2f}" if value < 100 else f"{value:.0f}"


def _mb(value) -> str:
    return "" if value is None else f"{value / MB:.1f}"


def _versus(result) -> str:
    ratio = result.ratio_to_fastest_other
    if ratio is None:
        return ""
    if abs(ratio - 1) < 0.005:
        return f"as fast as {result.fastest_other}"
    if ratio < 1:
        return f"[green]{1 / ratio:.2f}x faster[/] than {result.fastest_other}"
    return f"[red]{ratio:.2f}x slower[/] than {result.fastest_other}"


def print_environment(console: Console, env: dict) -> None:
    cpu, kernels, versions = env["cpu"], env["edgert_kernels"], env["versions"]
    features = ", ".join(name for name, present in cpu["features"].items() if present) or "none"
    board = f"{cpu['board']} · " if cpu["board"] else ""
    governor = "/".join(cpu["governor"]) if cpu["governor"] else "n/a"
    console.print(f"[bold]{escape(board + cpu['model'])}[/] · {cpu['machine']} · {cpu['cores']} cores · "
                  f"features: {features} · governor: {escape(governor)}")
    peers = " · ".join(f"{name} {versions[name]}" for name in ("onnxruntime", "ai-edge-litert", "tflite-runtime")
                       if versions.get(name))
    names = ", ".join(kernels[k] for k in ("isa", "gemm", "qs8_gemm", "qs8_dwconv", "qs8_conv_stem") if kernels.get(k))  # older JSON lacks the qs8 names
    console.print(f"edgert {versions['edgert']} (kernels: {names}) · "
                  f"Python {versions['python']} · numpy {versions['numpy']}" + (f" · {peers}" if peers else ""))


def print_results(console: Console, specs, results) -> None:
    for spec in specs:
        rows = [r for r in results if r.model == spec.name and r.ok]
        if not rows:
            continue
        best = min(rows, key=lambda r: r.latency_ms["p50"])
        sizes = ", ".join(f"{fmt} {p.stat().st_size / MB:.1f} MB" for fmt, p in spec.files.items())
        table = Table(title=f"[bold]{escape(spec.name)}[/] ({sizes}) · times in ms", title_justify="left",
                      caption="load and 1st run: fresh process · peak MB: its RSS peak while loading and "
                              "running once · +MB: growth over its baseline", caption_justify="left")
        for heading in ("backend", "thr", "load", "1st run", "p50", "mean ± std", "min", "p90", "p99",
                        "max", "inf/s", "peak MB", "+MB"):
            table.add_column(heading, justify="left" if heading == "backend" else "right")
        table.add_column("p50 vs fastest other", no_wrap=True)
        for r in rows:
            lat = r.latency_ms
            p50 = f"[bold green]{_ms(lat['p50'])}[/]" if r is best else _ms(lat["p50"])
            table.add_row(r.backend, str(r.threads), _ms(r.init_ms), _ms(r.first_ms), p50,
                          f"{_ms(lat['mean'])} ± {_ms(lat['std'])}", _ms(lat["min"]), _ms(lat["p90"]),
                          _ms(lat["p99"]), _ms(lat["max"]), f"{r.inferences_per_s:.1f}",
                          _mb(r.peak_rss_bytes), _mb(r.rss_growth_bytes), _versus(r))
        console.print(table)
    for r in results:
        if r.status == "error":
            console.print(f"[red]{escape(f'{r.model} · {r.backend} · {r.threads} thr: {r.message}')}[/]")


def recommendations(specs, results) -> list[str]:
    """Per model: the fastest backend x threads, by how much, and the lightest backend."""
    lines = []
    for spec in specs:
        rows = [r for r in results if r.model == spec.name and r.ok]
        if not rows:
            continue
        best = min(rows, key=lambda r: r.latency_ms["p50"])
        line = (f"{spec.name}: {best.backend} with {best.threads} thread{'s' if best.threads > 1 else ''}, "
                f"{best.latency_ms['p50']:.2f} ms p50 ({best.inferences_per_s:.1f} inferences/s)")
        if best.ratio_to_fastest_other is not None:
            line += f", {1 / best.ratio_to_fastest_other:.2f}x faster than {best.fastest_other} at the same threads"
        measured = [r for r in rows if r.rss_growth_bytes is not None]
        if measured:
            light = min(measured, key=lambda r: r.rss_growth_bytes)
            line += f"; least memory: {light.backend} (+{light.rss_growth_bytes / MB:.1f} MB)"
        lines.append(line)
    return lines


def print_profiles(console: Console, profiles: list[dict], results, top: int) -> None:
    for prof in profiles:
        p50 = next((r.latency_ms["p50"] for r in results if r.ok and r.backend == "edgert"
                    and r.model == prof["model"] and r.threads == prof["threads"]), None)
        title = (f"[bold]{escape(prof['model'])}[/] · edgert · {prof['threads']} thr · top {top} of {len(prof['steps'])} steps "
                 f"(median of {prof['runs']} runs; steps sum {prof['steps_total_ms']:.2f} ms"
                 + (f", run p50 {p50:.2f} ms" if p50 is not None else "") + ")")
        console.print(title)
        table = Table()
        for heading in ("#", "step", "node", "ms", "%", "MMAC", "GMAC/s"):
            table.add_column(heading, justify="left" if heading in ("step", "node") else "right")
        for step in prof["steps"][:top]:
            label = escape(step["label"]) + ("" if step["native"] else " [yellow](numpy)[/]")
            table.add_row(str(step["index"]), label, escape(step["node"]) or "(layout)", f"{step['ms']:.3f}",
                          f"{100 * step['share']:.1f}", f"{step['macs'] / 1e6:.1f}" if step["macs"] else "",
                          f"{step['gmac_per_s']:.1f}" if step["gmac_per_s"] else "")
        rest = prof["steps"][top:]
        if rest:
            table.add_row("", f"{len(rest)} other steps", "", f"{sum(s['ms'] for s in rest):.3f}",
                          f"{100 * sum(s['share'] for s in rest):.1f}", "", "")
        console.print(table)


def print_kernels(console: Console, rows: list[dict]) -> None:
    table = Table(title="[bold]kernel variants[/] · single thread · [green]*[/] = what dispatch picks on this CPU",
                  title_justify="left")
    for heading in ("operation", "case", "variant", "µs", "throughput", "vs scalar"):
        table.add_column(heading, justify="right" if heading in ("µs", "throughput", "vs scalar") else "left")
    previous = None
    for r in rows:
        key = (r["operation"], r["case"])
        if previous is not None and key != previous:
            table.add_section()
        operation, case = (r["operation"], r["case"]) if key != previous else ("", "")
        previous = key
        name = f"[green]* {r['variant']}[/]" if r["dispatched"] else f"  {r['variant']}"
        if not r["runnable"]:
            table.add_row(operation, case, name, "", "[dim]cannot run on this CPU[/]", "")
            continue
        speed = f"{r['speedup_vs_scalar']:.1f}x" if r["speedup_vs_scalar"] and r["isa"] != "scalar" else ""
        table.add_row(operation, case, name, f"{r['median_s'] * 1e6:.1f}",
                      f"{r['throughput']:.1f} {r['unit']}", speed)
    console.print(table)
