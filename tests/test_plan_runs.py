"""A plan either runs or is refused at plan time: the run matrix, and one regression test per way it once broke.

- A: the onnx pipeline gave ImageNet architectures the default 1-channel data (paddle.train failed);
- B: onnx.prune found no weights in paddle2onnx exports (weights in Constant nodes);
- C: tf.train called fit(epochs=0) for the ImageNet architectures' default ``train.epochs: 0``;
- a search on a target without a search step was silently dropped;
- a sensitivity-driven FLOPs target of 30% removed 81% of the FLOPs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from planning import error_for, plan_for, run_cli
from run_matrix import discover, run_matrix, violation

from recipecc.engine import run_recipe
from recipecc.recipe import compose_recipe, validate_recipe

SMALL = ["bench.warmup=1", "bench.repeats=3", "target.threads=[1]", "dataset.max_images=100"]


# --- plan time (fast) ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("arch", ["mobilenet_v1", "mobilenet_v2", "resnet50", "digits_cnn"])
@pytest.mark.parametrize("target", ["host", "host_ort", "pc_xnnpack"])
def test_every_pipeline_gives_the_model_the_channels_and_layout_it_takes(arch: str, target: str) -> None:
    """Cause A: the data step asks the architecture, whichever pipeline trains it (onnx reuses paddle / Keras)."""
    plan = plan_for(f"model={arch}", "strategy=quant", f"target={target}", "dataset.image_size=32")
    data = plan.node("data").params
    assert data.get("channels", 1) == (1 if arch == "digits_cnn" else 3)
    assert data["layout"] == ("NHWC" if target == "pc_xnnpack" else "NCHW")
    shown = next(c.detail for c in plan.checks if c.name == "input")
    assert f"{data.get('channels', 1)} channel" in shown and arch in shown


def test_keras_models_on_onnx_runtime_get_nhwc_colour_data() -> None:
    plan = plan_for("model=mobilenet_v1", "model.framework=tf", "strategy=quant", "target=host_ort")
    assert plan.node("data").params["layout"] == "NHWC" and plan.node("data").params["channels"] == 3


def test_input_needs_are_checked_at_plan_time() -> None:
    err = error_for("model=mobilenet_v1", "target=host_ort", "dataset.image_size=16")
    assert err.key == "dataset.image_size" and "at least 32x32" in str(err)
    err = error_for("model=resnet50", "model.width=0.5", "target=host")
    assert err.key == "model.width" and "no width multiplier" in str(err)


@pytest.mark.parametrize("target", ["host", "pc_xnnpack"])
def test_a_search_is_refused_where_no_step_carries_it_out(target: str) -> None:
    err = error_for("recipe=digits_ort_search", f"target={target}")
    assert err.key == "strategy.search"
    assert "cannot carry out strategy.search" in str(err) and "host_ort" in str(err.valid)


def test_a_search_refusal_exits_2_with_one_message() -> None:
    done = run_cli("plan", "recipe=digits_ort_search", "target=host")
    assert done.returncode == 2, done.stderr
    assert "strategy.search" in done.stderr and "Traceback" not in done.stderr


def test_sensitivity_on_a_target_without_the_analysis_is_refused() -> None:
    err = error_for("model=digits_cnn", "strategy=sensitive", "strategy.prune.criterion=magnitude", "target=pc_xnnpack")
    assert err.key == "strategy.sensitivity" and "cannot carry out strategy.sensitivity" in str(err)


def test_untrained_keras_models_are_said_to_be_untrained() -> None:
    plan = plan_for("recipe=mobilenetv1_quant", "target=pc_xnnpack")
    assert any(c.name == "model" and c.status == "warn" and "untrained" in c.detail for c in plan.checks)


# --- run time (real backends) ----------------------------------------------------------------------------------


def _constant_weights(source: Path, target: Path) -> Path:
    """The model with every initializer turned into a Constant node, as paddle2onnx writes weights."""
    import onnx
    from onnx import helper

    model = onnx.load(str(source))
    constants = [helper.make_node("Constant", [], [t.name], value=t) for t in model.graph.initializer]
    del model.graph.initializer[:]
    nodes = [*constants, *model.graph.node]
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    onnx.checker.check_model(model)
    target.mkdir()
    onnx.save_model(model, str(target / "model.onnx"))
    (target / "artifact.json").write_text(json.dumps({"format": "onnx", "model_files": ["model.onnx"]}))
    return target


@pytest.mark.backend
def test_onnx_prune_reads_weights_from_constant_nodes(tmp_path: Path) -> None:
    """Cause B: weights stored as Constant nodes (paddle2onnx) are pruned like initializers."""
    onnx = pytest.importorskip("onnx")
    from onnx import numpy_helper
    from onnx_models import conv_model

    from recipecc.passes.base import PassContext
    from recipecc.passes.onnx.common import constant_tensors
    from recipecc.worker import call_entry

    source = _constant_weights(conv_model(tmp_path / "conv.onnx"), tmp_path / "source")
    out = tmp_path / "out"
    out.mkdir()
    ctx = PassContext("prune", {"ratio": 0.5, "layers": ["*"], "per_layer": {}}, {"model": source}, out)
    meta = call_entry("recipecc.passes.onnx.prune:run", ctx)
    assert meta["sparsity"]["pruned_tensors"] == 3 and meta["sparsity"]["pruned_weights"] == pytest.approx(0.5, 0.01)
    weights = constant_tensors(onnx.load(str(out / "model.onnx")))
    w2 = numpy_helper.to_array(weights["w2"])
    assert float((w2 == 0).mean()) == pytest.approx(0.5, abs=0.01)
    assert meta["sparsity"]["selector_matches"] == {"*": 3}


@pytest.mark.backend
def test_onnx_prune_names_the_nodes_when_no_selector_matches(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    from onnx_models import conv_model

    from recipecc.passes.base import PassContext, PassFailure
    from recipecc.worker import call_entry

    source = _constant_weights(conv_model(tmp_path / "conv.onnx"), tmp_path / "source")
    (tmp_path / "out").mkdir()
    params = {"ratio": 0.5, "layers": ["nothing*"], "per_layer": {}}
    ctx = PassContext("prune", params, {"model": source}, tmp_path / "out")
    with pytest.raises(PassFailure, match=r"matched none of the 3 weighted nodes.*stem/conv"):
        call_entry("recipecc.passes.onnx.prune:run", ctx)


def _stage(results: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in results["stages"] if s["name"] == name)


@pytest.mark.backend
def test_keras_imagenet_architecture_with_zero_epochs_runs_untrained(tmp_path: Path) -> None:
    """Cause C: ``train.epochs: 0`` on the tf backend builds the network untrained, as on paddle."""
    pytest.importorskip("tensorflow")
    recipe = validate_recipe(
        compose_recipe(
            ["recipe=mobilenetv1_quant", "target=pc_xnnpack", "model.width=0.25", "dataset.image_size=32", *SMALL]
        )
    )
    assert recipe.model.train.epochs == 0
    outcome = run_recipe(recipe, tmp_path / "run")
    meta = json.loads((Path(outcome.plan.cache_root) / outcome.plan.node("train").key / "artifact.json").read_text())
    assert meta["origin"].startswith("untrained") and meta["history"] is None
    int8 = _stage(outcome.results, "int8")
    assert int8["size_bytes"] < 0.4 * _stage(outcome.results, "baseline")["size_bytes"]


@pytest.mark.backend
def test_sensitive_flops_target_lands_within_three_points(tmp_path: Path) -> None:
    """``mobilenetv1_sensitive`` promises 30% of the FLOPs removed: the run removes 27-33% and says how much.

    The pruned network is finetuned here (one epoch) while its baseline is untrained: the run must say that its
    quality cannot be measured instead of printing an agreement figure that measures nothing."""
    recipe = validate_recipe(
        compose_recipe(
            [
                "recipe=mobilenetv1_sensitive",
                "target=host",
                "dataset.image_size=32",
                "strategy.sensitivity.images=8",
                "strategy.finetune.epochs=1",
                *SMALL,
            ]
        )
    )
    assert recipe.strategy.sensitivity is not None and recipe.strategy.sensitivity.value == pytest.approx(0.3)
    outcome = run_recipe(recipe, tmp_path / "run")
    pruned = _stage(outcome.results, "pruned")["model"]
    assert abs(pruned["flops_reduction"] - 0.3) <= 0.03, pruned["flops_reduction"]
    reached = pruned["sensitivity_target"]
    assert reached["met"] and reached["achieved"] == pytest.approx(pruned["flops_reduction"], abs=0.005)
    report = (outcome.run_dir / "report.md").read_text()
    assert f"{reached['achieved']:.1%} removed, met" in report
    assert np.isfinite(pruned["params_reduction"])
    # untrained baseline, finetuned stage: quality is said to be unmeasurable, in results.json and the report
    assert "untrained" in _stage(outcome.results, "pruned")["quality_note"]
    assert "quality_note" not in _stage(outcome.results, "baseline")
    assert outcome.results["quality_note"].startswith("quality cannot be measured for pruned")
    assert "| pruned | fp32 | not measurable |" in report and "**Quality:**" in report


def _assert_plan_accept_iff_run_success(pairs: list[tuple[str, str]], work: Path) -> None:
    outcomes = run_matrix(pairs, work, processes=2)
    assert len(outcomes) == len(pairs)
    problems = [v for o in outcomes if (v := violation(o))]
    assert not problems, f"{len(problems)} of {len(outcomes)} pairs break the rule:\n\n" + "\n\n".join(problems)
    assert sum(o.run == "ok" for o in outcomes) >= 10  # the matrix really ran things


@pytest.mark.backend
def test_every_accepted_plan_runs_on_the_host_targets(tmp_path: Path) -> None:
    """The run matrix in CI: every shipped recipe x every target on this machine (``device: host``) at smoke size.

    Plan-accept <=> run-success: every accepted pair runs to a results.json whose every stage has its size,
    latency and quality (or says why quality is unmeasurable); a refused pair is refused by ``recipecc plan`` with
    exit 2. All pairs share one cache, so a step two pairs plan alike (a training) runs once, and recipes training
    the same model run in one child (``tests/run_matrix.py``). New recipes and host targets join by existing
    (``tests/run_matrix.py:discover``).
    """
    _assert_plan_accept_iff_run_success(discover(host_only=True), tmp_path)


@pytest.mark.backend
@pytest.mark.skipif(
    os.environ.get("RECIPECC_MATRIX") != "1",
    reason="every recipe x every target (phones, boards, GPUs: estimated latencies) takes ~20 CPU-minutes, over "
    "CI's budget; the host targets run in CI above. By hand: RECIPECC_MATRIX=1 python -m pytest -q "
    "tests/test_plan_runs.py -k every_shipped_target",
)
def test_every_accepted_plan_runs_on_every_shipped_target(tmp_path: Path) -> None:
    """The same rule over every shipped target, the estimated and remote ones too (run before a release)."""
    _assert_plan_accept_iff_run_success(discover(), tmp_path)


def test_segmentation_fidelity_pairs_label_maps_whose_output_names_differ() -> None:
    """Found by the run matrix: a weight-only twin's output variable has another name than the baseline's."""
    from recipecc.tasks.segmentation import fidelity

    maps = np.array([[[0, 1], [2, 2]]], dtype=np.uint8)
    flat, _ = fidelity({"save_infer_model/scale_1.tmp_0": maps}, {"save_infer_model/scale_0.tmp_0": maps})
    assert flat["pixel_agreement"] == 1.0 and flat["miou_agreement"] == pytest.approx(1.0)


def _keras_archive(path: Path, batch_shape: list[int | None], key: str = "batch_shape") -> Path:
    """A ``.keras`` archive as far as the planner reads it: config.json naming the input layer's batch shape."""
    import zipfile

    config = {
        "class_name": "Functional",
        "config": {"layers": [{"class_name": "InputLayer", "config": {key: batch_shape, "name": "image"}}]},
    }
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("metadata.json", "{}")
    return path


