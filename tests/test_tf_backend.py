"""The tf backend on real TensorFlow / tfmot / LiteRT, on the 8x8 digits CNN (NHWC).

Three plans share one artifact cache (module scope), so the model is trained once:
``smoke`` runs the named recipe digits_tflite_smoke end to end (train → magnitude prune 50% with a finetune →
strip → full int8, report); ``variants`` extends the same plan with every converter mode, QAT, constant-schedule
pruning of selected layers, 2:4 blocks and the no-delegate runner, all in one tf worker; the user-file tests
feed the trained model back as a ``.keras`` file, a SavedModel and a ``.tflite`` file.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from recipecc.bench.results import assemble_results
from recipecc.engine import RunOutcome, execute_plan, run_recipe
from recipecc.plan import ArtifactCache, Plan, build_plan
from recipecc.plan.builder import PlanBuilder, Stage
from recipecc.recipe import compose_recipe, validate_recipe

pytestmark = pytest.mark.backend


def recipe_for(cache: Path, *overrides: str) -> Any:
    return validate_recipe(compose_recipe(["recipe=digits_tflite_smoke", f"cache_dir={cache}", *overrides]))


def stage(results: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in results["stages"] if s["name"] == name)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tf-cache")


@pytest.fixture(scope="module")
def smoke(cache: Path, tmp_path_factory: pytest.TempPathFactory) -> RunOutcome:
    return run_recipe(recipe_for(cache), tmp_path_factory.mktemp("tf-run"))


@pytest.fixture(scope="module")
def variants(cache: Path, smoke: RunOutcome) -> dict[str, Any]:
    """Every converter mode, QAT and two more pruning set-ups on the smoke recipe's trained model, one worker."""
    recipe = recipe_for(cache, "strategy=none")
    base = build_plan(recipe)
    b = PlanBuilder(recipe, nodes=list(base.nodes), keys={n.id: n.key for n in base.nodes})
    io = {"data": "data"}
    for name, mode, precision, extra in (
        ("fp16", "fp16", "fp16", {}),
        ("dynamic", "dynamic", "dynamic-int8", {}),
        ("int8", "int8", "int8", {"io_type": "float", "calibration_images": 128}),
        ("int8_io", "int8", "int8", {"io_type": "int8", "calibration_images": 128}),
    ):
        params = {"mode": mode, "precision": precision, "seed": 0, **extra}
        node = b.add(f"convert.{name}", "tf.convert", params, {"model": "train", **io})
        b.bench(Stage(name, node, precision), "tf.bench", "data", delegate="xnnpack")
    qat = {"epochs": 1, "lr": 0.0005, "batch_size": 64, "io_type": "float", "seed": 0}
    b.bench(Stage("qat", b.add("qat", "tf.qat", qat, {"model": "train", **io}), "int8"), "tf.bench", "data")
    prune = {
        "per_layer": {},
        "frequency": 5,
        "epochs": 2,
        "lr": 0.01,
        "batch_size": 64,
        "optimizer": "momentum",
        "seed": 0,
    }
    for name, extra in (
        ("constant70", {"ratio": 0.7, "layers": ["stage*"], "schedule": "constant", "block": None}),
        ("block24", {"ratio": 0.5, "layers": ["*"], "schedule": "constant", "block": "2:4"}),
    ):
        pruned = b.add(f"prune.{name}", "tf.prune", {**prune, **extra}, {"model": "train", **io})
        convert = b.add(f"convert.{name}", "tf.convert", {"mode": "fp32", "precision": "fp32"}, {"model": pruned, **io})
        b.bench(Stage(name, convert, "fp32"), "tf.bench", "data", delegate="xnnpack")
    sparse = {"mode": "fp32", "precision": "fp32", "sparse_encoding": True}
    convert = b.add("convert.constant70_sparse", "tf.convert", sparse, {"model": "prune.constant70", **io})
    b.bench(Stage("constant70_sparse", convert, "fp32"), "tf.bench", "data", delegate="xnnpack")
    pqat = b.add("qat.constant70", "tf.qat", qat, {"model": "prune.constant70", **io})
    b.bench(Stage("constant70+qat", pqat, "int8"), "tf.bench", "data")
    b.bench(Stage("no_delegate", "convert", "fp32"), "tf.bench", "data", delegate="none")
    plan = Plan(base.recipe_name, base.target_name, base.recipe_hash, base.cache_root, tuple(b.nodes))
    outputs, log = execute_plan(plan)
    results = assemble_results(plan, outputs, {}, log)
    executed = [e["node"] for e in log if not e["cached"]]
    return {"results": results, "outputs": outputs, "executed": executed, "plan": plan}


