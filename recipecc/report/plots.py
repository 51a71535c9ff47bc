"""Plots for the reports (matplotlib, headless): latency per stage and thread count, and size per stage."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["latency_size_plot", "pareto_plot", "sensitivity_plot"]


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


def sensitivity_plot(sensitivities: dict[str, dict[str, float]], path: Path, metric: str = "top1") -> str:
    """Loss of the task's metric per layer against the pruned ratio; writes a PNG, returns it base64-encoded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    for layer, curve in sensitivities.items():
        points = sorted((float(r), float(loss)) for r, loss in curve.items())
        ax.plot([r for r, _ in points], [loss * 100 for _, loss in points], marker="o", ms=3, label=layer)
    ax.set_xlabel("fraction of the layer's filters removed")
    ax.set_ylabel(f"{metric} loss, points")
    ax.set_title("Sensitivity per convolution")
    if len(sensitivities) <= 16:
        ax.legend(fontsize=7, ncol=2)
    return _save_png(fig, path)


def pareto_plot(summary: dict[str, Any], path: Path) -> str:
    """A sweep's jobs as quality-vs-latency and quality-vs-size points, Pareto fronts drawn and ringed; the
    baseline (of the first completed job) as a star. Writes a PNG, returns it base64-encoded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in summary["jobs"] if r.get("quality") is not None]
    threads = summary.get("pareto_threads")
    baseline = summary.get("baseline")
    metric = summary.get("quality_metric", "top1")
    fig, (ax_lat, ax_size) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=110)

    def latency_cost(row: dict[str, Any]) -> float | None:
        value = row["latency"].get(str(threads))
        return None if value is None else float(value)

    def size_cost(row: dict[str, Any]) -> float | None:
        return float(row["size_bytes"]) / 1e3

    panels: tuple[tuple[Any, str, Callable[[dict[str, Any]], float | None], str], ...] = (
        (ax_lat, "pareto", latency_cost, f"latency at {threads} thread(s), median ms"),
        (ax_size, "pareto_size", size_cost, "size on disk, KB (10^3 bytes)"),
    )
    for ax, flag, cost, label in panels:
        points = [(x, r["quality"] * 100, r) for r in rows if (x := cost(r)) is not None]
        ax.scatter([x for x, _, _ in points], [y for _, y, _ in points], color="tab:blue", zorder=2, label="job")
        for x, y, row in points:
            ax.annotate(f"#{row['num']}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
        front = sorted((x, y) for x, y, row in points if row[flag])
        if front:
            ax.step([x for x, _ in front], [y for _, y in front], where="post", color="tab:red", zorder=1)
            ax.scatter(
                [x for x, _ in front],
                [y for _, y in front],
                s=140,
                facecolors="none",
                edgecolors="tab:red",
                zorder=3,
                label="Pareto front",
            )
        if baseline:
            base_cost = (
                next((r["median_ms"] for r in baseline["latency"] if r["threads"] == threads), None)
                if flag == "pareto"
                else baseline["size_bytes"] / 1e3
            )
            base_quality = baseline["metrics"].get(metric)
            if base_cost is not None and base_quality is not None:
                ax.scatter([base_cost], [base_quality * 100], marker="*", s=160, color="tab:gray", label="baseline")
        ax.set_xlabel(label)
        ax.set_ylabel(f"{metric}, %")
        ax.legend(fontsize=8)
    ax_lat.set_title("Quality vs latency")
    ax_size.set_title("Quality vs size")
    return _save_png(fig, path)
