"""The onnx backend on real models: the digits CNN through paddle2onnx, and ONNX files built with onnx.helper.

Runs share one artifact cache per module, so the digits model is trained once (about 15 s) for all its tests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from host_cpu import HAS_INT8_VNNI
from onnx_models import conv_model

from recipecc.engine import RunOutcome, run_recipe
from recipecc.recipe import RecipeError, compose_recipe, validate_recipe
from recipecc.recipe.schema import QuantConfig, SearchConfig

pytestmark = pytest.mark.backend
pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx-cache")


def run(cache: Path, run_dir: Path, *overrides: str, search: SearchConfig | None = None) -> RunOutcome:
    recipe = validate_recipe(compose_recipe([f"cache_dir={cache}", "bench.warmup=2", "bench.repeats=10", *overrides]))
    if search is not None:
        recipe.strategy.search = search
        recipe = validate_recipe(recipe)
    return run_recipe(recipe, run_dir)


def stage(outcome: RunOutcome, name: str) -> dict[str, Any]:
    return next(s for s in outcome.results["stages"] if s["name"] == name)


def artifact(outcome: RunOutcome, node: str) -> dict[str, Any]:
    key = outcome.plan.node(node).key
    data: dict[str, Any] = json.loads((Path(outcome.plan.cache_root) / key / "artifact.json").read_text())
    return data


@pytest.fixture(scope="module")
def conv11(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return conv_model(tmp_path_factory.mktemp("m") / "conv11.onnx", opset=11)


def file_recipe(path: Path, image_dir: Path) -> list[str]:
    return [
        "target=host_ort", "model=file", f"model.path={path}", "dataset=image_folder", f"dataset.root={image_dir}",
        "dataset.size=[16,16]", "dataset.calibration_images=12", "dataset.eval_images=12",
    ]  # fmt: skip


def test_digits_through_paddle2onnx_static_int8_is_a_quarter_and_agrees(cache: Path, tmp_path: Path) -> None:
    outcome = run(
        cache, tmp_path, "recipe=digits_smoke", "target=host_ort", "strategy=quant", "bench.metrics=[top1_agreement]"
    )
    fp32, int8 = stage(outcome, "baseline"), stage(outcome, "int8")
    assert fp32["format"] == int8["format"] == "onnx" and int8["precision"] == "int8"
    ratio = fp32["size_bytes"] / int8["size_bytes"]
    assert 3.0 <= ratio <= 4.5, ratio
    assert int8["metrics"]["top1_agreement"] >= 0.98
    assert fp32["metrics"]["top1"] >= 0.93 and int8["metrics"]["top1"] >= fp32["metrics"]["top1"] - 0.01
    quant = int8["model"]["quantization"]
    assert (quant["format"], quant["activation_type"], quant["weight_type"]) == ("qdq", "uint8", "int8")
    # algo=auto: the calibration search picks per-channel or per-tensor weights, and the model is what it picked
    search = quant["calibration_search"]
    assert quant["per_channel"] is search["per_channel"] and len(search["candidates"]) == 6
    assert quant["ops_after"]["QuantizeLinear"] > 0 and int8["model"]["calibration"]["images"] == 256
    assert artifact(outcome, "to_onnx")["conversion"]["tool"] == "paddle2onnx 1.3.1"
    assert artifact(outcome, "shape_prep")["shape_prep"]["attempts"][0]["skip_symbolic_shape"] is False
    for row in int8["latency"]:
        assert row["runtime"].startswith("ONNX Runtime") and "graph optimization all" in row["engine"]
        assert row["median_ms"] > 0 and row["p90_ms"] >= row["median_ms"]
    assert [row["threads"] for row in int8["latency"]] == [1, 2]
    md = (outcome.run_dir / "report.md").read_text()
    assert "## ONNX Runtime choices" in md and "calibration chosen for this model" in md


def test_opset11_per_channel_qdq_works_through_the_upgrade_pass(
    cache: Path, tmp_path: Path, conv11: Path, image_dir: Path
) -> None:
    outcome = run(
        cache, tmp_path, *file_recipe(conv11, image_dir), "strategy=quant",
        "strategy.quant.algo=minmax",  # per-channel asked for explicitly (algo=auto may choose per-tensor)
        "bench.metrics=[top1_agreement,cosine,max_abs_error,mean_abs_error]",
    )  # fmt: skip
    upgrade = artifact(outcome, "opset_upgrade")
    assert upgrade["opset_upgrade"] == {"from": 11, "to": 13, "changed": True, "why": "needs opset >= 13"}
    assert artifact(outcome, "load")["opset"] == 11
    int8 = stage(outcome, "int8")
    assert int8["model"]["quantization"]["per_channel"] is True
    metrics = int8["metrics"]
    assert metrics["cosine"] > 0.99 and metrics["top1_agreement"] >= 0.75
    assert 0 < metrics["mean_abs_error"] <= metrics["max_abs_error"]
    # weights are ~90% of this tiny model: int8 shrinks it, but fixed-size graph parts weigh more than in digits
    assert stage(outcome, "baseline")["size_bytes"] / int8["size_bytes"] > 2.0


def test_dynamic_axes_load_and_benchmark_with_input_shape(
    cache: Path, tmp_path: Path, conv11: Path, image_dir: Path
) -> None:
    outcome = run(cache, tmp_path, *file_recipe(conv11, image_dir), "strategy=none", "model.input_shape=[1,3,16,16]")
    loaded = artifact(outcome, "load")
    assert loaded["input_shape"] == [1, 3, 16, 16] and loaded["loaded"]["fixed_dims"] == ["dim 0 (batch) -> 1"]
    assert loaded["outputs"][0]["shape"] == [1, 2]
    baseline = stage(outcome, "baseline")
    assert baseline["latency"][0]["batch_size"] == 1 and baseline["metrics"]["top1"] >= 0.0
    # without input_shape the batch axis stays dynamic, and the model still runs
    dynamic = run(cache, tmp_path / "dyn", *file_recipe(conv11, image_dir), "strategy=none")
    assert artifact(dynamic, "load")["loaded"]["dynamic_dims_left"] == ["batch"]


def test_a_file_that_is_not_onnx_fails_clearly(cache: Path, tmp_path: Path, image_dir: Path) -> None:
    fake = tmp_path / "model.onnx"
    fake.write_text("this is not a protobuf, just text\n" * 20)
    with pytest.raises(RecipeError, match=r"is not a complete protobuf model"):  # at plan time, nothing ran
        run(cache, tmp_path / "run", *file_recipe(fake, image_dir), "strategy=none")


def test_magnitude_pruning_reports_real_sparsity_and_gzip_size(
    cache: Path, tmp_path: Path, conv11: Path, image_dir: Path
) -> None:
    outcome = run(
        cache, tmp_path, *file_recipe(conv11, image_dir), "strategy=prune", "strategy.prune.criterion=magnitude",
        "strategy.prune.ratio=0.6",
    )  # fmt: skip
    pruned, baseline = stage(outcome, "pruned"), stage(outcome, "baseline")
    sparsity = pruned["model"]["sparsity"]
    assert sparsity["pruned_tensors"] == 3 and sparsity["pruned_weights"] == pytest.approx(0.6, abs=0.01)
    assert abs(pruned["size_bytes"] - baseline["size_bytes"]) < 0.02 * baseline["size_bytes"]  # zeros are stored
    assert pruned["model"]["gzip_bytes"] < 0.75 * artifact(outcome, "prune")["gzip_bytes_before"]


def test_search_keeps_every_candidate_and_survives_a_failing_one(
    cache: Path, tmp_path: Path, conv11: Path, image_dir: Path
) -> None:
    search = SearchConfig(
        candidates=[
            QuantConfig(algo="minmax"),
            QuantConfig(mode="fp16"),
            QuantConfig(algo="minmax", exclude_nodes=["no-such-node*"]),  # fails at run time: matches nothing
        ],
        metric="cosine",
        max_drop=0.05,
    )
    outcome = run(cache, tmp_path, *file_recipe(conv11, image_dir), "strategy=none", search=search)
    result = outcome.results["search"]
    rows = {r["index"]: r for r in result["candidates"]}
    assert rows[0]["status"] == "within budget" and rows[0]["median_ms"] > 0
    assert rows[1]["stage"] == "fp16[1]" and rows[1]["drop"] < 0.001  # fp16 barely changes the outputs
    assert rows[2]["status"] == "failed" and "match no node" in rows[2]["error"]
    assert result["selected"] in ("int8[0]", "fp16[1]")
    fastest = min((rows[0], rows[1]), key=lambda r: r["median_ms"])
    assert result["selected"] == fastest["stage"]
    assert stage(outcome, "fp16[1]")["precision"] == "fp16"
    md = (outcome.run_dir / "report.md").read_text()
    assert "## Search: quantization candidates" in md and f"Selected: {result['selected']}" in md
    # each candidate's Config names only what its mode read: no QDQ format or activation type for fp16
    assert "| fp16 (float16 weights and compute, float32 inputs/outputs) |" in md and "fp16 qdq" not in md
    assert "ptq_static qdq act=uint8 w=int8 per-channel calibration=minmax except nodes=no-such-node*" in md


def test_paddle_ptq_model_in_onnx_format_converts_and_runs_in_ort(cache: Path, tmp_path: Path) -> None:
    """paddle2onnx converts PaddleSlim's onnx_format=True PTQ model; ORT's outputs agree with Paddle Inference's."""
    import numpy as np
    import onnxruntime as ort

    from recipecc.passes.base import PassContext
    from recipecc.worker import BackendWorkers

    paddle_run = run(cache, tmp_path / "paddle", "recipe=digits_smoke", "strategy=quant", "target=host")
    quantized = Path(paddle_run.plan.cache_root) / paddle_run.plan.node("quantize").key
    out = tmp_path / "converted"
    out.mkdir()
    ctx = PassContext("to_onnx.int8", {"opset": 13}, {"model": quantized}, out)
    with BackendWorkers() as workers:
        meta = workers.run("paddle", "recipecc.passes.paddle.to_onnx:run", ctx)
    assert meta["format"] == "onnx" and meta["precision"] == "int8"
    assert meta["ops"].get("QuantizeLinear", 0) > 0 and meta["ops"].get("DequantizeLinear", 0) > 0
    data = np.load(Path(paddle_run.plan.cache_root) / paddle_run.plan.node("data").key / "data.npz")
    session = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    ours = session.run(None, {meta["input_name"]: data["x_test"]})[0]
    with np.load(Path(paddle_run.plan.cache_root) / paddle_run.plan.node("bench.int8").key / "outputs.npz") as kept:
        paddle_int8 = kept[kept.files[0]]
    # Two int8 engines on one quantized model: 0.94 on an AVX2-only CPU, where Paddle's oneDNN kernels saturate
    # int16 pair sums (tests/host_cpu.py)
    assert float((ours.argmax(1) == paddle_int8.argmax(1)).mean()) >= (0.98 if HAS_INT8_VNNI else 0.9)


