"""The default recipe end to end in a fresh cache: per-pass wall time, total, and the cached re-run ratio."""

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


def run(cache: Path, run_dir: Path, *overrides: str) -> tuple[float, dict[str, Any]]:
    env = {**os.environ, "RECIPECC_CACHE": str(cache)}
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "recipecc.cli", "run", f"hydra.run.dir={run_dir}", *overrides],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    seconds = time.perf_counter() - start
    return seconds, json.loads((run_dir / "results.json").read_text())


def main() -> None:
    overrides = sys.argv[1:]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        first_s, first = run(root / "cache", root / "first", *overrides)
        cached_s, _ = run(root / "cache", root / "cached", *overrides)
    passes = {p["node"]: round(p["seconds"], 2) for p in first["provenance"]["passes"] if not p["cached"]}
    stages = {
        s["name"]: {
            "top1": s["metrics"]["top1"],
            "size_bytes": s["size_bytes"],
            "latency_ms": {str(r["threads"]): {"median": r["median_ms"], "p90": r["p90_ms"]} for r in s["latency"]},
        }
        for s in first["stages"]
    }
    data = {
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "recipe": first["recipe"],
        "overrides": overrides,
        "first_run_s": round(first_s, 2),
        "pass_seconds": passes,
        "cached_rerun_s": round(cached_s, 2),
        "cached_rerun_ratio": round(cached_s / first_s, 4),
        "stages": stages,
    }
    print(json.dumps(data, indent=2))
    print(f"wrote {write_result('default_run', data)}")


if __name__ == "__main__":
    main()
