"""The paddle backend beyond the smoke run: architectures, user models on disk, sensitivity, per-layer ratios,
FPGM and QAT, on real (small) models.

Paddle is never imported into the test process (TensorFlow tests share it, and the two crash together): models
for the tests are written by a separate Python process.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from host_cpu import HAS_INT8_VNNI

from recipecc.engine import RunOutcome, run_recipe
from recipecc.plan import build_plan
from recipecc.recipe import RecipeError, compose_recipe, validate_recipe

SMOKE = ["recipe=digits_smoke", "bench.repeats=5", "bench.warmup=2", "target.threads=[1]"]


def paddle_script(code: str) -> None:
    """Run ``code`` with paddle in a fresh process (zlib first: see DEVELOPERS.md)."""
    subprocess.run([sys.executable, "-c", "import zlib\n" + textwrap.dedent(code)], check=True, capture_output=True)


def run(cache: Path, run_dir: Path, *overrides: str) -> RunOutcome:
    recipe = validate_recipe(compose_recipe([*SMOKE, f"cache_dir={cache}", *overrides]))
    return run_recipe(recipe, run_dir)


def stage(outcome: RunOutcome, name: str) -> dict[str, Any]:
    return next(s for s in outcome.results["stages"] if s["name"] == name)


# --- compile time: selectors and legality (no backend needed) ------------------------------------------------------


def test_selectors_are_checked_against_the_architecture_at_plan_time() -> None:
    plan = build_plan(validate_recipe(compose_recipe(["strategy.prune.layers=[stage4.*]"])))
    check = next(c for c in plan.checks if c.name == "prune selectors")
    assert check.detail.startswith("2 of 8 convolutions selected")
    with pytest.raises(RecipeError) as caught:
        build_plan(validate_recipe(compose_recipe(["strategy.prune.layers=[stage9.*]"])))
    assert "pruning selector(s) ['stage9.*'] match no convolution" in str(caught.value)
    assert "stage1.conv1" in str(caught.value)


def test_per_layer_ratios_count_their_own_matches() -> None:
    plan = build_plan(
        validate_recipe(
            compose_recipe(["strategy.prune.layers=[stage3.*]", "+strategy.prune.per_layer={stage4*conv2:0.2}"])
        )
    )
    check = next(c for c in plan.checks if c.name == "prune selectors")
    assert "3 of 8" in check.detail and "'per_layer:stage4*conv2' 1" in check.detail
    assert plan.node("prune").params["per_layer"] == {"stage4*conv2": 0.2}


def test_sensitivity_is_keyed_apart_from_its_target() -> None:
    plan_a = build_plan(validate_recipe(compose_recipe(["strategy=sensitive"])))
    plan_b = build_plan(validate_recipe(compose_recipe(["strategy=sensitive", "strategy.sensitivity.value=0.5"])))
    assert plan_a.node("sensitivity").key == plan_b.node("sensitivity").key
    assert plan_a.node("prune").key != plan_b.node("prune").key


@pytest.mark.parametrize(
    "recipe",
    [
        "mobilenetv1_quant",
        "mobilenetv2_quant",
        "resnet50_quant",
        "mobilenetv1_prune30",
        "mobilenetv1_prune50",
        "mobilenetv1_sensitive",
    ],
)
def test_seed_recipes_plan(recipe: str) -> None:
    plan = build_plan(validate_recipe(compose_recipe([f"recipe={recipe}"])))
    assert plan.node("data").params["channels"] == 3 and plan.node("data").params["image_size"] == 224
    assert any(c.name == "model" and "untrained" in c.detail for c in plan.checks)
    assert all(n.params["labels"] is False for n in plan.bench_nodes)  # fidelity, not digits top-1


def test_inference_models_cannot_be_filter_pruned(tmp_path: Path) -> None:
    (tmp_path / "m.pdmodel").write_bytes(b"\x08\x01")  # a whole protobuf; plan time never parses it further
    (tmp_path / "m.pdiparams").write_bytes(b"\0")
    with pytest.raises(RecipeError, match="need the network itself"):
        build_plan(validate_recipe(compose_recipe(["model=file", f"model.path={tmp_path}", "strategy=prune"])))


# --- real runs -----------------------------------------------------------------------------------------------------


@pytest.mark.backend
def test_user_inference_model_with_odd_names_and_dynamic_shape(tmp_path: Path, shared_cache: Path) -> None:
    model_dir = tmp_path / "exported"
    paddle_script(
        f"""
        import paddle
        from recipecc.passes.paddle.models import DigitsCNN
        paddle.seed(1)
        net = DigitsCNN(1, 8, 10, 0.5)
        net.eval()
        spec = [paddle.static.InputSpec([None, 1, None, None], "float32", "pixels")]
        paddle.jit.save(net, "{model_dir}/inference", input_spec=spec)
        """
    )
    assert (model_dir / "inference.pdmodel").is_file()
    with pytest.raises(Exception, match="dynamic dimensions"):
        run(shared_cache, tmp_path / "r0", "model=file", f"model.path={model_dir}", "strategy=quant")
    outcome = run(
        shared_cache,
        tmp_path / "r1",
        "model=file",
        f"model.path={model_dir}",
        "model.input_shape=[1,1,8,8]",
        "strategy=quant",
        "strategy.quant.paddle.algo=avg",  # the bounds below are avg's (auto would search: test_paddle_calibration)
        "bench.metrics=[top1_agreement,cosine]",
    )
    fp32, int8 = stage(outcome, "baseline"), stage(outcome, "int8")
    assert outcome.results["quality_metric"] == "top1"  # a user's model is scored against the dataset's labels
    # An untrained net (near-equal logits): 0.94 agreement / 0.999 cosine in PaddleSlim's fake-quant simulation (what
    # exact int8 kernels compute), 0.80 / 0.92 in oneDNN on an AVX2-only CPU, whose int16 pair sums saturate.
    agreement, cosine = (0.9, 0.95) if HAS_INT8_VNNI else (0.75, 0.9)
    assert int8["metrics"]["top1_agreement"] >= agreement and int8["metrics"]["cosine"] > cosine
    assert fp32["size_bytes"] / int8["size_bytes"] > 2.0
    assert all(row["median_ms"] > 0 for row in int8["latency"])

    legacy = tmp_path / "legacy"  # the older export layout: __model__ + __params__
    legacy.mkdir()
    shutil.copyfile(model_dir / "inference.pdmodel", legacy / "__model__")
    shutil.copyfile(model_dir / "inference.pdiparams", legacy / "__params__")
    again = run(shared_cache, tmp_path / "r2", "model=file", f"model.path={legacy}", "model.input_shape=[1,1,8,8]",
                "strategy=none")  # fmt: skip
    assert stage(again, "baseline")["metrics"]["top1"] == fp32["metrics"]["top1"]


@pytest.mark.backend
def test_onednn_int8_saturates_exactly_when_the_cpu_lacks_vnni(tmp_path: Path) -> None:
    """ReLU then a 1x1 convolution over 8 channels with all weights 1, fed ones: int8 is exact here (u8 255 x s8 127
    per product), so Paddle Inference must return 8.0 where oneDNN accumulates in int32 (VNNI), and 4 x 32767 /
    (255 x 127) where each pair of products saturates an int16 (AVX2 ``vpmaddubsw``). The int8 bounds of the other
    tests follow from which of the two this machine does (tests/host_cpu.py)."""
    probe = tmp_path / "probe.py"  # a file, not -c: paddle.jit.save reads the layer's source
    probe.write_text(
        textwrap.dedent(
            f"""
            import zlib
            import numpy as np, paddle, paddle.inference as pi
            from paddleslim.quant import quant_post_static
            from recipecc.passes.quiet import quiet_stdout

            class Net(paddle.nn.Layer):
                def __init__(self):
                    super().__init__()
                    ones = paddle.ParamAttr(initializer=paddle.nn.initializer.Constant(1.0))
                    self.conv = paddle.nn.Conv2D(8, 1, 1, weight_attr=ones, bias_attr=False)

                def forward(self, x):
                    return self.conv(paddle.nn.functional.relu(x))

            spec = [paddle.static.InputSpec([None, 8, 4, 4], "float32", "x")]
            paddle.jit.save(Net(), "{tmp_path}/fp32/inference", input_spec=spec)
            ones = np.ones((8, 8, 4, 4), np.float32)

            class Calibration(paddle.io.Dataset):
                def __len__(self):
                    return len(ones)

                def __getitem__(self, index):
                    return (ones[index],)

            paddle.enable_static()
            with paddle.static.program_guard(paddle.static.Program(), paddle.static.Program()):
                feed = paddle.static.data("x", [-1, 8, 4, 4], "float32")
            loader = paddle.io.DataLoader(Calibration(), feed_list=[feed], batch_size=4, return_list=False,
                                          places=paddle.CPUPlace())
            with quiet_stdout():
                quant_post_static(executor=paddle.static.Executor(paddle.CPUPlace()), model_dir="{tmp_path}/fp32",
                                  model_filename="inference.pdmodel", params_filename="inference.pdiparams",
                                  quantize_model_path="{tmp_path}/int8", save_model_filename="inference.pdmodel",
                                  save_params_filename="inference.pdiparams", data_loader=loader, batch_size=4,
                                  batch_nums=2, algo="abs_max", weight_quantize_type="channel_wise_abs_max",
                                  onnx_format=True)
            paddle.disable_static()
            config = pi.Config("{tmp_path}/int8/inference.pdmodel", "{tmp_path}/int8/inference.pdiparams")
            config.disable_glog_info()
            config.enable_mkldnn()
            config.enable_mkldnn_int8()
            with quiet_stdout():
                predictor = pi.create_predictor(config)
                predictor.get_input_handle("x").copy_from_cpu(ones[:1])
                predictor.run()
            print(float(predictor.get_output_handle(predictor.get_output_names()[0]).copy_to_cpu().ravel()[0]))
            """
        )
    )
    proc = subprocess.run([sys.executable, str(probe)], check=True, capture_output=True, text=True)
    value = float(proc.stdout.split()[-1])
    assert value == pytest.approx(8.0 if HAS_INT8_VNNI else 4 * 32767 / (255 * 127), rel=1e-4)


@pytest.mark.backend
def test_checkpoint_of_a_named_architecture_is_loaded_not_trained(tmp_path: Path, shared_cache: Path) -> None:
    checkpoint = tmp_path / "digits.pdparams"
    paddle_script(
        f"""
        import paddle
        from recipecc.passes.paddle.models import DigitsCNN
        paddle.save(DigitsCNN(1, 8, 10, 0.5).state_dict(), "{checkpoint}")
        """
    )
    outcome = run(shared_cache, tmp_path / "r", f"model.path={checkpoint}", "strategy=none")
    assert any(c["name"] == "model" and "weights from" in c["detail"] for c in outcome.results["provenance"]["checks"])
    assert outcome.results["quality_metric"] == "top1"  # trained weights are scored against the labels
    assert [p["node"] for p in outcome.results["provenance"]["passes"] if p["node"] == "train"]


@pytest.mark.backend
def test_sensitivity_is_reused_by_a_second_target(tmp_path: Path, shared_cache: Path) -> None:
    sensitive = [
        "strategy=sensitive",
        "strategy.sensitivity.ratios=[0.3,0.6]",
        "strategy.sensitivity.images=64",
        "strategy.finetune.epochs=1",
        "strategy.sensitivity.align=4",
    ]
    first = run(shared_cache, tmp_path / "a", *sensitive, "strategy.sensitivity.value=0.3")
    assert "sensitivity" in first.executed
    pruned = stage(first, "pruned")["model"]
    assert pruned["flops_reduction"] >= 0.3
    report = (first.run_dir / "report.md").read_text()
    assert "## Sensitivity" in report and (first.run_dir / "sensitivity.png").is_file()
    second = run(shared_cache, tmp_path / "b", *sensitive, "strategy.sensitivity.value=0.5")
    assert "sensitivity" in second.cached and "prune" in second.executed
    assert stage(second, "pruned")["model"]["flops_reduction"] >= 0.5


@pytest.mark.backend
def test_fpgm_pruning_and_qat(tmp_path: Path, shared_cache: Path) -> None:
    fpgm = run(shared_cache, tmp_path / "fpgm", "strategy=prune_fpgm", "strategy.finetune.epochs=2")
    model = stage(fpgm, "pruned")["model"]
    assert 0.6 <= model["flops_reduction"] <= 0.8
    assert stage(fpgm, "pruned")["metrics"]["top1"] >= stage(fpgm, "baseline")["metrics"]["top1"] - 0.05
    qat = run(shared_cache, tmp_path / "qat", "strategy=qat", "strategy.quant.epochs=1")
    fp32, int8 = stage(qat, "baseline"), stage(qat, "qat")
    assert int8["precision"] == "int8"
    assert int8["metrics"]["top1"] >= fp32["metrics"]["top1"] - 0.02
    assert fp32["size_bytes"] / int8["size_bytes"] >= 2.5


@pytest.mark.backend
def test_mobilenet_v1_int8_has_the_reference_sizes(tmp_path: Path) -> None:
    recipe = validate_recipe(
        compose_recipe(
            [
                "recipe=mobilenetv1_quant",
                f"cache_dir={tmp_path / 'cache'}",
                "dataset.max_images=60",
                "strategy.quant.batch_nums=2",
                "strategy.quant.batch_size=4",
                "bench.repeats=3",
                "bench.warmup=1",
                "target.threads=[1]",
            ]
        )
    )
    outcome = run_recipe(recipe, tmp_path / "run")
    fp32, int8 = stage(outcome, "baseline"), stage(outcome, "int8")
    # PaddleX model library: 17 MB -> 4.4 MB (MobileNetV1, 1000 classes)
    assert 16.5e6 <= fp32["size_bytes"] <= 17.5e6
    assert 4.3e6 <= int8["size_bytes"] <= 4.8e6
    # untrained but batch-norm-calibrated: int8 must still agree with fp32, and top-1 on digits is not reported;
    # cosine 0.986 on an AVX2-only CPU, whose oneDNN int8 kernels saturate int16 pair sums (tests/host_cpu.py)
    assert int8["metrics"]["top1_agreement"] >= 0.9 and int8["metrics"]["cosine"] > (0.99 if HAS_INT8_VNNI else 0.98)
    assert "top1" not in int8["metrics"]
    results = json.loads((outcome.run_dir / "results.json").read_text())
    assert results["quality_metric"] == "top1_agreement"


def test_a_plain_override_of_per_layer_explains_the_plus() -> None:
    with pytest.raises(RecipeError) as caught:
        compose_recipe(["strategy.prune.per_layer={stage4*conv2:0.2}"])
    assert "+strategy.prune.per_layer={pattern:value}" in str(caught.value)


@pytest.mark.backend
def test_layer_catalog_matches_the_models() -> None:
    """The layer names the planner checks selectors against are the real models' (regenerate on drift)."""
    catalog = Path(__file__).resolve().parents[1] / "recipecc" / "common" / "paddle_layers.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
                import zlib, json
                from recipecc.passes.paddle.models import build_model, prunable_convolutions
                shapes = {"digits_cnn": [1, 32, 32]}
                print(json.dumps({
                    arch: prunable_convolutions(build_model(arch, shapes.get(arch, [3, 224, 224]), 10, 1.0))
                    for arch in (
                        "digits_cnn", "mobilenet_v1", "mobilenet_v2", "resnet50", "deeplabv3_mnv2", "fastscnn",
                        "yolov3_mobilenet_v1", "yolov3_resnet34",
                    )
                }))
                """
            ),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == json.loads(catalog.read_text())


@pytest.mark.backend
def test_weight_only_quantization_is_smaller_and_says_what_was_measured(tmp_path: Path, shared_cache: Path) -> None:
    plan = build_plan(validate_recipe(compose_recipe([*SMOKE, "strategy=quant", "strategy.quant.mode=ptq_dynamic"])))
    assert any(c.name == "weight-only" and c.status == "warn" for c in plan.checks)
    outcome = run(shared_cache, tmp_path, "strategy=quant", "strategy.quant.mode=ptq_dynamic")
    fp32, weights = stage(outcome, "baseline"), stage(outcome, "w-int8")
    assert weights["precision"] == "int8-weights"
    assert 2.5 <= fp32["size_bytes"] / weights["size_bytes"] <= 4.5
    assert weights["metrics"]["top1"] >= fp32["metrics"]["top1"] - 0.01  # no NaN: the dequantized twin runs
    assert "dequantized twin" in weights["model"]["measurement_note"]
    assert "dequantized twin" in (outcome.run_dir / "report.md").read_text()
