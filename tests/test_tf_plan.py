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
            ("recipe=digits_tflite_smoke", "strategy=tflite_dynamic", "strategy.quant.tflite.io_type=int8"),
            "strategy.quant.tflite.io_type",
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


def test_a_tflite_file_is_quantized_by_ai_edge_quantizer_not_retrained(tmp_path: Path) -> None:
    model = tmp_path / "model.tflite"
    model.write_bytes(b"\0\0\0\0TFL3 not parsed further at plan time")
    plan = plan_for("recipe=digits_tflite_smoke", "model=file", f"model.path={model}", "strategy=none")
    assert [n.id for n in plan.nodes] == ["data", "load", "bench.baseline"]
    assert plan.node("load").params["format"] == "tflite"
    file = ("recipe=digits_tflite_smoke", "model=file", f"model.path={model}")
    for strategy, recipe, stage in (
        ("int8", "static_wi8_ai8", ("int8", "int8")),
        ("tflite_int8", "static_wi8_ai8", ("int8", "int8")),
        ("tflite_dynamic", "dynamic_wi8_afp32", ("dynamic", "dynamic-int8")),
    ):
        plan = plan_for(*file, f"strategy={strategy}")
        quantize = plan.node("quantize")
        assert quantize.pass_name == "tf.quantize_file" and stages(plan) == [("baseline", "fp32"), stage]
        assert any(c.name == "quant.tflite" and recipe in c.detail for c in plan.checks)
    static = plan_for(*file, "strategy=int8").node("quantize")
    assert static.params["mode"] == "static" and static.params["calibration_images"] == 256
    assert static.params["io_type"] == "float" and static.inputs["data"] == "data"
    weights = plan_for(*file, "strategy=int8", "strategy.quant.tflite.recipe=weight_only_wi8_afp32")
    assert weights.node("quantize").params["mode"] == "weight_only" and "data" not in weights.node("quantize").inputs
    assert stages(weights)[1] == ("weight-only", "weight-only-int8")
    for overrides, key, words in (
        (("strategy=magnitude",), "strategy", "needs the source model"),
        (("strategy=tflite_qat",), "strategy", "needs the source model"),
        (("strategy=tflite_fp16",), "strategy.quant.mode", "int8"),
        (
            ("strategy=tflite_dynamic", "strategy.quant.tflite.io_type=int8"),
            "strategy.quant.tflite.io_type",
            "dynamic_wi8_afp32",
        ),
        (("strategy=int8", "strategy.quant.tflite.recipe=static_wi8_ai16"), "strategy.quant.tflite.recipe", "valid"),
    ):
        err = error_for(*file, *overrides)
        assert err.key == key and words in str(err), (overrides, str(err))


def test_an_ai_edge_quantizer_recipe_is_refused_for_a_model_the_converter_makes() -> None:
    err = error_for("recipe=digits_tflite_smoke", "strategy.quant.tflite.recipe=dynamic_wi8_afp32")
    assert err.key == "strategy.quant.tflite.recipe" and "TFLite converter" in str(err)


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


def tflite_bytes(*, inputs: int = 1, int8_weights: bool = False, custom: str | None = None) -> bytes:
    """A small TFLite flatbuffer written with LiteRT's own schema classes (no TensorFlow), old-style op codes."""
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    model = schema.ModelT()
    model.version = 3
    model.buffers = [schema.BufferT(), schema.BufferT()]
    model.buffers[1].data = list(range(16))
    codes = []
    for builtin, name in ((3, None), (32, custom)) if custom else ((3, None),):
        code = schema.OperatorCodeT()
        code.deprecatedBuiltinCode, code.builtinCode, code.customCode, code.version = builtin, 0, name, 1
        codes.append(code)
    model.operatorCodes = codes
    tensors = []
    for i in range(inputs):
        tensor = schema.TensorT()
        tensor.name, tensor.shape, tensor.type, tensor.buffer = f"image{i}", [1, 8, 8, 1], 0, 0
        tensors.append(tensor)
    weight = schema.TensorT()
    weight.name, weight.shape, weight.buffer = "kernel", [4, 1, 2, 2], 1
    weight.type = schema.TensorType.INT8 if int8_weights else schema.TensorType.FLOAT32
    graph = schema.SubGraphT()
    graph.tensors, graph.inputs, graph.outputs = [*tensors, weight], list(range(inputs)), [inputs]
    model.subgraphs = [graph]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def test_the_plan_reads_a_tflite_file_without_litert(tmp_path: Path) -> None:
    from recipecc.recipe.tflite_file import read_tflite

    plain, two, quantized, custom = (tmp_path / f"{n}.tflite" for n in ("plain", "two", "quantized", "custom"))
    plain.write_bytes(tflite_bytes())
    two.write_bytes(tflite_bytes(inputs=2))
    quantized.write_bytes(tflite_bytes(int8_weights=True))
    custom.write_bytes(tflite_bytes(custom="Landmarks2TransformMatrix"))
    facts = read_tflite(plain)
    assert facts is not None and facts.inputs == [("image0", "float32")] and facts.integer_weights == 0
    assert read_tflite(quantized).integer_weights == 1  # type: ignore[union-attr]
    truncated = tmp_path / "truncated.tflite"
    truncated.write_bytes(plain.read_bytes()[:40])
    assert read_tflite(truncated) is None
    file = ("recipe=digits_tflite_smoke", "model=file")
    err = error_for(*file, f"model.path={quantized}", "strategy=int8")
    assert err.key == "strategy" and "quantized already (1 weight tensors" in str(err)
    err = error_for(*file, f"model.path={two}", "strategy=int8")
    assert err.key == "strategy.quant.mode" and "2 inputs (image0, image1)" in str(err)
    assert plan_for(*file, f"model.path={two}", "strategy=tflite_dynamic").node("quantize").params["mode"] == "dynamic"
    checks = {c.name: c for c in plan_for(*file, f"model.path={custom}", "strategy=none").checks}
    assert checks["custom_ops"].status == "warn" and "Landmarks2TransformMatrix" in checks["custom_ops"].detail
