"""Every option of every config group composes, validates and plans; named recipes override their groups."""

from __future__ import annotations

from pathlib import Path

import pytest

from recipecc.plan import build_plan
from recipecc.recipe import compose_recipe, group_options, list_groups, validate_recipe
from recipecc.recipe.catalog import RUNTIMES
from recipecc.recipe.errors import RecipeError

GROUPS = list_groups()
TFLITE_STRATEGIES = ("tflite_", "magnitude")


def test_groups_have_the_shipped_options() -> None:
    assert {"digits_prune_quant", "digits_smoke"} <= set(GROUPS["recipe"])
    assert {"none", "prune", "quant", "prune_quant"} <= set(GROUPS["strategy"])
    assert {"host", "v100"} <= set(GROUPS["target"])


@pytest.fixture(scope="module")
def det_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from recipecc.datasets.shapes import write_shapes

    root = tmp_path_factory.mktemp("det-root")
    write_shapes(root, splits={"train": 2, "val": 2}, image_size=64)
    return root


@pytest.mark.parametrize(
    ("group", "option"), [(g, o) for g, options in GROUPS.items() for o in options], ids=lambda v: str(v)
)
def test_every_option_composes_validates_and_plans(
    group: str, option: str, image_dir: Path, seg_root: Path, det_root: Path
) -> None:
    needs = {("dataset", "image_folder"): [f"dataset.root={image_dir}"]}
    # segmentation models plan on label maps, label-map datasets with a segmentation model
    needs |= {("model", m): ["dataset=shapes_seg", "model.num_classes=5"] for m in ("deeplabv3_mnv2", "fastscnn")}
    needs |= {("dataset", d): ["model=deeplabv3_mnv2", "model.num_classes=5"] for d in ("shapes_seg",)}
    needs[("dataset", "segmentation")] = ["model=deeplabv3_mnv2", f"dataset.root={seg_root}"]
    # detectors plan on box-labelled sets, box-labelled sets with a detector
    needs |= {("model", m): ["dataset=shapes_voc"] for m in ("yolov3_mobilenet_v1", "yolov3_resnet34")}
    needs |= {("dataset", d): ["model=yolov3_mobilenet_v1"] for d in ("shapes_voc", "shapes_coco")}
    needs |= {
        ("dataset", d): ["model=yolov3_mobilenet_v1", f"dataset.root={det_root}", "dataset.split=val",
                         "dataset.train_split=train"]
        for d in ("voc", "coco")
    }  # fmt: skip
    # TFLite-only strategies plan on a TFLite target, TFLite targets with a strategy the tf backend runs
    # (their errors on the paddle host are checked in test_tf_plan.py)
    needs |= {("strategy", o): ["target=pc_xnnpack"] for o in GROUPS["strategy"] if o.startswith(TFLITE_STRATEGIES)}
    needs |= {("target", t): ["strategy=magnitude_int8"] for t in ("pc_xnnpack", "rpi3")}
    # model=file needs a path; planning never reads an ONNX file's contents, so any existing file does
    needs[("model", "file")] = [f"model.path={image_dir / 'cat' / '0.jpg'}", "model.format=onnx", "target=host_ort",
                                "strategy=quant"]  # fmt: skip
    recipe = validate_recipe(compose_recipe([f"{group}={option}", *needs.get((group, option), [])]))
    quantizes = recipe.strategy.quant is not None
    runtime = RUNTIMES[recipe.target.runtime]
    if quantizes and f"int{recipe.strategy.quant.bits}" not in runtime.precisions:  # type: ignore[union-attr]
        with pytest.raises(RecipeError, match="cannot run strategy"):
            build_plan(recipe)
        return
    plan = build_plan(recipe)
    assert plan.nodes[0].id == "data"
    assert plan.bench_nodes[0].stage == "baseline"


def test_default_recipe_is_digits_prune_quant_on_host() -> None:
    recipe = validate_recipe(compose_recipe([]))
    assert recipe.name == "digits_prune_quant"
    assert recipe.target.name == "host"
    assert recipe.strategy.prune is not None and recipe.strategy.quant is not None


def test_named_recipe_sets_its_values_and_command_line_wins() -> None:
    smoke = validate_recipe(compose_recipe(["recipe=digits_smoke"]))
    assert smoke.dataset.image_size == 8
    overridden = validate_recipe(compose_recipe(["recipe=digits_smoke", "dataset.image_size=16", "target=v100"]))
    assert overridden.dataset.image_size == 16
    assert overridden.target.name == "v100"


def test_strategy_none_plans_baseline_only() -> None:
    plan = build_plan(validate_recipe(compose_recipe(["strategy=none"])))
    assert [n.id for n in plan.nodes] == ["data", "train", "export", "bench.baseline"]


def test_group_options_lists_targets_from_the_targets_folder() -> None:
    assert "host" in group_options("target")


def test_a_replaced_model_or_strategy_is_not_described_as_the_named_recipe() -> None:
    """provenance.recipe.description described digits_prune_quant's Digits CNN for a run of a user's .tflite file."""
    replaced = compose_recipe(["model=file", "model.path=/data/m.tflite", "strategy=int8", "target=pc_xnnpack"])
    assert replaced.description == (
        "recipe 'digits_prune_quant' with model=file, model.path=/data/m.tflite, strategy=int8 set on the command line"
    )
    own = compose_recipe(["recipe=digits_tflite_smoke", "strategy.quant.algo=mse", "target=pc_xnnpack"])
    assert own.description.startswith("Tiny digits CNN")  # a knob changed: still that recipe's model and strategy
    given = compose_recipe(["strategy=int8", "description=team baseline"])
    assert given.description == "team baseline"
