"""The latency table of a run in the reference layout: device x ABI x threads, every stage against the baseline,
each cell labelled with its source, and the published reference figures beside it when a row matches.

It is part of ``results.json`` (``latency_table``) so the reports and scripts read one structure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from recipecc.estimate.reference import REFERENCE_LABEL, published_latency
from recipecc.plan.graph import Plan
from recipecc.recipe.catalog import RUNTIMES
from recipecc.recipe.devices import DEVICES

__all__ = ["latency_table"]


def _compute_precision(precision: str) -> str:
    return "int8" if precision == "int8" else ("fp16" if precision == "fp16" else "fp32")


def latency_table(plan: Plan, stages: Sequence[Mapping[str, Any]], arch: str) -> dict[str, Any] | None:
    """The table for ``stages`` (already compared with the baseline), or None when nothing was benchmarked."""
    node = next(iter(plan.bench_nodes), None)
    if node is None or not stages:
        return None
    params = node.params
    device = DEVICES.get(str(params.get("device", "host")))
    runtime = RUNTIMES.get(str(params.get("runtime")))
    abi = params.get("abi")
    threads = sorted({int(row["threads"]) for stage in stages for row in stage["latency"]})
    rows = []
    reference_rows = []
    for stage in stages:
        cells = []
        for row in sorted(stage["latency"], key=lambda r: int(r["threads"])):
            cells.append(
                {
                    "threads": int(row["threads"]),
                    "median_ms": float(row["median_ms"]),
                    "source": row["source"],
                    "speedup": stage.get("vs_baseline", {}).get("speedup", {}).get(str(row["threads"])),
                    **({"noisy": True} if row.get("noisy") else {}),
                }
            )
        rows.append({"stage": stage["name"], "precision": stage["precision"], "cells": cells})
        published = published_latency(
            device=str(params.get("device")),
            runtime=str(params.get("runtime")),
            abi=str(abi or "native"),
            model=arch,
            precision=_compute_precision(str(stage["precision"])),
            flops_removed=float(stage.get("model", {}).get("flops_reduction", 0.0) or 0.0),
        )
        if published:
            cells = [{"threads": t, "median_ms": ms} for t, ms in sorted(published.items())]
            reference_rows.append({"stage": stage["name"], "cells": cells})
    sources = sorted({cell["source"] for row in rows for cell in row["cells"]})
    return {
        "device": device.name if device else params.get("device"),
        "soc": device.soc if device else "",
        "runtime": (runtime.label or runtime.name) if runtime else params.get("runtime"),
        "abi": abi,
        "measurer": params.get("measurer", "measured-host"),
        "threads": threads,
        "sources": sources,
        "rows": rows,
        "reference": {"label": REFERENCE_LABEL, "rows": reference_rows} if reference_rows else None,
    }
