"""--plot: one figure a reader gets at a glance. matplotlib is optional; without it --plot is
refused before any benchmark runs."""
from __future__ import annotations

from edgert.bench.config import BenchError

BACKEND_COLORS = {"edgert": "#e4572e", "onnxruntime": "#2e86ab", "litert": "#76b041"}
SCALAR_COLOR, SIMD_COLOR, PICKED_COLOR = "#b0b0b0", "#9ecae1", "#e4572e"


def require_matplotlib():
    try:
        import matplotlib
    except ImportError:
        raise BenchError("--plot needs matplotlib, which is not installed (pip install matplotlib)") from None
    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt
    return plt


def _machine(environment: dict) -> str:
    cpu = environment["cpu"]
    board = f"{cpu['board']}, " if cpu["board"] else ""
    return f"{board}{cpu['model']}, {cpu['cores']} cores, edgert kernels: {environment['edgert_kernels']['isa']}"


def models_figure(results, environment: dict, path: str) -> None:
    """p50 latency per model: thread counts along x, one bar per backend, whiskers min..p90."""
    plt = require_matplotlib()
    models = list(dict.fromkeys(r.model for r in results if r.ok))
    if not models:
        raise BenchError("--plot: no backend produced a timing to draw")
    cols = min(len(models), 3)
    rows = -(-len(models) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(max(4.6 * cols, 6.5), 4.2 * rows), squeeze=False,
                             constrained_layout=True)
    backends = [b for b in BACKEND_COLORS if any(r.ok and r.backend == b for r in results)]
    width = 0.8 / len(backends)
    for ax, model in zip(axes.flat, models):
        ok = [r for r in results if r.ok and r.model == model]
        threads = sorted({r.threads for r in ok})
        for b_index, backend in enumerate(backends):
            for t_index, t in enumerate(threads):
                r = next((r for r in ok if r.backend == backend and r.threads == t), None)
                if r is None:
                    continue
                lat = r.latency_ms
                x = t_index + (b_index - (len(backends) - 1) / 2) * width
                ax.bar(x, lat["p50"], width * 0.92, color=BACKEND_COLORS[backend],
                       label=backend if t_index == 0 else None,
                       yerr=[[lat["p50"] - lat["min"]], [lat["p90"] - lat["p50"]]],
                       error_kw={"elinewidth": 1, "capsize": 3, "ecolor": "#333333"})
                ax.annotate(f"{lat['p50']:.1f}", (x, lat["p90"]), xytext=(0, 3), textcoords="offset points",
                            ha="center", va="bottom", fontsize=8)
        best = min(ok, key=lambda r: r.latency_ms["p50"])
        ax.set_title(f"{model}\nfastest: {best.backend}, {best.threads} thr, {best.latency_ms['p50']:.1f} ms",
                     fontsize=10)
        ax.set_xticks(range(len(threads)), [f"{t} thread{'s' if t > 1 else ''}" for t in threads])
        ax.set_ylabel("latency, ms (p50)")
        ax.set_ylim(0, max(r.latency_ms["p90"] for r in ok) * 1.18)
        ax.grid(axis="y", alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
    for ax in list(axes.flat)[len(models):]:
        ax.set_visible(False)
    fig.suptitle(f"Inference latency, lower is better (bars: median, whiskers: min to p90)\n{_machine(environment)}",
                 fontsize=11)
    # below the panels, where it can cover no bar; bbox_inches="tight" in _save keeps it in the file
    fig.legend(*axes.flat[0].get_legend_handles_labels(), loc="upper center", bbox_to_anchor=(0.5, 0),
               ncol=len(backends), frameon=False)
    _save(fig, plt, path)


def kernels_figure(rows: list[dict], environment: dict, path: str) -> None:
    """Throughput of each kernel group: compute-bound (GMAC/s) and memory-bound (GB/s) panels."""
    plt = require_matplotlib()
    timed = [r for r in rows if r["median_s"]]
    if not timed:
        raise BenchError("--plot: no kernel variant could be timed")
    panels = [(unit, [r for r in timed if r["unit"] == unit]) for unit in ("GMAC/s", "GB/s")]
    panels = [(unit, rs) for unit, rs in panels if rs]
    groups = {unit: list(dict.fromkeys((r["operation"], r["case"]) for r in rs)) for unit, rs in panels}
    height = max(len(g) for g in groups.values()) * 0.32 + 1.6
    fig, axes = plt.subplots(1, len(panels), figsize=(7 * len(panels), height), squeeze=False,
                             constrained_layout=True)
    for ax, (unit, rs) in zip(axes.flat, panels):
        labels = []
        for g_index, key in enumerate(groups[unit]):
            members = [r for r in rs if (r["operation"], r["case"]) == key]
            bar_h = 0.8 / len(members)
            for m_index, r in enumerate(members):
                color = PICKED_COLOR if r["dispatched"] else SCALAR_COLOR if r["isa"] == "scalar" else SIMD_COLOR
                y = g_index + (m_index - (len(members) - 1) / 2) * bar_h
                ax.barh(y, r["throughput"], bar_h * 0.9, color=color)
                ax.annotate(f"{r['throughput']:.1f}", (r["throughput"], y), xytext=(2, 0),
                            textcoords="offset points", va="center", fontsize=6)
            labels.append(f"{key[0].removeprefix('f32_')}  {key[1]}")
        ax.set_yticks(range(len(labels)), labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel(f"{unit}, higher is better")
        ax.grid(axis="x", alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in (PICKED_COLOR, SIMD_COLOR, SCALAR_COLOR)]
    fig.legend(handles, ["picked by dispatch", "other SIMD variant", "scalar reference"], loc="upper center",
               bbox_to_anchor=(0.5, 0), ncol=3, frameon=False)
    fig.suptitle(f"edgert kernel variants, one thread\n{_machine(environment)}", fontsize=11)
    _save(fig, plt, path)


def _save(fig, plt, path: str) -> None:
    from edgert.bench.report import atomic_output

    fmt = path.rsplit(".", 1)[-1].lower()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=130, bbox_inches="tight", pad_inches=0.15)
    plt.close(fig)
