"""The report over a whole sweep: ``sweep.json``, ``sweep.md`` and ``sweep.html`` in Hydra's sweep folder.

One row per job (its swept values, quality, size, latency per thread count and speed-up of its last stage), the
model-library style table (baseline, then each job's compressed model), and quality-vs-latency and
quality-vs-size plots with the Pareto front marked. Failed jobs are rows too. Every number is read from the jobs'
own ``results.json``; speed-ups compare stages that one job measured together, one after the other.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from recipecc.report.plots import pareto_plot
from recipecc.report.render import _environment, write_atomic

__all__ = ["SWEEP_FILES", "pareto_front", "render_sweep_report", "summarise_sweep"]

log = logging.getLogger(__name__)

SWEEP_FILES = {"json": "sweep.json", "markdown": "sweep.md", "html": "sweep.html", "plot": "sweep_pareto.png"}


def pareto_front(points: Sequence[tuple[float, float]]) -> list[bool]:
    """Which (quality, cost) points no other point beats: at least as good in both and better in one
    (quality higher is better, cost lower is better)."""
    flags = []
    for i, (quality, cost) in enumerate(points):
        dominated = any(
            q >= quality and c <= cost and (q > quality or c < cost) for j, (q, c) in enumerate(points) if j != i
        )
        flags.append(not dominated)
    return flags


def _swept_keys(jobs: Sequence[dict[str, Any]]) -> list[str]:
    """The override keys whose value differs between jobs (the sweep's dimensions), in command-line order."""
    values: dict[str, set[str]] = {}
    order: list[str] = []
    for job in jobs:
        for override in job.get("overrides") or []:
            key, _, value = str(override).partition("=")
            if key not in values:
                values[key] = set()
                order.append(key)
            values[key].add(value)
    present = [
        key for key in order if all(any(o.startswith(key + "=") for o in j.get("overrides") or []) for j in jobs)
    ]
    return [key for key in order if len(values[key]) > 1 or key not in present]


def _load_results(path: str | None) -> dict[str, Any] | None:
    if not path or not Path(path).is_file():
        return None
    try:
        data: dict[str, Any] = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return data


def _latency_map(rows: Sequence[dict[str, Any]], field: str = "median_ms") -> dict[str, float]:
    return {str(r["threads"]): float(r[field]) for r in rows}


def _use_joint_measurement(row: dict[str, Any], baseline: dict[str, Any], final: dict[str, Any]) -> None:
    """Replace a job's latencies by those measured together after the sweep (its own stay as ``job_latency``)."""
    row["job_latency"], row["job_speedup"] = row["latency"], row["speedup"]
    row["job_baseline_latency"] = row["baseline_latency"]
    row["latency"] = _latency_map(final["latency"])
    row["latency_p90"] = _latency_map(final["latency"], "p90_ms")
    row["baseline_latency"] = _latency_map(baseline["latency"])
    row["speedup"] = {
        t: row["baseline_latency"][t] / ms for t, ms in row["latency"].items() if t in row["baseline_latency"] and ms
    }
    row["measured_together"] = True


def summarise_sweep(
    jobs: Sequence[dict[str, Any]], sweep_dir: Path, together: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The ``sweep.json`` document: every job with its headline numbers and its place on the Pareto fronts.

    ``together`` (``recipecc.sweep.remeasure``): latencies of the jobs' baselines and final models measured in one
    session after the sweep; they replace each job's own where present.
    """
    joint = together or {"measurements": {}, "jobs": {}, "skipped": {}}
    joint_jobs = {int(k): v for k, v in joint.get("jobs", {}).items()}
    swept = _swept_keys(jobs)
    rows: list[dict[str, Any]] = []
    baseline: dict[str, Any] | None = None
    metric = "top1"
    for job in jobs:
        overrides = [str(o) for o in job.get("overrides") or []]
        values = {key: next((o.split("=", 1)[1] for o in overrides if o.split("=", 1)[0] == key), "") for key in swept}
        row: dict[str, Any] = {
            "num": job.get("num"),
            "overrides": overrides,
            "swept": values,
            "status": job.get("status", "unfinished"),
            "results": job.get("results"),
            "error": job.get("error"),
            "objective": job.get("objective"),
            "pareto": False,
            "pareto_size": False,
            "measured_together": False,
        }
        results = _load_results(job.get("results")) if row["status"] == "completed" else None
        if results and results.get("stages"):
            stages = results["stages"]
            final = stages[-1]
            metric = str(results.get("quality_metric", metric))
            if baseline is None:
                baseline = {**stages[0], "job": job.get("num")}
            row.update(
                {
                    "recipe": results.get("recipe"),
                    "target": results.get("target"),
                    "recipe_hash": results.get("recipe_hash"),
                    "stage": final["name"],
                    "precision": final.get("precision"),
                    "quality_metric": results.get("quality_metric", metric),
                    "quality": final["metrics"].get(results.get("quality_metric", metric)),
                    "quality_delta": final["vs_baseline"].get("quality_delta"),
                    "size_bytes": final["size_bytes"],
                    "size_ratio": final["vs_baseline"].get("size_ratio"),
                    "latency": {str(r["threads"]): r["median_ms"] for r in final["latency"]},
                    "latency_p90": {str(r["threads"]): r["p90_ms"] for r in final["latency"]},
                    "speedup": dict(final["vs_baseline"].get("speedup", {})),
                    "baseline_latency": {str(r["threads"]): r["median_ms"] for r in stages[0]["latency"]},
                    "source": final["latency"][0]["source"] if final["latency"] else None,
                    "runtime": final["latency"][0]["runtime"] if final["latency"] else None,
                    "measured": results.get("provenance", {}).get("created"),
                }
            )
            keys = joint_jobs.get(int(job.get("num", -1)))
            if keys:
                measured_base = joint["measurements"][keys["baseline"]]
                _use_joint_measurement(row, measured_base, joint["measurements"][keys["final"]])
                if baseline.get("job") == job.get("num"):
                    baseline["latency"] = list(measured_base["latency"])
                    baseline["measured_together"] = True
            elif joint.get("skipped", {}).get(int(job.get("num", -1))):
                row["not_measured_together"] = joint["skipped"][int(job["num"])]
        elif row["status"] == "completed":
            row["status"] = "failed"
            row["error"] = row["error"] or "the job finished without a results.json"
        rows.append(row)
    measured = [r for r in rows if "quality" in r and r["quality"] is not None]
    threads = sorted({int(t) for r in measured for t in r["latency"]})
    front_threads = threads[0] if threads else None
    if measured and front_threads is not None:
        on_latency = [r for r in measured if str(front_threads) in r["latency"]]
        latency_front = pareto_front([(r["quality"], r["latency"][str(front_threads)]) for r in on_latency])
        for row, flag in zip(on_latency, latency_front, strict=True):
            row["pareto"] = flag
    size_front = pareto_front([(r["quality"], float(r["size_bytes"])) for r in measured])
    for row, flag in zip(measured, size_front, strict=True):
        row["pareto_size"] = flag
    best = next(
        (
            r["num"]
            for r in sorted(
                (
                    r
                    for r in rows
                    if r["status"] == "completed" and r.get("objective") and r["objective"].get("feasible")
                ),
                key=lambda r: float(r["objective"]["loss"]),
            )
        ),
        None,
    )
    first_objective = next((r["objective"] for r in rows if r.get("objective")), None)
    objective = (
        {key: first_objective.get(key) for key in ("measure", "direction", "threads", "metric", "max_drop")}
        if first_objective
        else None
    )
    return {
        "sweep_dir": str(sweep_dir),
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "swept": swept,
        "recipes": sorted({str(r["recipe"]) for r in rows if r.get("recipe")}),
        "quality_metric": metric,
        "threads": threads,
        "pareto_threads": front_threads,
        "objective": objective,
        "best": best,
        "baseline": baseline,
        "measured_together": bool(rows) and all(r["measured_together"] for r in rows if "quality" in r),
        "counts": {
            "jobs": len(rows),
            "completed": sum(r["status"] == "completed" for r in rows),
            "failed": sum(r["status"] != "completed" for r in rows),
        },
        "jobs": rows,
    }


def objective_value(value: float | None, measure: str) -> str:
    """An objective's value in its unit: ms for latency, KB/MB for size, percent for quality."""
    from recipecc.report.formatting import human_size, percent

    if value is None:
        return "–"
    if measure == "latency":
        return f"{value:.3f} ms"
    if measure == "size":
        return human_size(value)
    if measure == "quality":
        return percent(value)
    return f"{value:.4g}"


def render_sweep_report(
    jobs: Sequence[dict[str, Any]], sweep_dir: Path, together: dict[str, Any] | None = None
) -> dict[str, Path]:
    """Write ``sweep.json``, ``sweep.md``, ``sweep.html`` (and the plot) into ``sweep_dir``; returns their paths."""
    sweep_dir.mkdir(parents=True, exist_ok=True)
    summary = summarise_sweep(jobs, sweep_dir, together)
    paths = {kind: sweep_dir / name for kind, name in SWEEP_FILES.items()}
    plot_b64 = pareto_plot(summary, paths["plot"]) if any("quality" in r for r in summary["jobs"]) else ""
    baseline_spread: dict[str, tuple[float, float]] = {}
    for row in summary["jobs"]:
        for threads, ms in (row.get("job_baseline_latency") or row.get("baseline_latency") or {}).items():
            low, high = baseline_spread.get(threads, (ms, ms))
            baseline_spread[threads] = (min(low, ms), max(high, ms))
    context = {
        "s": summary,
        "plot_file": paths["plot"].name if plot_b64 else None,
        "baseline_spread": baseline_spread,
    }
    env = _environment()
    env.filters["objective_value"] = objective_value
    markdown = env.get_template("sweep.md.j2").render(**context)
    html = env.get_template("sweep.html.j2").render(**context, plot_b64=plot_b64)
    write_atomic(paths["json"], json.dumps(summary, indent=2, default=str) + "\n")
    write_atomic(paths["markdown"], markdown)
    write_atomic(paths["html"], html)
    if not plot_b64:
        paths.pop("plot")
    return paths
