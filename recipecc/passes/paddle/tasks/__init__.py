"""Per-task training hooks of the paddle backend: the loss, and how a task's targets become tensors.

One module per task (``classification.py``, ``segmentation.py``, ...), each with ``loss(outputs, targets)`` (a
paddle tensor) and ``targets(array)`` (the batch's targets as a tensor). Scoring is the task's own numpy code
(:mod:`recipecc.tasks`), so a dygraph model is scored exactly as its exported stages are.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["hooks"]


def hooks(task: str) -> ModuleType:
    """The paddle training hooks of ``task`` (a plan-time check guarantees they exist)."""
    return importlib.import_module(f"{__name__}.{task}")
