"""Assemble ``results.json``: every number of a run, compared with the baseline, with its provenance.

The shape is stable (users script against it)::

    {"recipe", "target", "recipe_hash",
     "stages": [{"name", "format", "precision", "size_bytes", "metrics": {"top1", ...},
                 "latency": [{"threads", "median_ms", "p90_ms", "source", ...}], "vs_baseline": {...}, "model": {...}}],
     "provenance": {...}}
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from importlib import metadata
from typing import Any

from recipecc.plan.graph import Plan

__all__ = ["RESULTS_SCHEMA_VERSION", "assemble_results"]

RESULTS_SCHEMA_VERSION = 1
_PACKAGES = ("recipecc", "paddlepaddle", "paddleslim", "paddle2onnx", "numpy", "scikit-learn", "hydra-core")


def _versions() -> dict[str, str]:
    found = {}
    for name in _PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def _compare(stage: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    """Deltas against the baseline: accuracy in points, size ratio, speed-up per thread count (>1 = faster)."""
    base_latency = {row["threads"]: row["median_ms"] for row in baseline["latency"]}
    speedup = {
        str(row["threads"]): base_latency[row["threads"]] / row["median_ms"]
        for row in stage["latency"]
        if row["threads"] in base_latency and row["median_ms"] > 0
    }
    return {
        "top1_delta": stage["metrics"]["top1"] - baseline["metrics"]["top1"],
        "size_ratio": baseline["size_bytes"] / stage["size_bytes"] if stage["size_bytes"] else None,
        "speedup": speedup,
        "slower_than_baseline": sorted(int(t) for t, s in speedup.items() if s < 1.0),
    }


def assemble_results(
    plan: Plan,
    outputs: Mapping[str, Mapping[str, Any]],
    resolved_recipe: Mapping[str, Any],
    pass_log: list[dict[str, Any]],
) -> dict[str, Any]:
    """The results document of one run, from the benchmark nodes' outputs."""
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
                "latency": list(out["latency"]),
                "model": dict(out.get("model", {})),
                "cache_key": node.key,
            }
        )
    baseline = stages[0]
    for stage in stages:
        stage["vs_baseline"] = _compare(stage, baseline)
    host = next((outputs[n.id].get("host") for n in plan.bench_nodes if n.id in outputs), None)
    failed = [{"node": e["node"], "pass": e["pass"], "error": e["failed"]} for e in pass_log if "failed" in e]
    return {
        "schema_version": RESULTS_SCHEMA_VERSION,
        "recipe": plan.recipe_name,
        "target": plan.target_name,
        "recipe_hash": plan.recipe_hash,
        "stages": stages,
        "failed": failed,
        "provenance": {
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "recipe": dict(resolved_recipe),
            "packages": _versions(),
            "host": host,
            "measurement": {
                "latency": "per-call wall time (time.perf_counter_ns) of input copy + run + output copy, "
                "batch size 1, after untimed warmup calls; median and p90 of the timed calls",
                "accuracy": "top-1 on the held-out split, computed with the same runtime that is timed",
                "size": "bytes on disk of the deployable model files",
            },
            "checks": [{"name": c.name, "status": c.status, "detail": c.detail} for c in plan.checks],
            "passes": pass_log,
        },
    }
