"""A 3-point prune-ratio sweep, from a fresh cache: what each job costs, how much the shared stages save, and
what two joblib workers change.

    python benchmarks/sweep.py                         # the default recipe
    python benchmarks/sweep.py recipe=digits_smoke     # another recipe (any overrides)
    python benchmarks/sweep.py --reuse-serial DIR      # only the joblib sweep; the serial one from a finished folder

Writes ``benchmarks/results/sweep[_<recipe>].json``: per job its wall time (from its ``job.json``), when it started
relative to the sweep, and which passes it ran (with their seconds) or took from the cache; then the same sweep with
``hydra/launcher=joblib hydra.launcher.n_jobs=2`` in another fresh cache. The goals: jobs 2 and 3 together take less
than job 1 (the shared stages come from the cache), and the joblib sweep's wall time drops.

What two workers can gain is bounded by the shared stages: every job needs the trained baseline, so job 2 waits for
job 1's training (one lock per cache entry) and only the job-specific stages overlap. ``ideal_2_workers_s`` is that
bound computed from the serial sweep's own pass times (no contention). The machine may be shared: the load average
is sampled during each sweep and written with the figures, with the CPU seconds the sweep's processes used.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import resource
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from _common import pass_seconds, recipecc_cli, stamp, write_result

RATIOS = "0.3,0.5,0.7"


class LoadSampler:
    """The 1-minute load average every few seconds while a sweep runs (other work on the machine shows here)."""

    def __init__(self, every_s: float = 5.0) -> None:
        self.every_s = every_s
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(os.getloadavg()[0])
            self._stop.wait(self.every_s)

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> dict[str, float]:
        s = self.samples or [os.getloadavg()[0]]
        return {"mean": round(sum(s) / len(s), 2), "min": round(min(s), 2), "max": round(max(s), 2)}


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def sweep(cache: Path, sweep_dir: Path, *args: str) -> dict[str, Any]:
    """Run one sweep; its wall and CPU seconds, the load during it, and each job's record."""
    cpu_before = _children_cpu_s()
    with LoadSampler() as load:
        wall = recipecc_cli(cache, "run", "-m", f"strategy.prune.ratio={RATIOS}", f"hydra.sweep.dir={sweep_dir}", *args)
    return {**finished_sweep(sweep_dir), "wall_s": round(wall, 1), "cpu_s": round(_children_cpu_s() - cpu_before, 1),
            "load_1min_during": load.summary()}  # fmt: skip


def reused_sweep(sweep_dir: Path) -> dict[str, Any]:
    """A finished sweep folder from an earlier run of this script (``--reuse-serial DIR``, when one sweep takes
    long on a loaded machine): its wall time is from the first job's start to the report's write time (the up-front
    validation before the first job is not in it); CPU seconds and load were not sampled."""
    done = finished_sweep(sweep_dir)
    first = min(dt.datetime.fromisoformat(json.loads((sweep_dir / str(n) / "job.json").read_text())["started"])
                for n in range(3))  # fmt: skip
    report = dt.datetime.fromtimestamp((sweep_dir / "sweep.json").stat().st_mtime, dt.timezone.utc)
    wall = (report - first).total_seconds()
    return {**done, "wall_s": round(wall, 1), "cpu_s": None, "load_1min_during": None, "reused_from": str(sweep_dir)}


def finished_sweep(sweep_dir: Path) -> dict[str, Any]:
    """Each job's record of a finished 3-job sweep, with the seconds of the passes it ran."""
    jobs = []
    for n in range(3):
        record = json.loads((sweep_dir / str(n) / "job.json").read_text())
        results = json.loads(Path(record["results"]).read_text())
        jobs.append({**record, "pass_seconds": pass_seconds(results, digits=1)})
    started = [dt.datetime.fromisoformat(job["started"]) for job in jobs]
    first = min(started)
    return {
        "jobs": [
            {
                "overrides": job["overrides"],
                "started_at_s": (when - first).total_seconds(),
                "seconds": round(job["seconds"], 1),
                "ran": job["pass_seconds"],
                "cached": job["cached"],
            }
            for job, when in zip(jobs, started, strict=True)
        ],
    }


def ideal_two_workers(serial_jobs: list[dict[str, Any]]) -> float:
    """The 2-worker wall time the serial sweep's own pass times allow: jobs 1 and 2 start together, job 2 waits
    for the stages job 1 computes and the later jobs take from the cache, job 3 starts when a worker frees up."""
    first = serial_jobs[0]
    shared = sum(s for node, s in first["ran"].items() if node in set(serial_jobs[1]["cached"]))
    own = [first["seconds"] - shared, serial_jobs[1]["seconds"], serial_jobs[2]["seconds"]]
    ends = [shared + own[0], shared + own[1]]
    return round(max(*ends, min(ends) + own[2]), 1)


def main() -> None:
    overrides = sys.argv[1:]
    reuse = None
    if overrides[:1] == ["--reuse-serial"]:
        reuse, overrides = Path(overrides[1]), overrides[2:]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        serial = reused_sweep(reuse) if reuse else sweep(root / "cache-serial", root / "serial", *overrides)
        joblib = sweep(
            root / "cache-joblib", root / "joblib", *overrides, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"
        )
    jobs = serial["jobs"]
    later = jobs[1]["seconds"] + jobs[2]["seconds"]
    recipe = next((o.split("=", 1)[1] for o in overrides if o.startswith("recipe=")), "digits_prune_quant")
    ideal = ideal_two_workers(jobs)
    data = {
        "what": f"3-point prune-ratio sweep ({RATIOS}) of {recipe}, fresh cache each time",
        **stamp(),
        "overrides": overrides,
        "serial": {
            **serial,
            "job_1_s": jobs[0]["seconds"],
            "jobs_2_and_3_s": round(later, 1),
            "goal_jobs_2_3_below_job_1": later < jobs[0]["seconds"],
        },
        "joblib_2_workers": {
            **joblib,
            "speedup_vs_serial": round(serial["wall_s"] / joblib["wall_s"], 2),
            "ideal_2_workers_s": ideal,
            "ideal_speedup_vs_serial": round(sum(j["seconds"] for j in jobs) / ideal, 2),
        },
    }
    name = "sweep" if recipe == "digits_prune_quant" else f"sweep_{recipe}"
    print(json.dumps(data, indent=2))
    print(write_result(name, data))


if __name__ == "__main__":
    main()
