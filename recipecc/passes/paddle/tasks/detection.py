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

__all__ = ["AUGMENTATIONS", "MAX_TRAIN_BOXES", "augment", "loss", "targets"]

#: boxes per image the loss sees (PaddleDetection's YOLOv3 readers pad to 50)
MAX_TRAIN_BOXES = 50


#: what :func:`augment` can do to a training batch (the plan names the ones a recipe uses)
AUGMENTATIONS = ("hflip",)


def augment(
    images: NDArray[np.float32], packed: NDArray[Any], rng: np.random.RandomState, augmentations: Sequence[str]
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """A training batch after random augmentation: ``hflip`` mirrors half the images left-right, with their boxes
    (PaddleDetection's ``RandomFlip``, part of every YOLOv3 training reader). ``images`` are NCHW; ``packed`` the
    data pass's targets (boxes in original pixels: x0' = width - x1, x1' = width - x0)."""
    images, packed = np.array(images, dtype=np.float32), np.array(packed, dtype=np.float32)
    for name in augmentations:
        if name != "hflip":
            raise ValueError(f"unknown detection augmentation '{name}' (known: {', '.join(AUGMENTATIONS)})")
        flip = rng.rand(len(images)) < 0.5
        images[flip] = images[flip][..., ::-1]
        for i in np.nonzero(flip)[0]:
            width = packed[i, 0, 1]
            real = packed[i, 1:, 4] >= 0
            x0, x1 = packed[i, 1:, 0].copy(), packed[i, 1:, 2].copy()
            packed[i, 1:, 0] = np.where(real, width - x1, x0)
            packed[i, 1:, 2] = np.where(real, width - x0, x1)
    return images, packed


def targets(array: NDArray[Any]) -> tuple[paddle.Tensor, paddle.Tensor]:
    """``(gt_box, gt_label)``: normalised centre boxes ``[N, 50, 4]`` and int32 labels ``[N, 50]`` of the boxes
    that are not ignored (VOC's "difficult", COCO's crowds)."""
    from recipecc.passes.paddle.yolov3 import targets as yolo_targets

    samples = unpack_targets(array)
    gt_box, gt_label = yolo_targets(
        [s.boxes[~s.ignore] for s in samples],
        [s.labels[~s.ignore] for s in samples],
        [(s.width, s.height) for s in samples],
        MAX_TRAIN_BOXES,
    )
    return paddle.to_tensor(gt_box), paddle.to_tensor(gt_label)


def loss(
    outputs: Sequence[paddle.Tensor],
    target: tuple[paddle.Tensor, paddle.Tensor],
    *,
    num_classes: int,
    decoder: Mapping[str, Any],
    assign_iou: float = 1.0,
    **_: Any,
) -> paddle.Tensor:
    """The YOLOv3 loss of a batch (see :func:`recipecc.passes.paddle.yolov3.yolo_loss`): the decoder's anchors;
    ``assign_iou`` < 1 makes every anchor matching a box that well responsible for it (the plan's choice)."""
    from recipecc.passes.paddle.yolov3 import yolo_loss

    gt_box, gt_label = target
    return yolo_loss(outputs, gt_box, gt_label, int(num_classes), decoder["anchors"], iou_thresh=float(assign_iou))
