"""int8 against fp32 at 1 thread for every seed classification architecture on the three host runtimes.

    python benchmarks/int8_speed.py [--archs mobilenet_v1,mobilenet_v2,resnet50] [--rounds 30]

For each architecture (untrained: speed does not depend on the weights' values) and each host target
(``host``: Paddle Inference with oneDNN; ``host_ort``: ONNX Runtime; ``pc_xnnpack``: TFLite with XNNPACK), recipecc
builds the fp32 and int8 models with ``strategy=int8`` exactly as a user's run does, then
``benchmarks/_pair_timing.py`` times the two deployable files from the run folder in one process, call for call in
alternation, so that a change of load on a shared machine slows both alike. recipecc's own per-stage figures
(measured one stage after the other) are kept beside them. Calibration is cut to 32 images (speed does not depend
on the calibration values), and ONNX Runtime's calibration is fixed at MinMax instead of the six-candidate search.

Writes ``benchmarks/results/int8_speed.json`` with the machine (CPU flags that decide int8 speed, load averages).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import RESULTS, int8_machine, recipecc_run, write_result

logger = logging.getLogger(__name__)

ARCHS = ("mobilenet_v1", "mobilenet_v2", "resnet50")

#: target -> (runtime the pair timer loads, extra overrides)
TARGETS: dict[str, tuple[str, tuple[str, ...]]] = {
    "host": ("paddle_inference", ()),
    "host_ort": ("onnxruntime", ("strategy.quant.algo=minmax",)),
    "pc_xnnpack": ("tflite", ()),
}

COMMON = (
    "recipe=mobilenetv1_quant",
    "strategy=int8",
    "target.threads=[1]",
    "bench.warmup=5",
    "bench.repeats=20",
    "dataset.max_images=96",
    "strategy.quant.batch_size=16",
    "strategy.quant.batch_nums=2",
)


def _model_path(run_dir: Path, stage: dict[str, Any]) -> Path:
    path = Path(stage["files"]["model"])
    return path if path.is_absolute() else run_dir / path


def _one(cache: Path, out: Path, arch: str, target: str, rounds: int) -> dict[str, Any]:
    runtime, extra = TARGETS[target]
    run_dir = out / f"{arch}-{target}"
    seconds, results = recipecc_run(cache, run_dir, *COMMON, f"model={arch}", f"target={target}", *extra)
    stages = {s["name"]: s for s in results["stages"]}
    fp32, int8 = stages["baseline"], stages["int8"]
    timer = Path(__file__).with_name("_pair_timing.py")
    proc = subprocess.run(
        [
            sys.executable,
            str(timer),
            runtime,
            str(_model_path(run_dir, fp32)),
            str(_model_path(run_dir, int8)),
            f"--rounds={rounds}",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    paired = json.loads(proc.stdout.strip().splitlines()[-1])

    def row_of(stage: dict[str, Any]) -> dict[str, Any]:
        return next((r for r in stage.get("latency", []) if int(r["threads"]) == 1), {})

    def recorded(stage: dict[str, Any]) -> float | None:
        return float(row_of(stage)["median_ms"]) if row_of(stage) else None

    return {
        "arch": arch,
        "target": target,
        "runtime": runtime,
        "engine": {
            s: next((r.get("engine") for r in stages[s].get("latency", [])), None) for s in ("baseline", "int8")
        },
        "size_bytes": {"fp32": fp32["size_bytes"], "int8": int8["size_bytes"]},
        "paired": paired,
        "recipecc_stage_median_ms": {"fp32": recorded(fp32), "int8": recorded(int8)},
        # what recipecc's own rows recorded about the load they met (timed one stage after the other)
        "recipecc_stage_cpu": {
            name: {k: row_of(s).get(k) for k in ("cpu_median_ms", "cpu_share", "contended")}
            for name, s in (("fp32", fp32), ("int8", int8))
        },
        "recipecc_speedup_cpu": int8.get("vs_baseline", {}).get("speedup_cpu", {}).get("1"),
        **(
            {"delegation": {"fp32": row_of(fp32)["delegation"], "int8": row_of(int8)["delegation"]}}
            if "delegation" in row_of(int8)
            else {}
        ),
        "quality_vs_fp32": {k: v for k, v in int8.get("metrics", {}).items() if k in ("top1_agreement", "cosine")},
        "build_seconds": round(seconds, 1),
        "loadavg_after_1_5_15_min": [round(x, 2) for x in os.getloadavg()],
    }


_LABELS = {"host": "Paddle Inference (oneDNN)", "host_ort": "ONNX Runtime", "pc_xnnpack": "TFLite XNNPACK"}


def notes(rows: list[dict[str, Any]]) -> list[str]:
    """What the rows say beyond the table, built from their own figures (and ``xnnpack_int8_kernels.json``)."""
    said = []
    for row in rows:
        name = f"{row['arch']} on {_LABELS[row['target']]}"
        paired = row["paired"]
        if "speedup_cpu_median" in paired:
            said.append(
                f"{name}: fp32/int8 time {paired['speedup_median']:.2f}x by paired wall time (>1: int8 faster), "
                f"{paired['speedup_cpu_median']:.2f}x by CPU time per call (fp32 {paired['fp32']['cpu_median_ms']:.1f} "
                f"ms, int8 {paired['int8']['cpu_median_ms']:.1f} ms; the timer had "
                f"{min(paired['fp32']['cpu_share'], paired['int8']['cpu_share']):.0%} of a core)"
            )
        stage_cpu = row.get("recipecc_stage_cpu", {})
        if any((stage_cpu.get(k) or {}).get("contended") for k in ("fp32", "int8")):
            said.append(
                f"{name}: recipecc's own stage rows were contended (CPU share fp32 "
                f"{stage_cpu['fp32']['cpu_share']:.0%}, int8 {stage_cpu['int8']['cpu_share']:.0%}); by their CPU "
                f"time per call int8/fp32 is {1 / row['recipecc_speedup_cpu']:.2f} (fp32 "
                f"{stage_cpu['fp32']['cpu_median_ms']:.1f} ms, int8 {stage_cpu['int8']['cpu_median_ms']:.1f} ms), "
                "and recipecc's report says so beside the wall-clock figures"
            )
        if "delegation" in row:
            said.append(f"{name}: XNNPACK took fp32 {row['delegation']['fp32']}; int8 {row['delegation']['int8']}")
    kernels = RESULTS / "xnnpack_int8_kernels.json"
    if kernels.is_file():
        for layer in json.loads(kernels.read_text())["rows"]:
            said.append(
                f"XNNPACK kernels alone ({layer['layer']}, xnnpack_int8_kernels.json): fp32 "
                f"{layer['fp32']['gmac_per_s_cpu']} GMAC/s, int8 {layer['int8']['gmac_per_s_cpu']} GMAC/s "
                f"(int8 {layer['fp32_over_int8_cpu']:.2f}x)"
            )
    return said


def table(result: dict[str, Any]) -> str:
    """The README's table: one row per architecture, fp32 -> int8 median ms and the speed-up per runtime."""
    targets = [t for t in TARGETS if any(r["target"] == t for r in result["rows"])]
    lines = [
        "| architecture | " + " | ".join(_LABELS[t] for t in targets) + " |",
        "|---|" + "---|" * len(targets),
    ]
    listed = dict.fromkeys(r["arch"] for r in result["rows"])
    for arch in sorted(listed, key=lambda a: ARCHS.index(a) if a in ARCHS else len(ARCHS)):
        cells = []
        for target in targets:
            row = next((r for r in result["rows"] if r["arch"] == arch and r["target"] == target), None)
            if row is None:
                cells.append("not measured")
                continue
            paired = row["paired"]
            cell = (
                f"{paired['fp32']['median_ms']:.1f} -> {paired['int8']['median_ms']:.1f} ms "
                f"({paired['speedup_median']:.2f}x)"
            )
            if "speedup_cpu_median" in paired:  # the CPU time per call: what the load did not inflate
                cell += (
                    f"; CPU {paired['fp32']['cpu_median_ms']:.1f} -> {paired['int8']['cpu_median_ms']:.1f} ms "
                    f"({paired['speedup_cpu_median']:.2f}x)"
                )
            cells.append(cell)
        lines.append(f"| {arch} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archs", default=",".join(ARCHS))
    parser.add_argument("--targets", default=",".join(TARGETS))
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--table", action="store_true", help="print the README table from the last result and stop")
    args = parser.parse_args()
    if args.table:
        print(table(json.loads((RESULTS / "int8_speed.json").read_text())))
        return
    cache = Path(os.environ.get("RECIPECC_CACHE") or Path(tempfile.gettempdir()) / "recipecc-int8-speed-cache")
    out = Path(tempfile.mkdtemp(prefix="int8-speed-"))
    measured = {(a, t) for a in args.archs.split(",") for t in args.targets.split(",")}
    previous = json.loads((RESULTS / "int8_speed.json").read_text()) if (RESULTS / "int8_speed.json").is_file() else {}
    # rows of other architectures / targets from an earlier run stay (each row is timed within itself)
    rows: list[dict[str, Any]] = [r for r in previous.get("rows", []) if (r["arch"], r["target"]) not in measured]
    load_before = os.getloadavg()

    def save() -> Path:  # after every row: a long run cut short keeps what it measured
        return write_result(
            "int8_speed",
            {
                "what": "int8 vs fp32 latency at 1 thread, batch 1, untrained seed architectures at 224x224, "
                "timed call for call in alternation in one process per runtime (median of `rounds` calls each)",
                "machine": int8_machine(load_before),
                "loaded_machine": max(load_before[0], os.getloadavg()[0]) > (os.cpu_count() or 1),
                "rounds": args.rounds,
                "rows": rows,
                "notes": notes(rows),
            },
        )

    for arch in args.archs.split(","):
        for target in args.targets.split(","):
            logger.info("%s on %s ...", arch, target)
            row = _one(cache, out, arch, target, args.rounds)
            logger.info(
                "  fp32 %.2f ms, int8 %.2f ms: %.2fx",
                row["paired"]["fp32"]["median_ms"],
                row["paired"]["int8"]["median_ms"],
                row["paired"]["speedup_median"],
            )
            rows.append(row)
            path = save()
    logger.info("wrote %s", path)


if __name__ == "__main__":
    main()
