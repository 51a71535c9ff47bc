"""The default demo segmentation recipe end to end in a fresh cache (goal: under 5 minutes on 2 cores).

    python benchmarks/segmentation_demo.py [recipe=deeplabv3_mnv2_quant] [overrides...]

Writes ``results/segmentation_demo.json``: wall time of the whole run and of each pass, and every stage's mIoU,
size and latency, so the README's segmentation figures come from a file, not from memory.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from _common import pass_seconds, recipecc_run, stamp, write_result

GOAL_S = 300.0


def main() -> None:
    overrides = sys.argv[1:] or ["recipe=deeplabv3_mnv2_quant"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        seconds, results = recipecc_run(root / "cache", root / "run", *overrides)
    data = {
        **stamp(),
        "recipe": results["recipe"],
        "overrides": overrides,
        "run_s": round(seconds, 2),
        "goal_s": GOAL_S,
        "within_goal": seconds <= GOAL_S,
        "pass_seconds": pass_seconds(results),
        "stages": {
            s["name"]: {
                "metrics": s["metrics"],
                "size_bytes": s["size_bytes"],
                "latency_ms": {str(r["threads"]): r["median_ms"] for r in s["latency"]},
            }
            for s in results["stages"]
        },
    }
    print(json.dumps(data, indent=2))
    print(f"wrote {write_result('segmentation_demo', data)}")


if __name__ == "__main__":
    main()