@pytest.mark.parametrize("key", ["batch_shape", "batch_input_shape"])  # Keras 3, tf_keras
def test_a_keras_file_decides_the_channels_and_size_of_the_default_data(tmp_path: Path, key: str) -> None:
    """A user's Keras file taking 48x48 RGB gets 48x48 3-channel digits, not the 1-channel 32x32 default."""
    path = _keras_archive(tmp_path / "rgb.keras", [None, 48, 48, 3], key)
    plan = plan_for("model=file", f"model.path={path}", "strategy=none", "target=pc_xnnpack")
    data = plan.node("data").params
    assert (data["channels"], data["image_size"], data["layout"]) == (3, 48, "NHWC")
    shown = next(c.detail for c in plan.checks if c.name == "input")
    assert "declared by the file as [N, 48, 48, 3]" in shown and "not dataset.image_size 32" in shown


def test_a_keras_file_the_digits_cannot_feed_is_refused(tmp_path: Path) -> None:
    path = _keras_archive(tmp_path / "wide.keras", [None, 48, 64, 3])
    err = error_for("model=file", f"model.path={path}", "strategy=none", "target=pc_xnnpack")
    assert err.key == "dataset" and "[N, 48, 64, 3]" in str(err) and "dataset.size=[48, 64]" in str(err.valid)
