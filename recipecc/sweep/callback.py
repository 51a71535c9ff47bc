"""Hydra callback that writes the sweep report after the last job (``hydra.callbacks.sweep_report`` in
``recipes/config.yaml``), whatever the sweeper (basic, Optuna) and launcher (basic, joblib, Ray, submitit)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

__all__ = ["SweepReport", "last_sweep_dir", "sweep_reported", "write_sweep_report"]

log = logging.getLogger(__name__)
# Optuna's sweeper imports alembic, which announces each of its plugins at INFO under Hydra's logging setup
logging.getLogger("alembic").setLevel(logging.WARNING)
_last_sweep: list[Path] = []
_reported: set[Path] = set()


def last_sweep_dir() -> Path | None:
    """The sweep folder of the last multirun started in this process (for the CLI's summary)."""
    return _last_sweep[-1] if _last_sweep else None


def sweep_reported(sweep_dir: Path) -> bool:
    """Whether the report of ``sweep_dir`` was written when the multirun ended (not when it stopped early)."""
    return sweep_dir in _reported


def write_sweep_report(sweep_dir: Path, remeasure: bool = True) -> dict[str, Path]:
    """Collect every job record in ``sweep_dir``, measure the compared models together (``remeasure``) and write
    ``best.json`` and the sweep report."""
    from recipecc.report.sweep import render_sweep_report
    from recipecc.sweep.jobs import BEST_FILE, collect_jobs, write_best
    from recipecc.sweep.remeasure import remeasure_together

    write_best(sweep_dir)
    jobs = collect_jobs(sweep_dir)
    together = remeasure_together(jobs) if remeasure else None
    paths = render_sweep_report(jobs, sweep_dir, together)
    paths["best"] = sweep_dir / BEST_FILE
    return paths


class SweepReport(Callback):
    """Remembers where a multirun writes and renders the report over all its jobs when it ends."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        _last_sweep.append(Path(str(config.hydra.sweep.dir)).resolve())

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir)).resolve()
        paths = write_sweep_report(sweep_dir)
        _reported.add(sweep_dir)
        log.info("sweep report: %s", paths["markdown"])
