"""Latency summaries and the noise rule."""
from __future__ import annotations

import numpy as np

# (p90 - p10) / p50 above this means the runs disagree enough that a 1.2x difference could be noise.
NOISY_SPREAD = 0.25


def summarize(ms) -> dict[str, float]:
    t = np.asarray(ms, dtype=np.float64)
    p10, p50, p90, p99 = np.percentile(t, [10, 50, 90, 99])
    return {"mean": float(t.mean()), "std": float(t.std(ddof=1)) if t.size > 1 else 0.0,
            "min": float(t.min()), "p10": float(p10), "p50": float(p50), "p90": float(p90),
            "p99": float(p99), "max": float(t.max())}


def spread(summary: dict[str, float]) -> float:
    return (summary["p90"] - summary["p10"]) / summary["p50"]
