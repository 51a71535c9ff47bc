"""Fidelity of any model's outputs against its baseline's, output by output, when the task says nothing more.

A user's model without labels (or without ``model.task``) is still compared with its own fp32 baseline on the
same inputs, with the measure each output's shape calls for:

==============  ==========================  ==============================================================
kind            shape                       measures (the first is that output's headline)
==============  ==========================  ==============================================================
``scores``      (N, C)                      top1_agreement, cosine, max/mean_abs_error
``sequence``    (N, T, C)                   position_agreement (argmax per position), max/mean_abs_error
``class_map``   (N, C>1, H, W)              miou_agreement (the baseline's argmax map as truth), pixel_agreement
``prob_map``    (N, 1, H, W)                iou (both maps binarized at the threshold), max/mean_abs_error
``tensor``      anything else               cosine, max/mean_abs_error
==============  ==========================  ==============================================================

Every output is compared; the first output's headline is the stage's, and the report says which output it is.
A shape can mislead (a (N, K) landmark or box regression is not K class scores): ``model.outputs`` names an
output's kind, and that kind is used instead of the shape's.
A text-detection probability map (PP-OCR) thus gets IoU at its threshold, not the agreement of a flattened
argmax (one pixel per image), and a recognizer gets per-position agreement.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "DEFAULT_THRESHOLD",
    "HEADLINES",
    "OUTPUT_KINDS",
    "Fidelity",
    "Kept",
    "align_outputs",
    "compare_outputs",
    "compare_tensor",
    "confusion_iou",
    "cosine",
    "output_kind",
]

DEFAULT_THRESHOLD = 0.5
#: a stage's kept outputs, by output name (what every task's ``keep`` returns and ``fidelity`` compares)
Kept = Mapping[str, NDArray[Any]]
#: what every task's ``fidelity`` returns: the headline measures, and per output the details the report shows
Fidelity = tuple[dict[str, float], dict[str, dict[str, Any]]]
HEADLINES = {
    "scores": "top1_agreement",
    "sequence": "position_agreement",
    "class_map": "miou_agreement",
    "prob_map": "iou",
    "tensor": "cosine",
}


#: every kind an output can be declared as (``model.outputs``)
OUTPUT_KINDS = tuple(HEADLINES)
#: the fewest dimensions (batch included) each kind's measures need
_MIN_DIMS = {"scores": 2, "sequence": 3, "class_map": 4, "prob_map": 2, "tensor": 1}


def output_kind(array: NDArray[Any]) -> str:
    """What an output is, from its shape (batch first)."""
    if array.ndim == 2 and array.shape[1] > 1:
        return "scores"
    if array.ndim == 3 and array.shape[2] > 1:
        return "sequence"
    if array.ndim == 4:
        return "class_map" if array.shape[1] > 1 else "prob_map"
    return "tensor"


def cosine(ours: NDArray[Any], theirs: NDArray[Any]) -> float:
    """Mean per-sample cosine, in float64 and without an absolute epsilon (outputs can be tiny: 1e-17)."""
    a = ours.reshape(len(ours), -1).astype(np.float64)
    b = theirs.reshape(len(theirs), -1).astype(np.float64)
    num = (a * b).sum(1)
    den = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    both_zero = (den == 0) & (np.abs(a).sum(1) == np.abs(b).sum(1))
    per_sample = np.divide(num, den, out=np.where(both_zero, 1.0, 0.0), where=den > 0)
    return float(np.mean(per_sample))


def confusion_iou(confusion: NDArray[Any]) -> tuple[float, list[float | None]]:
    """mIoU and per-class IoU of a confusion matrix (rows: truth, columns: prediction).

    A class that appears neither in the truth nor in the predictions has no IoU (``None``) and does not enter the
    mean, as in PaddleSeg's and the Cityscapes scripts' evaluation.
    """
    confusion = confusion.astype(np.float64)
    inter = np.diag(confusion)
    union = confusion.sum(0) + confusion.sum(1) - inter
    per_class = [float(i / u) if u > 0 else None for i, u in zip(inter, union, strict=True)]
    present = [v for v in per_class if v is not None]
    return (float(np.mean(present)) if present else 1.0), per_class


def _agreement_miou(ours: NDArray[Any], theirs: NDArray[Any]) -> float:
    classes = int(max(ours.max(initial=0), theirs.max(initial=0))) + 1
    confusion = np.bincount(theirs.ravel() * classes + ours.ravel(), minlength=classes * classes)
    return confusion_iou(confusion.reshape(classes, classes))[0]


def compare_tensor(
    ours: NDArray[Any], theirs: NDArray[Any], threshold: float = DEFAULT_THRESHOLD, kind: str | None = None
) -> dict[str, Any]:
    """The measures of one output against the baseline's same output (see the module docstring); ``kind`` is the
    output's declared kind (``model.outputs``), else its shape decides."""
    if ours.shape != theirs.shape:
        return {"kind": "mismatch", "error": f"shape {list(ours.shape)} vs the baseline's {list(theirs.shape)}"}
    if kind is not None and theirs.ndim < _MIN_DIMS[kind]:
        return {"kind": "mismatch", "error": f"declared {kind} (model.outputs), but its shape is {list(theirs.shape)}"}
    declared = kind is not None
    kind = kind or output_kind(theirs)
    diff = np.abs(ours.astype(np.float64) - theirs.astype(np.float64))
    errors = {"max_abs_error": float(diff.max(initial=0.0)), "mean_abs_error": float(diff.mean()) if diff.size else 0.0}
    result: dict[str, Any] = {
        "kind": kind,
        "headline": HEADLINES[kind],
        "kind_from": "model.outputs" if declared else "shape",
    }
    if kind == "scores":
        result |= {
            "top1_agreement": float((ours.argmax(1) == theirs.argmax(1)).mean()),
            "cosine": cosine(ours, theirs),
        }
    elif kind == "sequence":
        result["position_agreement"] = float((ours.argmax(-1) == theirs.argmax(-1)).mean())
    elif kind == "class_map":
        a, b = ours.argmax(1), theirs.argmax(1)
        result |= {"miou_agreement": _agreement_miou(a, b), "pixel_agreement": float((a == b).mean())}
    elif kind == "prob_map":
        a, b = ours > threshold, theirs > threshold
        union = np.logical_or(a, b).sum()
        result |= {"iou": float(np.logical_and(a, b).sum() / union) if union else 1.0, "threshold": threshold}
    else:
        result["cosine"] = cosine(ours, theirs)
    return result | errors


