"""A detector's anchors: fitted to the training boxes (numbers), carried from the data pass into the decoder, and
``model.anchors`` checked at plan time (exit 2 with one message)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from planning import error_for as refusal
from planning import plan_for as plan

from recipecc.bench.evaluation import evaluate
from recipecc.metrics.anchors import anchor_fit, fit_anchors, iou_wh
from recipecc.metrics.yolo import ANCHORS_FROM_DATA, anchors_for, resolve_anchors, yolov3_decoder_spec
from recipecc.metrics.yolo_targets import yolo_targets
from recipecc.passes.base import PassContext, PassFailure, task_of
from recipecc.passes.data import detection as detection_data


def error_for(*overrides: str) -> str:
    return str(refusal(*overrides))


def test_iou_of_sizes_sharing_a_centre() -> None:
    iou = iou_wh(np.array([[10, 10], [20, 40]]), np.array([[10, 20], [20, 40]]))
    assert iou.tolist() == [[0.5, 100 / 800], [200 / 800, 1.0]]


def test_k_means_recovers_the_size_clusters_of_the_boxes() -> None:
    rng = np.random.RandomState(0)
    centres = np.array([[10, 12], [24, 40], [60, 30]], dtype=float)
    sizes = np.concatenate([c * rng.uniform(0.9, 1.1, size=(200, 2)) for c in centres])
    anchors = fit_anchors(sizes, 3, seed=0)
    assert anchors == sorted(anchors, key=lambda a: a[0] * a[1])
    for (w, h), (cw, ch) in zip(anchors, centres, strict=True):
        assert abs(w - cw) <= 1 and abs(h - ch) <= 1.5, anchors
    assert fit_anchors(sizes, 3, seed=0) == anchors  # deterministic
    assert anchor_fit(sizes, anchors)["mean_best_iou"] > 0.85


def test_nine_anchors_fitted_to_the_shapes_fit_them_better_than_coco() -> None:
    """The shapes set at 96x96 has boxes of 12-43 px; COCO's anchors scaled to 96 px span 2-59 px."""
    rng = np.random.RandomState(1)
    side = rng.uniform(12, 43, size=500)
    sizes = np.stack([side, side * rng.choice([1.0, 1.15, 1.43], size=500)], axis=1).clip(12, 43)
    anchors = fit_anchors(sizes, 9, seed=0)
    assert len(anchors) == 9 and all(11 <= v <= 44 for pair in anchors for v in pair), anchors
    ours, coco = anchor_fit(sizes, anchors), anchor_fit(sizes, anchors_for(96))
    assert ours["mean_best_iou"] > 0.85 > coco["mean_best_iou"] + 0.1, (ours, coco)


def test_fewer_distinct_boxes_than_anchors_still_give_nine() -> None:
    assert fit_anchors(np.array([[8, 8], [8, 8], [16, 8]]), 9) == [(8, 8), (16, 8)] + [(16, 8)] * 7
    with pytest.raises(ValueError, match="no boxes"):
        fit_anchors(np.zeros((0, 2)))


def test_the_data_pass_fits_anchors_to_its_training_boxes(tmp_path: Path) -> None:
    params = {
        "name": "shapes_voc", "seed": 0, "layout": "NCHW", "mean": [0.5] * 3, "std": [0.5] * 3, "scale": 1 / 255,
        "color": "RGB", "train_split": "train", "split": "val", "max_images": 24, "eval_images": 4,
        "num_classes": 4, "format": "voc", "input_size": 64, "annotations": None, "image_dir": None,
        "fit_anchors": 9, "generate": {"image_size": 64, "splits": {"train": 24, "val": 4}},
    }  # fmt: skip
    meta = detection_data.run(PassContext("data", params, {}, tmp_path))
    fitted = meta["anchors"]
    low, high = fitted["box_size_range"]
    assert len(fitted["anchors"]) == 9 and fitted["boxes"] == meta["boxes"]["train"]
    assert all(low - 1 <= v <= high + 1 for pair in fitted["anchors"] for v in pair), fitted
    assert fitted["fit"]["mean_best_iou"] > fitted["coco_fit"]["mean_best_iou"]
    # the passes read them from the artifact: the plan only says "fitted by the data pass"
    (tmp_path / "artifact.json").write_text(json.dumps(meta))
    task = task_of({"task": "detection", "decoder": yolov3_decoder_spec(64, ANCHORS_FROM_DATA)}, tmp_path)
    assert task["decoder"]["anchors"] == fitted["anchors"]


def test_fitted_anchors_missing_from_the_data_is_a_pass_failure(tmp_path: Path) -> None:
    (tmp_path / "artifact.json").write_text(json.dumps({"name": "shapes_voc"}))
    with pytest.raises(PassFailure, match="records none"):
        task_of({"task": "detection", "decoder": yolov3_decoder_spec(64, ANCHORS_FROM_DATA)}, tmp_path)
    fixed = yolov3_decoder_spec(64, [[5, 5]] * 9)
    assert resolve_anchors(fixed, None) == fixed


