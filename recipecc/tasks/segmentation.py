"""Semantic segmentation: a class per pixel; mIoU and per-class IoU from a confusion matrix against label maps.

Label maps use an ignore index (255 in VOC and Cityscapes trainIds): those pixels count for nothing, neither as
truth nor as error. The confusion matrix accumulates image by image, so evaluation streams over any number of
images. A model's first output is either class scores (N, C, H, W) or an already-argmaxed label map (N, H, W), as
PaddleSeg exports have; both give the same predictions.

Without labels, a stage is compared with the baseline's label maps: ``miou_agreement`` (mIoU with the baseline's
predictions as the truth) and ``pixel_agreement``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from recipecc.tasks import Task
from recipecc.tasks.outputs import DEFAULT_THRESHOLD, Fidelity, Kept, compare_outputs, confusion_iou

__all__ = ["IGNORE_INDEX", "TASK", "Evaluator", "confusion_matrix", "fidelity", "keep", "predictions", "score"]

IGNORE_INDEX = 255

TASK = Task(
    name="segmentation",
    description="a class per pixel: mIoU against label maps (ignore index respected)",
    headline="miou",
    headline_label="mIoU",
    metrics=("miou", "pixel_accuracy"),
    fidelity_headline="miou_agreement",
    label_kind="mask",
    datasets=("segmentation", "shapes_seg"),
    trains_on=("paddle", "tf"),
    percent=False,
)


def predictions(outputs: Sequence[NDArray[Any]]) -> NDArray[Any]:
    """Label maps (N, H, W) from the first output: argmax of class scores, or the map itself."""
    first = np.asarray(outputs[0])
    if first.ndim == 4:
        return first.argmax(1) if first.shape[1] > 1 else (first[:, 0] > DEFAULT_THRESHOLD).astype(np.int64)
    if first.ndim == 3:
        return first.astype(np.int64)
    raise ValueError(f"a segmentation model's first output must be (N, C, H, W) or (N, H, W), got {first.shape}")


def confusion_matrix(
    predicted: NDArray[Any], truth: NDArray[Any], num_classes: int, ignore_index: int = IGNORE_INDEX
) -> NDArray[np.int64]:
    """Counts of (truth, prediction) pairs over the pixels whose truth is not ``ignore_index``.

    Truth values outside 0..num_classes-1 (other than the ignore index) are an error in the labels, and raise.
    """
    predicted, truth = np.asarray(predicted).ravel(), np.asarray(truth).ravel()
    if predicted.shape != truth.shape:
        raise ValueError(f"prediction has {predicted.size} pixels, the label map {truth.size}")
    valid = truth != ignore_index
    t, p = truth[valid].astype(np.int64), predicted[valid].astype(np.int64)
    if t.size and (t.min() < 0 or t.max() >= num_classes):
        raise ValueError(
            f"label values {sorted(set(np.unique(t).tolist()) - set(range(num_classes)))[:5]} are outside the "
            f"{num_classes} classes (0..{num_classes - 1}) and are not the ignore index {ignore_index}"
        )
    p = np.clip(p, 0, num_classes - 1)
    return np.bincount(t * num_classes + p, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def score(
    predicted: NDArray[Any],
    targets: NDArray[Any],
    *,
    num_classes: int,
    ignore_index: int = IGNORE_INDEX,
    reference: bool = False,
    **_: Any,
) -> float:
    """mIoU of label maps against targets (label maps, or with ``reference=True`` another model's predicted maps:
    the same formula gives the agreement)."""
    return confusion_iou(confusion_matrix(predicted, targets, int(num_classes), int(ignore_index)))[0]


class Evaluator:
    """mIoU, per-class IoU and pixel accuracy from a confusion matrix accumulated batch by batch."""

    def __init__(self, *, num_classes: int, ignore_index: int = IGNORE_INDEX, **_: Any) -> None:
        self.num_classes = int(num_classes)
        self.ignore_index = int(ignore_index)
        self.confusion = np.zeros((self.num_classes, self.num_classes), dtype=np.int64)

    def update(self, outputs: Sequence[NDArray[Any]], targets: NDArray[Any]) -> None:
        predicted = predictions(outputs)
        if predicted.shape != np.asarray(targets).shape:
            raise ValueError(
                f"the model predicts label maps of {list(predicted.shape[1:])}, the labels are "
                f"{list(np.asarray(targets).shape[1:])}: the model's output must be upsampled to the input size"
            )
        self.confusion += confusion_matrix(predicted, targets, self.num_classes, self.ignore_index)

    def metrics(self) -> dict[str, float]:
        miou, _ = confusion_iou(self.confusion)
        total = self.confusion.sum()
        return {"miou": miou, "pixel_accuracy": float(np.diag(self.confusion).sum() / total) if total else 0.0}

    def details(self) -> dict[str, Any]:
        _, per_class = confusion_iou(self.confusion)
        return {"per_class_iou": per_class, "pixels": int(self.confusion.sum()), "ignore_index": self.ignore_index}


def keep(outputs: Sequence[NDArray[Any]], names: Sequence[str]) -> dict[str, NDArray[Any]]:
    """The label maps (uint8 when the classes fit), not the scores: 19 float maps per image would be 76x larger."""
    labels = predictions(outputs)
    dtype = np.uint8 if labels.max(initial=0) < 256 else np.int32
    return {names[0]: labels.astype(dtype)}


def fidelity(
    ours: Kept,
    reference: Kept,
    *,
    requested: Sequence[str] = (),
    threshold: float = DEFAULT_THRESHOLD,
    kinds: Mapping[str, str] | None = None,
) -> Fidelity:
    """mIoU of this stage's label maps with the baseline's as the truth, and the fraction of equal pixels."""
    name = next(iter(reference))
    # one label map each (``keep``), named after the export's output variable, which differs between a model and
    # its re-exported twin (PaddleSlim's weight-only test model): pair them by position when the names differ
    mine = ours[name] if name in ours else next(iter(ours.values()))
    a, b = mine.astype(np.int64), reference[name].astype(np.int64)
    classes = int(max(a.max(initial=0), b.max(initial=0))) + 1
    miou, _ = confusion_iou(confusion_matrix(a, b, classes, ignore_index=-1))
    flat = {"miou_agreement": miou, "pixel_agreement": float((a == b).mean())}
    details = {name: {"kind": "label_map", "headline": "miou_agreement", **flat}}
    others = {k: v for k, v in reference.items() if k != name}
    if others:
        details |= compare_outputs(ours, others, threshold)[1]
    return flat, details
