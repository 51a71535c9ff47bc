"""Plots for the reports (matplotlib, headless): latency per stage and thread count, and size per stage."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

__all__ = ["latency_size_plot", "sensitivity_plot"]


def _save_png(fig: Any, path: Path) -> str:
    """Write the figure as a PNG to ``path`` (for report.md) and return it base64-encoded (for report.html)."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    data = buffer.getvalue()
    path.write_bytes(data)
    return base64.b64encode(data).decode()


def latency_size_plot(results: dict[str, Any], path: Path) -> str:
    """Write a PNG to ``path``; returns it base64-encoded for inlining into the HTML report."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = results["stages"]
    names = [stage["name"] for stage in stages]
    threads = sorted({row["threads"] for stage in stages for row in stage["latency"]})
    fig, (ax_lat, ax_size) = plt.subplots(1, 2, figsize=(10, 3.6), dpi=110)
    width = 0.8 / max(1, len(threads))
    for offset, count in enumerate(threads):
        medians, errors = [], []
        for stage in stages:
            row = next((r for r in stage["latency"] if r["threads"] == count), None)
            medians.append(row["median_ms"] if row else 0.0)
            errors.append((row["p90_ms"] - row["median_ms"]) if row and "p90_ms" in row else 0.0)
        xs = [i + (offset - (len(threads) - 1) / 2) * width for i in range(len(stages))]
        ax_lat.bar(xs, medians, width, yerr=[[0] * len(errors), errors], capsize=3, label=f"{count} thread(s)")
    ax_lat.set_xticks(range(len(stages)), names)
    ax_lat.set_ylabel("latency, ms (bar: median, whisker: p90 if measured)")
    ax_lat.set_title(f"Latency ({stages[0]['latency'][0]['source'] if stages[0]['latency'] else ''})")
    ax_lat.legend()
    ax_size.bar(names, [stage["size_bytes"] / 1e3 for stage in stages], color="tab:gray")
    ax_size.set_ylabel("size on disk, KB (10^3 bytes)")
    ax_size.set_title("Model size")
    return _save_png(fig, path)


def sensitivity_plot(sensitivities: dict[str, dict[str, float]], path: Path) -> str:
    """Accuracy loss per layer against the pruned ratio; writes a PNG, returns it base64-encoded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    for layer, curve in sensitivities.items():
        points = sorted((float(r), float(loss)) for r, loss in curve.items())
        ax.plot([r for r, _ in points], [loss * 100 for _, loss in points], marker="o", ms=3, label=layer)
    ax.set_xlabel("fraction of the layer's filters removed")
    ax.set_ylabel("top-1 loss, points")
    ax.set_title("Sensitivity per convolution")
    if len(sensitivities) <= 16:
        ax.legend(fontsize=7, ncol=2)
    return _save_png(fig, path)
