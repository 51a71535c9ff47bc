"""Targets = device + runtime + measurer: every profile composes, plans and says where its latency comes from;
bad combinations are compile errors; cache keys differ per device; the estimator keeps its reported accuracy."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import pytest
from planning import error_for, plan_for

from recipecc.engine import run_recipe
from recipecc.estimate import builtin_table, coefficients, estimate_rows, pruned_table
from recipecc.estimate.fit import CALIBRATION_DIR, evaluate, fit, load_observations
from recipecc.recipe import compose_recipe, group_options, validate_recipe
from recipecc.recipe.catalog import RUNTIMES
from recipecc.recipe.devices import DEVICES
from recipecc.recipe.targets import resolve_target

#: a recipe each target's backend can run (paddle / tf / onnx pipelines)
_RECIPE_FOR = {"paddle": "mobilenetv1_prune30", "tf": "mobilenet_v1_tflite", "onnx": "digits_prune_quant"}


@pytest.mark.parametrize("target", group_options("target"))
def test_every_target_composes_validates_and_labels_its_latency(target: str) -> None:
    recipe = validate_recipe(compose_recipe([f"target={target}"]))
    resolved = resolve_target(recipe.target)
    backend = resolved.runtime.backend
    strategy = [] if backend != "onnx" else ["strategy=prune"]
    plan = plan_for(f"recipe={_RECIPE_FOR[backend]}", f"target={target}", *strategy)
    expected = "measured-host" if resolved.device.reach == "local" else "estimated"
    for node in plan.bench_nodes:
        assert node.params["measurer"] == expected
        assert node.params["device"] == resolved.device.name
        assert ("abi" in node.params) == resolved.is_arm
    if expected == "estimated":
        assert any(c.name == "estimate" and c.status == "ok" for c in plan.checks), plan.checks


#: target -> device and runtime, as documented in the README's target table
_DOCUMENTED = """
sd835 sd835 paddle_lite | sd845 sd845 paddle_lite | sd855 sd855 paddle_lite | kirin970 kirin970 paddle_lite
rpi3 rpi3 tflite | rb5_cpu rb5 snpe_cpu | rb5_gpu rb5 snpe_gpu | v100 v100 paddle_inference_gpu
v100_trt v100 paddle_tensorrt | host host paddle_inference | host_ort host onnxruntime | pc_xnnpack host tflite
"""


def test_reference_names_resolve_to_the_documented_devices_and_runtimes() -> None:
    for row in _DOCUMENTED.replace("\n", "|").split("|"):
        if row.strip():
            name, device, runtime = row.split()
            target = resolve_target(validate_recipe(compose_recipe([f"target={name}"])).target)
            assert (target.device.name, target.runtime.name) == (device, runtime)
    arm = resolve_target(validate_recipe(compose_recipe(["target=sd845", "target.abi=armv7"])).target)
    assert arm.abi == "armv7" and arm.threads == (1, 2, 4)


def test_legality_errors_name_the_key_and_what_is_valid() -> None:
    err = error_for("recipe=mobilenetv1_quant", "target=rb5_gpu")
    assert "snpe_gpu runs fp32, fp16, not int8" in str(err) and "v100_trt" in str(err)
    err = error_for("target=sd845", "target.abi=x86")
    assert err.key == "target.abi" and "armv7, armv8" in str(err)
    err = error_for("target=v100_trt", "target.threads=[1,2]")
    assert err.key == "target.threads" and "[1]" in str(err)
    err = error_for("target=rpi3", "target.threads=[8]")
    assert "4 CPU cores" in str(err)
    err = error_for("target=sd845", "target.measurer=measured-host")
    assert "not this machine" in str(err)
    err = error_for("target=sd845", "target.measurer=measured-remote")
    assert err.key == "target.ssh.host"
    err = error_for("target=sd845", "target.device=sd84")
    assert "device 'sd84' not found" in str(err) and "kirin970" in str(err)
    err = error_for("target=host", "target.runtime=snpe_gpu")
    assert "runs on a gpu" in str(err)


def test_runtimes_that_need_an_outside_conversion_plan_it_and_never_fake_it() -> None:
    plan = plan_for("recipe=mobilenetv1_prune30", "target=sd845")
    deploy = [n for n in plan.nodes if n.pass_name == "deploy.convert"]
    assert [n.id for n in deploy] == ["deploy.baseline", "deploy.pruned"]
    assert deploy[0].params["tool"] == "paddle_lite_opt" and deploy[0].params["where"] == "toolchain"
    assert any(c.name == "conversion" and "paddle_lite_opt" in c.detail for c in plan.checks)
    assert not [n for n in plan_for("recipe=mobilenetv1_prune30", "target=host").nodes if n.id.startswith("deploy")]


def test_bench_cache_keys_differ_per_device_abi_and_measurer() -> None:
    def keys(*overrides: str) -> list[str]:
        return [n.key for n in plan_for("recipe=mobilenetv1_prune30", *overrides).bench_nodes]

    sd835, sd845 = keys("target=sd835"), keys("target=sd845")
    armv7 = keys("target=sd845", "target.abi=armv7")
    remote = keys("target=sd845", "target.ssh.host=10.0.0.7")
    assert len({*sd835, *sd845, *armv7, *remote}) == 4 * len(sd845)
    train = {n.key for n in plan_for("recipe=mobilenetv1_prune30", "target=sd835").nodes if n.stage is None}
    assert "train" not in {n.id for n in plan_for("recipe=mobilenetv1_prune30", "target=sd835").bench_nodes}
    assert train & {n.key for n in plan_for("recipe=mobilenetv1_prune30", "target=sd845").nodes}  # passes shared


def test_sd845_estimate_is_close_to_the_published_baseline() -> None:
    plan = plan_for("recipe=mobilenetv1_prune30", "target=sd845")
    detail = next(c.detail for c in plan.checks if c.name == "estimate" and c.detail.startswith("baseline"))
    table = builtin_table("mobilenet_v1")
    assert table is not None
    rows = estimate_rows(
        table, device="sd845", runtime="paddle_lite", abi="armv8", precision="fp32", threads=[1, 2, 4], basis="test"
    )
    for row, published in zip(rows, (66.05, 35.80, 19.58), strict=True):
        assert row["source"] == "estimated" and row["abi"] == "armv8"
        assert abs(row["median_ms"] - published) / published < 0.15
        assert f"t{row['threads']} {row['median_ms']:.2f} ms" in detail


def test_layer_tables_hold_the_architectures_real_costs() -> None:
    macs = {"mobilenet_v1": 569e6, "mobilenet_v2": 301e6, "resnet50": 4089e6}
    for arch, expected in macs.items():
        table = builtin_table(arch)
        assert table is not None and abs(table["macs"] - expected) / expected < 0.01
        assert {r["kind"] for r in table["layers"]} >= {"conv", "conv1x1", "fc"}
    mobilenet = builtin_table("mobilenet_v1")
    assert mobilenet is not None
    convs = [r["name"] for r in mobilenet["layers"] if r["kind"] in ("conv", "conv1x1")]
    pruned = pruned_table(mobilenet, dict.fromkeys(convs, 0.16))
    assert 0.28 < 1 - pruned["macs"] / mobilenet["macs"] < 0.32  # uniform 16% of filters ~ 30% of the MACs


def test_estimator_reproduces_its_calibration_rows_within_its_reported_error() -> None:
    coef = coefficients()
    observations, skipped, digest = load_observations(sorted(CALIBRATION_DIR.glob("*.yaml")))
    assert digest == coef["calibration_sha256"], "coefficients.json is stale: python -m recipecc.estimate.fit"
    assert not skipped and any(o.model == "yolov3_mobilenet_v1" for o in observations)
    report = evaluate(coef, observations, held_out=False)
    reported = coef["fit"]["overall"]
    absolute = [o for o in observations if not o.source.endswith(":ratio")]
    assert report["overall"]["rows"] == reported["rows"] == len(absolute)
    errors = [abs(r["error_pct"]) for r in report["rows"]]
    assert max(errors) <= reported["max_abs_pct"] + 0.01
    assert statistics.median(errors) <= reported["median_abs_pct"] + 0.01
    assert reported["median_abs_pct"] < 10
    held_out = coef["fit"]["held_out"]
    assert held_out["leave_one_model_out"]["pooled"]["median_abs_pct"] < 20
    assert held_out["pruned_from_unpruned"]["median_abs_pct"] < 20


def test_refitting_is_deterministic() -> None:
    observations, _, _ = load_observations(sorted(CALIBRATION_DIR.glob("*.yaml")))
    refit = evaluate(fit(observations), observations, held_out=False)["overall"]
    assert refit == {k: v for k, v in coefficients()["fit"]["overall"].items()}


def test_catalog_is_consistent() -> None:
    for runtime in RUNTIMES.values():
        assert runtime.thread_model in ("cpu", "runtime")
        assert runtime.processor in ("cpu", "gpu", "dsp")
    for device in DEVICES.values():
        assert device.reach in ("local", "remote")
        assert device.abis


@pytest.mark.backend
def test_estimated_run_labels_every_latency_cell(tmp_path: Path) -> None:
    recipe = validate_recipe(
        compose_recipe(
            ["recipe=digits_smoke", "target=sd845", "strategy=prune", "model.train.epochs=1", f"cache_dir={tmp_path}"]
        )
    )
    outcome = run_recipe(recipe, tmp_path / "run")
    results: dict[str, Any] = json.loads((tmp_path / "run" / "results.json").read_text())
    for stage in results["stages"]:
        assert [row["threads"] for row in stage["latency"]] == [1, 2, 4]
        for row in stage["latency"]:
            assert row["source"] == "estimated" and row["abi"] == "armv8" and row["median_ms"] > 0
            assert row["estimator"]["calibration_sha256"] == coefficients()["calibration_sha256"]
            assert "walked from this stage's exported model" in row["estimator"]["basis"]
        assert "top1" in stage["metrics"]  # quality still measured here
    pruned = next(s for s in results["stages"] if s["name"] == "pruned")
    assert pruned["vs_baseline"]["speedup"]["1"] > 1.2
    deploy = [e for e in results["provenance"]["passes"] if e["pass"] == "deploy.convert"]
    assert deploy and "*estimated*" in outcome.reports["markdown"].read_text()
    table = results["latency_table"]
    assert (table["device"], table["abi"], table["sources"]) == ("sd845", "armv8", ["estimated"])


@pytest.mark.backend
def test_estimated_run_of_a_users_onnx_file_walks_its_graph(tmp_path: Path, image_dir: Path) -> None:
    pytest.importorskip("onnxruntime")
    from onnx_models import conv_model

    from recipecc.passes.onnx.layer_table import layer_table

    model = conv_model(tmp_path / "m.onnx")
    table = layer_table(model)
    assert table is not None and table["macs"] == 16 * 3 * 9 * 16 * 16 + 32 * 16 * 9 * 8 * 8 + 32 * 2
    overrides = [
        "target=rb5_cpu", "model=file", f"model.path={model}", "dataset=image_folder", f"dataset.root={image_dir}",
        "dataset.size=[16,16]", "dataset.calibration_images=12", "dataset.eval_images=12", "strategy=none",
        f"cache_dir={tmp_path / 'cache'}",
    ]  # fmt: skip
    run_recipe(validate_recipe(compose_recipe(overrides)), tmp_path / "run")
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    (row,) = results["stages"][0]["latency"]
    assert (row["source"], row["abi"], row["device"]) == ("estimated", "armv8", "rb5")
    assert "walked from this stage's exported model" in row["estimator"]["basis"]
    assert row["estimator"]["macs"] == table["macs"]
    error = row["estimator"]["fit_error"]
    assert row["estimator"]["calibrated_for_device"] and (error["scope"], error["rows"]) == ("rb5/snpe_cpu", 1)


def test_runners_without_a_graph_walker_estimate_from_the_built_in_table_at_the_real_input() -> None:
    import numpy as np

    from recipecc.bench.measurers import estimated_latency

    params = {"device": "rpi3", "runtime": "tflite", "abi": "armv7", "threads": [1, 4], "arch": "digits_cnn"}
    sample = np.zeros((1, 8, 8, 1), dtype=np.float32)  # NHWC, as the tflite runner feeds it
    fp32 = estimated_latency({**params, "precision": "fp32"}, {"format": "tflite"}, None, sample)
    int8 = estimated_latency({**params, "precision": "int8"}, {"format": "tflite"}, None, sample)
    full = builtin_table("digits_cnn")
    assert full is not None and full["input"] == [1, 32, 32]
    assert all("rescaled to the 8x8 input" in row["estimator"]["basis"] for row in fp32)
    assert fp32[0]["estimator"]["macs"] < full["macs"] / 10  # 8x8 is 16x fewer positions than 32x32
    assert fp32[0]["median_ms"] > fp32[1]["median_ms"] and int8[0]["median_ms"] != fp32[0]["median_ms"]
    weight_only = estimated_latency({**params, "precision": "int8-weights"}, {"format": "tflite"}, None, sample)
    assert weight_only[0]["median_ms"] == fp32[0]["median_ms"]  # weight-only int8 computes in float
    with pytest.raises(Exception, match="cannot estimate"):
        estimated_latency({**params, "arch": "file", "precision": "fp32"}, {"format": "tflite"}, None, sample)
