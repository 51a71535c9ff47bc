"""Quality of a stage: top-1 against labels, and fidelity against the baseline's outputs on the same inputs.

Users with a real model rarely have its labelled data at hand; comparing the compressed model with its own
baseline on held-out inputs still says how much compression changed it. Every runner saves its raw outputs on the
evaluation inputs (``outputs.npy``) so later stages can be compared with the first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["OUTPUTS_FILE", "quality_metrics"]

OUTPUTS_FILE = "outputs.npy"


def _as_logits(outputs: NDArray[Any]) -> NDArray[Any]:
    """(N, classes) for classifiers; dense outputs are flattened per sample."""
    return outputs.reshape(outputs.shape[0], -1)


def _iou(outputs: NDArray[Any], reference: NDArray[Any]) -> float:
    """Mean IoU of thresholded maps (class argmax for multi-channel maps, > 0.5 for single-channel ones)."""
    if outputs.ndim == 4 and outputs.shape[1] > 1:  # N, C, H, W class scores
        ours, theirs = outputs.argmax(1), reference.argmax(1)
        classes = np.union1d(np.unique(ours), np.unique(theirs))
        scores = []
        for cls in classes:
            inter = np.logical_and(ours == cls, theirs == cls).sum()
            union = np.logical_or(ours == cls, theirs == cls).sum()
            if union:
                scores.append(inter / union)
        return float(np.mean(scores)) if scores else 1.0
    ours, theirs = outputs > 0.5, reference > 0.5
    union = np.logical_or(ours, theirs).sum()
    return float(np.logical_and(ours, theirs).sum() / union) if union else 1.0


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
    logits = _as_logits(outputs)
    if labels is not None and len(labels) and int(labels.min()) >= 0:
        metrics["top1"] = float((logits.argmax(1) == labels).mean())
    if reference is None:  # the baseline: its fidelity metrics are computed against its own outputs
        reference = outputs
    wanted = list(requested)
    if "top1" not in metrics:
        wanted = [*dict.fromkeys(["top1_agreement", "cosine", *wanted])]
    ref = _as_logits(reference)
    diff = np.abs(logits.astype(np.float64) - ref.astype(np.float64))
    for name in wanted:
        if name == "top1_agreement":
            metrics[name] = float((logits.argmax(1) == ref.argmax(1)).mean())
        elif name == "max_abs_error":
            metrics[name] = float(diff.max())
        elif name == "mean_abs_error":
            metrics[name] = float(diff.mean())
        elif name == "cosine":  # in float64 and without an absolute epsilon: outputs can be tiny (1e-17)
            ours, theirs = logits.astype(np.float64), ref.astype(np.float64)
            num = (ours * theirs).sum(1)
            den = np.linalg.norm(ours, axis=1) * np.linalg.norm(theirs, axis=1)
            both_zero = (den == 0) & (np.abs(ours).sum(1) == np.abs(theirs).sum(1))
            cosine = np.divide(num, den, out=np.where(both_zero, 1.0, 0.0), where=den > 0)
            metrics[name] = float(np.mean(cosine))
        elif name == "iou":
            metrics[name] = _iou(outputs, reference)
    return metrics
