"""Models whose task recipecc is not told (a user's file without ``model.task``, no labels): every output is
compared with the baseline's by the measure its shape calls for (:mod:`recipecc.tasks.outputs`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from recipecc.tasks import Task
from recipecc.tasks.outputs import DEFAULT_THRESHOLD, Fidelity, Kept, compare_outputs

__all__ = ["TASK", "fidelity", "keep"]

TASK = Task(
    name="generic",
    description="any model, no labels: each output compared with the baseline's (agreement, IoU, error)",
    headline="cosine",
    headline_label="Cosine",
    metrics=(),
    fidelity_headline="auto",
    label_kind="none",
    datasets=(),
)


def keep(outputs: Sequence[NDArray[Any]], names: Sequence[str]) -> dict[str, NDArray[Any]]:
    return {name: np.asarray(out, dtype=np.float32) for name, out in zip(names, outputs, strict=True)}


def fidelity(
    ours: Kept,
    reference: Kept,
    *,
    requested: Sequence[str] = (),
    threshold: float = DEFAULT_THRESHOLD,
    kinds: Mapping[str, str] | None = None,
) -> Fidelity:
    return compare_outputs(ours, reference, threshold, kinds)
