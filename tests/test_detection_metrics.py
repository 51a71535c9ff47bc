"""Detection metrics against hand-computed cases and against pycocotools on the same detections."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from recipecc.datasets.detection import to_coco_gt
from recipecc.datasets.shapes import write_shapes
from recipecc.datasets.voc import read_voc
from recipecc.metrics.detection import baseline_as_ground_truth, coco_ap, voc_map

CATEGORIES = [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]
IMAGES = [{"id": 1, "width": 200, "height": 200}, {"id": 2, "width": 200, "height": 200}]


def _gt(boxes: list[tuple[int, int, list[float], int]]) -> dict[str, Any]:
    annotations = [
        {"id": k + 1, "image_id": i, "category_id": c, "bbox": b, "area": b[2] * b[3], "iscrowd": crowd}
        for k, (i, c, b, crowd) in enumerate(boxes)
    ]
    return {"images": IMAGES, "annotations": annotations, "categories": CATEGORIES}


def _det(image: int, category: int, bbox: list[float], score: float) -> dict[str, Any]:
    return {"image_id": image, "category_id": category, "bbox": bbox, "score": score}


def test_voc_map_by_hand() -> None:
    """Two boxes, three detections: hit, duplicate (a false positive), hit. Recall .5 .5 1, precision 1 .5 2/3."""
    gt = _gt([(1, 1, [0, 0, 50, 50], 0), (1, 1, [100, 100, 50, 50], 0)])
    dets = [_det(1, 1, [1, 1, 50, 50], 0.9), _det(1, 1, [0, 0, 49, 50], 0.8), _det(1, 1, [100, 100, 50, 48], 0.7)]
    assert voc_map(gt, dets)["map"] == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    assert voc_map(gt, dets, eleven_point=True)["map"] == pytest.approx((6 * 1 + 5 * 2 / 3) / 11)
    # a detection of the other class in the same place is a false positive of that class, which has no boxes
    assert voc_map(gt, [*dets, _det(1, 2, [0, 0, 50, 50], 0.95)])["per_class"] == pytest.approx({1: 0.5 + 1 / 3})


def test_voc_difficult_boxes_neither_reward_nor_penalise() -> None:
    gt = _gt([(1, 1, [0, 0, 50, 50], 0), (2, 1, [0, 0, 50, 50], 1)])
    hit = _det(1, 1, [0, 0, 50, 50], 0.5)
    on_difficult = _det(2, 1, [0, 0, 50, 50], 0.9)
    assert voc_map(gt, [hit, on_difficult])["map"] == pytest.approx(1.0)
    assert voc_map(gt, [hit, _det(2, 1, [120, 120, 50, 50], 0.9)])["map"] == pytest.approx(0.5)


def test_coco_ap_by_hand() -> None:
    """A box of IoU 0.62 counts at the IoU thresholds 0.50, 0.55 and 0.60 of the ten: AP 0.3, AP50 1."""
    gt = _gt([(1, 1, [0, 0, 100, 100], 0)])
    assert coco_ap(gt, [_det(1, 1, [0, 0, 100, 100], 0.9)]) == pytest.approx({"map": 1.0, "map50": 1.0, "map75": 1.0})
    assert coco_ap(gt, [_det(1, 1, [0, 0, 100, 62], 0.9)]) == pytest.approx({"map": 0.3, "map50": 1.0, "map75": 0.0})
    assert coco_ap(gt, []) == {"map": 0.0, "map50": 0.0, "map75": 0.0}
    with pytest.raises(ValueError, match="no boxes"):
        coco_ap(_gt([]), [_det(1, 1, [0, 0, 1, 1], 0.5)])


def _jittered(gt: dict[str, Any], seed: int) -> list[dict[str, Any]]:
    """Detections near the ground truth, some missed, some duplicated, some wrong, with scores."""
    rng = np.random.RandomState(seed)
    dets = []
    for ann in gt["annotations"]:
        x, y, w, h = ann["bbox"]
        for _ in range(rng.randint(0, 3)):
            noise = rng.normal(0, 0.12, 4) * [w, h, w, h]
            category = ann["category_id"] if rng.rand() > 0.15 else rng.randint(1, 5)
            dets.append(
                _det(ann["image_id"], category, [x + noise[0], y + noise[1], w + noise[2], h + noise[3]], rng.rand())
            )
    return dets


def test_voc_area_ap_and_pycocotools_ap50_agree_on_the_same_detections(tmp_path: Path) -> None:
    """Two implementations of "AP at IoU 0.5" (the devkit's area, COCO's 101-point) on one realistic case."""
    write_shapes(tmp_path, splits={"val": 24}, image_size=96, seed=5)
    gt = to_coco_gt(read_voc(tmp_path, "val"))
    for seed in range(3):
        dets = _jittered(gt, seed)
        voc, coco = voc_map(gt, dets)["map"], coco_ap(gt, dets)
        assert 0.2 < voc < 0.95
        assert coco["map50"] == pytest.approx(voc, abs=0.02)
        assert coco["map"] < coco["map50"]


def test_baseline_boxes_as_ground_truth_give_fidelity() -> None:
    baseline = [_det(1, 1, [0, 0, 50, 50], 0.9), _det(2, 2, [10, 10, 30, 30], 0.8), _det(2, 1, [5, 5, 5, 5], 0.1)]
    gt = baseline_as_ground_truth(IMAGES, CATEGORIES, baseline, score_threshold=0.3)
    assert len(gt["annotations"]) == 2
    assert coco_ap(gt, baseline)["map"] == pytest.approx(1.0)
    assert coco_ap(gt, baseline[:1])["map"] == pytest.approx(0.5)


def test_score_is_told_whether_it_compares_with_labels_or_with_a_reference_model() -> None:
    """``score`` never guesses from array shapes: labels are packed targets, ``reference=True`` means another
    model's kept boxes, and the wrong kind is an error naming the expected shape."""
    from recipecc.datasets.detection import DetectionSample, pack_targets
    from recipecc.tasks.detection import KEPT_BOXES, score

    kept = np.zeros((1, KEPT_BOXES, 6), dtype=np.float32)
    kept[:, :, 5] = -1
    kept[0, 0] = (0.1, 0.1, 0.5, 0.5, 0.9, 2)  # normalised box, score, class 2
    sample = DetectionSample(
        image_id=7,
        path=Path(),
        width=100,
        height=100,
        boxes=np.array([[10, 10, 50, 50]], np.float32),
        labels=np.array([2]),
        ignore=np.array([False]),
    )
    labels = pack_targets([sample], KEPT_BOXES - 1)  # (1, KEPT_BOXES, 6): the shape of kept boxes too
    assert score(kept, labels, num_classes=4) == pytest.approx(1.0)
    assert score(kept, kept, reference=True, num_classes=4) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="kept predictions"):
        score(kept, labels[:, :5], reference=True, num_classes=4)
