"""Detection recipes at plan time: the data set is checked before anything runs; bad files are named (exit 2)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from planning import error_for as refusal
from planning import plan_for as plan

from recipecc.datasets.shapes import write_shapes

SEED_RECIPES = (
    "yolov3_mnv1_quant",
    "yolov3_r34_quant",
    "yolov3_mnv1_prune52",
    "yolov3_mnv1_prune52_coco",
    "yolov3_shapes",
)


def error_for(*overrides: str) -> str:
    return str(refusal(*overrides))


@pytest.fixture(scope="module")
def shapes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("shapes-plan")
    write_shapes(root, splits={"train": 4, "val": 3}, image_size=64, seed=1)
    return root


@pytest.mark.parametrize("recipe", SEED_RECIPES)
def test_seed_recipes_plan(recipe: str) -> None:
    built = plan(f"recipe={recipe}")
    data = next(n for n in built.nodes if n.id == "data")
    assert data.pass_name == "data.detection"
    assert data.params["generate"]["splits"]


def test_a_user_voc_root_is_checked_and_read_as_voc(shapes: Path) -> None:
    built = plan("recipe=yolov3_shapes", f"dataset.root={shapes}")
    data = next(n for n in built.nodes if n.id == "data")
    assert data.params["format"] == "voc" and "generate" not in data.params
    assert any("VOC detection set" in c.detail and "4 training" in c.detail for c in built.checks)


def test_missing_and_malformed_files_are_named_at_plan_time(shapes: Path, tmp_path: Path) -> None:
    root = Path(shutil.copytree(shapes, tmp_path / "voc"))
    message = error_for("recipe=yolov3_shapes", f"dataset.root={root}", "dataset.split=test")
    assert "ImageSets/Main/test.txt: split file not found" in message
    (root / "Annotations" / "000005.xml").unlink()
    message = error_for("recipe=yolov3_shapes", f"dataset.root={root}")
    assert "000005.xml: annotation file not found" in message
    coco = Path(shutil.copytree(shapes, tmp_path / "coco"))
    (coco / "annotations" / "instances_val.json").write_text(json.dumps({"images": [], "categories": []}))
    message = error_for("recipe=yolov3_mnv1_quant", f"dataset.root={coco}")
    assert "instances_val.json: has no 'annotations' list" in message


def test_user_sets_need_a_root_and_shapes_need_four_classes() -> None:
    assert "dataset=voc needs the folder of your data set" in error_for("recipe=yolov3_shapes", "dataset=voc")
    assert "the shapes set has 4 classes" in error_for("recipe=yolov3_shapes", "model.num_classes=80")


def test_yolov3_layer_tables_hold_the_reference_costs() -> None:
    """The estimator's tables at 608x608, COCO head: the MACs paddle.flops counts for the built networks."""
    from recipecc.estimate import builtin_table

    for arch, macs in {"yolov3_mobilenet_v1": 22.26e9, "yolov3_resnet34": 44.76e9}.items():
        table = builtin_table(arch)
        assert table is not None and table["input"] == [3, 608, 608] and table["num_classes"] == 80
        assert abs(table["macs"] - macs) / macs < 0.01
