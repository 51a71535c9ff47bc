"""How much a quality metric got worse against the baseline, read from the numbers a run recorded.

One definition for every reader of ``results.json``: the report's search selection and a sweep's objective
(``objective.max_drop``) must agree on what "a drop of 1 point" means.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["ERROR_METRICS", "metric_drop"]

#: fidelity metrics that are already a distance from the baseline's outputs (0 = identical): the value is the drop
ERROR_METRICS = ("max_abs_error", "mean_abs_error")


def metric_drop(metric: str, stage: Mapping[str, Any], baseline: Mapping[str, Any]) -> float | None:
    """How much ``metric`` got worse in ``stage`` against ``baseline`` (two ``results.json`` stages); ``None`` when
    either side did not measure it. Higher-is-better metrics (top-1, mAP, mIoU, cosine, top1_agreement, iou, which
    the baseline also gets against itself) drop by ``baseline - stage``; an error metric's value is its drop."""
    value = stage["metrics"].get(metric)
    if value is None:
        return None
    if metric in ERROR_METRICS:
        return float(value)
    reference = baseline["metrics"].get(metric)
    return None if reference is None else float(reference) - float(value)
