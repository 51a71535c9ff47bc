"""Every sentence of a report comes from what the run recorded: a ``model=file`` run checked against results.json."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from onnx_models import conv_model

from recipecc.bench.facts import describe_run, measurement_sentences
from recipecc.bench.results import _compare, contention_sentences
from recipecc.bench.timing import CONTENDED_SHARE, measure_latency
from recipecc.engine import run_recipe
from recipecc.recipe import compose_recipe, validate_recipe
from recipecc.report.formatting import size_change, speed


def test_size_change_never_calls_a_larger_file_smaller() -> None:
    assert size_change(3.14) == "3.1x smaller"
    assert size_change(0.8) == "1.25x LARGER"
    assert size_change(1.001) == "same size"


def test_title_names_the_file_and_sentences_follow_the_rows() -> None:
    recipe = {
        "name": "digits_prune_quant",
        "model": {"arch": "file", "path": "/models/det.onnx", "format": None},
        "strategy": {"name": "int8"},
        "target": {"name": "host_ort", "description": "ONNX Runtime on the host CPU"},
        "dataset": {"name": "image_folder", "root": "/data/pages"},
    }
    stages = [
        {"name": "baseline", "precision": "fp32", "latency": [{"batch_size": 4}]},
        {"name": "int8", "precision": "int8", "latency": [{"batch_size": 4}]},
    ]
    described = describe_run(recipe, stages)
    assert described["title"] == "det.onnx · int8 on host_ort"
    assert "Digits" not in described["description"] and "baseline (fp32) -> int8 (int8)" in described["description"]
    sentences = measurement_sentences(stages, "cosine")
    assert "batch size 4" in sentences["latency"] and "top-1" not in sentences["accuracy"]


@pytest.mark.backend
def test_a_model_file_report_states_what_results_json_records(tmp_path: Path, image_dir: Path) -> None:
    pytest.importorskip("onnxruntime")
    model = conv_model(tmp_path / "tiny_detector.onnx", opset=13, size=16)
    overrides = [
        f"cache_dir={tmp_path / 'cache'}", "bench.warmup=2", "bench.repeats=10", "target=host_ort", "model=file",
        f"model.path={model}", "strategy=quant", "dataset=image_folder", f"dataset.root={image_dir}",
        "dataset.size=[16,16]", "dataset.calibration_images=12", "dataset.eval_images=12", "bench.batch_size=1",
    ]  # fmt: skip
    outcome = run_recipe(validate_recipe(compose_recipe(overrides)), tmp_path / "run")
    results = json.loads((outcome.run_dir / "results.json").read_text())
    report = (outcome.run_dir / "report.md").read_text()
    html = (outcome.run_dir / "report.html").read_text()

    assert report.splitlines()[0] == f"# {results['title']}" and "tiny_detector.onnx" in results["title"]
    assert "Digits CNN" not in report and "tiny_detector.onnx" in html.split("</h1>")[0]
    assert "on this CPU" not in report and "here;" not in report and "5.6x" not in report
    for stage in results["stages"]:
        assert (outcome.run_dir / stage["files"]["model"]).is_file()
        assert f"[{stage['files']['model']}]({stage['files']['model']})" in report
        # parameters and multiply-adds come from the ONNX graph: 16*3*9+16 + 32*16*9+32 + 2*32+2 weights
        assert stage["model"]["params"] == 5154 and f"{stage['model']['params']:,}" in report
        assert stage["model"]["flops"] == 16 * 16 * 16 * 27 + 8 * 8 * 32 * 144 + 64
    batches = {row["batch_size"] for s in results["stages"] for row in s["latency"]}
    assert f"batch size {batches.pop()}" in results["provenance"]["measurement"]["latency"]
    assert results["provenance"]["packages"]["onnxruntime"]
    ratio = results["stages"][1]["vs_baseline"]["size_ratio"]
    assert (f"{ratio:.1f}x smaller" in report) == (ratio > 1)
    shown = re.findall(r"\| (\d+\.\d\d)% \|", report)  # the baseline's top-1, as recorded
    assert shown and float(shown[0]) == pytest.approx(results["stages"][0]["metrics"]["top1"] * 100, abs=0.01)


def test_a_timed_loop_that_waits_off_the_cpu_is_flagged_contended() -> None:
    # sleeping stands in for the time the OS gives the core to other processes: wall time passes, CPU time does not
    stats = measure_latency(lambda: time.sleep(0.002), warmup=1, repeats=5, threads=1)
    assert stats["median_ms"] >= 2.0 and stats["cpu_median_ms"] < stats["median_ms"]
    assert stats["cpu_share"] < CONTENDED_SHARE and stats["contended"]
    # with more threads a low share may be the runtime's own idle thread: recorded, no verdict
    assert not measure_latency(lambda: time.sleep(0.002), warmup=0, repeats=2, threads=2)["contended"]


def _row(median: float, cpu: float, share: float) -> dict[str, object]:
    return {"threads": 1, "median_ms": median, "cpu_median_ms": cpu, "cpu_share": share,
            "contended": share < CONTENDED_SHARE}  # fmt: skip


def test_a_contended_stage_gets_the_comparison_by_cpu_time_from_its_own_rows() -> None:
    # the ONNX Runtime MobileNetV1 case: int8 timed under more load than fp32 looked slower by wall clock
    stages = [
        {"name": "baseline", "latency": [_row(44.2, 15.0, 0.9)]},
        {"name": "int8", "latency": [_row(56.9, 9.0, 0.4)]},
    ]
    for stage in stages:
        stage["vs_baseline"] = _compare({**stage, "metrics": {}, "size_bytes": 1}, {**stages[0], "metrics": {},
                                        "size_bytes": 1})  # fmt: skip
    assert stages[1]["vs_baseline"]["speedup_cpu"]["1"] == pytest.approx(15.0 / 9.0)
    (sentence,) = contention_sentences(stages)
    assert sentence.startswith("int8 at 1 thread(s) ran on the CPU 40% of its timed wall time")
    assert "(9.000 ms against the baseline's 15.000 ms) it is 1.67x faster" in sentence
    assert "wall clock: 1.29x slower" in sentence
    # a quiet baseline and stage: nothing to say; a contended baseline: the stages compared with it say so
    stages[1]["latency"] = [_row(17.9, 9.0, 0.95)]
    assert contention_sentences(stages[1:]) == []
    stages[0]["latency"] = [_row(60.0, 15.0, 0.3)]
    said = contention_sentences(stages)
    assert len(said) == 2 and "compared with a baseline that ran on the CPU 30%" in said[1]


def test_a_speed_ratio_that_rounds_to_one_is_not_called_slower() -> None:
    assert speed(0.996) == "same speed (1.00x)" and speed(1.004) == "same speed (1.00x)"
    assert speed(0.75) == "1.33x SLOWER" and speed(2.1) == "2.10x faster" and speed(None) == ""
