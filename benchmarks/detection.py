"""Detection through recipecc, end to end, on this host (run by hand; writes benchmarks/results/detection.json).

1. The default detection demo (``recipe=yolov3_shapes``) in a fresh cache: total wall time (goal: under 5 minutes on
   2 cores), per-pass seconds, mAP of every stage.
2. YOLOv3-MobileNetV1 at 608x608, fp32 against static int8, at 1 thread, on Paddle Inference (``target=host``) and
   on ONNX Runtime (``target=host_ort``): the latencies recipecc measured (goal: int8 faster on both), and sizes.

    python benchmarks/detection.py              # both parts
    python benchmarks/detection.py demo         # only part 1
    python benchmarks/detection.py speed        # only part 2
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import RESULTS, pass_seconds, recipecc_run, stamp, write_result


def stage_summary(results: dict[str, Any]) -> dict[str, Any]:
    return {
        s["name"]: {
            "metrics": {k: v for k, v in s["metrics"].items() if isinstance(v, int | float)},
            "size_bytes": s["size_bytes"],
            "latency_ms": {
                str(r["threads"]): {"median": r.get("median_ms"), "p90": r.get("p90_ms"), "source": r.get("source")}
                for r in s["latency"]
            },
        }
        for s in results["stages"]
    }


def demo(root: Path) -> dict[str, Any]:
    overrides = ["recipe=yolov3_shapes"]
    seconds, results = recipecc_run(root / "cache-demo", root / "demo", *overrides)
    return {
        "overrides": overrides,
        "first_run_s": round(seconds, 2),
        "goal_s": 300,
        "pass_seconds": pass_seconds(results),
        "stages": stage_summary(results),
    }


def speed(root: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for target in ("host", "host_ort"):
        overrides = [
            "recipe=yolov3_mnv1_quant",
            f"target={target}",
            "target.threads=[1]",
            "bench.warmup=5",
            "bench.repeats=30",
        ]
        seconds, results = recipecc_run(root / f"cache-{target}", root / f"speed-{target}", *overrides)
        stages = stage_summary(results)
        fp32, int8 = results["stages"][0], results["stages"][-1]
        t_fp32 = fp32["latency"][0]["median_ms"]
        t_int8 = int8["latency"][0]["median_ms"]
        out[target] = {
            "overrides": overrides,
            "run_s": round(seconds, 2),
            "stages": stages,
            "int8_speedup_1_thread": round(t_fp32 / t_int8, 3) if t_fp32 and t_int8 else None,
            "int8_faster": bool(t_fp32 and t_int8 and t_int8 < t_fp32),
        }
    return out


def main() -> None:
    parts = sys.argv[1:] or ["demo", "speed"]
    previous = RESULTS / "detection.json"
    data: dict[str, Any] = json.loads(previous.read_text()) if previous.is_file() else {}
    data |= stamp()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if "demo" in parts:
            data["demo"] = demo(root)
        if "speed" in parts:
            data["yolov3_mnv1_608_int8"] = speed(root)
    print(json.dumps(data, indent=2))
    print(f"wrote {write_result('detection', data)}")


if __name__ == "__main__":
    main()
