"""Helpers for the benchmark scripts: how recipecc is run, where results go, how the machine is described."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from recipecc.common.cpu import INT8_VNNI_FLAGS, cpu_facts
from recipecc.plan.measurement import cpu_model

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    """The CPU, its cores, Python, and the load averages when the benchmark wrote its result (the machine may be
    shared: a figure measured under load says so)."""
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "loadavg_1_5_15_min": [round(x, 2) for x in os.getloadavg()],
    }


def int8_machine(load_before: tuple[float, float, float] | list[float]) -> dict[str, Any]:
    """:func:`machine` plus what decides int8 speed here: the vector ISA, VNNI, and the load when timing began."""
    facts = cpu_facts()
    return {
        **machine(),
        "vector_isa": facts.vector_isa,
        "int8_vnni": facts.int8_vnni,
        "vnni_flags_present": sorted(INT8_VNNI_FLAGS & facts.flags),
        "loadavg_at_start": [round(x, 2) for x in load_before],
    }


def children_cpu_s() -> float:
    """CPU seconds used so far by this script's finished child processes (recipecc and its workers): what a run
    costs whatever else shares the cores, unlike its wall time."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def stamp() -> dict[str, Any]:
    """When a result was written and on what machine (the first keys of every result file)."""
    return {"created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "machine": machine()}


def pass_seconds(results: dict[str, Any], digits: int = 2) -> dict[str, float]:
    """Seconds of each pass a run executed (cached and failed passes have none), from its ``results.json``."""
    passes = results["provenance"]["passes"]
    return {p["node"]: round(p["seconds"], digits) for p in passes if not p.get("cached") and "seconds" in p}


def recipecc_cli(cache: Path, *args: str) -> float:
    """Run ``python -m recipecc.cli ARGS`` with its own cache (its progress on stderr stays visible); returns the
    wall seconds."""
    env = {**os.environ, "RECIPECC_CACHE": str(cache)}
    start = time.perf_counter()
    cmd = [sys.executable, "-m", "recipecc.cli", *args]
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def recipecc_run(cache: Path, run_dir: Path, *overrides: str) -> tuple[float, dict[str, Any]]:
    """``recipecc run`` into ``run_dir``: the wall seconds and the run's ``results.json``."""
    seconds = recipecc_cli(cache, "run", f"hydra.run.dir={run_dir}", *overrides)
    return seconds, json.loads((run_dir / "results.json").read_text())


def write_result(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)
    return path
