"""Detection end to end on the generated shapes set: train briefly, prune, quantize, mAP for every stage; and a
multi-output ONNX detector (a user's file) through the ONNX Runtime path.

The numbers are small (seconds of training at 64x64), so the tests assert what must hold whatever the accuracy:
every stage is scored with COCO AP by pycocotools, its detections are a COCO results file that recomputes the
same AP against the ground truth the run names, and compression shrinks the model as it should.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from recipecc.metrics.detection import coco_ap

pytestmark = pytest.mark.backend

ROOT = Path(__file__).resolve().parents[1]
SMALL = [
    "model.input_size=64",
    "model.train.epochs=2",
    "dataset.max_images=16",
    "dataset.eval_images=8",
    "bench.warmup=2",
    "bench.repeats=5",
    "target.threads=[1]",
]


def _run(run_dir: Path, cache: Path, *overrides: str) -> dict[str, Any]:
    env = {**os.environ, "RECIPECC_CACHE": str(cache), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "recipecc.cli", "run", f"hydra.run.dir={run_dir}", *overrides],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results: dict[str, Any] = json.loads((run_dir / "results.json").read_text())
    return results


def _check_detection_stages(run_dir: Path, results: dict[str, Any]) -> None:
    assert results["task"] == "detection" and results["quality_metric"] == "map"
    annotations = run_dir / results["dataset"]["annotations"]
    ground_truth = json.loads(annotations.read_text())
    assert ground_truth["annotations"] and ground_truth["categories"]
    for stage in results["stages"]:
        metrics = stage["metrics"]
        assert 0.0 <= metrics["map"] <= metrics["map50"] <= 1.0
        detections_file = Path(stage["files"]["detections"])
        detections = json.loads(
            (detections_file if detections_file.is_absolute() else run_dir / detections_file).read_text()
        )
        # two epochs from the head's prior may leave no box above the 0.005 confidence: then the file is empty
        assert all({"image_id", "category_id", "bbox", "score"} <= set(record) for record in detections)
        # anyone can recompute the stage's number from the two files the run names
        assert coco_ap(ground_truth, detections)["map"] == pytest.approx(metrics["map"], abs=1e-9)


def test_yolov3_trains_prunes_quantizes_and_reports_map(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    results = _run(run_dir, tmp_path / "cache", "recipe=yolov3_shapes", *SMALL, "strategy.finetune.epochs=1")
    assert [s["name"] for s in results["stages"]] == ["baseline", "pruned", "pruned+int8"]
    _check_detection_stages(run_dir, results)
    sizes = {s["name"]: s["size_bytes"] for s in results["stages"]}
    assert sizes["pruned"] < 0.45 * sizes["baseline"]  # half the neck's filters: ~37% of the weights stay
    assert sizes["pruned+int8"] < 0.5 * sizes["pruned"]
    assert "mAP" in (run_dir / "report.md").read_text()
    for stage in results["stages"]:  # beside each exported model: what decoding it takes, as the run decoded it
        facts = json.loads((run_dir / stage["files"]["detector"]).read_text())
        assert Path(stage["files"]["detector"]).parent == Path(stage["files"]["model"])
        assert facts["anchors"] == results["dataset"]["anchors"]["anchors"]
        assert facts["strides"] == [32, 16, 8] and facts["input"]["size"] == [64, 64]
        assert facts["classes"] == ["circle", "square", "triangle", "diamond"]


def test_a_multi_output_onnx_detector_runs_through_onnx_runtime(tmp_path: Path) -> None:
    """A YOLOv3 exported to ONNX elsewhere (three head outputs), given as a file: scored, quantized, compared."""
    model = tmp_path / "yolov3.onnx"
    script = (
        "import zlib, paddle\n"
        "from recipecc.passes.paddle.yolov3 import YOLOv3\n"
        "paddle.seed(0)\n"
        "m = YOLOv3('mobilenet_v1', 4, width=0.25); m.eval()\n"
        f"prefix = {str(tmp_path / 'paddle' / 'model')!r}\n"
        "paddle.jit.save(m, prefix, input_spec=[paddle.static.InputSpec([1, 3, 64, 64], 'float32', 'image')])\n"
        "import paddle2onnx\n"
        f"paddle2onnx.export(prefix + '.pdmodel', prefix + '.pdiparams', save_file={str(model)!r}, opset_version=13)\n"
    )
    subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    run_dir = tmp_path / "run"
    results = _run(
        run_dir,
        tmp_path / "cache",
        "model=file",
        f"model.path={model}",
        "model.task=detection",
        "model.num_classes=4",
        "model.input_shape=[1,3,64,64]",
        "dataset=shapes_coco",
        "strategy=quant",
        # one calibration: `auto` would calibrate, score and time six candidates, and Entropy's KL search over
        # every activation of a YOLOv3 costs minutes (the search has its own tests: test_onnx_calibration.py)
        "strategy.quant.algo=minmax",
        "target=host_ort",
        *[o for o in SMALL if not o.startswith("model.")],
    )
    assert [s["name"] for s in results["stages"]] == ["baseline", "int8"]
    _check_detection_stages(run_dir, results)
    outputs = results["stages"][0]["model"].get("outputs") or results["stages"][0]["evaluation"].get("outputs")
    assert outputs  # every output of the model was seen
