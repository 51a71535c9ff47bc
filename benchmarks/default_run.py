"""The default recipe end to end in a fresh cache: per-pass wall time, total, and the cached re-run ratio."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from _common import pass_seconds, recipecc_run, stamp, write_result


def main() -> None:
    overrides = sys.argv[1:]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        first_s, first = recipecc_run(root / "cache", root / "first", *overrides)
        cached_s, _ = recipecc_run(root / "cache", root / "cached", *overrides)
    stages = {
        s["name"]: {
            "top1": s["metrics"]["top1"],
            "size_bytes": s["size_bytes"],
            "latency_ms": {str(r["threads"]): {"median": r["median_ms"], "p90": r["p90_ms"]} for r in s["latency"]},
        }
        for s in first["stages"]
    }
    data = {
        **stamp(),
        "recipe": first["recipe"],
        "overrides": overrides,
        "first_run_s": round(first_s, 2),
        "pass_seconds": pass_seconds(first),
        "cached_rerun_s": round(cached_s, 2),
        "cached_rerun_ratio": round(cached_s / first_s, 4),
        "stages": stages,
    }
    print(json.dumps(data, indent=2))
    print(f"wrote {write_result('default_run', data)}")


if __name__ == "__main__":
    main()
