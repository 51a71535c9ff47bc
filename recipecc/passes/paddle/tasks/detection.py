"""Detection on paddle: YOLOv3's loss (Paddle's fused ``yolo_loss`` op) over the three head maps.

Targets arrive packed (:func:`recipecc.datasets.detection.pack_targets`: boxes in original pixels, the image size
in row 0); images were resized to the square input without keeping the aspect ratio, so boxes normalised by the
original size are normalised by the input too, which is what ``yolo_loss`` takes.
"""

from __future__ import annotations

import zlib  # noqa: F401  - before paddle
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import paddle
from numpy.typing import NDArray

from recipecc.datasets.detection import unpack_targets

__all__ = ["MAX_TRAIN_BOXES", "loss", "targets"]

#: boxes per image the loss sees (PaddleDetection's YOLOv3 readers pad to 50)
MAX_TRAIN_BOXES = 50


def targets(array: NDArray[Any]) -> tuple[paddle.Tensor, paddle.Tensor]:
    """``(gt_box, gt_label)``: normalised centre boxes ``[N, 50, 4]`` and int32 labels ``[N, 50]``."""
    samples = unpack_targets(array)
    gt_box = np.zeros((len(samples), MAX_TRAIN_BOXES, 4), dtype=np.float32)
    gt_label = np.zeros((len(samples), MAX_TRAIN_BOXES), dtype=np.int32)
    for i, sample in enumerate(samples):
        keep = ~sample.ignore
        boxes, labels = sample.boxes[keep][:MAX_TRAIN_BOXES], sample.labels[keep][:MAX_TRAIN_BOXES]
        n = len(boxes)
        if not n:
            continue
        w, h = float(sample.width), float(sample.height)
        gt_box[i, :n, 0] = (boxes[:, 0] + boxes[:, 2]) / 2 / w
        gt_box[i, :n, 1] = (boxes[:, 1] + boxes[:, 3]) / 2 / h
        gt_box[i, :n, 2] = (boxes[:, 2] - boxes[:, 0]) / w
        gt_box[i, :n, 3] = (boxes[:, 3] - boxes[:, 1]) / h
        gt_label[i, :n] = labels
    return paddle.to_tensor(gt_box), paddle.to_tensor(gt_label)


def loss(
    outputs: Sequence[paddle.Tensor],
    target: tuple[paddle.Tensor, paddle.Tensor],
    *,
    num_classes: int,
    decoder: Mapping[str, Any],
    **_: Any,
) -> paddle.Tensor:
    """The YOLOv3 loss of a batch (see :func:`recipecc.passes.paddle.yolov3.yolo_loss`)."""
    from recipecc.passes.paddle.yolov3 import yolo_loss

    gt_box, gt_label = target
    return yolo_loss(outputs, gt_box, gt_label, int(num_classes), int(decoder["input_size"]))
