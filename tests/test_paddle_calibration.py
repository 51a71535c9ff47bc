"""``strategy.quant.algo=search`` on Paddle: PaddleSlim's calibrations, scored in Paddle Inference, best one kept.

One small real run (the digits CNN at 8x8, 32 calibration images): every PaddleSlim method calibrates, runs with
oneDNN int8 on held-out training images, is scored against fp32 and timed; the report lists them all. The search
loop itself is checked with a fake backend in test_calibration_search.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from recipecc.engine import run_recipe
from recipecc.recipe import compose_recipe, validate_recipe

pytestmark = pytest.mark.backend

PADDLESLIM_METHODS = ["avg", "hist", "KL", "mse", "abs_max"]


def test_the_paddle_calibration_search_keeps_the_best_candidate_and_reports_all(
    shared_cache: Path, tmp_path: Path
) -> None:
    recipe = validate_recipe(
        compose_recipe([
            "recipe=digits_smoke", "strategy=int8", "strategy.quant.algo=search", "strategy.quant.batch_nums=2",
            "strategy.quant.batch_size=16", "target=host", "target.threads=[1]", "bench.repeats=5",
            "bench.warmup=2", f"cache_dir={shared_cache}",
        ])
    )  # fmt: skip
    outcome = run_recipe(recipe, tmp_path)
    stages = {s["name"]: s for s in outcome.results["stages"]}
    int8 = stages["int8"]
    search = int8["model"]["quantization"]["calibration_search"]
    rows = search["candidates"]
    assert [r["algo"] for r in rows] == PADDLESLIM_METHODS
    assert all(r["status"] == "ok" and r["per_channel"] for r in rows), rows
    assert sum(r["selected"] for r in rows) == 1
    selected = next(r for r in rows if r["selected"])
    pool = [r for r in rows if r["faster_than_fp32"]] or rows
    assert selected["score"] == max(r["score"] for r in pool)
    assert int8["model"]["calibration"] == {
        "images": 32, "algo": selected["algo"], "per_channel_weights": True, "chosen_by": "calibration search",
    }  # fmt: skip
    assert search["scored_on"] == "32 held-out training images"
    assert int8["metrics"]["top1"] >= stages["baseline"]["metrics"]["top1"] - 0.02
    report = (outcome.run_dir / "report.md").read_text()
    assert "## PaddleSlim choices" in report and f"selected **{selected['algo']}, per-channel weights**" in report
    assert all(f"| {algo} | per-channel |" in report for algo in PADDLESLIM_METHODS)
    assert "PaddleSlim choices" in (outcome.run_dir / "report.html").read_text()
