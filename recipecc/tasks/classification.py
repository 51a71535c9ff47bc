"""Classification: class scores per image; top-1 against labels, agreement and cosine against the baseline."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from recipecc.tasks import Task
from recipecc.tasks.outputs import DEFAULT_THRESHOLD, Fidelity, Kept, align_outputs, compare_outputs

__all__ = ["TASK", "Evaluator", "fidelity", "keep", "predictions", "quality_metrics", "score"]

TASK = Task(
    name="classification",
    description="one class per image: top-1 accuracy against labels",
    headline="top1",
    headline_label="Top-1",
    metrics=("top1",),
    fidelity_headline="top1_agreement",
    label_kind="class",
    datasets=("digits", "image_folder"),
    trains_on=("paddle", "tf"),
)


def predictions(outputs: Sequence[NDArray[Any]]) -> NDArray[Any]:
    """The predicted class of each image (argmax of the first output's scores)."""
    scores = np.asarray(outputs[0])
    return np.asarray(scores.reshape(len(scores), -1).argmax(1))


def score(predicted: NDArray[Any], targets: NDArray[Any], *, reference: bool = False, **_: Any) -> float:
    """Top-1: the fraction of predictions equal to the targets (labels, or with ``reference=True`` another
    model's predictions: the same formula gives the agreement)."""
    return float((np.asarray(predicted) == np.asarray(targets)).mean()) if len(targets) else 0.0


class Evaluator:
    """Top-1, accumulated batch by batch."""

    def __init__(self, **_: Any) -> None:
        self.correct = 0
        self.seen = 0

    def update(self, outputs: Sequence[NDArray[Any]], targets: NDArray[Any]) -> None:
        self.correct += int((predictions(outputs) == np.asarray(targets)).sum())
        self.seen += len(targets)

    def metrics(self) -> dict[str, float]:
        return {"top1": self.correct / self.seen if self.seen else 0.0}

    def details(self) -> dict[str, Any]:
        return {"images": self.seen}


def keep(outputs: Sequence[NDArray[Any]], names: Sequence[str]) -> dict[str, NDArray[Any]]:
    """Class scores are small: every output is kept as it is."""
    return {name: np.asarray(out, dtype=np.float32) for name, out in zip(names, outputs, strict=True)}


def _flat(outputs: NDArray[Any]) -> NDArray[Any]:
    return outputs.reshape(outputs.shape[0], -1)


def _iou(outputs: NDArray[Any], reference: NDArray[Any]) -> float:
    """Mean IoU of thresholded maps (class argmax for multi-channel maps, > 0.5 for single-channel ones)."""
    if outputs.ndim == 4 and outputs.shape[1] > 1:  # N, C, H, W class scores
        ours, theirs = outputs.argmax(1), reference.argmax(1)
        scores = []
        for cls in np.union1d(np.unique(ours), np.unique(theirs)):
            union = np.logical_or(ours == cls, theirs == cls).sum()
            if union:
                scores.append(np.logical_and(ours == cls, theirs == cls).sum() / union)
        return float(np.mean(scores)) if scores else 1.0
    a, b = outputs > DEFAULT_THRESHOLD, reference > DEFAULT_THRESHOLD
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def quality_metrics(
    outputs: NDArray[Any],
    labels: NDArray[Any] | None,
    reference: NDArray[Any] | None,
    requested: Sequence[str],
) -> dict[str, Any]:
    """``top1`` when labels are known (>= 0), then every requested fidelity metric against ``reference``.

    Without labels, ``top1_agreement`` and ``cosine`` are always computed, so every stage has a quality number.
    """
    metrics: dict[str, Any] = {}
    logits = _flat(outputs)
    if labels is not None and len(labels) and int(labels.min()) >= 0:
        metrics["top1"] = float((logits.argmax(1) == labels).mean())
    if reference is None:  # the baseline: its fidelity metrics are computed against its own outputs
        reference = outputs
    wanted = list(requested)
    if "top1" not in metrics:
        wanted = [*dict.fromkeys(["top1_agreement", "cosine", *wanted])]
    ref = _flat(reference)
    diff = np.abs(logits.astype(np.float64) - ref.astype(np.float64))
    scalar, _ = compare_outputs({"x": logits}, {"x": ref})
    for name in wanted:
        if name == "top1_agreement":
            metrics[name] = float((logits.argmax(1) == ref.argmax(1)).mean())
        elif name == "max_abs_error":
            metrics[name] = float(diff.max())
        elif name == "mean_abs_error":
            metrics[name] = float(diff.mean())
        elif name == "cosine":
            metrics[name] = scalar["cosine"]
        elif name == "iou":
            metrics[name] = _iou(outputs, reference)
    return metrics


def fidelity(
    ours: Kept,
    reference: Kept,
    *,
    requested: Sequence[str] = (),
    threshold: float = DEFAULT_THRESHOLD,
    kinds: Mapping[str, str] | None = None,
) -> Fidelity:
    """The first output's agreement with the baseline (and the requested measures); every output's details."""
    ours = align_outputs(ours, reference)
    first = next(iter(reference))
    if first not in ours:
        raise ValueError(f"the stage has no output '{first}' to compare with the baseline's (it has {list(ours)})")
    flat = quality_metrics(ours[first], None, reference[first], requested)
    _, details = compare_outputs(ours, reference, threshold, kinds)
    return flat, details