def align_outputs(ours: Mapping[str, NDArray[Any]], reference: Mapping[str, NDArray[Any]]) -> dict[str, NDArray[Any]]:
    """This stage's outputs under the baseline's output names.

    Output names come from the exporter's variable names, which differ between a model and its re-exported
    compressed twin (Paddle names a pruned model's output ``save_infer_model/scale_0.tmp_1`` where the baseline's
    is ``...tmp_0``). When the names do not match but both sides have as many outputs, they are paired by position
    (exporters keep the order); otherwise only the common names are compared and the rest reported missing.
    """
    if all(name in ours for name in reference) or len(ours) != len(reference):
        return dict(ours)
    return dict(zip(reference, ours.values(), strict=True))


def compare_outputs(
    ours: Mapping[str, NDArray[Any]],
    reference: Mapping[str, NDArray[Any]],
    threshold: float = DEFAULT_THRESHOLD,
    kinds: Mapping[str, str] | None = None,
) -> tuple[dict[str, float], dict[str, dict[str, Any]]]:
    """Every output compared: ``(headline metrics of the first output, per-output details)``.

    ``kinds`` (``model.outputs``) declares outputs' kinds by the baseline's output names; a name the model does
    not have is an error naming the names it has (a typo must not silently fall back to the shape's guess).
    """
    kinds = dict(kinds or {})
    unknown = sorted(set(kinds) - set(reference))
    if unknown:
        raise ValueError(
            f"model.outputs names {unknown}, which the model does not have; its outputs are {sorted(reference)}"
        )
    ours = align_outputs(ours, reference)
    details = {
        name: compare_tensor(ours[name], reference[name], threshold, kinds.get(name))
        for name in reference
        if name in ours
    }
    missing = [name for name in reference if name not in ours]
    for name in missing:
        details[name] = {"kind": "missing", "error": "the stage does not produce this output"}
    first = next(iter(details.values()), {})
    flat = {k: float(v) for k, v in first.items() if isinstance(v, float) and k != "threshold"}
    return flat, details
