"""One job of a multirun: run the recipe, record the outcome in the job's folder, never abort the sweep.

A failing job (bad value picked by a sampler, a pass that crashes) is recorded as a failed row and the sweep goes
on; the CLI exits non-zero at the end. With an ``objective`` the job returns its loss (lower is better), which is
what Optuna's sweeper minimises; a failed job returns the worst loss (``FAILED_LOSS``) so that the search goes on.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.console import Console

__all__ = ["run_sweep_job"]

log = logging.getLogger(__name__)


def run_sweep_job(
    cfg: Any, job_dir: Path, sweep_dir: Path, num: int, overrides: list[str], console: Console
) -> float | None:
    """Run one job of a sweep and write its ``job.json`` (and the sweep's ``best.json``)."""
    from recipecc.engine import run_recipe
    from recipecc.recipe import validate_recipe
    from recipecc.sweep.jobs import record_job
    from recipecc.sweep.objective import FAILED_LOSS, score

    started = time.perf_counter()
    record: dict[str, Any] = {
        "num": num,
        "overrides": overrides,
        "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    objective: dict[str, Any] | None = None
    try:
        recipe = validate_recipe(cfg)
        objective = asdict(recipe.objective) if recipe.objective.measure is not None else None
        outcome = run_recipe(recipe, job_dir, console)
    except Exception as exc:  # a failed job is a row of the report, not the end of the sweep
        from recipecc.worker import PassError

        detail = str(exc) if isinstance(exc, PassError) or type(exc).__name__ == "RecipeError" else repr(exc)
        console.print(f"[bold red]job {num} failed:[/] {detail}", markup=True, highlight=False)
        record.update(status="failed", error=detail, results=None, seconds=time.perf_counter() - started)
        if objective is not None:
            record["objective"] = {**objective, "value": None, "feasible": False, "loss": None, "why": "failed"}
        record_job(job_dir, sweep_dir, record)
        return FAILED_LOSS if objective is not None else None
    record.update(
        status="completed",
        error=None,
        results=str(outcome.reports["json"].resolve()),
        recipe_hash=outcome.results["recipe_hash"],
        executed=outcome.executed,
        cached=outcome.cached,
        seconds=time.perf_counter() - started,
    )
    scored = score(objective, outcome.results) if objective is not None else None
    if scored is not None:
        record["objective"] = scored
    record_job(job_dir, sweep_dir, record)
    return float(scored["loss"]) if scored is not None else None
