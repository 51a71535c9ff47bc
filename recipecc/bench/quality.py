"""Quality of a stage (kept for callers of the classification measures; the tasks own them now).

Every runner saves its kept outputs on the evaluation inputs so later stages can be compared with the first:
see :mod:`recipecc.bench.evaluation` and :mod:`recipecc.tasks`.
"""

from __future__ import annotations

from recipecc.tasks.classification import quality_metrics

__all__ = ["OUTPUTS_FILE", "quality_metrics"]

OUTPUTS_FILE = "outputs.npz"
