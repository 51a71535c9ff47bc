"""What each job of a sweep leaves behind (``job.json`` in its folder) and the best configuration so far.

Every job writes its record as soon as it ends, failed or not, and then rewrites ``best.json`` in the sweep
folder from all the records present: a search that is interrupted, or whose next trial fails, loses nothing. Jobs
may run in parallel processes (joblib, Ray) or on other machines sharing the folder (SLURM), so ``best.json`` is
rewritten under a file lock and renamed into place.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["BEST_FILE", "JOB_FILE", "best_of", "collect_jobs", "record_job", "write_best"]

log = logging.getLogger(__name__)

JOB_FILE = "job.json"
BEST_FILE = "best.json"
_HYDRA_OVERRIDES = Path(".hydra") / "overrides.yaml"


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(dict(data), indent=2, default=str, allow_nan=False) + "\n")
    os.replace(tmp, path)


def _finite(value: Any) -> Any:
    """JSON has no NaN/inf: a loss that is not a number is recorded as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def record_job(job_dir: Path, sweep_dir: Path, record: Mapping[str, Any]) -> None:
    """Write one job's ``job.json``, then the sweep's ``best.json`` from every record written so far."""
    job_dir.mkdir(parents=True, exist_ok=True)
    _write_json(job_dir / JOB_FILE, _finite(dict(record)))
    write_best(sweep_dir)


def _job_number(folder: Path) -> tuple[int, str]:
    return (int(folder.name), "") if folder.name.isdigit() else (1 << 30, folder.name)


def collect_jobs(sweep_dir: Path) -> list[dict[str, Any]]:
    """Every job folder of a sweep with its record; a job that started but left no record (killed, still
    running, or lost with its worker) is listed as ``unfinished``."""
    from omegaconf import OmegaConf

    jobs: list[dict[str, Any]] = []
    if not sweep_dir.is_dir():
        return jobs
    for folder in sorted((p for p in sweep_dir.iterdir() if p.is_dir()), key=_job_number):
        record_path = folder / JOB_FILE
        if record_path.is_file():
            try:
                jobs.append({**json.loads(record_path.read_text()), "dir": str(folder)})
                continue
            except (OSError, ValueError) as exc:
                log.warning("unreadable job record %s: %s", record_path, exc)
        if (folder / _HYDRA_OVERRIDES).is_file():
            overrides = [str(o) for o in OmegaConf.load(folder / _HYDRA_OVERRIDES)]
            jobs.append(
                {
                    "num": _job_number(folder)[0],
                    "overrides": overrides,
                    "status": "unfinished",
                    "results": None,
                    "error": "the job left no record (killed, still running, or its worker was lost)",
                    "dir": str(folder),
                }
            )
    return jobs


def best_of(jobs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The completed, feasible job with the lowest objective loss (None without an objective or such a job)."""
    candidates = [
        job
        for job in jobs
        if job.get("status") == "completed"
        and job.get("objective")
        and job["objective"].get("feasible")
        and job["objective"].get("loss") is not None
    ]
    return min(candidates, key=lambda job: float(job["objective"]["loss"]), default=None)


def write_best(sweep_dir: Path) -> dict[str, Any]:
    """Rewrite ``best.json``: the best job so far and a one-line summary of every trial."""
    from filelock import FileLock

    sweep_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(sweep_dir / f".{BEST_FILE}.lock")):
        jobs = collect_jobs(sweep_dir)
        best = best_of(jobs)
        document = {
            "best": None
            if best is None
            else {key: best.get(key) for key in ("num", "overrides", "objective", "results", "recipe_hash")},
            "trials": [
                {
                    "num": job.get("num"),
                    "overrides": job.get("overrides"),
                    "status": job.get("status"),
                    "objective": job.get("objective"),
                    "error": job.get("error"),
                }
                for job in jobs
            ],
        }
        _write_json(sweep_dir / BEST_FILE, document)
    return document
