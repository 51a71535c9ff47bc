"""The onnx pipeline's plans: inserted conversion / upgrade / pre-processing passes, defaults, checks, search.

Planning never imports onnx or onnxruntime, so these tests build their ONNX files in the test process and only
plan; the passes themselves run in test_onnx_backend.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from onnx_models import conv_model, matmul_model

from recipecc.bench.results import search_selection
from recipecc.plan import Plan, build_plan
from recipecc.recipe import compose_recipe, validate_recipe
from recipecc.recipe.errors import RecipeError
from recipecc.recipe.schema import OnnxQuantConfig, QuantConfig, SearchConfig

pytest.importorskip("onnx")


def plan_for(*overrides: str) -> Plan:
    return build_plan(validate_recipe(compose_recipe(list(overrides))))


def checks(plan: Plan) -> dict[str, tuple[str, str]]:
    return {c.name: (c.status, c.detail) for c in plan.checks}


@pytest.fixture(scope="module")
def conv11(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return conv_model(tmp_path_factory.mktemp("m") / "conv11.onnx", opset=11)


def test_default_recipe_on_host_ort_converts_paddle_stages_and_quantizes_with_ort() -> None:
    plan = plan_for("target=host_ort")
    ids = [n.id for n in plan.nodes]
    assert ids == [
        "data", "train", "export", "prune", "finetune", "export.pruned", "to_onnx", "to_onnx.pruned",
        "shape_prep.pruned", "quantize", "bench.baseline", "bench.pruned", "bench.pruned+int8",
    ]  # fmt: skip
    assert plan.node("to_onnx.pruned").pass_name == "paddle.to_onnx"
    assert plan.node("to_onnx.pruned").params == {"opset": 13}
    assert dict(plan.node("quantize").inputs) == {"model": "shape_prep.pruned", "data": "data"}
    q = plan.node("quantize").params
    # the defaults: static QDQ, uint8 activations, int8 weights, calibration chosen per model (algo auto)
    assert (q["mode"], q["format"], q["activation_type"], q["weight_type"], q["per_channel"], q["algo"]) == (
        "ptq_static", "qdq", "uint8", "int8", True, "auto",
    )  # fmt: skip
    assert "calibration chosen for this model" in str(q["why"])
    assert "PaddleSlim" not in checks(plan)["quant"][1]
    chosen = plan_for("target=host_ort", "strategy.quant.algo=minmax")
    assert "ConvInteger" in str(chosen.node("quantize").params["why"])
    assert {n.pass_name for n in plan.bench_nodes} == {"onnx.bench"}
    assert plan.node("bench.baseline").params["graph_optimization"] == "all"


def test_per_channel_qdq_on_a_file_inserts_the_opset_upgrade(conv11: Path, image_dir: Path) -> None:
    base = ["target=host_ort", "model=file", f"model.path={conv11}", "dataset=image_folder",
            f"dataset.root={image_dir}", "dataset.size=[16,16]", "strategy=quant"]  # fmt: skip
    plan = plan_for(*base)
    assert [n.id for n in plan.nodes] == [
        "data", "load", "opset_upgrade", "shape_prep", "quantize", "bench.baseline", "bench.int8",
    ]  # fmt: skip
    assert plan.node("opset_upgrade").params == {"min_opset": 13}
    assert dict(plan.node("shape_prep").inputs) == {"model": "opset_upgrade"}
    per_tensor = plan_for(*base, "strategy.quant.weight_per_channel=false", "strategy.quant.algo=minmax")
    assert "opset_upgrade" not in [n.id for n in per_tensor.nodes]
    assert plan.node("load").params["fingerprint"].startswith("file:")


def test_format_detection_and_unsupported_formats_are_plan_errors(tmp_path: Path) -> None:
    odd = tmp_path / "weights.bin"
    odd.write_bytes(b"\0" * 16)
    with pytest.raises(RecipeError, match="cannot tell the format") as info:
        plan_for("target=host_ort", "model=file", f"model.path={odd}")
    assert info.value.key == "model.format" and "onnx" in str(info.value.valid)
    with pytest.raises(RecipeError, match="'tflite' files cannot be converted") as info:
        plan_for("target=host_ort", "model=file", f"model.path={odd}", "model.format=tflite")
    assert "target=pc_xnnpack" in str(info.value.valid)  # names the targets that read the file
    # model.format=onnx overrides the suffix
    plan = plan_for("target=host_ort", "model=file", f"model.path={odd}", "model.format=onnx", "strategy=none")
    assert plan.node("load").pass_name == "onnx.load"


def test_dynamic_quantization_on_a_conv_model_warns(conv11: Path, tmp_path: Path) -> None:
    dyn = ["target=host_ort", "model=file", "strategy=quant", "strategy.quant.mode=ptq_dynamic"]
    conv_checks = checks(plan_for(*dyn, f"model.path={conv11}"))
    status, detail = conv_checks["quant.dynamic"]
    assert status == "warn" and "ConvInteger" in detail and "2 of its 3" in detail
    mlp = matmul_model(tmp_path / "mlp.onnx")
    assert checks(plan_for(*dyn, f"model.path={mlp}"))["quant.dynamic"][0] == "ok"
    assert (
        checks(plan_for("target=host_ort", "strategy=quant", "strategy.quant.mode=ptq_dynamic"))["quant.dynamic"][0]
        == "warn"
    )  # digits_cnn is a conv net


def test_bad_onnx_options_are_plan_errors(conv11: Path) -> None:
    with pytest.raises(RecipeError, match="ONNX Runtime has no mse calibration"):
        plan_for("target=host_ort", "strategy=quant", "strategy.quant.algo=mse")
    with pytest.raises(RecipeError) as info:
        plan_for("target=host_ort", "model=file", f"model.path={conv11}", "strategy=prune_fpgm")
    assert info.value.valid == ["magnitude"]


def test_search_plans_one_optional_quantize_and_bench_per_candidate() -> None:
    plan = plan_for("recipe=digits_ort_search")
    quantize = [n for n in plan.nodes if n.pass_name == "onnx.quantize"]
    assert [n.id for n in quantize] == ["quantize[0]", "quantize[1]", "quantize[2]"]
    assert all(n.optional for n in quantize)
    assert [n.stage for n in plan.bench_nodes] == ["baseline", "int8[0]", "int8[1]", "int8-dynamic[2]"]
    assert [n.params.get("search_candidate") for n in plan.bench_nodes] == [None, 0, 1, 2]
    assert plan.node("quantize[1]").params["format"] == "qoperator"
    # one shared pre-processing node for all candidates
    assert {dict(n.inputs)["model"] for n in quantize} == {"shape_prep"}


def test_search_selection_keeps_every_candidate_and_skips_failures() -> None:
    recipe = validate_recipe(compose_recipe(["recipe=digits_ort_search"]))
    plan = build_plan(recipe)
    search = SearchConfig(
        candidates=[
            QuantConfig(),
            QuantConfig(onnx=OnnxQuantConfig(format="qoperator")),
            QuantConfig(mode="ptq_dynamic"),
        ],
        metric="top1",
        max_drop=0.01,
    )
    from dataclasses import asdict

    resolved = {"strategy": {"search": asdict(search)}}

    def stage(name: str, top1: float, ms: float) -> dict[str, object]:
        return {"name": name, "metrics": {"top1": top1}, "size_bytes": 100, "latency": [
            {"threads": 1, "median_ms": ms}, {"threads": 2, "median_ms": ms / 2}]}  # fmt: skip

    stages = [stage("baseline", 0.98, 1.0), stage("int8[0]", 0.975, 0.5), stage("int8[1]", 0.95, 0.3)]
    failed = [{"node": "quantize[2]", "pass": "onnx.quantize", "error": "pass 'quantize[2]' failed: boom"}]
    result = search_selection(plan, stages, resolved, failed)  # type: ignore[arg-type]
    assert result is not None
    rows = {r["stage"]: r for r in result["candidates"]}
    assert rows["int8[0]"]["status"] == "within budget" and rows["int8[0]"]["drop"] == pytest.approx(0.005)
    assert rows["int8[1]"]["status"] == "over budget"  # faster, but loses 3 points
    assert rows["int8-dynamic[2]"]["status"] == "failed" and "boom" in rows["int8-dynamic[2]"]["error"]
    assert result["selected"] == "int8[0]"
    # the report's Config column names only the knobs each mode read: dynamic has no format, activation type or
    # calibration (the defaults of those knobs were printed for it)
    assert rows["int8[0]"]["applied"] == "ptq_static qdq act=uint8 w=int8 calibration=search"
    assert rows["int8[1]"]["applied"].startswith("ptq_static qoperator ")
    assert rows["int8-dynamic[2]"]["applied"] == "ptq_dynamic w=int8 per-channel activations quantized at run time"


def test_planning_for_onnxruntime_imports_no_framework(conv11: Path) -> None:
    code = (
        "import sys, json; from recipecc.cli import main;"
        f"rc = main(['plan', 'target=host_ort', 'model=file', 'model.path={conv11}', 'strategy=quant']);"
        "heavy = [m for m in ('paddle', 'tensorflow', 'onnx', 'onnxruntime', 'paddle2onnx') if m in sys.modules];"
        "print(json.dumps({'rc': rc, 'heavy': heavy}))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"rc": 0, "heavy": []}
    assert "opset_upgrade" in proc.stdout


def test_a_users_paddle_inference_model_is_imported_then_converted(tmp_path: Path) -> None:
    pdmodel = tmp_path / "model.pdmodel"
    pdmodel.write_bytes(b"\x08\x01")  # planning checks it is a whole protobuf and fingerprints it; never parses it
    pdmodel.with_suffix(".pdiparams").write_bytes(b"\0")
    plan = plan_for("target=host_ort", "model=file", f"model.path={pdmodel}", "strategy=quant")
    assert [n.pass_name for n in plan.nodes][:3] == ["data.digits", "paddle.import", "paddle.to_onnx"]
    assert dict(plan.node("to_onnx").inputs) == {"model": "import"}
    assert not any(n.pass_name == "onnx.opset_upgrade" for n in plan.nodes)  # converted at opset 13


@pytest.mark.parametrize(
    ("overrides", "key", "words"),
    [
        (("target=host_ort", "strategy.quant.algo=avg"), "strategy.quant.algo", "PaddleSlim's name"),
        (("target=host_ort", "strategy.quant.algo=KL"), "strategy.quant.algo", "PaddleSlim's name"),
        (("target=host_ort", "strategy.quant.tflite.io_type=int8"), "strategy.quant.tflite.io_type",
         "target=pc_xnnpack"),
        (("target=host", "strategy.quant.onnx.format=qoperator"), "strategy.quant.onnx.format", "target=host_ort"),
        (("target=host", "strategy.quant.exclude_nodes=[head*]"), "strategy.quant.exclude_nodes", "ONNX Runtime"),
        (("recipe=digits_tflite_smoke", "strategy.quant.algo=avg"), "strategy.quant.algo", "PaddleSlim's name"),
        (("recipe=digits_tflite_smoke", "strategy.quant.onnx.activation_type=int8"),
         "strategy.quant.onnx.activation_type", "target=host_ort"),
        (("recipe=digits_tflite_smoke", "strategy.quant.weight_per_channel=false"),
         "strategy.quant.weight_per_channel", "target=host"),
    ],
)  # fmt: skip
def test_a_backend_knob_on_another_backend_is_refused_by_name(overrides: tuple[str, ...], key: str, words: str) -> None:
    """No PaddleSlim vocabulary on ONNX Runtime or TFLite, and no knob silently ignored by the target's backend."""
    with pytest.raises(RecipeError) as info:
        plan_for(*overrides)
    assert info.value.key == key and words in str(info.value), str(info.value)


