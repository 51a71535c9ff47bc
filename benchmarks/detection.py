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
import os
import resource
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
                str(r["threads"]): {
                    "median": r.get("median_ms"),
                    "p90": r.get("p90_ms"),
                    "cpu_median": r.get("cpu_median_ms"),
                    "cpu_share": r.get("cpu_share"),
                    "source": r.get("source"),
                }
                for r in s["latency"]
            },
        }
        for s in results["stages"]
    }


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def demo(root: Path) -> dict[str, Any]:
    overrides = ["recipe=yolov3_shapes"]
    cpu_before, load_before = _children_cpu_s(), os.getloadavg()[0]
    seconds, results = recipecc_run(root / "cache-demo", root / "demo", *overrides)
    cpu = _children_cpu_s() - cpu_before
    anchors = results.get("dataset", {}).get("anchors")
    return {
        "overrides": overrides,
        "first_run_s": round(seconds, 2),
        # CPU seconds of recipecc and its workers: what the run costs whatever else shares the 2 cores
        "cpu_s": round(cpu, 2),
        "loadavg_1min_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "goal_s": 300,
        **({"anchors": anchors} if anchors else {}),
        "pass_seconds": pass_seconds(results),
        "stages": stage_summary(results),
    }


def speed(root: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for target in ("host", "host_ort"):
        # speed only: two calibration batches, and one fixed ONNX Runtime method instead of the six-way
        # calibration search (which would re-time six int8 candidates at 608)
        overrides = [
            "recipe=yolov3_mnv1_quant",
            f"target={target}",
            "target.threads=[1]",
            "bench.warmup=5",
            "bench.repeats=30",
            "strategy.quant.batch_nums=2",
            # untrained at 608: the train pass only sets batch-norm statistics (24 batches of up to 16 images);
            # eight images make that a few minutes instead of half an hour on a loaded host
            "dataset.max_images=8",
            "dataset.eval_images=8",
            *(["strategy.quant.algo=minmax"] if target == "host_ort" else []),
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
            # by CPU time per call: what the call costs when other processes hold the cores (a shared host)
            "int8_speedup_1_thread_cpu": int8.get("vs_baseline", {}).get("speedup_cpu", {}).get("1"),
            "cpu_share": {s["name"]: s["latency"][0].get("cpu_share") for s in (fp32, int8)},
            "int8_faster": bool(t_fp32 and t_int8 and t_int8 < t_fp32),
        }
    return out


def main() -> None:
    parts = sys.argv[1:] or ["demo", "speed"]
    measured: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if "demo" in parts:
            measured["demo"] = demo(root)
        if "speed" in parts:
            measured["yolov3_mnv1_608_int8"] = speed(root)
    # read the file only now: a part measured by another run meanwhile (the other part) is kept as it is
    previous = RESULTS / "detection.json"
    data: dict[str, Any] = json.loads(previous.read_text()) if previous.is_file() else {}
    data |= stamp() | measured
    print(json.dumps(data, indent=2))
    print(f"wrote {write_result('detection', data)}")


if __name__ == "__main__":
    main()
