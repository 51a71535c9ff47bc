"""Anchors fitted to a data set's boxes: k-means over box sizes with 1 - IoU as the distance.

YOLOv3's anchors are the k-means centres of its training boxes' (width, height) at the model's input size
(Redmon & Farhadi; PaddleDetection's ``tools/anchor_cluster.py``, YOLOv5's autoanchor). COCO's nine anchors
scaled to a small input are wrong for a data set whose objects have other sizes: on the generated shapes set at
96x96 they span 2-59 px while the shapes are 12-43 px, so most anchor positions can never match an object. The data
pass fits them from the training boxes; the loss, the decoder and the exported model's ``detector.json`` use them.

Deterministic: k-means++ seeding from a fixed ``RandomState(seed)``, Lloyd iterations with the median (robust to a
few huge boxes), centres rounded to whole pixels (Paddle's ``yolo_loss`` takes integers) and sorted by area, so
the same boxes always give the same anchors.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["anchor_fit", "fit_anchors", "iou_wh"]


def iou_wh(sizes: NDArray[Any], anchors: NDArray[Any]) -> NDArray[np.float64]:
    """IoU of boxes and anchors sharing a centre, from their (w, h) only: ``[len(sizes), len(anchors)]``."""
    sizes = np.asarray(sizes, dtype=np.float64)
    anchors = np.asarray(anchors, dtype=np.float64)
    inter = np.minimum(sizes[:, None, 0], anchors[None, :, 0]) * np.minimum(sizes[:, None, 1], anchors[None, :, 1])
    union = (sizes[:, 0] * sizes[:, 1])[:, None] + (anchors[:, 0] * anchors[:, 1])[None, :] - inter
    return np.asarray(inter / np.maximum(union, 1e-12), dtype=np.float64)


def _seed_centres(sizes: NDArray[np.float64], k: int, rng: np.random.RandomState) -> NDArray[np.float64]:
    """k-means++ seeding with the 1 - IoU distance."""
    centres = [sizes[rng.randint(len(sizes))]]
    for _ in range(1, k):
        distance = 1.0 - iou_wh(sizes, np.asarray(centres)).max(axis=1)
        weights = distance**2
        total = weights.sum()
        index = rng.randint(len(sizes)) if total <= 0 else rng.choice(len(sizes), p=weights / total)
        centres.append(sizes[index])
    return np.asarray(centres, dtype=np.float64)


def fit_anchors(sizes: NDArray[Any], k: int = 9, *, seed: int = 0, iterations: int = 300) -> list[tuple[int, int]]:
    """``k`` anchors (w, h), whole pixels >= 1, sorted by area, fitted to box ``sizes`` ``[N, 2]`` (pixels of the
    model's input). Fewer distinct sizes than ``k`` repeat the largest ones, so there are always ``k``."""
    sizes = np.asarray(sizes, dtype=np.float64).reshape(-1, 2)
    sizes = sizes[(sizes[:, 0] > 0) & (sizes[:, 1] > 0)]
    if not len(sizes):
        raise ValueError("no boxes to fit anchors to")
    rng = np.random.RandomState(seed)
    distinct = np.unique(sizes, axis=0)
    if len(distinct) <= k:
        centres = distinct
    else:
        centres = _seed_centres(sizes, k, rng)
        assignment = np.full(len(sizes), -1)
        for _ in range(iterations):
            nearest = iou_wh(sizes, centres).argmax(axis=1)
            if np.array_equal(nearest, assignment):
                break
            assignment = nearest
            for cluster in range(k):
                members = sizes[assignment == cluster]
                if len(members):
                    centres[cluster] = np.median(members, axis=0)
    anchors = sorted({(max(1, round(w)), max(1, round(h))) for w, h in centres}, key=lambda a: (a[0] * a[1], a))
    while len(anchors) < k:  # duplicates merged by rounding (or fewer distinct boxes): repeat the largest
        anchors.append(anchors[-1])
    return anchors[:k]


def anchor_fit(sizes: NDArray[Any], anchors: list[tuple[int, int]] | list[list[int]]) -> dict[str, float]:
    """How well anchors cover boxes: mean best IoU, and the share of boxes whose best IoU is at least 0.5."""
    sizes = np.asarray(sizes, dtype=np.float64).reshape(-1, 2)
    if not len(sizes):
        return {"mean_best_iou": 0.0, "recall_iou_0.5": 0.0}
    best = iou_wh(sizes, np.asarray(anchors, dtype=np.float64)).max(axis=1)
    return {"mean_best_iou": round(float(best.mean()), 4), "recall_iou_0.5": round(float((best >= 0.5).mean()), 4)}
