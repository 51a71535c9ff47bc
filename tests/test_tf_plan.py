"""The tf pipeline at plan time: wiring, stage names, legality errors, and no framework import (fast, no TF)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from planning import error_for, plan_for

from recipecc.plan import Plan, build_plan
from recipecc.recipe import compose_recipe, validate_recipe


def stages(plan: Plan) -> list[tuple[str, str]]:
    return [(n.stage or "", n.params["precision"]) for n in plan.bench_nodes]


def test_mobilenet_v1_tflite_plans_without_importing_a_framework() -> None:
    code = (
        "import sys, json; from recipecc.cli import main;"
        "rc = main(['plan', 'recipe=mobilenet_v1_tflite', 'target=pc_xnnpack']);"
        "heavy = [m for m in ('paddle', 'tensorflow', 'tf_keras', 'tensorflow_model_optimization', 'ai_edge_litert',"
        " 'onnxruntime') if m in sys.modules];"
        "print(json.dumps({'rc': rc, 'heavy': heavy}))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"rc": 0, "heavy": []}
    assert "tf.train" in proc.stdout and "tf.bench" in proc.stdout


def test_mobilenet_seed_recipes_reproduce_the_reference_rows(image_dir: Path) -> None:
    base = plan_for("recipe=mobilenet_v1_tflite")
    assert base.target_name == "pc_xnnpack"
    assert [n.id for n in base.nodes] == ["data", "train", "convert", "bench.baseline"]
    train = base.node("train").params
    assert (train["arch"], train["width"], train["num_classes"]) == ("mobilenet_v1", 1.0, 1000)
    data = base.node("data").params
    assert (data["image_size"], data["channels"], data["layout"]) == (224, 3, "NHWC")
    assert any(c.name == "data" and "fallback" in c.detail for c in base.checks)

    pruned = plan_for("recipe=mobilenet_v1_prune90_tflite")
    assert stages(pruned) == [("baseline", "fp32"), ("pruned", "fp32"), ("pruned-sparse", "fp32")]
    prune = pruned.node("prune").params
    assert (prune["ratio"], prune["schedule"], prune["block"]) == (0.9, "polynomial", None)
    assert pruned.node("train").key == base.node("train").key  # one trained baseline serves both recipes
    # a user's images instead of the fallback data
    folder = plan_for("recipe=mobilenet_v1_tflite", "dataset=image_folder", f"dataset.root={image_dir}")
    assert folder.node("data").params["layout"] == "NHWC"
    assert not any(c.name == "data" for c in folder.checks)


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        ("none", [("baseline", "fp32")]),
        ("tflite_fp16", [("baseline", "fp32"), ("fp16", "fp16")]),
        ("tflite_dynamic", [("baseline", "fp32"), ("dynamic", "dynamic-int8")]),
        ("tflite_int8", [("baseline", "fp32"), ("int8", "int8")]),
        ("tflite_int8_io", [("baseline", "fp32"), ("int8", "int8")]),
        ("tflite_qat", [("baseline", "fp32"), ("qat", "int8")]),
        ("magnitude", [("baseline", "fp32"), ("pruned", "fp32")]),
        ("magnitude_int8", [("baseline", "fp32"), ("pruned", "fp32"), ("pruned+int8", "int8")]),
        ("magnitude_2x4", [("baseline", "fp32"), ("pruned", "fp32")]),
    ],
)
def test_every_tflite_strategy_has_its_stages(strategy: str, expected: list[tuple[str, str]]) -> None:
    plan = plan_for("recipe=digits_tflite_smoke", f"strategy={strategy}")
    assert stages(plan) == expected
    assert all(n.params["delegate"] == "xnnpack" for n in plan.bench_nodes)


def test_prune_then_int8_quantizes_the_pruned_model() -> None:
    plan = plan_for("recipe=digits_tflite_smoke")
    assert plan.node("quantize").inputs["model"] == "prune"
    assert plan.node("quantize").params == {
        "mode": "int8",
        "precision": "int8",
        "seed": 0,
        "io_type": "float",
        "calibration_images": 128,
    }
    assert plan.node("prune").params["epochs"] == 3


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        (("strategy=magnitude",), "strategy.prune.criterion"),  # paddle host: magnitude is not PaddleSlim's
        (("strategy=tflite_fp16",), "target"),  # paddle host: no fp16 on the CPU
        (("recipe=digits_tflite_smoke", "strategy=prune_fpgm"), "strategy.prune.criterion"),  # filters on TFLite
        (
            ("recipe=digits_tflite_smoke", "strategy=tflite_dynamic", "strategy.quant.io_type=int8"),
            "strategy.quant.io_type",
        ),
        (
            ("recipe=digits_tflite_smoke", "strategy=magnitude", "strategy.finetune.epochs=0"),
            "strategy.finetune.epochs",
        ),
        (("recipe=digits_tflite_smoke", "strategy=tflite_int8", "strategy.quant.bits=16"), "target"),  # no int16
        (("recipe=mobilenet_v1_tflite", "dataset.image_size=16"), "dataset.image_size"),
        (("recipe=digits_tflite_smoke", "model.framework=paddle"), "model.framework"),
    ],
)
def test_illegal_combinations_are_plan_time_errors(overrides: tuple[str, ...], key: str) -> None:
    assert error_for(*overrides).key == key


def test_a_tflite_file_is_benchmarked_not_recompressed(tmp_path: Path) -> None:
    model = tmp_path / "model.tflite"
    model.write_bytes(b"\0\0\0\0TFL3 not parsed further at plan time")
    plan = plan_for("recipe=digits_tflite_smoke", "model=file", f"model.path={model}", "strategy=none")
    assert [n.id for n in plan.nodes] == ["data", "load", "bench.baseline"]
    assert plan.node("load").params["format"] == "tflite"
    for strategy in ("tflite_int8", "magnitude", "tflite_qat"):
        err = error_for("recipe=digits_tflite_smoke", "model=file", f"model.path={model}", f"strategy={strategy}")
        assert "can be benchmarked, not re-compressed" in str(err) and err.key == "strategy"


def test_a_saved_model_converts_but_does_not_train(tmp_path: Path) -> None:
    folder = tmp_path / "exported"
    folder.mkdir()
    (folder / "saved_model.pb").write_bytes(b"")
    plan = plan_for("recipe=digits_tflite_smoke", "model=file", f"model.path={folder}", "strategy=tflite_int8")
    assert plan.node("load").params["format"] == "savedmodel"
    assert stages(plan) == [("baseline", "fp32"), ("int8", "int8")]
    err = error_for("recipe=digits_tflite_smoke", "model=file", f"model.path={folder}", "strategy=magnitude")
    assert err.key == "model.path" and ".keras" in str(err)
    unknown = tmp_path / "weights.bin"
    unknown.write_bytes(b"")
    assert error_for("recipe=digits_tflite_smoke", "model=file", f"model.path={unknown}").key == "model.path"


def test_rpi3_plans_with_four_threads_and_an_estimated_latency(tmp_path: Path) -> None:
    recipe = validate_recipe(compose_recipe(["recipe=digits_tflite_smoke", "target=rpi3", f"cache_dir={tmp_path}"]))
    plan = build_plan(recipe)
    bench = plan.bench_nodes[0].params
    assert bench["threads"] == [1, 2, 3, 4]
    assert (bench["device"], bench["measurer"], bench["abi"]) == ("rpi3", "estimated", "armv7")
    assert any(c.name == "measurer" and "estimated" in c.detail for c in plan.checks)


def test_delegate_none_reaches_the_benchmark() -> None:
    plan = plan_for("recipe=digits_tflite_smoke", "strategy=none", "target.delegate=none")
    assert plan.bench_nodes[0].params["delegate"] == "none"
