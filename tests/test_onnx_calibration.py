"""Default int8 on ONNX Runtime keeps a dense model usable: the calibration search beats MinMax where it breaks.

The model has the failure shape of a real text detector (``onnx_models.dense_map_model``): MinMax calibration
leaves the thresholded probability map at IoU ~0.1 against fp32; the default (``strategy=int8``, ``algo: auto``)
must find a calibration that keeps it, report every candidate, and Entropy must really reach ONNX Runtime.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from onnx_models import dense_map_model

from recipecc.engine import RunOutcome, run_recipe
from recipecc.recipe import compose_recipe, validate_recipe

pytestmark = pytest.mark.backend
pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from PIL import Image

    root = tmp_path_factory.mktemp("pages")
    rng = np.random.RandomState(1)
    for i in range(40):
        Image.fromarray(rng.randint(0, 255, size=(64, 64, 3), dtype=np.uint8)).save(root / f"page{i:02d}.png")
    model = dense_map_model(tmp_path_factory.mktemp("model") / "detector.onnx")
    return {"images": root, "model": model, "cache": tmp_path_factory.mktemp("cache")}


def run(setup: dict[str, Path], run_dir: Path, *overrides: str) -> RunOutcome:
    recipe = [
        f"cache_dir={setup['cache']}", "target=host_ort", "target.threads=[1]", "model=file",
        f"model.path={setup['model']}", "dataset=image_folder", f"dataset.root={setup['images']}",
        "dataset.size=[64,64]", "dataset.mean=[0.5,0.5,0.5]", "dataset.std=[0.25,0.25,0.25]",
        "dataset.calibration_images=28", "dataset.eval_images=12", "bench.metrics=[iou,cosine]",
        "bench.warmup=2", "bench.repeats=10", *overrides,
    ]  # fmt: skip
    return run_recipe(validate_recipe(compose_recipe(recipe)), run_dir)


def int8(outcome: RunOutcome) -> dict[str, Any]:
    return next(s for s in outcome.results["stages"] if s["name"] != "baseline")


def test_default_int8_finds_a_calibration_that_keeps_the_map(setup: dict[str, Path], tmp_path: Path) -> None:
    default = run(setup, tmp_path / "auto", "strategy=int8")
    minmax = run(setup, tmp_path / "minmax", "strategy=int8", "strategy.quant.algo=minmax")
    search = int8(default)["model"]["quantization"]["calibration_search"]
    scores = {(c["algo"], c["per_channel"]): c for c in search["candidates"]}
    assert len(scores) == 6 and all(c["status"] == "ok" for c in scores.values())
    # Entropy is not MinMax under another name (ORT's default histogram made it so)
    assert scores[("Entropy", True)]["cosine"] != pytest.approx(scores[("MinMax", True)]["cosine"], abs=1e-6)
    assert search["algo"] != "MinMax"  # ONNX Runtime's own names (CalibrationMethod), in results.json and report
    assert "shared by its per-channel and per-tensor candidates" in search["activation_ranges"]  # 3 calibrations
    assert [c["timed"] for c in search["candidates"]].count(True) == 3  # the best-scoring three, and fp32
    assert int8(default)["model"]["calibration"]["algo"] == search["algo"]
    # measured on the held-out evaluation images, by the benchmark: far better than MinMax, not just different
    assert int8(default)["metrics"]["iou"] > int8(minmax)["metrics"]["iou"] + 0.2
    assert int8(minmax)["metrics"]["iou"] < 0.5
    report = (default.run_dir / "report.md").read_text()
    assert "Calibration search for **int8**" in report and f"selected **{search['selected']}**" in report
    assert "PaddleSlim" not in report and "avg" not in report


def test_the_entropy_threshold_search_is_onnxruntimes_own_in_array_operations() -> None:
    """``passes/onnx/entropy.py`` replaces ORT's 960-window Python loop (most of a calibration search's time on real
    detectors): on normal, long-tailed and one-sided histograms it must return ORT's thresholds exactly."""
    from onnxruntime.quantization.calibrate import HistogramCollector

    from recipecc.passes.onnx.entropy import entropy_threshold

    rng = np.random.RandomState(0)

    def histogram(x: np.ndarray, bins: int) -> tuple[Any, ...]:
        edge = float(np.abs(x).max())
        counts, edges = np.histogram(x, bins=bins, range=(-edge, edge))
        return counts, edges, np.float32(x.min()), np.float32(x.max())

    cases = [
        histogram(rng.randn(20000).astype(np.float32) * 3, 2048),
        histogram(np.exp(rng.randn(20000) * 1.2).astype(np.float32), 2048),
        histogram(np.maximum(rng.randn(5000), 0).astype(np.float32), 2048),
        histogram(rng.randn(100).astype(np.float32), 128),
    ]
    for case in cases:
        ours, theirs = entropy_threshold(None, case, 128), HistogramCollector.get_entropy_threshold(None, case, 128)
        assert [float(v) for v in ours] == [float(v) for v in theirs] and ours[0].dtype == theirs[0].dtype