def test_smoke_recipe_prunes_to_the_requested_sparsity(smoke: RunOutcome) -> None:
    results = smoke.results
    assert [s["name"] for s in results["stages"]] == ["baseline", "pruned", "pruned+int8"]
    sparsity = stage(results, "pruned")["model"]["sparsity"]
    assert abs(sparsity["overall"] - 0.5) <= 0.01, sparsity
    assert len(sparsity["layers"]) == 9  # 8 convolutions + the classifier
    assert all(abs(value - 0.5) <= 0.01 for value in sparsity["layers"].values()), sparsity["layers"]
    assert sparsity["schedule"] == "polynomial"
    assert stage(results, "pruned+int8")["model"]["sparsity"]["overall"] == sparsity["overall"]


def test_pruning_shrinks_only_the_gzipped_file(smoke: RunOutcome) -> None:
    baseline, pruned = stage(smoke.results, "baseline"), stage(smoke.results, "pruned")
    assert 0.97 <= pruned["size_bytes"] / baseline["size_bytes"] <= 1.03  # the zeros are stored
    assert pruned["model"]["gzip_bytes"] <= 0.75 * baseline["model"]["gzip_bytes"]
    report = (smoke.run_dir / "report.md").read_text()
    assert "| Stage | Conversion | Size on disk | Gzipped | Sparsity of the pruned layers |" in report
    assert "`stage1_conv1` 50.0% (50%)" in report


def test_smoke_accuracy_and_latency_rows(smoke: RunOutcome) -> None:
    results = smoke.results
    baseline = stage(results, "baseline")
    assert baseline["metrics"]["top1"] >= 0.93
    for name in ("pruned", "pruned+int8"):
        assert stage(results, name)["metrics"]["top1"] >= baseline["metrics"]["top1"] - 0.05
    for s in results["stages"]:
        assert s["format"] == "tflite"
        assert [row["threads"] for row in s["latency"]] == [1, 2]
        for row in s["latency"]:
            assert row["source"] == "measured-host" and row["engine"] == "XNNPACK"
            assert row["runtime"].startswith("ai-edge-litert ")
            assert row["median_ms"] > 0 and row["p90_ms"] >= row["median_ms"]


def test_full_int8_is_a_quarter_of_fp32_and_within_a_point(variants: dict[str, Any]) -> None:
    results = variants["results"]
    fp32, int8 = stage(results, "baseline"), stage(results, "int8")
    assert 3.0 <= fp32["size_bytes"] / int8["size_bytes"] <= 4.5
    assert int8["metrics"]["top1"] >= fp32["metrics"]["top1"] - 0.01
    assert int8["model"]["calibration"]["images"] == 128
    assert int8["model"]["quantization"] == {"weights": "int8", "activations": "int8", "io": "float"}
    # the int8 convolutions and the classifier run inside XNNPACK, not on TFLite's own kernels
    delegation = int8["latency"][0]["delegation"]
    assert re.match(r"\d+ of \d+ ops in \d+ partition", delegation), delegation
    assert "CONV_2D" not in delegation and "FULLY_CONNECTED" not in delegation


@pytest.mark.parametrize("name", ["fp16", "dynamic", "int8", "int8_io", "qat", "no_delegate"])
def test_every_converter_mode_loads_and_runs(variants: dict[str, Any], name: str) -> None:
    results = variants["results"]
    fp32, s = stage(results, "baseline"), stage(results, name)
    assert s["metrics"]["top1"] >= fp32["metrics"]["top1"] - 0.03
    expected_ratio = {"fp16": (1.8, 2.2), "dynamic": (3.0, 4.5), "int8": (3.0, 4.5), "int8_io": (3.0, 4.5)}
    expected_ratio |= {"qat": (3.0, 4.5), "no_delegate": (1.0, 1.0)}
    low, high = expected_ratio[name]
    assert low <= fp32["size_bytes"] / s["size_bytes"] <= high
    engine = s["latency"][0]["engine"]
    assert engine == ("TFLite builtin kernels (no delegate)" if name == "no_delegate" else "XNNPACK")


