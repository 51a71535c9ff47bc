"""A 3-point prune-ratio sweep, from a fresh cache: what each job costs, how much the shared stages save, and
what two joblib workers change.

    python benchmarks/sweep.py                         # the default recipe (several minutes per job)
    python benchmarks/sweep.py recipe=digits_smoke     # seconds per job

Writes ``benchmarks/results/sweep[_<recipe>].json``: per job its wall time (from its ``job.json``) and which
passes it ran or took from the cache, then the same sweep with ``hydra/launcher=joblib hydra.launcher.n_jobs=2``
in another fresh cache. The goals: jobs 2 and 3 together take less than job 1 (training comes from the cache),
and the joblib sweep's wall time is lower.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import machine, write_result

RATIOS = "0.3,0.5,0.7"


def sweep(cache: Path, sweep_dir: Path, *args: str) -> tuple[float, list[dict[str, Any]]]:
    env = {**os.environ, "RECIPECC_CACHE": str(cache)}
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "recipecc.cli", "run", "-m", f"strategy.prune.ratio={RATIOS}",
         f"hydra.sweep.dir={sweep_dir}", *args],
        check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    jobs = [json.loads((sweep_dir / str(n) / "job.json").read_text()) for n in range(3)]
    return seconds, jobs


def main() -> None:
    overrides = sys.argv[1:]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        serial_s, jobs = sweep(root / "cache-serial", root / "serial", *overrides)
        parallel_s, parallel_jobs = sweep(
            root / "cache-joblib", root / "joblib", *overrides, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"
        )
    per_job = [
        {
            "overrides": job["overrides"],
            "seconds": round(job["seconds"], 1),
            "ran": job["executed"],
            "cached": job["cached"],
        }
        for job in jobs
    ]
    later = per_job[1]["seconds"] + per_job[2]["seconds"]
    recipe = next((o.split("=", 1)[1] for o in overrides if o.startswith("recipe=")), "digits_prune_quant")
    data = {
        "what": f"3-point prune-ratio sweep ({RATIOS}) of {recipe}, fresh cache each time",
        "date": dt.date.today().isoformat(),
        "machine": machine(),
        "overrides": overrides,
        "serial": {
            "wall_s": round(serial_s, 1),
            "jobs": per_job,
            "jobs_2_and_3_s": round(later, 1),
            "job_1_s": per_job[0]["seconds"],
            "goal_jobs_2_3_below_job_1": later < per_job[0]["seconds"],
        },
        "joblib_2_workers": {
            "wall_s": round(parallel_s, 1),
            "speedup_vs_serial": round(serial_s / parallel_s, 2),
            "jobs": [{"seconds": round(j["seconds"], 1), "ran": j["executed"]} for j in parallel_jobs],
        },
    }
    name = "sweep" if recipe == "digits_prune_quant" else f"sweep_{recipe}"
    print(json.dumps(data, indent=2))
    print(write_result(name, data))


if __name__ == "__main__":
    main()
