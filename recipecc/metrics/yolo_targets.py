"""YOLOv3 training targets in numpy: which anchor of which cell answers for each ground-truth box.

YOLOv3 as published (and Paddle's fused ``yolo_loss`` op) makes one anchor responsible for each box: the best of the
nine by IoU of (w, h). With anchors fitted to a data set whose objects have similar sizes (the shapes set: nine
anchors between 12 and 37 px), several anchors fit a box almost as well, and a detector trained from scratch in
minutes sees too few positives to learn objectness. PaddleDetection's ``Gt2YoloTarget`` therefore takes an
``iou_thresh``: every other anchor whose IoU with the box exceeds it is made responsible too, at its own level's cell
(PP-YOLO uses 0.25). The box parametrisation stays YOLOv3's (a sigmoid offset within the cell, ``exp`` of the
anchor's scale), so the decoder (:mod:`recipecc.metrics.yolo`) is unchanged.

Target layout per level (PaddleDetection's): ``[N, anchors, 6 + classes, H, W]`` with ``tx, ty`` (offset in the cell),
``tw, th`` (log of the box over the anchor), ``scale`` (``2 - w * h``, normalised: small boxes weigh more),
``objectness`` (1 for responsible anchors), then one-hot classes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from recipecc.metrics.anchors import iou_wh

__all__ = ["yolo_targets"]


def yolo_targets(
    gt_box: NDArray[np.float32],
    gt_label: NDArray[np.int32],
    anchors: Sequence[Sequence[float]],
    masks: Sequence[Sequence[int]],
    grids: Sequence[tuple[int, int]],
    num_classes: int,
    input_size: int,
    iou_thresh: float = 1.0,
) -> list[NDArray[np.float32]]:
    """One target array per level (``grids`` (H, W), deepest first, as ``masks``) for normalised centre boxes
    ``gt_box`` ``[N, B, 4]`` (zero width pads) and labels ``[N, B]``. ``iou_thresh`` < 1 also makes every anchor
    whose IoU with a box exceeds it responsible for the box (PaddleDetection's ``Gt2YoloTarget``)."""
    anchor_wh = np.asarray(anchors, dtype=np.float64) / float(input_size)
    targets = [
        np.zeros((len(gt_box), len(mask), 6 + num_classes, h, w), dtype=np.float32)
        for mask, (h, w) in zip(masks, grids, strict=True)
    ]
    level_of = {anchor: (level, slot) for level, mask in enumerate(masks) for slot, anchor in enumerate(mask)}
    for i in range(len(gt_box)):
        boxes = np.asarray(gt_box[i], dtype=np.float64)
        real = (boxes[:, 2] > 0) & (boxes[:, 3] > 0)
        if not real.any():
            continue
        ious = iou_wh(boxes[real, 2:4], anchor_wh)
        for (cx, cy, bw, bh), label, iou in zip(boxes[real], np.asarray(gt_label[i])[real], ious, strict=True):
            best = int(np.argmax(iou))
            chosen = [best] + [a for a in range(len(anchor_wh)) if a != best and iou[a] > iou_thresh]
            for anchor in chosen:
                if anchor not in level_of:
                    continue
                level, slot = level_of[anchor]
                target = targets[level]
                h, w = target.shape[3:]
                gi, gj = min(int(cx * w), w - 1), min(int(cy * h), h - 1)
                if anchor != best and target[i, slot, 5, gj, gi] > 0:
                    continue  # the cell's anchor already answers for another box
                target[i, slot, 0, gj, gi] = cx * w - gi
                target[i, slot, 1, gj, gi] = cy * h - gj
                target[i, slot, 2, gj, gi] = np.log(bw / anchor_wh[anchor, 0])
                target[i, slot, 3, gj, gi] = np.log(bh / anchor_wh[anchor, 1])
                target[i, slot, 4, gj, gi] = 2.0 - bw * bh
                target[i, slot, 5, gj, gi] = 1.0
                target[i, slot, 6:, gj, gi] = 0.0
                target[i, slot, 6 + int(label), gj, gi] = 1.0
    return targets
