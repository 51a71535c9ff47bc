"""A sweep's objective, scored from one job's ``results.json``: the measured value, whether the job meets its
budget, and the loss a sampling sweeper minimises.

The objective is the recipe's ``objective`` section (:class:`~recipecc.recipe.schema.ObjectiveConfig`), e.g.
"fastest at 1 thread with top-1 drop <= 1 point" (``measure: latency, threads: 1, max_drop: 0.01``) or "highest
prune ratio with a quality drop <= 2 points" (``measure: strategy.prune.ratio, direction: maximize,
max_drop: 0.02``). Everything is read from what the run recorded.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from omegaconf import OmegaConf

from recipecc.metrics.drop import metric_drop

__all__ = ["FAILED_LOSS", "INFEASIBLE_LOSS", "score"]

#: the loss of a job outside the budget: worse than any feasible one, still a number a sampler can learn from
INFEASIBLE_LOSS = 1e9
#: the loss of a job that failed: worse than any job that ran. Not NaN: hydra-optuna-sweeper 1.2 with Optuna 2.10
#: ends the whole search on a NaN; the job is recorded as failed in its ``job.json`` and the sweep report.
FAILED_LOSS = 2e9


def _stage(results: Mapping[str, Any], name: str | None) -> Mapping[str, Any] | None:
    stages = list(results.get("stages") or [])
    if not stages:
        return None
    chosen: Mapping[str, Any] | None = stages[-1]
    if name is not None:
        chosen = next((s for s in stages if s["name"] == name), None)
    return chosen


def score(objective: Mapping[str, Any], results: Mapping[str, Any]) -> dict[str, Any]:
    """The objective of one finished job: ``value`` (in the measure's unit), ``feasible``, ``drop`` and ``loss``
    (lower is better, for samplers: the value itself when minimising, its negative when maximising,
    :data:`INFEASIBLE_LOSS` plus the excess drop outside the budget)."""
    measure = str(objective.get("measure", "latency"))
    direction = str(objective.get("direction", "minimize"))
    stage = _stage(results, objective.get("stage"))
    stages = list(results.get("stages") or [])
    out: dict[str, Any] = {"measure": measure, "direction": direction, "stage": stage["name"] if stage else None}
    if stage is None:
        return {**out, "value": None, "feasible": False, "loss": math.nan, "why": "no stage was measured"}
    metric = str(objective.get("metric") or results.get("quality_metric", "top1"))
    threads = objective.get("threads")
    if measure == "latency":
        rows = [r for r in stage["latency"] if threads is None or r["threads"] == threads]
        row = min(rows, key=lambda r: r["threads"]) if rows else None
        value = float(row["median_ms"]) if row else None
        out["threads"] = row["threads"] if row else threads
    elif measure == "size":
        value = float(stage["size_bytes"])
    elif measure == "quality":
        raw = stage["metrics"].get(metric)
        value = float(raw) if raw is not None else None
    else:
        recipe = results.get("provenance", {}).get("recipe", {})
        raw = OmegaConf.select(OmegaConf.create(dict(recipe)), measure, default=None)
        value = float(raw) if isinstance(raw, (int, float)) else None
    out["value"] = value
    drop = metric_drop(metric, stage, stages[0]) if stages else None
    max_drop = objective.get("max_drop")
    out["metric"], out["drop"], out["max_drop"] = metric, drop, max_drop
    feasible = value is not None and (max_drop is None or (drop is not None and drop <= float(max_drop) + 1e-12))
    out["feasible"] = feasible
    if value is None:
        out["loss"] = math.nan
        out["why"] = f"{measure} was not measured"
    elif not feasible:
        excess = (drop or 0.0) - float(max_drop or 0.0)
        out["loss"] = INFEASIBLE_LOSS + max(excess, 0.0)
        out["why"] = f"{metric} drop {drop:+.4f} exceeds the budget {max_drop}" if drop is not None else "no drop"
    else:
        out["loss"] = value if direction == "minimize" else -value
    return out
