"""The default recipe end to end in a fresh cache: per-pass wall time, total, and the cached re-run ratio."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from _common import children_cpu_s, pass_seconds, recipecc_run, stamp, write_result


def main() -> None:
    overrides = sys.argv[1:]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cpu_before = children_cpu_s()
        first_s, first = recipecc_run(root / "cache", root / "first", *overrides)
        first_cpu_s = children_cpu_s() - cpu_before
        cached_s, _ = recipecc_run(root / "cache", root / "cached", *overrides)
    stages = {
        s["name"]: {
            "top1": s["metrics"]["top1"],
            "size_bytes": s["size_bytes"],
            "latency_ms": {
                str(r["threads"]): {
                    "median": r["median_ms"],
                    "p90": r["p90_ms"],
                    # CPU time per call and the share of wall time the process had the CPU: on a loaded host the
                    # wall times are not this machine's speed (a 1-thread row under 80% is marked contended)
                    "cpu_median": r.get("cpu_median_ms"),
                    "cpu_share": r.get("cpu_share"),
                    "contended": r.get("contended"),
                }
                for r in s["latency"]
            },
        }
        for s in first["stages"]
    }
    data = {
        **stamp(),
        "recipe": first["recipe"],
        "overrides": overrides,
        "first_run_s": round(first_s, 2),
        "first_run_cpu_s": round(first_cpu_s, 2),
        "pass_seconds": pass_seconds(first),
        "cached_rerun_s": round(cached_s, 2),
        "cached_rerun_ratio": round(cached_s / first_s, 4),
        "stages": stages,
    }
    print(json.dumps(data, indent=2))
    print(f"wrote {write_result('default_run', data)}")


if __name__ == "__main__":
    main()
