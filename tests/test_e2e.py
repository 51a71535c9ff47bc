"""End to end on real Paddle: the smoke recipe through every stage, with the numbers checked in results.json.

The runs share one artifact cache (session fixture), so the later tests also prove what the cache promises:
an unchanged recipe runs no pass, a changed parameter re-runs only the passes downstream of it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from recipecc.engine import RunOutcome, run_recipe
from recipecc.recipe import compose_recipe, validate_recipe

pytestmark = pytest.mark.backend


def smoke(shared_cache: Path, run_dir: Path, *overrides: str) -> RunOutcome:
    recipe = validate_recipe(compose_recipe(["recipe=digits_smoke", f"cache_dir={shared_cache}", *overrides]))
    return run_recipe(recipe, run_dir)


def stage(results: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in results["stages"] if s["name"] == name)


@pytest.fixture(scope="module")
def first_run(shared_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> RunOutcome:
    return smoke(shared_cache, tmp_path_factory.mktemp("run"))


def test_results_json_has_the_documented_shape(first_run: RunOutcome) -> None:
    results = json.loads((first_run.run_dir / "results.json").read_text())
    assert results["recipe"] == "digits_smoke" and results["target"] == "host"
    assert len(results["recipe_hash"]) == 16
    assert [s["name"] for s in results["stages"]] == ["baseline", "pruned", "pruned+int8"]
    for s in results["stages"]:
        assert s["format"] == "paddle-inference"
        assert isinstance(s["size_bytes"], int) and s["size_bytes"] > 0
        model_dir = first_run.run_dir / s["files"]["model"]  # the deployable Paddle inference folder
        assert sum(f.stat().st_size for f in model_dir.iterdir()) == s["size_bytes"]
        assert 0.0 <= s["metrics"]["top1"] <= 1.0
        assert [row["threads"] for row in s["latency"]] == [1, 2]
        for row in s["latency"]:
            assert row["source"] == "measured-host"
            assert row["median_ms"] > 0 and row["p90_ms"] >= row["median_ms"]
            assert row["warmup"] == 5 and row["repeats"] == 30
            assert row["runtime"].startswith("Paddle Inference")
    provenance = results["provenance"]
    assert provenance["packages"]["paddlepaddle"] == "2.6.2"
    assert provenance["recipe"]["strategy"]["prune"]["ratio"] == 0.5
    assert provenance["host"]["cores"] >= 1
    assert first_run.cached == [] and len(first_run.executed) == 10


def test_accuracy_stays_within_bound(first_run: RunOutcome) -> None:
    results = first_run.results
    baseline = stage(results, "baseline")["metrics"]["top1"]
    assert baseline >= 0.93  # the digits CNN learns 8x8 digits in 6 epochs
    for name in ("pruned", "pruned+int8"):
        assert stage(results, name)["metrics"]["top1"] >= baseline - 0.05
    # int8 PTQ itself costs at most a point against the fp32 model it quantized
    pruned, quantized = stage(results, "pruned"), stage(results, "pruned+int8")
    assert quantized["metrics"]["top1"] >= pruned["metrics"]["top1"] - 0.01


def test_pruning_removes_half_the_filters(first_run: RunOutcome) -> None:
    model = stage(first_run.results, "pruned")["model"]
    assert model["selector_matches"] == {"*": 8}
    # halving the filters of every conv roughly quarters the parameters and multiply-adds of the convs
    assert 0.6 <= model["params_reduction"] <= 0.8
    assert 0.6 <= model["flops_reduction"] <= 0.8


def test_int8_is_about_a_quarter_of_fp32(shared_cache: Path, tmp_path: Path) -> None:
    outcome = smoke(shared_cache, tmp_path, "strategy=quant")
    # the baseline model came from the cache; its benchmark runs again beside the new stage's (same conditions)
    assert set(outcome.executed) == {"quantize", "bench.baseline", "bench.int8"}
    assert any(p.get("remeasured") for p in outcome.results["provenance"]["passes"])
    fp32, int8 = stage(outcome.results, "baseline"), stage(outcome.results, "int8")
    ratio = fp32["size_bytes"] / int8["size_bytes"]
    assert 3.0 <= ratio <= 4.5, ratio
    assert int8["metrics"]["top1"] >= fp32["metrics"]["top1"] - 0.01
    assert int8["model"]["calibration"]["images"] == 256


def test_reports_are_rendered(first_run: RunOutcome) -> None:
    md = (first_run.run_dir / "report.md").read_text()
    assert "| Stage | Precision | Top-1 | Storage size | 1 thread | 2 threads |" in md
    assert "pruned+int8" in md and "measured-host" in md
    html = (first_run.run_dir / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "data:image/png;base64," in html
    assert (first_run.run_dir / "latency_size.png").stat().st_size > 1000


def test_unchanged_recipe_runs_no_pass(first_run: RunOutcome, shared_cache: Path, tmp_path: Path) -> None:
    again = smoke(shared_cache, tmp_path)
    assert again.executed == []
    assert again.results["stages"][0]["metrics"] == first_run.results["stages"][0]["metrics"]


def test_changed_ratio_reruns_only_downstream(first_run: RunOutcome, shared_cache: Path, tmp_path: Path) -> None:
    changed = smoke(shared_cache, tmp_path, "strategy.prune.ratio=0.25")
    assert set(changed.executed) == {
        "prune",
        "finetune",
        "export.pruned",
        "quantize",
        "bench.baseline",  # re-measured with the others: stages are compared under the same conditions
        "bench.pruned",
        "bench.pruned+int8",
    }
    assert stage(changed.results, "pruned")["model"]["flops_reduction"] < 0.6


def test_cli_multirun_sweeps_prune_ratio(first_run: RunOutcome, shared_cache: Path, tmp_path: Path) -> None:
    env = {**os.environ, "RECIPECC_CACHE": str(shared_cache)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "recipecc.cli",
            "run",
            "-m",
            "recipe=digits_smoke",
            "strategy.prune.ratio=0.25,0.5",
            f"hydra.sweep.dir={tmp_path}",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    ratios = sorted(
        json.loads((tmp_path / job / "results.json").read_text())["provenance"]["recipe"]["strategy"]["prune"]["ratio"]
        for job in ("0", "1")
    )
    assert ratios == [0.25, 0.5]
    assert "cached" in proc.stderr


def test_cli_cfg_job_prints_the_recipe_and_runs_nothing(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "recipecc.cli",
            "run",
            "--cfg",
            "job",
            "recipe=digits_smoke",
            f"hydra.run.dir={tmp_path}",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "name: digits_smoke" in proc.stdout
    assert not (tmp_path / "results.json").exists()


def test_a_killed_run_leaves_no_corrupt_entry_and_resumes(tmp_path: Path) -> None:
    cache, run_dir = tmp_path / "cache", tmp_path / "run"
    env = {**os.environ, "RECIPECC_CACHE": str(cache)}
    argv = [sys.executable, "-m", "recipecc.cli", "run", "recipe=digits_smoke", f"hydra.run.dir={run_dir}"]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def finished_nodes() -> set[str]:
        return {json.loads(p.read_text())["node"] for p in cache.glob("*/artifact.json")}

    deadline = time.monotonic() + 300
    while "train" not in finished_nodes() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole session: compiler and its paddle worker
    proc.wait()
    done = finished_nodes()
    assert "train" in done and "bench.pruned+int8" not in done
    assert all((entry / "artifact.json").is_file() for entry in cache.iterdir() if not entry.name.startswith("."))
    assert not (run_dir / "results.json").exists()

    resumed = subprocess.run(argv, env=env, capture_output=True, text=True, check=True, timeout=600)
    for node in done:
        assert re.search(rf"{re.escape(node)}\s+\S+\s+cached", resumed.stderr), node
    assert (run_dir / "results.json").is_file()
    assert not any((cache / ".tmp").iterdir())
