"""`edgert bench`: how fast and how heavy each model is on edgert, onnxruntime and LiteRT.

    edgert bench MODEL... [--backend edgert,onnxruntime,litert|all] [--threads 1,2,4]
                 [--warmup N] [--runs N | --duration S] [--input-shape NAME=1x3x224x224]
                 [--json OUT] [--csv OUT] [--plot OUT.png] [--force] [--profile [--top N]] [--pin CPUS]
    edgert bench --kernels

Per model x backend x threads: load time, first inference, latency statistics, inferences/s,
peak RSS and its growth, file size, and the ratio to the fastest other backend. Fair by
construction: same synthetic inputs and thread count for every backend, warmup first, runs
interleaved round by round, onnxruntime's spinning workers off while interleaved.
"""
from __future__ import annotations

import os
from datetime import datetime, timezone

from edgert.bench.config import SCHEMA_VERSION, BenchConfig, BenchError
from edgert.bench.registry import bundled_models, resolve_model

__all__ = ["main", "run", "BenchConfig", "BenchError", "SCHEMA_VERSION", "bundled_models", "resolve_model"]

BUSY_LOAD_PER_CPU = 0.5  # 1-minute load average per usable CPU above which the machine is busy


def main(args) -> int:
    """Entry point of the `edgert bench` command (an argparse namespace from edgert.cli)."""
    data = run(BenchConfig.from_args(args))
    nothing_timed = data["models"] and not any(r["status"] == "ok" for r in data["results"])
    return 1 if nothing_timed else 0


def machine_warnings(environment: dict, config: BenchConfig) -> list[str]:
    cpu = environment["cpu"]
    process_cpus = len(cpu["usable_cpus"] or []) or cpu["cores"]  # the load average is system-wide
    usable = len(config.pin) if config.pin else process_cpus
    warnings = []
    if cpu["governor"] and cpu["governor"] != ["performance"]:
        warnings.append(f"CPU frequency governor is {'/'.join(cpu['governor'])}: clock changes add noise "
                        "(for stable numbers: sudo cpupower frequency-set -g performance)")
    load = environment["load_average"]
    if load and process_cpus and load[0] > BUSY_LOAD_PER_CPU * process_cpus:
        warnings.append(f"machine busy before the benchmark: 1-minute load average {load[0]:.2f} on {process_cpus} CPUs")
    over = [t for t in config.threads if usable and t > usable]
    if over:
        warnings.append(f"--threads {','.join(map(str, over))} exceeds the {usable} usable CPUs: threads will share cores")
    return warnings


def run(config: BenchConfig) -> dict:
    """Runs what config asks, prints it, writes the requested files; returns the JSON payload."""
    from rich.console import Console
    from rich.markup import escape

    from edgert.bench import environment as env_mod
    from edgert.bench import kernels, report
    from edgert.bench.config import check_outputs
    from edgert.bench.models import ModelBench, check_input_shapes
    from edgert.bench.stats import NOISY_SPREAD

    specs = [resolve_model(m) for m in config.models]
    check_outputs(config, [path for spec in specs for path in spec.files.values()])
    if config.plot_path:
        from edgert.bench.plot import require_matplotlib
        require_matplotlib()
    check_input_shapes(specs, config.input_shapes)
    if config.pin:
        os.sched_setaffinity(0, config.pin)  # before any session starts its threads, which inherit it

    console = Console()
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    environment = env_mod.collect()
    notes: list[str] = []
    warnings = machine_warnings(environment, config)
    report.print_environment(console, environment)

    results, profiles, kernel_rows = [], [], []
    with report.Ticker(Console(stderr=True)) as ticker:
        if specs:
            bench = ModelBench(config, ticker, notes, warnings)
            for spec in specs:
                bench.run(spec)
            results, profiles = bench.results, bench.profiles
        if config.kernels:
            kernel_rows = kernels.run(ticker=ticker)
            noisy = [r for r in kernel_rows if r["spread"] is not None and r["spread"] > NOISY_SPREAD]
            if noisy:
                warnings.append(f"{len(noisy)} of {len(kernel_rows)} kernel timings are noisy (their batches differ "
                                f"by more than {NOISY_SPREAD:.0%}); close other programs or use --pin")

    if specs:
        report.print_results(console, specs, results)
        picks = report.recommendations(specs, results)
        if picks:
            console.print("[bold]What to pick[/]")
            for line in picks:
                console.print(f"  {escape(line)}")
        report.print_profiles(console, profiles, results, config.profile_top)
    if kernel_rows:
        report.print_kernels(console, kernel_rows)
    for note in notes:
        console.print(f"[dim]note: {escape(note)}[/]")
    for warning in warnings:
        console.print(f"[yellow]warning: {escape(warning)}[/]")

    data = report.payload(config, environment, specs, results, profiles, kernel_rows, notes, warnings, started)
    if config.json_path:
        report.write_text(config.json_path, report.to_json(data))
        console.print(f"wrote {escape(config.json_path)}")
    if config.csv_path:
        report.write_text(config.csv_path, report.results_csv(results) if specs else report.kernels_csv(kernel_rows))
        console.print(f"wrote {escape(config.csv_path)}")
    if config.plot_path:
        from edgert.bench import plot
        if specs:
            plot.models_figure(results, environment, config.plot_path)
        else:
            plot.kernels_figure(kernel_rows, environment, config.plot_path)
        console.print(f"wrote {escape(config.plot_path)}")
    return data