def test_keras_digits_through_tf2onnx_static_int8_is_a_quarter_and_agrees(cache: Path, tmp_path: Path) -> None:
    from importlib.util import find_spec

    if find_spec("tf2onnx") is None or find_spec("tensorflow") is None:  # never import TF in the test process
        pytest.skip("needs the tf and onnx extras (tensorflow, tf2onnx)")
    outcome = run(
        cache, tmp_path, "recipe=digits_smoke", "target=host_ort", "model.framework=tf", "strategy=quant",
        "bench.metrics=[top1_agreement]",
    )  # fmt: skip
    fp32, int8 = stage(outcome, "baseline"), stage(outcome, "int8")
    assert artifact(outcome, "to_onnx")["conversion"]["tool"].startswith("tf2onnx")
    assert artifact(outcome, "to_onnx")["input_shape"][1:] == [8, 8, 1]  # NHWC kept
    assert 3.0 <= fp32["size_bytes"] / int8["size_bytes"] <= 4.5
    assert int8["metrics"]["top1_agreement"] >= 0.98 and fp32["metrics"]["top1"] >= 0.9


def test_a_two_output_model_is_compared_output_by_output(cache: Path, tmp_path: Path, image_dir: Path) -> None:
    """A text-detection-like model (probability map + class scores), no labels: IoU of the binarized maps at the
    model's threshold heads the report, and the class scores are compared too (not a flattened argmax)."""
    from onnx_models import two_head_model

    model = two_head_model(tmp_path / "two_heads.onnx")
    flat = tmp_path / "flat"
    flat.mkdir()
    for image in sorted(image_dir.rglob("*.png"))[:10]:  # no class sub-folders: unlabelled
        (flat / image.name).write_bytes(image.read_bytes())
    outcome = run(
        cache, tmp_path / "run", "model=file", f"model.path={model}", "model.threshold=0.3", "target=host_ort",
        "dataset=image_folder", f"dataset.root={flat}", "dataset.size=[32,32]", "dataset.calibration_images=5",
        "dataset.eval_images=5", "strategy=quant",
    )  # fmt: skip
    results = outcome.results
    assert results["task"] == "generic" and results["quality_metric"] == "iou"
    assert results["quality_label"] == "iou (vs baseline)"
    int8 = stage(outcome, "int8")
    outputs = int8["evaluation"]["outputs"]
    assert set(outputs) == {"prob_map", "scores"} and int8["evaluation"]["headline_output"] == "prob_map"
    assert outputs["prob_map"]["kind"] == "prob_map" and outputs["prob_map"]["threshold"] == 0.3
    assert 0.5 < outputs["prob_map"]["iou"] <= 1.0 and outputs["prob_map"]["max_abs_error"] < 0.5
    assert outputs["scores"]["kind"] == "scores" and 0.0 <= outputs["scores"]["top1_agreement"] <= 1.0
    assert stage(outcome, "baseline")["metrics"]["iou"] == 1.0
    report = (outcome.reports["markdown"]).read_text()
    assert "The model has 2 outputs" in report and "The headline is output `prob_map`" in report