def _nhwc_model(path: Path, height: int, width: int) -> Path:
    """Transpose-Conv-GlobalAveragePool on [N, height, width, 3]: the layout converted Keras/TFLite models keep."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
    nodes = [
        helper.make_node("Transpose", ["x"], ["t"], perm=[0, 3, 1, 2]),
        helper.make_node("Conv", ["t", "w"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("GlobalAveragePool", ["c"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "nhwc",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", height, width, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4, 1, 1])],
        [weight],
    )
    onnx.save_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    return path


def test_an_onnx_files_own_input_decides_the_default_datas_channels_size_and_layout(tmp_path: Path) -> None:
    """An ONNX file used to get 1-channel 32x32 NCHW digits whatever it declared: planned, then failed in the
    quantizer ("Got invalid dimensions for input"). The plan now reads the graph's first real input from the file's
    protobuf bytes (no onnx import) and makes the data that fits, or refuses what the digits data cannot give."""
    import onnx

    from recipecc.recipe.declared_input import declared_input_shape

    fixed = conv_model(tmp_path / "fixed.onnx", size=24)
    model = onnx.load(str(fixed))
    expected = [d.dim_value or None for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert declared_input_shape(fixed) == expected == [None, 3, 24, 24]
    plan = plan_for("target=host_ort", "model=file", f"model.path={fixed}", "strategy=int8")
    data = plan.node("data").params
    assert (data["layout"], data["channels"], data["image_size"]) == ("NCHW", 3, 24)
    assert "declared by the file as [N, 3, 24, 24]" in checks(plan)["input"][1]

    hw = _nhwc_model(tmp_path / "hw.onnx", 40, 40)
    nhwc = plan_for("target=host_ort", "model=file", f"model.path={hw}", "strategy=int8")
    data = nhwc.node("data").params
    assert (data["layout"], data["channels"], data["image_size"]) == ("NHWC", 3, 40)

    wide = _nhwc_model(tmp_path / "wide.onnx", 48, 160)
    with pytest.raises(RecipeError) as refused:
        plan_for("target=host_ort", "model=file", f"model.path={wide}", "strategy=int8")
    assert refused.value.key == "dataset" and "dataset.size=[48, 160]" in str(refused.value.valid)


def test_a_tflite_file_on_onnx_runtime_is_refused_for_its_format_before_its_data(tmp_path: Path) -> None:
    """With an image folder, the data check used to read the .tflite as an ONNX file of 1 channel and say so."""
    from recipecc.recipe.errors import RecipeError

    model, images = tmp_path / "m.tflite", tmp_path / "images"
    model.write_bytes(b"\x1c\x00\x00\x00TFL3" + bytes(64))
    images.mkdir()
    from PIL import Image

    for i in range(4):
        Image.new("RGB", (64, 64), (i * 60, 0, 0)).save(images / f"page{i}.png")
    recipe = [
        "target=host_ort", "model=file", f"model.path={model}", "strategy=int8", "dataset=image_folder",
        f"dataset.root={images}", "dataset.size=[64,64]",
    ]  # fmt: skip
    with pytest.raises(RecipeError) as caught:
        build_plan(validate_recipe(compose_recipe(recipe)))
    assert caught.value.key == "model.format" and "target=pc_xnnpack" in str(caught.value.valid)
    assert "channel" not in str(caught.value)