def test_integer_only_io_is_quantized_by_the_runner(variants: dict[str, Any]) -> None:
    model = stage(variants["results"], "int8_io")["model"]
    assert model["quantization"]["io"] == "int8"
    # the runner quantized the float inputs with the input tensor's scale / zero-point: same answers as float I/O
    int8 = stage(variants["results"], "int8")
    assert abs(stage(variants["results"], "int8_io")["metrics"]["top1"] - int8["metrics"]["top1"]) <= 0.01


def test_constant_schedule_on_selected_layers_and_2_4_blocks(variants: dict[str, Any]) -> None:
    constant = stage(variants["results"], "constant70")["model"]
    assert constant["selector_matches"] == {"stage*": 8}
    assert "fc" not in constant["sparsity"]["layers"]
    assert abs(constant["sparsity"]["overall"] - 0.7) <= 0.01
    # QAT of the pruned model keeps its zeros (tfmot's prune-preserving scheme), measured after training
    pqat = stage(variants["results"], "constant70+qat")
    assert abs(pqat["model"]["sparsity"]["overall"] - 0.7) <= 0.01
    assert pqat["model"]["conversion"].startswith("TFLite int8 from prune-preserving QAT")
    assert pqat["metrics"]["top1"] >= stage(variants["results"], "constant70")["metrics"]["top1"] - 0.03
    block = stage(variants["results"], "block24")["model"]["sparsity"]
    assert block["block"] == "2:4" and abs(block["overall"] - 0.5) <= 0.01
    assert set(variants["executed"]) >= {"prune.constant70", "prune.block24", "qat"}
    assert "train" not in variants["executed"]  # trained once, by the smoke run