def test_evaluation_decodes_with_the_anchors_the_data_pass_fitted(tmp_path: Path) -> None:
    """One confident cell with zero offsets decodes to a box of its anchor's size: the fitted one, not COCO's."""
    size, classes = 64, 4
    fitted = [[6, 6], [8, 9], [10, 10], [12, 14], [16, 16], [18, 20], [22, 24], [26, 28], [30, 31]]
    maps = [np.full((1, 3 * (5 + classes), size // s, size // s), -12.0, np.float32) for s in (32, 16, 8)]
    maps[0][0, 2 * (5 + classes) + 2 : 2 * (5 + classes) + 4] = 0.0  # deepest level, its last anchor: w, h
    maps[0][0, 2 * (5 + classes) + 4, 1, 1] = 8.0  # objectness at cell (1, 1)
    maps[0][0, 2 * (5 + classes) + 5, 1, 1] = 8.0  # class 0
    targets = np.zeros((1, 2, 6), np.float32)
    targets[0, 0, :3] = (1, size, size)
    targets[0, 1] = (17, 16, 47, 47, 0, 0)  # a 30 x 31 box centred where cell (1, 1) with zero offsets points
    result = evaluate(
        params={"task": "detection", "num_classes": classes, "decoder": yolov3_decoder_spec(size, ANCHORS_FROM_DATA)},
        data={"x_test": np.zeros((1, 3, size, size), np.float32), "y_test": targets},
        data_meta={"labelled": True, "label_kind": "boxes", "num_classes": classes, "anchors": {"anchors": fitted}},
        input_names=["image"],
        output_names=["out0", "out1", "out2"],
        predict=lambda feeds: maps,
        reference_dir=None,
        out_dir=tmp_path,
    )
    assert result["metrics"]["map50"] == pytest.approx(1.0)
    boxes = np.load(tmp_path / "outputs.npz")["boxes"][0]
    width, height = (boxes[0, 2] - boxes[0, 0]) * size, (boxes[0, 3] - boxes[0, 1]) * size
    assert (width, height) == pytest.approx((30, 31), abs=0.01)  # COCO's anchor here would be 59 x 51


def test_the_plan_says_where_the_anchors_come_from() -> None:
    built = plan("recipe=yolov3_shapes")
    data = next(n for n in built.nodes if n.id == "data")
    train = next(n for n in built.nodes if n.id == "train")
    assert data.params["fit_anchors"] == 9
    assert train.params["decoder"]["anchors"] == ANCHORS_FROM_DATA
    assert any(c.name == "anchors" and "fitted to the training boxes" in c.detail for c in built.checks)
    coco = plan("recipe=yolov3_shapes", "model.anchors=coco")
    assert "fit_anchors" not in next(n for n in coco.nodes if n.id == "data").params
    assert next(n for n in coco.nodes if n.id == "train").params["decoder"]["anchors"] == [
        list(a) for a in anchors_for(96)
    ]
    # the reference rows (untrained at 608) and trained weights keep COCO's, as PaddleDetection's configs do
    reference = plan("recipe=yolov3_mnv1_quant")
    assert next(n for n in reference.nodes if n.id == "bench.baseline").params["decoder"]["anchors"][-1] == [373, 326]


def test_given_anchors_are_used_as_given() -> None:
    pairs = "[[4,5],[6,7],[8,9],[10,11],[12,13],[14,15],[16,17],[18,19],[20,21]]"
    built = plan("recipe=yolov3_shapes", f"model.anchors={pairs}")
    assert next(n for n in built.nodes if n.id == "train").params["decoder"]["anchors"] == json.loads(pairs)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("cocoa", "model.anchors = 'cocoa' is not an anchor choice"),
        ("[[10,13],[16,30]]", "model.anchors has 2 entries; YOLOv3 takes 9"),
        ("[[1,2],[3,4],[5,6],[7,8],[9,10],[11,12],[13,14],[15,16],[17]]", "model.anchors[8] = [17] is not a [w, h]"),
        ("[[1,2],[3,4],[5,6],[7,8],[9,10],[11,12],[13,14],[15,16],[17,1.5]]", "is not a [w, h] pair of whole"),
        ("[[1,2],[3,4],[5,6],[7,8],[9,10],[11,12],[13,14],[15,16],[17,999]]", "out of range for a 96px input"),
        ("[[9,9],[3,4],[5,6],[7,8],[9,10],[11,12],[13,14],[15,16],[17,18]]", "smallest to the largest"),
    ],
)
def test_bad_anchors_are_refused_at_plan_time(value: str, expected: str) -> None:
    assert expected in error_for("recipe=yolov3_shapes", f"model.anchors={value}")


def test_anchors_on_a_model_without_them_are_refused() -> None:
    assert "only a detector has anchors" in error_for("model.anchors=coco")


def test_targets_make_the_best_anchor_responsible_and_with_a_threshold_the_close_ones_too() -> None:
    """A 30 x 31 px box centred at (40, 20) of a 64 px input, anchors as fitted to similar boxes."""
    anchors = [[6, 6], [8, 9], [10, 10], [12, 14], [16, 16], [18, 20], [22, 24], [26, 28], [30, 31]]
    masks, grids = ((6, 7, 8), (3, 4, 5), (0, 1, 2)), [(2, 2), (4, 4), (8, 8)]
    box = np.array([[[40 / 64, 20 / 64, 30 / 64, 31 / 64], [0, 0, 0, 0]]], np.float32)
    label = np.array([[2, 0]], np.int32)
    only_best = yolo_targets(box, label, anchors, masks, grids, 4, 64)
    assert [int(t[:, :, 5].sum()) for t in only_best] == [1, 0, 0]
    cell = only_best[0][0, 2, :, 0, 1]  # deepest level, its third anchor (30 x 31), cell (row 0, column 1)
    assert cell[:6].tolist() == pytest.approx([0.25, 0.625, 0.0, 0.0, 2 - 30 * 31 / 64**2, 1.0])
    assert cell[6:].tolist() == [0, 0, 1, 0]
    several = yolo_targets(box, label, anchors, masks, grids, 4, 64, iou_thresh=0.5)
    # IoU with the box: 26 x 28 -> 0.78, 22 x 24 -> 0.57, 18 x 20 -> 0.39: two more anchors on the deepest level
    assert [int(t[:, :, 5].sum()) for t in several] == [3, 0, 0]
    assert several[0][0, 1, 2, 0, 1] == pytest.approx(np.log(30 / 26))
