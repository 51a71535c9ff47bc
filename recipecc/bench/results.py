"""Assemble ``results.json``: every number of a run, compared with the baseline, with its provenance.

The shape is stable (users script against it)::

    {"recipe", "target", "recipe_hash",
     "stages": [{"name", "format", "precision", "size_bytes", "metrics": {"top1", ...},
                 "latency": [{"threads", "median_ms", "p90_ms", "source", ...}], "vs_baseline": {...}, "model": {...},
                 "files": {"model": "models/<stage>/<file or folder>", "all": [...]}}],
     "provenance": {...}}
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from importlib import metadata
from typing import Any

from recipecc.bench.facts import describe_run, measurement_sentences
from recipecc.bench.latency_table import latency_table
from recipecc.bench.search_config import applied_config
from recipecc.metrics.drop import metric_drop
from recipecc.metrics.speed import same_speed
from recipecc.plan.graph import Plan
from recipecc.tasks import TASKS

__all__ = ["RESULTS_SCHEMA_VERSION", "assemble_results", "contention_sentences", "search_selection"]

RESULTS_SCHEMA_VERSION = 1
_PACKAGES = (
    "recipecc",
    "paddlepaddle",
    "paddleslim",
    "paddle2onnx",
    "onnx",
    "onnxruntime",
    "tf2onnx",
    "tensorflow",
    "tf-keras",
    "tensorflow-model-optimization",
    "ai-edge-litert",
    "ai-edge-quantizer",
    "numpy",
    "scikit-learn",
    "hydra-core",
)


def _versions() -> dict[str, str]:
    found = {}
    for name in _PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def quality_metric(stages: list[dict[str, Any]]) -> str:
    """The headline quality number: the task's (top-1, mIoU, mAP) when labels score every stage, else the task's
    agreement with the baseline (the first compressed stage's headline: the baseline agrees with itself)."""
    headlines = [stage.get("headline_metric") for stage in stages if stage.get("headline_metric")]
    for name in [*headlines[1:], *headlines[:1]]:
        if all(name in stage["metrics"] for stage in stages):
            return str(name)
    for name in ("top1", "top1_agreement", "iou", "cosine"):
        if stages and all(name in stage["metrics"] for stage in stages):
            return name
    return "top1"


#: how a title says its values are a 0..1 metric x100
POINTS_SCALE = "(x100)"


def quality_label(task_name: str, metric: str) -> str:
    """The report's column title for the headline metric: the task's label, or the metric "vs baseline".

    Metrics a task shows as points (mAP, mIoU: the 0..1 value x100, as the reference tables print them) say so in
    the title, so ``0.15`` is never read as AP 0.15: results.json keeps every metric in 0..1."""
    task = TASKS.get(task_name)
    if task is not None and metric == task.headline:
        return task.headline_label if task.percent else f"{task.headline_label} {POINTS_SCALE}"
    return f"{metric} (vs baseline)"


def _compare(stage: dict[str, Any], baseline: dict[str, Any], metric: str = "top1") -> dict[str, Any]:
    """Deltas against the baseline: quality in points, size ratio, speed-up per thread count (>1 = faster)."""
    base_latency = {row["threads"]: row["median_ms"] for row in baseline["latency"]}
    speedup = {
        str(row["threads"]): base_latency[row["threads"]] / row["median_ms"]
        for row in stage["latency"]
        if row["threads"] in base_latency and row["median_ms"] > 0
    }
    ours, theirs = stage["metrics"].get(metric), baseline["metrics"].get(metric)
    return {  # a metric one of the two lacks has no delta (never a default of 0 or 1)
        "quality_delta": ours - theirs if ours is not None and theirs is not None else None,
        **(
            {"top1_delta": stage["metrics"]["top1"] - baseline["metrics"]["top1"]}
            if "top1" in stage["metrics"] and "top1" in baseline["metrics"]
            else {}
        ),
        "size_ratio": baseline["size_bytes"] / stage["size_bytes"] if stage["size_bytes"] else None,
        "speedup": speedup,
        "slower_than_baseline": sorted(int(t) for t, s in speedup.items() if s < 1.0 and not same_speed(s)),
        **({"speedup_cpu": cpu} if (cpu := _cpu_speedup(stage, baseline)) else {}),
    }


def _cpu_speedup(stage: dict[str, Any], baseline: dict[str, Any]) -> dict[str, float]:
    """Speed-up by median CPU time per call, at one thread only (where the work runs on the calling thread and the
    CPU time is what the call costs without waiting for a core; with more threads it sums their work)."""
    base = {row["threads"]: row.get("cpu_median_ms") for row in baseline["latency"] if row["threads"] == 1}
    return {
        str(row["threads"]): base[row["threads"]] / row["cpu_median_ms"]
        for row in stage["latency"]
        if row["threads"] in base and base[row["threads"]] and row.get("cpu_median_ms")
    }


def contention_sentences(stages: list[dict[str, Any]]) -> list[str]:
    """One sentence per latency row timed while other processes held the CPU (``contended``), or compared with a
    baseline row that was, from the rows' own figures: how much of its wall time the timed loop ran and, at one
    thread, what the CPU time per call says against the baseline."""
    sentences = []
    baseline_rows = {row["threads"]: row for row in stages[0]["latency"]} if stages else {}
    for index, stage in enumerate(stages):
        for row in stage["latency"]:
            if row["threads"] != 1:  # a low share at more threads may be an idle runtime thread (bench/timing.py)
                continue
            base = baseline_rows.get(row["threads"]) if index else None
            if row.get("contended"):
                text = (
                    f"{stage['name']} at {row['threads']} thread(s) ran on the CPU {row['cpu_share']:.0%} of its "
                    "timed wall time (other processes held the cores), so its wall-clock latency is inflated"
                )
            elif base is not None and base.get("contended"):
                text = (
                    f"{stage['name']} at {row['threads']} thread(s) is compared with a baseline that ran on the CPU "
                    f"{base['cpu_share']:.0%} of its timed wall time (other processes held the cores), so the "
                    "wall-clock speed-up is overstated"
                )
            else:
                continue
            cpu = stage.get("vs_baseline", {}).get("speedup_cpu", {}).get(str(row["threads"]))
            if base is not None and cpu is not None:
                wall = stage["vs_baseline"]["speedup"].get(str(row["threads"]))
                text += (
                    f"; by CPU time per call ({row['cpu_median_ms']:.3f} ms against the baseline's "
                    f"{base['cpu_median_ms']:.3f} ms) it is {_speed_words(cpu)} than the baseline"
                    + (f" (wall clock: {_speed_words(wall)})" if wall is not None else "")
                )
            sentences.append(
                text + ". Re-run on a quiet machine for wall-clock figures to compare (a changed bench.repeats "
                "re-times every stage)"
            )
    return sentences


def _speed_words(speedup: float) -> str:
    return f"{speedup:.2f}x faster" if speedup >= 1.0 else f"{1 / speedup:.2f}x slower"


def assemble_results(
    plan: Plan,
    outputs: Mapping[str, Mapping[str, Any]],
    resolved_recipe: Mapping[str, Any],
    pass_log: list[dict[str, Any]],
    files: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The results document of one run, from the benchmark nodes' outputs.

    ``files`` maps a stage to its deployable files in the run folder (``recipecc.deliver``): ``files.model``.
    """
    stages: list[dict[str, Any]] = []
    for node in plan.bench_nodes:
        if node.id not in outputs:  # an optional stage that failed: listed under "failed"
            continue
        out = outputs[node.id]
        stages.append(
            {
                "name": node.stage,
                "format": out["model_format"],
                "precision": out["precision"],
                "size_bytes": int(out["size_bytes"]),
                "metrics": dict(out["metrics"]),
                "headline_metric": out.get("headline_metric"),
                "evaluation": dict(out.get("evaluation", {})),
                "latency": list(out["latency"]),
                "model": dict(out.get("model", {})),
                "files": dict((files or {}).get(str(node.stage), {})),
                "cache_key": node.key,
                **({"quality_note": note} if (note := plan.quality_notes.get(node.stage or "")) else {}),
                **({"quality_measured_on": out["quality_measured_on"]} if "quality_measured_on" in out else {}),
            }
        )
    baseline = stages[0] if stages else None
    metric = quality_metric(stages)
    task = next((s["evaluation"].get("task") for s in stages if s["evaluation"].get("task")), "classification")
    for stage in stages:
        stage["vs_baseline"] = _compare(stage, baseline, metric) if baseline else {}
    host = next((outputs[n.id].get("host") for n in plan.bench_nodes if n.id in outputs), None)
    failed = [{"node": e["node"], "pass": e["pass"], "error": e["failed"]} for e in pass_log if "failed" in e]
    return {
        "schema_version": RESULTS_SCHEMA_VERSION,
        **describe_run(resolved_recipe, stages),
        "recipe": plan.recipe_name,
        "target": plan.target_name,
        "recipe_hash": plan.recipe_hash,
        "task": task,
        "quality_metric": metric,
        "quality_label": quality_label(str(task), metric),
        "quality_percent": TASKS[task].percent if task in TASKS else True,
        #: set when some stages' quality cannot be measured in this run (their quality cells say "not measurable")
        "quality_note": (
            f"quality cannot be measured for {', '.join(plan.quality_notes)}: {next(iter(plan.quality_notes.values()))}"
            if plan.quality_notes
            else None
        ),
        #: set when the data's labels are not the model's classes (its stages are compared with the baseline instead)
        "labels_note": next((s["evaluation"]["labels_note"] for s in stages if "labels_note" in s["evaluation"]), None),
        "stages": stages,
        "failed": failed,
        "search": search_selection(plan, stages, resolved_recipe, failed),
        "latency_table": latency_table(plan, stages, str((resolved_recipe.get("model") or {}).get("arch", ""))),
        "provenance": {
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "recipe": dict(resolved_recipe),
            "packages": _versions(),
            "host": host,
            "measurement": {
                **measurement_sentences(stages, metric),
                "together": "every stage of a run is measured in that run, one after the other (a fully cached run "
                "reuses all its measurements); each latency row records how much of its timed wall time the "
                "process had the CPU (cpu_share), because on a shared machine stages timed one after the other "
                "can meet different loads",
                "contention": contention_sentences(stages),
                "size": "bytes on disk of the deployable model files (reports: 1 MB = 10^6 bytes)",
            },
            "checks": [{"name": c.name, "status": c.status, "detail": c.detail} for c in plan.checks],
            "passes": pass_log,
        },
    }


# --- search selection (strategy.search, onnx backend) -------------------------------------------------------------


def search_selection(
    plan: Plan,
    stages: list[dict[str, Any]],
    resolved_recipe: Mapping[str, Any],
    failed: list[dict[str, Any]],
) -> dict[str, Any] | None:
    """Every search candidate's numbers and the one selected: the fastest at the fewest threads measured (1 on
    every shipped target) among those whose ``metric`` drop vs the baseline is within ``max_drop``.

    Candidates are the bench nodes the planner marked with ``search_candidate``; a failed one is listed with its
    error and never selected, so the best of the others is kept.
    """
    search = (resolved_recipe.get("strategy") or {}).get("search")
    nodes = [n for n in plan.bench_nodes if "search_candidate" in n.params]
    if not search or not nodes or not stages:
        return None
    baseline, by_name = stages[0], {s["name"]: s for s in stages}
    metric, max_drop = str(search["metric"]), float(search["max_drop"])
    errors = {f["node"]: f["error"] for f in failed}
    rows: list[dict[str, Any]] = []
    for node in nodes:
        index = int(node.params["search_candidate"])
        config = search["candidates"][index]
        row: dict[str, Any] = {"index": index, "stage": node.stage, "config": config, "applied": applied_config(config)}
        stage = by_name.get(str(node.stage))
        if stage is None:
            quantize = next(iter(n for n in plan.nodes if n.id == node.inputs.get("model")), None)
            reason = errors.get(quantize.id if quantize else "", errors.get(node.id, "did not run"))
            rows.append({**row, "status": "failed", "error": reason})
            continue
        latency = min(stage["latency"], key=lambda r: r["threads"]) if stage["latency"] else None
        drop = metric_drop(metric, stage, baseline)
        eligible = drop is not None and drop <= max_drop + 1e-12
        rows.append(
            {
                **row,
                "status": "within budget" if eligible else ("over budget" if drop is not None else "not measured"),
                "metric_value": stage["metrics"].get(metric),
                "drop": drop,
                "threads": latency["threads"] if latency else None,
                "median_ms": latency["median_ms"] if latency else None,
                "size_bytes": stage["size_bytes"],
            }
        )
    eligible_rows = [r for r in rows if r["status"] == "within budget" and r["median_ms"] is not None]
    best = min(eligible_rows, key=lambda r: r["median_ms"], default=None)
    return {
        "metric": metric,
        "max_drop": max_drop,
        "rule": f"fastest at {best['threads'] if best else 1} thread(s) among candidates whose {metric} drop "
        f"vs the baseline is <= {max_drop}",
        "candidates": rows,
        "selected": best["stage"] if best else None,
    }