@pytest.fixture(scope="module")
def user_files(smoke: RunOutcome, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The smoke run's trained model as a user would bring it: .keras, SavedModel folder, .tflite."""
    cache = ArtifactCache(smoke.plan.cache_root)
    folder = tmp_path_factory.mktemp("user-models")
    keras_file = folder / "digits.keras"
    shutil.copy(cache.path(smoke.plan.node("train").key) / "model.keras", keras_file)
    tflite_file = folder / "digits.tflite"
    shutil.copy(cache.path(smoke.plan.node("convert").key) / "model.tflite", tflite_file)
    saved = folder / "digits_savedmodel"
    code = "import tf_keras, sys; m = tf_keras.models.load_model(sys.argv[1], compile=False); m.export(sys.argv[2])"
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    subprocess.run([sys.executable, "-c", code, str(keras_file), str(saved)], check=True, env=env, capture_output=True)
    return {"keras": keras_file, "savedmodel": saved, "tflite": tflite_file}


@pytest.mark.parametrize(("fmt", "strategy"), [("keras", "tflite_int8"), ("savedmodel", "tflite_dynamic")])
def test_user_model_files_load_convert_and_benchmark(
    user_files: dict[str, Path], smoke: RunOutcome, cache: Path, tmp_path: Path, fmt: str, strategy: str
) -> None:
    recipe = recipe_for(cache, "model=file", f"model.path={user_files[fmt]}", f"strategy={strategy}")
    outcome = run_recipe(recipe, tmp_path)
    assert outcome.plan.node("load").params["format"] == fmt
    baseline = stage(outcome.results, "baseline")
    # the same weights as the smoke run's baseline: the same answers
    assert baseline["metrics"]["top1"] == pytest.approx(stage(smoke.results, "baseline")["metrics"]["top1"], abs=0.003)
    quantized = outcome.results["stages"][1]
    assert quantized["metrics"]["top1"] >= baseline["metrics"]["top1"] - 0.02
    assert 3.0 <= baseline["size_bytes"] / quantized["size_bytes"] <= 4.5
    if strategy == "tflite_int8":  # a user's model: its fp32 .tflite goes through the calibration search
        quantize = outcome.plan.node("quantize")
        assert quantize.pass_name == "tf.quantize_file" and quantize.inputs["model"] == "convert"
        search = quantized["model"]["quantization"]["calibration_search"]
        assert [c["status"] for c in search["candidates"]] == ["ok"] * 6
        assert quantized["model"]["calibration"]["chosen_by"] == "calibration search"


def test_a_user_tflite_file_is_benchmarked_as_is(
    user_files: dict[str, Path], smoke: RunOutcome, cache: Path, tmp_path: Path
) -> None:
    recipe = recipe_for(cache, "model=file", f"model.path={user_files['tflite']}", "strategy=none")
    outcome = run_recipe(recipe, tmp_path)
    [only] = outcome.results["stages"]
    assert only["size_bytes"] == user_files["tflite"].stat().st_size
    assert only["metrics"]["top1"] == stage(smoke.results, "baseline")["metrics"]["top1"]
    assert only["model"]["conversion"].startswith("user-supplied")


def test_the_planner_reads_the_input_shape_user_files_declare(user_files: dict[str, Path]) -> None:
    """Without importing TensorFlow: the .keras config and the .tflite flatbuffer name the input shape."""
    from recipecc.recipe.declared_input import declared_input_shape

    for fmt in ("keras", "tflite"):
        assert declared_input_shape(user_files[fmt]) == [None, 8, 8, 1], fmt


def test_sparse_encoding_shrinks_the_pruned_file_itself(variants: dict[str, Any]) -> None:
    """EXPERIMENTAL_SPARSITY stores the zeros sparse: the .tflite itself shrinks, the outputs stay the dense file's."""
    dense, sparse = stage(variants["results"], "constant70"), stage(variants["results"], "constant70_sparse")
    sparsity = dense["model"]["sparsity"]["overall"]
    assert sparsity >= 0.6
    assert sparse["size_bytes"] <= 0.6 * dense["size_bytes"], (sparse["size_bytes"], dense["size_bytes"])
    assert sparse["model"]["sparse_encoding"] is True and "EXPERIMENTAL_SPARSITY" in sparse["model"]["conversion"]
    assert sparse["metrics"]["top1"] == pytest.approx(dense["metrics"]["top1"], abs=0.003)
    assert all(row["median_ms"] > 0 for row in sparse["latency"])


def test_a_sparse_files_weights_are_counted_when_they_are_made_dense_for_the_quantizer(
    variants: dict[str, Any],
) -> None:
    """ai-edge-quantizer writes dense weights: what the sparse-encoded file held is recorded for the report."""
    from recipecc.passes.tf.flatbuffer_prep import prepare
    from recipecc.plan import ArtifactCache

    plan = variants["plan"]
    folder = ArtifactCache(plan.cache_root).path(plan.node("convert.constant70_sparse").key)
    _, _, facts = prepare(next(folder.glob("*.tflite")))
    sparse, sparsity = facts["sparse_weights"], stage(variants["results"], "constant70")["model"]["sparsity"]
    assert facts["constants_folded"]["DENSIFY"] == sparse["tensors"] >= 1
    # the densified weights hold the pruned layers' zeros (other sparse-encoded tensors may be denser)
    assert sparse["nonzero"] / sparse["values"] <= 1 - 0.5 * sparsity["overall"], (sparse, sparsity)


def test_a_sparse_files_int8_weights_are_stored_sparse_again(
    variants: dict[str, Any], cache: Path, tmp_path: Path
) -> None:
    """ai-edge-quantizer writes dense int8 weights; recipecc stores them sparse again (int8 DENSIFY, as the TFLite
    converter does), keeping the result only when it computes bit-identical outputs."""
    from recipecc.passes.tf.flatbuffer_prep import op_summary
    from recipecc.plan import ArtifactCache

    plan = variants["plan"]
    folder = ArtifactCache(plan.cache_root).path(plan.node("convert.constant70_sparse").key)
    source = next(folder.glob("*.tflite"))
    outcome = run_recipe(recipe_for(cache, "model=file", f"model.path={source}", "strategy=int8"), tmp_path / "run")
    baseline, int8 = stage(outcome.results, "baseline"), stage(outcome.results, "int8")
    again = int8["model"]["quantization"]["prepared"]["sparse_int8_weights"]
    assert "kept_dense" not in again and again["tensors"] >= 1
    assert again["stored_bytes"] <= 0.8 * again["dense_bytes"]
    model_file = outcome.run_dir / int8["files"]["model"]
    assert op_summary(model_file.read_bytes())["DENSIFY"]["ops"] == again["tensors"]
    assert "stored sparse again" in int8["model"]["conversion"]
    # the sparse copies carry no quantization parameters (the DENSIFY outputs do), and what they cost is said
    params = again["quantization_parameters"]
    assert params["scales"] == params["zero_points"] and params["bytes"] == 12 * params["scales"]
    assert f"{params['bytes']:,} bytes of the int8 file are quantization parameters" in int8["model"]["conversion"]
    # XNNPACK still runs every op: the int8 DENSIFY of a constant is folded when the model loads
    assert "TFLite's kernels" not in int8["latency"][0]["delegation"], int8["latency"][0]["delegation"]
    assert int8["metrics"]["top1"] >= baseline["metrics"]["top1"] - 0.02


def test_the_prune90_seed_recipe_ships_the_sparse_encoded_file() -> None:
    plan = build_plan(validate_recipe(compose_recipe(["recipe=mobilenet_v1_prune90_tflite"])))
    assert [n.stage for n in plan.bench_nodes] == ["baseline", "pruned", "pruned-sparse"]
    assert plan.node("convert.pruned_sparse").params["sparse_encoding"] is True


def test_a_tflite_file_the_default_data_cannot_feed_is_measured_on_inputs_shaped_like_its_own(
    tmp_path: Path,
) -> None:
    """MediaPipe's iris model wants 1x64x64x3: a benchmark-only run must not fail on the default digits data."""
    script = (
        "import tensorflow as tf\n"
        "m = tf.keras.Sequential([tf.keras.Input((64, 64, 3)), tf.keras.layers.Conv2D(8, 3, activation='relu'),"
        " tf.keras.layers.GlobalAveragePooling2D(), tf.keras.layers.Dense(5)])\n"
        f"open({str(tmp_path / 'iris_like.tflite')!r}, 'wb')"
        ".write(tf.lite.TFLiteConverter.from_keras_model(m).convert())\n"
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, env=env)
    overrides = [
        f"cache_dir={tmp_path / 'cache'}", "target=pc_xnnpack", "target.threads=[1]", "model=file",
        f"model.path={tmp_path / 'iris_like.tflite'}", "strategy=none", "bench.warmup=2", "bench.repeats=5",
    ]  # fmt: skip
    outcome = run_recipe(validate_recipe(compose_recipe(overrides)), tmp_path / "run")
    baseline = outcome.results["stages"][0]
    assert "top1" not in baseline["metrics"]  # no labels for made-up inputs
    assert "shaped like the model's input [1, 64, 64, 3]" in baseline["model"]["measurement_note"]
    assert "shaped like the model's input [1, 64, 64, 3]" in (outcome.run_dir / "report.md").read_text()
    assert outcome.results["title"] == "iris_like.tflite · none on pc_xnnpack"


def _unfuse_activations(model: Any) -> int:
    """Every fused RELU as an op of its own after its producer (MediaPipe's ``ADD`` then ``RELU``); how many."""
    import copy

    from ai_edge_litert import schema_py_generated as schema

    relu = schema.OperatorCodeT()
    relu.builtinCode = relu.deprecatedBuiltinCode = schema.BuiltinOperator.RELU
    model.operatorCodes.append(relu)
    graph, operators, count = model.subgraphs[0], [], 0
    for op in model.subgraphs[0].operators:
        operators.append(op)
        options = op.builtinOptions
        if getattr(options, "fusedActivationFunction", None) != schema.ActivationFunctionType.RELU:
            continue
        options.fusedActivationFunction = schema.ActivationFunctionType.NONE
        before = copy.deepcopy(graph.tensors[op.outputs[0]])
        before.name = f"{before.name.decode() if isinstance(before.name, bytes) else before.name}/before_relu"
        before.buffer = 0
        graph.tensors.append(before)
        activation = schema.OperatorT()
        activation.opcodeIndex = len(model.operatorCodes) - 1
        activation.inputs, activation.outputs = [len(graph.tensors) - 1], [op.outputs[0]]
        op.outputs = [len(graph.tensors) - 1]
        operators.append(activation)
        count += 1
    graph.operators = operators
    return count


def _as_older_converters_write_it(source: Path, target: Path) -> int:
    """``source`` the way MediaPipe's files are: operator codes only in the deprecated field, activations as ops of
    their own, and no signature."""
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model(source)
    unfused = _unfuse_activations(model)
    for code in model.operatorCodes:
        assert code.builtinCode < 127  # the deprecated field is an int8
        code.deprecatedBuiltinCode, code.builtinCode = code.builtinCode, 0
    model.signatureDefs = []
    flatbuffer_utils.write_model(model, target)
    return unfused


def test_a_signature_less_tflite_file_is_quantized_to_int8_by_ai_edge_quantizer(
    user_files: dict[str, Path], smoke: RunOutcome, cache: Path, tmp_path: Path
) -> None:
    """The issue's failure shape: ai-edge-quantizer returned such a file unchanged, and could not calibrate it."""
    legacy = tmp_path / "legacy.tflite"
    unfused = _as_older_converters_write_it(user_files["tflite"], legacy)
    overrides = ("model=file", f"model.path={legacy}", "strategy=int8", "bench.metrics=[top1_agreement,cosine]")
    outcome = run_recipe(recipe_for(cache, *overrides), tmp_path / "run")
    baseline, int8 = stage(outcome.results, "baseline"), stage(outcome.results, "int8")
    quantization = int8["model"]["quantization"]
    prepared = quantization["prepared"]
    assert prepared["signature_added"] == "serving_default" and prepared["operator_codes_fixed"] >= 3
    # fused back as the converter does: XNNPACK has no int8 RELU (MediaPipe's face detector ran 17 of them outside
    # it, in 18 partitions, 5x slower than fp32)
    assert unfused >= 2 and prepared["activations_fused"] == {"CONV_2D+RELU": unfused}, prepared
    assert "RELU" not in quantization["ops"] and "standalone activations fused" in int8["model"]["conversion"]
    assert "TFLite's kernels run" not in (outcome.run_dir / "report.md").read_text()  # every op in XNNPACK
    conv = quantization["ops"]["CONV_2D"]
    assert conv["int8"] == conv["ops"] >= 2  # every convolution computes in int8
    assert int8["model"]["calibration"]["origin"] == "256 images of the calibration split"
    assert 3.0 <= baseline["size_bytes"] / int8["size_bytes"] <= 4.5, (baseline["size_bytes"], int8["size_bytes"])
    assert baseline["metrics"]["top1"] == stage(smoke.results, "baseline")["metrics"]["top1"]  # same function
    assert int8["metrics"]["top1"] >= baseline["metrics"]["top1"] - 0.02
    assert int8["metrics"]["top1_agreement"] >= 0.97 and int8["metrics"]["cosine"] >= 0.99  # fidelity vs fp32
    assert "ai-edge-quantizer" in (outcome.run_dir / "report.md").read_text()


def test_float16_weights_are_expanded_before_static_int8(
    user_files: dict[str, Path], smoke: RunOutcome, cache: Path, tmp_path: Path
) -> None:
    """MediaPipe stores most weights as float16 behind DEQUANTIZE ops: folded first (and the float16 originals
    dropped, or the calibrator fails on them), they become int8 weights."""
    from recipecc.passes.tf.common import load_keras
    from recipecc.passes.tf.convert import to_tflite

    fp16 = tmp_path / "fp16.tflite"
    fp16.write_bytes(to_tflite(load_keras(user_files["keras"]), "fp16")[0])
    outcome = run_recipe(recipe_for(cache, "model=file", f"model.path={fp16}", "strategy=int8"), tmp_path / "run")
    baseline, int8 = stage(outcome.results, "baseline"), stage(outcome.results, "int8")
    assert int8["model"]["quantization"]["prepared"]["constants_folded"]["DEQUANTIZE"] >= 3
    assert int8["size_bytes"] <= 0.8 * baseline["size_bytes"], (baseline["size_bytes"], int8["size_bytes"])
    assert int8["metrics"]["top1"] >= baseline["metrics"]["top1"] - 0.02
