"""Detection metrics: COCO AP@[.5:.95] / AP50 (pycocotools) and Pascal VOC mAP@0.5 (11-point and area).

Detections are COCO results records — ``{"image_id", "category_id", "bbox": [x, y, w, h], "score"}`` — the format
COCO's evaluation server takes and recipecc writes to ``detections.json``; ground truth is a COCO instances
document (:func:`recipecc.datasets.detection.to_coco_gt` makes one from a VOC set).

Without labels, :func:`baseline_as_ground_truth` turns the baseline model's confident boxes into ground truth, so
the AP of a compressed model's boxes measures how faithfully it reproduces the baseline.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["baseline_as_ground_truth", "coco_ap", "voc_map"]

Detection = dict[str, Any]


def coco_ap(ground_truth: dict[str, Any], detections: Sequence[Detection]) -> dict[str, float]:
    """COCO box AP over IoU 0.50:0.95 (``map``), at IoU 0.5 (``map50``) and 0.75 (``map75``), all in 0..1.

    pycocotools' COCOeval on exactly these inputs; no detections at all scores 0 (pycocotools refuses an empty
    result list). Ground truth without a single box cannot be scored: ``ValueError``.
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    if not ground_truth.get("annotations"):
        raise ValueError("the ground truth has no boxes: AP is undefined")
    if not detections:
        return {"map": 0.0, "map50": 0.0, "map75": 0.0}
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools reports progress with print()
        gt = COCO()
        gt.dataset = {key: ground_truth[key] for key in ("images", "annotations", "categories")}
        gt.createIndex()
        dt = gt.loadRes([dict(d) for d in detections])
        evaluation = COCOeval(gt, dt, iouType="bbox")
        evaluation.params.imgIds = sorted(gt.getImgIds())
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    stats = [max(float(v), 0.0) for v in evaluation.stats]  # -1 means "no ground truth in this range"
    return {"map": stats[0], "map50": stats[1], "map75": stats[2]}


def _iou(box: NDArray[np.float64], boxes: NDArray[np.float64]) -> NDArray[np.float64]:
    ix0 = np.maximum(boxes[:, 0], box[0])
    iy0 = np.maximum(boxes[:, 1], box[1])
    ix1 = np.minimum(boxes[:, 2], box[2])
    iy1 = np.minimum(boxes[:, 3], box[3])
    inter = np.clip(ix1 - ix0, 0, None) * np.clip(iy1 - iy0, 0, None)
    union = (box[2] - box[0]) * (box[3] - box[1]) + (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) - inter
    return np.asarray(inter / np.maximum(union, 1e-12), dtype=np.float64)


def _average_precision(recall: NDArray[np.float64], precision: NDArray[np.float64], eleven_point: bool) -> float:
    if eleven_point:  # VOC2007: mean of the best precision at recall >= 0, 0.1, ..., 1
        return float(
            np.mean([precision[recall >= t].max() if (recall >= t).any() else 0.0 for t in np.linspace(0, 1, 11)])
        )
    # VOC2010+: area under the monotone (non-increasing) precision envelope
    r = np.concatenate(([0.0], recall, [1.0]))
    p = np.concatenate(([0.0], precision, [0.0]))
    p = np.maximum.accumulate(p[::-1])[::-1]
    steps = np.nonzero(r[1:] != r[:-1])[0]
    return float(np.sum((r[steps + 1] - r[steps]) * p[steps + 1]))


def voc_map(
    ground_truth: dict[str, Any], detections: Sequence[Detection], *, iou: float = 0.5, eleven_point: bool = False
) -> dict[str, Any]:
    """Pascal VOC mAP: the devkit's matching (greedy by score, a box matched once, "difficult" boxes — here
    ``iscrowd`` — neither reward nor penalise) and its AP (``eleven_point`` for VOC2007, area otherwise).

    Boxes are continuous coordinates (a VOC box ``[xmin, xmax]`` is ``[xmin - 1, xmax]``), which equals the devkit's
    ``+1`` pixel areas. Classes without a non-difficult box are left out of the mean, as PaddleDetection does.
    Returns ``map`` and ``per_class`` (category id -> AP).
    """
    gt_by_key: dict[tuple[int, int], list[tuple[list[float], bool]]] = {}
    positives: dict[int, int] = {}
    for ann in ground_truth["annotations"]:
        x, y, w, h = (float(v) for v in ann["bbox"])
        difficult = bool(ann.get("iscrowd", 0) or ann.get("difficult", 0))
        gt_by_key.setdefault((int(ann["image_id"]), int(ann["category_id"])), []).append(
            ([x, y, x + w, y + h], difficult)
        )
        if not difficult:
            positives[int(ann["category_id"])] = positives.get(int(ann["category_id"]), 0) + 1
    per_class: dict[int, float] = {}
    for category in sorted(positives):
        ranked = sorted((d for d in detections if int(d["category_id"]) == category), key=lambda d: -float(d["score"]))
        used: dict[tuple[int, int], NDArray[np.bool_]] = {}
        tp, fp = np.zeros(len(ranked)), np.zeros(len(ranked))
        for k, det in enumerate(ranked):
            key = (int(det["image_id"]), category)
            objects = gt_by_key.get(key, [])
            if not objects:
                fp[k] = 1
                continue
            x, y, w, h = (float(v) for v in det["bbox"])
            overlaps = _iou(np.array([x, y, x + w, y + h]), np.array([o[0] for o in objects], dtype=np.float64))
            best = int(np.argmax(overlaps))
            seen = used.setdefault(key, np.zeros(len(objects), dtype=bool))
            if overlaps[best] > iou:
                if objects[best][1]:
                    continue  # a difficult box: ignored
                if not seen[best]:
                    tp[k], seen[best] = 1, True
                else:
                    fp[k] = 1
            else:
                fp[k] = 1
        tp_sum, fp_sum = np.cumsum(tp), np.cumsum(fp)
        recall = tp_sum / positives[category]
        precision = tp_sum / np.maximum(tp_sum + fp_sum, np.finfo(np.float64).eps)
        per_class[category] = _average_precision(recall, precision, eleven_point) if len(ranked) else 0.0
    mean = float(np.mean(list(per_class.values()))) if per_class else 0.0
    return {"map": mean, "per_class": per_class}


def baseline_as_ground_truth(
    images: Sequence[dict[str, Any]],
    categories: Sequence[dict[str, Any]],
    baseline: Sequence[Detection],
    score_threshold: float,
) -> dict[str, Any]:
    """A COCO ground-truth document made of the baseline's boxes scoring at least ``score_threshold``.

    The AP of another model's detections against it is the detection fidelity used when the data has no labels.
    """
    annotations = [
        {
            "id": k + 1,
            "image_id": int(d["image_id"]),
            "category_id": int(d["category_id"]),
            "bbox": [float(v) for v in d["bbox"]],
            "area": float(d["bbox"][2]) * float(d["bbox"][3]),
            "iscrowd": 0,
        }
        for k, d in enumerate(x for x in baseline if float(x["score"]) >= score_threshold)
    ]
    return {"images": list(images), "annotations": annotations, "categories": list(categories)}
