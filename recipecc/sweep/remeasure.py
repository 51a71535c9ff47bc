"""Measure the models a sweep compares together, after its last job, so one table holds numbers taken under the
same conditions.

Each job measured its own stages one after the other, but job 1 ran minutes before job 3, under whatever load
the machine had then. After the sweep, every distinct baseline and every job's final model is measured again in
one session, one right after the other, by the same bench passes (taken from each job's plan, inputs from the
cache). A job whose artifacts are not in this machine's cache (a Ray or SLURM worker's cache) keeps its own
numbers, and the report says so.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["remeasure_together"]

log = logging.getLogger(__name__)


def _plan_of(results: dict[str, Any]) -> Any:
    from recipecc.plan import build_plan
    from recipecc.recipe.resolved import resolved_recipe

    return build_plan(resolved_recipe(results["provenance"]["recipe"], source="a job's results.json"))


def remeasure_together(jobs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Re-run the bench pass of every distinct baseline and final stage of the completed ``jobs``.

    Returns ``{"measurements": {cache_key: bench metadata}, "jobs": {num: {"baseline": key, "final": key}},
    "skipped": {num: reason}}``.
    """
    from recipecc.passes.base import PassContext
    from recipecc.plan import ArtifactCache
    from recipecc.plan.registry import PASSES
    from recipecc.worker import BackendWorkers, PassError

    todo: dict[str, tuple[Any, Any]] = {}
    per_job: dict[int, dict[str, str]] = {}
    skipped: dict[int, str] = {}
    for job in jobs:
        if job.get("status") != "completed" or not job.get("results"):
            continue
        num = int(job["num"])
        try:
            results = json.loads(Path(job["results"]).read_text())
            plan = _plan_of(results)
        except Exception as exc:  # a job folder edited or moved since: keep its own numbers
            skipped[num] = f"its plan cannot be rebuilt ({exc})"
            continue
        stages = [s["name"] for s in results.get("stages", [])]
        bench = {n.stage: n for n in plan.bench_nodes}
        if not stages or stages[0] not in bench or stages[-1] not in bench:
            skipped[num] = "its stages are not in its plan"
            continue
        cache = ArtifactCache(plan.cache_root)
        chosen = {"baseline": bench[stages[0]], "final": bench[stages[-1]]}
        missing = [src for node in chosen.values() for src in node.inputs.values() if not cache.has(plan.node(src).key)]
        if missing:
            skipped[num] = f"its artifacts ({missing[0]}) are not in this machine's cache"
            continue
        per_job[num] = {role: node.key for role, node in chosen.items()}
        for node in chosen.values():
            todo.setdefault(node.key, (plan, node))
    measurements: dict[str, Any] = {}
    if todo:
        scratch = Path(tempfile.mkdtemp(prefix="recipecc-remeasure-"))
        try:
            with BackendWorkers() as workers:
                for index, (key, (plan, node)) in enumerate(todo.items()):
                    cache = ArtifactCache(plan.cache_root)
                    out = scratch / str(index)
                    out.mkdir()
                    ctx = PassContext(
                        node_id=node.id,
                        params=dict(node.params),
                        inputs={name: cache.path(plan.node(src).key) for name, src in node.inputs.items()},
                        out_dir=out,
                    )
                    spec = PASSES[node.pass_name]
                    try:
                        measurements[key] = workers.run(spec.backend, spec.entry, ctx)
                    except PassError as exc:
                        log.warning("re-measuring %s failed: %s", node.id, exc)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    for num, keys in list(per_job.items()):
        if not all(key in measurements for key in keys.values()):
            skipped[num] = "re-measuring its models failed"
            del per_job[num]
    return {"measurements": measurements, "jobs": per_job, "skipped": skipped}
